# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The health check's probes (against real sockets on 127.0.0.1) and its verdict per instance.

The instance list and files come from an in-memory host (_fakes); tests/integration/test_health.py
runs the module against real Postfix.
"""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import pytest
from _fakes import FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import check, interface_addresses, probe, probe_all, timeout_spec
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._listeners import BANNER, CONNECT, Endpoint
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS
from test_listeners import DEFAULTS, FakeNetwork

# Servers ------------------------------------------------------------------------------------------


class Server:
    """A TCP server on 127.0.0.1 that does one thing with every connection."""

    def __init__(self, action: t.Callable[[socket.socket], None], port: int = 0, delay: float = 0.0) -> None:
        self.action = action
        self.port = port or free_port()
        self.delay = delay
        self.accepted = 0
        self.received: list[bytes] = []
        self._stop = threading.Event()
        # listening before the constructor returns, unless it is to come up late
        self._listener = None if delay else self._listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        return listener

    def _serve(self) -> None:
        if self._listener is None:
            time.sleep(self.delay)  # not listening yet: connections are refused meanwhile
            self._listener = self._listen()
        with self._listener as listener:
            while not self._stop.is_set():
                try:
                    conn, _peer = listener.accept()
                except socket.timeout:
                    continue
                self.accepted += 1
                threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            self.action(conn)
            conn.settimeout(0.5)
            try:
                self.received.append(conn.recv(100))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def says(text: bytes) -> t.Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(text)


def silent(conn: socket.socket) -> None:
    time.sleep(1.5)


def hangs_up(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_RDWR)


def says_and_hangs_up(text: bytes) -> t.Callable[[socket.socket], None]:
    def action(conn: socket.socket) -> None:
        conn.sendall(text)
        conn.shutdown(socket.SHUT_RDWR)

    return action


@pytest.fixture
def servers() -> t.Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for server in made:
        server.close()


def serve(servers: list[Server], action: t.Callable[[socket.socket], None], **kwargs: t.Any) -> Server:
    servers.append(Server(action, **kwargs))
    return servers[-1]


def knock(port: int, expect: str = BANNER, timeout: float = 1.0) -> dict[str, t.Any]:
    return probe(Endpoint("127.0.0.1", port, expect, "smtp"), time.monotonic() + timeout, timeout)


# Probes -------------------------------------------------------------------------------------------


def test_a_220_banner_passes_and_the_session_ends_with_quit(servers: list[Server]) -> None:
    server = serve(servers, says(b"220 mx.example ESMTP Postfix\r\n"))
    result = knock(server.port)
    assert result["passed"] is True
    assert result["banner"] == "220 mx.example ESMTP Postfix"
    assert result["error"] is None and result["attempts"] == 1
    deadline = time.monotonic() + 2
    while not server.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.received == [b"QUIT\r\n"]


def test_a_postscreen_teaser_passes_without_a_word_from_the_client(servers: list[Server]) -> None:
    server = serve(servers, says(b"220-mx.example ESMTP\r\n"))
    assert knock(server.port)["passed"] is True
    time.sleep(0.6)
    assert server.received == [b""]  # postscreen's pregreet test sees nothing from us


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (says(b"421 mx.example Service not available\r\n"), "answered '421 mx.example Service not available', not a 220 banner"),
        (hangs_up, "connected, but the server closed the connection without a banner"),
        (says_and_hangs_up(b"220 no line end"), "connected, but the server closed the connection without a banner (after b'220 no line end')"),
        (silent, "connected, but no banner came within 0.5 s"),
    ],
)
def test_anything_but_a_220_banner_fails(servers: list[Server], action: t.Callable[[socket.socket], None], error: str) -> None:
    server = serve(servers, action)
    started = time.monotonic()
    result = knock(server.port, timeout=0.5)
    assert result["passed"] is False
    assert result["error"] == error
    assert time.monotonic() - started < 1.0


def test_connect_only_needs_the_connection(servers: list[Server]) -> None:
    server = serve(servers, silent)
    result = knock(server.port, CONNECT)
    assert result["passed"] is True and result["banner"] is None


def test_a_refused_connection_is_tried_again_until_the_deadline(servers: list[Server]) -> None:
    port = free_port()
    result = knock(port, timeout=0.5)
    assert result["passed"] is False
    assert result["error"].startswith("connection refused (") and result["error"].endswith(" attempt(s) in 0.5 s)")
    assert result["attempts"] >= 2
    assert 0.45 <= result["seconds"] < 1.0
    # a listener that comes up before the deadline is found
    late = serve(servers, says(b"220 late\r\n"), delay=0.3)
    result = knock(late.port, timeout=3)
    assert result["passed"] is True and result["attempts"] >= 2


def test_every_endpoint_is_probed_at_once(servers: list[Server]) -> None:
    quiet = [serve(servers, silent) for _server in range(6)]
    started = time.monotonic()
    results = probe_all([Endpoint("127.0.0.1", s.port, BANNER, "smtp") for s in quiet], 0.5)
    took = time.monotonic() - started
    assert [r["passed"] for r in results] == [False] * 6
    assert took < 1.5  # one deadline for all, not 6 x 0.5 s


def test_interface_addresses_include_the_loopback_address() -> None:
    found = interface_addresses()
    assert found is not None and "127.0.0.1" in found
    assert "0.0.0.0" not in found


# The verdict ----------------------------------------------------------------------------------------


class HealthFacts(FakeFacts):
    network: FakeNetwork

    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)

    def compiled_defaults(self) -> dict[str, str]:
        return dict(DEFAULTS)

    def status(self, config_directory: str) -> tuple[bool, str]:
        if config_directory in self.running:
            return True, ""
        return False, "postfix/postfix-script: the Postfix mail system is not running"


class Prober:
    """Answers probes from a table of endpoint -> passed, recording what was asked."""

    def __init__(self, failing: t.Iterable[tuple[str, int]] = ()) -> None:
        self.failing = set(failing)
        self.asked: list[Endpoint] = []

    def __call__(self, endpoints: t.Sequence[Endpoint], timeout: float) -> list[dict[str, t.Any]]:
        self.asked.extend(endpoints)
        return [
            {
                **e.to_dict(),
                "passed": (e.host, e.port) not in self.failing,
                "banner": None,
                "error": None if (e.host, e.port) not in self.failing else "connection refused (3 attempt(s) in 1 s)",
                "attempts": 1,
                "seconds": 0.0,
            }
            for e in endpoints
        ]


def lab(**masters: str) -> HealthFacts:
    """Primary on 192.0.2.25 (smtp); postfix-out enabled (master.cf as given); postfix-off disabled."""
    base = host(
        primary="inet_interfaces = 192.0.2.25\ninet_protocols = ipv4\nmulti_instance_wrapper = x\nmulti_instance_enable = yes\n",
        secondaries=[
            ("/etc/postfix-out", secondary_main("postfix-out", "mta", "yes") + "inet_interfaces = loopback-only\ninet_protocols = ipv4\n"),
            ("/etc/postfix-off", secondary_main("postfix-off", "mta", "no")),
        ],
    )
    facts = HealthFacts(files=dict(base.files), dirs=set(base.dirs), running={"/etc/postfix", "/etc/postfix-out"})
    facts.network = FakeNetwork()
    facts.write("/etc/postfix/master.cf", "smtp inet n - y - - smtpd\n")
    facts.write("/etc/postfix-out/master.cf", masters.get("out", "127.0.77.2:10026 inet n - n - - smtpd\n"))
    facts.write("/etc/postfix-off/master.cf", "smtp inet n - y - - smtpd\n")
    return facts


def test_a_healthy_host_and_what_was_probed() -> None:
    prober = Prober()
    result = check(lab(), timeout=1, prober=prober)
    assert result["failures"] == [] and result["passed"] is True
    assert [(e.host, e.port) for e in prober.asked] == [("192.0.2.25", 25), ("127.0.77.2", 10026)]
    assert result["msg"] == "2 enabled instance(s) run and 2 endpoint(s) answered"
    off = result["instances"][2]
    assert (off["name"], off["enabled"], off["passed"], off["probes"], off["listeners"]) == ("postfix-off", False, True, [], [])


def test_a_probe_that_fails_fails_the_instance() -> None:
    result = check(lab(), timeout=1, prober=Prober(failing=[("127.0.77.2", 10026)]))
    assert result["passed"] is False
    assert result["failures"] == [
        "postfix-out: 127.0.77.2:10026 (master.cf service 127.0.77.2:10026/inet, expects a 220 banner): connection refused (3 attempt(s) in 1 s)"
    ]
    assert [i["passed"] for i in result["instances"]] == [True, False, True]


def test_an_enabled_instance_that_does_not_run_fails_and_is_not_probed() -> None:
    facts = lab()
    facts.running.discard("/etc/postfix-out")
    prober = Prober()
    result = check(facts, timeout=1, prober=prober)
    assert result["failures"] == [
        "postfix-out (/etc/postfix-out): enabled, but postfix -c /etc/postfix-out status says: postfix/postfix-script: the Postfix mail system is not running"
    ]
    assert [(e.host, e.port) for e in prober.asked] == [("192.0.2.25", 25)]
    (skipped,) = result["instances"][1]["probes"]
    assert skipped["passed"] is None and skipped["error"] == "not probed: the instance does not run"


def test_a_nameless_primary_is_named_by_its_directory() -> None:
    facts = lab()
    facts.running.discard("/etc/postfix")
    result = check(facts, timeout=1, prober=Prober())
    assert result["failures"] == [
        "/etc/postfix: enabled, but postfix -c /etc/postfix status says: postfix/postfix-script: the Postfix mail system is not running"
    ]


def test_an_instance_with_its_inet_services_disabled_only_has_to_run() -> None:
    facts = lab()
    facts.write("/etc/postfix-out/main.cf", facts.files["/etc/postfix-out/main.cf"] + "master_service_disable = inet\n")
    prober = Prober()
    result = check(facts, timeout=1, prober=prober)
    assert result["passed"] is True
    assert result["instances"][1]["probes"] == []
    assert result["instances"][1]["listeners"][0]["disabled"] == "master_service_disable = inet"


def test_what_cannot_be_told_fails_unless_the_caller_replaces_the_probes() -> None:
    facts = lab(out="smtp inet n - n - - smtpd\n")
    facts.write("/etc/postfix-out/main.cf", facts.files["/etc/postfix-out/main.cf"] + "inet_interfaces = no-such-host.invalid\n")
    result = check(facts, timeout=1, prober=Prober())
    assert result["failures"] == ["postfix-out (/etc/postfix-out): cannot tell what to probe: smtp/inet: inet_interfaces: host not found: no-such-host.invalid"]
    replaced = check(facts, [{"instance": "out", "host": "127.0.77.2", "port": 25, "expect": "banner"}], ["out"], timeout=1, prober=Prober())
    assert replaced["passed"] is True
    out = replaced["instances"][1]
    assert out["probes_replaced"] is True
    assert [(p["host"], p["port"], p["service"]) for p in out["probes"]] == [("127.0.77.2", 25, None)]


def test_the_callers_probes_are_added_or_replace_the_derived_ones() -> None:
    given = [{"instance": "postfix-out", "host": "[::1]", "port": 2525, "expect": "connect"}]
    prober = Prober()
    check(lab(), given, timeout=1, prober=prober)
    assert [(e.host, e.port, e.expect, e.service) for e in prober.asked] == [
        ("192.0.2.25", 25, BANNER, "smtp"),
        ("127.0.77.2", 10026, BANNER, "127.0.77.2:10026"),
        ("::1", 2525, CONNECT, None),
    ]
    prober = Prober()
    check(lab(), given, ["/etc/postfix-out"], timeout=1, prober=prober)
    assert [(e.host, e.port) for e in prober.asked] == [("192.0.2.25", 25), ("::1", 2525)]
    prober = Prober()
    result = check(lab(), [], ["-", "out"], timeout=1, prober=prober)  # replaced by nothing: they only have to run
    assert prober.asked == [] and result["passed"] is True


def test_probes_for_instances_that_do_not_exist_or_are_disabled() -> None:
    result = check(lab(), [{"instance": "postfix-nope", "host": "127.0.0.1", "port": 25}], timeout=1, prober=Prober())
    assert result["failures"][0].startswith("probe for instance 'postfix-nope': no such instance (known: - (primary, /etc/postfix), postfix-out")
    result = check(lab(), [{"instance": "off", "host": "127.0.0.1", "port": 25}], timeout=1, prober=Prober())
    assert result["passed"] is True
    assert result["problems"] == ["postfix-off: disabled, so not probed; the probes given for it are ignored"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"host": "127.0.0.1", "port": 25}, "instance is required"),
        ({"instance": "-", "port": 25}, "host is required"),
        ({"instance": "-", "host": "127.0.0.1", "port": 0}, "port must be a number from 1 to 65535"),
        ({"instance": "-", "host": "127.0.0.1", "port": 25, "expect": "hello"}, "expect must be one of banner, connect"),
    ],
)
def test_malformed_probes_are_refused(spec: dict[str, t.Any], message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        check(lab(), [spec], timeout=1, prober=Prober())


def test_a_listed_instance_that_cannot_be_read_fails_the_check() -> None:
    facts = lab()
    del facts.files["/etc/postfix-off/main.cf"]
    result = check(facts, timeout=1, prober=Prober())
    assert result["failures"] == [
        "/etc/postfix-off: Failed to obtain all required /etc/postfix-off/main.cf parameters: /etc/postfix-off/main.cf does not exist; "
        "cannot tell whether it should run"
    ]


def test_hazards_of_the_enabled_instances_only() -> None:
    facts = lab(out="127.0.77.2:10026 inet n - n - - smtpd\n192.0.2.25:25 inet n - n - - smtpd\n")
    result = check(facts, timeout=1, prober=Prober())
    assert len(result["hazards"]) == 1 and "both bind 192.0.2.25:25: before Postfix 3.6" in result["hazards"][0]
    assert result["passed"] is True  # a warning, not a failure
    facts.write("/etc/postfix-off/master.cf", "192.0.2.25:25 inet n - n - - smtpd\n")
    facts.write("/etc/postfix-out/master.cf", "127.0.77.2:10026 inet n - n - - smtpd\n")
    assert check(facts, timeout=1, prober=Prober())["hazards"] == []  # postfix-off is disabled


# Queue limits ---------------------------------------------------------------------------------------


def test_a_queue_past_its_limit_fails_the_instance_and_a_full_one_passes() -> None:
    facts = lab()
    facts.queues["/var/spool/postfix-out"] = {"deferred": 3, "active": 1}
    facts.queues["/var/spool/postfix-off"] = {"deferred": 99}  # disabled: not checked
    result = check(facts, timeout=1, prober=Prober(), queue_limits={"deferred": 2, "active": 1})
    assert result["failures"] == ["postfix-out (/etc/postfix-out): its deferred queue holds 3 message(s), more than the limit of 2 (queue_limits)"]
    assert result["passed"] is False and result["msg"] == result["failures"][0]
    out = result["instances"][1]
    assert (out["passed"], out["queue_counts"]["deferred"], out["queue_counts"]["hold"]) == (False, 3, 0)
    assert "queue_counts" not in result["instances"][2]

    at_limit = check(facts, timeout=1, prober=Prober(), queue_limits={"deferred": "3", "active": 1})
    assert at_limit["passed"] is True, at_limit["failures"]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"bounce": 1}, "queue_limits: 'bounce' is not a Postfix queue; the queues are incoming, active, deferred, hold, maildrop, corrupt, saved"),
        ({"deferred": -1}, "queue_limits: the limit of the deferred queue must be a number of messages (0 or more), not -1"),
        ({"deferred": True}, "queue_limits: the limit of the deferred queue must be a number of messages (0 or more), not True"),
        ({"hold": "many"}, "queue_limits: the limit of the hold queue must be a number of messages (0 or more), not 'many'"),
    ],
)
def test_malformed_queue_limits_are_refused(limits: dict[str, t.Any], message: str) -> None:
    with pytest.raises(PostfixMultiError) as caught:
        check(lab(), timeout=1, prober=Prober(), queue_limits=limits)
    assert caught.value.msg == message


class _StatusFacts:
    """LocalFacts' answers for status(): which directories the master's lock answers, and one that breaks."""

    def __init__(self) -> None:
        self.lock_answers = {"/etc/postfix-a": True, "/etc/postfix-b": False, "/etc/postfix-c": False}

    def runs_as_configured(self, directory: str) -> bool:
        if directory == "/etc/postfix-broken":
            raise ValueError("cannot be read")
        return self.lock_answers[directory]


def test_statuses_asked_early_serve_one_check_and_are_dropped_after_a_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import LocalHealthHost

    host = LocalHealthHost(_StatusFacts())  # type: ignore[arg-type]
    asked: list[str] = []
    answers = iter([(True, ""), (False, "the Postfix mail system is not running"), (True, "later")])

    def postfix_status(directory: str) -> tuple[bool, str]:
        asked.append(directory)
        return next(answers)

    monkeypatch.setattr(host, "_postfix_status", postfix_status)
    # only what the lock cannot answer costs a postfix process; a directory that breaks is left to status()
    host.start_statuses(["/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c", "/etc/postfix-broken", "/etc/postfix-b"])
    assert host.status("/etc/postfix-a") == (True, "")
    assert {host.status("/etc/postfix-b"), host.status("/etc/postfix-c")} == {(True, ""), (False, "the Postfix mail system is not running")}
    assert sorted(asked) == ["/etc/postfix-b", "/etc/postfix-c"]
    # an early answer serves once: asked again, postfix is asked again
    assert host.status("/etc/postfix-b") == (True, "later") and sorted(asked) == ["/etc/postfix-b", "/etc/postfix-b", "/etc/postfix-c"]
    # after a change the early answers are not used: postfix is asked (the fake has no answer left)
    host.start_statuses(["/etc/postfix-c"])
    host.discard_statuses()
    with pytest.raises(StopIteration):
        host.status("/etc/postfix-c")


@pytest.mark.parametrize("timeout", [0, -1, 1e308, float("inf"), float("nan"), 3601, "soon", None])
def test_a_timeout_that_is_not_a_sane_number_of_seconds_is_refused_before_any_probe(timeout: t.Any) -> None:
    # 1e308 s overflowed the probes' socket timeouts in their threads (a traceback in the module's
    # output instead of a result); nan made every probe "not finish"
    prober = Prober()
    with pytest.raises(PostfixMultiError, match="must be a number of seconds"):
        check(lab(), timeout=timeout, prober=prober)
    assert prober.asked == []


@pytest.mark.parametrize("timeout", [0.5, 30, "20", 3600])
def test_a_sane_timeout_is_taken(timeout: t.Any) -> None:
    assert timeout_spec(timeout, "probe_timeout") == float(timeout)
