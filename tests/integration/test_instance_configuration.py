# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_config and postfix_master on real Postfix instances (issue #3).

One lab clone is prepared per module with this collection's own modules (postfix_multi_init,
postfix_instance): the primary plus two enabled secondaries, postfix-out and postfix-in.
Every test works on a fork of it. Each accepted change runs as ``check mode -> apply ->
check mode -> apply`` (changed true, true, false, false) and is followed by the real
``postfix -c DIR check``; every refused change must leave main.cf and master.cf byte for byte
(and inode for inode) as they were, and validation must never touch a live queue or data
directory. The last test starts the instances on 127.0.0.1-3 and reads their banners.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import time
import typing as t

import labhost
import pytest
import yaml
from ansible_collections.mailops.postfix_multi.plugins.modules import postfix_config, postfix_master
from test_discovery_service import loopback_addresses, play
from test_postfix_instance import CHANGED_TWICE, assert_postfix_accepts

PRIMARY, OUT, IN = "/etc/postfix", "/etc/postfix-out", "/etc/postfix-in"
INSTANCES = (PRIMARY, OUT, IN)
QUEUES = ("/var/spool/postfix", "/var/spool/postfix-out", "/var/spool/postfix-in")
DATA = ("/var/lib/postfix", "/var/lib/postfix-out", "/var/lib/postfix-in")


# ----------------------------------------------------------------------------- helpers
def ok(result: dict) -> dict:
    assert not result.get("failed"), result.get("msg", result)
    return result


def changed(results: list[dict]) -> list[bool]:
    for result in results:
        ok(result)
    return [result["changed"] for result in results]


def postconf_h(host: labhost.Host, directory: str, name: str) -> str:
    """``postconf -c DIR -h -n NAME`` (the configs are aged first: no 1.5 s wait)."""
    age_configs(host)
    return host.run("postconf", "-c", directory, "-h", "-n", name).stdout.rstrip("\n")


def postconf_n(host: labhost.Host, directory: str) -> dict[str, str]:
    age_configs(host)
    out = host.run("postconf", "-c", directory, "-n").stdout
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "") for line in out.splitlines())


def postmulti_shared_parameters(host: labhost.Host) -> dict[str, str]:
    """The installation parameters the real ``postmulti -e create`` copies from the primary into a new
    instance: those of SHARED_PARAMETERS in the host's postmulti-script that the primary's main.cf sets
    (Debian 11 and 12 set readme_directory = no there, Debian 13 none of them)."""
    age_configs(host)
    daemon_directory = host.run("postconf", "-c", PRIMARY, "-h", "daemon_directory").stdout.strip()
    script = host.read(daemon_directory + "/postmulti-script")
    found = re.search(r'^\s*SHARED_PARAMETERS="([^"]*)"', script, re.M)
    assert found, "SHARED_PARAMETERS not found in postmulti-script"
    names = found.group(1).split()
    return {name: value for name, value in postconf_n(host, PRIMARY).items() if name in names}


def age_configs(host: labhost.Host) -> None:
    old = time.time() - 10
    for directory in INSTANCES:
        for name in ("main.cf", "master.cf"):
            with contextlib.suppress(FileNotFoundError):
                os.utime(host.path(f"{directory}/{name}"), (old, old))


def fingerprints(host: labhost.Host) -> dict[str, tuple[str, int, int]]:
    """sha256, inode and mtime of every instance's main.cf and master.cf."""
    out = {}
    for directory in INSTANCES:
        for name in ("main.cf", "master.cf"):
            path = host.path(f"{directory}/{name}")
            info = path.stat()
            out[f"{directory}/{name}"] = (hashlib.sha256(path.read_bytes()).hexdigest(), info.st_ino, info.st_mtime_ns)
    return out


def trees(host: labhost.Host) -> dict[str, tuple[int, int, int, int]]:
    """Every path below the live queue and data directories with mode, owner, group and mtime."""
    out = {}
    for top in QUEUES + DATA:
        root = host.path(top)
        for path in [root, *root.rglob("*")]:
            info = path.lstat()
            out[str(path.relative_to(host.root))] = (info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns)
    return out


