# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The health check of a multi-instance host (the ``postfix_health`` module, the rollout's gate).

One call: the instances as ``postmulti -l`` lists them (``_registry``), whether each enabled one
runs (``postfix -c DIR status``), and for each enabled one the endpoints that its live ``main.cf``
and ``master.cf`` make it listen on (``_listeners``), plus or instead of the caller's, all probed at
once until one deadline. A connection that is refused is tried again until the deadline (an
instance that was just started may not listen yet); nothing else waits.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import socket
import sys
import threading
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import MAIL_QUEUES, LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import describe
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._listeners import (
    BANNER,
    CONNECT,
    EXPECTATIONS,
    Endpoint,
    InstanceListeners,
    Network,
    derive,
    endpoint_label,
    hazards,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance, Registry

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

# How long a refused connection waits before it is tried again (the only wait of a probe).
RETRY_INTERVAL = 0.2
# A banner line longer than this is not an SMTP greeting (RFC 5321 4.5.3.1.5: 512 octets).
_BANNER_LIMIT = 4096
_IFF_UP = 0x1  # net/if.h


class HealthHost(Protocol):
    """What the check asks the managed host (``LocalHealthHost`` answers from this machine)."""

    network: Network

    def defaults(self) -> dict[str, str]:
        """The compiled-in defaults the instance list needs (``postconf -d NAMES``)."""

    def compiled_defaults(self) -> dict[str, str]:
        """Every compiled-in default (``postconf -d``), for ``$name`` expansion as ``postconf -x`` does."""

    def read_text(self, path: str) -> str | None: ...

    def status(self, config_directory: str) -> tuple[bool, str]:
        """Whether the instance runs (``postfix -c DIR status``, as postmulti decides), and what the command said."""

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        """The number of queue files in each queue directory (``_facts.MAIL_QUEUES``)."""


Prober = t.Callable[[t.Sequence[Endpoint], float], t.List[t.Dict[str, t.Any]]]


# The host's network ------------------------------------------------------------------------------


class _Sockaddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_ubyte * 14)]


class _Sockaddr6(ctypes.Structure):
    _fields_ = [
        ("sin6_family", ctypes.c_ushort),
        ("sin6_port", ctypes.c_uint16),
        ("sin6_flowinfo", ctypes.c_uint32),
        ("sin6_addr", ctypes.c_ubyte * 16),
        ("sin6_scope_id", ctypes.c_uint32),
    ]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_Ifaddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.POINTER(_Sockaddr)),
    ("ifa_netmask", ctypes.POINTER(_Sockaddr)),
    ("ifa_ifu", ctypes.POINTER(_Sockaddr)),
    ("ifa_data", ctypes.c_void_p),
]


def interface_addresses() -> list[str] | None:
    """The addresses of the interfaces that are up, as Postfix's inet_addr_local() lists them with
    getifaddrs(3) (util/inet_addr_local.c: interfaces that are up, with an address and a netmask,
    no wildcard address). None where that cannot be done (not Linux, no getifaddrs in the C library)."""
    if not sys.platform.startswith("linux"):
        return None  # the struct sockaddr layout below is Linux's
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        getifaddrs = libc.getifaddrs
        freeifaddrs = libc.freeifaddrs
    except (OSError, AttributeError):
        return None
    getifaddrs.argtypes = [ctypes.POINTER(ctypes.POINTER(_Ifaddrs))]
    freeifaddrs.argtypes = [ctypes.POINTER(_Ifaddrs)]
    head = ctypes.POINTER(_Ifaddrs)()
    if getifaddrs(ctypes.byref(head)) != 0:
        return None
    found: list[str] = []
    try:
        current = head
        while current:
            item = current.contents
            current = item.ifa_next
            if not item.ifa_flags & _IFF_UP or not item.ifa_addr or not item.ifa_netmask:
                continue
            family = item.ifa_addr.contents.sa_family
            if family == socket.AF_INET:
                packed = bytes(item.ifa_addr.contents.sa_data[2:6])
            elif family == socket.AF_INET6:
                packed = bytes(ctypes.cast(item.ifa_addr, ctypes.POINTER(_Sockaddr6)).contents.sin6_addr)
            else:
                continue
            if not any(packed):
                continue  # the wildcard address
            address = socket.inet_ntop(family, packed)
            if address not in found:
                found.append(address)
    finally:
        freeifaddrs(head)
    return found


