# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module runner, run as Ansible runs a module: arguments in, one JSON document out, an exit code."""

from __future__ import annotations

import json
import typing as t

import pytest
from _modargs import module_args
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import SERVICE
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import HOST
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import INIT, INSTANCE


def outcome(interface: Interface, args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any]]:
    with module_args(args), pytest.raises(SystemExit) as exited:
        run(interface)
    return int(exited.value.code or 0), json.loads(capsys.readouterr().out)


CORE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])


def warnings(out: dict[str, t.Any]) -> list[str]:
    """The warnings' texts (ansible-core 2.19 returns each as a structured event)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in out.get("warnings", [])]


SPEC = {"argument_spec": {"name": {"type": "str", "required": True}, "level": {"type": "int", "default": 1}}}


def test_a_result_is_returned_with_its_warnings(capsys):
    seen = []

    def operation(params, check_mode, want_diff):
        seen.append((dict(params), check_mode, want_diff))
        return {"changed": True, "msg": "done", "warnings": ["look at this"]}

    rc, out = outcome(Interface(SPEC, operation), {"name": "x", "_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert rc == 0
    assert seen == [({"name": "x", "level": 1}, True, True)]
    assert out["changed"] is True and out["msg"] == "done"
    assert warnings(out) == ["look at this"]


def test_an_operators_error_fails_with_its_message_and_details(capsys):
    def operation(params, check_mode, want_diff):
        raise PostfixMultiError("postfix check says: fatal: bad value", rc=1, command=["postfix", "check"])

    rc, out = outcome(Interface(SPEC, operation), {"name": "x"}, capsys)
    assert rc == 1
    assert out["failed"] is True
    assert out["msg"] == "postfix check says: fatal: bad value"
    assert out["rc"] == 1 and out["command"] == ["postfix", "check"]
    assert "exception" not in out


def test_an_unexpected_error_says_so_with_the_traceback(capsys):
    def operation(params, check_mode, want_diff):
        return {}["missing"]

    rc, out = outcome(Interface(SPEC, operation), {"name": "x"}, capsys)
    assert rc == 1
    assert out["msg"] == "unexpected error: 'missing'"
    if CORE < (2, 19):  # later ones show the traceback only where tracebacks are asked for (DISPLAY_TRACEBACK)
        assert "KeyError" in out["exception"]


def test_a_failed_result_fails_the_task_and_keeps_the_result(capsys):
    def operation(params, check_mode, want_diff):
        return {"changed": True, "failed": True, "msg": "health gate: postfix-out does not answer", "health": {"passed": False}}

    rc, out = outcome(Interface(SPEC, operation), {"name": "x"}, capsys)
    assert rc == 1
    assert out["failed"] is True and out["changed"] is True
    assert out["health"] == {"passed": False}


def test_bad_arguments_fail_before_the_operation_runs(capsys):
    def operation(params, check_mode, want_diff):  # pragma: no cover - must not run
        raise AssertionError("the operation ran")

    rc, out = outcome(Interface(SPEC, operation), {"level": "many"}, capsys)
    assert rc == 1
    assert out["msg"] == "missing required arguments: name"
    rc, out = outcome(Interface(SPEC, operation), {"name": "x", "level": "many"}, capsys)
    assert rc == 1
    assert "level" in out["msg"] and "int" in out["msg"], out["msg"]


@pytest.mark.parametrize(
    ("interface", "args", "expected"),
    [
        (INSTANCE, {"state": "present"}, "one of the following is required: name, config_directory"),
        (INSTANCE, {"name": "postfix-a", "position": "first", "before": "postfix-b"}, "parameters are mutually exclusive: position|before|before_group"),
        (SERVICE, {"name": "postfix-a"}, "one of the following is required: state, command, enabled"),
        (SERVICE, {"state": "started", "command": ["flush"]}, "parameters are mutually exclusive: state|command"),
        (HOST, {"state": "rendered"}, "value of state must be one of: merged, replaced, overridden, gathered, got: rendered"),
        (INIT, {"anything": 1}, "Unsupported parameters"),
    ],
)
def test_the_modules_constraints_are_enforced(interface, args, expected, capsys):
    """The interfaces the module files hand to the runner: Ansible refuses what they refuse, before
    the host is looked at."""
    rc, out = outcome(interface, args, capsys)
    assert rc == 1
    assert expected in out["msg"], out["msg"]


WRITES = {"argument_spec": {"path": {"type": "str"}, "backup": {"type": "bool", "default": False}, "unsafe_writes": {"type": "bool", "default": False}}}


def _writer(text: str):
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io

    def operation(params, check_mode, want_diff):
        _io.write_text(params["path"], text)
        return {"changed": True, "unsafe_writes": params["unsafe_writes"]}

    return operation


def test_backup_file_is_returned_for_the_replaced_file(tmp_path, capsys):
    target = tmp_path / "main.cf"
    target.write_text("old\n")
    rc, out = outcome(Interface(WRITES, _writer("new\n")), {"path": str(target), "backup": True}, capsys)
    assert rc == 0
    assert target.read_text() == "new\n"
    with open(out["backup_file"]) as kept:
        assert kept.read() == "old\n"
    rc, out = outcome(Interface(WRITES, _writer("newer\n")), {"path": str(target)}, capsys)
    assert "backup_file" not in out and len(list(tmp_path.iterdir())) == 2


def test_unsafe_writes_comes_from_the_environment_as_for_ansible_file_modules(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ANSIBLE_UNSAFE_WRITES", "1")
    rc, out = outcome(Interface(WRITES, _writer("x\n")), {"path": str(tmp_path / "f")}, capsys)
    assert out["unsafe_writes"] is True
    monkeypatch.delenv("ANSIBLE_UNSAFE_WRITES")
    rc, out = outcome(Interface(WRITES, _writer("x\n")), {"path": str(tmp_path / "f")}, capsys)
    assert out["unsafe_writes"] is False


@pytest.mark.parametrize("interface", ["CONFIG", "MASTER"])
def test_the_file_modules_offer_backup_and_unsafe_writes(interface):
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan import _configure

    options = getattr(_configure, interface).spec["argument_spec"]
    assert options["backup"] == {"type": "bool", "default": False}
    assert options["unsafe_writes"] == {"type": "bool", "default": False}


@pytest.mark.parametrize("check_mode", [True, False])
def test_the_compiled_code_is_kept_only_by_a_call_that_is_not_in_check_mode(capsys, monkeypatch, check_mode):
    saved = []
    monkeypatch.setattr("ansible_collections.mailops.postfix_multi.plugins.module_utils._core._zipload.save", lambda: saved.append(1))
    rc, _out = outcome(Interface(SPEC, lambda params, check, diff: {"changed": False}), {"name": "x", "_ansible_check_mode": check_mode}, capsys)
    assert rc == 0
    assert saved == ([] if check_mode else [1])
