# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_config / postfix_master planning (pure) and the module entry points on a scratch host.

The scratch host is a primary and one secondary config directory under tmp_path, with the
real postconf/postfix doing the validation (everything they touch is below tmp_path: the
validation copy has its own scratch queue). The live-host behaviour is in
tests/integration/test_instance_configuration.py.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan import _configure
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import (
    IDENTITY_PARAMETERS,
    RESTART_PARAMETERS,
    command_argv,
    desired_entry,
    is_protected,
    plan_config,
    plan_master,
    render_value,
    resolve_instance,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterEntry
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Registry

# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "yes"),
        (False, "no"),
        (25, "25"),
        (0, "0"),
        (1.5, "1.5"),
        ("  padded\n", "padded"),
        ("", ""),
        (["a", "b", "c"], "a, b, c"),
        ([], ""),
        (["127.0.0.0/8", "[::1]/128"], "127.0.0.0/8, [::1]/128"),
        ([True, 3, " x "], "yes, 3, x"),
        ("$myhostname, localhost.$mydomain", "$myhostname, localhost.$mydomain"),
    ],
)
def test_render_value(value: t.Any, text: str) -> None:
    assert render_value("p", value) == text


@pytest.mark.parametrize(("value", "fragment"), [(None, "has no value"), ({"a": 1}, "must be a string"), ([["a"]], "list items"), ([None], "list items")])
def test_render_value_refuses(value: t.Any, fragment: str) -> None:
    with pytest.raises(PostfixMultiError, match=fragment):
        render_value("p", value)


# --------------------------------------------------------------------------- plan_config

MAIN = """\
# header
myhostname = host.example
mydestination = $myhostname,
    localhost.$mydomain,
\tlocalhost
# comment about relayhost
relayhost =
smtpd_banner = $myhostname   ESMTP
queue_directory = /var/spool/postfix-out
data_directory = /var/lib/postfix-out
multi_instance_name = postfix-out
multi_instance_group = mta
readme_directory = no
authorized_submit_users =
master_service_disable = inet
"""


def test_equal_values_are_ok_whatever_their_formatting() -> None:
    cf = MainCf.parse(MAIN)
    plan = plan_config(
        cf,
        {
            "myhostname": "host.example",
            "mydestination": ["$myhostname", "localhost.$mydomain", "localhost"],
            "relayhost": "",
            "smtpd_banner": "$myhostname ESMTP",
            "authorized_submit_users": "  ",
        },
    )
    assert not plan.changed
    assert plan.after.render() == MAIN
    assert plan.names == ["myhostname", "mydestination", "relayhost", "smtpd_banner", "authorized_submit_users"]


def test_changed_values_are_rewritten_in_place_and_new_ones_appended_sorted() -> None:
    cf = MainCf.parse(MAIN)
    plan = plan_config(cf, {"mydestination": "localhost", "zz_param": 1, "inet_interfaces": "127.0.0.2", "biff": False})
    assert plan.changed
    text = plan.after.render()
    assert "mydestination = localhost\n# comment about relayhost\n" in text  # continuation lines replaced, comment kept
    assert text.endswith("master_service_disable = inet\nbiff = no\ninet_interfaces = 127.0.0.2\nzz_param = 1\n")
    assert plan.changed_names == ["biff", "inet_interfaces", "mydestination", "zz_param"]
    assert plan.restart_required
    assert plan.after.get("mydestination") == "localhost"


def test_absent_and_exclusive() -> None:
    cf = MainCf.parse(MAIN)
    plan = plan_config(cf, absent=["mydestination", "not_set"])
    assert plan.removed == ["mydestination"]
    assert "localhost.$mydomain" not in plan.after.render() and "# comment about relayhost" in plan.after.render()
    assert not plan.restart_required
    excl = plan_config(cf, {"myhostname": "host.example"}, exclusive=True)
    assert sorted(excl.removed) == ["authorized_submit_users", "master_service_disable", "mydestination", "relayhost", "smtpd_banner"]
    assert set(excl.after.params()) == {"myhostname", "queue_directory", "data_directory", "multi_instance_name", "multi_instance_group", "readme_directory"}
    again = plan_config(excl.after, {"myhostname": "host.example"}, exclusive=True)
    assert not again.changed


@pytest.mark.parametrize("name", ["config_directory", "alternate_config_directories", "multi_instance_anything", "command_directory", "shlib_directory"])
def test_protected(name: str) -> None:
    assert is_protected(name)


