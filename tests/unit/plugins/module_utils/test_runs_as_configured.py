# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When the health gate may say "running" without ``postfix status``: on the real file system, with
the pid file locked as master(8) locks it (an exclusive flock held by another open file), and only
where nothing postfix(1) reads has changed since the master started."""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import sys
import typing as t

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Postfix's master lock is flock(2) on Linux")

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


class Instance:
    """A configuration directory and a queue directory whose ``pid/master.pid`` a "master" may lock."""

    def __init__(self, root: t.Any, main_extra: str = "", owner: str = USER, group: str = GROUP) -> None:
        self.config = str(root / "etc")
        self.queue = str(root / "spool")
        os.makedirs(self.config)
        os.makedirs(os.path.join(self.queue, "pid"))
        self.write("main.cf", f"queue_directory = {self.queue}\nmail_owner = {owner}\nsetgid_group = {group}\n{main_extra}")
        self.write("master.cf", "smtp inet n - y - - smtpd\n")
        self.pid_file = os.path.join(self.queue, "pid", "master.pid")
        self._fd: int | None = None

    def write(self, name: str, text: str, age: float = 60.0) -> None:
        path = os.path.join(self.config, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        then = os.stat(path).st_mtime - age
        os.utime(path, (then, then))

    def start(self) -> None:
        """What master(8) does when it starts: (re)write its pid file and hold an exclusive flock on it."""
        self._fd = os.open(self.pid_file, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self._fd, b"%33d\n" % os.getpid())

    def stop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def touch(self, name: str) -> None:
        """An edit after the start (postconf -e, an editor, a reload's new text): newer than the pid file."""
        path = os.path.join(self.config, name)
        later = os.stat(self.pid_file).st_mtime + 1
        os.utime(path, (later, later))


@pytest.fixture
def inst(tmp_path: t.Any) -> t.Iterator[Instance]:
    instance = Instance(tmp_path)
    yield instance
    instance.stop()


def test_a_running_master_on_unchanged_files_needs_no_process(inst: Instance) -> None:
    inst.start()
    assert LocalFacts().runs_as_configured(inst.config) is True


def test_no_master_is_left_to_postfix_status(inst: Instance) -> None:
    assert LocalFacts().runs_as_configured(inst.config) is False  # no pid file at all
    inst.start()
    inst.stop()  # the pid file stays, unlocked: the master is gone
    assert LocalFacts().runs_as_configured(inst.config) is False


@pytest.mark.parametrize("name", ["main.cf", "master.cf"])
def test_a_file_changed_since_the_start_is_left_to_postfix_status(inst: Instance, name: str) -> None:
    inst.start()
    inst.touch(name)
    assert LocalFacts().runs_as_configured(inst.config) is False


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("mail_owner", "no-such-user-mailops"), ("setgid_group", "no-such-group-mailops"), ("mail_owner", "$nobody")],
)
def test_a_user_or_group_that_postfix_cannot_use_is_left_to_postfix_status(tmp_path: t.Any, parameter: str, value: str) -> None:
    """postfix(1) refuses a mail_owner or setgid_group that no longer exists, whatever the running master read."""
    inst = Instance(tmp_path, **{{"mail_owner": "owner", "setgid_group": "group"}[parameter]: value})
    try:
        inst.start()
        assert LocalFacts().runs_as_configured(inst.config) is False
    finally:
        inst.stop()


@pytest.mark.parametrize("extra", ["process_id_directory = run\n", "queue_directory = /var/spool/$multi_instance_name\n"])
def test_a_pid_file_only_postfix_can_locate_is_left_to_postfix_status(tmp_path: t.Any, extra: str) -> None:
    inst = Instance(tmp_path, main_extra=extra)
    try:
        inst.start()
        assert LocalFacts().runs_as_configured(inst.config) is False
    finally:
        inst.stop()


def test_a_pid_file_that_is_a_link_is_left_to_postfix_status(inst: Instance) -> None:
    inst.start()
    elsewhere = inst.pid_file + ".real"
    os.rename(inst.pid_file, elsewhere)
    os.symlink(elsewhere, inst.pid_file)
    assert LocalFacts().runs_as_configured(inst.config) is False
