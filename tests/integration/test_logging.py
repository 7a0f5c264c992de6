# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The design's logging on a booted lab host (systemd as PID 1: Postfix logs to journald's /dev/log).

What an operator relies on, read from the place the log goes (the journal, the file) after a
message went through the instance (sendmail -C, so pickup, cleanup and qmgr log it):
- ``to: syslog`` with a syslog_name: check -> apply -> check -> apply changes exactly twice, and
  the instance's lines reach the journal under that name;
- ``to: file``: the same, the lines (under the instance's name, Postfix's default syslog_name)
  are in the file written by the instance's own postlogd and no longer in the journal; the
  primary can log to a file of its own at the same time;
- ``postfix -c DIR logrotate`` rotates one instance's file, and the instance goes on logging to a new one;
- back to ``to: syslog``: maillog_file goes, the file stays, lines reach the journal again;
- a file outside maillog_file_prefixes is refused before anything changes;
- the multi_instance role takes the same settings (postfix_multi_instances[].logging,
  postfix_multi_primary_logging) and converges them once, and postfix_drift_info compares with them.
"""

from __future__ import annotations

import time
import uuid

import labhost
import pytest
from test_multi_instance_role import converge, result

MODULE = "mailops.postfix_multi.postfix_multi_host"
DRIFT = "mailops.postfix_multi.postfix_drift_info"
OUT = "/etc/postfix-out"
OUT_LOG = "/var/log/postfix-out.log"
PRIMARY_LOG = "/var/log/postfix.log"


def design(host: labhost.BootedHost, logging: dict, primary_logging: dict | None = None) -> dict:
    args = {
        "check_before": False,
        "instances": [
            {
                "name": "postfix-out",
                "group": "mta",
                # postmulti -e create leaves authorized_submit_users empty: sendmail -C is to work here
                "parameters": {"myhostname": f"out.{host.name}.lab.example", "authorized_submit_users": "root"},
                "logging": logging,
            }
        ],
        "primary_parameters": {"inet_interfaces": host.addresses[0]},
    }
    if primary_logging is not None:
        args["primary_logging"] = primary_logging
    return args


def changed(results: list[dict]) -> list[bool]:
    for one in results:
        assert one.get("failed") is not True, one.get("msg")
    return [one["changed"] for one in results]


def send(host: labhost.BootedHost, config_directory: str) -> str:
    """A message to root through the instance (postdrop -> pickup -> cleanup, which logs its Message-ID)."""
    message_id = f"{uuid.uuid4().hex}@logging.test"
    text = f"From: root\nTo: root\nSubject: logging test\nMessage-ID: <{message_id}>\n\nhello\n"
    host.run("sendmail", "-C", config_directory, "-i", "root", input=text)
    return message_id


def journal(host: labhost.BootedHost) -> list[str]:
    """The journal's mail lines as syslog writes them: IDENTIFIER[PID]: MESSAGE."""
    return host.run("journalctl", "--no-pager", "-o", "short", "SYSLOG_FACILITY=2").stdout.splitlines()


def log_file(host: labhost.BootedHost, path: str) -> list[str]:
    return host.read(path).splitlines() if host.path(path).exists() else []


