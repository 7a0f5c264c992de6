# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_master's options checked on their own (issue 15, item 6): columns 3 to 7 of a master.cf entry.

master(5) and master_ent.c (Postfix 3.5, 3.7 and 3.10 alike): private, unprivileged and chroot
are exactly y or n, or - for the default (y, y, and n from compatibility_level 1 on, y below);
the wakeup time and the process limit start with a digit (read with atoi()) or are - (0 and
$default_process_limit); postconf -M refuses anything but digits (and a final ? for the wakeup).
A wrong value is refused by check_master_options, which manage_master runs before it reads
anything from the host.
"""

from __future__ import annotations

import typing as t

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan import _configure
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import (
    check_master_options,
    desired_entry,
    plan_master,
    requested_fields,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import (
    BOOL_FIELDS,
    FLAG_VALUES,
    NUMBER_MAX,
    MasterCf,
    MasterEntry,
    maxproc_problem,
    wakeup_problem,
)
from hypothesis import given
from hypothesis import strategies as st

MASTER = "smtp      inet  n       -       y       -       -       smtpd\npickup    unix  n       -       y       60      1       pickup\n"


def opts(**kwargs: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"instance": "-", "service": "relay", "type": "unix", "command": "smtp", "state": "present", "validate": True}
    base.update(kwargs)
    return base


# --------------------------------------------------------------------------- the flags


def test_flag_values_are_postfix_ones() -> None:
    assert FLAG_VALUES == ("y", "n", "-")
    assert BOOL_FIELDS == ("private", "unprivileged", "chroot")


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize("value", FLAG_VALUES)
def test_each_flag_value_is_written_as_given(name: str, value: str) -> None:
    assert requested_fields(opts(**{name: value})) == {name: value}
    check_master_options(opts(**{name: value}))
    entry = desired_entry(None, opts(**{name: value}))
    assert getattr(entry, name) == value
    assert MasterCf.parse(MASTER).get("relay", "unix") is None
    assert plan_master(MasterCf.parse(MASTER), opts(**{name: value})).after.get("relay", "unix") == entry


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize(("value", "flag"), [(True, "y"), (False, "n")])
def test_booleans_are_y_and_n(name: str, value: bool, flag: str) -> None:
    assert requested_fields(opts(**{name: value})) == {name: flag}
    assert getattr(desired_entry(None, opts(**{name: value})), name) == flag


def test_omitted_flags_keep_the_entry_or_are_postfix_defaults() -> None:
    # a new entry: "-" in every column, Postfix's default (private y, unprivileged y, chroot by compatibility_level)
    assert desired_entry(None, opts()) == MasterEntry("relay", "unix", "-", "-", "-", "-", "-", ("smtp",))
    # an existing entry keeps its columns
    current = MasterCf.parse(MASTER).get("pickup", "unix")
    assert desired_entry(current, opts(service="pickup", command=None)) == current
    assert requested_fields(opts()) == {}


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize("value", ["maybe", "", "1", 1, 0, "yn", "--", 2.5, ["y"]])
def test_wrong_flags_are_refused(name: str, value: t.Any) -> None:
    with pytest.raises(PostfixMultiError, match=f"relay/unix: {name} must be y, n or - \\(or a boolean\\), not "):
        check_master_options(opts(**{name: value}))


def test_every_wrong_field_is_named_at_once() -> None:
    with pytest.raises(PostfixMultiError) as info:
        check_master_options(opts(private="maybe", chroot="perhaps", wakeup="often", maxproc="many"))
    message = info.value.msg
    for fragment in (
        "private must be y, n or -",
        "chroot must be y, n or -",
        'wakeup: invalid wakeup field "often"',
        'maxproc: invalid process_limit field "many"',
    ):
        assert fragment in message, message


# --------------------------------------------------------------------------- wakeup and process limit


@pytest.mark.parametrize("value", ["-", "0", "60", "60?", "0?", 300, 0, str(NUMBER_MAX), f"{NUMBER_MAX}?", " 25 "])
def test_wakeups_master_and_postconf_read_alike(value: t.Any) -> None:
    assert requested_fields(opts(wakeup=value)) == {"wakeup": str(value).strip()}
    check_master_options(opts(wakeup=value))


@pytest.mark.parametrize("value", ["-", "0", "1", "100", 20, 0, str(NUMBER_MAX)])
def test_process_limits_master_and_postconf_read_alike(value: t.Any) -> None:
    assert requested_fields(opts(maxproc=value)) == {"maxproc": str(value).strip()}
    check_master_options(opts(maxproc=value))


@pytest.mark.parametrize(
    "value",
    [
        "often",
        "",
        "?",  # postconf takes it, master(8) refuses it (no digit)
        "-?",  # the same
        "60x",  # master(8) reads 60, postconf refuses it
        "1??",
        "-1",
        "1.5",
        1.5,
        str(NUMBER_MAX + 1),  # master(8)'s atoi() wraps it around
        "4294967296",
        "٣",  # a digit, but not one Postfix knows
    ],
)
def test_wrong_wakeups_are_refused_with_the_remedy(value: t.Any) -> None:
    with pytest.raises(
        PostfixMultiError, match=r"relay/unix: wakeup: invalid wakeup field .*: give a number of seconds up to 2147483647, optionally followed by \?"
    ):
        check_master_options(opts(wakeup=value))


@pytest.mark.parametrize("value", ["many", "", "1?", "-1", "1.0", 1.0, str(NUMBER_MAX + 1), "4294967296", "99999999999999999999", "٣"])
def test_wrong_process_limits_are_refused_with_the_remedy(value: t.Any) -> None:
    with pytest.raises(
        PostfixMultiError, match=r"relay/unix: maxproc: invalid process_limit field .*: give a number of processes up to 2147483647 \(0: no limit\)"
    ):
        check_master_options(opts(maxproc=value))


@pytest.mark.parametrize("name", ["wakeup", "maxproc"])
def test_booleans_are_not_numbers(name: str) -> None:
    with pytest.raises(PostfixMultiError, match=f"{name} must be a number or -, not a boolean"):
        check_master_options(opts(**{name: True}))


@given(st.integers(0, NUMBER_MAX), st.booleans())
def test_numbers_in_range_are_accepted(number: int, as_text: bool) -> None:
    value: int | str = str(number) if as_text else number
    assert requested_fields(opts(wakeup=value, maxproc=value)) == {"wakeup": str(number), "maxproc": str(number)}
    assert wakeup_problem(f"{number}?") is None


@given(st.integers(NUMBER_MAX + 1, 10**30))
def test_numbers_out_of_range_are_refused(number: int) -> None:
    assert maxproc_problem(str(number)) is not None and wakeup_problem(str(number)) is not None
    # also for entries built by other modules (postfix_multi_host, postfix_instance): MasterEntry.problems()
    assert any("invalid process_limit field" in p for p in MasterEntry("x", "unix", maxproc=str(number), command=("x",)).problems())
    assert any("invalid wakeup field" in p for p in MasterEntry("x", "unix", wakeup=str(number), command=("x",)).problems())


@given(st.text(max_size=8))
def test_the_checks_agree_with_what_postconf_accepts(text: str) -> None:
    """Whatever the checks accept, postconf reads back as the same entry (and master(8) as a number)."""
    entry = MasterEntry("x", "unix", wakeup=text, command=("x",))
    if wakeup_problem(text) is None:
        assert not entry.problems()
        assert text == "-" or text.rstrip("?").isdigit() and text.rstrip("?").isascii()
    entry = MasterEntry("x", "unix", maxproc=text, command=("x",))
    if maxproc_problem(text) is None:
        assert not entry.problems()
        assert text == "-" or text.isdigit() and text.isascii()


# --------------------------------------------------------------------------- the rest of check_master_options


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"service": "bad name"}, "invalid service name 'bad name'"),
        ({"type": "inet", "service": "2525", "private": "y"}, "an inet service cannot be private, and private is y: give private: false"),
        ({"type": "inet", "service": "2525", "private": "-"}, r"an inet service cannot be private, and private defaults to y \('-'\)"),
        ({"type": "inet", "service": "2525", "private": True}, "an inet service cannot be private"),
        ({"command": "smtpd {x"}, "missing '}'"),
        ({"command": "-smtpd"}, "invalid command name"),
        ({"command": []}, "non-empty"),
        ({"service": ""}, "service and type are required"),
        ({"type": None}, "service and type are required"),
    ],
)
def test_check_master_options_refuses(options: dict[str, t.Any], fragment: str) -> None:
    with pytest.raises(PostfixMultiError, match=fragment.replace("{", r"\{")):
        check_master_options(opts(**options))


def test_what_needs_the_current_entry_is_left_to_plan_master() -> None:
    # without master.cf it is not known whether the entry exists (command) or is private (inet)
    check_master_options(opts(command=None))
    check_master_options(opts(type="inet", service="smtp", command=None))
    with pytest.raises(PostfixMultiError, match="give its command"):
        plan_master(MasterCf.parse(MASTER), opts(command=None))
    assert not plan_master(MasterCf.parse(MASTER), opts(type="inet", service="smtp", command=None)).changed


def test_absent_checks_the_given_fields_only() -> None:
    check_master_options(opts(state="absent", service="odd name", command=None))
    with pytest.raises(PostfixMultiError, match='invalid process_limit field "many"'):
        check_master_options(opts(state="absent", maxproc="many"))


# --------------------------------------------------------------------------- before anything is read


class _Untouchable:
    """LocalFacts that fails the test when manage_master gets as far as looking at the host."""

    def __init__(self) -> None:
        raise AssertionError("manage_master looked at the host before refusing the options")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"private": "maybe"}, "private must be y, n or -"),
        ({"maxproc": "many"}, 'invalid process_limit field "many"'),
        ({"wakeup": "sometimes"}, 'invalid wakeup field "sometimes"'),
        ({"maxproc": str(NUMBER_MAX + 1)}, "up to 2147483647"),
        ({"type": "inet", "service": "smtp", "private": True}, "inet service cannot be private"),
        ({"service": "a/b"}, "invalid service name"),
        ({"command": "smtpd -o {nonsense}"}, "missing '='"),
    ],
)
def test_manage_master_refuses_before_reading_the_host(monkeypatch: pytest.MonkeyPatch, options: dict[str, t.Any], fragment: str) -> None:
    monkeypatch.setattr(_configure, "LocalFacts", _Untouchable)
    with pytest.raises(PostfixMultiError, match=fragment.replace("{", r"\{")):
        _configure.manage_master(opts(**options), check_mode=True, want_diff=False)


def test_manage_master_reads_the_host_for_good_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_configure, "LocalFacts", _Untouchable)
    with pytest.raises(AssertionError, match="looked at the host"):
        _configure.manage_master(opts(private=False, chroot=True, wakeup=60, maxproc="2"), check_mode=True, want_diff=False)
