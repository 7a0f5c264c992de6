# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The writer every replaced file goes through, on the real file system of this machine.

What an Ansible user relies on from ``AnsibleModule.atomic_move`` and from the file modules'
``backup`` and ``unsafe_writes`` options: the replaced file's owner, mode and SELinux label are kept,
a backup holds exactly the old content, and a file that cannot be replaced by a rename (a file
bind-mounted into a container) is written in place only when the user allows it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io

LABEL = b"system_u:object_r:postfix_etc_t:s0\x00"
ROOT = os.geteuid() == 0


def labelled(path: Path, label: bytes = LABEL) -> None:
    os.setxattr(path, _io.SECURITY_CONTEXT, label)


def label_of(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, _io.SECURITY_CONTEXT)
    except OSError:
        return None


def leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(set(os.listdir(directory)) - keep)


def test_replacement_keeps_owner_mode_and_label(tmp_path: Path) -> None:
    target = tmp_path / "main.cf"
    target.write_text("a = 1\n")
    os.chmod(target, 0o640)
    if ROOT:
        os.chown(target, 123, 456)
    labelled(target)
    old_inode = target.stat().st_ino
    _io.write_text(str(target), "a = 2\n")
    info = target.stat()
    assert target.read_text() == "a = 2\n"
    assert info.st_ino != old_inode  # replaced by a rename, not rewritten
    assert oct(info.st_mode & 0o7777) == oct(0o640)
    if ROOT:
        assert (info.st_uid, info.st_gid) == (123, 456)
    assert label_of(target) == LABEL
    assert leftovers(tmp_path, {"main.cf"}) == []


def test_new_file_gets_mode_and_owner_and_no_label(tmp_path: Path) -> None:
    target = tmp_path / "master.cf"
    _io.write_text(str(target), "x\n", mode=0o600, owner=(0, 0) if ROOT else None)
    assert oct(target.stat().st_mode & 0o7777) == oct(0o600)
    assert label_of(target) is None


def test_no_backup_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "main.cf"
    target.write_text("a = 1\n")
    _io.write_text(str(target), "a = 2\n")
    assert os.listdir(tmp_path) == ["main.cf"]


def test_backup_keeps_the_old_file_once_per_run(tmp_path: Path) -> None:
    target = tmp_path / "main.cf"
    target.write_text("a = 1\n")
    os.chmod(target, 0o644)
    labelled(target)
    with _io.write_policy(backup=True) as policy:
        _io.write_text(str(target), "a = 2\n")
        _io.write_text(str(target), "a = 3\n")  # e.g. a rollback or a second step: still one backup, of the original
    assert list(policy.backups) == [str(target)]
    kept = Path(policy.backups[str(target)])
    assert kept.parent == tmp_path
    assert re.fullmatch(r"main\.cf\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", kept.name)
    assert kept.read_text() == "a = 1\n"
    assert oct(kept.stat().st_mode & 0o7777) == oct(0o644)
    assert label_of(kept) == LABEL
    assert target.read_text() == "a = 3\n"
    assert leftovers(tmp_path, {"main.cf", kept.name}) == []
    # the policy ends with its block
    _io.write_text(str(target), "a = 4\n")
    assert leftovers(tmp_path, {"main.cf", kept.name}) == []


def test_backup_of_a_new_file_is_nothing(tmp_path: Path) -> None:
    with _io.write_policy(backup=True) as policy:
        _io.write_text(str(tmp_path / "new.cf"), "a = 1\n")
    assert policy.backups == {}
    assert os.listdir(tmp_path) == ["new.cf"]


def test_a_failed_write_leaves_file_and_no_backup(tmp_path: Path) -> None:
    target = tmp_path / "main.cf"
    target.write_text("a = 1\n")
    with _io.write_policy(backup=True) as policy, pytest.raises(PostfixMultiError, match="changed while this run planned"):
        _io.write_text(str(target), "a = 2\n", before="a = 0\n")
    assert target.read_text() == "a = 1\n"
    assert policy.backups == {}
    assert os.listdir(tmp_path) == ["main.cf"]


