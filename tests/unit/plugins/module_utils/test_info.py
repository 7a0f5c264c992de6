# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Listing, selection, ordering and the ``postmulti -x`` environment (postmulti(1): -l, -i, -g, -x)."""

from __future__ import annotations

import os
import typing as t

import pytest
from _fakes import INITIALISED, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import (
    ENVIRONMENT_KEYS,
    environment,
    gather,
    list_instances,
    rooted_reader,
    select,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Registry

LONG = "postfix-a-name-longer-than-fifteen"


class InfoFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def lab(facts_class: type[FakeFacts] = InfoFacts) -> FakeFacts:
    """P enabled; postfix-out (mta, enabled); a long-named one (mta, disabled); a nameless disabled one."""
    base = host(
        secondaries=[
            ("/etc/postfix-out", secondary_main("postfix-out", "mta", "yes")),
            (f"/etc/{LONG}", secondary_main(LONG, "mta")),
            ("/etc/px", secondary_main(None, queue="/var/spool/px", data="/var/lib/px")),
        ]
    )
    facts = facts_class(files=dict(base.files), dirs=set(base.dirs))
    return facts


def load(facts: FakeFacts) -> Registry:
    return Registry.load(FALLBACK_DEFAULTS, facts.read_text)


def rows(instances: t.Sequence[t.Any]) -> list[tuple[t.Any, ...]]:
    return [(i.name, i.group, i.enabled, i.config_directory) for i in instances]


def test_primary_only() -> None:
    reg = load(host(primary="readme_directory = no\n"))
    assert rows(select(reg)) == [(None, None, True, "/etc/postfix")]


def test_list_order_and_long_names_untruncated() -> None:
    reg = load(lab())
    assert rows(select(reg)) == [
        (None, None, True, "/etc/postfix"),
        ("postfix-out", "mta", True, "/etc/postfix-out"),
        (LONG, "mta", False, f"/etc/{LONG}"),
        (None, None, False, "/etc/px"),
    ]


def test_reverse_puts_primary_last() -> None:
    reg = load(lab())
    assert [i.config_directory for i in select(reg, reverse=True)] == ["/etc/px", f"/etc/{LONG}", "/etc/postfix-out", "/etc/postfix"]


def test_reverse_with_group() -> None:  # observed 4: -l -R -g mta
    reg = load(lab())
    assert [i.name for i in select(reg, group="mta", reverse=True)] == [LONG, "postfix-out"]


def test_group_is_complete_not_first_byte() -> None:
    reg = load(lab())
    assert {i.group for i in select(reg, group="mta")} == {"mta"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("out", ["/etc/postfix-out"]),
        ("postfix-out", ["/etc/postfix-out"]),
        ("/etc/postfix-out", ["/etc/postfix-out"]),
        ("/etc/px", ["/etc/px"]),
        ("-", ["/etc/postfix"]),
    ],
)
def test_name_selection(selector: str, expected: list[str]) -> None:
    assert [i.config_directory for i in select(load(lab()), name=selector)] == expected


@pytest.mark.parametrize("selector", ["px", "/etc/postfix-out/", "postfix-nosuch"])
def test_unknown_name_fails_with_known_instances(selector: str) -> None:
    with pytest.raises(PostfixMultiError) as err:
        select(load(lab()), name=selector)
    msg = err.value.msg
    assert f"no instance matches name '{selector}'" in msg
    assert "- (primary, /etc/postfix)" in msg
    assert "postfix-out (/etc/postfix-out)" in msg
    assert "/etc/px (nameless" in msg


def test_unknown_group_fails_with_known_groups() -> None:
    with pytest.raises(PostfixMultiError, match=r"no instance is in group 'mt'; known groups: mta"):
        select(load(lab()), group="mt")
    with pytest.raises(PostfixMultiError, match=r"known groups: none"):
        select(load(host()), group="mta")


def test_name_and_group_together_are_refused() -> None:
    with pytest.raises(PostfixMultiError, match="at most one"):
        select(load(lab()), name="out", group="mta")


