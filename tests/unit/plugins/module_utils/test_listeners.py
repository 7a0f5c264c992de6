# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where an instance listens, what answers there, and the hazards of issue 11 (defects 5 and 6).

The master.cf texts are Debian's stock file (fixtures/mastercf, copied from the postfix packages)
and entries from Postfix's MULTI_INSTANCE_README; the expectations come from Postfix's sources
(master/master_ent.c, global/match_service.c, util/host_port.c, global/own_inet_addr.c,
smtp/smtp_addr.c, smtp/smtp_connect.c, smtp/smtp_proto.c). tests/integration/test_health.py checks
the same rules against real Postfix.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._listeners import (
    BANNER,
    CONNECT,
    InstanceListeners,
    derive,
    endpoint_label,
    hazards,
    host_port,
    protocols,
    reuseport,
    service_disabled,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf
from hypothesis import given
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mastercf"
DEBIAN12 = (FIXTURES / "debian12.master.cf").read_text()
DEBIAN11 = (FIXTURES / "debian11.master.cf").read_text()

# What `postconf -d` says for the parameters the model reads (Postfix 3.7 on Debian 12), plus myhostname.
DEFAULTS = {
    "inet_interfaces": "all",
    "inet_protocols": "all",
    "master_service_disable": "",
    "smtpd_tls_wrappermode": "no",
    "myhostname": "host.example",
    "default_transport": "smtp",
    "relay_transport": "relay",
    "relayhost": "",
    "content_filter": "",
    "smtp_fallback_relay": "",
    "smtp_tcp_port": "smtp",
    "proxy_interfaces": "",
}

# MULTI_INSTANCE_README, "Setting up the output Postfix instance": the re-injection listener.
README_OUT_LISTENER = "127.0.0.1:10026     inet  n       -       n       -       -       smtpd\n"


@dataclass
class FakeNetwork:
    """/etc/services, a resolver and the interface addresses of a host."""

    interfaces: list[str] | None = field(default_factory=lambda: ["127.0.0.1", "127.0.77.2", "127.0.77.3", "192.0.2.25", "::1", "2001:db8::25"])
    names: dict[str, list[str]] = field(default_factory=lambda: {"localhost": ["127.0.0.1", "::1"], "mx.example": ["192.0.2.25", "2001:db8::25"]})
    services: dict[str, int] = field(default_factory=lambda: {"smtp": 25, "submission": 587, "submissions": 465, "smtps": 465, "qmqp": 628})

    def service_port(self, name: str) -> int | None:
        return self.services.get(name)

    def resolve(self, host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return list(self.names.get(host, []))

    def interface_addresses(self) -> list[str] | None:
        return None if self.interfaces is None else list(self.interfaces)


def view(main: str = "", master: str = DEBIAN12, network: FakeNetwork | None = None, label: str = "postfix-out") -> InstanceListeners:
    return derive(label, MainCf.parse(main), MasterCf.parse(master), DEFAULTS, f"/etc/{label}", network or FakeNetwork())


def probes(listeners: InstanceListeners) -> list[tuple[str, int, str, str | None]]:
    return [(p.host, p.port, p.expect, p.service) for p in listeners.probes]


def enable(text: str, service: str) -> str:
    """Uncomment a commented-out entry of the stock master.cf and its "#  -o" lines."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if re.match(rf"#{re.escape(service)}\s", line):
            lines[index] = line[1:]
            for follow in range(index + 1, len(lines)):
                if lines[follow].startswith("#  -o"):
                    lines[follow] = lines[follow][1:]
                elif not lines[follow].startswith("#     "):
                    break
            return "".join(lines)
    raise AssertionError(f"no commented {service} entry")


def without(text: str, service: str, kind: str) -> str:
    return MasterCf.parse(text).remove(service, kind).render()


# The stock master.cf -------------------------------------------------------------------------


@pytest.mark.parametrize("stock", [DEBIAN11, DEBIAN12], ids=["debian11", "debian12"])
def test_stock_master_cf_listens_for_smtp_on_every_address(stock: str) -> None:
    result = view(master=stock)
    assert result.problems == []
    assert [(lst.service, lst.program, lst.port, lst.source, lst.addresses) for lst in result.listeners] == [("smtp", "smtpd", 25, "all", ("0.0.0.0", "::"))]
    # inet_interfaces = all: knock on the loopback address of each protocol the host has
    assert probes(result) == [("127.0.0.1", 25, BANNER, "smtp"), ("::1", 25, BANNER, "smtp")]


def test_all_probes_no_ipv6_loopback_that_the_host_lacks() -> None:
    assert probes(view(network=FakeNetwork(interfaces=["127.0.0.1", "192.0.2.25"]))) == [("127.0.0.1", 25, BANNER, "smtp")]
    assert probes(view("inet_protocols = ipv4")) == [("127.0.0.1", 25, BANNER, "smtp")]


def test_stock_services_each_with_what_answers() -> None:
    master = DEBIAN12
    for service in ("submission", "submissions", "628"):
        master = enable(master, service)
    result = view(master=master)
    assert [(lst.service, lst.port, lst.expect) for lst in result.listeners] == [
        ("smtp", 25, BANNER),
        ("submission", 587, BANNER),
        ("submissions", 465, CONNECT),  # -o smtpd_tls_wrappermode=yes: TLS first, no plain-text banner
        ("628", 628, CONNECT),  # qmqpd speaks QMQP, not SMTP
    ]
    assert ("127.0.0.1", 465, CONNECT, "submissions") in probes(result)


def test_debian11_smtps_is_a_wrapper_mode_service() -> None:
    result = view("inet_protocols = ipv4", master=enable(DEBIAN11, "smtps"))
    assert ("127.0.0.1", 465, CONNECT, "smtps") in probes(result)


def test_postscreen_greets_even_with_wrapper_mode_set() -> None:
    master = enable(without(DEBIAN12, "smtp", "inet"), "smtp      inet  n       -       y       -       1       postscreen")
    result = view("inet_protocols = ipv4\nsmtpd_tls_wrappermode = yes", master=master)
    assert probes(result) == [("127.0.0.1", 25, BANNER, "smtp")]
    assert result.listeners[0].program == "postscreen"


def test_a_service_bound_to_a_host_is_probed_there_only() -> None:
    master = enable(DEBIAN12, "127.0.0.1:submission")
    result = view("inet_interfaces = 192.0.2.25\ninet_protocols = ipv4", master=master)
    assert probes(result) == [("192.0.2.25", 25, BANNER, "smtp"), ("127.0.0.1", 587, BANNER, "127.0.0.1:submission")]


# Defect 5: the loopback-only re-injection instance -----------------------------------------


def test_loopback_only_instance_whose_only_listener_is_an_explicit_service() -> None:
    """MULTI_INSTANCE_README's postfix-out: the gate probed 127.0.0.1:25, where it does not listen."""
    master = without(DEBIAN12, "smtp", "inet") + README_OUT_LISTENER
    result = view("inet_interfaces = loopback-only\ninet_protocols = ipv4", master=master)
    assert result.problems == []
    assert probes(result) == [("127.0.0.1", 10026, BANNER, "127.0.0.1:10026")]
    lab = master.replace("127.0.0.1:10026", "127.0.77.2:10026")
    assert probes(view("inet_interfaces = loopback-only", master=lab)) == [("127.0.77.2", 10026, BANNER, "127.0.77.2:10026")]


def test_loopback_only_binds_every_loopback_address_and_probes_127_0_0_1_and_the_ipv6_one() -> None:
    result = view("inet_interfaces = loopback-only")
    (smtp,) = result.listeners
    assert smtp.source == "loopback-only"
    assert smtp.addresses == ("127.0.0.1", "127.0.77.2", "127.0.77.3", "::1")
    assert probes(result) == [("127.0.0.1", 25, BANNER, "smtp"), ("::1", 25, BANNER, "smtp")]


# master_service_disable, inet_protocols ------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "smtp_open", "submission_open"),
    [
        ("inet", False, False),  # what postmulti gives a new instance
        ("smtp/inet", False, True),
        ("smtp.inet", False, True),  # the Postfix 2.6..2.10 form
        ("SMTP/INET", False, True),  # patterns ignore case
        ("!submission/inet, inet", False, True),  # the first match decides
        ("inet, !submission/inet", False, False),
        ("smtp", True, True),  # a bare word names a type, and there is no type "smtp"
        ("unix", True, True),
        ("!!inet", False, False),
    ],
)
def test_master_service_disable(setting: str, smtp_open: bool, submission_open: bool) -> None:
    result = view(f"master_service_disable = {setting}\ninet_protocols = ipv4", master=enable(DEBIAN12, "submission"))
    opened = {lst.service: lst.disabled is None for lst in result.listeners}
    assert opened == {"smtp": smtp_open, "submission": submission_open}
    assert [p.service for p in result.probes] == [s for s, is_open in opened.items() if is_open]


def test_an_instance_with_every_inet_service_disabled_has_nothing_to_probe_and_nothing_unclear() -> None:
    # nothing is resolved for a disabled entry: master(8) never reads what it would bind
    result = view("master_service_disable = inet\ninet_interfaces = no-such-host.invalid", master=enable(DEBIAN12, "submission"))
    assert result.probes == [] and result.problems == []
    assert all(lst.disabled == "master_service_disable = inet" for lst in result.listeners)


def test_empty_inet_protocols_turns_every_inet_service_off() -> None:
    result = view("inet_protocols =")
    assert result.probes == [] and result.problems == []
    assert result.listeners[0].disabled is not None and "inet_protocols is empty" in result.listeners[0].disabled


def test_unknown_inet_protocols_value_cannot_be_told() -> None:
    assert view("inet_protocols = ipv5").problems == ['invalid inet_protocols value "ipv5" (use all, ipv4, ipv6 or both)']


@pytest.mark.parametrize(("value", "expected"), [("all", ("ipv4", "ipv6")), ("ipv6, ipv4", ("ipv4", "ipv6")), ("IPv4", ("ipv4",)), ("", ())])
def test_protocols(value: str, expected: tuple[str, ...]) -> None:
    assert protocols(value) == expected


# Live values: $name expansion and -o overrides ------------------------------------------------


def test_values_are_expanded_as_postconf_x_does() -> None:
    main = "public = 192.0.2.25\ninet_interfaces = $public\ninet_protocols = ipv4\nwrap = yes\n"
    master = DEBIAN12 + "submissions inet n - y - - smtpd -o smtpd_tls_wrappermode=$wrap\n"
    assert probes(view(main, master=master)) == [("192.0.2.25", 25, BANNER, "smtp"), ("192.0.2.25", 465, CONNECT, "submissions")]


def test_a_macro_error_cannot_be_told() -> None:
    result = view("inet_interfaces = ${oops\n")
    assert result.probes == []
    assert any("truncated macro reference" in problem for problem in result.problems)


# What cannot be told makes the gate fail --------------------------------------------------------


@pytest.mark.parametrize(
    ("main", "master", "problem"),
    [
        ("inet_interfaces = no-such-host.invalid", DEBIAN12, "smtp/inet: inet_interfaces: host not found: no-such-host.invalid"),
        ("inet_interfaces = 198.51.100.7", DEBIAN12, "smtp/inet: inet_interfaces: no local interface found for 198.51.100.7"),
        ("inet_interfaces =", DEBIAN12, "smtp/inet: inet_interfaces is empty"),
        ("", "nosuch inet n - n - - smtpd\n", "nosuch/inet: unknown service: nosuch/tcp"),
        ("", "25x inet n - n - - smtpd\n", "25x/inet: garbage after numerical service"),
        ("", "bad.invalid:25 inet n - n - - smtpd\n", "bad.invalid:25/inet: bad hostname or network address: bad.invalid:25"),
        ("", "[::1 inet n - n - - smtpd\n", '[::1/inet: missing "]"'),
        ("", "smtp inet n - n - smtpd\n", "master.cf line 1: bad field count (master(8) does not start)"),
    ],
)
def test_what_cannot_be_told(main: str, master: str, problem: str) -> None:
    result = view(main, master=master)
    assert any(found.startswith(problem) for found in result.problems), result.problems
    assert result.probes == []


def test_names_in_inet_interfaces_are_resolved_in_the_enabled_protocols() -> None:
    assert probes(view("inet_interfaces = mx.example\ninet_protocols = ipv4")) == [("192.0.2.25", 25, BANNER, "smtp")]
    assert probes(view("inet_interfaces = mx.example, 127.0.0.1")) == [
        ("192.0.2.25", 25, BANNER, "smtp"),
        ("2001:db8::25", 25, BANNER, "smtp"),
        ("127.0.0.1", 25, BANNER, "smtp"),
    ]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("2525", [("127.0.0.1", 2525)]),
        (":2525", [("127.0.0.1", 2525)]),
        ("127.0.77.2:smtp", [("127.0.77.2", 25)]),
        ("[::1]:2525", [("::1", 2525)]),
        ("[ipv6:::1]:2525", [("::1", 2525)]),
        ("localhost:2525", [("127.0.0.1", 2525), ("::1", 2525)]),
    ],
)
def test_service_name_forms(service: str, expected: list[tuple[str, int]]) -> None:
    result = view("inet_interfaces = loopback-only\ninet_protocols = all", master=f"{service} inet n - n - - smtpd\n")
    got = [(p.host, p.port) for p in result.probes]
    assert got == expected or (service in ("2525", ":2525") and got == [*expected, ("::1", 2525)])


