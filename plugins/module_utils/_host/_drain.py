# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Move the queued mail of a stopped instance into a sibling instance on the same host.

How Postfix itself moves a message between queues of one instance is ``postsuper -r``
(postsuper(1)): the queue file is renamed into the ``maildrop`` queue, from where pickup(8)
copies it through cleanup(8) into a new queue file, with a new queue ID. pickup(8) accepts
the records of a full queue file for that purpose (pickup.c: "We must allow PTR records here
because of postsuper -r"), and treats a file owned by ``mail_owner`` and not readable by
others as requeued mail (no Milters again, its old queue ID logged as ``orig_id``). This
module does the same across instances: every ready message file of the source's
``incoming``, ``active``, ``deferred`` and ``maildrop`` queues becomes a file in the
TARGET's ``maildrop``; a message of the source's ``hold`` queue becomes a file in the
target's ``hold`` queue, so that held mail stays held. Nothing is ever copied into another
instance's ``incoming``, ``active`` or ``deferred`` queue, which belong to its queue manager.

Queue file names: the short queue ID (``enable_long_queue_ids = no``) is five hexadecimal
digits of microseconds and the file's inode number in hexadecimal; the long one is the time
in seconds and microseconds and, after a ``z``, the inode number (mail_queue.h, MQID_*).
A copied file has another inode, so it gets a fresh name computed from its own inode in the
target's format, as mail_queue_enter() names a new queue file; ``postsuper -s`` (which
renames files whose name does not match their inode) has nothing to repair afterwards.

Crash safety (kill -9 between any two steps loses no message and delivers none twice). Each
message goes through a staging directory of this module's own inside the target's queue
directory (same file system, so a rename is atomic), keyed by its source queue and ID:

1. ``KEY.tmp``: the copy is written, given the source file's mode (ready: owner bits 0700,
   MAIL_QUEUE_STAT_READY), its owner (the target's mail_owner for the source's) and times,
   and fsync'ed; a ``KEY.tmp`` without a ``KEY.commit`` is an unfinished copy (the
   source is intact) and is written again;
2. ``KEY.commit``: names the destination file; written atomically, then the directory
   fsync'ed. From here on the copy is the message, and the source file is only a leftover;
3. ``KEY.tmp`` is renamed to the destination and the destination directory fsync'ed;
4. the source file is removed (and its defer, bounce and trace logs, as ``postsuper -r``
   removes them); 5. ``KEY.commit`` is removed.

A re-run completes a message that has a ``KEY.commit``: the rename if ``KEY.tmp`` is still
there, then the removal of the source. It never copies such a message again, so pickup(8)
never sees it twice.

Mail that cannot be moved is never deleted and never moved: the ``corrupt`` queue and the
``saved`` queue, a message file whose records do not parse (record.c: type byte, length in
7-bit groups, data; a message needs a sender, message content, extracted records and an
end record, as pickup(8) reads them; pickup(8) deletes a malformed file), a file still being
written (not mode 0700: Postfix treats it as a temporary file, postsuper(1) -p), or a name
that is not a queue ID. They are reported; destroy refuses while they remain.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._queue import read_record

# The queues whose messages move, in the order they move (mail_queue.h).
MOVED_QUEUES = ("incoming", "active", "deferred", "hold", "maildrop")
# Queues that hold mail which is never moved: destroy refuses while they are not empty.
KEPT_QUEUES = ("corrupt", "saved")
# Per-message logs that postsuper -r removes together with the message (postsuper.c requeue_one).
LOG_QUEUES = ("bounce", "defer", "trace")
# This module's staging directory in the target's queue directory (not a Postfix queue name,
# so no Postfix program reads it).
STAGING = "mailops-move"
READY = stat.S_IRUSR | stat.S_IWUSR | stat.S_IXUSR  # MAIL_QUEUE_STAT_READY (mail_queue.h)

# Record types (rec_type.h).
_REC_FROM = ord("S")
_REC_MESG = ord("M")
_REC_XTRA = ord("X")
_REC_END = ord("E")

# The alphabet of long queue IDs (safe_ultostr.c).
_SAFE_CHARS = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

Step = t.Callable[[str], None]


def _no_step(_name: str) -> None:
    return None


