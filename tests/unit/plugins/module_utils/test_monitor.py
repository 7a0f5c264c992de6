# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitoring per instance: postqueue -j and queue files read, syslog_name and listeners, the metrics text.

The instance list and files come from an in-memory host (_fakes); the metrics text is read back with
Prometheus's own parser. tests/integration/test_monitoring.py compares all of it with real Postfix.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

import pytest
from _fakes import FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._monitor import check_metrics_path, observe, render_metrics
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._queue import arrival_time, parse_postqueue_json
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS
from prometheus_client.parser import text_string_to_metric_families
from test_listeners import DEFAULTS, FakeNetwork

NOW = 1796520000
# Debian 12's compiled-in default (postconf -d syslog_name)
SYSLOG_DEFAULT = "${multi_instance_name?{$multi_instance_name}:{postfix}}"


def message(queue: str, arrival: int, queue_id: str = "847691AC0DA") -> str:
    """One line of postqueue -j, as Postfix 3.7 prints it."""
    return json.dumps(
        {
            "queue_name": queue,
            "queue_id": queue_id,
            "arrival_time": arrival,
            "message_size": 253,
            "forced_expire": False,
            "sender": "a@example.org",
            "recipients": [{"address": "b@example.net", "delay_reason": "connect to 127.0.1.3[127.0.1.3]:2599: Connection refused"}],
        }
    )


def queue_file(arrival: int | None, size_record: int = 95) -> bytes:
    """The start of a queue file: a size record ("C"), the time record ("T") and a named attribute."""
    data = b"C" + bytes([size_record]) + b" " * size_record
    if arrival is not None:
        time = f"{arrival} 558152".encode()
        data += b"T" + bytes([len(time)]) + time
    return data + b"A\x16create_time=1796515067"


# Formats ----------------------------------------------------------------------------------------


def test_postqueue_json_counts_and_oldest_per_queue() -> None:
    text = "\n".join([message("deferred", 1796515067), message("deferred", 1796515000), message("hold", 1796519999)]) + "\n"
    listing = parse_postqueue_json(text)
    assert listing.counts == {"deferred": 2, "hold": 1}
    assert listing.oldest == {"deferred": 1796515000, "hold": 1796519999}
    assert parse_postqueue_json("") == ({}, {})


def test_postqueue_output_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="line 1 of postqueue -j is not JSON"):
        parse_postqueue_json("postqueue: invalid option -- 'j'\n")
    with pytest.raises(ValueError, match="line 2 of postqueue -j has no queue_name"):
        parse_postqueue_json(message("hold", 1) + "\n{}\n")


def test_the_arrival_time_of_a_queue_file() -> None:
    assert arrival_time(queue_file(1796515067)) == 1796515067
    # a record longer than 127 bytes has a two-byte length (7 bits each, low first)
    long = b"C" + bytes([0x80 | (200 & 0x7F), 200 >> 7]) + b" " * 200 + b"T\x0c1796515000 1"
    assert arrival_time(long) == 1796515000
    assert arrival_time(queue_file(None)) is None
    assert arrival_time(queue_file(1796515067)[:100]) is None  # cut inside the time record
    assert arrival_time(b"") is None


# observe ----------------------------------------------------------------------------------------


@dataclass
class MonitorFacts:
    """An in-memory host as _monitor asks it: the files, postqueue -j output and queue files per instance."""

    facts: FakeFacts
    network: FakeNetwork = field(default_factory=FakeNetwork)
    listings: dict[str, str | None] = field(default_factory=dict)  # config directory -> postqueue -j output (None: fails)
    files: dict[tuple[str, str], list[int | None]] = field(default_factory=dict)  # (queue directory, queue) -> arrivals
    asked: list[str] = field(default_factory=list)

    def compiled_defaults(self) -> dict[str, str]:
        return dict(DEFAULTS, syslog_name=SYSLOG_DEFAULT)

    def read_text(self, path: str) -> str | None:
        return self.facts.read_text(path)

    def postqueue_json(self, config_directory: str, queue_directory: str) -> tuple[str | None, str]:
        self.asked.append(config_directory)
        output = self.listings.get(config_directory, "")
        if output is None:
            return None, f"postqueue -c {config_directory} -j failed (rc=69): postqueue: fatal: Queue report unavailable - mail system is down"
        return output, ""

    def queue_file_arrivals(self, queue_directory: str, queue: str) -> list[int | None]:
        return list(self.files.get((queue_directory, queue), []))

    def now(self) -> float:
        return NOW + 0.7


class InfoFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def lab() -> MonitorFacts:
    """Primary on 192.0.2.25:25; postfix-out (the README's re-injection instance on 127.0.77.2:10026), running;
    postfix-quiet, disabled, with its inet services off as postmulti creates it."""
    base = host(
        primary="inet_interfaces = 192.0.2.25\ninet_protocols = ipv4\nmulti_instance_wrapper = x\nmulti_instance_enable = yes\n",
        secondaries=[
            ("/etc/postfix-out", secondary_main("postfix-out", "mta", "yes") + "inet_interfaces = loopback-only\ninet_protocols = ipv4\n"),
            ("/etc/postfix-quiet", secondary_main("postfix-quiet", None, "no") + "master_service_disable = inet\nsyslog_name = quiet/$myhostname\n"),
        ],
    )
    facts = InfoFacts(files=dict(base.files), dirs=set(base.dirs), running={"/etc/postfix", "/etc/postfix-out"})
    facts.write("/etc/postfix/master.cf", "smtp inet n - y - - smtpd\n")
    facts.write("/etc/postfix-out/master.cf", "127.0.77.2:10026 inet n - n - - smtpd\npickup unix n - y 60 1 pickup\n")
    return MonitorFacts(facts)


def record(result: dict[str, t.Any], name: str | None) -> dict[str, t.Any]:
    (found,) = [i for i in result["instances"] if i["name"] == name]
    return found


def test_syslog_name_and_listeners_per_instance() -> None:
    result = observe(t.cast(t.Any, lab()))
    assert [(i["name"], i["syslog_name"]) for i in result["instances"]] == [
        (None, "postfix"),
        ("postfix-out", "postfix-out"),
        ("postfix-quiet", "quiet/host.example"),
    ]
    assert record(result, None)["listeners"] == [{"address": "192.0.2.25", "port": 25, "service": "smtp", "program": "smtpd"}]
    assert record(result, "postfix-out")["listeners"] == [{"address": "127.0.77.2", "port": 10026, "service": "127.0.77.2:10026", "program": "smtpd"}]
    assert record(result, "postfix-quiet")["listeners"] == []
    assert [i["running"] for i in result["instances"]] == [True, True, False]
    assert result["problems"] == []


def test_queues_from_postqueue_and_the_unlisted_queues_from_their_files() -> None:
    monitor = lab()
    monitor.listings["/etc/postfix-out"] = "\n".join([message("deferred", NOW - 3600), message("deferred", NOW - 60), message("hold", NOW - 5)])
    monitor.files[("/var/spool/postfix-out", "corrupt")] = [NOW - 100, None]
    # what postqueue does not list is never read from the files of a listed queue
    monitor.files[("/var/spool/postfix-out", "deferred")] = [NOW - 999999]
    out = record(observe(t.cast(t.Any, monitor)), "postfix-out")
    assert out["queue_source"] == "postqueue"
    assert out["queues"]["deferred"] == {"count": 2, "oldest_arrival_time": NOW - 3600, "oldest_age": 3600}
    assert out["queues"]["hold"] == {"count": 1, "oldest_arrival_time": NOW - 5, "oldest_age": 5}
    assert out["queues"]["corrupt"] == {"count": 2, "oldest_arrival_time": NOW - 100, "oldest_age": 100}
    assert out["queues"]["active"] == {"count": 0, "oldest_arrival_time": None, "oldest_age": None}
    assert list(out["queues"]) == ["incoming", "active", "deferred", "hold", "maildrop", "corrupt", "saved"]


def test_queues_from_the_files_where_postqueue_cannot_list_them() -> None:
    monitor = lab()
    monitor.listings["/etc/postfix-quiet"] = None
    monitor.files[("/var/spool/postfix-quiet", "maildrop")] = [NOW - 30, NOW - 40]
    result = observe(t.cast(t.Any, monitor))
    quiet = record(result, "postfix-quiet")
    assert quiet["queue_source"] == "files"
    assert quiet["queues"]["maildrop"] == {"count": 2, "oldest_arrival_time": NOW - 40, "oldest_age": 40}
    assert result["problems"] == [
        "postfix-quiet: postqueue -c /etc/postfix-quiet -j failed (rc=69): postqueue: fatal: Queue report unavailable - mail system is down;"
        " its queues were counted from the queue files"
    ]
    assert record(result, "postfix-out")["queue_source"] == "postqueue"


