# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_health against real Postfix (issue 11, defects 5 and 6).

Each test gets a fresh lab host with loopback addresses of its own (127.0.N.1..4; its primary
listens on 127.0.N.1:25), sets instances up with the real postmulti/postconf, starts them, and
runs the module through Ansible. Every Postfix started is stopped afterwards.

The defect: an instance with ``inet_interfaces = loopback-only`` whose only listener is an explicit
``127.0.N.2:10026`` service was probed on 127.0.0.1:25. The module must pass it, and fail it when
that listener is broken, whatever answers on 127.0.0.1:25 (the test listens there itself, under the
lock that the tests listening on 127.0.0.x share).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
import typing as t

import labhost
import pytest
from test_discovery_service import LOOPBACK_LOCK

lab = labhost.lab
OUT = "/etc/postfix-out"


# ----------------------------------------------------------------------------- helpers
def age_configs(host: labhost.Host) -> None:
    """Backdate main.cf/master.cf so that Postfix's commands in the SETUP do not each wait out the
    "file just changed" guard (the module reads the files, it never waits on them)."""
    old = time.time() - 10
    for path in host.root.glob("etc/postfix*/ma*.cf"):
        os.utime(path, (old, old))


def sh(host: labhost.Host, *argv: str, check: bool = True):
    age_configs(host)
    return host.run_tty(*argv, check=check)


def create(host: labhost.Host, name: str, settings: t.Sequence[str] = (), remove: t.Sequence[str] = (), master: t.Sequence[str] = ()) -> str:
    """postmulti -I NAME -e create, then postconf -e SETTINGS, -X REMOVE, master.cf entries: "-service/type" removes
    one, anything else is a whole entry; enabled. Returns the configuration directory."""
    directory = f"/etc/{name}"
    sh(host, "postmulti", "-I", name, "-e", "create")
    if settings:
        sh(host, "postconf", "-c", directory, "-e", *settings)
    if remove:
        sh(host, "postconf", "-c", directory, "-X", *remove)
    for entry in master:
        if entry.startswith("-"):
            sh(host, "postconf", "-c", directory, "-MX", entry[1:])
        else:
            service, kind = entry.split()[:2]
            sh(host, "postconf", "-c", directory, "-M", f"{service}/{kind}={entry}")
    sh(host, "postmulti", "-i", name, "-e", "enable")
    return directory


def reinjection(host: labhost.Host, *settings: str) -> str:
    """MULTI_INSTANCE_README's postfix-out on this host's second address: inet_interfaces = loopback-only, the
    smtp inet entry replaced by one smtpd listening on 127.0.N.2:10026."""
    address = host.addresses[1]
    return create(
        host,
        "postfix-out",
        ["inet_interfaces = loopback-only", f"myhostname = out.{host.name}.lab.example", *settings],
        remove=["master_service_disable"],
        master=["-smtp/inet", f"{address}:10026 inet n - n - - smtpd"],
    )


def health(host: labhost.Host, **args: t.Any) -> dict:
    return host.module("postfix_health", **args)


def instance(result: dict, name: str | None) -> dict:
    (found,) = [i for i in result["instances"] if i["name"] == name]
    return found


def probed(record: dict) -> list[tuple[str, int, str, bool]]:
    return [(p["host"], p["port"], p["expect"], p["passed"]) for p in record["probes"]]


def answers(address: str, port: int, timeout: float = 1) -> bool:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((address, port)) == 0