@pytest.mark.parametrize("name", ["authorized_submit_users", "master_service_disable", "myhostname", "inet_interfaces"])
def test_not_protected(name: str) -> None:
    assert not is_protected(name)


@pytest.mark.parametrize("name", IDENTITY_PARAMETERS)
def test_identity_parameters_are_refused(name: str) -> None:
    with pytest.raises(PostfixMultiError, match="postfix_instance"):
        plan_config(MainCf.parse(MAIN), {name: "x"})
    with pytest.raises(PostfixMultiError, match="postfix_multi_init"):
        plan_config(MainCf.parse(MAIN), absent=[name])


@pytest.mark.parametrize(
    ("parameters", "absent", "fragment"),
    [
        ({"a b": "x"}, [], "invalid parameter name"),
        ({"#x": "x"}, [], "invalid parameter name"),
        ({"x": "a\nb"}, [], "single line"),
        ({"x": "${a"}, [], "invalid \\$ expression"),
        ({"x": "1"}, ["x"], "both in parameters and absent"),
        ({}, ["$x"], "invalid parameter name"),
    ],
)
def test_plan_config_refuses(parameters: dict[str, t.Any], absent: list[str], fragment: str) -> None:
    with pytest.raises(PostfixMultiError, match=fragment):
        plan_config(MainCf.parse(MAIN), parameters, absent)


def test_restart_parameters_are_documented_ones() -> None:
    assert {"inet_interfaces", "inet_protocols"} <= RESTART_PARAMETERS


# --------------------------------------------------------------------------- plan_master

MASTER = """\
# master.cf
smtp      inet  n       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
pickup    unix  n       -       y       60      1       pickup
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
# end
"""


def opts(**kwargs: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"service": None, "type": None, "state": "present"}
    base.update(kwargs)
    return base


def test_new_entry_is_appended_and_listener_change_flagged() -> None:
    plan = plan_master(MasterCf.parse(MASTER), opts(service="127.0.0.2:2525", type="inet", private=False, command=["smtpd", "-o syslog_name=out/2525"]))
    assert plan.changed and plan.restart_required and plan.current is None
    assert plan.after.render() == MASTER + "127.0.0.2:2525 inet n    -       -       -       -       smtpd\n    -o syslog_name=out/2525\n"
    again = plan_master(plan.after, opts(service="127.0.0.2:2525", type="inet", private="n", command="smtpd -o syslog_name=out/2525"))
    assert not again.changed and not again.restart_required


def test_field_only_change_needs_no_restart_and_keeps_other_fields() -> None:
    plan = plan_master(MasterCf.parse(MASTER), opts(service="pickup", type="unix", maxproc=2))
    assert plan.changed and not plan.restart_required
    assert plan.entry == MasterEntry("pickup", "unix", "n", "-", "y", "60", "2", ("pickup",))
    assert "pickup     unix  n       -       y       60      2       pickup\n" in plan.after.render()


def test_equal_entry_in_other_spelling_is_ok() -> None:
    cf = MasterCf.parse(MASTER)
    plan = plan_master(cf, opts(service="relay", type="unix", chroot=True, command="smtp -o { syslog_name = postfix/$service_name }"))
    assert not plan.changed


def test_command_change_needs_restart_and_drops_continuations() -> None:
    plan = plan_master(MasterCf.parse(MASTER), opts(service="relay", type="unix", command="smtp -o syslog_name=relay"))
    assert plan.changed and plan.restart_required
    assert "        -o syslog_name=postfix/$service_name" not in plan.after.render()
    assert "relay      unix  -       -       y       -       -       smtp\n    -o syslog_name=relay\n# end\n" in plan.after.render()


def test_absent() -> None:
    cf = MasterCf.parse(MASTER)
    plan = plan_master(cf, opts(service="relay", type="unix", state="absent"))
    assert plan.changed and plan.restart_required and plan.entry is None
    assert plan.after.render() == MASTER.replace(
        "relay     unix  -       -       y       -       -       smtp\n        -o syslog_name=postfix/$service_name\n", ""
    )
    assert not plan_master(plan.after, opts(service="relay", type="unix", state="absent")).changed


