# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitoring that knows instances (issue 16), against real Postfix on a lab host.

A fresh lab host (127.0.N.1..4; the primary listens on 127.0.N.1:25) gets ``postfix-out`` from the real
postmulti, listening on 127.0.N.2:25 and relaying to 127.0.N.3:2599, where nothing listens: the mail
sent to it is deferred ("Connection refused"), and one message is put on hold with postsuper. What
postfix_instance_info, the metrics file (read with Prometheus's own text-format parser) and the
health gate report is compared with the queue files counted in the host, with ``postqueue -j`` and
with ``postconf``.
"""

from __future__ import annotations

import json
import os
import stat
import time
import typing as t

import labhost
import test_health
from prometheus_client.parser import text_string_to_metric_families
from test_health import answers, create, sh

# test_health's fixture: a fresh lab host with 4 addresses, multi-instance on, every Postfix stopped afterwards
lab_host = test_health.lab_host

OUT = "/etc/postfix-out"
SPOOLS = {"/etc/postfix": "/var/spool/postfix", OUT: "/var/spool/postfix-out"}
QUEUES = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt", "saved")
TEXTFILES = "/var/lib/prometheus/node-exporter"
METRICS = f"{TEXTFILES}/postfix.prom"


def queue_files(host: labhost.Host, spool: str, queue: str) -> int:
    """The regular files below one queue directory of the host."""
    total = 0
    for root, _dirs, files in os.walk(host.path(f"{spool}/{queue}")):
        total += sum(1 for name in files if stat.S_ISREG(os.lstat(os.path.join(root, name)).st_mode))
    return total


def counted(host: labhost.Host, spool: str) -> dict[str, int]:
    return {queue: queue_files(host, spool, queue) for queue in QUEUES}


def listed(host: labhost.Host, directory: str) -> list[dict[str, t.Any]]:
    """postqueue -j of the instance, run in the host."""
    out = host.run("postqueue", "-c", directory, "-j").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def send(host: labhost.Host, count: int) -> None:
    for number in range(count):
        host.run("sendmail", "-C", OUT, "-f", "sender@example.org", "rcpt@example.net", input=f"Subject: test {number}\n\nbody\n")


def wait_for(what: t.Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def deferred_and_held(host: labhost.Host) -> labhost.Host:
    """postfix-out with two deferred messages and one on hold, running."""
    second, third = host.addresses[1], host.addresses[2]
    create(
        host,
        "postfix-out",
        [
            f"inet_interfaces = {second}",
            f"myhostname = out.{host.name}.lab.example",
            f"relayhost = [{third}]:2599",
            "authorized_submit_users = static:anyone",
        ],
        remove=["master_service_disable"],
    )
    sh(host, "postmulti", "-p", "start")
    send(host, 3)
    wait_for(lambda: queue_files(host, SPOOLS[OUT], "deferred") == 3)
    first = min(listed(host, OUT), key=lambda message: message["queue_id"])["queue_id"]
    host.run("postsuper", "-c", OUT, "-h", first)
    return host


def instance(result: dict[str, t.Any], name: str | None) -> dict[str, t.Any]:
    (found,) = [i for i in result["instances"] if i["name"] == name]
    return found


def oldest(host: labhost.Host, directory: str, queue: str) -> int:
    return min(message["arrival_time"] for message in listed(host, directory) if message["queue_name"] == queue)


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def queue_sample(name: str, instance_label: str, queue: str, host_label: str = "mx") -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("host", host_label), ("instance", instance_label), ("queue", queue)))


def assert_metrics_match_the_queue_files(host: labhost.Host, text: str, host_label: str = "mx") -> None:
    found = metrics(text)
    for directory, spool in SPOOLS.items():
        label = "postfix-out" if directory == OUT else directory
        assert {q: found[queue_sample("postfix_queue_messages", label, q, host_label)] for q in QUEUES} == counted(host, spool)


# ----------------------------------------------------------------------------- postfix_instance_info
def test_instance_info_reports_what_postfix_says_running_and_stopped(lab_host):
    host = deferred_and_held(lab_host)
    second = host.addresses[1]

    result = host.module("postfix_instance_info")
    out = instance(result, "postfix-out")
    assert out["running"] is True
    assert out["queue_source"] == "postqueue"
    assert {q: out["queues"][q]["count"] for q in QUEUES} == counted(host, SPOOLS[OUT]) == out["queue_counts"]
    assert (out["queues"]["deferred"]["count"], out["queues"]["hold"]["count"]) == (2, 1)
    assert out["queues"]["deferred"]["oldest_arrival_time"] == oldest(host, OUT, "deferred")
    assert 0 <= out["queues"]["deferred"]["oldest_age"] < 600
    assert out["queues"]["active"] == {"count": 0, "oldest_arrival_time": None, "oldest_age": None}
    # what postconf says, and where the instance answers
    assert out["syslog_name"] == host.run("postconf", "-c", OUT, "-xh", "syslog_name").stdout.strip() == "postfix-out"
    assert instance(result, None)["syslog_name"] == "postfix"
    assert out["listeners"] == [{"address": second, "port": 25, "service": "smtp", "program": "smtpd"}]
    assert answers(second, 25)
    assert instance(result, None)["listeners"] == [{"address": host.addresses[0], "port": 25, "service": "smtp", "program": "smtpd"}]

    # stopped: postqueue (as root) reads the queue itself; mail submitted meanwhile waits in maildrop
    sh(host, "postfix", "-c", OUT, "stop")
    send(host, 1)
    result = host.module("postfix_instance_info", name="out")
    (out,) = result["instances"]
    assert out["running"] is False
    assert out["queue_source"] == "postqueue"
    assert {q: out["queues"][q]["count"] for q in QUEUES} == counted(host, SPOOLS[OUT])
    assert (out["queues"]["deferred"]["count"], out["queues"]["hold"]["count"], out["queues"]["maildrop"]["count"]) == (2, 1, 1)
    assert out["queues"]["maildrop"]["oldest_arrival_time"] == oldest(host, OUT, "maildrop")
    assert "sender@example.org" not in json.dumps(result)


# ----------------------------------------------------------------------------- postfix_metrics, the gate
def test_metrics_file_and_queue_limits(lab_host):
    host = deferred_and_held(lab_host)
    host.path(TEXTFILES).mkdir(parents=True)

    # bad input fails before anything is read or written
    bad = host.module("postfix_metrics", path=f"{TEXTFILES}/postfix.txt")
    assert bad["failed"] is True
    assert bad["msg"] == f"path {TEXTFILES}/postfix.txt must name a file ending in .prom: node_exporter's textfile collector reads only *.prom files"

    looked = host.module("postfix_metrics", check=True, path=METRICS, host_label="mx")
    assert looked["changed"] is True and not host.path(METRICS).exists()
    written = host.module("postfix_metrics", path=METRICS, host_label="mx")
    assert written["changed"] is True
    text = host.read(METRICS)
    assert written["diff"]["after"] == text == looked["diff"]["after"]
    assert_metrics_match_the_queue_files(host, text)
    found = metrics(text)
    assert found[queue_sample("postfix_queue_oldest_message_timestamp_seconds", "postfix-out", "deferred")] == oldest(host, OUT, "deferred")
    assert found[("postfix_instance_up", (("host", "mx"), ("instance", "postfix-out")))] == 1
    assert "@" not in text
    assert stat.S_IMODE(host.path(METRICS).stat().st_mode) == 0o644
    assert not list(host.path(TEXTFILES).glob("*.tmp"))

    # nothing changed in the queues: nothing to write, though time passed
    time.sleep(1.1)
    again = host.module("postfix_metrics", path=METRICS, host_label="mx")
    assert again["changed"] is False

    # the held message released (postsuper -H), the instance stopped: the file says so
    first_held = listed(host, OUT)
    (held,) = [m["queue_id"] for m in first_held if m["queue_name"] == "hold"]
    host.run("postsuper", "-c", OUT, "-H", held)
    sh(host, "postfix", "-c", OUT, "stop")
    changed = host.module("postfix_metrics", path=METRICS, host_label="mx")
    assert changed["changed"] is True
    text = host.read(METRICS)
    assert_metrics_match_the_queue_files(host, text)
    assert metrics(text)[("postfix_instance_up", (("host", "mx"), ("instance", "postfix-out")))] == 0
    assert metrics(text)[queue_sample("postfix_queue_messages", "postfix-out", "hold")] == 0
    sh(host, "postfix", "-c", OUT, "start")

    # the health gate: past the limit fails, at the limit passes
    deferred = counted(host, SPOOLS[OUT])["deferred"]
    assert deferred == 3
    refused = host.module("postfix_health", timeout=10, queue_limits={"deferred": deferred - 1})
    assert refused["failed"] is True
    assert refused["failures"] == [f"postfix-out ({OUT}): its deferred queue holds {deferred} message(s), more than the limit of {deferred - 1} (queue_limits)"]
    passed = host.module("postfix_health", timeout=10, queue_limits={"deferred": deferred, "hold": 0})
    assert passed["passed"] is True, passed["msg"]

    # the same gate in the rollout's one call (postfix_multi_host with probe=true)
    gate = host.module("postfix_multi_host", instances=[], probe=True, probe_timeout=10, queue_limits={"deferred": 0})
    assert gate["failed"] is True and gate["stage"] == "health"
    assert f"its deferred queue holds {deferred} message(s), more than the limit of 0 (queue_limits)" in gate["msg"]
    malformed = host.module("postfix_multi_host", instances=[], probe=True, queue_limits={"bounce": 1})
    assert malformed["failed"] is True and malformed["msg"].startswith("queue_limits: 'bounce' is not a Postfix queue")


# ----------------------------------------------------------------------------- the status playbook
def test_status_playbook_writes_the_metrics_file(lab_host, tmp_path):
    host = deferred_and_held(lab_host)
    host.path(TEXTFILES).mkdir(parents=True)
    report = tmp_path / "status"

    def status(metrics_file: str) -> str:
        """The status playbook writing its metrics to METRICS_FILE: the Markdown table (the play must succeed)."""
        run = labhost.run_playbook(
            tmp_path,
            {"mx": host.root},
            "- name: The status playbook\n  import_playbook: mailops.postfix_multi.status\n",
            extra_args=[
                *("-e", "postfix_multi_hosts=lab"),
                *("-e", f"postfix_multi_status_metrics_file={metrics_file}", "-e", f"postfix_multi_status_report={report}"),
            ],
        )
        assert run.rc == 0, run.explain()
        return report.with_suffix(".md").read_text()

    table = status(METRICS)
    assert_metrics_match_the_queue_files(host, host.read(METRICS))
    row = [line for line in table.splitlines() if "| postfix-out " in line]
    assert len(row) == 1, table
    cells = [cell.strip() for cell in row[0].strip("|").split("|")]
    assert cells[:10] == ["mx", "postfix-out", "-", "yes", "yes", "postfix-out", f"{host.addresses[1]}:25", "0", "0", "2"]
    assert cells[10] == "1" and cells[-1].isdigit()

    # the metrics directory is missing: an ERROR row for the host, its instances reported, the play does not fail
    table = status(f"{TEXTFILES}-missing/postfix.prom")
    assert len([line for line in table.splitlines() if "| postfix-out " in line]) == 1, table
    (error,) = [line for line in table.splitlines() if "ERROR: metrics: " in line]
    assert error.startswith("| mx ") and "does not exist" in error, table


# ----------------------------------------------------------------------------- the rollout's gate
def test_rollout_refuses_a_host_whose_queue_is_past_its_limit(lab_host, tmp_path):
    """The design leaves the host as it is (postfix-out is not declared, nothing is pruned): only the queue limit
    fails it, with the role's message."""
    host = deferred_and_held(lab_host)

    def rollout(limits: dict[str, int]) -> labhost.AnsibleRun:
        return labhost.run_playbook(
            tmp_path,
            {"mx": host.root},
            "- name: The rollout playbook\n  import_playbook: mailops.postfix_multi.rollout\n",
            extra_args=["-e", "postfix_multi_hosts=lab", "-e", json.dumps({"postfix_multi_rollout_queue_limits": limits, "postfix_multi_instances": []})],
        )

    refused = rollout({"deferred": 1})
    assert refused.rc != 0
    failed = [r for r in refused.records if r["status"] == "failed"]
    role = "mailops.postfix_multi.multi_instance : "
    assert [r["task"] for r in failed] == [role + "Plan, validate, apply and probe the design", role + "Stop here - say what failed on this host"], (
        refused.explain()
    )
    assert failed[1]["result"]["msg"] == (
        f"Health gate failed on mx: postfix-out ({OUT}): its deferred queue holds 2 message(s), more than the limit of 1 (queue_limits)"
    ), refused.explain()

    passed = rollout({"deferred": 2, "hold": 1})
    assert passed.rc == 0, passed.explain()
