# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi_instance role's life-cycle paths on one lab host: disable a running instance, destroy one,
prune an undeclared one, add a new one; and a host without Postfix.

(The main path - create, configure, start, check mode, idempotence - runs in the Molecule
scenarios and tests/integration/test_rollout.py.)
"""

from __future__ import annotations

import json
import os
import socket

import labhost
import pytest

lab = labhost.lab
ROLE = "mailops.postfix_multi.multi_instance"
# the role's one module call per host (mailops.postfix_multi.postfix_multi_host)
CALL = "Plan, validate, apply and probe the design"


def converge(host: labhost.Host, design: dict, check: bool = False) -> tuple[int, list[dict]]:
    """The role with DESIGN (as play vars) on this host; ``--check --diff`` with check=True."""
    play = [{"name": "Converge", "hosts": "lab", "gather_facts": False, "vars": design, "roles": [{"role": ROLE}], "post_tasks": [SHOW]}]
    return host.playbook(json.dumps(play), extra_args=["--check", "--diff"] if check else ["--diff"])


# a play's own task after the role reads what the role documents it leaves: postfix_multi_result
SHOW = {"name": "Show postfix_multi_result", "ansible.builtin.debug": {"var": "postfix_multi_result"}}


def result(records: list[dict]) -> dict:
    shown = [r for r in records if r["task"].endswith(SHOW["name"])]
    return shown[-1]["result"]["postfix_multi_result"]


def listing(host: labhost.Host) -> list[tuple[str, str]]:
    return [(line.split()[0], line.split()[2]) for line in host.run("postmulti", "-l").stdout.splitlines()]


def running(host: labhost.Host, config_directory: str) -> bool:
    return host.run("postfix", "-c", config_directory, "status", check=False).returncode == 0


@pytest.fixture
def fleet_host(lab_base, tmp_path):
    """A fresh lab host with 3 loopback addresses of its own (its primary listens on the first)."""
    name = f"mi{os.getpid()}"
    root = lab.clone(name, owner_pid=os.getpid(), addresses=3)
    host = labhost.Host(name, root, tmp_path / name)
    try:
        yield host
    finally:
        host.run("postmulti", "-p", "stop", check=False)
        for directory in ("/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c", "/etc/postfix-d"):
            host.run("postfix", "-c", directory, "stop", check=False)  # disabled ones too
        lab.destroy(name)


def instance(name: str, **more) -> dict:
    # no listener: postmulti's master_service_disable = inet stays; the instance still runs
    return {"name": name, "group": "test", "parameters": {"myhostname": f"{name}.example"}, **more}


def test_disable_destroy_prune_and_add(fleet_host):
    host = fleet_host
    first = {"postfix_multi_instances": [instance("postfix-a"), instance("postfix-b"), instance("postfix-c")]}
    rc, records = converge(host, first)
    assert rc == 0, host.last_run.explain()
    assert listing(host) == [("-", "y"), ("postfix-a", "y"), ("postfix-b", "y"), ("postfix-c", "y")]
    assert all(running(host, f"/etc/postfix-{x}") for x in "abc")
    assert result(records)["changed"] is True

    second = {
        "postfix_multi_instances": [
            instance("postfix-a", enabled=False),  # running: stopped first, then disabled
            {"name": "postfix-b", "state": "absent"},  # running: stopped and destroyed
            instance("postfix-d", enabled=False),  # new, disabled: created, not started
        ],
        "postfix_multi_prune": True,  # postfix-c is no longer declared: stopped, disabled, deported
    }
    rc, records = converge(host, second, check=True)
    assert rc == 0, host.last_run.explain()
    preview = result(records)
    assert preview["changed"] is True
    assert "stop postfix-a before disabling it" in preview["drift"]
    assert "destroy instance postfix-b" in preview["drift"]
    assert "deport (not declared): /etc/postfix-c" in preview["drift"]
    assert listing(host) == [("-", "y"), ("postfix-a", "y"), ("postfix-b", "y"), ("postfix-c", "y")]  # check mode changed nothing

    rc, records = converge(host, second)
    assert rc == 0, host.last_run.explain()
    assert listing(host) == [("-", "y"), ("postfix-a", "n"), ("postfix-d", "n")]
    assert not running(host, "/etc/postfix-a") and not running(host, "/etc/postfix-c") and not running(host, "/etc/postfix-d")
    assert not host.path("/etc/postfix-b").exists()
    assert host.path("/etc/postfix-c/main.cf").exists()  # deported, not destroyed
    assert "/etc/postfix-c" in host.run("postconf", "-h", "alternate_config_directories").stdout
    assert running(host, "/etc/postfix")

    for check in (True, False):
        rc, records = converge(host, second, check=check)
        assert rc == 0, host.last_run.explain()
        documented = ("changed", "in_sync", "drift", "instances", "started", "restarted", "reloaded", "health")
        assert {key: result(records)[key] for key in documented} == {
            "changed": False,
            "in_sync": True,
            "drift": ["in sync"],
            "instances": {},
            "started": [],
            "restarted": [],
            "reloaded": [],
            "health": None,
        }
        assert not [r for r in records if r["status"] == "changed"]


def test_a_new_instance_is_validated_before_it_exists(fleet_host):
    """On a fresh host (multi-instance management off), a bad value in the design fails --check with
    Postfix's reason, and the real run fails the same way leaving nothing created, enabled or running;
    the corrected design then converges: check mode shows the new instance's values in its diff."""
    host = fleet_host
    bad_address = "127.0.77.99"  # on no interface of this machine: postfix check refuses it
    bad = {"postfix_multi_instances": [instance("postfix-a", parameters={"myhostname": "a.example", "inet_interfaces": bad_address})]}
    primary_before = host.read("/etc/postfix/main.cf")
    for check in (True, False):
        rc, records = converge(host, bad, check=check)
        assert rc != 0
        failed = [r for r in records if r["status"] == "failed"]
        assert failed and failed[0]["task"].endswith(CALL), host.last_run.explain()
        message = failed[0]["result"]["msg"]
        assert f"no local interface found for {bad_address}" in message, message
        assert not host.path("/etc/postfix-a").exists() and not host.path("/var/spool/postfix-a").exists()
        assert listing(host) == [("-", "y")]
        assert not running(host, "/etc/postfix-a")
        # the design is validated before anything is touched: not even multi-instance management is turned on
        assert host.read("/etc/postfix/main.cf") == primary_before

    good = {"postfix_multi_instances": [instance("postfix-a", parameters={"myhostname": "a.example", "inet_interfaces": host.addresses[1]})]}
    rc, records = converge(host, good, check=True)
    assert rc == 0, host.last_run.explain()
    [create] = [r for r in records if r["task"].endswith(CALL)]
    diffs = {d["after_header"]: d["after"] for d in create["result"]["diff"]}
    assert "myhostname = a.example" in diffs["/etc/postfix-a/main.cf"]
    assert f"inet_interfaces = {host.addresses[1]}" in diffs["/etc/postfix-a/main.cf"]
    assert "multi_instance_enable = yes" in diffs["/etc/postfix/main.cf"]  # initialised and registered in one write
    assert not host.path("/etc/postfix-a").exists()
    assert "postfix-a" in result(records)["started"]  # check mode: what would be started, the new instance too
    rc, records = converge(host, good)
    assert rc == 0, host.last_run.explain()
    assert listing(host) == [("-", "y"), ("postfix-a", "y")] and running(host, "/etc/postfix-a")
    # neither ran before; "-" names the primary, as in the module's other results
    assert result(records)["started"] == ["-", "postfix-a"] and result(records)["restarted"] == []
    # a change that needs a restart: restarted, not started
    moved = {"postfix_multi_instances": [instance("postfix-a", parameters={"myhostname": "a.example", "inet_interfaces": host.addresses[2]})]}
    rc, records = converge(host, moved)
    assert rc == 0, host.last_run.explain()
    assert result(records)["restarted"] == ["postfix-a"] and result(records)["started"] == []


