# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_instances lookup, postfix_instance_info and postfix_service against real Postfix (issue #4).

One lab clone is prepared per module with the real ``postmulti``: the primary and three
secondaries in this order::

    -               -               y         /etc/postfix          127.0.0.1  primary.example
    postfix-out     mta             y         /etc/postfix-out      127.0.0.2  out.example
    postfix-off     mta             n         /etc/postfix-off      (disabled: never listens)
    -               -               y         /etc/postfix-anon     127.0.0.3  anon.example

and every test works on a fork of it. Clones share this machine's network namespace, so
the tests that start Postfix add 127.0.0.2 and .3 to ``lo`` when missing (and remove what
they added), take a lock that other tests can share (``LOOPBACK_LOCK``), wait for port 25
on those addresses to be free, and always stop every Postfix they started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import labhost
import pytest

PRIMARY, OUT, OFF, ANON = "/etc/postfix", "/etc/postfix-out", "/etc/postfix-off", "/etc/postfix-anon"
LIST_ORDER = [PRIMARY, OUT, OFF, ANON]
ENABLED = [PRIMARY, OUT, ANON]
ADDRESSES = {PRIMARY: "127.0.0.1", OUT: "127.0.0.2", ANON: "127.0.0.3"}
HOSTNAMES = {PRIMARY: "primary.example", OUT: "out.example", ANON: "anon.example"}
LOOPBACK_LOCK = Path("/run/mailops-lab/loopback-smtp.lock")
LOOKUP = "mailops.postfix_multi.postfix_instances"


# ----------------------------------------------------------------------------- helpers
def age_configs(host: labhost.Host) -> None:
    """Backdate every main.cf/master.cf so that the real postconf/postmulti calls of the SETUP
    do not each wait for the "file just changed" guard. Never done between module runs."""
    old = time.time() - 10
    for path in host.root.glob("etc/postfix*/ma*.cf"):
        os.utime(path, (old, old))


def postmulti(host: labhost.Host, *args: str) -> subprocess.CompletedProcess:
    age_configs(host)
    return host.run_tty("postmulti", *args)


def postconf(host: labhost.Host, directory: str, *args: str) -> None:
    host.run("postconf", "-c", directory, *args)


def listing(host: labhost.Host, *args: str) -> list[tuple[str | None, str | None, bool, str]]:
    """``postmulti -l ARGS`` as (name, group, enabled, config_directory) rows."""
    age_configs(host)
    out = host.run("postmulti", "-l", *args).stdout
    rows = []
    for line in out.splitlines():
        name, group, flag, directory = line.split(None, 3)
        rows.append((None if name == "-" else name, None if group == "-" else group, flag == "y", directory))
    return rows


def rows_of(items: list[dict]) -> list[tuple[str | None, str | None, bool, str]]:
    return [(i["name"], i["group"], i["enabled"], i["config_directory"]) for i in items]


