# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The move of queued mail between instances, on real files in a temporary directory.

Queue files are written here in Postfix's record format (record.c); queue IDs are checked
against the format mail_queue.h documents. A crash is simulated by an exception raised after
each step of the move; tests/integration/test_drain.py kills a real move with SIGKILL on a
lab host with real Postfix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _drain


def _record(rtype: str, data: bytes) -> bytes:
    """rec_put() (record.c): type, length in 7-bit groups (low first, high bit = more), data."""
    length = len(data)
    out = bytearray(rtype.encode())
    while True:
        byte = length & 0x7F
        length >>= 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(out) + data


def _queue_file(body: bytes = b"Subject: hi", sender: bytes = b"a@example.org") -> bytes:
    return b"".join(
        [
            _record("C", b"             93              40               1               0              93"),
            _record("T", b"1733400000 0"),
            _record("S", sender),
            _record("R", b"b@example.net"),
            _record("M", b""),
            _record("N", body),
            _record("N", b"x" * 300),  # a length that needs two groups
            _record("X", b""),
            _record("E", b""),
        ]
    )


class TestRecords:
    def test_a_whole_queue_file_is_fine(self) -> None:
        assert _drain.record_problem(_queue_file()) is None

    def test_an_empty_sender_is_a_sender(self) -> None:
        assert _drain.record_problem(_queue_file(sender=b"")) is None

    @pytest.mark.parametrize("cut", [1, 5, 20, 60])
    def test_a_truncated_file_is_malformed(self, cut: int) -> None:
        data = _queue_file()
        assert _drain.record_problem(data[:-cut]) is not None

    def test_without_an_end_record(self) -> None:
        data = _queue_file()
        assert _drain.record_problem(data[: -len(_record("E", b""))]) == "no end record"

    def test_record_type_zero_is_refused_as_pickup_refuses_it(self) -> None:
        assert "type 0" in (_drain.record_problem(_queue_file() + b"\x00\x00") or "")

    def test_an_empty_file(self) -> None:
        assert _drain.record_problem(b"") is not None


class TestQueueIds:
    def test_short_ids_are_microseconds_and_inode_in_hex(self) -> None:
        assert _drain.queue_id_for(0x1A2B3, False, 1_733_400_000_000_042_000) == "0002A1A2B3"

    def test_long_ids_have_the_inode_after_z_in_base_51(self) -> None:
        qid = _drain.queue_id_for(51 * 51 + 1, True, 1_733_400_000_500_000_000)
        head, inode = qid.split("z")
        assert len(head) == 10
        assert inode == "101"
        assert _drain.queue_id_ok(qid)
        assert not set(qid) & set("AEIOUaeiou")

    def test_queue_id_ok_is_postfix_s(self) -> None:
        assert _drain.queue_id_ok("4XyBcD_1")
        assert not _drain.queue_id_ok("ABC#FIX")
        assert not _drain.queue_id_ok("")

    def test_hashed_queues_use_a_directory_forest(self) -> None:
        assert _drain.queue_subpath("hold", "1A2B3C", ("deferred", "defer"), 1) == "hold/1A2B3C"
        assert _drain.queue_subpath("hold", "1A2B3C", ("hold",), 2) == "hold/1/A/1A2B3C"

    def test_long_ids_hash_by_their_microseconds(self) -> None:
        qid = _drain.queue_id_for(77, True, 1_733_400_000_000_017_000)
        assert _drain.queue_subpath("hold", qid, ("hold",), 1) == f"hold/0/{qid}"  # 17 us = 00011 in hex


def _instance(root: Path, name: str) -> Path:
    queue = root / name
    for sub in ("incoming", "active", "deferred/A", "hold", "maildrop", "corrupt", "saved", "defer/A", "bounce", "trace"):
        (queue / sub).mkdir(parents=True)
    return queue


def _put(queue: Path, sub: str, qid: str, data: bytes, mode: int = 0o700) -> Path:
    path = queue / sub / qid
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _target(queue: Path, long_ids: bool = False) -> _drain.Target:
    return _drain.Target("postfix-sib", str(queue), long_ids, ("deferred", "defer"), 1, (os.getuid(), os.getgid()))


def _populate(root: Path) -> tuple[Path, Path, dict[str, bytes]]:
    source, target = _instance(root, "src"), _instance(root, "dst")
    bodies = {}
    for sub, qid in (("incoming", "1111A"), ("active", "2222B"), ("deferred/A", "A3333"), ("hold", "4444D"), ("hold", "5555E"), ("maildrop", "6666F")):
        body = f"Message-ID: <{qid}@test>".encode()
        bodies[qid] = body
        _put(source, sub, qid, _queue_file(body))
    (source / "defer/A/A3333").write_text("recipient=b@example.net\n")
    return source, target, bodies


def _contents(queue: Path, sub: str) -> list[bytes]:
    return sorted(path.read_bytes() for path in (queue / sub).rglob("*") if path.is_file())


class TestSurvey:
    def test_every_queue_that_moves_and_what_blocks(self, tmp_path: Path) -> None:
        source, _target_queue, _bodies = _populate(tmp_path)
        _put(source, "incoming", "7777A", _queue_file()[:10], mode=0o600)  # cleanup(8) still writing it
        _put(source, "active", "8888B", _queue_file()[:-3])
        _put(source, "corrupt", "9999C", b"garbage")
        survey = _drain.survey(str(source))
        assert survey.counts() == {"incoming": 1, "active": 1, "deferred": 1, "hold": 2, "maildrop": 1}
        assert sorted(survey.blocked) == ["in the corrupt queue", "malformed", "still being written (not mode 0700; postsuper -p removes such files when old)"]


