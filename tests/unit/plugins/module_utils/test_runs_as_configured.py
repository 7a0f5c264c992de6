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
from pathlib import Path

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


def _facts_for(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> LocalFacts:
    """LocalFacts for which ``inst`` is the default instance (its main.cf the one -c directories are listed in)."""
    facts = LocalFacts()
    monkeypatch.setattr(facts, "defaults", lambda: {"config_directory": inst.config, "mail_owner": USER, "setgid_group": GROUP})
    return facts


@pytest.fixture
def kept(tmp_path: t.Any) -> t.Iterator[Instance]:
    """An instance with a data directory, where a successful postfix status is remembered."""
    data = tmp_path / "data"
    data.mkdir()
    instance = Instance(tmp_path, main_extra=f"data_directory = {data}\n")
    instance.data = str(data)  # type: ignore[attr-defined]
    yield instance
    instance.stop()


def test_a_main_cf_that_a_successful_postfix_status_read_needs_no_process_again(kept: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The primary's main.cf is edited after its start (postmulti -e create registers instances there): postfix
    status runs once; what it read is remembered, and only while that main.cf and that master stay."""
    facts = _facts_for(kept, monkeypatch)
    kept.start()
    kept.touch("main.cf")
    assert facts.runs_as_configured(kept.config) is False
    key = facts.status_key(kept.config, kept.pid_file)
    assert key is not None
    facts.remember_status(kept.config, key)  # what LocalHealthHost does after postfix status said rc 0
    marker = os.path.join(kept.data, "postfix_multi-status-ok")  # type: ignore[attr-defined]
    info = os.lstat(marker)
    assert (info.st_mode & 0o777, info.st_uid) == (0o600, os.stat(kept.data).st_uid)  # type: ignore[attr-defined]
    assert facts.runs_as_configured(kept.config) is True
    # another edit of main.cf: postfix status again
    kept.write("main.cf", Path(kept.config, "main.cf").read_text(encoding="utf-8") + "myhostname = b.example\n", age=0)
    kept.touch("main.cf")
    assert facts.runs_as_configured(kept.config) is False
    # remembered again, then the master is restarted (a new pid file): what was remembered was another master's
    facts.remember_status(kept.config, facts.status_key(kept.config, kept.pid_file) or "")
    assert facts.runs_as_configured(kept.config) is True
    kept.stop()
    os.unlink(kept.pid_file)
    kept.start()
    kept.touch("main.cf")
    assert facts.runs_as_configured(kept.config) is False


def test_a_main_cf_changed_while_postfix_status_ran_is_not_remembered(kept: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _facts_for(kept, monkeypatch)
    kept.start()
    kept.touch("main.cf")
    key = facts.status_key(kept.config, kept.pid_file) or ""
    kept.write("main.cf", Path(kept.config, "main.cf").read_text(encoding="utf-8") + "mail_owner = nobody\n", age=0)
    kept.touch("main.cf")
    facts.remember_status(kept.config, key)
    assert not os.path.lexists(os.path.join(kept.data, "postfix_multi-status-ok"))  # type: ignore[attr-defined]
    assert facts.runs_as_configured(kept.config) is False


def test_the_remembered_status_is_never_written_or_read_through_a_link(kept: Instance, monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    facts = _facts_for(kept, monkeypatch)
    kept.start()
    kept.touch("main.cf")
    key = facts.status_key(kept.config, kept.pid_file) or ""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(key + "\n")
    os.symlink(elsewhere, os.path.join(kept.data, "postfix_multi-status-ok"))  # type: ignore[attr-defined]
    assert facts.runs_as_configured(kept.config) is False  # a link is not believed
    facts.remember_status(kept.config, key)
    assert elsewhere.read_text() == key + "\n" and facts.runs_as_configured(kept.config) is False