def config(**args: t.Any) -> dict:
    return {"mailops.postfix_multi.postfix_config": args}


def master(**args: t.Any) -> dict:
    return {"mailops.postfix_multi.postfix_master": args}


def check_mode(task: dict) -> dict:
    return {**task, "check_mode": True}


# ----------------------------------------------------------------------------- fixtures
def prepare(host: labhost.Host) -> None:
    ok(host.module("postfix_multi_init"))
    ok(host.module("postfix_instance", name="postfix-out", group="mta", enabled=True))
    ok(host.module("postfix_instance", name="postfix-in", group="mta", enabled=True))
    age_configs(host)


@pytest.fixture(scope="module")
def prepared(lab_base, tmp_path_factory):  # lab_base: builds the base root first
    template = labhost.new_host("cfgtmpl", tmp_path_factory.mktemp("configuration"))
    try:
        prepare(template)
        yield template
    finally:
        labhost.destroy_host(template)


@pytest.fixture
def mx(prepared, new_host) -> labhost.Host:
    return new_host("cfg", source=prepared)


# ----------------------------------------------------------------------------- postfix_config
def test_set_change_remove_exclusive(mx):
    before_list = mx.run("postmulti", "-l").stdout
    wanted = {
        "myhostname": "out.example",
        "mydestination": ["$myhostname", "localhost"],
        "smtpd_banner": "$myhostname ESMTP out",
        "smtputf8_enable": False,
        "default_process_limit": 50,
        "mynetworks": ["127.0.0.0/8", "[::1]/128"],
    }
    results = mx.sequence("postfix_config", instance="out", parameters=wanted)
    assert changed(results) == CHANGED_TWICE
    check, apply = results[0], results[1]
    assert (
        check["parameters"]
        == apply["parameters"]
        == {
            "myhostname": "out.example",
            "mydestination": "$myhostname, localhost",
            "smtpd_banner": "$myhostname ESMTP out",
            "smtputf8_enable": "no",
            "default_process_limit": "50",
            "mynetworks": "127.0.0.0/8, [::1]/128",
        }
    )
    assert check["diff"] == apply["diff"] and check["diff"]["after"] == mx.read(f"{OUT}/main.cf")
    assert apply["restart_required"] is False and apply["instance"]["name"] == "postfix-out"
    assert sorted(apply["changed_parameters"]) == sorted(wanted)
    for name, value in apply["parameters"].items():
        assert postconf_h(mx, OUT, name) == value
    assert_postfix_accepts(mx, [OUT])

    # a change of a listener parameter needs a restart
    results = mx.sequence("postfix_config", instance="postfix-out", parameters={"default_process_limit": 60, "inet_interfaces": "127.0.0.1"})
    assert changed(results) == CHANGED_TWICE
    assert [r["restart_required"] for r in results] == [True, True, False, False]
    assert postconf_h(mx, OUT, "default_process_limit") == "60"
    assert_postfix_accepts(mx, [OUT])

    # the same values written differently by hand are left alone
    main_cf = mx.path(f"{OUT}/main.cf")
    text = main_cf.read_text()
    text = text.replace("mydestination = $myhostname, localhost\n", "mydestination = $myhostname,\n    localhost\n# note\n")
    text = text.replace("smtpd_banner = $myhostname ESMTP out\n", "smtpd_banner=$myhostname   ESMTP\tout  \n")
    main_cf.write_text(text)
    stamp = fingerprints(mx)
    same = mx.sequence("postfix_config", instance="out", parameters={**wanted, "default_process_limit": "60"})
    assert changed(same) == [False] * 4
    assert fingerprints(mx) == stamp

    # removal
    results = mx.sequence("postfix_config", instance=OUT, absent=["smtputf8_enable", "mynetworks", "not_set_at_all"])
    assert changed(results) == CHANGED_TWICE
    assert results[1]["parameters"] == {"smtputf8_enable": None, "mynetworks": None, "not_set_at_all": None}
    shown = postconf_n(mx, OUT)
    assert "smtputf8_enable" not in shown and "mynetworks" not in shown
    assert "mydestination = $myhostname,\n    localhost\n# note\n" in mx.read(f"{OUT}/main.cf")  # untouched neighbours
    assert_postfix_accepts(mx, [OUT])

    # exclusive: everything not listed goes, except what defines the instance
    keep = {"myhostname": "out.example", "compatibility_level": "3.7", "inet_protocols": "ipv4", "master_service_disable": "inet"}
    results = mx.sequence("postfix_config", instance="out", parameters=keep, exclusive=True)
    assert changed(results) == CHANGED_TWICE
    shown = postconf_n(mx, OUT)
    assert shown == {
        **keep,
        "config_directory": OUT,
        "queue_directory": "/var/spool/postfix-out",
        "data_directory": "/var/lib/postfix-out",
        "multi_instance_name": "postfix-out",
        "multi_instance_group": "mta",
        "multi_instance_enable": "yes",
        **postmulti_shared_parameters(mx),
    }
    assert mx.run("postmulti", "-l").stdout == before_list
    assert_postfix_accepts(mx)

    # the primary, by "-"
    results = mx.sequence("postfix_config", instance="-", parameters={"inet_interfaces": "127.0.0.1"})
    assert changed(results) == CHANGED_TWICE
    assert results[1]["instance"]["primary"] is True and results[1]["restart_required"] is True
    assert postconf_h(mx, PRIMARY, "inet_interfaces") == "127.0.0.1"
    assert_postfix_accepts(mx, [PRIMARY])