def test_duplicates_are_collapsed() -> None:
    cf = MasterCf.parse(MASTER + "smtp inet n - y - - smtpd\n")
    plan = plan_master(cf, opts(service="smtp", type="inet"))
    assert plan.changed and not plan.restart_required
    assert plan.after.count("smtp", "inet") == 1


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"service": "new", "type": "unix"}, "give its command"),
        ({"service": "smtp", "type": "inet", "private": True}, "inet service cannot be private"),
        ({"service": "smtp", "type": "inet", "private": "maybe"}, "must be y, n or -"),
        ({"service": "smtp", "type": "inet", "maxproc": "many"}, 'invalid process_limit field "many"'),
        ({"service": "smtp", "type": "inet", "maxproc": True}, "not a boolean"),
        ({"service": "smtp", "type": "inet", "wakeup": "often"}, 'invalid wakeup field "often"'),
        ({"service": "smtp", "type": "inet", "command": "smtpd {x"}, "missing '}'"),
        ({"service": "smtp", "type": "inet", "command": "smtpd -o {nonsense}"}, "missing '='"),
        ({"service": "smtp", "type": "inet", "command": ""}, "must not be empty"),
        ({"service": "smtp", "type": "inet", "command": []}, "non-empty"),
        ({"service": "smtp", "type": "inet", "command": 5}, "string or a list"),
        ({"service": "bad name", "type": "inet", "private": "n", "command": "smtpd"}, "invalid service name"),
        # master(5): private defaults to y; master(8) refuses a private inet service at start only
        ({"service": "127.0.0.1:10026", "type": "inet", "command": "smtpd"}, r"cannot be private, and private defaults to y \('-'\): give private: false"),
        ({"service": "127.0.0.1:10026", "type": "inet", "private": True, "command": "smtpd"}, "cannot be private"),
        ({"service": "", "type": "inet"}, "required"),
    ],
)
def test_plan_master_refuses(options: dict[str, t.Any], fragment: str) -> None:
    with pytest.raises(PostfixMultiError, match=fragment.replace("{", r"\{")):
        plan_master(MasterCf.parse(MASTER), opts(**options))


def test_plan_master_refuses_to_write_next_to_fatal_entries() -> None:
    cf = MasterCf.parse(MASTER + "broken unix - - n - -\n")
    with pytest.raises(PostfixMultiError, match="bad field count"):
        plan_master(cf, opts(service="x", type="unix", command="x"))


def test_command_list_items_are_master_cf_words() -> None:
    assert command_argv(["pipe", "flags=R user=x", "argv=/bin/p {a b}"]) == ("pipe", "flags=R", "user=x", "argv=/bin/p", "a b")
    assert command_argv(None) is None


def test_desired_entry_defaults_for_new_entries() -> None:
    entry = desired_entry(None, {"service": "x", "type": "fifo", "command": "x"})
    assert entry == MasterEntry("x", "fifo", "-", "-", "-", "-", "-", ("x",))


# --------------------------------------------------------------------------- instance selection


def test_resolve_instance_like_postmulti_i() -> None:
    files = {
        "/etc/postfix/main.cf": "multi_instance_enable = yes\nmulti_instance_wrapper = x\nmulti_instance_directories = /etc/postfix-out /etc/postfix-gone\n",
        "/etc/postfix-out/main.cf": "multi_instance_name = postfix-out\nqueue_directory = /q\ndata_directory = /d\n",
    }
    reg = Registry.load(FALLBACK_DEFAULTS, files.get)
    assert resolve_instance(reg, "-").primary
    assert resolve_instance(reg, "out").config_directory == "/etc/postfix-out"
    assert resolve_instance(reg, "postfix-out").name == "postfix-out"
    assert resolve_instance(reg, "/etc/postfix-out").name == "postfix-out"
    with pytest.raises(PostfixMultiError, match="No matching instance: '/etc/postfix-out/'"):
        resolve_instance(reg, "/etc/postfix-out/")
    with pytest.raises(PostfixMultiError, match="cannot be read"):
        resolve_instance(reg, "/etc/postfix-gone")


# --------------------------------------------------------------------------- entry points on a scratch host


class ScratchFacts(LocalFacts):
    """LocalFacts whose primary lives in a scratch directory."""

    primary = ""

    def defaults(self) -> dict[str, str]:
        values = dict(super().defaults())
        values["config_directory"] = self.primary
        return values


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for command in ("/usr/sbin/postconf", "/usr/sbin/postfix"):
        if not os.access(command, os.X_OK):
            pytest.fail(f"{command} is missing: install Postfix (the test command does)")
    primary, out = tmp_path / "etc-postfix", tmp_path / "etc-postfix-out"
    for directory in (primary, out):
        directory.mkdir()
        (directory / "master.cf").write_text(MASTER)
    (tmp_path / "spool").mkdir()
    (primary / "main.cf").write_text(
        f"queue_directory = {tmp_path}/spool\ndata_directory = {tmp_path}/lib\ninet_interfaces = 127.0.0.1\n"
        f"multi_instance_wrapper = ${{command_directory}}/postmulti -p --\nmulti_instance_enable = yes\nmulti_instance_directories = {out}\n"
    )
    (out / "main.cf").write_text(MAIN.replace("/var/spool/postfix-out", f"{tmp_path}/spool-out").replace("/var/lib/postfix-out", f"{tmp_path}/lib-out"))
    ScratchFacts.primary = str(primary)
    monkeypatch.setattr(_configure, "LocalFacts", ScratchFacts)
    return tmp_path


