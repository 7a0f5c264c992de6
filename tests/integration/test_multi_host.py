# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_multi_host on booted lab hosts (systemd as PID 1, Ansible over ssh): a whole design in one call.

What an operator relies on, checked against the host itself (postmulti -l, postfix status, the
files, a TCP connection to each listener) rather than against the module's own report:
- check -> apply -> check -> apply: changed exactly in the first two runs; check mode on a fresh
  host creates nothing and starts nothing, yet reports the new instances it would start;
- check mode on a fresh host validates the new instances: a value Postfix refuses fails there,
  with Postfix's reason; the real run then leaves nothing registered or running; the fixed
  design converges; so do values that ``postfix check`` lets pass but the program that reads
  them (smtpd, qmgr) would stop on;
- a refused edit of one existing instance leaves every instance's files as they were, even the
  ones whose edit was valid;
- a run that fails after it wrote some instances' files still reloads those instances; a reload that did
  not happen (refused, or the run killed) is made by the next run, though every file is in sync;
- a file the run would write through a symbolic link is refused when the run is planned, in
  check mode too, before any other part of the design is applied;
- ``gathered`` reads back a design that, given again, changes nothing; ``replaced`` and
  ``overridden`` remove what is not declared (parameters; instances, deported with their files).
"""

from __future__ import annotations

import json
import os
import socket

import labhost
import pytest

MODULE = "mailops.postfix_multi.postfix_multi_host"


def design(host: labhost.BootedHost, hostname: str = "out") -> dict:
    return labhost.readme_design(host, hostname)


def listing(host: labhost.Host) -> list[str]:
    return [line.split()[0] for line in host.run("postmulti", "-l").stdout.splitlines()]


def running(host: labhost.Host, directory: str) -> bool:
    return host.run("postfix", "-c", directory, "status", check=False).returncode == 0


def banner(host: labhost.Host, address: str, port: int = 25) -> str:
    with socket.create_connection((address, port), timeout=10) as sock:
        return sock.recv(512).decode(errors="replace")


def sequence(host: labhost.BootedHost, args: dict) -> list[dict]:
    return host.sequence(MODULE, module_args=args)


def test_whole_design_check_apply_check_apply(new_booted):
    host = new_booted("mhost")
    args = {**design(host), "probe": True, "probe_timeout": 60}
    first, second, third, fourth = sequence(host, args)

    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True
    assert set(first["started"]) >= {"postfix-out", "postfix-null"}, first["started"]
    assert first["health"] is None  # not probed in check mode while the host would change
    diffs = {d["after_header"] for d in first["diff"]}
    assert "/etc/postfix/main.cf" in diffs, diffs

    assert second.get("failed") is not True, second.get("msg")
    assert second["changed"] is True
    assert second["health"]["passed"] is True, second["health"]["failures"]
    assert set(second["started"]) >= {"postfix-out", "postfix-null"}

    for step in (third, fourth):
        assert step.get("failed") is not True, step.get("msg")
        assert step["changed"] is False, step["drift"]
        assert step["in_sync"] is True
    assert fourth["health"]["passed"] is True

    # the host itself: registered, enabled and running, in declared order, listening where declared
    assert listing(host) == ["-", "postfix-out", "postfix-null"]
    for directory in ("/etc/postfix", "/etc/postfix-out", "/etc/postfix-null"):
        assert running(host, directory), directory
    assert banner(host, host.addresses[1]).startswith(f"220 out.{host.name}.lab.example")
    # Debian's generator enables the units of enabled instances at run time ("enabled-runtime")
    assert host.run("systemctl", "is-enabled", "postfix@postfix-out", check=False).stdout.strip().startswith("enabled")

    # the module's payload, built by Ansible in that run, is kept for the next ansible-playbook run (the action
    # plugin, plugins/plugin_utils/_payload.py), privately, beside the runs' local temporary directories
    store = host.workdir / "ansible" / "ansible-home" / "tmp" / "mailops.postfix_multi-ansiballz"
    [key] = store.iterdir()
    assert [path.name.split("-")[0] for path in key.iterdir()] == ["ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host"]
    assert store.stat().st_mode & 0o777 == 0o700
    # on the host, the code the payload made Python compile is kept for the next calls (_zipload.py), in
    # the cache directory of the user the module ran as, privately, one file per module of the collection
    [kept] = host.path("/root/.cache/mailops.postfix_multi").iterdir()
    assert kept.name == "cpython-" + host.run("python3", "-c", "import sys; print(*sys.version_info[:2], sep='')").stdout.strip()
    files = {path.name: path.stat() for path in kept.iterdir()}
    assert f"ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge.{'0' * 32}"[:-32] in {name[:-32] for name in files}
    assert kept.stat().st_mode & 0o777 == 0o700 and {st.st_mode & 0o777 for st in files.values()} == {0o600}
    again = host.module(MODULE, module_args=args)  # a new run, from the kept payload
    assert again["changed"] is False and again["health"]["passed"] is True, again
    assert list(store.iterdir()) == [key]
    # ... and that run used it: nothing compiled again, nothing written
    assert {path.name: path.stat().st_mtime_ns for path in kept.iterdir()} == {name: st.st_mtime_ns for name, st in files.items()}


def test_check_mode_on_fresh_host_validates_new_instances(new_booted):
    host = new_booted("mhbad")
    # check mode writes nothing on the host, not even the modules' compiled code (_zipload.py)
    preview = host.module(MODULE, check=True, module_args=design(host))
    assert preview.get("failed") is not True and preview["changed"] is True, preview.get("msg")
    assert not host.path("/root/.cache/mailops.postfix_multi").exists()
    bad = design(host)
    bad["instances"][0]["parameters"]["inet_interfaces"] = "127.0.77.99"  # not an address of this host

    checked = host.module(MODULE, check=True, module_args=bad)
    assert checked.get("failed") is True
    assert "no local interface found for 127.0.77.99" in checked["msg"], checked["msg"]
    assert listing(host) == ["-"]
    assert not host.path("/etc/postfix-out").exists()

    applied = host.module(MODULE, module_args=bad)
    assert applied.get("failed") is True
    assert "no local interface found for 127.0.77.99" in applied["msg"], applied["msg"]
    assert "postfix-out" not in listing(host)
    assert not running(host, "/etc/postfix-out")

    # a value that only smtpd(8) reads: postfix check accepts it, smtpd would stop at its first
    # connection, after the instance was enabled and started. Refused in check mode and for real.
    late = design(host)
    late["instances"][0]["parameters"]["smtpd_recipient_limit"] = "abc"
    late["instances"][1]["parameters"]["maximal_queue_lifetime"] = "200"  # days; qmgr allows at most 100
    for check in (True, False):
        refused = host.module(MODULE, check=check, module_args=late)
        assert refused.get("failed") is True and refused.get("stage") == "validate", refused
        assert "bad numerical configuration: smtpd_recipient_limit = abc" in refused["msg"], refused["msg"]
        assert "invalid maximal_queue_lifetime: 17280000 (max 8640000)" in refused["msg"], refused["msg"]
        assert listing(host) == ["-"]
        assert not host.path("/etc/postfix-out").exists() and not host.path("/etc/postfix-null").exists()
    host.run(
        "sh",
        "-c",
        "mkdir /tmp/late /tmp/late-queue && cp /etc/postfix/main.cf /etc/postfix/master.cf /tmp/late/"
        " && postconf -c /tmp/late -e 'smtpd_recipient_limit = abc' 'queue_directory = /tmp/late-queue' 'data_directory = /tmp/late-data'"
        " && touch -d '-20 sec' /tmp/late/main.cf /tmp/late/master.cf",
    )
    assert host.run("postfix", "-c", "/tmp/late", "check", check=False).returncode == 0  # Postfix's own check lets it pass

    fixed = host.module(MODULE, module_args=design(host))
    assert fixed.get("failed") is not True, fixed.get("msg")
    assert fixed["changed"] is True
    assert listing(host) == ["-", "postfix-out", "postfix-null"]
    assert running(host, "/etc/postfix-out")
    again = host.module(MODULE, module_args=design(host))
    assert again["changed"] is False, again["drift"]


def test_a_new_instance_whose_start_fails_keeps_its_integrity_check(new_booted):
    """New instances start with Postfix's quick-start marker (checked and set up by the same run);
    one whose start never reached ``postfix start`` must not keep it for a later start."""
    host = new_booted("mhquick")
    refused = design(host)
    # Debian's postfix@ unit (configure-instance.sh, before postfix start) refuses this origin
    refused["instances"][0]["parameters"]["myorigin"] = "debian.org"
    failed = host.module(MODULE, module_args=refused)
    assert failed.get("failed") is True, failed
    assert "postfix-out" in failed["msg"], failed["msg"]
    assert "Invalid $myorigin (debian.org), refusing to start" in failed["msg"], failed["msg"]  # the unit's own reason
    # the host was changed before the start failed: the failed task says so, and what it had done
    assert failed["changed"] is True, failed
    assert any(line.startswith("created postfix-out in /etc/postfix-out") for line in failed["done"]), failed["done"]
    assert failed["started"] == ["postfix-null"], failed
    assert not host.path("/var/spool/postfix-out/quick-start").exists()
    # the other new instance started; postfix start took its marker
    assert running(host, "/etc/postfix-null")
    assert not host.path("/var/spool/postfix-null/quick-start").exists()
    assert not running(host, "/etc/postfix-out")

    fixed = design(host)
    fixed["instances"][0]["absent_parameters"].append("myorigin")
    again = host.module(MODULE, module_args=fixed)
    assert again.get("failed") is not True, again.get("msg")
    assert "postfix-out" in again["started"]
    assert running(host, "/etc/postfix-out")
    assert not host.path("/var/spool/postfix-out/quick-start").exists()


def test_refused_edit_changes_no_instance(new_booted):
    host = new_booted("mhedit")
    assert host.module(MODULE, module_args=design(host))["changed"] is True
    before = {path: host.read(path) for path in ("/etc/postfix-out/main.cf", "/etc/postfix-null/main.cf", "/etc/postfix/main.cf")}

    broken = design(host, hostname="renamed")
    broken["instances"][1]["parameters"]["default_process_limit"] = "many"  # postconf: bad numerical configuration
    result = host.module(MODULE, module_args=broken)
    assert result.get("failed") is True
    assert "postfix-null" in result["msg"] and "default_process_limit" in result["msg"], result["msg"]
    after = {path: host.read(path) for path in before}
    assert after == before  # postfix-out's valid rename was not written either

    renamed = host.module(MODULE, module_args={**design(host, hostname="renamed"), "probe": True})
    assert renamed["changed"] is True
    assert renamed["reloaded"] == ["postfix-out"] or renamed["restarted"] == ["postfix-out"], renamed
    assert banner(host, host.addresses[1]).startswith(f"220 renamed.{host.name}.lab.example")


def test_the_preflight_names_every_broken_instance_and_wins_over_a_refused_value(new_booted):
    """The operator broke two instances of a converged host by hand (postconf takes the value,
    postfix check refuses it) and then runs a design that renames the primary's instances and
    gives a value Postfix refuses as well. The run fails at its pre-flight, which checks every
    instance and names each broken one with Postfix's reason, not at the refused value; nothing
    is written. Once the instances are repaired, the same design without the bad value converges."""
    host = new_booted("mhpre")
    converged = host.module(MODULE, module_args={**design(host), "start": False})
    assert converged.get("failed") is not True, converged.get("msg")
    for directory in ("/etc/postfix-out", "/etc/postfix-null"):
        host.run("postconf", "-c", directory, "-e", "default_process_limit = many")
    files = ("/etc/postfix/main.cf", "/etc/postfix-out/main.cf", "/etc/postfix-null/main.cf")
    before = {path: host.read(path) for path in files}

    bad = {**design(host, hostname="renamed"), "start": False}
    bad["instances"][0]["parameters"]["smtpd_recipient_limit"] = "abc"  # refused when the edits are validated
    failed = host.module(MODULE, module_args=bad)
    assert failed.get("failed") is True and failed.get("stage") == "preflight", failed
    assert failed["msg"].startswith("pre-flight: postfix check fails"), failed["msg"]
    for name in ("postfix-out", "postfix-null"):
        assert f"check of {name} failed" in failed["msg"], failed["msg"]
    assert "default_process_limit" in failed["msg"] and "smtpd_recipient_limit" not in failed["msg"], failed["msg"]
    assert failed.get("changed") is not True
    assert {path: host.read(path) for path in files} == before

    for directory in ("/etc/postfix-out", "/etc/postfix-null"):
        host.run("postconf", "-c", directory, "-X", "default_process_limit")
    bad["instances"][0]["parameters"].pop("smtpd_recipient_limit")
    fixed = host.module(MODULE, module_args=bad)
    assert fixed.get("failed") is not True, fixed.get("msg")
    assert "myhostname = renamed." in host.read("/etc/postfix-out/main.cf")


def test_a_linked_file_is_refused_before_anything_is_done(new_booted):
    """An operator keeps postfix-null's main.cf in another place and links it into the instance.
    The module does not write through links; it must say so when the run is planned (in check
    mode too), not after it has created the new instance the same design declares."""
    host = new_booted("mhlink")
    assert host.module(MODULE, module_args=design(host))["changed"] is True
    host.run("sh", "-c", "mv /etc/postfix-null/main.cf /srv/null-main.cf && ln -s /srv/null-main.cf /etc/postfix-null/main.cf")
    kept = host.read("/srv/null-main.cf")
    wanted = design(host)
    wanted["instances"][1]["parameters"]["myhostname"] = f"null2.{host.name}.lab.example"  # a write to the linked file
    wanted["instances"].append({"name": "postfix-extra", "group": "mta", "parameters": {"inet_interfaces": host.addresses[2]}})
    for check in (True, False):
        result = host.module(MODULE, check=check, module_args=wanted)
        assert result.get("failed") is True, result
        assert result["changed"] is False and "done" not in result, result
        assert "/etc/postfix-null/main.cf is a symbolic link" in result["msg"], result["msg"]
        assert "postfix-extra" not in listing(host)
        assert host.run("test", "-e", "/etc/postfix-extra", check=False).returncode == 1
        assert host.read("/srv/null-main.cf") == kept
        assert host.run("test", "-L", "/etc/postfix-null/main.cf", check=False).returncode == 0
        single = host.module("mailops.postfix_multi.postfix_config", check=check, instance="postfix-null", parameters={"myhostname": "x.lab.example"})
        assert single.get("failed") is True and single["changed"] is False and "symbolic link" in single["msg"], single
        assert host.read("/srv/null-main.cf") == kept

    host.run("sh", "-c", "rm /etc/postfix-null/main.cf && mv /srv/null-main.cf /etc/postfix-null/main.cf")
    assert host.module(MODULE, module_args=wanted)["changed"] is True
    assert "postfix-extra" in listing(host)


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"queue_directory": "/var/spool/pfx-same"}, "queue_directory=/var/spool/pfx-same conflicts with instance /etc/postfix-c"),
        ({"queue_directory": "/var/spool/pfx-same/sub"}, "lies inside instance /etc/postfix-c's queue_directory"),
        ({"queue_directory": "/etc/postfix-c"}, "conflicts with instance /etc/postfix-c, config_directory=/etc/postfix-c"),
    ],
)
def test_new_instances_that_clash_with_each_other_fail_before_anything_is_written(host, second, why):
    """Two new instances of one design, each fine on the host as it is, that postmulti would not let
    both exist: refused in check mode and when applied, before the first is created (a chroot host)."""
    before = host.state()
    design = {"instances": [{"name": "postfix-c", "queue_directory": "/var/spool/pfx-same"}, {"name": "postfix-d", **second}]}
    for check in (True, False):
        result = host.module(MODULE, check=check, module_args=design)
        assert result.get("failed") is True and result["changed"] is False, result
        assert why in result["msg"] and "both are new in this design" in result["msg"], result["msg"]
        assert host.state() == before
        assert not host.path("/etc/postfix-c").exists() and not host.path("/var/spool/pfx-same").exists()
    design["instances"][1].pop("queue_directory")
    assert host.module(MODULE, module_args=design)["changed"] is True
    assert listing(host) == ["-", "postfix-c", "postfix-d"]


def test_a_run_that_fails_half_way_still_reloads_what_it_wrote(new_booted):
    """The files of postfix-out are written (a new master.cf service and a parameter), then the write
    of postfix-null's main.cf fails (a directory where Postfix's edit lock file goes). postfix-out must
    be reloaded all the same: a rerun finds its files in sync and would never reload it, so the new
    service would never listen."""
    host = new_booted("mhhalf")
    assert host.module(MODULE, module_args=design(host))["changed"] is True
    wanted = design(host)
    wanted["instances"][0]["parameters"]["smtpd_banner"] = "$myhostname ESMTP half-way"
    wanted["instances"][0]["master"] = [{"service": f"{host.addresses[1]}:2526", "type": "inet", "private": False, "command": "smtpd"}]
    wanted["instances"][1]["parameters"]["myhostname"] = f"null2.{host.name}.lab.example"
    host.run("mkdir", "/etc/postfix-null/main.cf.tmp")

    failed = host.module(MODULE, module_args=wanted)
    assert failed.get("failed") is True and "/etc/postfix-null/main.cf" in failed["msg"], failed
    assert failed["changed"] is True and failed["reloaded"] + failed["restarted"] == ["postfix-out"], failed
    assert failed["done"] == ["changed postfix-out: smtpd_banner, master.cf 127.0.0.1:2526/inet".replace("127.0.0.1", host.addresses[1])], failed
    assert banner(host, host.addresses[1], 2526).startswith(f"220 out.{host.name}.lab.example ESMTP half-way")
    assert "null2" not in host.read("/etc/postfix-null/main.cf")

    host.run("rmdir", "/etc/postfix-null/main.cf.tmp")
    rerun = host.module(MODULE, module_args={**wanted, "probe": True})
    assert rerun["changed"] is True and rerun["reloaded"] == ["postfix-null"] and rerun["health"]["passed"] is True, rerun
    assert host.module(MODULE, module_args=wanted)["changed"] is False


def test_a_successful_status_is_remembered_only_while_main_cf_stays(new_booted):
    """The primary's main.cf edited after its master started (as postmulti -e create registers instances): the
    health gate runs postfix status once, remembers what it read in the data directory, and tells the same
    from the master's lock afterwards - not once main.cf changes, and never in check mode."""
    host = new_booted("mhstat")
    args = {**design(host), "probe": True, "probe_timeout": 60}
    assert host.module(MODULE, module_args=args)["changed"] is True
    stamp = "/var/lib/postfix/postfix_multi-status-ok"
    host.run("rm", "-f", stamp)
    host.run("touch", "/etc/postfix/main.cf")  # newer than the primary's master.pid

    looked = host.module(MODULE, check=True, module_args=args)
    assert looked["changed"] is False and looked["health"]["passed"] is True, looked
    assert host.run("test", "-e", stamp, check=False).returncode != 0  # check mode leaves nothing
    gated = host.module(MODULE, module_args=args)
    assert gated["changed"] is False and gated["health"]["passed"] is True, gated
    assert host.run("stat", "-c", "%U %a", stamp).stdout.split() == ["postfix", "600"]
    assert host.run("postfix", "check").stdout == ""  # nothing in the data directory it does not want there

    # told from the lock: without a postfix program to run, the gate still passes
    host.run("chmod", "a-x", "/usr/sbin/postfix")
    try:
        told = host.module(MODULE, module_args=args)
    finally:
        host.run("chmod", "a+x", "/usr/sbin/postfix")
    assert told["changed"] is False and told["health"]["passed"] is True, told

    # main.cf changed: postfix status again, and what it says now (the running master keeps what it read)
    host.run("postconf", "-e", "inet_protocols = bogus")
    broken = host.module(MODULE, module_args=args)
    assert broken.get("failed") is True and broken["stage"] == "health", broken
    assert "/etc/postfix status says: " in broken["msg"] and "inet_protocols" in broken["msg"], broken["msg"]