def test_compatibility_level_operators(mx):
    """Values that compare compatibility levels, as Postfix's own defaults do (Postfix 3.6 and later),
    are set like any other, and the real postconf -x agrees with what the module reports."""
    level = "${{$compatibility_level} <level {3.6} ? {no} : {yes}}"
    wanted = {"compatibility_level": "3.10", "smtputf8_enable": level, "myhostname": "${{$compatibility_level} >level {3.2} ? {new} : {old}}.example"}
    results = mx.sequence("postfix_config", instance="out", parameters=wanted)
    assert changed(results) == CHANGED_TWICE, [r.get("msg") for r in results]
    assert postconf_h(mx, "/etc/postfix-out", "smtputf8_enable") == level
    age_configs(mx)
    expanded = mx.run("postconf", "-c", "/etc/postfix-out", "-x", "-h", "smtputf8_enable", "myhostname").stdout.split()
    assert expanded == ["yes", "new.example"]  # 3.10 is above 3.2 and not below 3.6: numbers per component
    # a malformed constant level is refused before anything is touched, with postconf's words
    before = fingerprints(mx)
    bad = mx.module("postfix_config", instance="out", parameters={"smtputf8_enable": "${{$compatibility_level} <level {3.x} ? {no} : {yes}}"})
    assert bad.get("failed") and 'malformed compatibility level syntax: "3.x"' in bad["msg"]
    assert fingerprints(mx) == before


def test_refused_identity_and_unknown_instance(mx):
    stamp = fingerprints(mx)
    identity, unknown, master_unknown, *empty = play(
        mx,
        config(instance="out", parameters={"queue_directory": "/var/spool/elsewhere"}),
        config(instance="nosuch", parameters={"myhostname": "x"}),
        master(instance="/etc/postfix-out/", service="x", type="unix", command="x"),
        # an empty variable meant for a secondary: postmulti -i '' matches nothing, only '-' is the primary
        config(instance="", parameters={"myhostname": "x"}),
        master(instance="", service="emptyinst", type="unix", command="smtpd"),
        {"mailops.postfix_multi.postfix_map": {"instance": "", "name": "emptyinst", "entries": {"a": "b"}}},
    )
    assert identity["failed"] and "postfix_instance" in identity["msg"] and "queue_directory" in identity["msg"]
    assert unknown["failed"] and "No matching instance: 'nosuch'" in unknown["msg"]
    assert master_unknown["failed"] and "No matching instance: '/etc/postfix-out/'" in master_unknown["msg"]  # compared as written, like postmulti
    for result in empty:
        assert result["failed"] and "instance must be a name, a short name, a config directory or '-'" in result["msg"], result
    assert not mx.path("/etc/postfix/emptyinst").exists()
    assert fingerprints(mx) == stamp


