# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The release artifact: what the tarball holds, and that its installed copy works on its own.

``make release`` builds the tarball (ansible-galaxy collection build, honouring galaxy.yml's
build_ignore), runs these tests on it, then galaxy-importer. Here the tarball is installed
with ``ansible-galaxy collection install --offline`` into an empty directory, and Ansible runs
with only that directory (plus the site-packages providing community.general) on
ANSIBLE_COLLECTIONS_PATH, from a directory outside the repository: whatever runs comes from
the tarball, never from the repository.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tarfile
from pathlib import Path

import labhost  # tests/integration, put on sys.path by conftest.py
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# Nothing of a working tree may ship (path patterns relative to the collection root).
FORBIDDEN = (
    ".venv",
    ".venv-*",
    ".build",
    ".git",
    ".ansible",
    ".hypothesis",
    ".lab",
    ".benchmarks",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "tests/output",
    "__pycache__",
    "*.pyc",
    "*.tar.gz",
    "importer_result.json",
    "changelogs/.plugin-cache.yaml",
)
REQUIRED = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "CHANGELOG.md",
    "COPYING",
    "meta/runtime.yml",
    "changelogs/changelog.yaml",
    "changelogs/config.yaml",
    "docs/docsite/extra-docs.yml",
    "docs/docsite/links.yml",
    "docs/docsite/config.yml",
    "plugins/modules/postfix_instance.py",
    "plugins/modules/postfix_instance_info.py",
    "plugins/modules/postfix_multi_init.py",
    "plugins/modules/postfix_service.py",
    "plugins/lookup/postfix_instances.py",
)


def _members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        return [m.name.rstrip("/") for m in tar.getmembers()]


def _forbidden(path: str) -> str | None:
    parts = path.split("/")
    for pattern in FORBIDDEN:
        if "/" in pattern:
            if path == pattern or path.startswith(pattern + "/"):
                return pattern
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return pattern
    return None


def _galaxy() -> dict:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())


def _inventory(directory: Path, hosts: list[labhost.Host], group: str) -> Path:
    path = directory / "inventory.json"
    entries = {
        h.name: {"ansible_connection": "community.general.chroot", "ansible_host": str(h.root), "ansible_python_interpreter": "/usr/bin/python3"} for h in hosts
    }
    path.write_text(json.dumps({"all": {"children": {group: {"hosts": entries}}}}, indent=2) + "\n")
    return path


def _records(results: Path) -> list[dict]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the tarball
def test_tarball_holds_the_collection_and_nothing_of_a_working_tree(tarball):
    members = _members(tarball)
    bad = sorted(f"{m}  ({_forbidden(m)})" for m in members if _forbidden(m))
    assert not bad, f"the tarball holds {len(bad)} working-tree files; add them to build_ignore in galaxy.yml:\n" + "\n".join(bad[:40])
    missing = [path for path in REQUIRED if path not in members]
    assert not missing, f"missing from the tarball: {missing}"
    galaxy = _galaxy()
    assert tarball.name == f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (galaxy["namespace"], galaxy["name"], galaxy["version"])


def test_every_tracked_file_that_is_not_build_ignored_ships(tarball):
    """build_ignore must not hide real content: every module, plugin, role and playbook ships."""
    members = set(_members(tarball))
    expected = [
        p.relative_to(REPO).as_posix()
        for pattern in ("plugins/*/*.py", "roles/*/meta/argument_specs.yml", "playbooks/*.yml")
        for p in REPO.glob(pattern)
        if "__pycache__" not in p.parts
    ]
    assert expected
    assert sorted(set(expected) - members) == []