def test_selection_is_that_of_postmulti() -> None:
    monitor = lab()
    result = observe(t.cast(t.Any, monitor), group="mta")
    assert [i["name"] for i in result["instances"]] == ["postfix-out"]
    assert monitor.asked == ["/etc/postfix-out"]


# The metrics text -------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the text, as Prometheus's parser reads it."""
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_metrics_parse_and_say_what_observe_found() -> None:
    monitor = lab()
    monitor.listings["/etc/postfix-out"] = "\n".join([message("deferred", NOW - 3600), message("deferred", NOW - 60)])
    result = observe(t.cast(t.Any, monitor))
    text = render_metrics('mx"1\\', result["instances"])
    found = samples(text)
    host_label = ("host", 'mx"1\\')
    assert found[("postfix_queue_messages", (host_label, ("instance", "postfix-out"), ("queue", "deferred")))] == 2
    assert found[("postfix_queue_oldest_message_timestamp_seconds", (host_label, ("instance", "postfix-out"), ("queue", "deferred")))] == NOW - 3600
    assert found[("postfix_instance_up", (host_label, ("instance", "postfix-quiet")))] == 0
    assert found[("postfix_instance_up", (host_label, ("instance", "/etc/postfix")))] == 1  # the nameless primary: its directory
    assert found[("postfix_instance_enabled", (host_label, ("instance", "postfix-quiet")))] == 0
    info = ("config_directory", "/etc/postfix-quiet"), ("group", ""), host_label, ("instance", "postfix-quiet"), ("syslog_name", "quiet/host.example")
    assert found[("postfix_instance_info", info)] == 1
    # one sample per instance and queue; no age sample for an empty queue
    assert len([key for key in found if key[0] == "postfix_queue_messages"]) == 3 * 7
    assert [key for key in found if key[0] == "postfix_queue_oldest_message_timestamp_seconds"] == [
        ("postfix_queue_oldest_message_timestamp_seconds", (host_label, ("instance", "postfix-out"), ("queue", "deferred")))
    ]
    assert "@" not in text  # never an address


def test_the_metrics_text_does_not_change_while_the_queues_do_not() -> None:
    monitor = lab()
    monitor.listings["/etc/postfix-out"] = message("deferred", NOW - 3600)
    first = render_metrics("mx1", observe(t.cast(t.Any, monitor))["instances"])
    later = lab()
    later.listings["/etc/postfix-out"] = message("deferred", NOW - 3600)
    later.now = lambda: NOW + 900.0  # type: ignore[method-assign]
    assert render_metrics("mx1", observe(t.cast(t.Any, later))["instances"]) == first


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("postfix.prom", "path must be an absolute path, not 'postfix.prom'"),
        ("/tmp/postfix.txt", "path /tmp/postfix.txt must name a file ending in .prom: node_exporter's textfile collector reads only *.prom files"),
        (
            "/nonexistent/textfile/postfix.prom",
            "the directory of /nonexistent/textfile/postfix.prom does not exist: create it"
            " (the directory given to node_exporter as --collector.textfile.directory) first",
        ),
    ],
)
def test_a_metrics_path_the_collector_would_not_read_is_refused(path: str, message: str) -> None:
    with pytest.raises(PostfixMultiError) as caught:
        check_metrics_path(path)
    assert caught.value.msg == message


def test_queue_files_are_read_as_regular_files_only(tmp_path):
    """A named pipe or a symbolic link in a queue directory is skipped (never waited on, never
    followed), as count_files() skips them; a queue file gives its time record."""
    import os

    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._monitor import LocalMonitorHost

    deferred = tmp_path / "deferred" / "A"
    deferred.mkdir(parents=True)
    (deferred / "4D2A1C").write_bytes(b"T\x0c1733000000 0")  # rec_get(): type T, length 12, the time record
    os.mkfifo(deferred / "pipe")
    (deferred / "link").symlink_to("/etc/passwd")
    assert LocalMonitorHost().queue_file_arrivals(str(tmp_path), "deferred") == [1733000000]