# ----------------------------------------------------------------------------- postfix_master
def test_master_add_change_remove(mx):
    original = mx.read(f"{OUT}/master.cf")
    args = {
        "instance": "out",
        "service": "127.0.0.1:2525",
        "type": "inet",
        "private": False,
        "chroot": True,
        "command": ["smtpd", "-o syslog_name=postfix-out/alt", "-o {smtpd_banner = $myhostname alt ESMTP}"],
    }
    results = mx.sequence("postfix_master", **args)
    assert changed(results) == CHANGED_TWICE
    assert [r["restart_required"] for r in results] == [True, True, False, False]
    assert results[1]["entry"] == {
        "service": "127.0.0.1:2525",
        "type": "inet",
        "private": "n",
        "unprivileged": "-",
        "chroot": "y",
        "wakeup": "-",
        "maxproc": "-",
        "command": "smtpd -o syslog_name=postfix-out/alt -o {smtpd_banner=$myhostname alt ESMTP}",
    }
    text = mx.read(f"{OUT}/master.cf")
    assert text.startswith(original)  # comments and every other entry kept, the new one appended
    assert text[len(original) :] == (
        "127.0.0.1:2525 inet n    -       y       -       -       smtpd\n    -o syslog_name=postfix-out/alt\n    -o {smtpd_banner=$myhostname alt ESMTP}\n"
    )
    age_configs(mx)
    shown = mx.run("postconf", "-c", OUT, "-M", "127.0.0.1:2525/inet").stdout
    assert shown == "127.0.0.1:2525 inet n    -       y       -       -       smtpd -o syslog_name=postfix-out/alt -o {smtpd_banner=$myhostname alt ESMTP}\n"
    assert_postfix_accepts(mx, [OUT])

    # a field that is not a listener change: reload is enough
    results = mx.sequence("postfix_master", instance="out", service="127.0.0.1:2525", type="inet", maxproc=5)
    assert changed(results) == CHANGED_TWICE
    assert [r["restart_required"] for r in results] == [False] * 4
    assert results[3]["entry"]["maxproc"] == "5" and results[3]["entry"]["command"].startswith("smtpd -o syslog_name=postfix-out/alt")

    # an existing multi-line stock entry: replaced in place, comments around it kept
    results = mx.sequence("postfix_master", instance="out", service="relay", type="unix", command="smtp -o syslog_name=postfix-out/relay")
    assert changed(results) == CHANGED_TWICE
    assert results[1]["restart_required"] is True
    # the stock entry's fields are the same in Debian 11, 12 and 13; its -o options are not (Debian 13's
    # master.cf.proto sets syslog_name=${multi_instance_name?{$multi_instance_name}:{postfix}}/$service_name)
    stock = re.search(r"^relay     unix  -       -       y       -       -       smtp\n(?:[ \t]+-o .*\n)+", original, re.M)
    assert stock, "no multi-line stock relay entry in master.cf"
    relay = stock.group(0)
    new_relay = "relay      unix  -       -       y       -       -       smtp\n    -o syslog_name=postfix-out/relay\n"
    assert mx.read(f"{OUT}/master.cf").startswith(original.replace(relay, new_relay))
    assert_postfix_accepts(mx, [OUT])

    # removal: the file is the original again except for relay
    results = mx.sequence("postfix_master", instance="out", service="127.0.0.1:2525", type="inet", state="absent")
    assert changed(results) == CHANGED_TWICE
    assert [r["restart_required"] for r in results] == [True, True, False, False]
    assert results[1]["entry"] is None
    assert mx.read(f"{OUT}/master.cf") == original.replace(relay, new_relay)
    assert_postfix_accepts(mx, [OUT])