def test_interfaces_that_cannot_be_listed() -> None:
    network = FakeNetwork(interfaces=None)
    assert probes(view("inet_interfaces = loopback-only\ninet_protocols = ipv4", network=network)) == [("127.0.0.1", 25, BANNER, "smtp")]
    assert probes(view("inet_interfaces = 198.51.100.7", network=network)) == [("198.51.100.7", 25, BANNER, "smtp")]


# Properties -------------------------------------------------------------------------------------

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ports = st.integers(min_value=1, max_value=65535)


@given(st.one_of(ipv4, ipv6), ports)
def test_host_port_reads_back_every_endpoint_label(host: str, port: int) -> None:
    assert host_port(endpoint_label(host, port)) == (host, str(port))
    assert host_port(endpoint_label(host, port), "smtp") == (host, str(port))


@given(st.one_of(ipv4, ipv6))
def test_a_next_hop_without_a_port_gets_the_default_service(host: str) -> None:
    assert host_port(f"[{host}]", "smtp") == (host, "smtp")
    with pytest.raises(ValueError, match="missing service information"):
        host_port(f"[{host}]")  # a master.cf service needs a port


@given(st.lists(ipv4, min_size=1, max_size=5), ports)
def test_explicit_inet_interfaces_are_probed_each_once_in_order(addresses: list[str], port: int) -> None:
    network = FakeNetwork(interfaces=["127.0.0.1", *addresses])
    result = view(f"inet_interfaces = {', '.join(addresses)}\ninet_protocols = ipv4", master=f"{port} inet n - n - - smtpd\n", network=network)
    assert probes(result) == [(address, port, BANNER, str(port)) for address in dict.fromkeys(addresses)]


