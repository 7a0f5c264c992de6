# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values with bytes that are not UTF-8 (read as surrogates), and the design ``state=gathered`` returns.

Such bytes are shown as U+FFFD; that shown form, declared, is the current value (nothing is
written, the bytes stay), while any real change is still written. ``gathered`` returns a design
(JSON-safe) that, given back, is in sync, and names each value it shows so. The live round trip on
real Postfix is tests/integration/test_multi_host.py (test_gathered_latin1_round_trip).
"""

from __future__ import annotations

import json

import pytest
from _fakes import INITIALISED, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import kept_bytes, plan_config, plan_master, same_value
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import _clear_markers, _Report, gathered
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._drift import compare
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterEntry
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS


def latin1(text: str) -> str:
    """``text`` as read from an ISO-8859-1 file (surrogateescape)."""
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


def raw_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


BANNER = latin1("$myhostname ESMTP M\xfcller GmbH")
SHOWN = "$myhostname ESMTP M\ufffdller GmbH"
MAIN = f"# main.cf\nsmtpd_banner = {BANNER}\nmyhostname = mx.example\n"
MASTER = (
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "submission inet n       -       y       -       -       smtpd\n"
    "  -o syslog_name=postfix/submission\n" + latin1("  -o { smtpd_reject_footer = Fragen an den Postmaster (M\xfcller) }\n")
)


# --------------------------------------------------------------------------- the comparison rule


def test_the_shown_form_of_a_value_with_other_bytes_is_that_value():
    assert displayable(BANNER) == SHOWN
    assert same_value(BANNER, SHOWN)
    assert same_value(BANNER, BANNER)
    assert not same_value(BANNER, "$myhostname ESMTP Mueller GmbH")
    assert not same_value(None, SHOWN)
    # a value that is UTF-8 is only ever itself: a declared U+FFFD is a change there
    assert not same_value("$myhostname ESMTP Mxller GmbH", "$myhostname ESMTP M\ufffdller GmbH")
    assert same_value("M\ufffdller", "M\ufffdller")


@pytest.mark.parametrize("declared", [SHOWN, f"  {SHOWN}  ", SHOWN.replace(" ", "   ")])
def test_a_declared_value_as_gathered_changes_nothing(declared):
    cf = MainCf.parse(MAIN)
    plan = plan_config(cf, {"smtpd_banner": declared, "myhostname": "mx.example"})
    assert plan.changed is False
    assert plan.set_values == {}
    assert raw_bytes(plan.after.render()) == raw_bytes(MAIN)


def test_a_multi_line_value_as_gathered_changes_nothing():
    text = "smtpd_banner = $myhostname\n" + latin1("    ESMTP M\xfcller\n")
    plan = plan_config(MainCf.parse(text), {"smtpd_banner": "$myhostname ESMTP M\ufffdller"})
    assert plan.changed is False


def test_a_real_change_of_such_a_value_is_written():
    cf = MainCf.parse(MAIN)
    plan = plan_config(cf, {"smtpd_banner": "$myhostname ESMTP Mueller GmbH"})
    assert plan.changed is True
    assert plan.changed_names == ["smtpd_banner"]
    assert plan.after.get("smtpd_banner") == "$myhostname ESMTP Mueller GmbH"


def test_another_change_keeps_the_bytes_of_a_value_declared_as_shown():
    plan = plan_config(MainCf.parse(MAIN), {"smtpd_banner": SHOWN, "myhostname": "mx2.example"})
    assert plan.changed_names == ["myhostname"]
    assert raw_bytes(plan.after.render()) == raw_bytes(MAIN.replace("mx.example", "mx2.example"))
    assert b"M\xfcller" in raw_bytes(plan.after.render())


def gathered_item(entry: MasterEntry) -> dict[str, str]:
    return {key: displayable(value) for key, value in entry.fields().items()}


def test_a_master_entry_as_gathered_changes_nothing():
    cf = MasterCf.parse(MASTER)
    current = cf.get("submission", "inet")
    assert current is not None
    item = gathered_item(current)
    assert "\ufffd" in item["command"]
    plan = plan_master(cf, item)
    assert plan.changed is False
    assert plan.restart_required is False
    assert raw_bytes(plan.after.render()) == raw_bytes(MASTER)


def test_a_field_change_keeps_the_bytes_of_a_command_declared_as_shown():
    cf = MasterCf.parse(MASTER)
    current = cf.get("submission", "inet")
    assert current is not None
    plan = plan_master(cf, dict(gathered_item(current), maxproc="10"))
    assert plan.changed is True
    assert plan.restart_required is False  # the command is the same
    assert plan.entry is not None and plan.entry.command == current.command
    assert raw_bytes(plan.after.render()).count(b"M\xfcller") == 1
    assert b"\xef\xbf\xbd" not in raw_bytes(plan.after.render())


def test_a_changed_command_keeps_the_bytes_of_its_words_declared_as_shown():
    cf = MasterCf.parse(MASTER)
    current = cf.get("submission", "inet")
    assert current is not None
    command = gathered_item(current)["command"].replace("postfix/submission", "postfix/sub")
    plan = plan_master(cf, {"service": "submission", "type": "inet", "command": command})
    assert plan.changed is True
    rendered = raw_bytes(plan.after.render())
    assert b"syslog_name=postfix/sub\n" in rendered or b"syslog_name=postfix/sub " in rendered
    assert b"M\xfcller" in rendered and b"\xef\xbf\xbd" not in rendered


def test_a_real_change_of_a_word_with_such_bytes_is_written():
    cf = MasterCf.parse(MASTER)
    plan = plan_master(
        cf,
        {
            "service": "submission",
            "type": "inet",
            "command": "smtpd -o syslog_name=postfix/submission -o { smtpd_reject_footer = Fragen an den Postmaster (Mueller) }",
        },
    )
    assert plan.changed is True
    assert b"(Mueller)" in raw_bytes(plan.after.render())
    assert b"M\xfcller" not in raw_bytes(plan.after.render())


def test_kept_bytes_takes_the_word_at_the_same_position_first():
    first, second = latin1("a\xfc"), latin1("a\xfd")  # both shown as a U+FFFD
    current = MasterEntry("x", "unix", command=("pipe", first, second))
    declared = MasterEntry("x", "unix", command=("pipe", "a\ufffd", "a\ufffd"))
    assert kept_bytes(current, declared).command == ("pipe", first, second)
    # elsewhere, only a word that one current word alone is shown as (two are shown as a U+FFFD here)
    moved = MasterEntry("x", "unix", command=("pipe", "new", "a\ufffd", "a\ufffd"))
    assert kept_bytes(current, moved).command == ("pipe", "new", second, "a\ufffd")
    unique = MasterEntry("x", "unix", command=("pipe", latin1("b\xfc")))
    assert kept_bytes(unique, MasterEntry("x", "unix", command=("pipe", "new", "b\ufffd"))).command == ("pipe", "new", latin1("b\xfc"))
    assert kept_bytes(None, declared) is declared


# --------------------------------------------------------------------------- gathered, given back


class Facts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def latin1_host() -> Facts:
    base = host(
        primary=INITIALISED + f"smtpd_banner = {BANNER}\n",
        secondaries=[("/etc/postfix-l", secondary_main("postfix-l", "mta", "yes") + f"smtpd_banner = {BANNER}\n")],
    )
    facts = Facts(files=dict(base.files), dirs=set(base.dirs))
    facts.write("/etc/postfix-l/master.cf", MASTER)
    facts.running = {"/etc/postfix", "/etc/postfix-l"}
    return facts


def test_gathered_returns_a_design_with_such_bytes_shown_and_says_so():
    result = gathered(latin1_host())  # type: ignore[arg-type]
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # what Ansible does with it: no surrogate left
    design = result["gathered"]
    assert design["primary_parameters"]["smtpd_banner"] == SHOWN
    (inst,) = design["instances"]
    assert inst["parameters"]["smtpd_banner"] == SHOWN
    submission = [item for item in inst["master"] if item["service"] == "submission"]
    assert "(M\ufffdller)" in submission[0]["command"]
    assert result["warnings"] == [
        "postfix-l: main.cf smtpd_banner holds bytes that are not UTF-8, shown as U+FFFD; given back as gathered, the value is kept byte for byte"
        " (nothing is written)",
        "postfix-l: master.cf submission/inet holds bytes that are not UTF-8, shown as U+FFFD; given back as gathered, the entry is kept byte for byte"
        " (nothing is written)",
        "the primary instance: main.cf smtpd_banner holds bytes that are not UTF-8, shown as U+FFFD; given back as gathered, the value is kept byte for byte"
        " (nothing is written)",
    ]


def test_a_gathered_design_given_back_is_in_sync():
    facts = latin1_host()
    design = gathered(facts)["gathered"]  # type: ignore[arg-type]
    result = compare(facts, design["instances"], primary_parameters=design["primary_parameters"], prune=True)
    assert result["in_sync"] is True, result["summary"]
    assert result["actions"]["config"] == [] and result["actions"]["master"] == []


def test_a_utf8_host_gathers_without_warnings():
    base = host(secondaries=[("/etc/postfix-l", secondary_main("postfix-l", "mta", "yes") + "smtpd_banner = M\u00fcller\n")])
    facts = Facts(files=dict(base.files), dirs=set(base.dirs))
    result = gathered(facts)  # type: ignore[arg-type]
    assert result["warnings"] == []
    assert result["gathered"]["instances"][0]["parameters"]["smtpd_banner"] == "M\u00fcller"


# --------------------------------------------------------------------------- the primary in the result


def test_the_primary_is_one_record_named_dash():
    report = _Report("/etc/postfix")
    report.instance("-")["changed_parameters"].append("message_size_limit")
    report.action("-", "changed the primary instance: message_size_limit")
    report.service({"changed": True, "reloaded": ["/etc/postfix", "postfix-out"]})
    assert list(report.instances) == ["-", "postfix-out"]
    assert report.instances["-"]["reloaded"] is True
    assert report.instances["-"]["actions"] == ["changed the primary instance: message_size_limit"]
    assert report.lists()["reloaded"] == ["-", "postfix-out"]
    report.mark("/etc/postfix", "started")
    assert report.lists()["started"] == ["-"]


def test_the_primary_marker_is_cleared_once_it_was_reloaded(tmp_path):
    marker = tmp_path / "postfix_multi-reload-pending"
    marker.write_text("reloaded\n")
    report = _Report("/etc/postfix")
    report.service({"changed": True, "reloaded": ["/etc/postfix"]})
    pending = {"/etc/postfix": str(tmp_path)}
    _clear_markers(report, pending)
    assert pending == {}