@contextlib.contextmanager
def impostor(wait: float = 120) -> t.Iterator[list[int]]:
    """Something else that greets with "220" on 127.0.0.1:25, under the lock of the tests that listen on
    127.0.0.x:25 (test_discovery_service), once nothing else listens there. Yields a one-item list: the
    number of connections it accepted."""
    LOOPBACK_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOOPBACK_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        deadline = time.monotonic() + wait
        while answers("127.0.0.1", 25):
            if time.monotonic() > deadline:
                pytest.fail("127.0.0.1:25 stays in use by something else")
            time.sleep(1)
        accepted = [0]
        stop = threading.Event()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 25))
        listener.listen(8)
        listener.settimeout(0.1)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _peer = listener.accept()
                except OSError:
                    continue
                accepted[0] += 1
                with conn:
                    conn.sendall(b"220 impostor.example ESMTP not Postfix\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield accepted
        finally:
            stop.set()
            thread.join(5)
            listener.close()


@pytest.fixture
def lab_host(lab_base, tmp_path):
    """A fresh lab host with 4 addresses of its own and multi-instance support turned on (postmulti -e init);
    every Postfix started in it is stopped afterwards."""
    name = f"hc{os.getpid()}-{time.monotonic_ns() % 100000}"
    root = lab.clone(name, owner_pid=os.getpid(), addresses=4)
    host = labhost.Host(name, root, tmp_path / name)
    try:
        sh(host, "postmulti", "-e", "init")
        yield host
    finally:
        host.run("postmulti", "-p", "stop", check=False)
        for main_cf in host.root.glob("etc/postfix-*/main.cf"):
            host.run("postfix", "-c", "/" + str(main_cf.parent.relative_to(host.root)), "stop", check=False)
        lab.destroy(name)


# ----------------------------------------------------------------------------- defect 5
def test_loopback_only_instance_with_an_explicit_listener(lab_host):
    """The defect's case: it passes on 127.0.N.2:10026, and fails there when its smtpd is broken, even with a
    "220" on 127.0.0.1:25 (where the old gate knocked)."""
    host = lab_host
    first, second = host.addresses[0], host.addresses[1]
    reinjection(host)
    sh(host, "postmulti", "-p", "start")

    with impostor() as accepted:
        result = health(host, timeout=10)
        assert result["passed"] is True, result["msg"]
        assert not result.get("failed")
        out = instance(result, "postfix-out")
        assert out["running"] is True
        assert [(lst["service"], lst["source"], lst["addresses"]) for lst in out["listeners"]] == [(f"{second}:10026", "service", [second])]
        assert probed(out) == [(second, 10026, "banner", True)]
        assert out["probes"][0]["banner"].startswith(f"220 out.{host.name}.lab.example ESMTP")
        assert probed(instance(result, None)) == [(first, 25, "banner", True)]

        # smtpd of 127.0.N.2:10026 now dies at start (a bad number), the instance still runs
        sh(host, "postconf", "-c", OUT, "-P", f"{second}:10026/inet/smtpd_recipient_limit=many")
        sh(host, "postfix", "-c", OUT, "reload")
        result = health(host, timeout=3)
        assert result["failed"] is True and result["passed"] is False
        assert result["failures"] == [
            f"postfix-out: {second}:10026 (master.cf service {second}:10026/inet, expects a 220 banner): connected, but no banner came within 3 s"
        ]
        assert accepted == [0]  # nobody asked the impostor
        assert instance(result, "postfix-out")["running"] is True
        assert result["msg"] == result["failures"][0]


def test_a_configuration_change_that_was_not_applied_fails(lab_host):
    """The files are what the gate reads: a listener moved in master.cf without a reload is not there yet."""
    host = lab_host
    second = host.addresses[1]
    reinjection(host)
    sh(host, "postmulti", "-p", "start")
    sh(host, "postconf", "-c", OUT, "-MX", f"{second}:10026/inet")
    sh(host, "postconf", "-c", OUT, "-M", f"{second}:10027/inet={second}:10027 inet n - n - - smtpd")
    started = time.monotonic()
    result = health(host, timeout=2)
    assert result["failed"] is True
    (failure,) = result["failures"]
    assert failure.startswith(f"postfix-out: {second}:10027 (master.cf service {second}:10027/inet, expects a 220 banner): connection refused (")
    assert failure.endswith(" attempt(s) in 2 s)")
    assert instance(result, "postfix-out")["probes"][0]["attempts"] > 1  # refused connections were tried again
    assert time.monotonic() - started < 15

    sh(host, "postfix", "-c", OUT, "reload")
    result = health(host, timeout=10)
    assert result["passed"] is True, result["msg"]
    assert probed(instance(result, "postfix-out")) == [(second, 10027, "banner", True)]


# ----------------------------------------------------------------------------- running, disabled inet
def test_an_instance_without_listeners_only_has_to_run_and_a_stopped_one_fails(lab_host):
    host = lab_host
    quiet = create(host, "postfix-quiet")  # postmulti's master_service_disable = inet stays
    sh(host, "postmulti", "-p", "start")
    result = health(host, timeout=5)
    assert result["passed"] is True, result["msg"]
    record = instance(result, "postfix-quiet")
    assert record["running"] is True and record["probes"] == []
    assert [(lst["service"], lst["disabled"]) for lst in record["listeners"]] == [("smtp", "master_service_disable = inet")]

    sh(host, "postfix", "-c", quiet, "stop")
    result = health(host, timeout=5)
    assert result["failed"] is True
    assert result["failures"] == [
        f"postfix-quiet ({quiet}): enabled, but postfix -c {quiet} status says: postfix-quiet/postfix-script: the Postfix mail system is not running"
    ]
    assert instance(result, "postfix-quiet")["passed"] is False
    assert instance(result, None)["passed"] is True

    # disabled, it is listed and not checked
    sh(host, "postmulti", "-i", "postfix-quiet", "-e", "disable")
    result = health(host, timeout=5)
    assert result["passed"] is True, result["msg"]
    assert (instance(result, "postfix-quiet")["enabled"], instance(result, "postfix-quiet")["running"]) == (False, False)


# ----------------------------------------------------------------------------- the caller's probes
def test_probes_given_by_the_caller(lab_host):
    host = lab_host
    second, third = host.addresses[1], host.addresses[2]
    reinjection(host)
    sh(host, "postmulti", "-p", "start")

    # added: a port where nothing listens makes the instance fail
    added = health(host, timeout=2, probes=[{"instance": "out", "host": third, "port": 2525, "expect": "connect"}])
    assert added["failed"] is True
    assert [f.split(": connection refused")[0] for f in added["failures"]] == [
        f"postfix-out: {third}:2525 (probe given for the instance, expects a connection)"
    ]
    assert [(p["host"], p["port"], p["service"]) for p in instance(added, "postfix-out")["probes"]] == [
        (second, 10026, f"{second}:10026"),
        (third, 2525, None),
    ]

    # replaced: only the caller's endpoint is probed
    replaced = health(host, timeout=5, probes=[{"instance": OUT, "host": second, "port": 10026, "expect": "connect"}], replace_probes=["postfix-out"])
    assert replaced["passed"] is True, replaced["msg"]
    record = instance(replaced, "postfix-out")
    assert record["probes_replaced"] is True
    assert [(p["host"], p["port"], p["expect"], p["service"], p["passed"]) for p in record["probes"]] == [(second, 10026, "connect", None, True)]

    # an instance that does not exist is a mistake, not something to skip
    unknown = health(host, timeout=2, probes=[{"instance": "postfix-nope", "host": second, "port": 10026}])
    assert unknown["failed"] is True
    assert unknown["failures"][0].startswith(
        "probe for instance 'postfix-nope': no such instance (known: - (primary, /etc/postfix), postfix-out (/etc/postfix-out)"
    )


def test_a_gate_that_cannot_tell_fails(lab_host):
    """What cannot be told fails the gate, unless the caller says where to probe. Both changes are made after the
    start (the running master keeps what it bound)."""
    host = lab_host
    second = host.addresses[1]
    directory = create(host, "postfix-mx", [f"inet_interfaces = {second}", f"myhostname = mx.{host.name}.lab.example"], remove=["master_service_disable"])
    sh(host, "postmulti", "-p", "start")
    assert health(host, timeout=5)["passed"] is True

    # a service name that /etc/services does not know
    sh(host, "postconf", "-c", directory, "-M", f"{second}:nosuchservice/inet={second}:nosuchservice inet n - n - - smtpd")
    result = health(host, timeout=5)
    assert result["failed"] is True
    assert result["failures"] == [f"postfix-mx ({directory}): cannot tell what to probe: {second}:nosuchservice/inet: unknown service: nosuchservice/tcp"]
    assert probed(instance(result, "postfix-mx")) == [(second, 25, "banner", True)]  # what could be told was probed

    told = health(host, timeout=5, probes=[{"instance": "mx", "host": second, "port": 25}], replace_probes=["mx"])
    assert told["passed"] is True, told["msg"]
    assert [(p["host"], p["port"], p["service"]) for p in instance(told, "postfix-mx")["probes"]] == [(second, 25, None)]

    # a host name in inet_interfaces that does not resolve: postfix status itself cannot tell any more
    sh(host, "postconf", "-c", directory, "-MX", f"{second}:nosuchservice/inet")
    sh(host, "postconf", "-c", directory, "-e", "inet_interfaces = no-such-host.invalid")
    result = health(host, timeout=5)
    assert result["failed"] is True
    assert result["failures"] == [
        f"postfix-mx ({directory}): enabled, but postfix -c {directory} status says: "
        "postfix: fatal: config variable inet_interfaces: host not found: no-such-host.invalid",
        f"postfix-mx ({directory}): cannot tell what to probe: smtp/inet: inet_interfaces: host not found: no-such-host.invalid",
    ]


# ----------------------------------------------------------------------------- defect 6: hazards
def test_a_listener_clash_is_warned_about(lab_host):
    """Two instances on one address and port: Postfix before 3.6 cannot start the second; 3.6 and later start both
    (SO_REUSEPORT) and the kernel shares the connections between them. The gate warns either way."""
    host = lab_host
    first = host.addresses[0]
    # the primary listens on 127.0.N.1:25 (inet_interfaces); postfix-b names the same address and port
    clash = create(
        host,
        "postfix-b",
        [f"myhostname = b.{host.name}.lab.example"],
        remove=["master_service_disable"],
        master=["-smtp/inet", f"{first}:25 inet n - n - - smtpd"],
    )
    sh(host, "postmulti", "-i", "-", "-p", "start")
    started = sh(host, "postfix", "-c", clash, "start", check=False)
    version = host.run("postconf", "-dh", "mail_version").stdout.strip()
    shares = tuple(int(part) for part in version.split(".")[:2]) >= (3, 6)

    result = health(host, timeout=5)
    who = f"/etc/postfix (smtp/inet with inet_interfaces = {first}) and postfix-b ({first}:25/inet) both bind {first}:25: "
    if shares:
        expected = (
            who + f"both start (Postfix 3.6 and later bind with SO_REUSEPORT), and the kernel hands each connection to {first}:25 "
            "to either of them - mail meant for one is received by the other"
        )
        assert started.returncode == 0, started.stderr
        # both answer with "220": the gate passes, and only the warning tells that mail goes astray
        assert result["passed"] is True, result["msg"]
        greeters = {greeting(first).split()[1] for _attempt in range(40)}
        assert greeters == {f"{host.name}.lab.example", f"b.{host.name}.lab.example"}
    else:
        expected = who + 'the master(8) started second cannot bind ("Address already in use") and does not start'
        assert started.returncode != 0
        assert result["failures"] == [
            f"postfix-b ({clash}): enabled, but postfix -c {clash} status says: postfix-b/postfix-script: the Postfix mail system is not running"
        ]
    assert result["hazards"] == [expected]
    assert expected in result["warnings"]


def greeting(address: str, port: int = 25) -> str:
    with socket.create_connection((address, port), timeout=5) as sock:
        return sock.recv(200).decode(errors="replace")


def test_a_loopback_only_next_hop_that_loops_is_warned_about_and_real_postfix_refuses_it(lab_host):
    host = lab_host
    third = host.addresses[2]
    # relayhost on port 25 of another address of the host: loopback-only makes it postfix-out's own. (The port as a
    # number: Debian 11's smtp runs chrooted in the instance's queue directory, which has no etc/services.)
    reinjection(host, f"relayhost = [{third}]:25", "soft_bounce = yes", "authorized_submit_users = root", "mydestination =")
    sh(host, "postmulti", "-p", "start")

    result = health(host, timeout=5)
    assert result["passed"] is True, result["msg"]  # a warning, not a failure
    (warning,) = result["hazards"]
    assert warning == (
        f"postfix-out: relayhost sends mail to [{third}]:25, port 25 of {third}, one of the instance's own addresses "
        "(inet_interfaces = loopback-only makes every loopback address configured on the host's interfaces its own); "
        f'its smtp(8) client refuses it: "mail for {third} loops back to myself". Use another port (as content filters do) '
        "or other inet_interfaces"
    )
    assert warning in result["warnings"]

    # what Postfix does with such mail: it stays in the queue (soft_bounce) with the reason the warning gave
    host.run("sendmail", "-C", OUT, "-f", "root@sender.example", "user@remote.example", input="Subject: loop\n\nhello\n")
    deadline = time.monotonic() + 30
    queue = ""
    while f"mail for {third} loops back to myself" not in queue:
        assert time.monotonic() < deadline, queue
        time.sleep(0.5)
        queue = host.run("postqueue", "-c", OUT, "-p").stdout

    # on another port there is no loop detection, and no warning
    sh(host, "postconf", "-c", OUT, "-e", f"relayhost = [{third}]:2525")
    assert health(host, timeout=5)["hazards"] == []