def test_links_are_not_written_through(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.cf"
    real.write_text("a = 1\n")
    (tmp_path / "main.cf").symlink_to(real)
    with pytest.raises(PostfixMultiError, match="symbolic link"):
        _io.write_text(str(tmp_path / "main.cf"), "a = 2\n")
    assert real.read_text() == "a = 1\n"


def test_planned_writes_through_links_are_refused_before_the_write(tmp_path: Path) -> None:
    """refuse_links says at planning time what write_text would say half-way through a run: for a
    file that is a link and for a file in a linked directory; a plain or a missing file passes."""
    real = tmp_path / "elsewhere.cf"
    real.write_text("a = 1\n")
    (tmp_path / "main.cf").symlink_to(real)
    (tmp_path / "real-dir").mkdir()
    (tmp_path / "linked-dir").symlink_to(tmp_path / "real-dir")
    (tmp_path / "master.cf").write_text("")
    _io.refuse_links([str(tmp_path / "master.cf"), str(tmp_path / "new.cf"), str(tmp_path / "real-dir" / "main.cf")])
    linked = ((tmp_path / "main.cf", "is a symbolic link"), (tmp_path / "linked-dir" / "main.cf", "cannot write in .*linked-dir: it is a symbolic link"))
    for path, words in linked:
        with pytest.raises(PostfixMultiError, match=words) as planned:
            _io.refuse_links([str(tmp_path / "master.cf"), str(path)])
        with pytest.raises(PostfixMultiError) as written:
            _io.write_text(str(path), "a = 2\n")
        assert str(planned.value) == str(written.value)
    assert real.read_text() == "a = 1\n"
    assert list((tmp_path / "real-dir").iterdir()) == []


def test_concurrent_edit_is_redone_on_the_current_text(tmp_path: Path) -> None:
    target = tmp_path / "main.cf"
    target.write_text("a = 1\nb = 1\n")  # someone else changed b after we planned on "a = 1\n"
    written = _io.write_text(str(target), "a = 2\n", before="a = 1\n", reedit=lambda text: text.replace("a = 1", "a = 2"))
    assert written == target.read_text() == "a = 2\nb = 1\n"


def test_the_postconf_lock_is_honoured(tmp_path: Path) -> None:
    # postconf -e takes an flock on main.cf.tmp (edit_file(3) in Postfix's src/util): while another
    # process holds it, write_text waits; here it times out, and the file stays as it was.
    postconf = shutil.which("postconf")
    target = tmp_path / "main.cf"
    target.write_text("a = 1\n")
    holder = subprocess.Popen(
        ["flock", "-x", str(tmp_path / "main.cf.tmp"), "sleep", "5"],
    )
    try:
        deadline = 50
        while not (tmp_path / "main.cf.tmp").exists() and deadline:
            deadline -= 1
            subprocess.run(["sleep", "0.05"], check=True)
        old_timeout = _io.LOCK_TIMEOUT
        _io.LOCK_TIMEOUT = 0.3
        try:
            with pytest.raises(PostfixMultiError, match="waiting for another editor"):
                _io.write_text(str(target), "a = 2\n")
        finally:
            _io.LOCK_TIMEOUT = old_timeout
    finally:
        holder.kill()
        holder.wait()
    assert target.read_text() == "a = 1\n"
    if postconf:  # and a real postconf -e edits the file we wrote, then we edit after it
        _io.write_text(str(target), "a = 2\n")
        subprocess.run([postconf, "-c", str(tmp_path), "-e", "b = 3"], check=True, capture_output=True)
        assert "b = 3" in target.read_text()


@pytest.fixture
def bind_mounted(tmp_path: Path):
    """A file with another file bind-mounted over it, as a container runtime mounts a config file:
    rename(2) onto a mount point fails with EBUSY."""
    if not ROOT:
        pytest.skip("bind mounts need root")
    source = tmp_path / "outside" / "main.cf"
    source.parent.mkdir()
    source.write_text("a = 1\n")
    labelled(source)
    inside = tmp_path / "etc"
    inside.mkdir()
    target = inside / "main.cf"
    target.write_text("")
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
    try:
        yield source, target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_bind_mounted_file_is_refused_without_unsafe_writes(bind_mounted: tuple[Path, Path]) -> None:
    source, target = bind_mounted
    with _io.write_policy(backup=True) as policy, pytest.raises(PostfixMultiError) as failure:
        _io.write_text(str(target), "a = 2\n")
    assert os.strerror(errno.EBUSY) in failure.value.msg
    assert target.read_text() == source.read_text() == "a = 1\n"
    assert policy.backups == {}
    assert os.listdir(target.parent) == ["main.cf"]  # no temporary file, no backup left


def test_bind_mounted_file_is_written_in_place_with_unsafe_writes(bind_mounted: tuple[Path, Path]) -> None:
    source, target = bind_mounted
    with _io.write_policy(backup=True, unsafe_writes=True) as policy:
        _io.write_text(str(target), "a = 2\n")
    assert target.read_text() == "a = 2\n"
    assert source.read_text() == "a = 2\n"  # the mounted file itself changed: that is what was asked
    kept = Path(policy.backups[str(target)])
    assert kept.read_text() == "a = 1\n"  # a copy: a link would share the overwritten inode
    assert kept.stat().st_ino != source.stat().st_ino
    assert label_of(kept) == LABEL
    assert sorted(os.listdir(target.parent)) == sorted(["main.cf", kept.name])


# -- Postfix's quick-start marker (conf/postfix-script "start": present, it is removed and the
# integrity check skipped; "quick-stop" leaves it)


def test_quick_start_marker_is_made_once_and_removed(tmp_path: Path) -> None:
    queue = tmp_path / "spool"
    queue.mkdir()
    marker = _io.mark_quick_start(str(queue))
    assert marker == str(queue / "quick-start")
    assert (queue / "quick-start").is_file() and (queue / "quick-start").stat().st_size == 0
    # one that is there already is not ours: not made again, so never removed by this run
    assert _io.mark_quick_start(str(queue)) is None
    assert _io.clear_quick_start(marker) is None
    assert not (queue / "quick-start").exists()
    # taken by postfix start meanwhile: nothing to do, nothing to say
    assert _io.clear_quick_start(marker) is None


def test_quick_start_marker_never_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "spool").symlink_to(elsewhere)
    assert _io.mark_quick_start(str(tmp_path / "spool")) is None
    assert list(elsewhere.iterdir()) == []
    assert _io.mark_quick_start(str(tmp_path / "missing")) is None
    assert not (tmp_path / "missing").exists()