class TestMove:
    def test_held_mail_stays_held_and_the_rest_goes_to_maildrop(self, tmp_path: Path) -> None:
        source, target, bodies = _populate(tmp_path)
        survey = _drain.survey(str(source))
        moved = _drain.Mover(str(source), os.getuid(), _target(target), "src").run(survey.messages)
        assert {queue: len(files) for queue, files in moved.items()} == {"incoming": 1, "active": 1, "deferred": 1, "hold": 2, "maildrop": 1}
        assert _contents(target, "hold") == sorted(_queue_file(bodies[q]) for q in ("4444D", "5555E"))
        assert _contents(target, "maildrop") == sorted(_queue_file(bodies[q]) for q in ("1111A", "2222B", "A3333", "6666F"))
        assert _drain.survey(str(source)).messages == []
        assert not (source / "defer/A/A3333").exists()  # its defer log went with it, as with postsuper -r
        assert not (target / _drain.STAGING).exists()

    def test_new_names_match_the_new_inodes_and_files_are_ready(self, tmp_path: Path) -> None:
        source, target, _bodies = _populate(tmp_path)
        _drain.Mover(str(source), os.getuid(), _target(target), "src").run(_drain.survey(str(source)).messages)
        for path in (target / "hold").iterdir():
            st = path.stat()
            assert path.name[5:] == f"{st.st_ino:X}"  # postsuper -s has nothing to rename
            assert stat.S_IMODE(st.st_mode) == 0o700

    def test_a_postdrop_file_keeps_its_mode_and_owner(self, tmp_path: Path) -> None:
        """postdrop(1) files are the submitter's, readable by pickup(8) through group/other bits: kept as they are."""
        source, target = _instance(tmp_path, "src"), _instance(tmp_path, "dst")
        _put(source, "maildrop", "6666F", _queue_file(), mode=0o744)
        mail_owner = os.getuid() + 1  # the files here are not the source's mail_owner's
        _drain.Mover(str(source), mail_owner, _target(target), "src").run(_drain.survey(str(source)).messages)
        (path,) = (target / "maildrop").iterdir()
        assert stat.S_IMODE(path.stat().st_mode) == 0o744
        assert path.stat().st_uid == os.getuid()

    def test_the_time_of_the_file_is_kept(self, tmp_path: Path) -> None:
        source, target, _bodies = _populate(tmp_path)
        os.utime(source / "maildrop/6666F", (1_700_000_000, 1_700_000_000))
        _drain.Mover(str(source), os.getuid(), _target(target), "src").run(_drain.survey(str(source)).messages)
        assert [int(p.stat().st_mtime) for p in (target / "maildrop").iterdir()].count(1_700_000_000) == 1


class _Crash(Exception):
    pass


def _crash_after(count: int) -> _drain.Step:
    seen = []

    def step(name: str) -> None:
        seen.append(name)
        if len(seen) == count:
            raise _Crash(name)

    return step


class TestCrashes:
    def test_a_crash_after_any_step_loses_and_duplicates_nothing(self, tmp_path: Path) -> None:
        steps = 0
        while True:
            steps += 1
            root = tmp_path / str(steps)
            source, target, bodies = _populate(root)
            expected = sorted(_queue_file(b) for b in bodies.values())
            mover = _drain.Mover(str(source), os.getuid(), _target(target), "src", step=_crash_after(steps))
            try:
                mover.run(_drain.survey(str(source)).messages)
                break  # past the last step
            except _Crash:
                pass
            # at every point each message is in the source or in the target (or in both, the target's copy not yet published)
            published = _contents(target, "maildrop") + _contents(target, "hold")
            left = [Path(message.path).read_bytes() for message in _drain.survey(str(source)).messages]
            assert set(published) | set(left) == set(expected)
            assert len(published) == len(set(published))
            _drain.Mover(str(source), os.getuid(), _target(target), "src").run(_drain.survey(str(source)).messages)
            assert sorted(_contents(target, "maildrop") + _contents(target, "hold")) == expected, f"after a crash at step {steps}"
            assert _drain.survey(str(source)).messages == []
        assert steps > 6 * 4  # every message went through its steps

    def test_a_committed_source_is_removed_even_if_it_no_longer_looks_like_a_message(self, tmp_path: Path) -> None:
        """Once committed, the copy is the message: the source goes even when a re-run's survey does not list it."""
        source, target, _bodies = _populate(tmp_path)
        messages = _drain.survey(str(source)).messages
        with pytest.raises(_Crash):
            _drain.Mover(str(source), os.getuid(), _target(target), "src", step=_crash_after(2)).run(messages[:1])  # copied, committed
        Path(messages[0].path).chmod(0o600)  # as if someone touched it meanwhile: no longer ready
        _drain.Mover(str(source), os.getuid(), _target(target), "src").run(_drain.survey(str(source)).messages)
        assert not Path(messages[0].path).exists()
        assert len(_contents(target, "maildrop") + _contents(target, "hold")) == 6

    def test_a_consumed_file_is_not_moved_again(self, tmp_path: Path) -> None:
        """pickup(8) may take the published file before the source is removed: the re-run only removes the source."""
        source, target, _bodies = _populate(tmp_path)
        messages = _drain.survey(str(source)).messages
        with pytest.raises(_Crash):
            _drain.Mover(str(source), os.getuid(), _target(target), "src", step=_crash_after(3)).run(messages[:1])  # copied, committed, published
        for path in (target / "maildrop").iterdir():
            path.unlink()  # what pickup does once cleanup(8) has the message
        _drain.Mover(str(source), os.getuid(), _target(target), "src").run(_drain.survey(str(source)).messages)
        assert len(_contents(target, "maildrop") + _contents(target, "hold")) == 5
