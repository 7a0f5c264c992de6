# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The design's logging: what it expands to, and what it refuses before anything is read.

What Postfix then does with the parameters (a line in the file, under the instance's name) is
tested on lab hosts in tests/integration/test_logging.py.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from _fakes import INITIALISED, PROTO_MASTER, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import plan_master
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import _host_log_files
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._drift import compare
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._logging import (
    check_logging,
    expand_design,
    missing_log_directories,
    postlog_entry,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS

POSTLOG = {"service": "postlog", "type": "unix-dgram", "private": "n", "unprivileged": "-", "chroot": "n", "wakeup": "-", "maxproc": "1", "command": "postlogd"}


def one(logging: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    """The single expanded instance of a design with one instance, postfix-out."""
    design = expand_design([{"name": "postfix-out", "logging": logging, **extra}])
    assert len(design["instances"]) == 1
    return design["instances"][0]


# ----------------------------------------------------------------------------- expansion
def test_syslog_with_a_name_sets_it_and_removes_the_file():
    out = one({"to": "syslog", "syslog_name": "postfix-relay"})
    assert out["parameters"] == {"syslog_name": "postfix-relay"}
    assert out["absent_parameters"] == ["maillog_file"]
    assert out.get("master", []) == []
    assert "logging" not in out


def test_syslog_without_a_name_falls_back_to_postfixs_default():
    """syslog_name removed: postconf(5)'s default is the instance's multi_instance_name."""
    out = one({"to": "syslog", "syslog_name": None, "file": None})
    assert out["parameters"] == {}
    assert sorted(out["absent_parameters"]) == ["maillog_file", "syslog_name"]


def test_file_sets_maillog_file_and_the_postlog_entry():
    out = one({"to": "file", "file": "/var/log/postfix-out.log"}, parameters={"myhostname": "out.example"}, master=[{"service": "smtp", "type": "inet"}])
    assert out["parameters"] == {"myhostname": "out.example", "maillog_file": "/var/log/postfix-out.log"}
    assert out["absent_parameters"] == ["syslog_name"]
    assert out["master"] == [{"service": "smtp", "type": "inet"}, POSTLOG]


STOCK_MASTER = Path("/usr/share/postfix/master.cf.dist")


@pytest.mark.skipif(not STOCK_MASTER.is_file(), reason="the installed Postfix's stock master.cf is needed")
def test_the_postlog_entry_is_the_installed_postfixs_own():
    """The entry leaves the stock master.cf (3.4 and later) as it is: no drift on a stock instance."""
    assert postlog_entry() == POSTLOG
    stock = MasterCf.parse(STOCK_MASTER.read_text())
    assert stock.get("postlog", "unix-dgram") is not None
    assert plan_master(stock, POSTLOG).changed is False
    assert plan_master(MasterCf.parse(PROTO_MASTER), POSTLOG).changed is True


def test_a_declared_postlog_entry_stays_as_declared():
    mine = {"service": "postlog", "type": "unix-dgram", "private": "n", "chroot": "n", "maxproc": "1", "command": "postlogd -v"}
    out = one({"to": "file", "file": "/var/log/postfix-out.log"}, master=[mine])
    assert out["master"] == [mine]


def test_a_renamed_postlog_service_gets_its_entry():
    out = one({"to": "file", "file": "/var/log/out.log"}, parameters={"postlog_service_name": "postlog2"})
    assert out["master"][-1]["service"] == "postlog2"


def test_no_logging_changes_nothing():
    entry = {"name": "postfix-out", "parameters": {"myhostname": "x"}, "absent_parameters": [], "master": []}
    design = expand_design([entry], {"a": "1"}, ["b"], None)
    assert design["instances"] == [entry]
    assert design["primary_parameters"] == {"a": "1"}
    assert design["primary_absent_parameters"] == ["b"]
    assert design["primary_master"] == []
    assert design["log_files"] == {}


def test_the_primary_logs_to_a_file():
    design = expand_design([], {"myhostname": "p.example"}, [], {"to": "file", "file": "/var/log/postfix.log", "syslog_name": "postfix-main"})
    assert design["primary_parameters"] == {"myhostname": "p.example", "maillog_file": "/var/log/postfix.log", "syslog_name": "postfix-main"}
    assert design["primary_absent_parameters"] == []
    assert design["primary_master"] == [POSTLOG]
    assert design["log_files"] == {"the primary instance": "/var/log/postfix.log"}


def test_the_input_is_not_changed():
    entry = {"name": "postfix-out", "parameters": {}, "absent_parameters": [], "master": [], "logging": {"to": "file", "file": "/var/log/o.log"}}
    before = repr(entry)
    expand_design([entry])
    assert repr(entry) == before


def test_instances_going_away_are_not_checked():
    design = expand_design([{"name": "postfix-old", "state": "absent", "logging": {"to": "file", "file": "/tmp/x"}}])
    assert "logging" not in design["instances"][0]
    assert design["instances"][0].get("parameters") is None


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("logging", "message"),
    [
        ("syslog", "must be a mapping"),
        ({"to": "journal"}, "logging.to must be syslog or file"),
        ({"to": "syslog", "colour": "red"}, "has no option colour"),
        ({"to": "syslog", "syslog_name": "postfix out"}, "must be one word"),
        ({"to": "syslog", "syslog_name": ""}, "must be one word"),
        ({"to": "syslog", "syslog_name": "$multi_instance_name"}, "must be one word"),
        ({"to": "syslog", "file": "/var/log/x.log"}, "logging.file is for to: file"),
        ({"to": "file"}, "needs logging.file"),
        ({"to": "file", "file": "var/log/x.log"}, "absolute, normalised"),
        ({"to": "file", "file": "/var/log/../x.log"}, "absolute, normalised"),
        ({"to": "file", "file": "/var/log/"}, "absolute, normalised"),
        ({"to": "file", "file": "/dev/stdout"}, "postfix start-fg"),
        ({"to": "file", "file": "/srv/log/x.log"}, "does not start with any of maillog_file_prefixes (/var, /dev/stdout)"),
        ({"to": "file", "file": "/var/log/a b.log"}, "must not contain whitespace"),
    ],
)
def test_refused(logging: t.Any, message: str):
    with pytest.raises(PostfixMultiError) as info:
        one(logging)
    assert message in info.value.msg
    assert info.value.msg.startswith("postfix_multi_instances[0] (postfix-out): ")


def test_the_prefix_is_compared_as_postfix_does():
    """maillog_client.c: strncmp() with each prefix - a plain string prefix, /var matches /var2 too."""
    assert check_logging("x", {"to": "file", "file": "/var2/x.log"}) is not None
    assert check_logging("x", {"to": "file", "file": "/srv/mail/x.log"}, {"maillog_file_prefixes": "/var/log, /srv/mail/"}) is not None
    assert check_logging("x", {"to": "file", "file": "/srv/mail/x.log"}, {"maillog_file_prefixes": ["/var", "/srv"]}) is not None
    with pytest.raises(PostfixMultiError, match=r"maillog_file_prefixes \(/var/log\)"):
        check_logging("x", {"to": "file", "file": "/var/spool/x.log"}, {"maillog_file_prefixes": "/var/log"})


@pytest.mark.parametrize(
    ("key", "where"),
    [("parameters", {"maillog_file": "/var/log/x"}), ("parameters", {"syslog_name": "x"}), ("absent_parameters", ["syslog_name"])],
)
def test_logging_owns_its_parameters(key: str, where: t.Any):
    with pytest.raises(PostfixMultiError, match="set by logging; remove it from parameters"):
        one({"to": "syslog"}, **{key: where})


def test_two_instances_cannot_write_one_file():
    same = {"to": "file", "file": "/var/log/postfix-mx.log"}
    with pytest.raises(PostfixMultiError, match="postfix-b and postfix-a would both write /var/log/postfix-mx.log"):
        expand_design([{"name": "postfix-a", "logging": same}, {"name": "postfix-b", "logging": same}])


def test_an_instance_cannot_write_the_primarys_file():
    with pytest.raises(PostfixMultiError, match="postfix-a and the primary instance would both write /var/log/mail.log"):
        expand_design([{"name": "postfix-a", "logging": {"to": "file", "file": "/var/log/mail.log"}}], {"maillog_file": "/var/log/mail.log"})


def test_two_instances_cannot_log_under_one_name():
    with pytest.raises(PostfixMultiError, match="postfix-b and postfix-a would both log as postfix-a"):
        expand_design([{"name": "postfix-a"}, {"name": "postfix-b", "logging": {"to": "syslog", "syslog_name": "postfix-a"}}])
    with pytest.raises(PostfixMultiError, match="postfix-a and the primary instance would both log as postfix"):
        expand_design([{"name": "postfix-a", "logging": {"to": "syslog", "syslog_name": "postfix"}}])


def test_names_the_design_does_not_manage_are_left_alone():
    """Two instances without logging that share a name in their parameters are not this feature's business."""
    design = expand_design([{"name": "postfix-a", "parameters": {"syslog_name": "x"}}, {"name": "postfix-b", "parameters": {"syslog_name": "x"}}])
    assert len(design["instances"]) == 2


def test_a_missing_log_directory_is_refused():
    missing_log_directories({"postfix-a": "/var/log/postfix-a.log"}, lambda path: path == "/var/log")
    with pytest.raises(PostfixMultiError, match="create it first: postfix-a: /var/log/postfix"):
        missing_log_directories({"postfix-a": "/var/log/postfix/a.log"}, lambda path: path == "/var/log")


# ----------------------------------------------------------------------------- with the drift planner
class DriftFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def running_host(master: str) -> DriftFacts:
    base = host(secondaries=[("/etc/postfix-out", secondary_main("postfix-out", "mta", "yes"))])
    facts = DriftFacts(files=dict(base.files), dirs=set(base.dirs))
    facts.write("/etc/postfix-out/master.cf", master)
    facts.running = {"/etc/postfix", "/etc/postfix-out"}
    return facts


def drift(facts: DriftFacts, logging: dict[str, t.Any], primary_logging: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    design = expand_design([{"name": "postfix-out", "group": "mta", "logging": logging}], {}, [], primary_logging)
    return compare(facts, design["instances"], design["primary_parameters"], design["primary_absent_parameters"], primary_master=design["primary_master"])


def test_a_file_plans_the_parameter_and_a_missing_postlog_entry():
    facts = running_host("smtp      inet  n       -       y       -       -       smtpd\n")
    result = drift(facts, {"to": "file", "file": "/var/log/postfix-out.log"})
    assert result["instances"][0]["parameters"] == ["maillog_file"]
    assert result["instances"][0]["master"] == ["postlog/unix-dgram"]


def test_the_stock_postlog_entry_is_in_sync():
    stock = "postlog   unix-dgram n  -       n       -       1       postlogd\n"
    facts = running_host(stock)
    facts.write("/etc/postfix-out/main.cf", facts.read_text("/etc/postfix-out/main.cf") + "maillog_file = /var/log/postfix-out.log\n")
    result = drift(facts, {"to": "file", "file": "/var/log/postfix-out.log"})
    assert result["in_sync"] is True, result["summary"]


def test_back_to_syslog_removes_the_file_parameter_only():
    stock = "postlog   unix-dgram n  -       n       -       1       postlogd\n"
    facts = running_host(stock)
    facts.write("/etc/postfix-out/main.cf", facts.read_text("/etc/postfix-out/main.cf") + "maillog_file = /var/log/postfix-out.log\n")
    result = drift(facts, {"to": "syslog"})
    assert result["instances"][0]["parameters"] == ["maillog_file"]
    assert result["actions"]["config"][0]["absent"] == ["syslog_name", "maillog_file"]
    assert result["actions"]["master"] == []


def test_the_primarys_postlog_entry_is_planned_when_missing():
    facts = running_host("")
    facts.write("/etc/postfix/master.cf", "smtp      inet  n       -       y       -       -       smtpd\n")
    result = drift(facts, {"to": "syslog"}, {"to": "file", "file": "/var/log/postfix.log"})
    assert result["primary"]["parameters"] == ["maillog_file"]
    assert result["primary"]["master"] == ["postlog/unix-dgram"]
    assert [(a["instance"], a["entry"]["service"]) for a in result["actions"]["master"]] == [("-", "postlog")]
    assert "set master.cf entry postlog/unix-dgram of the primary instance" in result["summary"]


def test_a_declared_file_may_not_be_one_the_host_writes_where_the_design_leaves_it():
    """The primary (not declared) writes /var/log/postfix.log on the host: a declared instance may
    not be set to write it; an undeclared instance's file counts as well; the instance's own file,
    and a file the design moves the primary away from, do not."""
    primary = INITIALISED + "maillog_file = /var/log/postfix.log\n"
    facts = host(primary, [("/etc/postfix-a", secondary_main("postfix-a") + "maillog_file = /var/log/postfix-a.log\n")])
    file_of = {"to": "file", "file": "/var/log/postfix.log"}
    with pytest.raises(PostfixMultiError, match="postfix-b and the primary instance would both write /var/log/postfix.log"):
        expand_design([{"name": "postfix-b", "logging": file_of}], host_files=_host_log_files(FALLBACK_DEFAULTS, facts.read_text, {}, [{"name": "postfix-b"}]))
    with pytest.raises(PostfixMultiError, match="postfix-b and postfix-a would both write /var/log/postfix-a.log"):
        design = [{"name": "postfix-b", "logging": {"to": "file", "file": "/var/log/postfix-a.log"}}]
        expand_design(design, host_files=_host_log_files(FALLBACK_DEFAULTS, facts.read_text, {}, design))
    own = [{"name": "postfix-a", "logging": {"to": "file", "file": "/var/log/postfix-a.log"}}]
    expand_design(own, host_files=_host_log_files(FALLBACK_DEFAULTS, facts.read_text, {}, own))
    moved = {"primary_logging": {"to": "file", "file": "/var/log/mail.log"}}
    taken = [{"name": "postfix-b", "logging": file_of}]
    expand_design(taken, primary_logging=moved["primary_logging"], host_files=_host_log_files(FALLBACK_DEFAULTS, facts.read_text, moved, taken))