# ----------------------------------------------------------------------------- refusals
def test_backup_and_the_files_owner_mode_and_selinux_context(mx):
    # What Ansible's file modules promise (backup, atomic_move keeping the SELinux context), on the real files.
    label = b"system_u:object_r:postfix_etc_t:s0\x00"
    for name in ("main.cf", "master.cf"):
        path = mx.path(f"{OUT}/{name}")
        os.setxattr(path, "security.selinux", label)
        os.chmod(path, 0o640)
    originals = {name: mx.read(f"{OUT}/{name}") for name in ("main.cf", "master.cf")}

    results = mx.sequence("postfix_config", instance="out", parameters={"smtpd_banner": "$myhostname ESMTP backed up"}, backup=True)
    assert changed(results) == CHANGED_TWICE
    assert [("backup_file" in r) for r in results] == [False, True, False, False]  # only the one real change
    kept = results[1]["backup_file"]
    assert os.path.dirname(kept) == OUT and re.fullmatch(r"main\.cf\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", os.path.basename(kept))
    assert mx.read(kept) == originals["main.cf"]

    results = mx.sequence("postfix_master", instance="out", service="127.0.0.1:2525", type="inet", private=False, command="smtpd", backup=True)
    assert changed(results) == CHANGED_TWICE
    assert mx.read(results[1]["backup_file"]) == originals["master.cf"]
    backups = sorted(p.name for p in mx.path(OUT).iterdir() if p.name.endswith("~"))
    assert backups == sorted([os.path.basename(kept), os.path.basename(results[1]["backup_file"])])

    for name in ("main.cf", "master.cf"):
        path = mx.path(f"{OUT}/{name}")
        assert os.getxattr(path, "security.selinux") == label, name
        assert oct(path.stat().st_mode & 0o7777) == oct(0o640), name
    # Postfix ignores the backups beside its files
    assert_postfix_accepts(mx, [OUT])
    assert "backed up" in postconf_h(mx, OUT, "smtpd_banner")


def test_invalid_changes_are_refused_and_nothing_is_touched(mx):
    stamp, queues = fingerprints(mx), trees(mx)
    tasks = [
        config(instance="out", parameters={"inet_interfaces": "192.0.2.55"}),
        config(instance="-", parameters={"default_process_limit": "many"}),
        config(instance="in", parameters={"myhostname": "a\nb"}),
        master(instance="out", service="smtp", type="inet", maxproc="many"),
        master(instance="out", service="smtp", type="inet", command="smtpd -o {smtpd_banner = x"),
        master(instance="-", service="smtp", type="inet", private=True),
        master(instance="in", service="new", type="unix", wakeup="sometimes", command="x"),
        master(instance="in", service="smtp", type="bogus", command="smtpd"),
        # postfix check never reads it; smtpd would stop on its first connection
        master(instance="out", service="2526", type="inet", private=False, command="smtpd -o smtpd_recipient_limit=abc"),
    ]
    results = play(mx, *tasks, *[check_mode(task) for task in tasks])
    expected = [
        "no local interface found for 192.0.2.55",
        "bad numerical configuration: default_process_limit = many",
        "single line",
        'invalid process_limit field "many"',
        "missing '}'",
        "inet service cannot be private",
        'invalid wakeup field "sometimes"',
        "value of type must be one of",
        "bad numerical configuration: smtpd_recipient_limit = abc (-o of master.cf service 2526/inet)",
    ]
    for result, fragment in zip(results, expected * 2):
        assert result.get("failed") is True, result
        assert fragment in result["msg"], result["msg"]
    # Postfix's own reason, and that nothing was written
    assert "postfix -c /etc/postfix-out check rejects the new configuration" in results[0]["msg"]
    assert "was left unchanged" in results[1]["msg"]
    assert fingerprints(mx) == stamp
    assert trees(mx) == queues
    assert_postfix_accepts(mx, INSTANCES)


