# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where validation copies live: a run removes what a killed run left, and never uses a directory others control."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._validate import STAGING_PARENT, Staging


def live_directory(tmp_path: Path) -> Path:
    live = tmp_path / "etc-postfix"
    live.mkdir()
    (live / "main.cf").write_text("myhostname = x.example\n")
    (live / "master.cf").write_text("smtp inet n - y - - smtpd\n")
    return live


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    proc.wait()
    return proc.pid  # gone (and reaped)


def test_a_copy_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    live = live_directory(tmp_path)
    base = tmp_path / "tmp"
    base.mkdir()
    # what "kill -9" in the middle of a validation leaves: PID.random/config/... of a process that is gone
    parent = base / STAGING_PARENT
    parent.mkdir(mode=0o700)
    left = parent / f"{dead_pid()}.abc123"
    (left / "config").mkdir(parents=True)
    (left / "config" / "main.cf").write_text("secret = 1\n")
    running = parent / f"{os.getppid()}.inuse"  # a live process's copy stays
    running.mkdir()
    with Staging(str(live), {"main.cf": "myhostname = y.example\n"}, base=str(base)) as staging:
        assert Path(staging.top).parent == parent
        assert Path(staging.top).name.startswith(f"{os.getpid()}.")
        assert "queue_directory = " in Path(staging.copy, "main.cf").read_text()
        assert not left.exists() and running.exists()
    assert sorted(p.name for p in parent.iterdir()) == [running.name]  # its own copy is gone too
    assert (live / "main.cf").read_text() == "myhostname = x.example\n"


@pytest.mark.parametrize("kind", ["symlink", "open", "file"])
def test_a_parent_others_could_control_is_refused(tmp_path: Path, kind: str) -> None:
    live = live_directory(tmp_path)
    base = tmp_path / "tmp"
    base.mkdir()
    parent = base / STAGING_PARENT
    if kind == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        parent.symlink_to(tmp_path / "elsewhere")
    elif kind == "open":
        parent.mkdir()
        parent.chmod(0o777)
    else:
        parent.write_text("")
    with pytest.raises(PostfixMultiError, match="not a private directory"):
        Staging(str(live), {}, base=str(base)).__enter__()
    if kind == "symlink":
        assert list((tmp_path / "elsewhere").iterdir()) == []  # nothing written through the link
