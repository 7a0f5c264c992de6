"""Make the repository importable as ansible_collections.mailops.postfix_multi.

The repository root is the collection root. pytest (unit and integration tests alike)
imports the collection through a symlink tree under .build/ that this file creates.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "mailops" / "postfix_multi"


def _ensure_link() -> None:
    LINK.parent.mkdir(parents=True, exist_ok=True)
    if not LINK.is_symlink():
        try:
            os.symlink(REPO, LINK)
        except FileExistsError:  # a concurrent xdist worker made it
            pass


_ensure_link()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
