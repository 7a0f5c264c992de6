# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Where a Postfix instance listens, what answers there, and which combinations break.

Pure logic: the instance's ``main.cf`` and ``master.cf`` come parsed by the collection's one parser of
each format (``_maincf``, ``_mastercf``), and everything that depends on the host - port numbers of
service names, addresses of host names, the addresses configured on the network interfaces - comes
from a :class:`Network`. The rules follow Postfix's sources:

* ``master/master_ent.c``: every ``inet`` service of ``master.cf`` that ``master_service_disable``
  (``global/match_service.c``) does not turn off, and none at all when ``inet_protocols`` is empty.
  The service name is ``port``, ``host:port`` or ``[host]:port`` (``util/host_port.c``); a host in it
  is bound alone, otherwise ``inet_interfaces`` decides: ``all`` (in any case) binds the wildcard
  address of each protocol, ``loopback-only`` every loopback address configured on an interface
  that is up, anything else the listed addresses and host names (``global/own_inet_addr.c``, where
  each must be the address of a local interface, or master(8) does not start).
* What answers: smtpd(8) greets with ``220`` unless ``smtpd_tls_wrappermode = yes`` (then TLS
  comes first), postscreen(8) always greets; other programs (qmqpd, tlsproxy, spawn) are only
  expected to accept the connection.
* Hazards (warnings, not failures): two listeners of enabled instances on the same port with
  overlapping addresses (before Postfix 3.6 the second master(8) cannot bind; later versions bind
  with SO_REUSEPORT, util/inet_listen.c, and both start and share the connections), and
  SMTP next hops that the instance's own smtp(8) client refuses as "mail for X loops back to
  myself": a literal address on port 25 that is one of its own addresses (``smtp/smtp_addr.c``
  smtp_find_self(); ``smtp/smtp_connect.c`` sets SMTP_MISC_FLAG_LOOP_DETECT only for port 25),
  or a server on port 25 that answers EHLO with the client's own ``myhostname``
  (``smtp/smtp_proto.c``).
"""

from __future__ import annotations

import ipaddress
import posixpath
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, MainCfError, expand
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterEntry

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

__all__ = [
    "BANNER",
    "CONNECT",
    "EXPECTATIONS",
    "Endpoint",
    "InstanceListeners",
    "Listener",
    "Network",
    "NextHop",
    "Parameters",
    "clashes",
    "derive",
    "endpoint_label",
    "hazards",
    "host_port",
    "loops",
    "protocols",
    "reuseport",
    "service_disabled",
]

IPV4 = "ipv4"
IPV6 = "ipv6"
BANNER = "banner"
CONNECT = "connect"
EXPECTATIONS = (BANNER, CONNECT)
SMTP_PORT = 25  # IPPORT_SMTP: the only port with loop detection (smtp/smtp_connect.c)
ALL = "all"
LOOPBACK_ONLY = "loopback-only"
# CHARS_COMMA_SP: separators of match_service_init(), name_mask() (inet_protocols) and the
# smtp(8) next-hop list (smtp/smtp_connect.c argv_split()).
_COMMA_SP = " \t\r\n,"
# own_inet_addr.c splits inet_interfaces and proxy_interfaces at these.
_INTERFACE_SEPARATORS = " \t,"
_WILDCARD = {IPV4: "0.0.0.0", IPV6: "::"}
_LOOPBACK_PROBE = {IPV4: "127.0.0.1", IPV6: "::1"}
# master(8) programs that greet a client with "220": smtpd(8) and postscreen(8).
_GREETERS = ("smtpd", "postscreen")
_HOSTNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class Network(Protocol):
    """What the model asks the managed host."""

    def service_port(self, name: str) -> int | None:
        """The TCP port of a service name (``getservbyname(name, "tcp")``), None when unknown."""

    def resolve(self, host: str) -> list[str]:
        """The addresses of a host name or address literal (getaddrinfo), [] when not found."""

    def interface_addresses(self) -> list[str] | None:
        """The addresses of the interfaces that are up (getifaddrs), None when they cannot be listed."""


# Addresses -------------------------------------------------------------------------------------


def address_family(text: str) -> str | None:
    """IPV4 or IPV6 for an address literal (no brackets), None for anything else."""
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    return IPV4 if parsed.version == 4 else IPV6


def is_loopback(address: str) -> bool:
    """sock_addr_in_loopback() (util/sock_addr.h): 127.0.0.0/8 and ::1."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if parsed.version == 4:
        return parsed in ipaddress.ip_network("127.0.0.0/8")
    return parsed == ipaddress.ip_address("::1")