def test_quick_start_marker_swapped_for_a_link_is_left_and_reported(tmp_path: Path) -> None:
    queue = tmp_path / "spool"
    queue.mkdir()
    marker = _io.mark_quick_start(str(queue))
    assert marker is not None
    target = tmp_path / "target"
    target.write_text("keep")
    os.unlink(marker)
    os.symlink(target, marker)
    problem = _io.clear_quick_start(marker)
    assert problem is not None and marker in problem
    assert target.read_text() == "keep"
    assert os.path.islink(marker)


def test_a_new_directory_with_the_longest_instance_name_is_made(tmp_path: Path) -> None:
    # 239 characters: the longest name postfix@NAME.service allows; the temporary sibling must still fit NAME_MAX
    target = tmp_path / ("postfix-" + "a" * 231)
    _io.create_directory(str(target), 0o755, {"main.cf": ("a = 1\n", 0o644)})
    assert (target / "main.cf").read_text() == "a = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_directory_name_the_file_system_refuses_is_an_operator_message(tmp_path: Path) -> None:
    with pytest.raises(PostfixMultiError, match="cannot create .*: File name too long"):
        _io.create_directory(str(tmp_path / ("x" * 300)), 0o755, {"main.cf": ("a = 1\n", 0o644)})
    assert list(tmp_path.iterdir()) == []


def test_the_reload_pending_marker(tmp_path: Path) -> None:
    """Left owned like the data directory (postfix check warns of anything else there), never
    weakened from restarted to reloaded, never written or removed through a link; stale once the
    master has started after it (its pid file is newer)."""
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts  # pylint: disable=import-outside-toplevel

    data, queue, config = tmp_path / "data", tmp_path / "queue", tmp_path / "etc"
    for directory in (data, queue / "pid", config):
        directory.mkdir(parents=True)
    (config / "main.cf").write_text(f"queue_directory = {queue}\ndata_directory = {data}\n")
    marker = data / _io.RELOAD_PENDING
    if ROOT:
        os.chown(data, 65534, 65534)
    facts = LocalFacts()
    assert facts.reload_pending(str(config), str(data)) is None
    assert _io.mark_reload_pending(str(data), "restarted") is None
    assert _io.mark_reload_pending(str(data), "reloaded") is None
    assert marker.read_text() == "restarted\n"
    assert (marker.stat().st_uid, marker.stat().st_mode & 0o777) == (data.stat().st_uid, 0o600)
    assert facts.reload_pending(str(config), str(data)) == "restarted"
    pid = queue / "pid" / "master.pid"
    pid.write_text("1\n")
    os.utime(pid, ns=(marker.stat().st_mtime_ns + 10**9,) * 2)  # the master started after the marker
    assert facts.reload_pending(str(config), str(data)) is None
    os.utime(pid, ns=(marker.stat().st_mtime_ns - 10**9,) * 2)
    assert facts.reload_pending(str(config), str(data)) == "restarted"
    assert _io.clear_reload_pending(str(data)) is None
    assert not marker.exists()
    assert _io.clear_reload_pending(str(data)) is None  # gone already
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep\n")
    marker.symlink_to(elsewhere)
    assert "cannot write" in (_io.mark_reload_pending(str(data), "reloaded") or "")
    assert facts.reload_pending(str(config), str(data)) is None
    assert "no longer a plain file" in (_io.clear_reload_pending(str(data)) or "")
    assert marker.is_symlink() and elsewhere.read_text() == "keep\n"
    assert _io.mark_reload_pending(str(tmp_path / "missing"), "reloaded") is not None


def test_a_marker_cut_short_is_not_left(tmp_path, monkeypatch):
    """A full file system: the marker file is made but its text cannot be written. No empty marker
    stays behind to tell the next run that this one did not get to reload the instance."""
    data = tmp_path / "data"
    data.mkdir()

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_io.os, "fsync", full)
    problem = _io.mark_reload_pending(str(data), "reloaded")
    assert problem is not None and "No space left on device" in problem, problem
    assert list(data.iterdir()) == []


def test_the_directory_lock_is_the_process_s(tmp_path):
    """A whole-host run holds the primary's lock and calls steps that take it too: taken again in the
    same process it is already held (no wait, no deadlock), and it stays held until the outermost
    holder ends; another process cannot take it meanwhile."""
    probe = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"

    def other_process_gets_it() -> bool:
        return subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, check=False).returncode == 0

    with _io.DirectoryLock(str(tmp_path)):
        with _io.DirectoryLock(str(tmp_path), timeout=0.1):
            assert not other_process_gets_it()
        assert not other_process_gets_it()  # the inner holder's end did not release it
    assert other_process_gets_it()
