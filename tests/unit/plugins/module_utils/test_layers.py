# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layers of plugins/module_utils: each package's opening comment says what it may import.

The rule is read from the comment itself (its "May import:" line), so that the comment a newcomer
reads and the rule the code follows cannot drift apart. Every import of the collection's own code in
a package must name a package that the comment allows, or the package itself; ``_module.py`` (the
adapter to AnsibleModule) sits on top and may import every layer, and nothing imports it but the
modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
PREFIX = "ansible_collections.mailops.postfix_multi.plugins.module_utils"
PACKAGES = sorted(p.name for p in MODULE_UTILS.iterdir() if p.is_dir() and not p.name.startswith("__"))


def allowed(package: str) -> set[str]:
    text = (MODULE_UTILS / package / "__init__.py").read_text()
    match = re.search(r"^# May import: (.+)$", text, re.M)
    assert match, f"{package}/__init__.py has no 'May import:' line"
    names = match.group(1).rstrip(".")
    return set() if names.startswith("nothing") else {n.strip() for n in names.split(",")}


def imported_layers(path: Path) -> set[str]:
    """The first component below module_utils of every import of the collection's own code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith(PREFIX + "."):
                found.add(name[len(PREFIX) + 1 :].split(".")[0])
    return found


def test_every_file_lives_in_a_layer() -> None:
    loose = sorted(p.name for p in MODULE_UTILS.glob("*.py"))
    assert loose == ["_module.py"], "module_utils files belong in a layer package: " + ", ".join(loose)
    assert PACKAGES == ["_core", "_host", "_plan", "_postfix"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_upwards(package: str) -> None:
    may = allowed(package) | {package}
    for path in sorted((MODULE_UTILS / package).glob("*.py")):
        wrong = imported_layers(path) - may
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}; {package} may import {sorted(may - {package})}"


def test_the_layers_form_an_order() -> None:
    # A package allowed to import another must not be importable by it: the comments describe layers.
    for package in PACKAGES:
        for lower in allowed(package):
            assert package not in allowed(lower), f"{package} and {lower} may import each other"


def test_only_modules_import_the_runner() -> None:
    users = [path.relative_to(ROOT) for path in (ROOT / "plugins").rglob("*.py") if "_module" in imported_layers(path) and path.parent.name != "modules"]
    assert not users


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # The check itself: a file of _postfix importing _plan is found.
    bad = tmp_path / "bad.py"
    bad.write_text(f"from {PREFIX}._plan._converge import converge\nimport os\n")
    assert imported_layers(bad) == {"_plan"}
    assert "_plan" not in allowed("_postfix")