def same_address(left: str, right: str) -> bool:
    try:
        return ipaddress.ip_address(left) == ipaddress.ip_address(right)
    except ValueError:
        return left == right


def endpoint_label(host: str, port: int | str) -> str:
    """``127.0.0.1:25``, ``[::1]:25``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split(value: str, separators: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for char in value:
        if char in separators:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _valid_host(host: str) -> bool:
    """valid_hostname() or valid_hostaddr(), loosely: an address literal or a plausible DNS name."""
    if address_family(host) is not None:
        return True
    return bool(host) and all(char in _HOSTNAME_CHARS for char in host) and not host.startswith(".")


def host_port(text: str, default_service: str | None = None) -> tuple[str, str]:
    """util/host_port.c: split ``[host]:port``, ``host:port``, ``port`` (or ``:port``) into (host, port).

    ``default_service=None`` parses a master.cf service name (host_port(buf, &host, "", &port, NULL):
    the host may be empty, the port is required). With a default service it parses an smtp(8) next
    hop (host_port(buf, &host, NULL, &port, def_service): the host is required, the port optional).
    Brackets and an ``IPv6:`` prefix inside them are removed. Raises ValueError with Postfix's message.
    """
    server = default_service is None
    if text.startswith("["):
        inner = text[1:]
        ipv6 = inner[:5].lower() == "ipv6:"
        if ipv6:
            inner = inner[5:]
        host, closing, rest = inner.partition("]")
        if not closing:
            raise ValueError('missing "]"')
        if rest and not rest.startswith(":"):
            raise ValueError('garbage after "]"')
        if ipv6 and address_family(host) != IPV6:
            raise ValueError("malformed IPv6 address")
        port = rest[1:] if rest else ""
        if not port:
            if server:
                raise ValueError("missing service information")
            port = t.cast(str, default_service)
    else:
        head, colon, tail = text.rpartition(":")
        if colon:
            host = head
            port = tail or ("" if server else t.cast(str, default_service))
        elif server:
            host, port = "", text
        else:
            host, port = text, t.cast(str, default_service)
        if not host and not server:
            raise ValueError("missing host information")
        if not port:
            raise ValueError("missing service information")
    if host and not _valid_host(host):
        raise ValueError("valid hostname or network address required")
    if port[:1].isdigit() and not port.isdigit():
        raise ValueError("garbage after numerical service")
    return host, port


def tcp_port(service: str, network: Network) -> int:
    """A port number or a service name (``/etc/services``) as a number; ValueError when invalid."""
    if service.isdigit():
        number = int(service)
        if not 0 < number < 65536:
            raise ValueError(f"bad network port: {service}")
        return number
    number_or_none = network.service_port(service)
    if number_or_none is None:
        raise ValueError(f"unknown service: {service}/tcp")
    return number_or_none


def service_disabled(patterns: str, service: str, kind: str) -> bool:
    """Whether ``master_service_disable`` turns off the master.cf entry ``service``/``kind``.

    global/match_service.c: patterns ``type`` or ``name/type`` (``name.type``, the Postfix 2.6..2.10
    form, when a pattern has no ``/``), separated by commas and white space, compared without regard
    to case; ``!`` in front reverses a pattern; the first match decides.
    """
    name_type = f"{service}/{kind}".lower()
    for pattern in _split(patterns, _COMMA_SP):
        if "/" not in pattern and "." in pattern:
            head, _dot, tail = pattern.rpartition(".")
            pattern = f"{head}/{tail}"
        match = True
        while pattern.startswith("!"):
            match = not match
            pattern = pattern[1:]
        if (name_type if "/" in pattern else kind.lower()) == pattern.lower():
            return match
    return False


def protocols(value: str) -> tuple[str, ...]:
    """inet_protocols (util/inet_proto.c): the protocols it turns on, in Postfix's order."""
    found: set[str] = set()
    for word in _split(value, _COMMA_SP):
        low = word.lower()
        if low == ALL:
            found.update((IPV4, IPV6))
        elif low in (IPV4, IPV6):
            found.add(low)
        else:
            raise ValueError(f'invalid inet_protocols value "{word}" (use all, ipv4, ipv6 or both)')
    return tuple(proto for proto in (IPV4, IPV6) if proto in found)