names = st.sampled_from(["smtp", "submission", "127.0.0.1:10026", "628", "pickup"])
kinds = st.sampled_from(["inet", "unix", "pass", "fifo"])
patterns = st.one_of(kinds, st.builds(lambda n, k: f"{n}/{k}", names, kinds)).flatmap(lambda p: st.sampled_from([p, "!" + p, p.upper()]))


@given(st.lists(patterns, max_size=6), names, kinds)
def test_master_service_disable_double_negation_and_first_match(pattern_list: list[str], service: str, kind: str) -> None:
    value = ", ".join(pattern_list)
    decided = service_disabled(value, service, kind)
    assert service_disabled(" ".join("!!" + p for p in pattern_list), service, kind) == decided
    # what comes after a matching pattern changes nothing; an exact "!name/type" first turns it on
    assert service_disabled(f"!{service}/{kind}, {value}", service, kind) is False
    assert service_disabled(f"{service}/{kind} {value}", service, kind) is True


# Hazards (defect 6) -----------------------------------------------------------------------------


def instance(label: str, main: str, master: str = DEBIAN12, network: FakeNetwork | None = None) -> InstanceListeners:
    return view(main, master=master, network=network, label=label)


def test_listener_clashes_between_instances() -> None:
    primary = instance("/etc/postfix", "inet_interfaces = 127.0.77.2\ninet_protocols = ipv4")
    explicit = instance("postfix-b", "inet_protocols = ipv4", master="127.0.77.2:25 inet n - n - - smtpd\n")
    everything = instance("postfix-c", "inet_protocols = ipv4")
    loopback = instance("postfix-d", "inet_interfaces = loopback-only\ninet_protocols = ipv4")
    other_port = instance("postfix-e", "inet_protocols = ipv4", master="127.0.77.2:2525 inet n - n - - smtpd\n")
    unlisted = instance("postfix-f", "inet_protocols = ipv4", master="127.0.0.9:25 inet n - n - - smtpd\n")

    same = "/etc/postfix (smtp/inet with inet_interfaces = 127.0.77.2) and postfix-b (127.0.77.2:25/inet) both bind 127.0.77.2:25: "
    # Postfix 3.5 (Debian 11): the second master(8) cannot bind
    assert hazards([primary, explicit], mail_version="3.5.25") == [
        same + 'the master(8) started second cannot bind ("Address already in use") and does not start'
    ]
    # Postfix 3.6 and later bind with SO_REUSEPORT: both run, and share the connections
    assert hazards([primary, explicit], mail_version="3.7.11") == [
        same + "both start (Postfix 3.6 and later bind with SO_REUSEPORT), and the kernel hands each connection to 127.0.77.2:25 to "
        "either of them - mail meant for one is received by the other"
    ]
    assert hazards([primary, explicit])[0] == same + (
        'before Postfix 3.6 the master(8) started second cannot bind ("Address already in use") and does not start; '
        "later versions start both and share the connections between them"
    )
    # a wildcard and an address: the more specific listener gets that address's connections
    assert hazards([primary, everything], mail_version="3.10.2") == [
        "/etc/postfix (smtp/inet with inet_interfaces = 127.0.77.2) and postfix-c (smtp/inet with inet_interfaces = all) both bind 127.0.77.2:25: "
        "both start (Postfix 3.6 and later bind with SO_REUSEPORT), and connections to 127.0.77.2:25 reach only /etc/postfix's smtp/inet, "
        "never postfix-c's smtp/inet"
    ]
    # loopback-only binds every loopback address on the interfaces, the lab's 127.0.N.x included
    assert "both bind 127.0.77.2:25: both start" in hazards([primary, loopback], mail_version="3.7.11")[0]
    assert hazards([primary, other_port]) == []
    # 127.0.0.9 is in 127.0.0.0/8 but on no interface: loopback-only does not bind it
    assert hazards([loopback, unlisted]) == []
    # a disabled instance is not passed; a disabled service does not clash
    assert hazards([primary, instance("postfix-g", "master_service_disable = inet\ninet_protocols = ipv4")]) == []


