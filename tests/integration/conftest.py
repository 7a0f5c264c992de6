# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the integration tests (real Postfix in tools/lab clones, as root).

``lab_base`` (session)  builds the cached base root if needed (tools/lab build) and
                        destroys clones left by test sessions that died (tools/lab gc).
``host``                a fresh clone for the code under test, destroyed afterwards.
``oracle``              a second fresh clone for the real postmulti/postconf.
``new_host``            factory for more clones in one test: ``new_host("h3")``; ``new_host("h4",
                        source=oracle)`` starts as a copy of another clone in its current
                        state (prepare a situation once, then fork it: cheap).

Nothing is skipped: missing root rights, venv pieces or network make the tests fail.
Set MAILOPS_LAB_KEEP=1 to keep the clones of a run for debugging (tools/lab destroy --all).
See labhost.py for the Host API.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labhost  # noqa: E402  pylint: disable=wrong-import-position

KEEP = os.environ.get("MAILOPS_LAB_KEEP") == "1"


@pytest.fixture(scope="session")
def lab_base() -> Path:
    root = labhost.ensure_base()
    labhost.lab.gc()
    return root


@pytest.fixture
def new_host(lab_base, tmp_path):
    made: list[labhost.Host] = []

    def make(role: str = "extra", source: labhost.Host | None = None) -> labhost.Host:
        made.append(labhost.new_host(role, tmp_path, source=source))
        return made[-1]

    yield make
    errors = []
    for host in reversed(made):
        if KEEP:
            print(f"\nMAILOPS_LAB_KEEP: kept {host.name} at {host.root}")
            continue
        try:
            labhost.destroy_host(host)
        except Exception as exc:  # destroy every host, then report
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def host(new_host) -> labhost.Host:
    return new_host("host")


@pytest.fixture
def oracle(new_host) -> labhost.Host:
    return new_host("oracle")