def play(host: labhost.Host, *tasks: dict) -> list[dict]:
    """Run tasks (dicts; JSON is YAML) in one playbook; return their results in order."""
    body = [{**task, "ignore_errors": True} for task in tasks]
    host.playbook(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": body}], indent=1))
    results = [rec["result"] for rec in host.last_run.records]
    assert len(results) == len(tasks), host.last_run.explain()
    return results


def service(**args: object) -> dict:
    return {"mailops.postfix_multi.postfix_service": args}


def info(**args: object) -> dict:
    return {"mailops.postfix_multi.postfix_instance_info": args}


def banner(address: str, timeout: float = 10) -> str:
    with socket.create_connection((address, 25), timeout=timeout) as sock:
        sock.settimeout(timeout)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
        with contextlib.suppress(OSError):
            sock.sendall(b"QUIT\r\n")
    return data.decode(errors="replace").strip()


def port_in_use(address: str) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((address, 25)) == 0


def running(host: labhost.Host, directory: str) -> bool:
    return host.run("postfix", "-c", directory, "status", check=False).returncode == 0


def stop_everything(host: labhost.Host) -> None:
    """postmulti -p stop, then postfix -c DIR stop for every instance (disabled ones too)."""
    host.run("postmulti", "-p", "stop", check=False)
    for directory in LIST_ORDER:
        if running(host, directory):
            host.run("postfix", "-c", directory, "stop", check=False)


# ----------------------------------------------------------------------------- fixtures
def prepare(host: labhost.Host) -> None:
    postmulti(host, "-e", "init")
    postmulti(host, "-e", "create", "-I", "postfix-out", "-G", "mta")
    postmulti(host, "-e", "create", "-I", "postfix-off", "-G", "mta")
    postmulti(
        host,
        "-e",
        "create",
        "config_directory=/etc/postfix-anon",
        "queue_directory=/var/spool/postfix-anon",
        "data_directory=/var/lib/postfix-anon",
    )
    postmulti(host, "-e", "enable", "-i", "postfix-out")
    postmulti(host, "-e", "enable", "-i", ANON)
    for directory in ENABLED:
        settings = [f"inet_interfaces = {ADDRESSES[directory]}", f"myhostname = {HOSTNAMES[directory]}"]
        if directory != PRIMARY:
            postconf(host, directory, "-X", "master_service_disable")
            # new instances refuse local submission (authorized_submit_users =): allow it here
            settings.append("authorized_submit_users = static:anyone")
        postconf(host, directory, "-e", *settings)
    age_configs(host)


@pytest.fixture(scope="module")
def prepared(lab_base, tmp_path_factory):  # lab_base: builds the base root first
    template = labhost.new_host("tmpl", tmp_path_factory.mktemp("discovery"))
    try:
        prepare(template)
        yield template
    finally:
        labhost.destroy_host(template)


@pytest.fixture
def mx(prepared, new_host) -> labhost.Host:
    """A fork of the prepared clone; every Postfix started in it is stopped afterwards."""
    clone = new_host("mx", source=prepared)
    try:
        yield clone
    finally:
        stop_everything(clone)


@contextlib.contextmanager
def loopback_addresses(wait: float = 120):
    """127.0.0.2 and .3 on lo (added when missing, removed again if we added them), under a
    lock shared by tests that listen on them, once nothing else listens on 127.0.0.1-3:25."""
    LOOPBACK_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOOPBACK_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        added = []
        try:
            present = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True).stdout
            for address in ("127.0.0.2", "127.0.0.3"):
                if f" {address}/" not in present:
                    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
                    added.append(address)
            deadline = time.monotonic() + wait
            while any(port_in_use(a) for a in ADDRESSES.values()):
                if time.monotonic() > deadline:
                    busy = subprocess.run(["ss", "-ltnp", "sport = :25"], capture_output=True, text=True, check=False).stdout
                    pytest.fail(f"port 25 on 127.0.0.1-3 stays in use by something else:\n{busy}")
                time.sleep(1)
            yield
        finally:
            for address in added:
                subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False)


@pytest.fixture
def on_loopback():
    """The instances' inet_interfaces exist on lo: Postfix commands that load their main.cf
    (postconf -x, postqueue -j, which postfix_instance_info runs) refuse it otherwise."""
    with loopback_addresses():
        yield