# Parameters ------------------------------------------------------------------------------------


class Parameters:
    """main.cf parameters as a daemon of the instance sees them: the value in main.cf (a master.cf
    ``-o`` override first), else the compiled-in default, ``$name`` expanded as ``postconf -x`` does."""

    def __init__(
        self,
        main: MainCf,
        defaults: t.Mapping[str, str],
        config_directory: str,
        overrides: t.Mapping[str, str] | None = None,
    ) -> None:
        self.main = main
        self.defaults = defaults
        self.config_directory = config_directory
        self.overrides: dict[str, str] = dict(overrides or {})

    def raw(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        if name == "config_directory":
            return self.config_directory
        value = self.main.raw(name)
        if value is not None:
            return value
        return self.defaults.get(name)

    def get(self, name: str) -> str:
        """The expanded value, without surrounding white space; MainCfError as ``postconf -x`` fails."""
        return expand(self.raw(name) or "", self.raw).strip()

    def with_overrides(self, overrides: t.Mapping[str, str]) -> Parameters:
        if not overrides:
            return self
        return Parameters(self.main, self.defaults, self.config_directory, {**self.overrides, **overrides})


def entry_options(entry: MasterEntry) -> dict[str, str]:
    """The ``-o name=value`` overrides of a master.cf entry (its normalised argv, see _mastercf)."""
    options: dict[str, str] = {}
    args = entry.command[1:]
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-") or arg == "--":
            break
        if arg == "-o" and index + 1 < len(args):
            name, equals, value = args[index + 1].partition("=")
            if equals:
                options[name.strip()] = value.strip()
            index += 2
            continue
        index += 1
    return options


def program(entry: MasterEntry) -> str:
    return posixpath.basename(entry.command[0]) if entry.command else ""


def _is_yes(value: str) -> bool:
    return value.strip().lower() == "yes"


# The model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One probe: connect to host:port and expect a ``220`` banner, or only the connection."""

    host: str
    port: int
    expect: str = BANNER
    service: str | None = None  # the master.cf service it tests; None for a probe the caller gave

    @property
    def label(self) -> str:
        return endpoint_label(self.host, self.port)

    def to_dict(self) -> dict[str, t.Any]:
        return {"host": self.host, "port": self.port, "expect": self.expect, "service": self.service}


@dataclass(frozen=True)
class Listener:
    """One ``inet`` entry of master.cf and what master(8) binds for it."""

    service: str
    program: str
    port: int | None
    # where the addresses come from: "service" (a host in the service name), "all", "loopback-only"
    # or "inet_interfaces" (explicit addresses and names)
    source: str
    addresses: tuple[str, ...]  # what master(8) binds (wildcards for "all")
    expect: str
    myhostname: str = ""  # the name its smtpd(8) answers EHLO with
    disabled: str | None = None  # why master(8) does not open it
    problem: str | None = None  # why what it binds cannot be told
    probes: tuple[Endpoint, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.service}/inet"

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "service": self.service,
            "program": self.program,
            "port": self.port,
            "source": self.source,
            "addresses": list(self.addresses),
            "expect": self.expect,
            "disabled": self.disabled,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class NextHop:
    """A literal next hop of one of the instance's smtp(8) transports."""

    setting: str  # where it is set: "relayhost", "content_filter", "content_filter (-o of smtp/inet)" ...
    transport: str  # the master.cf transport (a unix service running smtp)
    destination: str  # as written
    address: str
    port: int
    own: tuple[str, ...] | None  # the addresses the transport's client counts as its own; None: unknown
    own_reason: str  # why they are its own (for messages)
    myhostname: str  # the client's myhostname


@dataclass
class InstanceListeners:
    """What one instance listens on, and what its smtp(8) client sends to."""

    label: str
    listeners: list[Listener] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    next_hops: list[NextHop] = field(default_factory=list)

    @property
    def probes(self) -> list[Endpoint]:
        """Every endpoint to probe: those of the listeners master(8) opens, without duplicates."""
        seen: dict[tuple[str, int, str], Endpoint] = {}
        for listener in self.listeners:
            if listener.disabled is None and listener.problem is None:
                for probe in listener.probes:
                    seen.setdefault((probe.host, probe.port, probe.expect), probe)
        return list(seen.values())

    @property
    def open_listeners(self) -> list[Listener]:
        return [listener for listener in self.listeners if listener.disabled is None]


class _Context:
    """The host's network as derive() asks it, interface addresses read once."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._interfaces: list[str] | None = None
        self._interfaces_read = False

    def interfaces(self) -> list[str] | None:
        if not self._interfaces_read:
            self._interfaces = self.network.interface_addresses()
            self._interfaces_read = True
        return self._interfaces

    def resolve(self, host: str, families: t.Sequence[str]) -> list[str]:
        """inet_addr_host(): the addresses of a name or literal (``[...]`` allowed) in the enabled protocols."""
        name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        found: list[str] = []
        for address in self.network.resolve(name):
            if address_family(address) in families and not any(same_address(address, seen) for seen in found):
                found.append(address)
        return found

    def explicit(self, value: str, families: t.Sequence[str], what: str) -> tuple[str, ...]:
        """own_inet_addr_init() for a list of hosts: each must resolve, and be a local interface's address."""
        hosts = _split(value, _INTERFACE_SEPARATORS)
        if not hosts:
            raise ValueError(f"{what} is empty: master(8) requires a host in the service name, or a non-empty {what}")
        addresses: list[str] = []
        interfaces = self.interfaces()
        for host in hosts:
            resolved = self.resolve(host, families)
            if not resolved:
                raise ValueError(f"{what}: host not found: {host}")
            for address in resolved:
                if interfaces is not None and not any(same_address(address, local) for local in interfaces):
                    raise ValueError(f"{what}: no local interface found for {address}")
                if not any(same_address(address, seen) for seen in addresses):
                    addresses.append(address)
        return tuple(addresses)

    def loopback(self, families: t.Sequence[str]) -> tuple[str, ...] | None:
        """The loopback addresses configured on interfaces that are up; None when they cannot be listed."""
        interfaces = self.interfaces()
        if interfaces is None:
            return None
        return tuple(a for a in interfaces if is_loopback(a) and address_family(a) in families)

    def bound(self, value: str, families: t.Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """(source, addresses) that master(8) binds for a service without a host (master_ent.c); ValueError when unknown."""
        if value.lower() == ALL:
            return ALL, tuple(_WILDCARD[family] for family in families)
        if value == LOOPBACK_ONLY:
            chosen = self.loopback(families)
            if chosen is None:
                # the interfaces cannot be listed: the loopback addresses every host has
                return LOOPBACK_ONLY, tuple(_LOOPBACK_PROBE[family] for family in families)
            if not chosen:
                raise ValueError(f"inet_interfaces = {LOOPBACK_ONLY}, but no loopback address is configured on an interface that is up")
            return LOOPBACK_ONLY, chosen
        return "inet_interfaces", self.explicit(value, families, "inet_interfaces")

    def own_addresses(self, params: Parameters, families: t.Sequence[str]) -> tuple[tuple[str, ...] | None, str]:
        """own_inet_addr_list() plus proxy_interfaces of a client with these parameters: (addresses, why)."""
        value = params.get("inet_interfaces")
        own: tuple[str, ...] | None
        if value == ALL:
            interfaces = self.interfaces()
            own = None if interfaces is None else tuple(a for a in interfaces if address_family(a) in families)
            reason = "inet_interfaces = all makes every address of the host's interfaces its own"
        elif value == LOOPBACK_ONLY:
            own = self.loopback(families)
            reason = "inet_interfaces = loopback-only makes every loopback address configured on the host's interfaces its own"
        else:
            try:
                own = self.explicit(value, families, "inet_interfaces")
            except ValueError:
                own = None
            reason = f"inet_interfaces = {value}"
        if own is None:
            return None, ""
        proxies: list[str] = []
        for host in _split(params.get("proxy_interfaces"), _INTERFACE_SEPARATORS):
            proxies.extend(self.resolve(host, families))
        if proxies:
            reason += f", proxy_interfaces = {params.get('proxy_interfaces')}"
        return own + tuple(proxies), reason


def _expectation(entry: MasterEntry, params: Parameters) -> str:
    name = program(entry)
    if name == "postscreen":
        return BANNER  # postscreen(8) has no wrapper mode: it always greets in plain text
    if name == "smtpd":
        return CONNECT if _is_yes(params.get("smtpd_tls_wrappermode")) else BANNER
    return CONNECT


def _probe_addresses(source: str, addresses: t.Sequence[str], families: t.Sequence[str], interfaces: list[str] | None) -> list[str]:
    """Where to knock: the loopback address of each protocol for "all" and "loopback-only", else each address."""
    if source == ALL:
        chosen = []
        for family in families:
            probe = _LOOPBACK_PROBE[family]
            # ::1 only where the host has it (a host without IPv6 refuses the connection attempt)
            if family == IPV4 or (interfaces is not None and any(same_address(probe, a) for a in interfaces)):
                chosen.append(probe)
        return chosen
    if source == LOOPBACK_ONLY:
        chosen = []
        for family in families:
            candidates = [a for a in addresses if address_family(a) == family]
            preferred = [a for a in candidates if same_address(a, _LOOPBACK_PROBE[family])]
            if preferred or candidates:
                chosen.append((preferred or candidates)[0])
        return chosen
    return list(addresses)


def _listener(entry: MasterEntry, base: Parameters, context: _Context, families: t.Sequence[str], disable: str) -> Listener:
    params = base.with_overrides(entry_options(entry))
    name = program(entry)
    disabled: str | None = None
    if not families:
        disabled = "inet_protocols is empty: master(8) turns off every inet service"
    elif service_disabled(disable, entry.service, "inet"):
        disabled = f"master_service_disable = {disable}"
    port: int | None = None
    try:
        host, service_port = host_port(entry.service)
        port = tcp_port(service_port, context.network)
        expect = _expectation(entry, params)
        myhostname = params.get("myhostname") if name in _GREETERS else ""
    except (ValueError, MainCfError) as exc:
        if disabled is not None:
            # master(8) never reads what a disabled entry would bind
            return Listener(entry.service, name, port, "", (), CONNECT, disabled=disabled)
        return Listener(entry.service, name, port, "", (), CONNECT, problem=f"{entry.service}/inet: {exc}")
    if disabled is not None:
        return Listener(entry.service, name, port, "", (), expect, myhostname, disabled=disabled)
    try:
        if host:
            source = "service"
            addresses = tuple(context.resolve(host, families))
            if not addresses:
                raise ValueError(f"bad hostname or network address: {entry.service}")
        else:
            source, addresses = context.bound(base.get("inet_interfaces"), families)
    except (ValueError, MainCfError) as exc:
        return Listener(entry.service, name, port, "", (), expect, myhostname, problem=f"{entry.service}/inet: {exc}")
    hosts = _probe_addresses(source, addresses, families, context.interfaces())
    probes = tuple(Endpoint(address, port, expect, entry.service) for address in hosts)
    problem = None
    if not probes:
        problem = f"{entry.service}/inet: no address to probe (inet_interfaces = {base.get('inet_interfaces')}, inet_protocols = {base.get('inet_protocols')})"
    return Listener(entry.service, name, port, source, addresses, expect, myhostname, None, problem, probes)


def _transport_spec(value: str) -> tuple[str, str]:
    """``transport:nexthop`` -> (transport, nexthop)."""
    transport, _colon, nexthop = value.partition(":")
    return transport.strip(), nexthop.strip()


def _next_hops(master: MasterCf, base: Parameters, context: _Context, families: t.Sequence[str], open_entries: list[MasterEntry]) -> list[NextHop]:
    """The literal next hops (IP addresses) that the instance's smtp(8) transports are given."""
    candidates: list[tuple[str, str, str]] = []  # (setting, transport, destination list)
    default_transport = _transport_spec(base.get("default_transport"))
    relay_transport = _transport_spec(base.get("relay_transport"))
    relayhost = base.get("relayhost")
    for setting, (transport, nexthop) in (("default_transport", default_transport), ("relay_transport", relay_transport)):
        if nexthop:
            candidates.append((setting, transport, nexthop))
        elif relayhost:
            candidates.append(("relayhost", transport, relayhost))
    content_filters = [("content_filter", base.get("content_filter"))]
    for entry in open_entries:
        options = entry_options(entry)
        if options.get("content_filter"):
            content_filters.append((f"content_filter (-o of {entry.service}/{entry.type})", base.with_overrides(options).get("content_filter")))
    for setting, value in content_filters:
        transport, nexthop = _transport_spec(value)
        if value and nexthop:
            candidates.append((setting, transport, nexthop))
    fallback = base.get("smtp_fallback_relay")
    if fallback:
        for transport in dict.fromkeys(spec[0] for spec in (default_transport, relay_transport)):
            candidates.append(("smtp_fallback_relay", transport, fallback))

    hops: list[NextHop] = []
    seen: set[tuple[str, str, str]] = set()
    for setting, transport, destinations in candidates:
        client = master.get(transport, "unix")
        if client is None or program(client) != "smtp":
            continue  # not an SMTP client (lmtp, error, a filter pipe...): no loop detection
        params = base.with_overrides(entry_options(client))
        try:
            default_service = params.get("smtp_tcp_port") or "smtp"
            own, reason = context.own_addresses(params, families)
            myhostname = params.get("myhostname")
        except MainCfError:
            continue
        for destination in _split(destinations, _COMMA_SP):
            if (setting, transport, destination) in seen:
                continue
            seen.add((setting, transport, destination))
            try:
                host, service = host_port(destination, default_service)
                port = tcp_port(service, context.network)
            except ValueError:
                continue
            if address_family(host) is None:
                continue  # a name: resolving it is DNS's business, not a literal next hop
            hops.append(NextHop(setting, transport, destination, host, port, own, reason, myhostname))
    return hops


def derive(label: str, main: MainCf, master: MasterCf, defaults: t.Mapping[str, str], config_directory: str, network: Network) -> InstanceListeners:
    """The listeners, probes and literal SMTP next hops of one instance, from its live files.

    ``defaults`` are the compiled-in defaults (``postconf -d``). Whatever makes it impossible to tell
    where an open inet service listens (a fatal master.cf entry, a main.cf syntax error, a host
    name that does not resolve, an unknown service name) is listed in ``problems``.
    """
    result = InstanceListeners(label)
    result.problems.extend(f"master.cf {problem} (master(8) does not start)" for problem in master.errors())
    result.problems.extend(f"main.cf {problem}" for problem in main.errors())
    base = Parameters(main, defaults, config_directory)
    context = _Context(network)
    try:
        families = protocols(base.get("inet_protocols"))
        disable = base.get("master_service_disable")
    except (ValueError, MainCfError) as exc:
        result.problems.append(str(exc))
        return result
    open_entries: list[MasterEntry] = []
    for entry in master.entries():
        if entry.type == "inet":
            listener = _listener(entry, base, context, families, disable)
            result.listeners.append(listener)
            if listener.problem is not None:
                result.problems.append(listener.problem)
        if not service_disabled(disable, entry.service, entry.type) and (entry.type != "inet" or families):
            open_entries.append(entry)
    try:
        result.next_hops = _next_hops(master, base, context, families, open_entries)
    except MainCfError as exc:
        result.problems.append(str(exc))
    return result


# Hazards ---------------------------------------------------------------------------------------


def _overlap(left: Listener, right: Listener) -> tuple[list[str], list[str], Listener | None]:
    """Where both bind the same port: (addresses both bind, addresses one binds and the other's wildcard
    covers, the listener with the wildcard among those)."""
    exact: list[str] = []
    covered: list[str] = []
    wide: Listener | None = None
    if left.port is None or left.port != right.port:
        return exact, covered, wide
    for one in left.addresses:
        for other in right.addresses:
            family = address_family(one)
            if family is None or family != address_family(other):
                continue
            if same_address(one, other):
                if one not in exact:
                    exact.append(one)
            elif one == _WILDCARD[family] or other == _WILDCARD[family]:
                wide = left if one == _WILDCARD[family] else right
                shown = other if one == _WILDCARD[family] else one
                if shown not in covered:
                    covered.append(shown)
    return exact, covered, wide


def _describe_binding(listener: Listener) -> str:
    if listener.source == "service":
        return f"{listener.name}"
    if listener.source == "inet_interfaces":
        return f"{listener.name} with inet_interfaces = {', '.join(listener.addresses)}"
    return f"{listener.name} with inet_interfaces = {listener.source}"


def _covers(listener: Listener, address: str, port: int, interfaces: t.Sequence[str] | None) -> bool:
    """Whether a connection to address:port on this host reaches the listener."""
    if listener.port != port or listener.disabled is not None or listener.problem is not None:
        return False
    family = address_family(address)
    for bound in listener.addresses:
        if same_address(bound, address):
            return True
        # a wildcard listener takes connections to every local address (and to all of 127.0.0.0/8)
        local = is_loopback(address) or (interfaces is not None and any(same_address(address, mine) for mine in interfaces))
        if family is not None and bound == _WILDCARD[family] and local:
            return True
    return False


def reuseport(mail_version: str) -> bool | None:
    """Whether this Postfix binds its listeners with SO_REUSEPORT: 3.6 and later do (util/inet_listen.c,
    HISTORY 20200425), so that two masters can listen on one address and port. None when unknown."""
    numbers: list[int] = []
    for part in mail_version.split("-", 1)[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    if len(numbers) < 2:
        return None
    return tuple(numbers[:2]) >= (3, 6)


def clashes(instances: t.Sequence[InstanceListeners], shared_bind: bool | None = None) -> list[str]:
    """Listeners of the given (enabled) instances that bind the same port on overlapping addresses.

    ``shared_bind`` (see reuseport()) says what follows: without SO_REUSEPORT the master(8) started second
    cannot bind and does not start; with it both start, and the kernel hands each connection for an address
    that both bind to either of them, or, where one binds the address and the other the wildcard, to the
    one with the address only (Linux prefers the more specific listener).
    """
    found: list[str] = []
    listeners = [(inst, listener) for inst in instances for listener in inst.open_listeners if listener.problem is None]
    owner = {id(listener): inst for inst, listener in listeners}
    for index, (inst, listener) in enumerate(listeners):
        for other_inst, other in listeners[index + 1 :]:
            exact, covered, wide = _overlap(listener, other)
            if not exact and not covered:
                continue
            port = t.cast(int, listener.port)
            where = ", ".join(endpoint_label(address, port) for address in exact + covered)
            if other_inst is inst:
                who = f"{inst.label}: {_describe_binding(listener)} and {_describe_binding(other)} both bind {where}"
            else:
                who = f"{inst.label} ({_describe_binding(listener)}) and {other_inst.label} ({_describe_binding(other)}) both bind {where}"
            refused = 'the master(8) started second cannot bind ("Address already in use") and does not start'
            if shared_bind is False:
                found.append(f"{who}: {refused}")
            elif shared_bind is None:
                found.append(f"{who}: before Postfix 3.6 {refused}; later versions start both and share the connections between them")
            elif exact:
                split = ", ".join(endpoint_label(address, port) for address in exact)
                found.append(
                    f"{who}: both start (Postfix 3.6 and later bind with SO_REUSEPORT), and the kernel hands each connection "
                    f"to {split} to either of them - mail meant for one is received by the other"
                )
            else:
                narrow = other if wide is listener else listener
                found.append(
                    f"{who}: both start (Postfix 3.6 and later bind with SO_REUSEPORT), and connections to {where} reach only "
                    f"{owner[id(narrow)].label}'s {narrow.name}, never {owner[id(t.cast(Listener, wide))].label}'s {t.cast(Listener, wide).name}"
                )
    return found


def loops(instances: t.Sequence[InstanceListeners], interfaces: t.Sequence[str] | None = None) -> list[str]:
    """SMTP next hops (port 25) of the given (enabled) instances that their smtp(8) client refuses as loops."""
    found: list[str] = []
    for inst in instances:
        for hop in inst.next_hops:
            if hop.port != SMTP_PORT:
                continue
            refusal = f'its smtp(8) client refuses it: "mail for {hop.address} loops back to myself"'
            if hop.own is not None and any(same_address(hop.address, own) for own in hop.own):
                found.append(
                    f"{inst.label}: {hop.setting} sends mail to {hop.destination}, port 25 of {hop.address}, one of the instance's own "
                    f"addresses ({hop.own_reason}); {refusal}. Use another port (as content filters do) or other inet_interfaces"
                )
                continue
            for peer in instances:
                if peer is inst:
                    continue
                for listener in peer.open_listeners:
                    if listener.program not in _GREETERS or not _covers(listener, hop.address, hop.port, interfaces):
                        continue
                    if listener.myhostname and listener.myhostname.lower() == hop.myhostname.lower():
                        found.append(
                            f"{inst.label}: {hop.setting} sends mail to {hop.destination}, where {peer.label}'s {listener.name} answers EHLO "
                            f"with {listener.myhostname}, the myhostname of {inst.label} too; {refusal}. Give the instances different "
                            "myhostname settings (Postfix's MULTI_INSTANCE_README)"
                        )
    return found


def hazards(instances: t.Sequence[InstanceListeners], interfaces: t.Sequence[str] | None = None, mail_version: str = "") -> list[str]:
    """Warnings about the enabled instances of a host (pass only those): listener clashes, then SMTP loops.
    ``mail_version`` is the host's Postfix version (``postconf -d mail_version``), see clashes()."""
    return list(dict.fromkeys(clashes(instances, reuseport(mail_version)) + loops(instances, interfaces)))
