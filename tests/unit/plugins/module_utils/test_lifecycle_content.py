# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_instance with a configuration: a new instance is planned with its final main.cf and master.cf.

Validation on a staging copy and the writes are exercised against real Postfix in
tests/integration/test_instance_configuration.py; here the plan itself.
"""

from __future__ import annotations

import typing as t

import pytest
from _fakes import PROTO_MASTER, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import Content, _initialised_registry, configure_plan
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import Desired, Plan, Planner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Registry

REINJECT = {"service": "127.0.0.1:10026", "type": "inet", "private": "n", "chroot": "n", "command": "smtpd"}


def content(**options: t.Any) -> Content:
    return Content.from_options(options)


def planned(facts: FakeFacts, desired: Desired, wanted: Content) -> tuple[Plan, t.Any]:
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    plan = Planner(reg, facts).plan(desired)
    return plan, configure_plan(plan, wanted, t.cast(t.Any, facts))


def test_a_new_instance_is_planned_with_its_configuration() -> None:
    wanted = content(
        parameters={"inet_interfaces": "loopback-only", "master_service_disable": ""},
        master=[{"service": "smtp", "type": "inet", "state": "absent"}, REINJECT],
    )
    plan, done = planned(host(), Desired(name="postfix-out", enabled=True), wanted)
    assert plan.action == "create"
    main = MainCf.parse(next(w.after for w in plan.instance_writes if w.path == "/etc/postfix-out/main.cf"))
    assert main.get("inet_interfaces") == "loopback-only" and main.get("master_service_disable") == ""
    assert main.get("multi_instance_enable") == "yes"  # enabled in the same write, after validation
    master = MasterCf.parse(next(w.after for w in plan.instance_writes if w.path == "/etc/postfix-out/master.cf"))
    assert master.get("smtp", "inet") is None and master.get("127.0.0.1:10026", "inet") is not None
    # both files of a new instance are validated, whole
    assert sorted(done.files) == ["main.cf", "master.cf"]
    assert done.restart_required is False
    assert done.entries == ["smtp/inet", "127.0.0.1:10026/inet"]


def test_an_existing_instance_is_changed_like_postfix_config_would() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", enabled="yes"))])
    facts.write("/etc/postfix-a/master.cf", PROTO_MASTER)
    plan, done = planned(facts, Desired(name="postfix-a"), content(parameters={"inet_interfaces": "127.0.9.2"}))
    assert plan.action == "update"
    assert list(done.files) == ["main.cf"] and done.parameters == ["inet_interfaces"]
    assert done.restart_required is True  # inet_interfaces: postconf(5) says stop and start
    plan2, done2 = planned(facts, Desired(name="postfix-a"), content(parameters={"myhostname": "a.example"}, master=[REINJECT]))
    assert sorted(done2.files) == ["main.cf", "master.cf"] and done2.restart_required is True  # a new service
    for write in plan2.instance_writes:
        facts.write(write.path, write.after)
    plan3, done3 = planned(facts, Desired(name="postfix-a"), content(parameters={"myhostname": "a.example"}, master=[REINJECT]))
    assert not plan3.changed and done3.files == {}


def test_a_name_change_and_a_parameter_compose_into_one_write() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a"))])
    facts.write("/etc/postfix-a/master.cf", PROTO_MASTER)
    plan, _done = planned(facts, Desired(name="postfix-a", group="mta"), content(parameters={"myhostname": "a.example"}))
    writes = [w for w in plan.instance_writes if w.path == "/etc/postfix-a/main.cf"]
    assert len(writes) == 1
    main = MainCf.parse(writes[0].after)
    assert main.get("multi_instance_group") == "mta" and main.get("myhostname") == "a.example"


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (content(parameters={"queue_directory": "/srv/q"}), "queue_directory cannot be managed"),
        (content(master=[{"service": "x", "type": "inet"}]), r"master\[0\]: x/inet does not exist yet: give its command"),
        (content(parameters={"a": "b"}, absent_parameters=["a"]), "given both in parameters and absent"),
    ],
)
def test_bad_configuration_is_refused_before_anything(wanted: Content, message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        planned(host(), Desired(name="postfix-out"), wanted)


def test_master_entries_must_be_dictionaries() -> None:
    with pytest.raises(PostfixMultiError, match=r"master\[1\] must be a dictionary"):
        content(master=[REINJECT, "smtp inet n - n - - smtpd"])


def test_initialise_plans_on_top_of_the_init() -> None:
    facts = host(primary="# fresh\n")
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    assert reg.init_problem()
    with pytest.raises(PostfixMultiError, match="not initialised"):
        Planner(reg, facts).plan(Desired(name="postfix-out"))
    after, init = _initialised_registry(reg, dict(FALLBACK_DEFAULTS), t.cast(t.Any, facts))
    assert init is not None and init.before == "# fresh\n"
    plan = Planner(after, facts).plan(Desired(name="postfix-out"))
    primary = MainCf.parse(plan.primary_write.after)  # type: ignore[union-attr]
    assert primary.get("multi_instance_enable") == "yes" and primary.get("multi_instance_directories") == "/etc/postfix-out"
    assert facts.files["/etc/postfix/main.cf"] == "# fresh\n"  # planning wrote nothing


@pytest.mark.parametrize(
    ("master", "message"),
    [
        # applied in order, the second would undo the first on every run
        ([{"service": "x", "type": "unix", "command": "smtpd"}, {"service": "x", "type": "unix", "command": "cleanup"}], "x/unix is also master"),
        ([{"service": "x", "type": "unix", "comand": "smtpd"}], r"unknown key\(s\) comand"),
    ],
)
def test_postfix_instance_master_items_are_checked_like_the_designs(master: list[dict[str, str]], message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        content(name="postfix-a", master=master)
