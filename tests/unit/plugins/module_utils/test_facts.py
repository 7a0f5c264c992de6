# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""LocalFacts.fresh(): the facts each step of a run starts from share one ``postconf -d`` (the
compiled-in defaults of the one Postfix on the machine), not what was learnt about paths."""

from __future__ import annotations

import os
import shutil

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _facts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts

pytestmark = pytest.mark.skipif(shutil.which("postconf", path="/usr/sbin:/usr/bin:/sbin:/bin") is None, reason="needs Postfix's postconf")


@pytest.fixture
def postconf_d(monkeypatch) -> list[list[str]]:
    """Every ``postconf -d`` the facts run (the real program runs)."""
    calls: list[list[str]] = []
    real = _facts._runner.run

    def counting(argv, *args, **kwargs):
        if list(argv[1:]) == ["-d"]:
            calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(_facts._runner, "run", counting)
    return calls


def test_fresh_facts_share_one_postconf_d(postconf_d) -> None:
    facts = LocalFacts()
    steps = [facts.fresh() for _step in range(8)]  # e.g. one per new instance of a first converge
    defaults = facts.compiled_defaults()
    assert defaults["mail_owner"]  # what postconf -d printed
    assert all(step.compiled_defaults() is defaults and step.defaults() == facts.defaults() for step in steps)
    assert len(postconf_d) == 1


def test_fresh_facts_learn_paths_anew(tmp_path) -> None:
    """A step that comes after directories were made or replaced must not reuse the resolved paths
    of the facts it came from."""
    target = tmp_path / "one"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    facts = LocalFacts()
    assert facts.resolve(str(link)) == str(target)
    other = tmp_path / "two"
    other.mkdir()
    os.unlink(link)
    link.symlink_to(other)
    assert facts.fresh().resolve(str(link)) == str(other)