def snapshot(top: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(top)): (p.read_bytes(), p.stat().st_ino) for p in sorted(top.rglob("*")) if p.is_file()}


def test_manage_config_check_apply_check(scratch: Path) -> None:
    options = {"instance": "out", "parameters": {"myhostname": "out.example", "foo_unknown": 1}, "absent": ["relayhost"], "validate": True}
    before = snapshot(scratch)
    check = _configure.manage_config(options, check_mode=True, want_diff=True)
    assert check["changed"] and snapshot(scratch) == before
    assert check["parameters"] == {"myhostname": "out.example", "foo_unknown": "1", "relayhost": None}
    assert any("unused parameter: foo_unknown=1" in w and str(scratch / "etc-postfix-out") in w for w in check["warnings"])
    assert check["instance"]["name"] == "postfix-out" and check["restart_required"] is False
    assert check["diff"]["before"] != check["diff"]["after"]
    apply = _configure.manage_config(options, check_mode=False, want_diff=False)
    assert apply["changed"] and "diff" not in apply
    text = (scratch / "etc-postfix-out" / "main.cf").read_text()
    assert "myhostname = out.example\n" in text and "relayhost =" not in text
    assert not (scratch / "spool-out").exists()  # validation never created the live queue
    again = _configure.manage_config(options, check_mode=False, want_diff=True)
    assert not again["changed"] and again["warnings"] == []


def test_manage_config_refusal_leaves_the_file_alone(scratch: Path) -> None:
    before = snapshot(scratch)
    with pytest.raises(PostfixMultiError, match="default_process_limit = many") as info:
        _configure.manage_config({"instance": "-", "parameters": {"default_process_limit": "many"}}, check_mode=False, want_diff=False)
    assert "was left unchanged" in info.value.msg and str(scratch / "etc-postfix") in info.value.msg
    assert snapshot(scratch) == before
    assert not [p for p in Path("/tmp").glob("postfix-multi-validate.*") if p.stat().st_mtime > os.path.getmtime(scratch)]


def test_manage_config_without_validation(scratch: Path) -> None:
    result = _configure.manage_config({"instance": "-", "parameters": {"default_process_limit": "many"}, "validate": False}, check_mode=False, want_diff=False)
    assert result["changed"]
    assert "default_process_limit = many\n" in (scratch / "etc-postfix" / "main.cf").read_text()


def test_manage_master_check_apply_check(scratch: Path) -> None:
    options = {"instance": "-", "service": "2525", "type": "inet", "private": "n", "command": "smtpd -o syslog_name=alt", "state": "present"}
    before = snapshot(scratch)
    check = _configure.manage_master(options, check_mode=True, want_diff=True)
    assert check["changed"] and check["restart_required"] and snapshot(scratch) == before
    assert check["entry"]["command"] == "smtpd -o syslog_name=alt"
    assert check["warnings"] == []  # syslog_name is a known parameter: no "unused parameter" warning
    apply = _configure.manage_master(options, check_mode=False, want_diff=False)
    assert apply["changed"]
    assert MasterCf.parse((scratch / "etc-postfix" / "master.cf").read_text()).get("2525", "inet") == MasterEntry(
        "2525", "inet", "n", "-", "-", "-", "-", ("smtpd", "-o", "syslog_name=alt")
    )
    assert not _configure.manage_master(options, check_mode=True, want_diff=False)["changed"]
    gone = _configure.manage_master({**options, "state": "absent"}, check_mode=False, want_diff=False)
    assert gone["changed"] and gone["entry"] is None and gone["restart_required"]
    assert (scratch / "etc-postfix" / "master.cf").read_text() == MASTER


def test_manage_master_unknown_instance(scratch: Path) -> None:
    with pytest.raises(PostfixMultiError, match="No matching instance: 'nosuch'"):
        _configure.manage_master({"instance": "nosuch", "service": "x", "type": "unix", "command": "x"}, check_mode=True, want_diff=False)