class LocalNetwork:
    """The Network of this machine: /etc/services, the resolver, getifaddrs(3)."""

    def __init__(self) -> None:
        self._interfaces: list[str] | None = None
        self._read = False

    def service_port(self, name: str) -> int | None:
        try:
            return socket.getservbyname(name, "tcp")
        except OSError:
            return None

    def resolve(self, host: str) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        found: list[str] = []
        for family, _type, _proto, _name, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                address = str(sockaddr[0]).split("%", 1)[0]
                if address not in found:
                    found.append(address)
        return found

    def interface_addresses(self) -> list[str] | None:
        if not self._read:
            self._interfaces = interface_addresses()
            self._read = True
        return self._interfaces


class LocalHealthHost:
    """This machine: files, ``postconf -d``, ``postfix status`` (via _facts.LocalFacts), its network."""

    def __init__(self, facts: LocalFacts | None = None, remember: bool = False) -> None:
        """``remember``: leave what a successful ``postfix status`` read in the instance's data directory,
        so that a later check tells the same from the master's lock (LocalFacts.runs_as_configured);
        never in check mode."""
        self.facts = facts or LocalFacts()
        self.network: Network = LocalNetwork()
        self.remember = remember
        self._early: dict[str, concurrent.futures.Future[tuple[bool, str]]] = {}

    def start_statuses(self, directories: t.Sequence[str]) -> None:
        """Ask ``postfix status`` now, in the background, for each of ``directories`` that the master's
        lock cannot answer (``status``): a caller that changes nothing before its health check does not
        wait for them then. ``discard_statuses`` once anything was changed."""
        asked = []
        for directory in dict.fromkeys(directories):
            try:
                if directory not in self._early and not self.facts.runs_as_configured(directory):
                    asked.append(directory)
            except Exception:  # noqa: BLE001 # pylint: disable=broad-exception-caught
                continue  # an early answer only saves time: status() will ask, and say what is wrong
        if not asked:
            return
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(asked)))
        self._early.update((directory, pool.submit(self._postfix_status, directory)) for directory in asked)
        pool.shutdown(wait=False)  # the calls run on; status() waits for the one it needs

    def discard_statuses(self) -> None:
        """Forget the answers of ``start_statuses``, once the calls have ended: before the caller changes
        the host (nothing of them runs, or writes its status_key, meanwhile)."""
        for early in self._early.values():
            early.exception()  # waits; what it raised does not matter any more
        self._early.clear()

    def defaults(self) -> dict[str, str]:
        return self.facts.defaults()

    def compiled_defaults(self) -> dict[str, str]:
        return self.facts.compiled_defaults()

    def read_text(self, path: str) -> str | None:
        return self.facts.read_text(path)

    def status(self, config_directory: str) -> tuple[bool, str]:
        # Not the master's lock alone: postfix status also fails when main.cf no longer loads (a
        # running master keeps the configuration it read), which the gate must report. Where nothing
        # that postfix(1) reads has changed since the master started, the lock is all it could add
        # (LocalFacts.runs_as_configured); else postfix status itself, its terminal as stderr:
        # postfix tells why only there (see _runner)
        early = self._early.pop(config_directory, None)
        if early is not None:
            return early.result()
        if self.facts.runs_as_configured(config_directory):
            return True, ""
        return self._postfix_status(config_directory)

    def _postfix_status(self, config_directory: str) -> tuple[bool, str]:
        key = self._status_key(config_directory) if self.remember else None
        result = _runner.run([self.facts.postfix(), "-c", config_directory, "status"], tty=True)
        if result.rc == 0 and key is not None:
            self.facts.remember_status(config_directory, key)
        return result.rc == 0, result.output

    def _status_key(self, config_directory: str) -> str | None:
        pid_file = self.facts.master_pid_file(config_directory)
        return None if pid_file is None else self.facts.status_key(config_directory, pid_file)

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        return self.facts.queue_counts(queue_directory)


# Probes --------------------------------------------------------------------------------------------


