# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Destroy's file removal: check mode predicts exactly what the run leaves, and nothing is followed.

Real files in a temporary directory (no Postfix needed: the sweep only reads and removes the
files postfix-files(5) and the daemons create). The lab tests in tests/integration destroy
instances that real Postfix populated.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._apply import sweep_instance
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance


def _instance(root: Path) -> Instance:
    return Instance(config_directory=str(root / "etc/postfix-x"), queue_directory=str(root / "spool/postfix-x"), data_directory=str(root / "lib/postfix-x"))


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
    finally:
        sock.close()


def _populate(root: Path) -> Instance:
    inst = _instance(root)
    cfg, queue, data = Path(inst.config_directory), Path(inst.queue_directory), Path(inst.data_directory)
    for sub in ("active", "bounce", "corrupt", "defer", "deferred/A", "flush", "hold", "incoming", "maildrop", "pid", "private", "public", "saved", "trace"):
        (queue / sub).mkdir(parents=True)
    _socket(queue / "private/smtp")
    os.mkfifo(queue / "public/pickup")
    (queue / "pid/master.pid").write_text("123\n")
    (queue / "defer/B").mkdir()
    (queue / "defer/B/B1234").write_text("a defer log\n")  # a delivery log: kept
    data.mkdir(parents=True)
    (data / "master.lock").write_text("")
    (data / "verify_cache.db").write_text("")
    (data / "notes.txt").write_text("operator's\n")
    cfg.mkdir(parents=True)
    (cfg / "main.cf").write_text("queue_directory = x\n")
    (cfg / "master.cf").write_text("")
    (cfg / "transport").write_text("example.com smtp:[mx]\n")
    return inst


def _tree(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*"))


def _check_equals_run(inst: Instance, root: Path) -> list[str]:
    before = _tree(root)
    predicted = sweep_instance(inst, remove=False)
    assert _tree(root) == before, "the prediction removed something"
    left = sweep_instance(inst, remove=True)
    assert left == predicted
    return left


def test_postfix_files_go_and_the_rest_is_listed(tmp_path: Path) -> None:
    inst = _populate(tmp_path)
    left = _check_equals_run(inst, tmp_path)
    q, d, c = inst.queue_directory, inst.data_directory, inst.config_directory
    assert left == sorted([f"{q}/defer/B/B1234", f"{d}/notes.txt", f"{c}/transport"])
    assert not os.path.exists(f"{q}/private") and not os.path.exists(f"{q}/pid")
    assert os.path.exists(f"{q}/defer/B/B1234")


def test_links_are_never_followed(tmp_path: Path) -> None:
    inst = _populate(tmp_path)
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    precious = outside / "master.pid"
    precious.write_text("not ours\n")
    (outside / "sub/main.cf").write_text("not ours either\n")
    _socket(outside / "socket")
    cfg, queue, data = Path(inst.config_directory), Path(inst.queue_directory), Path(inst.data_directory)
    (cfg / "main.cf").unlink()
    (cfg / "main.cf").symlink_to(outside / "sub/main.cf")  # a symlinked main.cf
    os.symlink(outside, queue / "private/linked")  # a symlinked directory inside a queue subdirectory
    os.symlink(outside, queue / "trace/linked")
    os.symlink(outside / "master.pid", data / "prng_exch")  # a Postfix file name, but a link
    (cfg / ".tmp").mkdir()
    (cfg / ".tmp/main.cf.tmp").write_text("half-written\n")
    left = _check_equals_run(inst, tmp_path)
    assert f"{cfg}/main.cf" in left and f"{queue}/private/linked" in left and f"{data}/prng_exch" in left
    assert f"{cfg}/.tmp/main.cf.tmp" in left
    assert precious.read_text() == "not ours\n"
    assert (outside / "sub/main.cf").exists() and (outside / "socket").exists()


@pytest.mark.parametrize("which", ["config_directory", "queue_directory", "data_directory"])
def test_a_directory_reached_through_a_link_is_not_entered(tmp_path: Path, which: str) -> None:
    inst = _populate(tmp_path)
    real = Path(getattr(inst, which))
    moved = tmp_path / "moved"
    real.rename(moved)
    real.symlink_to(moved)
    before = sorted(str(p) for p in moved.rglob("*"))
    left = _check_equals_run(inst, tmp_path)
    assert str(real) in left
    assert sorted(str(p) for p in moved.rglob("*")) == before


def test_a_parent_link_is_not_followed(tmp_path: Path) -> None:
    inst = _populate(tmp_path)
    (tmp_path / "lib").rename(tmp_path / "lib-real")
    (tmp_path / "lib").symlink_to(tmp_path / "lib-real")
    left = _check_equals_run(inst, tmp_path)
    assert inst.data_directory in left
    assert (tmp_path / "lib-real/postfix-x/master.lock").exists()


def test_missing_directories_are_fine(tmp_path: Path) -> None:
    inst = _instance(tmp_path)
    assert _check_equals_run(inst, tmp_path) == []


def test_mail_is_never_removed(tmp_path: Path) -> None:
    inst = _populate(tmp_path)
    queue = Path(inst.queue_directory)
    for sub in ("deferred/A/A0B1C2", "hold/H1", "corrupt/C1", "saved/S1", "maildrop/M1", "incoming/I1", "active/X1"):
        (queue / sub).write_text("a message\n")
    left = _check_equals_run(inst, tmp_path)
    for sub in ("deferred/A/A0B1C2", "hold/H1", "corrupt/C1", "saved/S1", "maildrop/M1", "incoming/I1", "active/X1"):
        assert str(queue / sub) in left and (queue / sub).read_text() == "a message\n"


def test_check_mode_predicts_without_the_mail_a_move_takes_first(tmp_path: Path) -> None:
    """With move_mail_to the run moves the mail (and removes each message's defer log, as postsuper -r
    does) before it sweeps: check mode, where the mail is still there, predicts the same leftovers."""
    inst = _populate(tmp_path)
    queue = Path(inst.queue_directory)
    (queue / "deferred/A/A0B1C2").write_text("a message\n")
    (queue / "hold/H1").write_text("a held message\n")
    (queue / "defer/A").mkdir()
    (queue / "defer/A/A0B1C2").write_text("its defer log\n")
    taken = {str(queue / "deferred/A/A0B1C2"), str(queue / "hold/H1"), str(queue / "defer/A/A0B1C2")}
    before = _tree(tmp_path)
    predicted = sweep_instance(inst, remove=False, gone=taken)
    assert _tree(tmp_path) == before
    for path in taken:  # what the move does first
        os.unlink(path)
    assert sweep_instance(inst, remove=True) == predicted
    assert not any(path in predicted for path in taken)
