# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the lab harness itself (tools/lab + labhost); none of them needs our modules."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import labhost

PRIMARY_L = "-               -               y         /etc/postfix"


def _mounted(path: Path) -> list[str]:
    prefix = str(path)
    with open("/proc/mounts", encoding="utf-8") as fh:
        return [line for line in fh if prefix in line]


def test_fresh_clones_are_pristine_and_isolated(host, oracle):
    assert host.changed_paths() == []
    fresh = host.state()
    assert fresh["postmulti_l"] == [PRIMARY_L]
    assert "inet_protocols = ipv4" in fresh["postconf_n"]["/etc/postfix"]
    assert fresh == oracle.state()

    host.run("postconf", "-e", "myhostname=changed.example")
    host.path("/etc/postfix/marker").write_text("only in host\n")

    assert host.run("postconf", "-h", "myhostname").stdout == "changed.example\n"
    assert oracle.run("postconf", "-h", "myhostname").stdout == "lab.example\n"
    assert not oracle.path("/etc/postfix/marker").exists()
    base = labhost.lab.base_root()
    assert not (base / "etc/postfix/marker").exists()
    assert "myhostname = lab.example" in (base / "etc/postfix/main.cf").read_text()
    assert host.changed_paths() == ["etc/postfix/main.cf", "etc/postfix/marker"]
    assert oracle.changed_paths() == []
    assert host.state() != oracle.state()


def test_fork_copies_current_state(oracle, new_host):
    oracle.run("postmulti", "-e", "init")
    oracle.run("postmulti", "-e", "create", "-I", "postfix-out", "-G", "mta")
    oracle.run("rm", "/etc/postfix/post-install")  # a deletion (overlay whiteout) must be copied too
    fork = new_host("fork", source=oracle)
    assert fork.state() == oracle.state()
    assert fork.changed_paths() == oracle.changed_paths()
    assert "etc/postfix/post-install (deleted)" in fork.changed_paths()
    fork.run("postmulti", "-e", "destroy", "-i", "postfix-out")
    assert oracle.path("/etc/postfix-out/main.cf").exists()
    assert not fork.path("/etc/postfix-out").exists()


def test_oracle_postmulti_create(oracle):
    oracle.run("postmulti", "-e", "init")
    oracle.run("postmulti", "-e", "create", "-I", "postfix-out", "-G", "mta")
    state = oracle.state()
    assert state["postmulti_l"] == [PRIMARY_L, "postfix-out     mta             n         /etc/postfix-out"]
    assert "multi_instance_directories = /etc/postfix-out" in state["postconf_n"]["/etc/postfix"]
    out = state["postconf_n"]["/etc/postfix-out"]
    assert "multi_instance_name = postfix-out" in out
    assert "queue_directory = /var/spool/postfix-out" in out
    assert not any(line.startswith("multi_instance_enable") for line in out)
    for line in (
        "etc/postfix-out root root 0755 d",
        "etc/postfix-out/main.cf root root 0644 f",
        "var/lib/postfix-out postfix root 0700 d",
        "var/spool/postfix-out/maildrop postfix postdrop 0730 d",
        "var/spool/postfix-out/public postfix postdrop 0710 d",
    ):
        assert line in state["files"]
    proto = hashlib.sha256(oracle.path("/etc/postfix/master.cf.proto").read_bytes()).hexdigest()
    assert state["master_cf_sha256"]["/etc/postfix-out"] == proto


def test_run_tty_captures_postfix_diagnostics(oracle):
    quiet = oracle.run("postmulti", "-e", "create", "-I", "postfix-early", check=False)
    assert (quiet.returncode, quiet.stderr) == (1, "")  # 3.7.11: nothing on a non-tty stderr
    loud = oracle.run_tty("postmulti", "-e", "create", "-I", "postfix-early", check=False)
    assert loud.returncode == 1
    assert "postfix/postmulti-script: fatal: multi_instance_wrapper is empty, run 'postmulti -e init' first." in loud.stderr
    oracle.run("postmulti", "-e", "init")
    bad = oracle.run_tty("postmulti", "-e", "create", "-I", "mta-out", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "postmulti: fatal: New instance name must start with 'postfix-'"
    try:
        oracle.run_tty("postmulti", "-e", "create", "-I", "mta-out")
    except labhost.CommandError as exc:
        assert "must start with 'postfix-'" in str(exc)
    else:
        raise AssertionError("run_tty(check=True) did not raise")


def test_module_runs_through_chroot(host):
    host.path("/etc/postfix/marker").write_text("host marker\n")
    result = host.module("ansible.builtin.stat", path="/etc/postfix/marker", get_checksum=True)
    assert result["stat"]["exists"] is True
    assert result["stat"]["checksum"] == hashlib.sha1(b"host marker\n").hexdigest()
    failed = host.module("ansible.builtin.command", argv=["false"])
    assert failed["failed"] is True and failed["rc"] == 1


def test_module_args_arrive_literally(host):
    args = ["printf", "%s|", "false", "1", "{{ x }}", "yes", "${command_directory}", ""]
    result = host.module("ansible.builtin.command", argv=args)
    assert result["stdout"] == "false|1|{{ x }}|yes|${command_directory}||"


def test_sequence_is_check_apply_check_apply(host):
    results = host.sequence("ansible.builtin.lineinfile", path="/etc/postfix/main.cf", line="# lab {{ marker }}")
    assert [r["changed"] for r in results] == [True, True, False, False]
    assert "diff" in results[0]
    assert host.read("/etc/postfix/main.cf").count("# lab {{ marker }}\n") == 1
    assert len(host.last_run.records) == 4


def test_playbook_with_parallel_aliases(host):
    aliases = [f"a{i}" for i in range(8)]
    rc, records = host.playbook(
        "- hosts: lab\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: mktemp -p /tmp lab.XXXXXX\n",
        aliases=aliases,
        forks=8,
    )
    assert rc == 0
    assert sorted(r["host"] for r in records) == aliases
    assert all(r["status"] == "changed" for r in records)
    made = {r["result"]["stdout"] for r in records}
    assert len(made) == 8 and all(host.path(p).exists() for p in made)


def test_destroy_kills_and_unmounts(new_host):
    doomed = new_host("doomed")
    hdir = doomed.root.parent
    assert len(_mounted(hdir)) == 4  # overlay root, proc, devpts and the ptmx bind
    sleeper = subprocess.Popen(["chroot", str(doomed.root), "sleep", "300"])
    time.sleep(0.2)
    started = time.monotonic()
    labhost.destroy_host(doomed)
    assert time.monotonic() - started < 10
    assert sleeper.wait(timeout=5) != 0
    assert _mounted(hdir) == []
    assert not hdir.exists()


def test_cli_list_inventory_and_root_check(host):
    listed = subprocess.run([str(labhost.LAB_TOOL), "list"], capture_output=True, text=True, check=True).stdout
    assert f"{host.name}\t{host.release}\tmounted\t{host.root}\n" in listed
    inventory = subprocess.run([str(labhost.LAB_TOOL), "inventory", host.name], capture_output=True, text=True, check=True).stdout
    assert f'ansible_host: "{host.root}"' in inventory
    assert 'ansible_connection: "community.general.chroot"' in inventory
    assert 'ansible_python_interpreter: "/usr/bin/python3"' in inventory
    assert f'lab_release: "{host.release}"' in inventory and "lab_booted: false" in inventory
    as_nobody = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(labhost.LAB_TOOL), "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert as_nobody.returncode == 1
    assert "must run as root" in as_nobody.stderr