@pytest.mark.parametrize(
    ("version", "expected"), [("3.5.25", False), ("3.6.0", True), ("3.7.11", True), ("3.10.13", True), ("3.11-20250101", True), ("2.11.3", False), ("", None)]
)
def test_postfix_binds_with_so_reuseport_since_3_6(version: str, expected: bool | None) -> None:
    assert reuseport(version) is expected


def test_ipv6_wildcard_does_not_clash_with_ipv4() -> None:
    v6 = instance("postfix-a", "inet_protocols = ipv6")
    v4 = instance("postfix-b", "inet_interfaces = 127.0.77.2\ninet_protocols = ipv4")
    assert hazards([v6, v4]) == []


def test_two_services_of_one_instance_on_one_address() -> None:
    one = instance("postfix-a", "inet_interfaces = 127.0.77.2\ninet_protocols = ipv4", master=DEBIAN12 + "127.0.77.2:smtp inet n - n - - smtpd\n")
    (clash,) = hazards([one])
    assert clash.startswith("postfix-a: smtp/inet with inet_interfaces = 127.0.77.2 and 127.0.77.2:smtp/inet both bind 127.0.77.2:25: ")


REINJECT = without(DEBIAN12, "smtp", "inet") + "127.0.77.2:10026 inet n - n - - smtpd\n"