# Not Debian 13: there the reload of postfix-out succeeded with postmulti not executable and with its
# unit masked (tried), so neither fault stops it; test_other_releases covers the marker's round trip on it
@pytest.mark.parametrize("release", [None, "bullseye"])
def test_a_reload_that_did_not_happen_is_made_by_the_next_run(new_booted, release):
    """postfix-out's main.cf is written, then its reload fails (the postmulti that the unit's
    ExecReload runs cannot be executed for the moment). Its file is now in sync with the design, but what runs is not: the next run must
    reload it, though no file differs, and the run after that is in sync (Postfix 3.7, and 3.5 on
    Debian 11: the marker's owner keeps postfix check quiet)."""
    host = new_booted("mhpend", release=release)
    assert host.module(MODULE, module_args=design(host))["changed"] is True
    wanted = design(host)
    wanted["instances"][0]["parameters"]["smtpd_banner"] = "$myhostname ESMTP pending"
    host.run("chmod", "a-x", "/usr/sbin/postmulti")
    try:
        refused = host.module(MODULE, module_args=wanted)
    finally:
        host.run("chmod", "755", "/usr/sbin/postmulti")
    assert refused.get("failed") is True and "postfix-out" in refused["msg"], refused
    assert refused["done"] == ["changed postfix-out: smtpd_banner"] and refused["reloaded"] == [], refused

    checked = host.module(MODULE, check=True, module_args=wanted)
    assert checked["changed"] is True and checked["drift"] == ["reload postfix-out: an earlier run changed its files and did not get to reload it"]
    rerun = host.module(MODULE, module_args=wanted)
    assert rerun["changed"] is True and rerun["reloaded"] == ["postfix-out"], rerun
    assert host.module(MODULE, module_args=wanted)["changed"] is False
    assert host.run("ls", "/var/lib/postfix-out").stdout.split() == ["master.lock"]  # the marker is gone
    check = host.run("postfix", "-c", "/etc/postfix-out", "check", check=False)
    assert check.returncode == 0 and "warning" not in check.stdout + check.stderr


