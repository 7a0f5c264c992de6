# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/rollout.yml on a lab fleet: a broken host in the middle batch stops the rollout there.

Three fresh lab hosts (tools/lab fleet clones with loopback addresses of their own), the demo
design (extensions/demo/vars/design.yml), serial 1. The second host's Postfix configuration is
broken before the rollout (a value that postconf accepts but ``postfix check`` refuses). Expected:
the first batch converges and passes the health gate; the second fails its pre-flight check with a
message naming the host and the problem, and is not changed; the rollout stops, so the third host
is never touched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import labhost
import pytest

lab = labhost.lab
DESIGN = labhost.REPO / "extensions" / "demo" / "vars" / "design.yml"
DECLARED = ["postfix-out", "postfix-mx", "postfix-sub"]


def banner(address: str, port: int = 25) -> str:
    with socket.create_connection((address, port), timeout=5) as sock:
        return sock.recv(200).decode(errors="replace")


def rollout(workdir: Path, inventory: Path, *extra: str) -> labhost.AnsibleRun:
    """ansible-playbook mailops.postfix_multi.rollout against the fleet inventory."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.jsonl"
    argv = [
        labhost.ansible_bin("ansible-playbook"),
        "-i",
        str(inventory),
        "mailops.postfix_multi.rollout",
        "-e",
        f"@{DESIGN}",
        *extra,
    ]
    run = labhost.AnsibleRun(workdir=workdir, argv=argv)
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=workdir,
        env=labhost.ansible_env(workdir / "ansible-home", results),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=labhost.ANSIBLE_TIMEOUT,
        check=False,
    )
    run.seconds = time.monotonic() - started
    run.rc, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    (workdir / "stdout.txt").write_text(proc.stdout)
    if results.exists():
        run.records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return run


@pytest.fixture
def fleet(lab_base, tmp_path):
    """Three fresh hosts rollN-1..3 with 9 addresses each, and their inventory; stopped and destroyed afterwards."""
    prefix = f"roll{os.getpid()}-"
    names = lab.up(3, prefix, owner_pid=os.getpid())
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(lab.inventory_yaml(names))
    hosts = [labhost.Host(name, lab.host_dir(name) / "root", tmp_path / name) for name in names]
    try:
        yield hosts, inventory
    finally:
        for host in hosts:  # stop the masters cleanly first; destroy kills whatever is left
            host.run("postmulti", "-p", "stop", check=False)
        lab.down(prefix)


def test_a_broken_host_in_the_middle_batch_stops_the_rollout(fleet, tmp_path):
    (first, broken, last), inventory = fleet
    # break the second host: postconf writes this, only "postfix check" (and the daemons) refuse it
    broken.run("postconf", "-e", "default_process_limit = many")
    before = {host.name: host.state() for host in (broken, last)}

    run = rollout(tmp_path / "rollout", inventory, "-e", "postfix_multi_hosts=lab", "-e", "postfix_multi_rollout_serial=1")
    out = run.stdout

    # the rollout failed, at the second host's pre-flight check, with a message that says so
    assert run.rc != 0, run.explain()
    assert f"Pre-flight check failed on {broken.name}" in out, run.explain()
    assert "default_process_limit" in out, run.explain()  # postfix check's own reason
    failed = [r for r in run.records if r["status"] == "failed"]
    assert {r["host"] for r in failed} == {broken.name}, failed
    assert failed[-1]["task"].endswith("Stop here - the host's configuration is broken already")

    # the first batch was rolled out and passed the health gate
    assert {r["host"] for r in run.records} == {first.name, broken.name}  # the third host never ran a task
    gate = [r for r in run.records if r["host"] == first.name and r["task"].startswith("Health gate - report")]
    assert [r["status"] for r in gate] == ["ok"]
    listed = [line.split()[0] for line in first.run("postmulti", "-l").stdout.splitlines()]
    assert listed == ["-", *DECLARED]
    addresses = [f"127.0.{lab_subnet(first)}.{n}" for n in (1, 3, 2, 4)]
    for address, name in zip(addresses, ["", "out.", "mx.", "submit."]):
        assert banner(address).startswith(f"220 {name}{first.name}.lab.example ESMTP"), address

    # the broken host and the host after it are exactly as they were
    assert broken.state() == before[broken.name]
    assert last.state() == before[last.name]
    assert "multi_instance_enable" not in last.read("/etc/postfix/main.cf")
    assert lab.pids_inside(last.root) == [] and lab.pids_inside(broken.root) == []


def lab_subnet(host: labhost.Host) -> int:
    return json.loads((host.root.parent / "host.json").read_text())["subnet"]
