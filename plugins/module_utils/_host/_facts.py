# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What the planner may ask about the managed host (read-only), and the real implementation.

The planner never touches the file system or runs commands itself: it asks a ``Facts``
object. ``LocalFacts`` answers from this machine (files, ``postconf -d``, ``postfix status``).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import stat
import sys
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import RealPaths
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

# The queue subdirectories that hold messages (or message files being written): the one list
# that queue counts, the decommission drain and destroy's refusal all use. "corrupt" holds damaged
# queue files Postfix set aside, "saved" is the set-aside queue that postcat(1) also reads
# (src/global/mail_queue.h); neither drains by itself.
MAIL_QUEUES = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt", "saved")


class Facts(Protocol):
    def read_text(self, path: str) -> str | None: ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def resolve(self, path: str) -> str: ...

    def is_running(self, config_directory: str) -> bool: ...

    def queue_counts(self, queue_directory: str) -> dict[str, int]: ...

    def incomplete(self, queue_directory: str, data_directory: str, mail_owner: str) -> str | None: ...

    def reload_pending(self, config_directory: str, data_directory: str) -> str | None: ...


class FactsOverlay:
    """Facts that answer as ``facts`` does, for a subclass to change one or two answers of."""

    def __init__(self, facts: Facts) -> None:
        self._facts = facts

    def read_text(self, path: str) -> str | None:
        return self._facts.read_text(path)

    def exists(self, path: str) -> bool:
        return self._facts.exists(path)

    def is_dir(self, path: str) -> bool:
        return self._facts.is_dir(path)

    def resolve(self, path: str) -> str:
        return self._facts.resolve(path)

    def is_running(self, config_directory: str) -> bool:
        return self._facts.is_running(config_directory)

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        return self._facts.queue_counts(queue_directory)

    def incomplete(self, queue_directory: str, data_directory: str, mail_owner: str) -> str | None:
        return self._facts.incomplete(queue_directory, data_directory, mail_owner)

    def reload_pending(self, config_directory: str, data_directory: str) -> str | None:
        return self._facts.reload_pending(config_directory, data_directory)


def setup_gap(queue_directory: str, data_directory: str, mail_owner: str) -> str | None:
    """Why an instance's directories are not what ``postfix set-permissions`` leaves (None: they
    are): a run killed between the registration and set-permissions leaves the queue directory
    without Postfix's queues and a data directory owned by root (postfix-files: ``maildrop`` and
    ``pid`` below $queue_directory, $data_directory owned by $mail_owner)."""
    for option, directory in (("queue_directory", queue_directory), ("data_directory", data_directory)):
        if not os.path.isdir(directory):
            return f"its {option} {directory} is missing"
    missing = [sub for sub in ("maildrop", "pid", "public", "private") if not os.path.isdir(os.path.join(queue_directory, sub))]
    if missing:
        return f"its queue directory {queue_directory} lacks {', '.join(missing)}"
    try:
        owner_uid = pwd.getpwnam(mail_owner).pw_uid
    except KeyError:
        return None  # no such user: postfix check says so itself
    if os.stat(data_directory).st_uid != owner_uid:
        return f"its data directory {data_directory} is not owned by {mail_owner}"
    return None


def master_lock_held(pid_file: str) -> bool | None:
    """Whether a Postfix master daemon runs on this pid file, tested as ``master -t`` tests it (the
    test behind ``postfix status``): the master holds an exclusive flock(2) on
    ``$queue_directory/$process_id_directory/master.pid`` while it runs (master(8); Postfix's
    INTERNAL_LOCK is flock on Linux). None when it cannot tell (no permission, a link, not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fd = os.open(pid_file, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False  # master -t: no pid file, no master
    except OSError:
        return None
    try:
        # a shared lock cannot be had while the master holds its exclusive one; released at close
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False


def find_postfix_command(name: str, command_directory: str | None = None) -> str:
    """Absolute path of a Postfix command (postconf, postfix, postmulti)."""
    if command_directory:
        candidate = os.path.join(command_directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise PostfixMultiError(f"cannot find the Postfix command '{name}' (looked in {command_directory or 'PATH'} and /usr/sbin); is Postfix installed?")
    return found


def parse_postconf_lines(text: str) -> dict[str, str]:
    """Parse ``name = value`` lines as printed by ``postconf``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def count_files(directory: str) -> int:
    """Regular files below ``directory`` (recursively); 0 when it does not exist."""
    total = 0
    for _root, _dirs, files in os.walk(directory):
        for entry in files:
            try:
                if stat.S_ISREG(os.lstat(os.path.join(_root, entry)).st_mode):
                    total += 1
            except FileNotFoundError:
                continue
    return total