def test_a_flat_table_whose_reload_did_not_happen_is_reloaded_by_the_next_run(new_booted):
    """A regexp table of the running postfix-out is rebuilt, then its reload fails (postmulti cannot be
    executed for the moment). smtpd(8) keeps what it read when it started: the next run must reload
    the instance, though the table is now as declared, and the run after that is in sync."""
    host = new_booted("mhmap")

    def wanted(rule: str) -> dict:
        args = design(host)
        args["instances"][0]["maps"] = [{"name": "helo_checks", "type": "regexp", "entries": [{"key": "/^localhost$/", "value": rule}]}]
        return args

    assert host.module(MODULE, module_args=wanted("REJECT old"))["changed"] is True
    host.run("chmod", "a-x", "/usr/sbin/postmulti")
    try:
        refused = host.module(MODULE, module_args=wanted("REJECT new"))
    finally:
        host.run("chmod", "755", "/usr/sbin/postmulti")
    assert refused.get("failed") is True and "postfix-out" in refused["msg"], refused
    assert refused["reloaded"] == [] and "REJECT new" in host.read("/etc/postfix-out/helo_checks"), refused

    checked = host.module(MODULE, check=True, module_args=wanted("REJECT new"))
    assert checked["changed"] is True and checked["drift"] == ["reload postfix-out: an earlier run changed its files and did not get to reload it"], checked
    rerun = host.module(MODULE, module_args=wanted("REJECT new"))
    assert rerun["changed"] is True and rerun["reloaded"] == ["postfix-out"], rerun
    assert host.module(MODULE, module_args=wanted("REJECT new"))["changed"] is False
    assert host.run("ls", "/var/lib/postfix-out").stdout.split() == ["master.lock"]  # the marker is gone