@pytest.mark.parametrize(
    ("main", "setting", "destination"),
    [
        ("relayhost = [127.0.77.3]", "relayhost", "[127.0.77.3]"),
        ("relayhost = [127.0.77.3]:25", "relayhost", "[127.0.77.3]:25"),
        ("relayhost = [127.0.77.3]:smtp", "relayhost", "[127.0.77.3]:smtp"),
        ("relayhost = 127.0.77.3", "relayhost", "127.0.77.3"),
        ("default_transport = smtp:[127.0.0.1]", "default_transport", "[127.0.0.1]"),
        ("relay_transport = relay:[::1]:25", "relay_transport", "[::1]:25"),
        ("content_filter = smtp:[127.0.77.3]", "content_filter", "[127.0.77.3]"),
        ("relayhost = [hub.example], [127.0.77.3]", "relayhost", "[127.0.77.3]"),
        ("smtp_fallback_relay = [127.0.77.3]", "smtp_fallback_relay", "[127.0.77.3]"),
    ],
)
def test_loopback_only_next_hops_on_port_25_of_its_own_addresses_loop(main: str, setting: str, destination: str) -> None:
    out = instance("postfix-out", f"inet_interfaces = loopback-only\n{main}", master=REINJECT)
    (warning,) = hazards([out])
    address = host_port(destination, "smtp")[0]
    assert warning.startswith(f"postfix-out: {setting} sends mail to {destination}, port 25 of {address}, one of the instance's own addresses")
    assert "loopback-only makes every loopback address configured on the host's interfaces its own" in warning
    assert f'"mail for {address} loops back to myself"' in warning