def test_validation_matches_the_live_check_and_spares_the_live_queue(mx):
    """The copy-based check gives the live ``postfix -c DIR check``'s verdict and message, for the
    primary and a secondary, and creates nothing in the live queue (postfix check creates missing queue directories): a missing
    queue subdirectory stays missing, although the live check would create it."""
    for directory in (PRIMARY, OUT):
        queue = "/var/spool/postfix" if directory == PRIMARY else "/var/spool/postfix-out"
        selector = "-" if directory == PRIMARY else "out"
        mx.path(f"{queue}/saved").rmdir()
        queues = trees(mx)

        # accepted: both agree, and the warnings are postconf's for the live directory
        result = ok(mx.module("postfix_config", instance=selector, parameters={"zz_unknown_param": 1}))
        assert result["changed"] is True
        age_configs(mx)
        live_n = mx.run("postconf", "-c", directory, "-n").stderr
        assert f"{directory}/main.cf: unused parameter: zz_unknown_param=1" in live_n
        assert any(f"{directory}/main.cf: unused parameter: zz_unknown_param=1" in w for w in result.get("warnings", [])), result

        # broken by hand: the module refuses any further change with the live check's reason
        main_cf = mx.path(f"{directory}/main.cf")
        good = main_cf.read_text()
        main_cf.write_text(good + "default_process_limit = many\n")
        age_configs(mx)
        live = mx.run_tty("postfix", "-c", directory, "check", check=False)
        assert live.returncode == 1
        reason = "postfix: fatal: bad numerical configuration: default_process_limit = many"
        assert reason in live.stderr
        stamp = fingerprints(mx)
        refused = mx.module("postfix_config", instance=selector, parameters={"delay_warning_time": "4h"})
        assert refused.get("failed") is True and reason in refused["msg"]
        assert fingerprints(mx) == stamp
        main_cf.write_text(good)

        # validation never created the missing subdirectory (or anything else) in the live queue
        assert trees(mx) == queues
        assert not mx.path(f"{queue}/saved").exists()
        age_configs(mx)
        assert_postfix_accepts(mx, [directory])  # the live check passes after the accepted change, and ...
        assert mx.path(f"{queue}/saved").is_dir()  # ... creates the subdirectory in the live queue


# ----------------------------------------------------------------------------- listening
def banner(address: str, port: int = 25, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=timeout) as sock:
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = sock.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                with contextlib.suppress(OSError):
                    sock.sendall(b"QUIT\r\n")
                return data.decode(errors="replace").strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_all(host: labhost.Host) -> None:
    host.run("postmulti", "-p", "stop", check=False)
    for directory in INSTANCES:
        if host.run("postfix", "-c", directory, "status", check=False).returncode == 0:
            host.run("postfix", "-c", directory, "stop", check=False)


def test_two_instances_listen_on_their_own_addresses(mx):
    with loopback_addresses():
        try:
            results = play(
                mx,
                config(instance="-", parameters={"inet_interfaces": "127.0.0.1", "myhostname": "primary.example"}),
                config(instance="out", parameters={"inet_interfaces": "127.0.0.2", "myhostname": "out.example"}, absent=["master_service_disable"]),
                config(instance="in", parameters={"inet_interfaces": "127.0.0.3", "myhostname": "in.example"}, absent=["master_service_disable"]),
                master(
                    instance="out",
                    service="127.0.0.2:2525",
                    type="inet",
                    private="n",
                    command="smtpd -o syslog_name=postfix-out/alt -o {smtpd_banner = $myhostname alt ESMTP}",
                ),
                {"mailops.postfix_multi.postfix_service": {"state": "started"}},
            )
            for result in results:
                ok(result)
            assert [r["restart_required"] for r in results[:4]] == [True, True, True, True]
            assert_postfix_accepts(mx, INSTANCES)
            assert banner("127.0.0.1").startswith("220 primary.example ESMTP")
            assert banner("127.0.0.2").startswith("220 out.example ESMTP")
            assert banner("127.0.0.3").startswith("220 in.example ESMTP")
            assert banner("127.0.0.2", 2525) == "220 out.example alt ESMTP"
        finally:
            stop_all(mx)