def test_gathered_replaced_overridden(new_booted):
    host = new_booted("mhgath")
    assert host.module(MODULE, module_args=design(host))["changed"] is True
    host.run("postconf", "-c", "/etc/postfix-null", "-e", "delay_warning_time = 4h")

    gathered = host.module(MODULE, state="gathered")["gathered"]
    names = [inst["name"] for inst in gathered["instances"]]
    assert names == ["postfix-out", "postfix-null"]
    null = gathered["instances"][1]
    assert null["parameters"]["delay_warning_time"] == "4h"
    assert any(entry["service"] == "pickup" for entry in null["master"])
    again = host.module(MODULE, module_args={"instances": gathered["instances"], "primary_parameters": gathered["primary_parameters"]})
    assert again.get("failed") is not True, again.get("msg")
    assert again["changed"] is False, again["drift"]

    replaced = host.module(MODULE, module_args={**design(host), "state": "replaced"})
    assert replaced["changed"] is True, json.dumps(replaced)[:3000]
    assert "delay_warning_time" not in host.read("/etc/postfix-null/main.cf")
    assert "delay_warning_time" in replaced["instances"]["postfix-null"]["changed_parameters"]

    only_out = design(host)
    only_out["instances"] = only_out["instances"][:1]
    overridden = host.module(MODULE, module_args={**only_out, "state": "overridden"})
    assert overridden["changed"] is True
    assert listing(host) == ["-", "postfix-out"]
    assert host.path("/etc/postfix-null/main.cf").exists()  # deported: files kept
    assert not running(host, "/etc/postfix-null")
    assert host.module(MODULE, module_args={**only_out, "state": "overridden"})["changed"] is False


