# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drift between a declared design and a host (postfix_drift_info, the multi_instance role's first call).

The property that matters: never "in sync" where a module would change something.
"""

from __future__ import annotations

import pytest
from _fakes import INITIALISED, PROTO_MASTER, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._drift import (
    compare,
    declared_from,
    master_changes,
    parameter_changes,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS

SMTP = "smtp      inet  n       -       y       -       -       smtpd\n"


class DriftFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def converged(running: bool = True) -> DriftFacts:
    """Primary initialised; postfix-out (mta, enabled) with two parameters and an smtp entry."""
    base = host(secondaries=[("/etc/postfix-out", secondary_main("postfix-out", "mta", "yes") + "myhostname = out.example\ninet_interfaces = 127.0.9.2\n")])
    facts = DriftFacts(files=dict(base.files), dirs=set(base.dirs))
    facts.write("/etc/postfix-out/master.cf", SMTP)
    if running:
        facts.running = {"/etc/postfix", "/etc/postfix-out"}
    return facts


OUT = {
    "name": "postfix-out",
    "group": "mta",
    "enabled": True,
    "parameters": {"myhostname": "out.example", "inet_interfaces": "127.0.9.2"},
    "absent_parameters": ["master_service_disable"],
    "master": [{"service": "smtp", "type": "inet", "private": "n", "chroot": True, "command": "smtpd"}],
}


def test_a_converged_host_is_in_sync():
    result = compare(converged(), [OUT])
    assert result["in_sync"] is True, result["summary"]
    assert result["summary"] == ["in sync"]
    assert result["instances"][0]["lifecycle"] == "in sync"
    assert not any(result["actions"][key] for key in ("stop", "instances", "config", "master", "prune", "start"))
    assert result["actions"]["init"] is False


def test_a_fresh_host_needs_everything():
    facts = DriftFacts(files=dict(host(primary="inet_interfaces = 127.0.9.1\n").files))
    result = compare(facts, [OUT], primary_parameters={"myhostname": "p.example"})
    actions = result["actions"]
    assert result["in_sync"] is False and actions["init"] is True
    # one postfix_instance call creates the instance with its configuration, on top of the init it
    # makes itself (initialise): nothing of it waits for an earlier task, in check mode either
    [create] = actions["instances"]
    assert create["name"] == "postfix-out" and create["initialise"] is True and create["depends"] is False
    assert create["parameters"] == OUT["parameters"] and create["absent_parameters"] == ["master_service_disable"]
    assert create["master"] == OUT["master"]
    assert [(a["instance"], a["changes"], a["depends"]) for a in actions["config"]] == [("-", ["myhostname"], False)]
    assert actions["master"] == []
    assert [(a["instance"], a["depends"]) for a in actions["start"]] == [("-", False), ("postfix-out", True)]
    assert result["summary"] == [
        "turn on multi-instance management",
        "create instance postfix-out (group mta, enabled) with main.cf inet_interfaces, master_service_disable, myhostname and master.cf smtp/inet",
        "change main.cf of the primary instance: myhostname",
        "start the primary instance",
        "start postfix-out",
    ]
    assert result["instances"][0]["config_directory"] == "/etc/postfix-out"
    assert result["instances"][0]["parameters"] == ["*"]  # not initialised: the new main.cf cannot be planned here


def test_a_new_instance_on_an_initialised_host_lists_what_its_main_cf_will_need():
    facts = DriftFacts(files=dict(host().files), dirs=set(host().dirs))
    result = compare(facts, [OUT])
    assert result["actions"]["init"] is False
    assert result["actions"]["config"] == [] and result["actions"]["master"] == []
    assert result["actions"]["instances"][0]["initialise"] is False
    # postfix_instance writes master_service_disable = inet into a new instance (as postmulti does)
    assert result["instances"][0]["parameters"] == ["inet_interfaces", "master_service_disable", "myhostname"]
    assert result["instances"][0]["master"] == ["smtp/inet"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"group": "other"}, "instances"),
        ({"enabled": False}, "instances"),
        ({"parameters": {"myhostname": "new.example", "inet_interfaces": "127.0.9.2"}}, "config"),
        ({"absent_parameters": ["myhostname"]}, "config"),
        ({"exclusive": True, "parameters": {"myhostname": "out.example"}}, "config"),
        ({"master": [{"service": "smtp", "type": "inet", "private": "n", "chroot": False, "command": "smtpd"}]}, "master"),
        ({"master": [{"service": "smtp", "type": "inet", "private": "n", "chroot": True, "command": "smtpd -v"}]}, "master"),
        ({"master": [{"service": "smtp", "type": "inet", "private": "n", "chroot": True, "maxproc": 10, "command": "smtpd"}]}, "master"),
        ({"master": [{"service": "smtp", "type": "inet", "state": "absent"}]}, "master"),
        ({"master": [{"service": "submission", "type": "inet", "command": "smtpd"}]}, "master"),
    ],
)
def test_each_kind_of_difference_is_found(change, key):
    result = compare(converged(), [{**OUT, **change}])
    assert result["in_sync"] is False
    assert result["actions"][key], result["summary"]


def test_disabling_a_running_instance_stops_it_first_and_does_not_start_it():
    result = compare(converged(), [{**OUT, "enabled": False}])
    assert result["actions"]["stop"] == ["postfix-out"]
    assert result["actions"]["start"] == []


def test_stopped_instances_are_started_unless_start_is_off():
    facts = converged(running=False)
    assert [a["instance"] for a in compare(facts, [OUT])["actions"]["start"]] == ["-", "postfix-out"]
    assert compare(facts, [OUT], start=False)["in_sync"] is True


def test_undeclared_instances_are_listed_and_pruned_only_when_asked():
    left = compare(converged(), [])
    assert [u["name"] for u in left["undeclared"]] == ["postfix-out"]
    assert left["in_sync"] is True and left["actions"]["prune"] == []
    assert "not declared, left alone: postfix-out" in left["summary"]
    pruned = compare(converged(), [], prune=True)
    assert pruned["actions"]["prune"] == ["/etc/postfix-out"] and pruned["in_sync"] is False


def test_absent_and_deported_instances():
    assert compare(converged(), [{"name": "postfix-out", "state": "absent"}])["actions"]["instances"][0]["state"] == "absent"
    gone = compare(converged(), [{"name": "postfix-gone", "state": "absent"}])
    assert gone["in_sync"] is True, gone["summary"]


def test_a_planner_refusal_is_reported_as_differing():
    # before= an instance that does not exist: the planner refuses; the module will say why
    result = compare(converged(), [OUT, {"name": "postfix-new", "before": "postfix-nosuch"}])
    row = result["instances"][1]
    assert row["lifecycle"].startswith("differs (")
    assert [a["name"] for a in result["actions"]["instances"]] == ["postfix-new"]


def test_parameters_compare_as_postfix_config_plans_them():
    text = "a = yes\nb = 10\nc = x, y\nd = one\n    two\n"
    assert parameter_changes(text, {"a": True, "b": 10, "c": ["x", "y"], "d": "one two"}, [], False) == []
    assert parameter_changes(text, {"a": False}, ["b", "nosuch"], False) == ["a", "b"]
    assert parameter_changes(text, {"a": "yes"}, [], True) == ["b", "c", "d"]
    # requests postfix_config refuses are "differing": the module runs and says why
    assert parameter_changes(text, {"queue_directory": "/x"}, [], False) == ["*"]
    assert parameter_changes(text, {"a": None}, [], False) == ["*"]
    assert parameter_changes(None, {"a": "yes"}, [], False) == ["*"]


def test_master_entries_compare_as_postfix_master_plans_them():
    entries = [
        {"service": "smtp", "type": "inet", "private": False, "chroot": "y", "command": ["smtpd"]},
        {"service": "smtp", "type": "inet", "command": "smtpd  -o  x=y"},
        {"service": "pickup", "type": "unix", "state": "absent"},
        {"service": "smtp", "type": "inet", "maxproc": 10},
    ]
    assert master_changes(SMTP, entries) == [1, 3]
    assert master_changes(SMTP + SMTP, entries[:1]) == [0]  # duplicates: postfix_master rewrites them
    assert master_changes(SMTP + "pickup unix n - y 60 1 pickup\n", entries[2:3]) == [0]
    assert master_changes(None, entries) == [0, 1, 2, 3]
    assert master_changes("smtp inet bogus\n", entries[:1]) == [0]
    # omitted fields keep their current value, as in postfix_master
    assert master_changes(PROTO_MASTER, [{"service": "smtp", "type": "inet", "command": "smtpd"}]) == []
    assert master_changes(PROTO_MASTER, [{"service": "submission", "type": "inet"}]) == [0]  # new entry without command: refused


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"group": "x"}], "needs a name"),
        ([{"name": "out"}], "must start with"),
        ([{"name": "postfix-a"}, {"name": "postfix-a"}], "declared twice"),
        ([{"name": "postfix-a", "config_directory": "/etc/x"}, {"name": "postfix-b", "config_directory": "/etc/x/"}], "also declared for postfix-a"),
        ([{"name": "postfix-a", "master": [{"service": "smtp"}]}], "needs a service and a type"),
        ([{"name": "postfix-a", "state": "gone"}], "state must be one of"),
        ([{"name": "postfix-a", "move_mail_to": "postfix-b"}, {"name": "postfix-b"}], "give it with state absent or deported"),
        ([{"name": "postfix-a", "state": "absent", "move_mail_to": "postfix-b"}, {"name": "postfix-b", "state": "deported"}], "which this design also removes"),
    ],
)
def test_bad_designs_are_refused(entries, message):
    with pytest.raises(PostfixMultiError, match=message):
        declared_from(entries)


def test_a_removed_instance_passes_its_mail_sibling_to_postfix_instance():
    facts = DriftFacts(files=dict(host(primary="inet_interfaces = 127.0.9.1\n").files))
    result = compare(facts, [{"name": "postfix-a", "state": "absent", "move_mail_to": "postfix-b"}, {"name": "postfix-b"}])
    calls = {call["name"]: call for call in result["actions"]["instances"]}
    assert calls["postfix-a"]["move_mail_to"] == "postfix-b" and calls["postfix-b"]["move_mail_to"] is None


def test_uninitialised_hosts_need_every_instance_call():
    facts = DriftFacts(files=dict(host(primary="inet_interfaces = 127.0.9.1\n").files))
    assert INITIALISED not in facts.files["/etc/postfix/main.cf"]
    result = compare(facts, [{"name": "postfix-a"}, {"name": "postfix-b", "before": "postfix-a"}])
    assert [row["lifecycle"] for row in result["instances"]] == ["differs", "differs"]
    assert [a["name"] for a in result["actions"]["instances"]] == ["postfix-a", "postfix-b"]


def test_boot_differences_break_sync_only_where_systemd_drives_postfix():
    """postfix_drift_info passes the boot check of postfix_service (None: no systemd here)."""
    seen = []

    def boot(reg):
        seen.append([inst.label for inst in reg.instances])
        return ["systemctl mask -- postfix@postfix-out.service"]

    result = compare(converged(), [OUT], boot=boot)
    assert seen == [["/etc/postfix", "postfix-out"]]
    assert result["systemd"] is True and result["in_sync"] is False
    assert result["actions"]["boot"] == ["systemctl mask -- postfix@postfix-out.service"]
    assert "start at boot exactly the enabled instances: systemctl mask -- postfix@postfix-out.service" in result["summary"]
    # start=false: the role does not manage what runs, nor what starts at boot
    assert compare(converged(), [OUT], start=False, boot=boot)["in_sync"] is True
    in_sync = compare(converged(), [OUT], boot=lambda reg: [])
    assert (in_sync["systemd"], in_sync["in_sync"], in_sync["actions"]["boot"]) == (True, True, [])
    no_systemd = compare(converged(), [OUT], boot=lambda reg: None)
    assert (no_systemd["systemd"], no_systemd["in_sync"]) == (False, True)


def test_the_boot_check_runs_beside_the_comparison_and_its_failure_is_the_comparisons():
    """compare() starts the boot check (a systemctl call) first and collects it last: the comparison goes on
    meanwhile, and what the boot check raises is raised by compare()."""
    import threading

    started = threading.Event()
    release = threading.Event()

    def slow_boot(reg):
        started.set()
        assert release.wait(5)
        return []

    facts = converged()
    running = facts.is_running

    def is_running(directory):
        # asked by the comparison after the registry is read: the boot check has started and still waits
        if started.wait(2):
            release.set()
        return running(directory)

    facts.is_running = is_running
    assert compare(facts, [OUT], boot=slow_boot)["in_sync"] is True
    assert release.is_set()

    def broken(reg):
        raise PostfixMultiError("systemd drives Postfix here, but systemctl was not found")

    with pytest.raises(PostfixMultiError, match="systemctl was not found"):
        compare(converged(), [OUT], boot=broken)


def test_an_instance_an_earlier_run_did_not_reload_is_reloaded():
    """Files in sync, but an earlier run was stopped between writing them and reloading the
    instance (its marker is there): the host is not in sync until the instance is reloaded, or
    restarted where the change needs that; not when it does not run (its start reads the files), nor
    when the design deports it."""
    facts = converged()
    facts.pending = {"/etc/postfix-out": "restarted", "/etc/postfix": "reloaded"}
    result = compare(facts, [OUT])
    assert result["in_sync"] is False
    assert [(a["instance"], a["state"]) for a in result["actions"]["reload"]] == [("-", "reloaded"), ("postfix-out", "restarted")]
    assert result["summary"] == [
        "reload the primary instance: an earlier run changed its files and did not get to reload it",
        "restart postfix-out: an earlier run changed its files and did not get to restart it",
    ]
    assert compare(facts, [OUT], start=False)["actions"]["reload"] == []
    facts.running = {"/etc/postfix"}
    assert [a["instance"] for a in compare(facts, [OUT])["actions"]["reload"]] == ["-"]
    facts.running = {"/etc/postfix", "/etc/postfix-out"}
    assert [a["instance"] for a in compare(facts, [dict(OUT, state="deported")])["actions"]["reload"]] == ["-"]
    assert [a["instance"] for a in compare(facts, [], prune=True)["actions"]["reload"]] == ["-"]
