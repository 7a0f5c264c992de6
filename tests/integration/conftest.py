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
``new_booted``          factory for booted hosts (systemd as PID 1, Ansible over ssh):
                        ``new_booted("h", release="trixie")`` -> labhost.BootedHost.

Nothing is skipped: missing root rights, venv pieces or network make the tests fail.
Set MAILOPS_LAB_KEEP=1 to keep the clones of a run for debugging (tools/lab destroy --all).
See labhost.py for the Host API.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labhost  # noqa: E402  pylint: disable=wrong-import-position

KEEP = os.environ.get("MAILOPS_LAB_KEEP") == "1"
# Where each test's outcome is recorded per kind of host it ran on (tools/matrix prints the table).
MATRIX_DIR = Path(os.environ.get("MAILOPS_MATRIX_DIR") or labhost.REPO / ".build" / "matrix")
_OUTCOMES: dict[str, str] = {}


def pytest_runtest_setup(item) -> None:
    """In the process that runs the test (an xdist worker, or pytest itself)."""
    labhost.SEEN.clear()
    _OUTCOMES[item.nodeid] = "passed"


def pytest_runtest_logreport(report) -> None:
    if report.nodeid in _OUTCOMES and report.failed:
        _OUTCOMES[report.nodeid] = "failed"
    elif report.nodeid in _OUTCOMES and report.when == "call" and report.skipped:
        _OUTCOMES[report.nodeid] = "skipped"


def pytest_runtest_logfinish(nodeid, location) -> None:  # noqa: ARG001  pytest's hook signature
    outcome = _OUTCOMES.pop(nodeid, None)
    if outcome is None:
        return
    kinds = labhost.SEEN or {(labhost.lab.default_release(), "chroot")}
    MATRIX_DIR.mkdir(parents=True, exist_ok=True)
    with open(MATRIX_DIR / f"integration-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
        for release, connection in sorted(kinds):
            fh.write(json.dumps({"suite": "integration", "test": nodeid, "release": release, "connection": connection, "outcome": outcome}) + "\n")


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
    _destroy_all(made)


def _destroy_all(made: list) -> None:
    """Destroy every host a test made (last first), then report the first failure; keep them with MAILOPS_LAB_KEEP=1."""
    errors = []
    for host in reversed(made):
        if KEEP:
            ssh = f" (ssh root@{host.addresses[0]})" if host.connection == "ssh" else ""
            print(f"\nMAILOPS_LAB_KEEP: kept {host.name} at {host.root}{ssh}")
            continue
        try:
            labhost.destroy_host(host)
        except Exception as exc:  # destroy every host, then report
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def new_booted(lab_base, tmp_path):
    made: list[labhost.BootedHost] = []

    def make(role: str = "booted", release: str | None = None, addresses: int = 4) -> labhost.BootedHost:
        made.append(labhost.new_booted_host(role, tmp_path, release or labhost.lab.default_release(), addresses))
        return made[-1]

    yield make
    MATRIX_DIR.mkdir(parents=True, exist_ok=True)
    with open(MATRIX_DIR / f"memory-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
        for host in made:  # what each booted host used at the end of its test (memory cgroup rss)
            fh.write(json.dumps({"release": host.release, "name": host.name, "rss": labhost.lab.memory_bytes(host.name)}) + "\n")
    _destroy_all(made)


@pytest.fixture
def host(new_host) -> labhost.Host:
    return new_host("host")


@pytest.fixture
def oracle(new_host) -> labhost.Host:
    return new_host("oracle")
