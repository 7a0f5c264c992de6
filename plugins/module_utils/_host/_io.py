# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one place that reads and writes configuration files, and locks them.

Writes follow Postfix's own edit protocol (``write_text``): the new text goes to ``PATH.tmp``
under Postfix's lock, is fsync'ed and renamed over the target (atomic on one file system),
keeping the target's owner, mode and SELinux label. Links are never written through. The
directory is fsync'ed after the rename. A module run can ask for a backup of every file it
replaces and for writes in place where a rename cannot replace a file (``write_policy``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise PostfixMultiError(f"cannot read {path}: {exc.strerror}") from exc
    # one read(2) of the size fstat(2) gives, then on until end of file (the file may grow meanwhile);
    # without the buffered text layer, which costs more than the read itself for a small file
    chunks = []
    try:
        size = os.fstat(fd).st_size
        while True:
            chunk = os.read(fd, max(size + 1, 8192))
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise PostfixMultiError(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


# Postfix's cooperative edit protocol (src/util/edit_file.c, used by postconf -e / -M / -X):
# the new text goes to PATH.tmp, created with mode 0600 and locked with flock; a lock holder
# that finds PATH.tmp renamed or replaced meanwhile backs out and tries again.
EDIT_SUFFIX = ".tmp"
EDIT_MODE = 0o600
LOCK_TIMEOUT = 60.0

Reedit = t.Callable[[str], str]


def _open_directory(directory: str) -> int:
    """An O_NOFOLLOW descriptor of ``directory``: every later step works relative to it, so a
    directory swapped for a symbolic link meanwhile cannot redirect the write."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(directory, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(directory):
            raise _linked_directory(directory) from exc
        raise PostfixMultiError(f"cannot write in {directory}: {exc.strerror}") from exc


def _linked_directory(directory: str) -> PostfixMultiError:
    return PostfixMultiError(f"cannot write in {directory}: it is a symbolic link (to {os.path.realpath(directory)}); nothing was written")


def _linked_file(shown: str) -> PostfixMultiError:
    return PostfixMultiError(
        f"{shown} is a symbolic link: this module does not write through links (the write could land outside the instance); "
        "replace the link with the file itself"
    )


def refuse_links(paths: t.Iterable[str]) -> None:
    """Refuse, when a run is planned, files it would write that ``write_text`` refuses when it
    gets to them: a file that is a symbolic link, or one in a directory that is. Checked before
    anything is done (in check mode too), so a refusal never comes half-way through a run; the
    write itself checks again, without following links, in case one appears meanwhile."""
    for path in paths:
        directory = os.path.dirname(path) or "."
        if os.path.islink(directory):
            raise _linked_directory(directory)
        if os.path.islink(path):
            raise _linked_file(path)


def _lock_edit_file(dfd: int, name: str, shown: str) -> int:
    """Open ``NAME.tmp`` beside the target and hold Postfix's edit lock on it (edit_file_open)."""
    tmp = name + EDIT_SUFFIX
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fd = os.open(tmp, flags, EDIT_MODE, dir_fd=dfd)
        except OSError as exc:
            raise PostfixMultiError(f"cannot write {shown}: {tmp}: {exc.strerror}") from exc
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() > deadline:
                    raise PostfixMultiError(f"timed out after {LOCK_TIMEOUT:.0f} s waiting for another editor (postconf?) of {shown}")
                time.sleep(0.01)
            locked = os.fstat(fd)
            try:
                named = os.stat(tmp, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                named = None
            if named is None or (named.st_dev, named.st_ino) != (locked.st_dev, locked.st_ino):
                os.close(fd)  # renamed into place or removed by the previous holder: try again
                continue
            if not stat.S_ISREG(named.st_mode) or named.st_nlink > 1 or stat.S_IMODE(named.st_mode) != EDIT_MODE:
                os.unlink(tmp, dir_fd=dfd)  # a crash left it in a state nobody should write to
                os.close(fd)
                continue
            os.ftruncate(fd, 0)  # left by an editor that was killed: reuse it, as Postfix does
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


# The SELinux label of a file (what ls -Z shows). A replaced file keeps it, as Ansible's
# atomic_move keeps it; read and written as an extended attribute, so that no SELinux library is needed.
SECURITY_CONTEXT = "security.selinux"


def label_of(path: str) -> bytes | None:
    """The SELinux label of ``path`` itself (None: none, or no such file)."""
    with contextlib.suppress(OSError, AttributeError):  # no label, no xattr support, not Linux
        return os.getxattr(path, SECURITY_CONTEXT, follow_symlinks=False)
    return None


def give_label(path: str, label: bytes | None) -> None:
    """Give ``path`` (a file of ours, not yet in place) the label of the file it replaces, as
    Ansible's ``atomic_move`` does; nothing when that file had none."""
    if label is not None:
        os.setxattr(path, SECURITY_CONTEXT, label, follow_symlinks=False)


class Current(t.NamedTuple):
    """A file as it was before a replacement: its text, status and SELinux label (None: none)."""

    text: str | None
    info: os.stat_result | None
    context: bytes | None


def _read_at(dfd: int, name: str, shown: str) -> Current:
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    except FileNotFoundError:
        return Current(None, None, None)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _linked_file(shown) from exc
        raise PostfixMultiError(f"cannot read {shown}: {exc.strerror}") from exc
    context: bytes | None = None
    with contextlib.suppress(OSError, AttributeError):  # no label, no xattr support, not Linux
        context = os.getxattr(fd, SECURITY_CONTEXT)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        return Current(handle.read().decode("utf-8", "surrogateescape"), info, context)


def backup_name(name: str, when: float | None = None) -> str:
    """The name of a backup copy of ``name``, as Ansible's backup_local() names it: NAME.PID.YYYY-MM-DD@HH:MM:SS~."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(time.time() if when is None else when))
    return f"{name}.{os.getpid()}.{stamp}~"


class WritePolicy:
    """How ``write_text`` replaces files during one module run (see ``write_policy``).

    ``backup``: keep each replaced file once, as it was before the run's first write to it, under
    ``backup_name()`` beside it (``backups`` maps each path to its backup). ``unsafe_writes``: where
    the rename cannot replace the file (a file bind-mounted into a container: EBUSY, EXDEV), write
    it in place instead, as Ansible's ``unsafe_writes`` does; that write is not atomic.
    """

    def __init__(self, backup: bool = False, unsafe_writes: bool = False) -> None:
        self.backup = backup
        self.unsafe_writes = unsafe_writes
        self.backups: dict[str, str] = {}


_policy = WritePolicy()


@contextlib.contextmanager
def write_policy(backup: bool = False, unsafe_writes: bool = False) -> t.Iterator[WritePolicy]:
    """Apply a ``WritePolicy`` to every ``write_text`` inside the block; yields it (for its backups)."""
    global _policy  # pylint: disable=global-statement  # one module run per process: the run's policy
    previous, _policy = _policy, WritePolicy(backup, unsafe_writes)
    try:
        yield _policy
    finally:
        _policy = previous


# Postfix reads a configuration file again, pausing 0.3 s each time, for as long as its mtime is
# within the last second (dict_load_file_xt() and load_file() in Postfix's src/util: "pausing to let
# FILE cool down"), a guard against reading a file that an editor is still writing in place. A file
# written here is complete the moment it appears (renamed into place), so it gets an mtime just
# past that window, and the Postfix commands run right after it (postfix check, set-permissions,
# start, reload) do not wait. Only for files whose mtime nothing compares: not for a lookup table's
# source, whose indexed file must stay newer than it (Postfix warns "database is older than source
# file" only when the source is the newer one).
SETTLED_SECONDS = 2


def settle(fd: int) -> None:
    """Give the file open at ``fd`` an mtime (and atime) SETTLED_SECONDS in the past."""
    past = time.time() - SETTLED_SECONDS
    os.utime(fd, (past, past))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_in_place(dfd: int, name: str, data: bytes) -> None:
    """Overwrite the file itself (it cannot be replaced: a mount point); not atomic."""
    fd = os.open(name, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    try:
        os.ftruncate(fd, 0)
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_backup(dfd: int, name: str, old: Current, copy: bool) -> str:
    """Keep the file about to be replaced as ``backup_name(name)``: a hard link to it when the
    rename leaves its inode alone and the file system allows one, else a copy with its owner,
    mode and label (written in place: a link would share the overwritten inode)."""
    kept = backup_name(name)
    if not copy:
        try:
            os.link(name, kept, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
            return kept
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):  # a mount point, no hard links here
                raise
    if old.info is None or old.text is None:
        raise PostfixMultiError(f"cannot keep a backup of {name}: it did not exist")
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=dfd)
    try:
        _write_all(fd, old.text.encode("utf-8", "surrogateescape"))
        os.fsync(fd)
        os.fchown(fd, old.info.st_uid, old.info.st_gid)
        os.fchmod(fd, stat.S_IMODE(old.info.st_mode))
        if old.context is not None:
            os.setxattr(fd, SECURITY_CONTEXT, old.context)
    finally:
        os.close(fd)
    return kept


def write_text(
    path: str,
    text: str,
    mode: int = 0o644,
    owner: tuple[int, int] | None = None,
    *,
    before: str | None | object = ...,
    reedit: Reedit | None = None,
) -> str:
    """Replace (or create) ``path`` with ``text`` the way ``postconf -e`` does; return the text written.

    Follows Postfix's edit protocol, so that neither this module nor a concurrent ``postconf``
    loses an edit: the lock on ``PATH.tmp`` is held while the current text is read and the new
    one written, fsync'ed and renamed into place. When ``before`` is given and the file no
    longer holds it (someone edited it since it was planned), ``reedit`` makes the edit again
    on the current text; without ``reedit`` nothing is written and the run fails. An existing
    file keeps its owner, group and mode; a new one gets ``mode`` and ``owner``. The directory
    is opened once, without following a link, and every step works relative to it; a failure
    removes the temporary file. The replaced file's SELinux label goes to the new one, as
    Ansible's ``atomic_move`` keeps it. Backups and writes in place: see ``write_policy``.
    """
    directory, name = os.path.split(path)
    dfd = _open_directory(directory or ".")
    try:
        fd = _lock_edit_file(dfd, name, path)
        renamed = False
        try:
            old = _read_at(dfd, name, path)
            current, info = old.text, old.info
            if before is not ... and current != before:
                if reedit is None or current is None:
                    raise PostfixMultiError(f"{path} changed while this run planned its edit (another editor?); nothing was written: run again")
                text = reedit(current)
            data = text.encode("utf-8", "surrogateescape")
            _write_all(fd, data)
            settle(fd)
            os.fsync(fd)
            if info is not None:
                os.fchown(fd, info.st_uid, info.st_gid)
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
            else:
                if owner is not None:
                    os.fchown(fd, owner[0], owner[1])
                os.fchmod(fd, mode)
            if old.context is not None:
                os.setxattr(fd, SECURITY_CONTEXT, old.context)
            policy = _policy
            backup = policy.backup and info is not None and path not in policy.backups
            if backup:
                policy.backups[path] = os.path.join(directory, _keep_backup(dfd, name, old, copy=False))
            try:
                os.rename(name + EDIT_SUFFIX, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except OSError as exc:
                in_place = policy.unsafe_writes and exc.errno in (errno.EBUSY, errno.EXDEV)
                if backup and not in_place:  # nothing replaced: no backup of it either
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.basename(policy.backups.pop(path)), dir_fd=dfd)
                if not in_place:
                    raise
                if backup:  # the write in place would change the linked inode: keep a copy instead
                    os.unlink(os.path.basename(policy.backups[path]), dir_fd=dfd)
                    policy.backups[path] = os.path.join(directory, _keep_backup(dfd, name, old, copy=True))
                _write_in_place(dfd, name, data)
            else:
                renamed = True
            os.fsync(dfd)
            return text
        except OSError as exc:
            raise PostfixMultiError(f"cannot write {path}: {exc.strerror}") from exc
        finally:
            if not renamed:  # we hold the lock: the temporary file is ours to remove
                with contextlib.suppress(OSError):
                    os.unlink(name + EDIT_SUFFIX, dir_fd=dfd)
            os.close(fd)
    finally:
        os.close(dfd)


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like KeyboardInterrupt (SIGINT), so that rollbacks run."""


@contextlib.contextmanager
def signals_unwind() -> t.Iterator[None]:
    """While changing a host, turn SIGTERM and SIGHUP (a cancelled CI job, ``timeout``, a closed
    ssh session) into an exception, as Python does for SIGINT, so that every ``finally`` and
    rollback runs; the default action would end the process between two steps."""

    def unwind(signum: int, _frame: t.Any) -> None:
        raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}")

    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, unwind)
    except ValueError:  # not the main thread: leave the handlers alone
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stale_entries(parent: str, prefix: str) -> list[str]:
    """Entries ``PREFIX<pid>.*`` of ``parent`` whose process is gone (left by a killed run)."""
    out: list[str] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return out
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # still running
        except ProcessLookupError:
            out.append(os.path.join(parent, name))
        except PermissionError:
            continue
    return out


def create_directory(path: str, mode: int, files: t.Mapping[str, tuple[str, int]]) -> None:
    """Make the new directory ``path`` holding ``files`` (name -> (text, mode)) in one step: they
    are written into a temporary sibling that is renamed to ``path``, so a run killed half-way
    leaves either nothing or the whole directory (and a temporary sibling the next run removes)."""
    parent, name = os.path.split(path)
    # the sibling's name adds about 26 characters: keep it within NAME_MAX (255) for long names
    prefix = f".{name[:200]}.mailops-"
    for stale in stale_entries(parent, prefix):
        shutil.rmtree(stale, ignore_errors=True)
    staging = ""
    try:
        staging = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}.", dir=parent)
        for file_name, (text, file_mode) in files.items():
            fd = os.open(os.path.join(staging, file_name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                _write_all(fd, text.encode("utf-8", "surrogateescape"))
                settle(fd)
                os.fsync(fd)
                os.fchmod(fd, file_mode)
            finally:
                os.close(fd)
        os.chmod(staging, mode)
        fsync_directory(staging)
        os.rename(staging, path)
        staging = ""
        fsync_directory(parent)
    except OSError as exc:
        raise PostfixMultiError(f"cannot create {path}: {exc.strerror}") from exc
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)


# postfix-script (conf/postfix-script, "start"): when $queue_directory/quick-start exists, "postfix
# start" removes it and starts the master without its integrity check ("check-fatal": post-install
# create-missing, postsuper; "check-warn"); "postfix quick-stop" leaves the file for the next start.
QUICK_START = "quick-start"


def mark_quick_start(queue_directory: str) -> str | None:
    """Leave Postfix's quick-start marker in ``queue_directory``; its path, or None when it was not
    made (the directory is a link or missing, a marker is there already): that start then runs
    Postfix's integrity check as usual."""
    try:
        dfd = _open_directory(queue_directory)
    except PostfixMultiError:
        return None
    try:
        fd = os.open(QUICK_START, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644, dir_fd=dfd)
        os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    return os.path.join(queue_directory, QUICK_START)


def clear_quick_start(path: str) -> str | None:
    """Remove a quick-start marker that ``mark_quick_start`` made and no start took, so that the
    instance's next start checks its integrity again; a plain file only, never through a link.
    None, or why it is still there."""
    return _remove_marker(path)


def _remove_marker(path: str) -> str | None:
    """Remove the marker file ``path`` that this collection left (a plain file only, never through a
    link); None (also when it is gone already), or why it is still there."""
    if not os.path.lexists(path):
        return None
    directory, name = os.path.split(path)
    try:
        dfd = _open_directory(directory)
    except PostfixMultiError as exc:
        return exc.msg
    try:
        info = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            return f"{path} is no longer a plain file (left as it is)"
        os.unlink(name, dir_fd=dfd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"cannot remove {path}: {exc.strerror}"
    finally:
        os.close(dfd)
    return None


def fsync_directory(directory: str) -> None:
    dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class DirectoryLock:
    """An exclusive ``flock`` on a directory, held while an instance list is read and changed.

    Locking the primary's config directory (not main.cf, which every write replaces)
    serialises concurrent runs on one host - several plays, or forks aimed at one host -
    so that none loses another's edit of ``multi_instance_directories``.

    The lock is the process's: taken again while this process holds it (a whole-host run holds
    it from its comparison to its last change, and the steps it calls take it too), it is already
    held, and it is released when the outermost holder ends.
    """

    _held: t.ClassVar[dict[str, int]] = {}
    _guard = threading.Lock()

    def __init__(self, directory: str, timeout: float = 300.0) -> None:
        self.directory = directory
        self.timeout = timeout
        self._fd = -1
        self._key = os.path.realpath(directory)
        self._nested = False

    def __enter__(self) -> DirectoryLock:
        with self._guard:
            if self._held.get(self._key):
                self._held[self._key] += 1
                self._nested = True
                return self
        self._lock()
        with self._guard:
            self._held[self._key] = self._held.get(self._key, 0) + 1
        return self

    def _lock(self) -> None:
        try:
            self._fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise PostfixMultiError(f"cannot open {self.directory} to lock it: {exc.strerror}") from exc
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise PostfixMultiError(f"cannot lock {self.directory}: {exc.strerror}") from exc
            if time.monotonic() > deadline:
                os.close(self._fd)
                self._fd = -1
                raise PostfixMultiError(f"timed out after {self.timeout:.0f} s waiting for another run to release its lock on {self.directory}")
            time.sleep(0.05)

    def __exit__(self, *exc: t.Any) -> None:
        with self._guard:
            self._held[self._key] -= 1
            if self._nested:
                self._nested = False
                return
            self._held.pop(self._key, None)
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = -1


# The marker a postfix_multi_host run leaves in an instance's data directory from just before it writes
# the instance's main.cf or master.cf until the instance has been reloaded (restarted, started): a run
# that is killed in between leaves it, and the next run, which finds the files in sync, reloads the
# instance because of it (_facts.LocalFacts.reload_pending).
RELOAD_PENDING = "postfix_multi-reload-pending"
PENDING_STATES = ("reloaded", "restarted")


def mark_reload_pending(data_directory: str, state: str) -> str | None:
    """Leave (or strengthen, reloaded -> restarted) the reload-pending marker in ``data_directory``,
    owned like the directory (``postfix check`` warns about anything there not owned by
    mail_owner); None, or why it could not be left (the directory is missing or a link)."""

    def leave(dfd: int) -> None:
        _write_marker(dfd, RELOAD_PENDING, ("restarted" if _read_marker(dfd, RELOAD_PENDING) == "restarted" else state) + "\n")

    return _in_directory(data_directory, RELOAD_PENDING, leave)


def _in_directory(data_directory: str, name: str, write: t.Callable[[int], None]) -> str | None:
    """``write(dfd)`` with ``data_directory`` opened without following a link; None, or why the
    marker ``name`` could not be left."""
    try:
        dfd = _open_directory(data_directory)
    except PostfixMultiError as exc:
        return exc.msg
    try:
        write(dfd)
    except OSError as exc:
        return f"cannot write {os.path.join(data_directory, name)}: {exc.strerror}"
    finally:
        os.close(dfd)
    return None


def _read_marker(dfd: int, name: str) -> str | None:
    """The text of the marker ``name`` in the directory ``dfd`` (a plain file, never through a link);
    None when there is none."""
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(_MARKER_LIMIT).decode("utf-8", "replace").strip()


def _write_marker(dfd: int, name: str, text: str) -> None:
    """Write the marker ``name`` in the directory ``dfd``, owned like the directory (postfix-script's
    check wants everything in a data directory owned by mail_owner), never through a link."""
    flags = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o600, dir_fd=dfd)
    try:
        owner = os.fstat(dfd)
        os.fchown(fd, owner.st_uid, owner.st_gid)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(text.encode("utf-8", "surrogateescape"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        # a marker cut short (a full file system) would tell the next run something this one did not
        # mean: none is left
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)
        raise


_MARKER_LIMIT = 8192

# What a successful ``postfix -c DIR status`` depended on (_facts.LocalFacts.status_key), left in the
# instance's data directory by postfix_multi_host's health check, so that a later check tells the same
# answer from the master's lock while none of it changed (_facts.LocalFacts.runs_as_configured).
STATUS_OK = "postfix_multi-status-ok"


def remember_status(data_directory: str, key: str) -> str | None:
    """Leave ``key`` in ``data_directory`` (STATUS_OK); None, or why it was not left."""

    def leave(dfd: int) -> None:
        if _read_marker(dfd, STATUS_OK) != key:
            _write_marker(dfd, STATUS_OK, key + "\n")

    return _in_directory(data_directory, STATUS_OK, leave)


def remembered_status(data_directory: str) -> str | None:
    """The key that ``remember_status`` left in ``data_directory``, or None."""
    try:
        dfd = _open_directory(data_directory)
    except PostfixMultiError:
        return None
    try:
        return _read_marker(dfd, STATUS_OK)
    finally:
        os.close(dfd)


def clear_reload_pending(data_directory: str) -> str | None:
    """Remove the reload-pending marker of ``data_directory`` (a plain file only; never through a
    link); None, or why it is still there."""
    return _remove_marker(os.path.join(data_directory, RELOAD_PENDING))