# ----------------------------------------------------------------------------- discovery
def test_lookup_and_info_list_what_postmulti_lists(mx, on_loopback):
    root = str(mx.root)
    expected = listing(mx)
    assert [row[3] for row in expected] == LIST_ORDER  # the setup is what the test thinks it is
    results = play(
        mx,
        info(),
        info(group="mta"),
        info(name="off"),
        info(name="nosuch"),
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}') }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}', reverse=true) }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}', group='mta', reverse=true) }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}', name='{ANON}') }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}', enabled_only=true) }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ lookup('{LOOKUP}', root='{root}', name='-') }}}}"}},
        {"ansible.builtin.debug": {"msg": f"{{{{ query('{LOOKUP}', root='{root}', group='nosuch') }}}}"}},
    )
    full, mta, off, unknown, lk_all, lk_rev, lk_mta_rev, lk_anon, lk_enabled, lk_one, lk_unknown = results

    # the info module, on the managed host
    assert not full.get("failed"), full
    assert full["changed"] is False and full["problems"] == []
    assert rows_of(full["instances"]) == expected
    assert rows_of(mta["instances"]) == listing(mx, "-g", "mta")
    assert rows_of(off["instances"]) == listing(mx, "-i", "off")
    assert [i["primary"] for i in full["instances"]] == [True, False, False, False]
    assert [i["queue_directory"] for i in full["instances"]] == [
        "/var/spool/postfix",
        "/var/spool/postfix-out",
        "/var/spool/postfix-off",
        "/var/spool/postfix-anon",
    ]
    assert unknown.get("failed") is True
    assert "no instance matches name 'nosuch'" in unknown["msg"]
    assert "postfix-out (/etc/postfix-out)" in unknown["msg"] and "/etc/postfix-anon (nameless" in unknown["msg"]

    # the lookup, on the controller, reading the clone's files below root=
    assert rows_of(lk_all["msg"]) == expected
    assert rows_of(lk_rev["msg"]) == listing(mx, "-R")
    assert rows_of(lk_mta_rev["msg"]) == listing(mx, "-R", "-g", "mta")
    assert rows_of(lk_anon["msg"]) == listing(mx, "-i", ANON)
    assert rows_of(lk_enabled["msg"]) == [row for row in expected if row[2]]
    assert lk_one["msg"]["config_directory"] == PRIMARY  # lookup() unwraps a single result
    assert [{k: v for k, v in i.items() if k in lk_all["msg"][0]} for i in full["instances"]] == lk_all["msg"]
    assert lk_unknown.get("failed") is True
    assert "no instance is in group 'nosuch'; known groups: mta" in lk_unknown["msg"]


def test_environment_is_what_postmulti_x_exports(mx):
    age_configs(mx)
    out = mx.run("postmulti", "-x", "sh", "-c", "echo @@; env").stdout
    exported = []
    for block in out.split("@@\n")[1:]:
        exported.append(dict(line.split("=", 1) for line in block.splitlines() if "=" in line))
    result, in_check_mode = play(mx, info(), {**info(), "check_mode": True})
    assert in_check_mode["instances"] == result["instances"]  # check mode: the same, read-only
    assert len(exported) == len(result["instances"]) == 4
    for inst, env in zip(result["instances"], exported):
        ours = inst["environment"]
        assert "PATH" not in ours
        assert ours == {key: env[key] for key in ours}, inst["config_directory"]
    assert result["instances"][3]["environment"]["multi_instance_name"] == ""
    assert result["instances"][2]["environment"]["multi_instance_enable"] == "no"


# ----------------------------------------------------------------------------- iterator mode
def test_service_start_stop_queue(mx):
    with loopback_addresses():
        try:
            run_service_scenario(mx)
        finally:
            stop_everything(mx)
        assert not any(port_in_use(a) for a in ADDRESSES.values())