def _connect(host: str, port: int, deadline: float, timeout: float) -> tuple[socket.socket | None, str, int]:
    """Connect before the deadline, trying a refused connection again: (socket or None, error, attempts)."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return None, f"cannot resolve {host}: {exc}", 0
    family, kind, proto, _name, sockaddr = infos[0]
    attempts = 0
    while True:
        attempts += 1
        sock = socket.socket(family, kind, proto)
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            sock.connect(sockaddr)
        except ConnectionRefusedError:
            sock.close()
            pause = min(RETRY_INTERVAL, deadline - time.monotonic())
            if pause <= 0:
                return None, f"connection refused ({attempts} attempt(s) in {timeout:g} s)", attempts
            time.sleep(pause)
            continue
        except socket.timeout:
            sock.close()
            return None, f"no answer to the connection attempt within {timeout:g} s", attempts
        except OSError as exc:
            sock.close()
            return None, f"cannot connect: {exc.strerror or exc}", attempts
        return sock, "", attempts


def _banner(sock: socket.socket, deadline: float, timeout: float) -> tuple[str | None, str]:
    """The first line the server sends before the deadline: (line or None, error)."""
    data = b""
    while b"\n" not in data and len(data) < _BANNER_LIMIT:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, f"connected, but no banner came within {timeout:g} s" + (f" (only {data!r})" if data else "")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(_BANNER_LIMIT)
        except socket.timeout:
            continue
        except OSError as exc:
            return None, f"connected, but reading the banner failed: {exc.strerror or exc}"
        if not chunk:
            return None, "connected, but the server closed the connection without a banner" + (f" (after {data!r})" if data else "")
        data += chunk
    return data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace"), ""


def probe(endpoint: Endpoint, deadline: float, timeout: float) -> dict[str, t.Any]:
    """Probe one endpoint until the deadline; the result as the module returns it."""
    started = time.monotonic()
    result: dict[str, t.Any] = {**endpoint.to_dict(), "passed": False, "banner": None, "error": None}
    sock, error, result["attempts"] = _connect(endpoint.host, endpoint.port, deadline, timeout)
    if sock is None:
        result["error"] = error
    else:
        with sock:
            if endpoint.expect == CONNECT:
                result["passed"] = True
            else:
                line, error = _banner(sock, deadline, timeout)
                result["banner"] = line
                if line is None:
                    result["error"] = error
                elif line.startswith("220"):
                    result["passed"] = True
                    if line.startswith("220 "):
                        # end the session politely; not after a "220-" (postscreen's pregreet test listens)
                        try:
                            sock.sendall(b"QUIT\r\n")
                        except OSError:
                            pass
                else:
                    result["error"] = f"answered {line!r}, not a 220 banner"
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def probe_all(endpoints: t.Sequence[Endpoint], timeout: float) -> list[dict[str, t.Any]]:
    """Probe every endpoint at the same time, each until one common deadline ``timeout`` s from now."""
    deadline = time.monotonic() + timeout
    results: list[dict[str, t.Any] | None] = [None] * len(endpoints)

    def work(index: int) -> None:
        results[index] = probe(endpoints[index], deadline, timeout)

    threads = [threading.Thread(target=work, args=(index,), daemon=True) for index in range(len(endpoints))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 5)
    done: list[dict[str, t.Any]] = []
    for endpoint, result in zip(endpoints, results):
        if result is None:  # pragma: no cover - every probe ends at the deadline
            result = {**endpoint.to_dict(), "passed": False, "banner": None, "error": "the probe did not finish", "attempts": 0, "seconds": timeout}
        done.append(result)
    return done


# The check -----------------------------------------------------------------------------------------


def caller_endpoints(specs: t.Sequence[t.Mapping[str, t.Any]]) -> list[tuple[str, Endpoint]]:
    """The caller's probes as (instance selector, endpoint); PostfixMultiError for a malformed one."""
    found: list[tuple[str, Endpoint]] = []
    for spec in specs:
        selector = spec.get("instance")
        host = spec.get("host")
        port = spec.get("port")
        expect = spec.get("expect") or BANNER
        where = f"probe {dict(spec)!r}"
        if not isinstance(selector, str) or not selector:
            raise PostfixMultiError(f"{where}: instance is required (a name, a name without postfix-, a configuration directory or - for the primary)")
        if not isinstance(host, str) or not host.strip("[] "):
            raise PostfixMultiError(f"{where}: host is required (an address or a host name)")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise PostfixMultiError(f"{where}: port must be a number from 1 to 65535")
        if expect not in EXPECTATIONS:
            raise PostfixMultiError(f"{where}: expect must be one of {', '.join(EXPECTATIONS)}")
        host = host.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        found.append((selector, Endpoint(host, port, expect, None)))
    return found