@pytest.mark.parametrize(
    "main",
    [
        "relayhost = [127.0.77.3]:2525",  # loop detection is for port 25 only
        "relayhost = [127.0.0.9]",  # 127.0.0.0/8, but on no interface: not its own
        "relayhost = [hub.example]",  # a name: not a literal next hop
        "content_filter = smtp-amavis:[127.0.0.1]:10024",  # the classic content filter port
        "content_filter = lmtp:[127.0.0.1]:25",  # LMTP: no loop detection
        "relayhost = [127.0.77.3]\nsmtp_tcp_port = 2525",  # the default port is not 25
        "relayhost = [127.0.77.3]\ndefault_transport = error\nrelay_transport = error",  # no smtp(8) delivers to it
        "relayhost = [192.0.2.25]",  # an interface address, but not a loopback one
    ],
)
def test_next_hops_that_do_not_loop(main: str) -> None:
    assert hazards([instance("postfix-out", f"inet_interfaces = loopback-only\n{main}", master=REINJECT)]) == []


def test_inet_interfaces_all_and_explicit_own_addresses() -> None:
    everything = instance("postfix-a", "relayhost = [192.0.2.25]", master=REINJECT)
    assert "inet_interfaces = all makes every address of the host's interfaces its own" in hazards([everything])[0]
    explicit = instance("postfix-b", "inet_interfaces = 127.0.77.2\nrelayhost = [127.0.77.2]", master=REINJECT)
    assert "one of the instance's own addresses (inet_interfaces = 127.0.77.2)" in hazards([explicit])[0]
    proxy = instance("postfix-c", "inet_interfaces = 127.0.77.2\nproxy_interfaces = 192.0.2.25\nrelayhost = [192.0.2.25]", master=REINJECT)
    assert "proxy_interfaces = 192.0.2.25" in hazards([proxy])[0]