@pytest.mark.parametrize("release", ["bullseye", "trixie"])
def test_other_releases(new_booted, release):
    """The same converge on Postfix 3.5 (Python 3.9) and 3.10 (Python 3.13)."""
    host = new_booted("mhrel", release=release)
    first = host.module(MODULE, module_args={**design(host), "probe": True, "probe_timeout": 60})
    assert first.get("failed") is not True, json.dumps(first)[:2000]
    assert first["health"]["passed"] is True
    # started through Postfix's quick-start marker, which postfix start of this release took
    for queue in ("/var/spool/postfix-out", "/var/spool/postfix-null"):
        assert host.path(queue).is_dir() and not host.path(f"{queue}/quick-start").exists(), queue
    assert host.module(MODULE, module_args=design(host))["changed"] is False


# --------------------------------------------------------------------------- bytes that are not UTF-8, the primary's record


def _raw(host: labhost.Host, *argv: str) -> bytes:
    """What a command in the host prints, as bytes (Latin-1 values are not text to decode)."""
    import subprocess  # pylint: disable=import-outside-toplevel

    return subprocess.run(["chroot", str(host.root), *argv], env=labhost.lab.chroot_env(None), capture_output=True, check=True, timeout=120).stdout


def _postfix_view(host: labhost.Host) -> dict[str, bytes]:
    """The files and what Postfix reads from them (postconf -n, -M), as bytes, of the primary and postfix-l."""
    out = {}
    for directory in ("/etc/postfix", "/etc/postfix-l"):
        for name in ("main.cf", "master.cf"):
            out[f"{directory}/{name}"] = host.path(f"{directory}/{name}").read_bytes()
        out[f"{directory} -n"] = _raw(host, "postconf", "-c", directory, "-n")
        out[f"{directory} -M"] = _raw(host, "postconf", "-c", directory, "-M")
    return out