# The longest a health check may wait for its probes: an hour. Longer is a mistake (a value in
# milliseconds, 1e308), and one that socket timeouts cannot even represent.
MAX_TIMEOUT = 3600.0


def timeout_spec(value: t.Any, option: str = "timeout") -> float:
    """The probes' time in seconds; PostfixMultiError unless a finite number above 0 and at most an hour."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise PostfixMultiError(f"{option} must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for nan
        raise PostfixMultiError(f"{option} must be a number of seconds above 0 and at most {MAX_TIMEOUT:.0f} (an hour), not {value!r}")
    return seconds


def queue_limit_spec(limits: t.Mapping[str, t.Any] | None) -> dict[str, int]:
    """The caller's queue limits as {queue: most messages}; PostfixMultiError for a malformed one."""
    found: dict[str, int] = {}
    for queue, limit in (limits or {}).items():
        if queue not in MAIL_QUEUES:
            raise PostfixMultiError(f"queue_limits: {queue!r} is not a Postfix queue; the queues are {', '.join(MAIL_QUEUES)}")
        if isinstance(limit, str) and limit.strip().isdigit() and len(limit.strip()) <= 18:
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise PostfixMultiError(f"queue_limits: the limit of the {queue} queue must be a number of messages (0 or more), not {limit!r}")
        found[queue] = limit
    return found


def _what(probe_result: t.Mapping[str, t.Any]) -> str:
    expects = "a 220 banner" if probe_result["expect"] == BANNER else "a connection"
    origin = f"master.cf service {probe_result['service']}/inet" if probe_result["service"] else "probe given for the instance"
    return f"{origin}, expects {expects}"


def _statuses(host: HealthHost, directories: t.Sequence[str]) -> dict[str, tuple[bool, str]]:
    """``host.status`` of every directory, asked at the same time (each is a postfix process)."""
    if len(directories) < 2:
        return {directory: host.status(directory) for directory in directories}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(directories))) as pool:
        return dict(zip(directories, pool.map(host.status, directories)))


