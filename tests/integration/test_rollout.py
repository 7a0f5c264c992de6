# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/rollout.yml on a lab fleet: a broken host in the middle batch stops the rollout there;
playbooks/decommission.yml on the host that was rolled out.

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
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import labhost
import pytest
import yaml

lab = labhost.lab
DESIGN = labhost.REPO / "extensions" / "demo" / "vars" / "design.yml"
DECLARED = ["postfix-out", "postfix-mx", "postfix-sub"]
# the role's one module call per host: converge and health gate
GATE = "Plan, validate, apply and probe the design"
STOP = "Stop here - say what failed on this host"


def banner(address: str, port: int = 25) -> str:
    with socket.create_connection((address, port), timeout=5) as sock:
        return sock.recv(200).decode(errors="replace")


def rollout(workdir: Path, inventory: Path, *extra: str, playbook: str = "mailops.postfix_multi.rollout") -> labhost.AnsibleRun:
    """ansible-playbook PLAYBOOK (with the demo design) against the fleet inventory."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.jsonl"
    argv = [
        labhost.ansible_bin("ansible-playbook"),
        "-i",
        str(inventory),
        playbook,
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


def playbook(name: str, workdir: Path, inventory: Path, *extra: str) -> labhost.AnsibleRun:
    """ansible-playbook mailops.postfix_multi.NAME against the fleet inventory (group lab)."""
    return rollout(workdir, inventory, "-e", "postfix_multi_hosts=lab", *extra, playbook=f"mailops.postfix_multi.{name}")


@pytest.fixture(scope="module")
def fleet(lab_base, tmp_path_factory):
    """Three fresh hosts rollN-1..3 with 9 addresses each, the second one broken, rolled out with
    serial 1; yields (hosts, inventory, the run, the states of hosts 2 and 3 before it).
    Every Postfix is stopped and the hosts destroyed afterwards."""
    tmp = tmp_path_factory.mktemp("fleet")
    prefix = f"roll{os.getpid()}-"
    names = lab.up(3, prefix, owner_pid=os.getpid())
    inventory = tmp / "inventory.yml"
    inventory.write_text(lab.inventory_yaml(names))
    hosts = [labhost.Host(name, lab.host_dir(name) / "root", tmp / name) for name in names]
    try:
        broken = hosts[1]
        # break the second host: postconf writes this, only "postfix check" (and the daemons) refuse it
        broken.run("postconf", "-e", "default_process_limit = many")
        before = {host.name: host.state() for host in hosts[1:]}
        run = playbook("rollout", tmp / "rollout", inventory, "-e", "postfix_multi_rollout_serial=1")
        yield hosts, inventory, run, before
    finally:
        for host in hosts:  # stop the masters cleanly first; destroy kills whatever is left
            host.run("postmulti", "-p", "stop", check=False)
        lab.down(prefix)


def test_a_broken_host_in_the_middle_batch_stops_the_rollout(fleet):
    (first, broken, last), _inventory, run, before = fleet
    out = run.stdout

    # the rollout failed, at the second host's pre-flight check, with a message that says so
    assert run.rc != 0, run.explain()
    assert f"Pre-flight check failed on {broken.name}" in out, run.explain()
    assert "default_process_limit" in out, run.explain()  # postfix check's own reason
    failed = [r for r in run.records if r["status"] == "failed"]
    assert {r["host"] for r in failed} == {broken.name}, failed
    assert failed[-1]["task"].endswith(STOP)

    # the first batch was rolled out and passed the health gate
    assert {r["host"] for r in run.records} == {first.name, broken.name}  # the third host never ran a task
    gate = [r for r in run.records if r["host"] == first.name and r["task"].endswith(GATE)]
    assert [r["status"] for r in gate] == ["changed"]
    assert gate[0]["result"]["health"]["passed"] is True
    listed = [line.split()[0] for line in first.run("postmulti", "-l").stdout.splitlines()]
    assert listed == ["-", *DECLARED]
    for n, name in ((1, ""), (3, "out."), (2, "mx."), (4, "submit.")):
        assert banner(address(first, n)).startswith(f"220 {name}{first.name}.lab.example ESMTP"), n

    # the broken host and the host after it are exactly as they were
    assert broken.state() == before[broken.name]
    assert last.state() == before[last.name]
    assert "multi_instance_enable" not in last.read("/etc/postfix/main.cf")
    assert lab.pids_inside(last.root) == [] and lab.pids_inside(broken.root) == []


def test_preflight_always_checks_a_host_that_matches_the_design(fleet, tmp_path):
    """postfix_multi_rollout_preflight=always: a host whose configuration Postfix refuses fails before anything
    else, even where nothing differs from the design; by default such a host is not checked before (nothing is
    changed there), and only the health gate finds the instance that would no longer start."""
    (first, _broken, _last), inventory, _run, _before = fleet
    limit = ("--limit", first.name)
    # not a setting of the design: postfix-out still matches it
    first.run("postconf", "-c", "/etc/postfix-out", "-e", "default_process_limit = many")
    try:
        gated = playbook("rollout", tmp_path / "changes", inventory, *limit)
        assert gated.rc != 0, gated.explain()
        assert f"Health gate failed on {first.name}: postfix-out" in gated.stdout, gated.explain()
        assert "Pre-flight check failed" not in gated.stdout
        assert not [r for r in gated.records if r["status"] == "changed"]

        typo = playbook("rollout", tmp_path / "typo", inventory, *limit, "-e", "postfix_multi_rollout_preflight=alway")
        assert typo.rc != 0, typo.explain()
        assert "postfix_multi_rollout_preflight must be changes, always or never, not alway" in typo.stdout, typo.explain()
        # the module never ran: its task failed on the variable before (a module's result has its drift)
        assert [r["status"] for r in typo.records if r["task"].endswith(GATE)] == ["failed"], typo.explain()
        assert not [r for r in typo.records if "drift" in r["result"] or r["status"] == "changed"], typo.explain()

        looked = playbook("rollout", tmp_path / "check", inventory, *limit, "--check", "-e", "postfix_multi_rollout_preflight=always")
        assert looked.rc == 0, looked.explain()  # check mode runs no check

        always = playbook("rollout", tmp_path / "always", inventory, *limit, "-e", "postfix_multi_rollout_preflight=always")
        assert always.rc != 0, always.explain()
        assert f"Pre-flight check failed on {first.name}" in always.stdout, always.explain()
        assert "default_process_limit" in always.stdout, always.explain()
        failed = [r for r in always.records if r["status"] == "failed"]
        assert failed and failed[-1]["task"].endswith(STOP), failed
    finally:
        first.run("postconf", "-c", "/etc/postfix-out", "-X", "default_process_limit")


def test_health_gate_reads_what_the_design_leaves_open_and_fails_on_silence(fleet, tmp_path):
    """On the rolled-out first host: the gate reads where each instance listens from the host, also what the
    design does not give, and stops the rollout when an instance does not answer where its configuration says."""
    (first, _broken, _last), inventory, _run, _before = fleet
    limit = ("--limit", first.name)

    # the design no longer says whether the primary listens: the gate reads it from the host
    opened = playbook("rollout", tmp_path / "open", inventory, *limit, "-e", '{"postfix_multi_primary_absent_parameters": []}')
    assert opened.rc == 0, opened.explain()
    (gate,) = [r for r in opened.records if r["task"].endswith(GATE)]
    assert gate["status"] == "ok"
    probed = {i["name"]: [(p["host"], p["port"], p["passed"]) for p in i["probes"]] for i in gate["result"]["health"]["instances"]}
    assert probed == {
        None: [(address(first, 1), 25, True)],
        "postfix-out": [(address(first, 3), 25, True)],
        "postfix-mx": [(address(first, 2), 25, True)],
        "postfix-sub": [(address(first, 4), 25, True), (address(first, 4), 587, True)],
    }
    assert gate["result"]["health"]["hazards"] == []
    assert not [r for r in opened.records if r["status"] == "changed"]

    # postfix-mx moves to another address, but nothing reloads or restarts it: it does not answer there
    design = yaml.safe_load(DESIGN.read_text())
    moved = [dict(inst) for inst in design["postfix_multi_instances"]]
    moved[1] = {**moved[1], "parameters": {**moved[1]["parameters"], "inet_interfaces": "{{ lab_addresses[6] }}"}}
    override = tmp_path / "moved.json"
    override.write_text(json.dumps({"postfix_multi_instances": moved}))
    silent = playbook(
        "rollout",
        tmp_path / "silent",
        inventory,
        *limit,
        "-e",
        f"@{override}",
        "-e",
        "postfix_multi_apply_changes=false",
        "-e",
        "postfix_multi_rollout_health_timeout=3",
    )
    assert silent.rc != 0, silent.explain()
    assert (
        f"Health gate failed on {first.name}: postfix-mx: {address(first, 7)}:25 (master.cf service smtp/inet, expects a 220 banner): connection refused ("
    ) in silent.stdout, silent.explain()
    assert " attempt(s) in 3 s)" in silent.stdout

    # the design again: postfix-mx is restarted on its address (inet_interfaces needs a restart)
    back = playbook("rollout", tmp_path / "back", inventory, *limit)
    assert back.rc == 0, back.explain()
    (gate,) = [r for r in back.records if r["task"].endswith(GATE)]
    assert gate["result"]["restarted"] == ["postfix-mx"] and gate["result"]["reloaded"] == []
    assert banner(address(first, 2)).startswith(f"220 mx.{first.name}.lab.example ESMTP")


def test_health_gate_probes_from_the_design(fleet, tmp_path):
    """On the rolled-out first host: postfix_multi_rollout_probes adds probes, postfix_multi_rollout_replace_probes
    makes them the only ones of an instance."""
    (first, _broken, _last), inventory, _run, _before = fleet
    limit = ("--limit", first.name)
    nothing_there = {"instance": "mx", "host": address(first, 8), "port": 2525, "expect": "connect"}
    added = playbook(
        "rollout",
        tmp_path / "added",
        inventory,
        *limit,
        "-e",
        json.dumps({"postfix_multi_rollout_probes": [nothing_there]}),
        "-e",
        "postfix_multi_rollout_health_timeout=2",
    )
    assert added.rc != 0, added.explain()
    assert (
        f"Health gate failed on {first.name}: postfix-mx: {address(first, 8)}:2525 (probe given for the instance, expects a connection): connection refused ("
    ) in added.stdout, added.explain()

    submission = {"instance": "postfix-sub", "host": address(first, 4), "port": 587}
    replaced = playbook(
        "rollout",
        tmp_path / "replaced",
        inventory,
        *limit,
        "-e",
        json.dumps({"postfix_multi_rollout_probes": [submission], "postfix_multi_rollout_replace_probes": ["sub"]}),
    )
    assert replaced.rc == 0, replaced.explain()
    (gate,) = [r for r in replaced.records if r["task"].endswith(GATE)]
    (sub,) = [i for i in gate["result"]["health"]["instances"] if i["name"] == "postfix-sub"]
    assert [(p["host"], p["port"], p["service"], p["passed"]) for p in sub["probes"]] == [(address(first, 4), 587, None, True)]
    assert sub["probes"][0]["banner"].startswith(f"220 submit.{first.name}.lab.example ESMTP")


def test_decommission_drains_or_refuses(fleet, tmp_path):
    """On the rolled-out first host: mail waiting in postfix-out keeps it; postfix-sub (empty) goes."""
    (first, _broken, _last), inventory, _run, _before = fleet
    limit = ("--limit", first.name)
    # mail for <host>.example: postfix-mx relays it to postfix-out, whose smarthost does not answer
    with smtplib.SMTP(address(first, 2), 25, timeout=10) as smtp:
        smtp.sendmail(f"sender@{first.name}.example", [f"user@{first.name}.example"], "Subject: decommission test\n\nhello\n")
    deadline = time.monotonic() + 30
    while "1 Request" not in first.run("postqueue", "-c", "/etc/postfix-out", "-p").stdout:
        assert time.monotonic() < deadline, first.run("postqueue", "-c", "/etc/postfix-out", "-p").stdout
        time.sleep(0.5)

    kept = playbook(
        "decommission",
        tmp_path / "out",
        inventory,
        *limit,
        "-e",
        "postfix_multi_decommission_instance=postfix-out",
        "-e",
        "postfix_multi_decommission_timeout=4",
        "-e",
        "postfix_multi_decommission_poll=2",
    )
    assert kept.rc != 0, kept.explain()
    assert f"postfix-out on {first.name} still holds 1 message(s) after 4 s" in kept.stdout, kept.explain()
    assert "NOT destroyed" in kept.stdout
    assert "postfix-out" in first.run("postmulti", "-l").stdout
    assert "1 Request" in first.run("postqueue", "-c", "/etc/postfix-out", "-p").stdout
    # it no longer accepts SMTP, but still runs (and keeps trying to deliver)
    assert first.run("postconf", "-c", "/etc/postfix-out", "-h", "master_service_disable").stdout.strip() == "inet"
    assert first.run("postfix", "-c", "/etc/postfix-out", "status", check=False).returncode == 0
    with pytest.raises(OSError):
        banner(address(first, 3))

    gone = playbook("decommission", tmp_path / "sub", inventory, *limit, "-e", "postfix_multi_decommission_instance=postfix-sub")
    assert gone.rc == 0, gone.explain()
    assert [line.split()[0] for line in first.run("postmulti", "-l").stdout.splitlines()] == ["-", "postfix-out", "postfix-mx"]
    assert not first.path("/etc/postfix-sub").exists()


def address(host: labhost.Host, n: int) -> str:
    """The host's n-th lab address (127.0.N.n)."""
    return json.loads((host.root.parent / "host.json").read_text())["addresses"][n - 1]


ROLLOUT = """
- name: Roll out
  ansible.builtin.import_playbook: mailops.postfix_multi.rollout
"""


def test_install_false_from_the_command_line_fails_a_host_without_postfix(new_host):
    """-e postfix_multi_install=false (a string, as key=value extra vars are) on a host without Postfix: the
    rollout fails the host, as the boolean false does; the role's argument validation is off in rollout.yml."""
    host = new_host("bare")
    host.run("rm", "/usr/sbin/postconf")  # what the module looks for: the host has no Postfix for it
    for value in ("postfix_multi_install=false", '{"postfix_multi_install": false}', "postfix_multi_install=no"):
        rc, records = host.playbook(ROLLOUT, extra_args=["-e", "postfix_multi_hosts=all", "-e", value])
        assert rc != 0, host.last_run.explain()
        assert f"Postfix is not installed on {host.name} and postfix_multi_install is false" in host.last_run.stdout, host.last_run.explain()
        assert [r["status"] for r in records if r["task"].endswith(STOP)] == ["failed"], host.last_run.explain()