class LocalFacts:
    """Facts about the machine this code runs on."""

    def __init__(self) -> None:
        self._defaults: dict[str, str] | None = None
        self._compiled: dict[str, str] | None = None
        self._real = RealPaths()

    def fresh(self) -> LocalFacts:
        """New facts that have learnt nothing about paths yet, but share the compiled-in defaults
        (``postconf -d`` of the same Postfix program, so one process per run serves them all)."""
        other = LocalFacts()
        other._compiled, other._defaults = self.compiled_defaults(), self._defaults
        return other

    def forget(self) -> None:
        """Forget what was learnt about paths (call after changing directories)."""
        self._real.forget()

    def compiled_defaults(self) -> dict[str, str]:
        """Every compiled-in default of this Postfix (``postconf -d``), read once: the directories and
        names of ``defaults`` and what the health probes derive listeners from, one process for both."""
        if self._compiled is None:
            postconf = find_postfix_command("postconf")
            result = _runner.run([postconf, "-d"])
            if result.rc != 0:
                raise PostfixMultiError(f"postconf -d failed (rc={result.rc}): {result.output}", **result.as_dict())
            self._compiled = parse_postconf_lines(result.stdout)
        return self._compiled

    def defaults(self) -> dict[str, str]:
        """The compiled-in directories and names that locate instances (``FALLBACK_DEFAULTS``' names); those
        that this Postfix does not know (older releases) from ``FALLBACK_DEFAULTS``."""
        if self._defaults is None:
            compiled = self.compiled_defaults()
            self._defaults = {name: compiled.get(name, fallback) for name, fallback in FALLBACK_DEFAULTS.items()}
        return self._defaults

    def postfix(self) -> str:
        return find_postfix_command("postfix", self.defaults().get("command_directory"))

    def read_text(self, path: str) -> str | None:
        return _io.read_text(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def resolve(self, path: str) -> str:
        return self._real(path)

    def reload_pending(self, config_directory: str, data_directory: str) -> str | None:
        """How the instance must be brought to the files a postfix_multi_host run wrote and did not
        get to reload it after (``reloaded`` or ``restarted``; _io.RELOAD_PENDING), or None: no
        marker, or its master started after the marker was left, so it read those files."""
        marker = os.path.join(data_directory, _io.RELOAD_PENDING)
        try:
            info = os.lstat(marker)
            if not stat.S_ISREG(info.st_mode):
                return None
            with open(marker, "rb") as handle:
                state = handle.read(64).decode("ascii", "replace").strip()
        except OSError:
            return None
        pid_file = self.master_pid_file(config_directory)
        if pid_file is not None:
            with contextlib.suppress(OSError):
                if os.stat(pid_file).st_mtime_ns > info.st_mtime_ns:
                    return None
        return state if state in _io.PENDING_STATES else "reloaded"

    def is_running(self, config_directory: str) -> bool:
        """Whether the instance's master runs, as ``postfix -c DIR status`` (which postmulti runs)
        decides it: by the master's lock on its pid file, read here without starting a process where
        the instance's main.cf gives the queue directory plainly; else by ``postfix status`` itself."""
        held = self._lock_state(config_directory)
        if held is not None:
            return held
        result = _runner.run([self.postfix(), "-c", config_directory, "status"], tty=True)
        return result.rc == 0

    def _lock_state(self, config_directory: str) -> bool | None:
        pid_file = self.master_pid_file(config_directory)
        return None if pid_file is None else master_lock_held(pid_file)

    def status_key(self, config_directory: str, pid_file: str) -> str | None:
        """What ``postfix -c DIR status`` depends on besides the lock: the instance's main.cf and the
        default one (postfix(1) reads both: a -c directory must be listed there), as files, and which
        master runs (its pid file); None when one of them cannot be read."""
        default = os.path.join(self.defaults()["config_directory"], "main.cf")
        parts = []
        for path in dict.fromkeys((os.path.join(config_directory, "main.cf"), default, pid_file)):
            try:
                info = os.stat(path)
            except OSError:
                return None
            parts.append(f"{path} {info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}")
        return "\n".join(parts)

    def remember_status(self, config_directory: str, key: str) -> None:
        """After ``postfix -c DIR status`` succeeded on what ``key`` (``status_key`` before it ran) says:
        leave it in the instance's data directory, if nothing of it changed meanwhile, for
        ``runs_as_configured``."""
        text = self.read_text(os.path.join(config_directory, "main.cf"))
        pid_file = self.master_pid_file(config_directory, text)
        data_directory = self.data_directory(config_directory, text)
        if pid_file is not None and data_directory is not None and self.status_key(config_directory, pid_file) == key:
            _io.remember_status(data_directory, key)

    def data_directory(self, config_directory: str, text: str | None) -> str | None:
        """``$data_directory`` of the instance where its main.cf (``text``) names it plainly (the
        default for the default instance); None where only Postfix itself can tell."""
        return None if text is None else self._plain_directory(config_directory, text, "data_directory")

    def _plain_directory(self, config_directory: str, text: str, name: str) -> str | None:
        """The directory parameter ``name`` as the instance's main.cf (``text``) gives it, an absolute path
        without ``$`` (the compiled-in default for the default instance); None otherwise."""
        found = MainCf.parse(text).get(name)
        if found is None and os.path.realpath(config_directory) == os.path.realpath(self.defaults()["config_directory"]):
            found = self.defaults().get(name)
        if not found or "$" in found or not found.startswith("/"):
            return None
        return found

    def master_pid_file(self, config_directory: str, text: str | None = None) -> str | None:
        """``$queue_directory/pid/master.pid`` of the instance, where its main.cf (``text``, read when not
        given) names the queue directory plainly; None where only Postfix itself can tell."""
        if text is None:
            text = self.read_text(os.path.join(config_directory, "main.cf"))
        if text is None or "process_id_directory" in text:
            return None
        queue = self._plain_directory(config_directory, text, "queue_directory")
        return None if queue is None else os.path.join(queue, "pid", "master.pid")

    def runs_as_configured(self, config_directory: str) -> bool:
        """Whether ``postfix -c DIR status`` could only say that the instance runs, told without a process.

        True only when all of these hold: the master holds the lock on its pid file (what ``master -t``,
        behind ``postfix status``, tests); main.cf and master.cf are older than that pid file, which
        master(8) writes when it starts, so the running master read these very files, and postfix(1)
        read them without a fatal error to start it - or else a ``postfix status`` that succeeded since
        this master started read this very main.cf (``remember_status``); and the mail_owner and
        setgid_group they name still exist (mail_params_init() in src/global/mail_params.c refuses a
        configuration whose user or group is gone). Anything else (a file changed since, a ``$`` in a
        name, a queue directory only Postfix can work out) is False: the caller asks ``postfix status``."""
        text = self.read_text(os.path.join(config_directory, "main.cf"))
        pid_file = self.master_pid_file(config_directory, text)
        if text is None or pid_file is None:
            return False
        try:
            started = os.lstat(pid_file).st_mtime
            newer = any(os.stat(os.path.join(config_directory, name)).st_mtime >= started for name in ("main.cf", "master.cf"))
        except OSError:
            return False
        if newer:
            data_directory = self.data_directory(config_directory, text)
            key = self.status_key(config_directory, pid_file)
            if data_directory is None or key is None or _io.remembered_status(data_directory) != key:
                return False
        main = MainCf.parse(text)
        owner = main.get("mail_owner") or self.defaults().get("mail_owner") or "postfix"
        group = main.get("setgid_group") or self.defaults().get("setgid_group") or "postdrop"
        if "$" in owner or "$" in group:
            return False
        try:
            pwd.getpwnam(owner)
            grp.getgrnam(group)
        except KeyError:
            return False
        return master_lock_held(pid_file) is True

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        return {queue: count_files(os.path.join(queue_directory, queue)) for queue in MAIL_QUEUES}

    def incomplete(self, queue_directory: str, data_directory: str, mail_owner: str) -> str | None:
        return setup_gap(queue_directory, data_directory, mail_owner)
