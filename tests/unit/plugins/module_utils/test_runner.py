# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command runner with real processes: terminal capture, output of any size, daemons that keep fds."""

from __future__ import annotations

import sys

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._runner import check, run

PY = sys.executable


@pytest.mark.parametrize("tty", [False, True])
def test_output_larger_than_a_pipe_buffer_arrives_whole(tty: bool) -> None:
    # 64 KiB fill a pipe: a runner that reads stdout only after the child exits waits forever
    code = "import sys; sys.stdout.write('o' * 300000); sys.stdout.flush(); sys.stderr.write('e' * 200000)"
    result = run([PY, "-c", code], tty=tty, timeout=60)
    assert result.rc == 0
    assert result.stdout == "o" * 300000
    assert result.stderr == "e" * 200000


def test_stderr_is_a_terminal_and_its_text_is_captured() -> None:
    code = "import os, sys; print('out'); sys.stderr.write('tty\\n' if os.isatty(2) else 'pipe\\n'); sys.exit(3)"
    result = run([PY, "-c", code], tty=True)
    assert (result.rc, result.stdout, result.stderr) == (3, "out\n", "tty\n")  # CR LF of the terminal made plain
    assert run([PY, "-c", code]).stderr == "pipe\n"


def test_a_daemon_holding_the_terminal_and_pipe_does_not_keep_the_runner_waiting() -> None:
    # like "postfix start": the command exits, a child it started lives on with the same fds
    script = "sleep 30 & echo started; echo said >&2"
    result = run(["sh", "-c", script], tty=True, timeout=10)
    assert result.rc == 0 and result.stdout == "started\n" and result.stderr == "said\n"


def test_stdin_and_failures() -> None:
    result = run([PY, "-c", "import sys; print(sys.stdin.read().upper())"], tty=True, stdin="hello")
    assert result.stdout == "HELLO\n"
    with pytest.raises(PostfixMultiError, match="timed out after 1 s"):
        run(["sleep", "5"], tty=True, timeout=1)
    with pytest.raises(PostfixMultiError, match="cannot run /nonexistent/postfix"):
        run(["/nonexistent/postfix"], tty=True)
    with pytest.raises(PostfixMultiError, match=r"frobnicate failed \(rc=2\): boom"):
        check([PY, "-c", "import sys; sys.stderr.write('boom'); sys.exit(2)"], what="frobnicate")


def test_mail_log_reads_what_was_appended_since_the_mark(tmp_path, monkeypatch) -> None:
    """Without journald, the reason comes from the end of the mail log files (only what is new)."""
    log = tmp_path / "mail.log"
    log.write_text("Dec  3 10:00:00 mx postfix[1]: fatal: an old failure\n")
    monkeypatch.setattr(_runner, "MAIL_LOG_FILES", (str(log), str(tmp_path / "absent.log")))
    monkeypatch.setattr(_runner.os.path, "isdir", lambda path: False)  # no journald
    mark = _runner.MailLog.mark()
    with open(log, "a") as handle:
        handle.write("Dec  3 10:00:01 mx postfix/postfix-script[2]: starting the Postfix mail system\n")
        handle.write("Dec  3 10:00:01 mx postfix[3]: fatal: parameter inet_interfaces: no local interface found for 192.0.2.1\n")
        handle.write("Dec  3 10:00:01 mx postfix[3]: fatal: parameter inet_interfaces: no local interface found for 192.0.2.1\n")
    said = mark.since()
    assert said == "Dec  3 10:00:01 mx postfix[3]: fatal: parameter inet_interfaces: no local interface found for 192.0.2.1"


def test_journal_entries_of_the_mail_facility_only() -> None:
    lines = (
        '{"SYSLOG_FACILITY":"2","MESSAGE":"fatal: parameter inet_interfaces: no local interface found for 192.0.2.1"}\n'
        '{"SYSLOG_FACILITY":"4","MESSAGE":"error: kex_exchange_identification: read: Connection reset by peer"}\n'
        '{"SYSLOG_FACILITY":"2","MESSAGE":[102,97,116]}\n'
        "not json\n"
    )
    assert _runner._mail_messages(lines) == ["fatal: parameter inet_interfaces: no local interface found for 192.0.2.1"]


def test_journal_entries_of_a_failed_unit_when_postfix_said_nothing() -> None:
    """An ExecStartPre script (Debian's configure-instance.sh) that refuses a start says why on its
    standard output: that is the reason when no mail-facility entry gives one."""
    lines = (
        '{"SYSLOG_FACILITY":"3","_SYSTEMD_UNIT":"postfix@postfix-out.service","MESSAGE":"Invalid $myorigin (debian.org), refusing to start"}\n'
        '{"SYSLOG_FACILITY":"3","_SYSTEMD_UNIT":"init.scope","MESSAGE":"postfix@postfix-out.service: Control process exited, code=exited, status=1/FAILURE"}\n'
        '{"SYSLOG_FACILITY":"3","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"error: Connection closed"}\n'
    )
    assert _runner._journal_messages(lines, "postfix@postfix-out.service") == ([], ["Invalid $myorigin (debian.org), refusing to start"])
    assert _runner._journal_messages(lines) == ([], [])
    mail = '{"SYSLOG_FACILITY":"2","_SYSTEMD_UNIT":"postfix@postfix-out.service","MESSAGE":"fatal: bad"}\n'
    assert _runner._journal_messages(mail + lines, "postfix@postfix-out.service")[0] == ["fatal: bad"]
