# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Concurrent runs on one host, and ad-hoc use with the ``ansible`` command.

(a) One playbook, an inventory of 8 aliases of the same host and 8 forks: 8 ``postfix_instance``
    creations (and 8 ``postfix_multi_init`` runs) at the same time. The modules lock the primary's
    config directory, so every instance must end up registered, exactly one init may report a change,
    and the real ``postmulti -l`` / ``postfix check`` must accept the result.
(b) ``ansible HOST -m mailops.postfix_multi.postfix_instance -a 'name=postfix-out group=mta enabled=true'``
    with the real ``ansible`` CLI, in the harness's Ansible environment: CHANGED, then SUCCESS.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import labhost
import test_oracle_parity as op
from test_postfix_instance import assert_postfix_accepts, assert_same_state, listed, primary_n

ALIASES = [f"p{i}" for i in range(1, 9)]


def test_parallel_creations(host):
    """(a) 8 creations in parallel on one host: none lost, all valid, all idempotent."""
    playbook = """\
- hosts: lab
  gather_facts: false
  tasks:
    - name: init, 8 times at once
      mailops.postfix_multi.postfix_multi_init:
    - name: create, 8 instances at once
      mailops.postfix_multi.postfix_instance:
        name: "postfix-{{ inventory_hostname }}"
        group: par
    - name: create again
      mailops.postfix_multi.postfix_instance:
        name: "postfix-{{ inventory_hostname }}"
        group: par
"""
    rc, records = host.playbook(playbook, aliases=ALIASES, forks=len(ALIASES))
    assert rc == 0, host.last_run.explain()
    by_task: dict[str, dict[str, dict]] = {}
    for record in records:
        by_task.setdefault(record["task"], {})[record["host"]] = record["result"]
    inits, creates, agains = (by_task[name] for name in ("init, 8 times at once", "create, 8 instances at once", "create again"))
    assert sorted(inits) == sorted(creates) == sorted(agains) == ALIASES
    assert sum(r["changed"] for r in inits.values()) == 1, {a: r["msg"] for a, r in inits.items()}
    for alias in ALIASES:
        assert not creates[alias]["failed"], f"{alias}: {creates[alias].get('msg')}"
        assert creates[alias]["changed"] and creates[alias]["action"] == "create", creates[alias]
        assert not agains[alias]["failed"] and not agains[alias]["changed"], agains[alias]

    assert_postfix_accepts(host)
    state = host.state()
    names = sorted(name for name, dummy in listed(state))
    assert names == [f"postfix-{a}" for a in ALIASES], state["postmulti_l"]
    assert all(line.split()[1:3] == ["par", "n"] for line in state["postmulti_l"][1:])
    entries = next(line for line in primary_n(state) if line.startswith("multi_instance_directories = ")).split(" = ")[1].split()
    assert sorted(entries) == [f"/etc/postfix-{a}" for a in ALIASES]
    # every instance is built the same way (modulo its name): no half-made one
    reference = [line.replace("p1", "P") for line in state["postconf_n"]["/etc/postfix-p1"]]
    files = [line.replace("p1", "P") for line in state["files"] if "postfix-p1" in line]
    for alias in ALIASES[1:]:
        assert [line.replace(alias, "P") for line in state["postconf_n"][f"/etc/postfix-{alias}"]] == reference, alias
        assert [line.replace(alias, "P") for line in state["files"] if f"postfix-{alias}" in line] == files, alias


def adhoc(host: labhost.Host, module: str, args: str = "") -> tuple[str, dict]:
    """Run ``ansible HOST -m MODULE -a ARGS`` (the real ad-hoc CLI) in the harness's Ansible environment.

    Returns (status, result): status is what the default callback prints (CHANGED, SUCCESS, FAILED!).
    """
    workdir = host.workdir / "adhoc"
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = workdir / "inventory.yml"
    inventory.write_text(labhost.lab.inventory_yaml([host.name]))  # the same inventory as "tools/lab inventory NAME"
    argv = [labhost.ansible_bin("ansible"), host.name, "-i", str(inventory), "-m", module]
    if args:
        argv += ["-a", args]
    proc = subprocess.run(
        argv,
        cwd=workdir,
        env=labhost.ansible_env(workdir / "ansible-home", workdir / "results.jsonl"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=labhost.ANSIBLE_TIMEOUT,
        check=False,
    )
    match = re.search(rf"^{re.escape(host.name)} \| (CHANGED|SUCCESS|FAILED!) => (\{{.*\}})\s*\Z", proc.stdout, re.M | re.S)
    assert match, f"unexpected output of {' '.join(argv)} (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    status, result = match.group(1), json.loads(match.group(2))
    assert proc.returncode == (0 if status != "FAILED!" else 2), f"rc={proc.returncode} with {status}:\n{proc.stdout}\n{proc.stderr}"
    return status, result


def oracle_create_enable(oracle: labhost.Host) -> dict:
    op.init(oracle)
    op.create(oracle, name="postfix-out", group="mta")
    op.enable(oracle, "postfix-out")
    return op.state(oracle)


def test_adhoc(host, oracle):
    """(b) ad-hoc: init, then create+enable (CHANGED), then the same command again (SUCCESS, not CHANGED)."""
    module = "mailops.postfix_multi.postfix_instance"
    args = "name=postfix-out group=mta enabled=true"
    with ThreadPoolExecutor(1) as pool:
        expected = pool.submit(oracle_create_enable, oracle)
        assert adhoc(host, "mailops.postfix_multi.postfix_multi_init")[0] == "CHANGED"
        status, result = adhoc(host, module, args)
        assert status == "CHANGED", result
        assert result["action"] == "create" and result["instance"]["enabled"] is True and result["instance"]["group"] == "mta"
        assert_postfix_accepts(host)
        status, again = adhoc(host, module, args)
        assert status == "SUCCESS", again
        assert again["action"] == "none" and again["changed"] is False
        state = host.state()
        assert state["postmulti_l"][1] == op.listing("postfix-out", "mta", True, "/etc/postfix-out")
        assert_same_state(state, expected.result(), "ad-hoc create+enable differs from postmulti create + enable")