def test_a_host_without_postfix(fleet_host):
    host = fleet_host
    host.run("mv", "/usr/sbin/postconf", "/usr/sbin/postconf.away")
    rc, records = converge(host, {"postfix_multi_install": False, "postfix_multi_instances": [instance("postfix-a")]})
    assert rc != 0
    drift = [r for r in records if r["task"].endswith(CALL)]
    assert drift[0]["result"]["installed"] is False
    failed = [r for r in records if r["status"] == "failed"]
    assert f"Postfix is not installed on {host.name} and postfix_multi_install is false" in failed[-1]["result"]["msg"]  # the role says why


MODULE_TASK = "Plan, validate, apply and probe the design"


def changed_tasks(records: list[dict]) -> list[str]:
    """The names of the tasks that changed the host; none is skipped."""
    assert not [r for r in records if r["status"] == "skipped"], records
    return [r["task"].rpartition(" : ")[2] for r in records if r["status"] == "changed"]


# the unit of instance postfix-a: Debian 13 names it after the directory's suffix (its README)
UNIT_OF_A = {"trixie": "postfix@a.service"}


@pytest.mark.parametrize("release", ["bullseye", "bookworm", "trixie"])
def test_a_booted_host_without_postfix_gets_it_installed(new_booted, tmp_path, release):
    """The role's installation path on a booted Debian host (each release the role supports) from
    which Postfix was purged (no /etc/postfix; before Debian 13 no postfix user either), apt's only source a local archive
    of the release's packages, no python3-apt (ansible.builtin.apt installs it first): check mode
    says what it would do and installs nothing; the real run installs Postfix with Debian's
    maintainer scripts, then converges the design in the same run; the next run changes nothing."""
    host = new_booted("bare", release=release)
    labhost.remove_postfix(host, tmp_path / "archive")
    assert host.run("sh", "-c", "command -v postconf", check=False).returncode != 0
    assert not host.path("/etc/postfix").exists()  # (Debian 13's purge keeps the postfix user, the others remove it)
    design = {
        "postfix_multi_primary_parameters": {"inet_interfaces": host.addresses[0], "myhostname": "bare.example"},
        "postfix_multi_instances": [
            instance("postfix-a", parameters={"myhostname": "a.example", "inet_interfaces": host.addresses[1]}, absent_parameters=["master_service_disable"])
        ],
    }

    rc, records = converge(host, design, check=True)
    assert rc == 0, host.last_run.explain()
    assert changed_tasks(records) == [MODULE_TASK], host.last_run.explain()  # one task: the role's module call
    preview = result(records)
    assert preview["installed"] is False and preview["changed"] is True  # the installation would change the host
    assert preview["packages"] == ["postfix"], preview  # Debian's, from the host's facts (the play gathers none)
    assert f"Postfix is not installed on {host.name}: a real run installs postfix" in preview["msg"], preview["msg"]
    assert host.run("sh", "-c", "command -v postconf", check=False).returncode != 0  # check mode installed nothing
    assert not host.path("/etc/postfix").exists()

    # a package the archive does not have: the package manager's own failure, and Postfix still missing
    rc, records = converge(host, {**design, "postfix_multi_packages": ["postfix-no-such-package"]})
    assert rc != 0
    failed = [r["result"]["msg"] for r in records if r["status"] == "failed"]
    assert f"Converging failed on {host.name}: Installing postfix-no-such-package on {host.name} failed: " in failed[-1], failed
    assert host.run("sh", "-c", "command -v postconf", check=False).returncode != 0

    rc, records = converge(host, design)
    assert rc == 0, host.last_run.explain()
    assert changed_tasks(records) == [MODULE_TASK], host.last_run.explain()  # installed and converged in one task
    done = result(records)
    assert done["installed"] is True and done["changed"] is True and done["packages"] == ["postfix"]
    # the primary: restarted for its new inet_interfaces where the package's scripts started it,
    # started where they left it stopped (Debian 11)
    assert "postfix-a" in done["started"] and sorted(done["started"] + done["restarted"]) == ["-", "postfix-a"], done
    assert listing(host) == [("-", "y"), ("postfix-a", "y")]
    assert running(host, "/etc/postfix") and running(host, "/etc/postfix-a")
    assert host.run("systemctl", "is-active", UNIT_OF_A.get(release, "postfix@postfix-a.service"), check=False).stdout.strip() == "active"
    assert host.run("postconf", "-h", "myhostname").stdout.strip() == "bare.example"
    assert host.run("postfix", "-c", "/etc/postfix-a", "check", check=False).stderr == ""
    for address, name in ((host.addresses[0], "bare.example"), (host.addresses[1], "a.example")):
        with socket.create_connection((address, 25), timeout=10) as sock:
            assert name in sock.recv(200).decode(errors="replace")

    rc, records = converge(host, design)
    assert rc == 0, host.last_run.explain()
    assert result(records)["changed"] is False and result(records)["in_sync"] is True
    assert not [r for r in records if r["status"] == "changed"], host.last_run.explain()
    assert "packages" not in result(records)  # nothing to install