class Target(t.NamedTuple):
    """What the move needs to know of the instance that receives the mail (its postconf values)."""

    label: str
    queue_directory: str
    long_queue_ids: bool  # enable_long_queue_ids
    hash_queue_names: tuple[str, ...]  # hash_queue_names
    hash_queue_depth: int  # hash_queue_depth
    owner: tuple[int, int]  # uid and gid of its mail_owner


# The parameters read_target() asks postconf for, in this order.
_TARGET_PARAMETERS = ("enable_long_queue_ids", "hash_queue_names", "hash_queue_depth", "mail_owner")


def _owner(mail_owner: str, config_directory: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(mail_owner)
    except KeyError:
        raise PostfixMultiError(f"the mail_owner {mail_owner} of {config_directory} is not a user of this host") from None
    return entry.pw_uid, entry.pw_gid


def read_target(postconf: str, label: str, config_directory: str, queue_directory: str) -> Target:
    """The target's queue file naming and owner, as its Postfix sees them (``postconf -c DIR -h``)."""
    result = _runner.run([postconf, "-c", config_directory, "-h", *_TARGET_PARAMETERS])
    values = result.stdout.splitlines()
    if result.rc != 0 or len(values) != len(_TARGET_PARAMETERS):
        raise PostfixMultiError(f"cannot read {', '.join(_TARGET_PARAMETERS)} of {config_directory}: {result.output}", **result.as_dict())
    long_ids, hash_names, depth, mail_owner = (value.strip() for value in values)
    try:
        hash_depth = int(depth)
    except ValueError:
        raise PostfixMultiError(f"hash_queue_depth of {config_directory} is not a number: {depth}") from None
    return Target(
        label=label,
        queue_directory=queue_directory,
        long_queue_ids=long_ids.lower() in ("yes", "true", "on", "1"),
        hash_queue_names=tuple(name for name in hash_names.replace(",", " ").split() if name),
        hash_queue_depth=hash_depth,
        owner=_owner(mail_owner, config_directory),
    )


def mail_owner_uid(postconf: str, config_directory: str) -> int:
    """The uid of an instance's mail_owner (``postconf -c DIR -h mail_owner``)."""
    result = _runner.run([postconf, "-c", config_directory, "-h", "mail_owner"])
    if result.rc != 0:
        raise PostfixMultiError(f"cannot read mail_owner of {config_directory}: {result.output}", **result.as_dict())
    return _owner(result.stdout.strip(), config_directory)[0]


class Message(t.NamedTuple):
    queue: str  # the source queue (one of MOVED_QUEUES)
    queue_id: str  # the file name
    path: str

    @property
    def key(self) -> str:
        return f"{self.queue}.{self.queue_id}"


class Survey(t.NamedTuple):
    """The source queue as the move sees it."""

    messages: list[Message]
    blocked: dict[str, list[str]]  # reason -> paths of files that are never moved

    def ids(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {queue: [] for queue in MOVED_QUEUES}
        for message in self.messages:
            out[message.queue].append(message.queue_id)
        return out

    def counts(self) -> dict[str, int]:
        return {queue: len(ids) for queue, ids in self.ids().items()}

    def taken(self, queue_directory: str) -> set[str]:
        """The files of ``queue_directory`` that moving these messages removes: each message's file
        and its defer, bounce and trace logs (Mover._remove_logs)."""
        ids = {message.queue_id for message in self.messages}
        paths = {message.path for message in self.messages}
        for queue in LOG_QUEUES:
            paths.update(path for path, _st in _files(os.path.join(queue_directory, queue)) if os.path.basename(path) in ids)
        return paths


def queue_id_ok(name: str) -> bool:
    """mail_queue_id_ok() (mail_queue.c): letters, digits and underscores, at most 255 characters."""
    return 0 < len(name) <= 255 and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def record_problem(data: bytes) -> str | None:
    """Why ``data`` is not a queue file that pickup(8) can read (None: it is).

    Records are as rec_get() reads them (record.c, see _postfix/_queue.read_record)."""
    pos = 0
    seen: set[int] = set()
    size = len(data)
    while pos < size:
        if data[pos] == 0:
            return f"record type 0 at offset {pos}"
        try:
            rtype, start, pos = read_record(data, pos)
        except ValueError as exc:
            return str(exc)
        if pos > size:
            return f"truncated record (type {chr(rtype)!r}, {pos - start} bytes) at offset {start}"
        seen.add(rtype)
    required = ((_REC_FROM, "sender"), (_REC_MESG, "message content"), (_REC_XTRA, "extracted records"), (_REC_END, "end"))
    missing = [name for rtype, name in required if rtype not in seen]
    if missing:
        return "no " + ", no ".join(missing) + " record"
    return None


def _files(top: str) -> t.Iterator[tuple[str, os.stat_result]]:
    """Regular files below ``top`` (queue directories may be hashed: hash_queue_names), sorted."""
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            yield path, st


def survey(queue_directory: str) -> Survey:
    """Every message that moves, and every file that blocks a destroy, of a (stopped) instance."""
    messages: list[Message] = []
    blocked: dict[str, list[str]] = {}
    for queue in MOVED_QUEUES:
        for path, st in _files(os.path.join(queue_directory, queue)):
            name = os.path.basename(path)
            if not stat.S_ISREG(st.st_mode):
                continue  # sockets and the like: Postfix's own (postsuper(1) removes them)
            if not queue_id_ok(name):
                blocked.setdefault("not a queue file name", []).append(path)
            elif stat.S_IMODE(st.st_mode) & 0o700 != READY:
                blocked.setdefault("still being written (not mode 0700; postsuper -p removes such files when old)", []).append(path)
            else:
                problem = record_problem(_read(path))
                if problem is not None:
                    blocked.setdefault("malformed", []).append(f"{path}: {problem}")
                else:
                    messages.append(Message(queue, name, path))
    for queue in KEPT_QUEUES:
        for path, st in _files(os.path.join(queue_directory, queue)):
            if stat.S_ISREG(st.st_mode):
                blocked.setdefault(f"in the {queue} queue", []).append(path)
    return Survey(messages, blocked)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _safe_encode(value: int, base: int, pad: int) -> str:
    """safe_ultostr() (safe_ultostr.c)."""
    out = ""
    while value:
        out = _SAFE_CHARS[value % base] + out
        value //= base
    return out.rjust(pad, "0")


def queue_id_for(inode: int, long_ids: bool, now_ns: int) -> str:
    """The queue ID mail_queue_enter() (mail_queue.c) gives a file with this inode number at this time."""
    seconds, nanoseconds = divmod(now_ns, 1_000_000_000)
    usec = nanoseconds // 1000
    if long_ids:
        return _safe_encode(seconds, 52, 6) + _safe_encode(usec, 52, 4) + "z" + _safe_encode(inode, 51, 0)
    return f"{usec:05X}{inode:X}"


def queue_subpath(queue: str, queue_id: str, hash_names: t.Sequence[str], depth: int) -> str:
    """mail_queue_path() relative to the queue directory: ``queue/[forest/]ID`` (dir_forest.c)."""
    if queue not in hash_names or depth < 1:
        return f"{queue}/{queue_id}"
    basis = queue_id
    z = queue_id.rfind("z")
    if z >= 10:  # a long queue ID: the forest is made of its microseconds in hexadecimal
        digits = queue_id[z - 4 : z]
        usec = 0
        for char in digits:
            usec = usec * 52 + _SAFE_CHARS.index(char)
        basis = f"{usec:05X}"
    forest = "".join(f"{basis[i] if i < len(basis) else '_'}/" for i in range(depth))
    return f"{queue}/{forest}{queue_id}"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(top: str, relative: str, owner: tuple[int, int]) -> None:
    """Create the hashed subdirectories of a destination as Postfix does (mail_queue_mkdirs): 0700, mail_owner."""
    path = top
    for part in relative.split("/")[:-1]:
        path = os.path.join(path, part)
        if not os.path.isdir(path):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
                os.chown(path, owner[0], owner[1])
                _fsync_dir(os.path.dirname(path))


class Mover:
    """Moves the messages of one source queue directory into one target (see the module docstring)."""

    def __init__(self, source_queue: str, source_owner: int, target: Target, source_key: str, step: Step = _no_step) -> None:
        self.source_queue = source_queue
        self.source_owner = source_owner
        self.target = target
        self.staging = os.path.join(target.queue_directory, STAGING, source_key)
        # step(name) is called after each durable step; the tests of the kill -9 sweep pass one
        # that kills the process there. It has no other use.
        self.step = step

    # ----------------------------------------------------------------- plan
    def pending(self) -> list[str]:
        """Keys of messages a killed run committed but did not finish."""
        if not os.path.isdir(self.staging):
            return []
        return sorted(name[: -len(".commit")] for name in os.listdir(self.staging) if name.endswith(".commit"))

    # ---------------------------------------------------------------- apply
    def run(self, messages: t.Sequence[Message]) -> dict[str, list[str]]:
        """Move ``messages``; finish what a killed run committed first. Returns the new file of each
        moved message, by source queue: ``{"deferred": ["maildrop/4F2A...", ...], ...}``."""
        by_key = {message.key: message for message in messages}
        moved: dict[str, list[str]] = {}
        os.makedirs(self.staging, 0o700, exist_ok=True)
        for key in self.pending():
            dest = self._finish(key, by_key.pop(key, None))
            moved.setdefault(key.split(".", 1)[0], []).append(dest)
        for message in messages:
            if message.key in by_key:
                moved.setdefault(message.queue, []).append(self._move(message))
        self._remove_staging()
        return moved

    def _move(self, message: Message) -> str:
        tmp = os.path.join(self.staging, message.key + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # an unfinished copy of a killed run; the source is intact
        st = os.lstat(message.path)
        data = _read(message.path)
        owner = self.target.owner if st.st_uid == self.source_owner else (st.st_uid, st.st_gid)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchown(fd, owner[0], owner[1])
            # the source's mode: a file from postdrop(1) is readable by pickup(8) through its group or other bits and
            # not owned by mail_owner, so that pickup handles it as a new submission, not as requeued mail
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))  # pickup(8) dates the Received: header by the mtime
            os.fsync(fd)
            inode = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        _fsync_dir(self.staging)
        self.step("copied")
        dest_queue = "hold" if message.queue == "hold" else "maildrop"
        while True:
            queue_id = queue_id_for(inode, self.target.long_queue_ids, time.time_ns())
            dest = queue_subpath(dest_queue, queue_id, self.target.hash_queue_names, self.target.hash_queue_depth)
            if not os.path.lexists(os.path.join(self.target.queue_directory, dest)):
                break
            time.sleep(0.000001)  # a misnamed file is in the way; the next microsecond gives another name
        self._write_commit(message.key, dest)
        self.step("committed")
        return self._finish(message.key, message)

    def _write_commit(self, key: str, dest: str) -> None:
        commit = os.path.join(self.staging, key + ".commit")
        new = commit + ".new"
        with open(new, "w", encoding="ascii") as handle:
            handle.write(dest + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(new, commit)
        _fsync_dir(self.staging)

    def _finish(self, key: str, message: Message | None) -> str:
        commit = os.path.join(self.staging, key + ".commit")
        with open(commit, encoding="ascii") as handle:
            dest = handle.read().strip()
        tmp = os.path.join(self.staging, key + ".tmp")
        target = os.path.join(self.target.queue_directory, dest)
        if os.path.lexists(tmp):
            _makedirs(self.target.queue_directory, dest, self.target.owner)
            os.rename(tmp, target)
            _fsync_dir(os.path.dirname(target))
            self.step("published")
        queue, queue_id = key.split(".", 1)
        source = message.path if message is not None else self._source_path(queue, queue_id)
        if source is not None and os.path.lexists(source):
            os.unlink(source)
            _fsync_dir(os.path.dirname(source))
            self.step("removed")
        self._remove_logs(queue_id)
        os.unlink(commit)
        _fsync_dir(self.staging)
        self.step("done")
        return dest

    def _source_path(self, queue: str, queue_id: str) -> str | None:
        """Where the source file of a committed message still is, whatever the survey made of it."""
        for path, _st in _files(os.path.join(self.source_queue, queue)):
            if os.path.basename(path) == queue_id:
                return path
        return None

    def _remove_logs(self, queue_id: str) -> None:
        """The message's defer, bounce and trace logs in the source (postsuper -r removes them too)."""
        for queue in LOG_QUEUES:
            for path, _st in _files(os.path.join(self.source_queue, queue)):
                if os.path.basename(path) == queue_id:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)

    def _remove_staging(self) -> None:
        for directory in (self.staging, os.path.dirname(self.staging)):
            try:
                os.rmdir(directory)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    raise PostfixMultiError(f"cannot remove {directory}: {exc.strerror}") from exc
                return