def test_gathered_latin1_round_trip(new_host):
    """A main.cf value and a master.cf entry with an ISO-8859-1 byte: ``gathered`` returns a design (the byte
    as U+FFFD, named in the warnings), and that design given back (check, apply, drift_info) changes
    nothing: not a byte of the files, nor what postconf reads from them."""
    host = new_host("mhlatin1")
    host.run("postmulti", "-e", "init")
    host.run("postmulti", "-I", "postfix-l", "-e", "create")
    for directory in ("/etc/postfix", "/etc/postfix-l"):
        main = host.path(f"{directory}/main.cf")
        main.write_bytes(main.read_bytes() + b"# Banner f\xfcr die Gesch\xe4ftsstelle\nsmtpd_banner = $myhostname ESMTP M\xfcller GmbH\n")
    master = host.path("/etc/postfix-l/master.cf")
    master.write_bytes(
        master.read_bytes()
        + b"submission inet n       -       y       -       -       smtpd\n"
        + b"  -o syslog_name=postfix/submission\n"
        + b"  -o { smtpd_reject_footer = Fragen an den Postmaster (M\xfcller) }\n"
    )
    host.run("touch", "-d", "-1 min", "/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/postfix-l/main.cf", "/etc/postfix-l/master.cf")
    host.run("postfix", "-c", "/etc/postfix-l", "check")
    before = _postfix_view(host)

    result = host.module(MODULE, state="gathered")
    assert result.get("failed") is not True, result.get("msg")
    gathered = result["gathered"]
    assert gathered["primary_parameters"]["smtpd_banner"] == "$myhostname ESMTP M\ufffdller GmbH"
    (inst,) = gathered["instances"]
    assert inst["parameters"]["smtpd_banner"] == "$myhostname ESMTP M\ufffdller GmbH"
    (submission,) = [item for item in inst["master"] if item["service"] == "submission"]
    assert "(M\ufffdller)" in submission["command"]
    warned = "\n".join(result.get("warnings") or [])
    assert "postfix-l: master.cf submission/inet holds bytes that are not UTF-8" in warned, result.get("warnings")
    assert "the primary instance: main.cf smtpd_banner holds bytes that are not UTF-8" in warned

    args = {"instances": gathered["instances"], "primary_parameters": gathered["primary_parameters"], "start": False}
    drift = host.module("mailops.postfix_multi.postfix_drift_info", module_args=args)
    assert drift["in_sync"] is True, drift["summary"]
    for state in ("merged", "replaced", "overridden"):
        for check in (True, False):
            step = host.module(MODULE, check=check, module_args={**args, "state": state})
            assert step.get("failed") is not True, step.get("msg")
            assert step["changed"] is False, (state, check, step["drift"])
            assert step["in_sync"] is True
    assert _postfix_view(host) == before

    # a real change is still written, and leaves the other Latin-1 bytes as they were
    changed = host.module(MODULE, module_args={**args, "primary_parameters": {**gathered["primary_parameters"], "delay_warning_time": "4h"}})
    assert changed["changed"] is True and changed["instances"]["-"]["changed_parameters"] == ["delay_warning_time"], changed
    after = host.path("/etc/postfix/main.cf").read_bytes()
    assert after.count(b"M\xfcller GmbH") == 1 and b"\xef\xbf\xbd" not in after


def test_the_primary_is_one_record_in_the_result(new_host):
    """A changed parameter of the running primary: one record, ``-``, with its change and its reload."""
    host = new_host("mhprimary")
    host.run("postconf", "-e", "master_service_disable = inet")  # runs without listening
    host.run("touch", "-d", "-1 min", "/etc/postfix/main.cf")
    host.run("postfix", "start")
    result = host.module(MODULE, module_args={"primary_parameters": {"message_size_limit": "20480000", "master_service_disable": "inet"}})
    assert result.get("failed") is not True, result.get("msg")
    assert list(result["instances"]) == ["-"], result["instances"]
    record = result["instances"]["-"]
    assert record["changed_parameters"] == ["message_size_limit"] and record["reloaded"] is True, record
    assert result["reloaded"] == ["-"]
    host.run("postfix", "stop")


def test_gathered_leaves_a_nameless_instance_alone_and_holds_a_duplicate_entry_once(new_host):
    """postmulti(1) makes nameless instances (postmulti -I - -e create) that a design cannot declare:
    gathered leaves them out, says so, and no state touches them (overridden does not deport them).
    master.cf may list an entry twice (postfix check accepts it; master(8) uses the last one): the
    design holds the last, which given back becomes the only one, as postconf -M makes it."""
    host = new_host("mhnameless")
    host.run("postmulti", "-e", "init")
    host.run("postmulti", "-I", "postfix-a", "-e", "create")
    host.run(
        "postmulti",
        "-I",
        "-",
        "-e",
        "create",
        "config_directory=/etc/postfix-anon",
        "queue_directory=/var/spool/postfix-anon",
        "data_directory=/var/lib/postfix-anon",
    )
    master = host.path("/etc/postfix-a/master.cf")
    twice = "amavis unix - - - - 2 smtp\n  -o smtp_data_done_timeout=1200\namavis unix - - - - 4 smtp\n  -o smtp_data_done_timeout=600\n"
    master.write_text(master.read_text() + twice)
    host.run("touch", "-d", "-1 min", "/etc/postfix/main.cf", "/etc/postfix-a/master.cf")
    listed = host.run("postmulti", "-l").stdout

    result = host.module(MODULE, state="gathered")
    assert result.get("failed") is not True, result.get("msg")
    gathered = result["gathered"]
    assert [inst["name"] for inst in gathered["instances"]] == ["postfix-a"]
    (amavis,) = [item for item in gathered["instances"][0]["master"] if item["service"] == "amavis"]
    assert (amavis["maxproc"], amavis["command"]) == ("4", "smtp -o smtp_data_done_timeout=600")  # master(8)'s choice
    warned = "\n".join(result.get("warnings") or [])
    assert "/etc/postfix-anon: a nameless instance" in warned and "lists amavis/unix more than once" in warned, warned

    args = {"instances": gathered["instances"], "primary_parameters": gathered["primary_parameters"], "start": False}
    first = host.module(MODULE, module_args={**args, "state": "overridden"})
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True and "/etc/postfix-anon" not in json.dumps(first["actions"]), first["actions"]
    only = host.run("postconf", "-c", "/etc/postfix-a", "-M", "amavis/unix").stdout
    assert only.split() == ["amavis", "unix", "-", "-", "-", "-", "4", "smtp", "-o", "smtp_data_done_timeout=600"], only
    for state in ("merged", "replaced", "overridden"):
        step = host.module(MODULE, module_args={**args, "state": state})
        assert step.get("failed") is not True and step["changed"] is False, (state, step.get("msg"), step.get("drift"))
    assert host.run("postmulti", "-l").stdout == listed  # the nameless instance is still listed, as it was


