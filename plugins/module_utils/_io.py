# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one place that reads and writes configuration files, and locks them.

Writes go to a temporary file in the target's directory, are fsync'ed and renamed over
the target (atomic on one file system), keeping the target's owner and mode; a symlinked
target is written through (its link stays). The directory is fsync'ed after the rename.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._errors import PostfixMultiError


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise PostfixMultiError(f"cannot read {path}: {exc.strerror}") from exc


def write_text(path: str, text: str, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    """Atomically replace (or create) ``path`` with ``text``.

    An existing file keeps its owner, group and mode; a new one gets ``mode`` and ``owner``
    (default: the current user).
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    try:
        current = os.stat(target)
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise PostfixMultiError(f"cannot write {path}: {exc.strerror}") from exc
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
        data = text.encode("utf-8", "surrogateescape")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        if current is not None:
            os.fchmod(fd, stat.S_IMODE(current.st_mode))
            os.fchown(fd, current.st_uid, current.st_gid)
        else:
            os.fchmod(fd, mode)
            if owner is not None:
                os.fchown(fd, owner[0], owner[1])
        os.close(fd)
        fd = -1
        os.rename(tmp, target)
        tmp = ""
        fsync_directory(directory)
    except OSError as exc:
        raise PostfixMultiError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


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
    """

    def __init__(self, directory: str, timeout: float = 300.0) -> None:
        self.directory = directory
        self.timeout = timeout
        self._fd = -1

    def __enter__(self) -> DirectoryLock:
        try:
            self._fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise PostfixMultiError(f"cannot open {self.directory} to lock it: {exc.strerror}") from exc
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise PostfixMultiError(f"cannot lock {self.directory}: {exc.strerror}") from exc
            if time.monotonic() > deadline:
                os.close(self._fd)
                self._fd = -1
                raise PostfixMultiError(f"timed out after {self.timeout:.0f} s waiting for another run to release its lock on {self.directory}")
            time.sleep(0.05)

    def __exit__(self, *exc: t.Any) -> None:
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = -1