# ----------------------------------------------------------------------------- the installed copy
def test_installed_copy_is_the_only_one_ansible_sees(installed, tarball):
    assert installed.path.is_dir() and not installed.path.is_symlink()
    assert not (Path(labhost.collections_path().split(":", 1)[1]) / "ansible_collections" / "mailops").exists(), "the venv must not provide mailops.*"
    manifest = json.loads((installed.path / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == _galaxy()["version"]

    listing = installed.run([labhost.ansible_bin("ansible-galaxy"), "collection", "list", "mailops.postfix_multi", "--format", "json"])
    assert listing.returncode == 0, listing.stderr
    found = json.loads(listing.stdout)
    assert list(found) == [str(installed.collections_dir / "ansible_collections")], found
    assert found[str(installed.collections_dir / "ansible_collections")] == {"mailops.postfix_multi": {"version": _galaxy()["version"]}}

    doc = installed.run([labhost.ansible_bin("ansible-doc"), "--json", "mailops.postfix_multi.postfix_instance_info"])
    assert doc.returncode == 0, doc.stderr
    filename = json.loads(doc.stdout)["mailops.postfix_multi.postfix_instance_info"]["doc"]["filename"]
    assert filename.startswith(str(installed.path) + "/"), filename
    assert str(REPO) not in filename


PLAYBOOK = """\
- name: Installed-collection smoke test
  hosts: lab
  gather_facts: false
  tasks:
    - name: Turn on multi-instance management
      mailops.postfix_multi.postfix_multi_init:

    - name: Create an instance
      mailops.postfix_multi.postfix_instance:
        name: postfix-out
        group: mta
        enabled: true

    - name: Check every instance
      mailops.postfix_multi.postfix_service:
        state: checked

    - name: List the instances on the controller side too (lookup, through a copy of the host's files)
      ansible.builtin.set_fact:
        listed: "{{ query('mailops.postfix_multi.postfix_instances', root=lab_root) }}"

    - name: The lookup sees what the modules made
      ansible.builtin.assert:
        that:
          - listed | map(attribute='config_directory') | list == ['/etc/postfix', '/etc/postfix-out']
"""


def test_installed_playbook_and_adhoc_run_against_a_lab_host(installed, host, tmp_path):
    """A playbook using the installed modules and lookup, twice (idempotent), then ad-hoc ansible -m."""
    inventory = _inventory(tmp_path, [host], "lab")
    playbook = tmp_path / "smoke.yml"
    playbook.write_text(PLAYBOOK)
    changed = []
    for run in (1, 2):
        results = tmp_path / f"play{run}.jsonl"
        proc = installed.run(
            [labhost.ansible_bin("ansible-playbook"), "-i", str(inventory), str(playbook), "-e", f"lab_root={host.root}"], results=results, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        records = _records(results)
        assert [r["status"] for r in records if r["status"] == "failed"] == []
        changed.append([r["task"] for r in records if r["result"]["changed"]])
    assert changed[0] == ["Turn on multi-instance management", "Create an instance"]
    assert changed[1] == []

    results = tmp_path / "adhoc.jsonl"
    proc = installed.run(
        [labhost.ansible_bin("ansible"), "lab", "-i", str(inventory), "-m", "mailops.postfix_multi.postfix_instance_info", "-a", "group=mta"],
        results=results,
        cwd=tmp_path,
        extra_env={"ANSIBLE_LOAD_CALLBACK_PLUGINS": "True"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (record,) = _records(results)
    assert record["action"] == "mailops.postfix_multi.postfix_instance_info"
    instances = record["result"]["instances"]
    assert [(i["name"], i["group"], i["enabled"], i["config_directory"]) for i in instances] == [("postfix-out", "mta", True, "/etc/postfix-out")]
    assert re.search(r"SUCCESS", proc.stdout)


def test_installed_rollout_playbook(installed, tarball, new_host, tmp_path):
    """mailops.postfix_multi.rollout from the installed copy: a one-host fleet converges and passes the health gate."""
    if "playbooks/rollout.yml" not in _members(tarball):
        pytest.skip("the tarball has no playbooks/rollout.yml (issue #5): the installed-collection smoke test above stands in")
    host = new_host("rollout", addresses=2)
    primary, out = host.addresses[:2]
    inventory = _inventory(tmp_path, [host], "postfix_multi")
    design = {
        "postfix_multi_primary_parameters": {"inet_interfaces": primary},
        "postfix_multi_instances": [
            {
                "name": "postfix-out",
                "group": "mta",
                "parameters": {"inet_interfaces": out, "myhostname": "out.lab.example"},
                "absent_parameters": ["master_service_disable"],
            }
        ],
        "postfix_multi_install": False,
    }
    (tmp_path / "design.json").write_text(json.dumps(design))
    argv = [labhost.ansible_bin("ansible-playbook"), "-i", str(inventory), "mailops.postfix_multi.rollout", "-e", "@design.json"]
    check = installed.run([*argv, "--check", "--diff"], results=tmp_path / "check.jsonl", cwd=tmp_path)
    assert check.returncode == 0, check.stdout[-6000:] + check.stderr[-4000:]
    proc = installed.run(argv, results=tmp_path / "rollout.jsonl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-4000:]
    listing = host.run("postmulti", "-l").stdout.split()
    assert listing == ["-", "-", "y", "/etc/postfix", "postfix-out", "mta", "y", "/etc/postfix-out"]
    again = installed.run(argv, results=tmp_path / "again.jsonl", cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-6000:] + again.stderr[-4000:]
    assert [r["task"] for r in _records(tmp_path / "again.jsonl") if r["result"]["changed"]] == []
    host.run("postfix", "stop", check=False)
