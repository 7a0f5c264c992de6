# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Monitoring that knows instances: what each instance logs as, listens on and holds in its queues.

The ``postfix_instance_info`` module (``observe``) and the ``postfix_metrics`` module (the same,
written as Prometheus text-format metrics for node_exporter's textfile collector).

Queues are read the way Postfix lists them: ``postqueue -c DIR -j`` (postqueue(1), Postfix 3.1
and later). While the instance runs it asks the instance's showq(8) service; while it is stopped,
postqueue runs showq(8) in its stand-alone mode for the superuser ("Mail system is down --
accessing queue directly"). Where postqueue cannot list the queue (an older Postfix without
``-j``, a stopped instance for a caller who is not root, a main.cf that no longer loads) the queue
files are counted instead; ``queue_source`` says which. showq(8) never lists the ``corrupt`` and
``saved`` queues: those are always counted from their files.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import UNSAFE_WRITES, Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import MAIL_QUEUES, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import LocalHealthHost
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import HostFacts, gather
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._listeners import Network, Parameters, derive
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, MainCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._queue import (
    LISTED_QUEUES,
    QueueListing,
    arrival_time,
    parse_postqueue_json,
    tally_files,
)

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

POSTQUEUE = "postqueue"
FILES = "files"
# The start of a queue file that holds its time record (the size record before it is 95 bytes).
_HEAD_BYTES = 512


class MonitorHost(Protocol):
    """What observing asks the managed host (``LocalMonitorHost`` answers from this machine)."""

    network: Network

    @property
    def facts(self) -> HostFacts:
        """The instance list and live state as ``_info.gather`` reads them."""

    def compiled_defaults(self) -> dict[str, str]: ...

    def read_text(self, path: str) -> str | None: ...

    def postqueue_json(self, config_directory: str, queue_directory: str) -> tuple[str | None, str]:
        """``postqueue -c DIR -j`` output, or None and why not ("" when it was not asked)."""

    def queue_file_arrivals(self, queue_directory: str, queue: str) -> list[int | None]:
        """The arrival time of each file of one queue (None where the file does not tell)."""

    def now(self) -> float: ...


class LocalMonitorHost(LocalHealthHost):
    """This machine (as the health check sees it), and its queues."""

    def postqueue_json(self, config_directory: str, queue_directory: str) -> tuple[str | None, str]:
        if not os.path.isdir(queue_directory):
            return None, ""  # never set up (postfix set-permissions makes it): nothing to list
        postqueue = find_postfix_command("postqueue", self.facts.defaults().get("command_directory"))
        # the terminal as stderr: postqueue says why it fails only there (see _runner)
        result = _runner.run([postqueue, "-c", config_directory, "-j"], tty=True)
        if result.rc != 0:
            return None, f"postqueue -c {config_directory} -j failed (rc={result.rc}): {result.stderr.strip() or '(it printed nothing)'}"
        return result.stdout, ""

    def queue_file_arrivals(self, queue_directory: str, queue: str) -> list[int | None]:
        found: list[int | None] = []
        for root, _dirs, files in os.walk(os.path.join(queue_directory, queue)):
            for entry in files:
                path = os.path.join(root, entry)
                try:
                    # regular files only, as count_files() counts them: never a link, and a named pipe
                    # is not waited on (O_NONBLOCK)
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
                except FileNotFoundError:
                    continue  # delivered or moved meanwhile
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        continue  # a symbolic link: not a queue file
                    found.append(None)
                    continue
                try:
                    info = os.fstat(fd)
                    if not stat.S_ISREG(info.st_mode):
                        continue
                    head = os.read(fd, _HEAD_BYTES)
                    # showq(8) takes the file's time when it has no time record
                    fallback = int(info.st_mtime)
                except OSError:
                    found.append(None)
                    continue
                finally:
                    os.close(fd)
                arrival = arrival_time(head)
                found.append(fallback if arrival is None else arrival)
        return found

    def now(self) -> float:
        return time.time()


# One instance ------------------------------------------------------------------------------------


def _files_listing(host: MonitorHost, queue_directory: str, queues: t.Sequence[str]) -> QueueListing:
    return tally_files({queue: host.queue_file_arrivals(queue_directory, queue) for queue in queues})


def survey(host: MonitorHost, config_directory: str, queue_directory: str, now: float) -> tuple[str, dict[str, dict[str, t.Any]], str]:
    """The instance's queues: (queue_source, {queue: {count, oldest_arrival_time, oldest_age}}, why postqueue was not used)."""
    output, why = host.postqueue_json(config_directory, queue_directory)
    listing: QueueListing | None = None
    if output is not None:
        try:
            listing = parse_postqueue_json(output)
        except ValueError as exc:
            why = str(exc)
    if listing is not None:
        source = POSTQUEUE
        unlisted = _files_listing(host, queue_directory, [queue for queue in MAIL_QUEUES if queue not in LISTED_QUEUES])
        counts = dict(listing.counts, **unlisted.counts)
        oldest = dict(listing.oldest, **unlisted.oldest)
    else:
        source = FILES
        files = _files_listing(host, queue_directory, MAIL_QUEUES)
        counts, oldest = files.counts, files.oldest
    queues: dict[str, dict[str, t.Any]] = {}
    for queue in MAIL_QUEUES:
        arrival = oldest.get(queue)
        queues[queue] = {
            "count": int(counts.get(queue, 0)),
            "oldest_arrival_time": arrival,
            "oldest_age": None if arrival is None else max(0, int(now) - arrival),
        }
    return source, queues, why


def listeners(
    host: MonitorHost, label: str, config_directory: str, main: MainCf, master: MasterCf, compiled: t.Mapping[str, str]
) -> tuple[list[dict[str, t.Any]], list[str]]:
    """Every address and port that master(8) binds for an open ``inet`` service, and what cannot be told."""
    view = derive(label, main, master, compiled, config_directory, host.network)
    found = [
        {"address": address, "port": listener.port, "service": listener.service, "program": listener.program}
        for listener in view.open_listeners
        if listener.port is not None
        for address in listener.addresses
    ]
    return found, list(view.problems)


def observe(host: MonitorHost, name: str | None = None, group: str | None = None) -> dict[str, t.Any]:
    """The ``postfix_instance_info`` module: ``_info.gather`` plus what monitoring needs per instance."""
    result = gather(host.facts, name=name, group=group)
    compiled = host.compiled_defaults()
    now = host.now()
    for record in result["instances"]:
        directory = record["config_directory"]
        label = record["name"] or directory
        main = MainCf.parse(host.read_text(directory + "/main.cf") or "")
        master = MasterCf.parse(host.read_text(directory + "/master.cf") or "")
        try:
            record["syslog_name"] = Parameters(main, compiled, directory).get("syslog_name")
        except MainCfError as exc:
            record["syslog_name"] = None
            result["problems"].append(f"{label}: cannot tell its syslog_name: {exc}")
        record["listeners"], unclear = listeners(host, label, directory, main, master, compiled)
        result["problems"].extend(f"{label}: listeners: {problem}" for problem in unclear)
        record["queue_source"], record["queues"], why = survey(host, directory, record["queue_directory"], now)
        if why:
            result["problems"].append(f"{label}: {why}; its queues were counted from the queue files")
    return result


def instance_info(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_instance_info`` module on this host; the problems are also warnings."""
    result = observe(LocalMonitorHost(), name=options.get("name"), group=options.get("group"))
    result["warnings"] = list(result["problems"])
    return result


INFO = Interface(
    {"argument_spec": {"name": {"type": "str"}, "group": {"type": "str"}}, "mutually_exclusive": [["name", "group"]]},
    instance_info,
)


# Prometheus text format ------------------------------------------------------------------------


def _label_value(value: str) -> str:
    """A label value as the text format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(metric: str, labels: t.Sequence[tuple[str, str]], value: int) -> str:
    inner = ",".join(f'{key}="{_label_value(text)}"' for key, text in labels)
    return f"{metric}{{{inner}}} {value}"


def instance_label(record: t.Mapping[str, t.Any]) -> str:
    """How metrics (and the status table) name an instance: its name, or its directory when nameless."""
    return str(record["name"] or record["config_directory"])


# (metric, help) in the order the file lists them; every one is a gauge.
METRICS = (
    ("postfix_instance_info", "The Postfix instance, its group, syslog_name and configuration directory; always 1."),
    ("postfix_instance_enabled", "Whether postfix start starts the instance (multi_instance_enable), 1 or 0."),
    ("postfix_instance_up", "Whether the instance's master daemon runs (postfix status), 1 or 0."),
    ("postfix_queue_messages", "Messages in the instance's queue."),
    ("postfix_queue_oldest_message_timestamp_seconds", "Arrival time of the oldest message in the queue, in Unix time; no sample while the queue is empty."),
)


def render_metrics(host_label: str, records: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """The instances as Prometheus text-format metrics (labels host, instance, queue); no timestamps,
    so that the text only changes when the instances or their queues do."""
    samples: dict[str, list[str]] = {metric: [] for metric, _help in METRICS}
    for record in records:
        who = [("host", host_label), ("instance", instance_label(record))]
        about = who + [
            ("group", record.get("group") or ""),
            ("syslog_name", record.get("syslog_name") or ""),
            ("config_directory", record["config_directory"]),
        ]
        samples["postfix_instance_info"].append(_sample("postfix_instance_info", about, 1))
        samples["postfix_instance_enabled"].append(_sample("postfix_instance_enabled", who, int(bool(record["enabled"]))))
        samples["postfix_instance_up"].append(_sample("postfix_instance_up", who, int(bool(record["running"]))))
        for queue in MAIL_QUEUES:
            state = record["queues"][queue]
            labels = who + [("queue", queue)]
            samples["postfix_queue_messages"].append(_sample("postfix_queue_messages", labels, int(state["count"])))
            if state["oldest_arrival_time"] is not None:
                samples["postfix_queue_oldest_message_timestamp_seconds"].append(
                    _sample("postfix_queue_oldest_message_timestamp_seconds", labels, int(state["oldest_arrival_time"]))
                )
    lines: list[str] = []
    for metric, text in METRICS:
        lines.append(f"# HELP {metric} {text}")
        lines.append(f"# TYPE {metric} gauge")
        lines.extend(samples[metric])
    return "\n".join(lines) + "\n"


def check_metrics_path(path: str) -> None:
    """Refuse a path that node_exporter's textfile collector would not read, before anything is done."""
    if not path or not os.path.isabs(path):
        raise PostfixMultiError(f"path must be an absolute path, not {path!r}")
    if not path.endswith(".prom") or os.path.basename(path) == ".prom":
        raise PostfixMultiError(f"path {path} must name a file ending in .prom: node_exporter's textfile collector reads only *.prom files")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise PostfixMultiError(
            f"the directory of {path} does not exist: create it (the directory given to node_exporter as --collector.textfile.directory) first"
        )
    if os.path.isdir(path):
        raise PostfixMultiError(f"path {path} is a directory")


def write_metrics(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_metrics`` module: observe, render and replace the file when its text differs."""
    path = str(options["path"])
    host_label = options.get("host_label") or socket.getfqdn()
    check_metrics_path(path)
    observed = observe(LocalMonitorHost())
    text = render_metrics(host_label, observed["instances"])
    before = _io.read_text(path)
    changed = before != text
    if changed and not check_mode:
        _io.write_text(path, text, mode=0o644)
    result: dict[str, t.Any] = {
        "changed": changed,
        "path": path,
        "host_label": host_label,
        "instances": observed["instances"],
        "problems": observed["problems"],
        "warnings": list(observed["problems"]),
    }
    if want_diff:
        result["diff"] = {"before": before or "", "after": text, "before_header": path, "after_header": path}
    return result


METRICS_FILE = Interface(
    {"argument_spec": {"path": {"type": "path", "required": True}, "host_label": {"type": "str"}, **UNSAFE_WRITES}},
    write_metrics,
)
