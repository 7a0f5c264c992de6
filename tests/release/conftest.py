# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the release tests (make release): the built tarball, its installed copy, lab hosts.

``tarball``    the collection tarball: $MAILOPS_RELEASE_TARBALL (make release builds it into
               .build/release/), else one built here with ansible-galaxy collection build.
``installed``  the tarball installed with ``ansible-galaxy collection install --offline`` into an
               empty directory; :class:`Installed` runs Ansible with ONLY that directory (and the
               site-packages holding community.general, for the chroot connection) on
               ANSIBLE_COLLECTIONS_PATH, from a working directory outside the repository.
``host``       a fresh tools/lab clone (tests/integration/labhost.py), destroyed afterwards;
``new_host``   a factory for clones with loopback addresses of their own (``new_host(addresses=2)``).

Like the integration tests these need root, and nothing is skipped for lack of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import labhost  # noqa: E402  pylint: disable=wrong-import-position

KEEP = os.environ.get("MAILOPS_LAB_KEEP") == "1"


def site_collections() -> str:
    """The site-packages directory whose ansible_collections/ holds community.general."""
    return labhost.collections_path().split(":", 1)[1]


@dataclass
class Installed:
    """The installed collection, and how to run Ansible against it alone."""

    collections_dir: Path  # the -p directory: holds ansible_collections/mailops/postfix_multi
    workdir: Path

    @property
    def path(self) -> Path:
        return self.collections_dir / "ansible_collections" / "mailops" / "postfix_multi"

    def env(self, results: Path | None = None) -> dict:
        env = labhost.ansible_env(self.workdir / "ansible-home", results or self.workdir / "results.jsonl")
        env["ANSIBLE_COLLECTIONS_PATH"] = f"{self.collections_dir}:{site_collections()}"
        return env

    def run(self, argv: list[str], results: Path | None = None, cwd: Path | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        env = self.env(results)
        env.update(extra_env or {})
        return subprocess.run(
            argv,
            cwd=cwd or self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=labhost.ANSIBLE_TIMEOUT,
            check=False,
        )


@pytest.fixture(scope="session")
def tarball(tmp_path_factory) -> Path:
    given = os.environ.get("MAILOPS_RELEASE_TARBALL")
    if given:
        path = Path(given)
        assert path.is_file(), f"MAILOPS_RELEASE_TARBALL={given} does not exist"
        return path
    out = tmp_path_factory.mktemp("build")
    subprocess.run([labhost.ansible_bin("ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)], check=True, capture_output=True)
    (path,) = out.glob("mailops-postfix_multi-*.tar.gz")
    return path


@pytest.fixture(scope="session")
def installed(tarball, tmp_path_factory) -> Installed:
    workdir = tmp_path_factory.mktemp("installed")
    inst = Installed(collections_dir=workdir / "collections", workdir=workdir)
    inst.collections_dir.mkdir()
    proc = inst.run([labhost.ansible_bin("ansible-galaxy"), "collection", "install", "--offline", "-p", str(inst.collections_dir), str(tarball)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return inst


@pytest.fixture(scope="session")
def lab_base() -> Path:
    root = labhost.ensure_base()
    labhost.lab.gc()
    return root


@pytest.fixture
def new_host(lab_base, tmp_path):
    made: list[labhost.Host] = []

    def make(role: str = "rel", addresses: int = 0) -> labhost.Host:
        name = f"it{os.getpid()}-{len(made) + 1}-{role}"
        root = labhost.lab.clone(name, owner_pid=os.getpid(), addresses=addresses)
        host = labhost.Host(name, root, tmp_path / name)
        host.addresses = json.loads((root.parent / "host.json").read_text()).get("addresses") or []
        made.append(host)
        return host

    yield make
    for host in reversed(made):
        if KEEP:
            print(f"\nMAILOPS_LAB_KEEP: kept {host.name} at {host.root}")
            continue
        labhost.destroy_host(host)


@pytest.fixture
def host(new_host) -> labhost.Host:
    return new_host("rel")