def test_documented_examples_run(mx):
    """Every task in the EXAMPLES of both modules runs as written (they start postfix-out: under
    the loopback lock, with 127.0.0.2 on lo, and everything is stopped afterwards)."""
    tasks = yaml.safe_load(postfix_config.EXAMPLES) + yaml.safe_load(postfix_master.EXAMPLES)
    with loopback_addresses():
        try:
            results = play(mx, *tasks)
            for task, result in zip(tasks, results):
                assert not result.get("failed"), (task["name"], result)
            assert [r.get("changed") for r in results[:2]] == [True, True]
            assert_postfix_accepts(mx, INSTANCES)
            assert banner("127.0.0.2").startswith("220 out.example.com ESMTP")
        finally:
            stop_all(mx)


# ----------------------------------------------------------------------------- postfix_instance with a configuration
def test_new_instance_with_its_configuration(mx):
    """postfix_instance creates an instance with its main.cf and master.cf in one run, validated first
    (check mode too): MULTI_INSTANCE_README's re-injection instance, with the smtp inet entry replaced."""
    design = {
        "name": "postfix-reinject",
        "group": "mta",
        "enabled": True,
        "parameters": {"master_service_disable": "", "inet_interfaces": "loopback-only", "mynetworks_style": "host", "smtpd_timeout": "1200s"},
        "master": [
            {"service": "smtp", "type": "inet", "state": "absent"},
            {"service": "127.0.0.1:10026", "type": "inet", "private": "n", "chroot": "n", "command": "smtpd"},
        ],
    }
    results = mx.sequence("postfix_instance", **design)
    assert changed(results) == CHANGED_TWICE
    check = {d["after_header"]: d["after"] for d in results[0]["diff"]}
    assert "smtpd_timeout = 1200s" in check["/etc/postfix-reinject/main.cf"]
    assert "127.0.0.1:10026" in check["/etc/postfix-reinject/master.cf"]
    assert results[0]["changed_parameters"] == results[1]["changed_parameters"]
    assert results[1]["changed_entries"] == ["smtp/inet", "127.0.0.1:10026/inet"] and results[3]["changed_entries"] == []
    values = postconf_n(mx, "/etc/postfix-reinject")
    assert values["master_service_disable"] == "" and values["inet_interfaces"] == "loopback-only"
    assert values["multi_instance_enable"] == "yes"
    services = mx.run("postconf", "-c", "/etc/postfix-reinject", "-M").stdout
    assert "127.0.0.1:10026" in services and not re.search(r"^smtp\s+inet", services, re.M)
    assert ("postfix-reinject", "mta", "y") in [tuple(line.split()[:3]) for line in mx.run("postmulti", "-l").stdout.splitlines()]
    assert_postfix_accepts(mx, ["/etc/postfix-reinject"])


def test_new_instance_with_a_refused_value_is_not_created(mx):
    primary = mx.read("/etc/postfix/main.cf")
    task = {"mailops.postfix_multi.postfix_instance": {"name": "postfix-bad", "enabled": True, "parameters": {"inet_interfaces": "192.0.2.55"}}}
    for result in play(mx, check_mode(task), task):
        assert result.get("failed") is True, result
        assert "no local interface found for 192.0.2.55" in result["msg"], result["msg"]
    assert not mx.path("/etc/postfix-bad").exists() and not mx.path("/var/spool/postfix-bad").exists()
    assert mx.read("/etc/postfix/main.cf") == primary
