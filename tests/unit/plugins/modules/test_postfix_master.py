# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postfix_master module's argument spec, run as Ansible runs the module (issue 15, item 6).

private, unprivileged and chroot are typed options with the choices y, n and -: a boolean
becomes y or n (Ansible's own handling of choices), any other value fails the task with
Ansible's message before the module's code runs. wakeup and maxproc are strings that the
module checks before it reads anything from the host.
"""

from __future__ import annotations

import json
import typing as t

import pytest
import yaml
from _modargs import module_args
from ansible.module_utils.common import warnings as ansible_warnings
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan import _configure
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import BOOL_FIELDS, FLAG_VALUES
from ansible_collections.mailops.postfix_multi.plugins.modules import postfix_master

Calls = t.List[t.Dict[str, t.Any]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """What manage_master is called with (it returns at once, touching nothing)."""
    # the warnings of modules run earlier in this process (Ansible keeps them in a global)
    ansible_warnings._global_warnings.clear()
    seen: Calls = []

    def manage_master(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
        seen.append(dict(options))
        return {"changed": False, "msg": "recorded", "warnings": []}

    monkeypatch.setattr(postfix_master, "MASTER", postfix_master.MASTER._replace(operation=manage_master))
    return seen


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any]]:
    with module_args(args), pytest.raises(SystemExit) as exited:
        postfix_master.main()
    return int(exited.value.code or 0), json.loads(capsys.readouterr().out)


BASE = {"service": "relay", "type": "unix", "command": "smtp"}


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize("value", FLAG_VALUES)
def test_each_choice_reaches_the_module_as_given(calls: Calls, capsys: pytest.CaptureFixture[str], name: str, value: str) -> None:
    rc, out = run({**BASE, name: value}, capsys)
    assert rc == 0, out
    assert calls[0][name] == value


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize(("value", "flag"), [(True, "y"), (False, "n"), ("True", "y"), ("False", "n")])
def test_booleans_become_y_and_n(calls: Calls, capsys: pytest.CaptureFixture[str], name: str, value: t.Any, flag: str) -> None:
    rc, out = run({**BASE, name: value}, capsys)
    assert rc == 0, out
    assert calls[0][name] == flag
    assert not out.get("warnings"), out


def test_omitted_flags_stay_omitted(calls: Calls, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = run(BASE, capsys)
    assert rc == 0, out
    assert all(calls[0][name] is None for name in BOOL_FIELDS + ("wakeup", "maxproc"))


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize("value", ["maybe", "yes", "no", "true", "Y", "N", "1", 1, 0, "", "--"])
def test_other_values_fail_with_ansibles_message_before_the_module_runs(calls: Calls, capsys: pytest.CaptureFixture[str], name: str, value: t.Any) -> None:
    rc, out = run({**BASE, name: value}, capsys)
    assert rc == 1 and out["failed"] is True
    assert out["msg"] == f"value of {name} must be one of: y, n, -, got: {value}"
    assert calls == []


@pytest.mark.parametrize(("value", "text"), [(20, "20"), ("20", "20"), ("-", "-"), (0, "0")])
def test_numbers_reach_the_module_as_text(calls: Calls, capsys: pytest.CaptureFixture[str], value: t.Any, text: str) -> None:
    rc, out = run({**BASE, "maxproc": value, "wakeup": value}, capsys)
    assert rc == 0, out
    assert calls[0]["maxproc"] == text and calls[0]["wakeup"] == text


class _Untouchable:
    def __init__(self) -> None:
        raise AssertionError("the module looked at the host before refusing the options")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"maxproc": "many"},
            'relay/unix: maxproc: invalid process_limit field "many": give a number of processes up to 2147483647 (0: no limit), '
            "or - (the default, $default_process_limit)",
        ),
        (
            {"wakeup": "often"},
            'relay/unix: wakeup: invalid wakeup field "often": give a number of seconds up to 2147483647, optionally followed by ? '
            "(no wake-up before the service is first used), or - (the default, 0: never woken up)",
        ),
        (
            {"maxproc": True},
            'relay/unix: maxproc: invalid process_limit field "True": give a number of processes up to 2147483647 (0: no limit), '
            "or - (the default, $default_process_limit)",
        ),
    ],
)
def test_bad_numbers_fail_before_the_host_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: dict[str, t.Any], message: str
) -> None:
    monkeypatch.setattr(_configure, "LocalFacts", _Untouchable)
    rc, out = run({**BASE, **args}, capsys)
    assert rc == 1 and out["failed"] is True
    assert out["msg"] == message


def test_documentation_lists_the_choices() -> None:
    options = yaml.safe_load(postfix_master.DOCUMENTATION)["options"]
    for name in BOOL_FIELDS:
        assert options[name]["type"] == "str"
        assert options[name]["choices"] == list(FLAG_VALUES)
    for name in ("wakeup", "maxproc"):
        assert options[name]["type"] == "str" and "choices" not in options[name]