def _primary_diffs(result: dict) -> list[dict]:
    return [d for d in result.get("diff") or [] if d.get("after_header") == "/etc/postfix/main.cf"]


def _boot_lines(result: dict) -> list[str]:
    return [part for part in result["msg"].split("; ") if part.startswith("boot: ")]


def _boot_files(host: labhost.Host) -> dict[str, str]:
    units = host.path("/etc/systemd/system")
    return {p.name: os.readlink(p) if p.is_symlink() else "" for p in units.glob("postfix@*")}


def test_check_mode_predicts_what_the_run_does_step_by_step(new_booted):
    """An operator reviews each change with --check --diff before making it, and compares:
    - postfix_instance in check mode on a host that postfix_multi_init has not initialised yet
      (a play's earlier task would) plans, and says what it assumed, instead of failing;
    - three new instances: check mode shows each registration on top of the one before (one
      init, a list that grows), as the real run writes them; the masked unit of the disabled one
      is said;
    - enabling that instance: check mode lists it as started, as the real run starts it;
    - a new log file: check mode validates it without creating it on the host;
    - a destroy refused for mail in the queue: the real run refuses before it stops, disables or
      masks anything, as check mode said;
    - state=overridden: the instance it deports is stopped and disabled, and both main.cf files
      are shown, in check mode and for real."""
    host = new_booted("mhfidel")
    assumed = host.module("mailops.postfix_multi.postfix_instance", check=True, module_args={"name": "postfix-x"})
    assert assumed.get("failed") is not True, assumed.get("msg")
    assert assumed["changed"] is True
    assert any("assumes that it is initialised first" in w for w in assumed.get("warnings") or []), assumed.get("warnings")

    three = design(host)
    three["instances"].append({"name": "postfix-dis", "enabled": False, "parameters": {"myhostname": f"dis.{host.name}.lab.example"}})
    predicted = host.module(MODULE, check=True, module_args=three)
    made = host.module(MODULE, module_args=three)
    assert made.get("failed") is not True, made.get("msg")
    for result in (predicted, made):
        registrations = [d for d in _primary_diffs(result) if "multi_instance_directories" in d["after"]]
        assert len(registrations) == 3, registrations
        assert [d["before"] for d in registrations[1:]] == [d["after"] for d in registrations[:-1]]
        assert "multi_instance_directories = /etc/postfix-out /etc/postfix-null /etc/postfix-dis" in registrations[-1]["after"]
        assert sum("multi_instance_wrapper" not in d["before"] and "multi_instance_wrapper" in d["after"] for d in _primary_diffs(result)) == 1
    assert "multi_instance_directories = /etc/postfix-out /etc/postfix-null /etc/postfix-dis" in host.read("/etc/postfix/main.cf")
    # what starts at boot (Debian 12 masks the disabled instance's unit; Debian 13 enables the others' units) is said,
    # in check mode as the real run does it
    assert _boot_lines(predicted) == _boot_lines(made) != [], (predicted["msg"], made["msg"])
    if _boot_files(host):  # packaging whose generator starts every listed instance: the disabled one is masked
        assert _boot_files(host) == {"postfix@postfix-dis.service": "/dev/null"}
        assert "boot: mask postfix@postfix-dis.service" in _boot_lines(made)

    enabled = json.loads(json.dumps(three))
    enabled["instances"][2]["enabled"] = True
    looked = json.loads(json.dumps(enabled))
    looked["instances"][0]["logging"] = {"to": "file", "file": "/var/log/postfix-out-fidelity.log"}
    # without a compatibility_level, postfix check logs Postfix's backwards-compatibility notices: to that file
    looked["instances"][0]["absent_parameters"].append("compatibility_level")
    looked_at = host.module(MODULE, check=True, module_args=looked)
    assert looked_at.get("failed") is not True, looked_at.get("msg")
    assert not host.path("/var/log/postfix-out-fidelity.log").exists()
    predicted = host.module(MODULE, check=True, module_args=enabled)
    assert predicted.get("failed") is not True, predicted.get("msg")
    assert "postfix-dis" in predicted["started"], predicted
    made = host.module(MODULE, module_args=enabled)
    assert made.get("failed") is not True, made.get("msg")
    assert "postfix-dis" in made["started"] and running(host, "/etc/postfix-dis")
    assert _boot_lines(predicted) == _boot_lines(made) != [], (predicted["msg"], made["msg"])

    # one held message in postfix-out (postsuper -h), which a destroy never deletes
    submit = host.run("postconf", "-c", "/etc/postfix-out", "-n", "authorized_submit_users").stdout.strip()
    host.run(
        "sh",
        "-c",
        "postconf -c /etc/postfix-out -e authorized_submit_users=root && echo 'Subject: kept' | sendmail -C /etc/postfix-out -f root someone@example.org"
        " && sleep 2 && postsuper -c /etc/postfix-out -h ALL",
    )
    host.run("sh", "-c", f"postconf -c /etc/postfix-out -e '{submit}'" if submit else "postconf -c /etc/postfix-out -X authorized_submit_users")
    refused = json.loads(json.dumps(enabled))
    refused["instances"][1]["enabled"] = False  # postfix-null: stopped and masked by a run that got that far
    refused["instances"][0]["state"] = "absent"
    before = {path: host.read(path) for path in ("/etc/postfix/main.cf", "/etc/postfix-null/main.cf", "/etc/postfix-out/main.cf")}
    boot = _boot_files(host)
    for check in (True, False):
        result = host.module(MODULE, check=check, module_args=refused)
        assert result.get("failed") is True and "Cannot destroy instance postfix-out" in result["msg"], result
        assert result.get("changed") is not True, result
    assert {path: host.read(path) for path in before} == before
    assert _boot_files(host) == boot
    assert running(host, "/etc/postfix-null") and running(host, "/etc/postfix-out")

    kept = {"state": "overridden", "instances": [enabled["instances"][0], enabled["instances"][2]], "primary_parameters": enabled["primary_parameters"]}
    for check in (True, False):
        result = host.module(MODULE, check=check, module_args=kept)
        assert result.get("failed") is not True, result.get("msg")
        assert "stopped postfix-null" in result["msg"] and "disabled postfix-null" in result["msg"], result["msg"]
        shown = {d["after_header"] for d in result["diff"]}
        assert {"/etc/postfix/main.cf", "/etc/postfix-null/main.cf"} <= shown, shown
    assert not running(host, "/etc/postfix-null")
    assert listing(host) == ["-", "postfix-out", "postfix-dis"]


