# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one place that runs external commands.

Commands are lists of arguments, never shell strings. ``postfix``, ``postmulti`` and
``postlog`` (Postfix before 3.11) write their diagnostics to stderr only when stderr is a
terminal; otherwise an error is a bare exit status. ``run(..., tty=True)`` therefore gives
the child a pseudo-terminal as stderr and captures what it says there.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError

# Variables that would redirect Postfix commands to another instance or change their language.
_DROP_ENV = ("MAIL_CONFIG", "MAIL_VERBOSE", "MAIL_DEBUG")


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for messages."""
        return "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)

    def as_dict(self) -> dict[str, t.Any]:
        return {"cmd": list(self.argv), "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}


def _decode(data: bytes) -> str:
    """Command output as text, losslessly: Postfix passes main.cf values through byte for byte,
    and they need not be UTF-8 (bytes that are not come back as surrogates, as files are read)."""
    return data.decode("utf-8", "surrogateescape")


def _environment(extra: t.Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["LANG"] = "C"
    env["LC_ALL"] = "C"
    path = env.get("PATH", "")
    for directory in ("/usr/sbin", "/sbin"):
        if directory not in path.split(":"):
            path = f"{path}:{directory}" if path else directory
    env["PATH"] = path
    if extra:
        env.update(extra)
    return env


def _collect(proc: subprocess.Popen[bytes], master: int, timeout: float) -> tuple[bytes, bytes]:
    """Read the child's stdout (a pipe) and stderr (the terminal) while it runs, so that neither
    fills up and blocks it, until it exits; then take what is left without waiting for daemons it
    started, which may keep the terminal or the pipe open. Returns (stdout, stderr) bytes."""
    if proc.stdout is None:  # pragma: no cover - run() always makes the pipe
        raise PostfixMultiError("internal error: no pipe for the command's output")
    out_fd = proc.stdout.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], master: []}
    open_fds = [out_fd, master]
    deadline = time.monotonic() + timeout

    def read(fd: int) -> bool:
        """One read; False at end of file (or EIO: every writer closed the terminal)."""
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data:
            chunks[fd].append(data)
            return True
        open_fds.remove(fd)
        return False

    while open_fds:
        exited = proc.poll() is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            proc.kill()
            raise PostfixMultiError(f"command timed out after {timeout:.0f} s: {' '.join(str(a) for a in proc.args)}")  # type: ignore[union-attr]
        ready, _w, _x = select.select(open_fds, [], [], 0 if exited else min(remaining, 0.2))
        for fd in ready:
            read(fd)
        if exited and not ready:
            break  # the child is gone and nothing is pending: what holds the fds open is not ours to wait for
    return b"".join(chunks[out_fd]), b"".join(chunks[master])


# Files where a classic syslog daemon keeps mail-facility messages (Debian, Red Hat).
MAIL_LOG_FILES = ("/var/log/mail.log", "/var/log/maillog", "/var/log/mail.err")
# Postfix's diagnostics that say why a command failed (msg(3): warning, error, fatal, panic).
_SEVERITY = re.compile(r"\b(warning|error|fatal|panic): ")


def _journal_messages(json_lines: str, unit: str | None = None) -> tuple[list[str], list[str]]:
    """From ``journalctl -o json`` output: the MESSAGE of each mail-facility entry, and of each
    entry that the processes of ``unit`` wrote (their standard output and error)."""
    mail: list[str] = []
    own: list[str] = []
    for line in json_lines.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("MESSAGE") if isinstance(entry, dict) else None
        if not isinstance(message, str):
            continue
        if entry.get("SYSLOG_FACILITY") == "2":
            mail.append(message)
        elif unit and entry.get("_SYSTEMD_UNIT") == unit:
            own.append(message)
    return mail, own


def _mail_messages(json_lines: str) -> list[str]:
    """The MESSAGE of each mail-facility entry in ``journalctl -o json`` output."""
    return _journal_messages(json_lines)[0]


class MailLog:
    """What Postfix logged between ``mark()`` and ``since()``: read from journald (the mail
    facility, 2) or from the end of the classic mail log files. Postfix commands write their
    reasons only to syslog when stderr is not a terminal (msg_vstream(3) vs msg_syslog(3))."""

    def __init__(self, cursor: str | None, offsets: dict[str, int]) -> None:
        self.cursor = cursor
        self.offsets = offsets

    @classmethod
    def mark(cls) -> MailLog:
        cursor = None
        journalctl = shutil.which("journalctl", path=_environment(None)["PATH"])
        if journalctl and os.path.isdir("/run/systemd/journal"):
            shown = run([journalctl, "--no-pager", "--show-cursor", "-n", "0", "-q"])
            for line in shown.stdout.splitlines():
                if line.startswith("-- cursor: "):
                    cursor = line[len("-- cursor: ") :].strip()
        offsets = {}
        for path in MAIL_LOG_FILES:
            with contextlib.suppress(OSError):
                offsets[path] = os.path.getsize(path)
        return cls(cursor, offsets)

    def since(self, unit: str | None = None) -> str:
        """Postfix's warning/error/fatal/panic lines since ``mark()``. With ``unit`` (a systemd unit
        that failed): when Postfix logged nothing of the kind, what the unit's own processes wrote,
        such as the reason an ExecStartPre script refused to start."""
        said: list[str] = []
        own: list[str] = []
        if self.cursor:
            journalctl = shutil.which("journalctl", path=_environment(None)["PATH"]) or "journalctl"
            # journald takes syslog datagrams in asynchronously: ask it to catch up, and look again
            # briefly (only on this failure path, where the reason would otherwise be lost)
            for attempt in range(8):
                run([journalctl, "--sync"])
                # no SYSLOG_FACILITY=2 match on the command line: systemd 247 and 252 return nothing
                # for a match combined with --after-cursor when the cursor's entry does not match
                fields = "--output-fields=SYSLOG_FACILITY,MESSAGE,_SYSTEMD_UNIT"
                logged = run([journalctl, "--no-pager", "-q", "-o", "json", fields, "--after-cursor", self.cursor])
                mail, own = _journal_messages(logged.stdout, unit)
                said = [message for message in mail if _SEVERITY.search(message)]
                if said or (own and attempt):
                    break
                time.sleep(0.05 * (attempt + 1))
        if not said and not own:
            lines: list[str] = []
            for path, offset in self.offsets.items():
                with contextlib.suppress(OSError), open(path, "rb") as handle:
                    handle.seek(offset)
                    lines += handle.read(1 << 20).decode("utf-8", "replace").splitlines()
            said = [line for line in lines if _SEVERITY.search(line)]
        return "\n".join(dict.fromkeys(said or own))


def run(
    argv: t.Sequence[str],
    *,
    tty: bool = False,
    env: t.Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300.0,
) -> CommandResult:
    """Run ``argv`` and return its status and output; never raises for a non-zero status."""
    args = [str(a) for a in argv]
    if not args or isinstance(argv, str):
        raise PostfixMultiError("internal error: a command must be a non-empty list of arguments")
    environment = _environment(env)
    try:
        if not tty:
            # not AnsibleModule.run_command: this layer runs without AnsibleModule, and the pseudo-terminal below
            # (Postfix tells why a command failed only on a terminal) is beyond what run_command offers
            done = subprocess.run(  # noqa: S603 # pylint: disable=ansible-bad-function
                args,
                input=None if stdin is None else stdin.encode("utf-8", "surrogateescape"),
                capture_output=True,
                env=environment,
                timeout=timeout,
                check=False,
            )
            return CommandResult(tuple(args), done.returncode, _decode(done.stdout), _decode(done.stderr))
        try:
            master, slave = pty.openpty()
        except OSError:
            # no pseudo-terminal here (a chroot without /dev/pts): run without one, and when it
            # fails without a word, take its reason from what Postfix logged meanwhile
            mark = MailLog.mark()
            result = run(args, tty=False, env=env, stdin=stdin, timeout=timeout)
            if result.rc != 0 and not result.output:
                return CommandResult(result.argv, result.rc, result.stdout, mark.since())
            return result
        try:
            proc = subprocess.Popen(  # noqa: S603 # pylint: disable=ansible-bad-function
                args,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=slave,
                env=environment,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        try:
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin.encode("utf-8", "surrogateescape"))
                proc.stdin.close()
            raw_out, raw_err = _collect(proc, master, timeout)
            rc = proc.wait()
        finally:
            os.close(master)
            if proc.stdout is not None:
                proc.stdout.close()
        # the terminal's text with its CR LF line ends made plain
        out = _decode(raw_out).replace("\r\n", "\n").replace("\r", "\n")
        err = _decode(raw_err).replace("\r\n", "\n")
        return CommandResult(tuple(args), rc, out, err)
    except FileNotFoundError as exc:
        raise PostfixMultiError(f"cannot run {args[0]}: {exc.strerror}; is Postfix installed?", cmd=args) from exc
    except subprocess.TimeoutExpired as exc:
        raise PostfixMultiError(f"command timed out after {timeout:.0f} s: {' '.join(args)}", cmd=args) from exc


def check(argv: t.Sequence[str], *, what: str, tty: bool = True, env: t.Mapping[str, str] | None = None) -> CommandResult:
    """Run a command that must succeed; raise with its own diagnostics otherwise."""
    result = run(argv, tty=tty, env=env)
    if result.rc != 0:
        said = result.output or "(the command printed nothing)"
        raise PostfixMultiError(f"{what} failed (rc={result.rc}): {said}", **result.as_dict())
    return result