def check(
    host: HealthHost,
    probes: t.Sequence[t.Mapping[str, t.Any]] = (),
    replace_probes: t.Sequence[str] = (),
    timeout: float = 30.0,
    prober: Prober = probe_all,
    queue_limits: t.Mapping[str, t.Any] | None = None,
) -> dict[str, t.Any]:
    """The health of every instance of the host; ``failures`` is empty when the host is healthy.

    With ``queue_limits`` ({queue: most messages}), an enabled instance whose queue holds more
    queue files than its limit fails too: mail that piles up is not a healthy host."""
    timeout = timeout_spec(timeout)
    given = caller_endpoints(probes)
    limits = queue_limit_spec(queue_limits)
    reg = Registry.load(host.defaults(), host.read_text)
    failures: list[str] = []
    notes = [problem for problem in reg.problems if problem not in reg.broken.values()]
    for directory, problem in reg.broken.items():
        failures.append(f"{directory}: {problem}; cannot tell whether it should run")

    def find(selector: str, what: str) -> Instance | None:
        inst = reg.find(selector)
        if inst is None:
            known = ", ".join(describe(i) for i in reg.instances)
            failures.append(f"{what} {selector!r}: no such instance (known: {known})")
        return inst

    extra: dict[str, list[Endpoint]] = {}
    for selector, endpoint in given:
        inst = find(selector, "probe for instance")
        if inst is not None and endpoint not in extra.setdefault(inst.config_directory, []):
            extra[inst.config_directory].append(endpoint)
    replaced: set[str] = set()
    for selector in replace_probes:
        inst = find(selector, "replace_probes: instance")
        if inst is not None:
            replaced.add(inst.config_directory)

    compiled: dict[str, str] | None = None
    records: list[dict[str, t.Any]] = []
    views: list[InstanceListeners] = []
    scheduled: list[tuple[dict[str, t.Any], Endpoint]] = []
    statuses = _statuses(host, [inst.config_directory for inst in reg.instances])
    for inst in reg.instances:
        label = inst.name or inst.config_directory
        directory = inst.config_directory
        running, said = statuses[directory]
        record: dict[str, t.Any] = {
            **inst.to_dict(),
            "running": running,
            "passed": True,
            "probes_replaced": directory in replaced,
            "listeners": [],
            "probes": [],
            "problems": [],
        }
        records.append(record)
        if not inst.enabled:
            if directory in extra or directory in replaced:
                notes.append(f"{label}: disabled, so not probed; the probes given for it are ignored")
            continue
        if not running:
            # "the Postfix mail system is not running", or why postfix cannot tell (a fatal configuration error)
            record["problems"].append(f"enabled, but postfix -c {directory} status says: {said}" if said else "enabled, but not running")
        if limits:
            counts = host.queue_counts(inst.queue_directory)
            record["queue_counts"] = {queue: int(counts.get(queue, 0)) for queue in MAIL_QUEUES}
            for queue, limit in limits.items():
                if record["queue_counts"][queue] > limit:
                    record["problems"].append(
                        f"its {queue} queue holds {record['queue_counts'][queue]} message(s), more than the limit of {limit} (queue_limits)"
                    )
        if compiled is None:
            compiled = host.compiled_defaults()
        main_text = host.read_text(directory + "/main.cf")
        master_text = host.read_text(directory + "/master.cf")
        view = derive(label, MainCf.parse(main_text or ""), MasterCf.parse(master_text or ""), compiled, directory, host.network)
        if master_text is None:
            view.problems.insert(0, f"{directory}/master.cf does not exist")
        views.append(view)
        record["listeners"] = [listener.to_dict() for listener in view.listeners]
        endpoints: list[Endpoint] = []
        if directory not in replaced:
            endpoints.extend(view.probes)
            record["problems"].extend(f"cannot tell what to probe: {problem}" for problem in view.problems)
        for endpoint in extra.get(directory, []):
            if not any((e.host, e.port, e.expect) == (endpoint.host, endpoint.port, endpoint.expect) for e in endpoints):
                endpoints.append(endpoint)
        for endpoint in endpoints:
            if record["running"]:
                scheduled.append((record, endpoint))
            else:
                record["probes"].append(
                    {**endpoint.to_dict(), "passed": None, "banner": None, "error": "not probed: the instance does not run", "attempts": 0, "seconds": 0.0}
                )

    results = prober([endpoint for _record, endpoint in scheduled], timeout) if scheduled else []
    for (record, _endpoint), result in zip(scheduled, results):
        record["probes"].append(result)

    for record in records:
        label = record["name"] or record["config_directory"]
        who = label if label == record["config_directory"] else f"{label} ({record['config_directory']})"
        for problem in record["problems"]:
            failures.append(f"{who}: {problem}")
        for result in record["probes"]:
            if result["passed"] is False:
                failures.append(f"{label}: {endpoint_label(result['host'], result['port'])} ({_what(result)}): {result['error']}")
        record["passed"] = not record["problems"] and all(result["passed"] for result in record["probes"])

    failures = list(dict.fromkeys(failures))
    warnings = hazards(views, host.network.interface_addresses(), (compiled or {}).get("mail_version", ""))
    enabled = [record for record in records if record["enabled"]]
    probed = sum(len(record["probes"]) for record in enabled)
    if failures:
        msg = "; ".join(failures)
    else:
        msg = f"{len(enabled)} enabled instance(s) run and {probed} endpoint(s) answered"
    return {
        "changed": False,
        "passed": not failures,
        "msg": msg,
        "instances": records,
        "failures": failures,
        "hazards": warnings,
        "problems": notes,
    }


# The caller's probes (postfix_health; postfix_multi_host with probe=true), as caller_endpoints() reads them,
# and the queue limits, as queue_limit_spec() reads them.
PROBE_OPTIONS: dict[str, t.Any] = {
    "probes": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "instance": {"type": "str", "required": True},
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "required": True},
            "expect": {"type": "str", "choices": ["banner", "connect"], "default": "banner"},
        },
    },
    "replace_probes": {"type": "list", "elements": "str", "default": []},
    "queue_limits": {"type": "dict", "default": {}},
}


def health(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_health`` module: ``check`` on this host; fails when the host is not healthy."""
    result = check(LocalHealthHost(), options["probes"], options["replace_probes"], options["timeout"], queue_limits=options["queue_limits"])
    result["warnings"] = result["problems"] + result["hazards"]
    if result["failures"]:
        result["failed"] = True
    return result


HEALTH = Interface({"argument_spec": dict(PROBE_OPTIONS, timeout={"type": "float", "default": 30.0})}, health)
