# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration smoke test that runs on every ansible-core version we support.

``make integration`` runs it with the main venv (ansible-core 2.19) like every other
integration test; ``make core217`` runs it, alone, with ``.venv-2.17/bin/python -m pytest``,
so that the harness (which uses the ``ansible-playbook`` next to ``sys.executable``)
drives the modules with ansible-core 2.17, the minimum in meta/runtime.yml.

One sequence per life-cycle step, the pattern of the larger tests: check mode -> apply ->
check mode -> apply, asserting ``changed`` each time, then the real state of the host.
"""

from __future__ import annotations

import subprocess
import sys

import labhost


def _core_version() -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import ansible.release as r; print(r.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_harness_uses_the_ansible_of_this_venv():
    """The ansible-playbook the harness runs belongs to the Python running pytest."""
    playbook = labhost.ansible_bin("ansible-playbook")
    proc = subprocess.run([playbook, "--version"], capture_output=True, text=True, check=True)
    assert f"[core {_core_version()}]" in proc.stdout.splitlines()[0]


def test_instance_life_cycle_smoke(host):
    init = host.sequence("postfix_multi_init")
    assert [r["changed"] for r in init] == [True, True, False, False], host.last_run.explain()
    assert not any(r["failed"] for r in init)

    create = host.sequence("postfix_instance", name="postfix-smoke", group="smoke", enabled=True)
    assert [r["changed"] for r in create] == [True, True, False, False], host.last_run.explain()
    assert create[1]["action"] == "create"
    assert create[1]["instance"]["config_directory"] == "/etc/postfix-smoke"
    # check mode already shows the registration in the primary main.cf
    assert any("multi_instance_directories = /etc/postfix-smoke" in d.get("after", "") for d in create[0]["diff"])

    listing = host.run("postmulti", "-l").stdout.split()
    assert listing == ["-", "-", "y", "/etc/postfix", "postfix-smoke", "smoke", "y", "/etc/postfix-smoke"]

    info = host.module("postfix_instance_info", group="smoke")
    assert not info["failed"], info
    assert [(i["name"], i["enabled"], i["running"]) for i in info["instances"]] == [("postfix-smoke", True, False)]
    assert info["instances"][0]["environment"]["MAIL_CONFIG"] == "/etc/postfix-smoke"

    destroy = host.sequence("postfix_instance", name="postfix-smoke", state="absent", force=True)
    assert [r["changed"] for r in destroy] == [True, True, False, False], host.last_run.explain()
    assert host.run("postmulti", "-l").stdout.split() == ["-", "-", "y", "/etc/postfix"]
    assert not host.path("/etc/postfix-smoke").exists()
