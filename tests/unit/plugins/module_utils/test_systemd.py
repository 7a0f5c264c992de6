# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd decisions of postfix_service (the test machines cannot boot systemd, so these are the only tests)."""

from __future__ import annotations

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._registry import Instance
from ansible_collections.mailops.postfix_multi.plugins.module_utils._systemd import (
    choose_backend,
    expected_wants,
    needs_daemon_reload,
    translate,
    unit_for,
)


def inst(name: str | None, primary: bool = False) -> Instance:
    short = (name or "x").replace("postfix-", "")
    return Instance(f"/etc/postfix-{short}", f"/var/spool/postfix-{short}", f"/var/lib/postfix-{short}", name=name, primary=primary)


@pytest.mark.parametrize(
    ("use", "booted", "installed", "expected"),
    [
        ("auto", True, True, "systemd"),
        ("auto", True, False, "postmulti"),
        ("auto", False, True, "postmulti"),
        ("auto", False, False, "postmulti"),
        ("postmulti", True, True, "postmulti"),
        ("systemd", True, True, "systemd"),
    ],
)
def test_choose_backend(use: str, booted: bool, installed: bool, expected: str) -> None:
    assert choose_backend(use, booted, installed) == expected


@pytest.mark.parametrize(("booted", "installed", "why"), [(False, True, "not running as PID 1"), (True, False, "no postfix@.service unit")])
def test_forced_systemd_fails_where_unavailable(booted: bool, installed: bool, why: str) -> None:
    with pytest.raises(PostfixMultiError, match=why):
        choose_backend("systemd", booted, installed)
    with pytest.raises(PostfixMultiError, match="use must be"):
        choose_backend("upstart", True, True)


def test_unit_names() -> None:
    assert unit_for(inst(None, primary=True)) == "postfix@-.service"
    assert unit_for(inst("postfix-main", primary=True)) == "postfix@-.service"  # %i '-' selects the primary
    assert unit_for(inst("postfix-out")) == "postfix@postfix-out.service"
    assert unit_for(inst("postfix-a.b_c:d")) == "postfix@postfix-a.b_c:d.service"
    assert unit_for(inst(None)) is None  # nameless: the generator's postfix@.service is unusable
    for unsafe in ("postfix-a!b", "postfix-a@b", "postfix-a%b", "postfix-a=b", "postfix-a+b"):
        assert unit_for(inst(unsafe)) is None  # systemd would escape it and postmulti -i would not match


def test_expected_wants_mirror_the_generator() -> None:
    assert expected_wants([]) == ["postfix@-.service"]
    assert expected_wants(["postfix-out", None, "postfix-in"]) == [
        "postfix@-.service",
        "postfix@postfix-out.service",
        "postfix@.service",
        "postfix@postfix-in.service",
    ]


def test_needs_daemon_reload() -> None:
    current = expected_wants(["postfix-out"])
    assert needs_daemon_reload(current, list(reversed(current))) is False
    assert needs_daemon_reload(current, ["postfix@-.service"]) is True  # instance added
    assert needs_daemon_reload(["postfix@-.service"], current) is True  # instance removed
    assert needs_daemon_reload(expected_wants(["postfix-new"]), current) is True  # renamed
    assert needs_daemon_reload(current, None) is True  # never generated


@pytest.mark.parametrize(
    ("action", "unit", "active", "running", "via", "verb"),
    [
        ("start", "postfix@-.service", False, False, "systemd", "start"),
        ("start", "postfix@-.service", True, False, "systemd", "restart"),  # stale unit
        ("stop", "postfix@-.service", True, True, "systemd", "stop"),
        ("stop", "postfix@-.service", False, True, "postfix", "stop"),  # started by hand
        ("reload", "postfix@x.service", True, True, "systemd", "reload"),
        ("reload", "postfix@x.service", False, True, "postfix", "reload"),
        ("check", "postfix@x.service", True, True, "postfix", "check"),
        ("flush", "postfix@x.service", True, True, "postfix", "flush"),
        ("start", None, False, False, "postfix", "start"),  # nameless
        ("stop", None, False, True, "postfix", "stop"),
    ],
)
def test_translate(action: str, unit: str | None, active: bool, running: bool, via: str, verb: str) -> None:
    step = translate(action, unit, active, running)
    assert (step.via, step.verb) == (via, verb)
    assert (step.unit is not None) == (via == "systemd")