def test_an_override_in_master_cf_is_the_clients_setting() -> None:
    master = REINJECT.replace(
        "relay     unix  -       -       y       -       -       smtp\n",
        "relay     unix  -       -       y       -       -       smtp -o inet_interfaces=127.0.77.3\n",
    )
    assert master != REINJECT
    out = instance("postfix-out", "inet_interfaces = loopback-only\nrelay_transport = relay:[127.0.77.2]", master=master)
    assert hazards([out]) == []  # relay's client has its own inet_interfaces, and 127.0.77.2 is not in it
    filtered = REINJECT.replace("127.0.77.2:10026 inet n - n - - smtpd\n", "127.0.77.2:10026 inet n - n - - smtpd -o content_filter=smtp:[127.0.0.1]\n")
    (warning,) = hazards([instance("postfix-out", "inet_interfaces = loopback-only", master=filtered)])
    assert warning.startswith("postfix-out: content_filter (-o of 127.0.77.2:10026/inet) sends mail to [127.0.0.1], port 25 of 127.0.0.1")


def test_a_server_that_answers_ehlo_with_the_clients_myhostname() -> None:
    """MULTI_INSTANCE_README: instances that send each other mail over SMTP on port 25 need different myhostname settings."""
    sender = instance("postfix-a", "inet_interfaces = 127.0.77.2\ninet_protocols = ipv4\nrelayhost = [127.0.77.3]", master=REINJECT)
    same_name = instance("postfix-b", "inet_interfaces = 127.0.77.3\ninet_protocols = ipv4")
    (warning,) = hazards([sender, same_name])
    assert warning.startswith("postfix-a: relayhost sends mail to [127.0.77.3], where postfix-b's smtp/inet answers EHLO with host.example")
    assert "Give the instances different myhostname settings" in warning
    own_name = instance("postfix-b", "inet_interfaces = 127.0.77.3\ninet_protocols = ipv4\nmyhostname = b.example")
    assert hazards([sender, own_name]) == []
    override = instance(
        "postfix-b", "inet_interfaces = 127.0.77.3\ninet_protocols = ipv4", master=DEBIAN12.replace("smtpd\n", "smtpd -o myhostname=b.example\n", 1)
    )
    assert hazards([sender, override]) == []
    # a wildcard listener takes the connection too
    wildcard = instance("postfix-b", "inet_protocols = ipv4", master=DEBIAN12)
    assert any("where postfix-b's smtp/inet answers EHLO" in w for w in hazards([sender, wildcard]))


def test_hazards_need_the_interfaces_for_loopback_only() -> None:
    out = instance("postfix-out", "inet_interfaces = loopback-only\nrelayhost = [127.0.77.3]", master=REINJECT, network=FakeNetwork(interfaces=None))
    assert hazards([out]) == []  # unknown, not guessed
    assert out.next_hops[0].own is None


def test_listener_records_for_the_module() -> None:
    (smtp,) = view("inet_interfaces = 127.0.77.2\ninet_protocols = ipv4").listeners
    record: dict[str, t.Any] = smtp.to_dict()
    assert record == {
        "service": "smtp",
        "program": "smtpd",
        "port": 25,
        "source": "inet_interfaces",
        "addresses": ["127.0.77.2"],
        "expect": "banner",
        "disabled": None,
        "problem": None,
    }