def wait_for(read, tag: str, message_id: str, timeout: float = 60) -> str:
    """The line of ``tag`` (such as postfix-out/cleanup) that names the message, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in read() if f" {tag}[" in line and f"message-id=<{message_id}>" in line]
        if lines:
            return lines[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {tag} line for {message_id}")
        time.sleep(0.5)


def parameters(host: labhost.BootedHost, directory: str, *names: str) -> dict[str, str]:
    out = host.run("postconf", "-c", directory, "-n", *names, check=False).stdout
    return dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)


@pytest.mark.parametrize("release", ["bookworm", "bullseye", "trixie"])
def test_each_logging_mode_converges_and_logs_under_the_instances_name(new_booted, release):
    """Postfix 3.7, 3.5 (the first Debian release with postlogd) and 3.10."""
    host = new_booted("logs", release=release)

    # syslog, under a name of its own
    results = host.sequence(MODULE, module_args=design(host, {"to": "syslog", "syslog_name": "postfix-outbound"}))
    assert changed(results) == [True, True, False, False]
    assert parameters(host, OUT, "syslog_name", "maillog_file") == {"syslog_name": "postfix-outbound"}
    line = wait_for(lambda: journal(host), "postfix-outbound/cleanup", send(host, OUT))
    assert "postfix-out/" not in line

    # a file, written by the instance's postlogd; the primary to a file of its own
    results = host.sequence(MODULE, module_args=design(host, {"to": "file", "file": OUT_LOG}, {"to": "file", "file": PRIMARY_LOG}))
    assert changed(results) == [True, True, False, False]
    assert any(d["after_header"] == f"{OUT}/main.cf" and f"maillog_file = {OUT_LOG}" in d["after"] for d in results[0]["diff"]), results[0]["diff"]
    assert not host.path(OUT_LOG).exists() or "logging test" not in host.read(OUT_LOG)  # check mode wrote nothing there
    assert parameters(host, OUT, "syslog_name", "maillog_file") == {"maillog_file": OUT_LOG}
    assert "postlog" in host.run("postconf", "-c", OUT, "-M", "postlog/unix-dgram").stdout
    to_file = send(host, OUT)
    wait_for(lambda: log_file(host, OUT_LOG), "postfix-out/cleanup", to_file)
    wait_for(lambda: log_file(host, PRIMARY_LOG), "postfix/cleanup", send(host, "/etc/postfix"))
    assert not [line for line in journal(host) if to_file in line and "/cleanup[" in line]
    assert not [line for line in log_file(host, PRIMARY_LOG) if "postfix-out/" in line]
    # postfix_drift_info compares with the same settings
    file_design = design(host, {"to": "file", "file": OUT_LOG}, {"to": "file", "file": PRIMARY_LOG})
    del file_design["check_before"]
    assert host.module(DRIFT, module_args=file_design)["in_sync"] is True
    syslog_design = dict(file_design, instances=design(host, {"to": "syslog"})["instances"])
    info = host.module(DRIFT, module_args=syslog_design)
    assert info["in_sync"] is False and info["instances"][0]["parameters"] == ["maillog_file"], info
    # the rotation the guide documents, per instance: renamed with the date suffix and compressed, then a new file
    host.run("postfix", "-c", OUT, "logrotate")
    rotated = sorted(host.path("/var/log").glob("postfix-out.log.*.gz"))
    assert len(rotated) == 1, rotated
    wait_for(lambda: log_file(host, OUT_LOG), "postfix-out/cleanup", send(host, OUT))
    # and from Ansible, as the guide shows it
    rotate = host.module("postfix_service", module_args={"name": "postfix-out", "command": ["logrotate"]})
    assert rotate.get("failed") is not True, rotate
    assert len(sorted(host.path("/var/log").glob("postfix-out.log.*.gz"))) == 2
    assert len(sorted(host.path("/var/log").glob("postfix.log.*"))) == 0  # the primary's file is its own
    wait_for(lambda: log_file(host, OUT_LOG), "postfix-out/cleanup", send(host, OUT))

    # back to syslog: the parameter goes, the file and the stock postlog entry stay
    results = host.sequence(MODULE, module_args=design(host, {"to": "syslog"}, {"to": "syslog"}))
    assert changed(results) == [True, True, False, False]
    assert parameters(host, OUT, "syslog_name", "maillog_file") == {}
    assert parameters(host, "/etc/postfix", "maillog_file") == {}
    assert host.path(OUT_LOG).exists() and host.path(PRIMARY_LOG).exists()
    assert "postlog" in host.run("postconf", "-c", OUT, "-M", "postlog/unix-dgram").stdout
    back = send(host, OUT)
    wait_for(lambda: journal(host), "postfix-out/cleanup", back)
    assert not [line for line in log_file(host, OUT_LOG) if back in line]

    # refused before anything changes: Postfix's own rule, maillog_file_prefixes (default /var, /dev/stdout)
    before = host.read(f"{OUT}/main.cf")
    refused = host.module(MODULE, module_args=design(host, {"to": "file", "file": "/srv/postfix-out.log"}))
    assert refused.get("failed") is True
    assert "does not start with any of maillog_file_prefixes (/var, /dev/stdout)" in refused["msg"], refused["msg"]
    assert host.read(f"{OUT}/main.cf") == before

    # the role: the same settings as its variables
    role_vars = {
        "postfix_multi_instances": design(host, {"to": "file", "file": OUT_LOG})["instances"],
        "postfix_multi_primary_parameters": {"inet_interfaces": host.addresses[0]},
        "postfix_multi_primary_logging": {"to": "file", "file": PRIMARY_LOG},
    }
    for expected in (True, False):
        rc, records = converge(host, role_vars)
        assert rc == 0, host.last_run.explain()
        assert result(records)["changed"] is expected, result(records)
    assert parameters(host, OUT, "maillog_file") == {"maillog_file": OUT_LOG}
    assert parameters(host, "/etc/postfix", "maillog_file") == {"maillog_file": PRIMARY_LOG}