def test_a_table_that_cannot_be_written_leaves_no_main_cf_naming_it(new_booted):
    """postfix-out's config directory is a small file system that the new lookup table does not fit
    into: the run fails with the reason, and postfix-out's main.cf does not name the table (an
    instance whose main.cf names a missing table defers all its mail). With room, the same design
    converges."""
    host = new_booted("mhfull")
    converged = host.module(MODULE, module_args={**design(host), "start": False})
    assert converged.get("failed") is not True, converged.get("msg")
    host.run(
        "sh",
        "-c",
        "cp -a /etc/postfix-out /tmp/out-save && mount -t tmpfs -o size=200k,mode=755 tmpfs /etc/postfix-out && cp -a /tmp/out-save/. /etc/postfix-out/",
    )

    def inside(path: str) -> str:  # the mount is in the host's own mount namespace
        return host.run("cat", path).stdout

    try:
        tabled = {**design(host), "start": False}
        tabled["instances"][0]["parameters"]["transport_maps"] = "hash:/etc/postfix-out/transport"
        lines = "".join(f"d{n}.example.com smtp:[relay{n}.example.net]\n" for n in range(5000))
        tabled["instances"][0]["maps"] = [{"name": "transport", "type": "hash", "content": lines}]
        before = inside("/etc/postfix-out/main.cf")
        failed = host.module(MODULE, module_args=tabled)
        assert failed.get("failed") is True and "No space left on device" in failed["msg"], failed
        assert inside("/etc/postfix-out/main.cf") == before
        host.run("mount", "-o", "remount,size=8m", "/etc/postfix-out")
        done = host.module(MODULE, module_args=tabled)
        assert done.get("failed") is not True, done.get("msg")
        assert "transport_maps = hash:/etc/postfix-out/transport" in inside("/etc/postfix-out/main.cf")
        assert host.run("test", "-s", "/etc/postfix-out/transport.db", check=False).returncode == 0
    finally:
        host.run("umount", "/etc/postfix-out", check=False)


def test_a_create_whose_set_permissions_fails_says_it_changed_the_host(new_booted):
    """The new instance's queue directory is a file system with room for 6 inodes: postfix
    set-permissions fails half-way. The registration is rolled back, the files stay for the next
    run, and the failed task says it changed the host. With room, the next run completes it."""
    host = new_booted("mhinodes")
    args = {**design(host), "start": False}
    first = host.module(MODULE, module_args={**args, "instances": args["instances"][1:]})  # initialised, postfix-null only
    assert first.get("failed") is not True, first.get("msg")
    host.run("sh", "-c", "mkdir -p /var/spool/postfix-out && mount -t tmpfs -o size=1m,nr_inodes=6 tmpfs /var/spool/postfix-out")
    try:
        failed = host.module(MODULE, module_args=args)
        assert failed.get("failed") is True and "set-permissions failed" in failed["msg"], failed
        assert failed["changed"] is True, failed
        assert "postfix-out" not in listing(host)
        assert host.run("test", "-f", "/etc/postfix-out/main.cf", check=False).returncode == 0  # kept for the next run
        host.run("umount", "/var/spool/postfix-out")
        done = host.module(MODULE, module_args=args)
        assert done.get("failed") is not True, done.get("msg")
        assert listing(host) == ["-", "postfix-null", "postfix-out"]
    finally:
        host.run("umount", "/var/spool/postfix-out", check=False)