def run_service_scenario(mx: labhost.Host) -> None:
    check, start, again, status, reload_, stop_check = play(
        mx,
        {**service(state="started"), "check_mode": True},
        service(state="started"),
        service(state="started"),
        service(command=["status"], reverse=True),
        service(state="reloaded", group="mta"),
        {**service(state="stopped"), "check_mode": True},
    )
    # check mode: predicted, nothing run
    assert check["changed"] is True and [r["rc"] for r in check["results"]] == [None] * 4
    assert [(r["config_directory"], r["action"]) for r in check["results"]] == [(PRIMARY, "start"), (OUT, "start"), (OFF, "check"), (ANON, "start")]

    # started: list order, disabled checked, postfix's own messages captured
    assert not start.get("failed"), start
    assert start["changed"] is True and start["backend"] == "postmulti"
    assert [(r["config_directory"], r["action"], r["rc"]) for r in start["results"]] == [
        (PRIMARY, "start", 0),
        (OUT, "start", 0),
        (OFF, "check", 0),
        (ANON, "start", 0),
    ]
    assert "postfix-out/postfix-script: starting the Postfix mail system" in start["results"][1]["output"]
    for directory in ENABLED:
        assert banner(ADDRESSES[directory]).startswith(f"220 {HOSTNAMES[directory]} ESMTP"), directory
    assert not running(mx, OFF)

    # idempotent
    assert again["changed"] is False and not again.get("failed")
    assert [r["action"] for r in again["results"]] == ["none", "none", "check", "none"]

    # other commands: every instance, reversible; status of the disabled one fails (rc=1), as with postmulti
    assert [r["config_directory"] for r in status["results"]] == list(reversed(LIST_ORDER))
    assert status["failed"] is True and status["changed"] is False
    assert [r["rc"] for r in status["results"]] == [0, 1, 0, 0]
    assert "the Postfix mail system is not running" in status["results"][1]["output"]

    # reload: running enabled instances of the group only
    assert [(r["config_directory"], r["action"], r["rc"]) for r in reload_["results"]] == [(OUT, "reload", 0), (OFF, "none", None)]
    assert "refreshing the Postfix mail system" in reload_["results"][0]["output"]

    assert stop_check["changed"] is True
    assert [(r["config_directory"], r["action"]) for r in stop_check["results"]] == [(ANON, "stop"), (OFF, "none"), (OUT, "stop"), (PRIMARY, "stop")]
    assert all(running(mx, d) for d in ENABLED)  # check mode stopped nothing

    # a failing command returns postfix's own message; an unknown instance lists the known ones
    not_again, unknown, stop_out = play(
        mx,
        service(command=["start"], name="out"),
        service(state="stopped", name="postfix-nosuch"),
        service(state="stopped", name="out"),
    )
    assert not_again["failed"] is True
    assert "postfix-out/postfix-script: fatal: the Postfix mail system is already running" in not_again["msg"]
    assert unknown["failed"] is True and "known instances: - (primary, /etc/postfix), postfix-out (/etc/postfix-out)" in unknown["msg"]
    assert stop_out["changed"] is True and not running(mx, OUT) and running(mx, PRIMARY)

    # mail submitted to the stopped instance waits in its maildrop
    mx.run("sendmail", "-f", "root", "root", env={"MAIL_CONFIG": OUT}, input="Subject: parked\n\nhello\n")
    queued, stop_all, stop_again, after = play(mx, info(name="out"), service(state="stopped"), service(state="stopped"), info())
    assert queued["instances"][0]["running"] is False
    assert queued["instances"][0]["queue_counts"] == {"incoming": 0, "active": 0, "deferred": 0, "hold": 0, "maildrop": 1, "corrupt": 0, "saved": 0}

    # stopped: reverse order, disabled skipped, only running ones acted on
    assert [(r["config_directory"], r["action"], r["rc"]) for r in stop_all["results"]] == [
        (ANON, "stop", 0),
        (OFF, "none", None),
        (OUT, "none", None),
        (PRIMARY, "stop", 0),
    ]
    assert "stopping the Postfix mail system" in stop_all["results"][0]["output"]
    assert stop_again["changed"] is False
    assert [i["running"] for i in after["instances"]] == [False, False, False, False]
    assert not any(running(mx, d) for d in LIST_ORDER)
    assert _masters_in(mx) == []


def _masters_in(host: labhost.Host) -> list[int]:
    """Live master processes whose root is this clone (zombies of stopped masters do not count)."""
    pids = []
    for pid in labhost.lab.pids_inside(host.root):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "master" and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
                pids.append(pid)
    return pids