def test_enabled_only_keeps_order() -> None:
    assert [i.config_directory for i in select(load(lab()), enabled_only=True)] == ["/etc/postfix", "/etc/postfix-out"]
    assert select(load(lab()), name="/etc/px", enabled_only=True) == []


def test_environment_of_nameless_disabled_secondary() -> None:
    reg = load(lab())
    env = environment(reg, select(reg, name="/etc/px")[0])
    assert list(env) == list(ENVIRONMENT_KEYS)
    assert env == {
        "MAIL_CONFIG": "/etc/px",
        "command_directory": "/usr/sbin",
        "daemon_directory": "/usr/lib/postfix/sbin",
        "config_directory": "/etc/px",
        "queue_directory": "/var/spool/px",
        "data_directory": "/var/lib/px",
        "multi_instance_name": "",
        "multi_instance_group": "",
        "multi_instance_enable": "no",
    }


def test_environment_uses_primary_shared_directories_expanded() -> None:
    facts = host(primary=INITIALISED + "command_directory = /opt/pf/sbin\ndaemon_directory = ${command_directory}/../libexec\n")
    reg = load(facts)
    env = environment(reg, reg.primary)
    assert env["command_directory"] == "/opt/pf/sbin"
    assert env["daemon_directory"] == "/opt/pf/sbin/../libexec"
    assert env["multi_instance_enable"] == "yes"  # single-instance mode: the primary counts as enabled


def test_list_instances_takes_config_directory_and_fallbacks() -> None:
    facts = lab()
    moved = FakeFacts(files={path.replace("/etc/postfix/", "/srv/pf/"): text for path, text in facts.files.items()})
    instances, problems = list_instances(None, moved.read_text, config_directory="/srv/pf/", name="-")
    assert problems == []
    assert instances == [
        {
            "name": None,
            "group": None,
            "enabled": True,
            "primary": True,
            "config_directory": "/srv/pf",
            "queue_directory": "/var/spool/postfix",
            "data_directory": "/var/lib/postfix",
        }
    ]


def test_list_instances_reports_broken_secondary() -> None:  # tolerated
    facts = lab()
    del facts.files["/etc/px/main.cf"]
    instances, problems = list_instances({}, facts.read_text)
    assert [i["config_directory"] for i in instances] == ["/etc/postfix", "/etc/postfix-out", f"/etc/{LONG}"]
    assert any("/etc/px/main.cf" in p for p in problems)


def test_rooted_reader(tmp_path: t.Any) -> None:
    (tmp_path / "etc" / "postfix").mkdir(parents=True)
    (tmp_path / "etc" / "postfix" / "main.cf").write_text("x = 1\n")
    read = rooted_reader(str(tmp_path) + "/")
    assert read("/etc/postfix/main.cf") == "x = 1\n"
    assert read("/etc/../etc/postfix/main.cf") == "x = 1\n"
    assert read("/../../etc/postfix/main.cf") == "x = 1\n"  # cannot climb out of the root
    assert read("/etc/postfix/master.cf") is None
    assert rooted_reader("/")(os.path.join(str(tmp_path), "etc/postfix/main.cf")) == "x = 1\n"


def test_gather_adds_live_state() -> None:
    facts = lab()
    facts.running.add("/etc/postfix-out")
    facts.queues["/var/spool/postfix-out"] = {"deferred": 2, "maildrop": 1, "corrupt": 5}
    result = gather(t.cast(t.Any, facts), group="mta")
    assert result["changed"] is False
    out = result["instances"][0]
    assert out["name"] == "postfix-out" and out["running"] is True
    # every queue that holds mail is counted: the same list destroy refuses on (corrupt and saved too)
    assert out["queue_counts"] == {"incoming": 0, "active": 0, "deferred": 2, "hold": 0, "maildrop": 1, "corrupt": 5, "saved": 0}
    assert out["environment"]["MAIL_CONFIG"] == "/etc/postfix-out"
    assert out["environment"]["multi_instance_group"] == "mta"
    assert result["instances"][1]["running"] is False
