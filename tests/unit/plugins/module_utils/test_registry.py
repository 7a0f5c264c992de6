# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Instance list building, claims, naming and selection (postmulti(1): -l, -i, -g, -I, -G)."""

from __future__ import annotations

import pytest
from _fakes import INITIALISED, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import identity
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import (
    FALLBACK_DEFAULTS,
    Instance,
    Registry,
    validate_group,
    validate_instance_name,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def load(facts) -> Registry:  # type: ignore[no-untyped-def]
    return Registry.load(FALLBACK_DEFAULTS, facts.read_text)


def test_primary_only_is_enabled_even_when_disabled() -> None:
    facts = host(primary="multi_instance_enable = no\n")
    reg = load(facts)
    assert [i.config_directory for i in reg.instances] == ["/etc/postfix"]
    assert reg.primary.enabled is True
    assert reg.primary.queue_directory == "/var/spool/postfix"
    assert reg.primary.data_directory == "/var/lib/postfix"


def test_list_order_names_groups_flags() -> None:
    facts = host(
        secondaries=[
            ("/etc/postfix-a", secondary_main("postfix-a", "mta", "yes")),
            ("/etc/postfix-b", secondary_main("postfix-b", None, "YES")),
            ("/etc/px", secondary_main(None, queue="/var/spool/px", data="/var/lib/px")),
        ]
    )
    facts.files["/etc/postfix/main.cf"] = facts.files["/etc/postfix/main.cf"].replace(
        "multi_instance_directories = /etc/postfix-a /etc/postfix-b /etc/px", "multi_instance_directories = /etc/postfix-a, /etc/postfix-b,\n    /etc/px"
    )
    reg = load(facts)
    assert reg.problems == []
    assert [(i.name, i.group, i.enabled, i.config_directory) for i in reg.instances] == [
        (None, None, True, "/etc/postfix"),
        ("postfix-a", "mta", True, "/etc/postfix-a"),
        ("postfix-b", None, True, "/etc/postfix-b"),
        (None, None, False, "/etc/px"),
    ]


def test_list_of_commas_only_is_single_instance() -> None:
    reg = load(host(primary="multi_instance_directories = ,,\nmulti_instance_enable = no\n"))
    assert len(reg.instances) == 1 and reg.primary.enabled


def test_missing_secondary_main_cf_is_a_problem_not_a_crash() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a"))])
    del facts.files["/etc/postfix-a/main.cf"]
    reg = load(facts)
    assert "Failed to obtain all required /etc/postfix-a/main.cf parameters" in reg.broken["/etc/postfix-a"]
    assert len(reg.instances) == 1


def test_bad_enable_value_is_reported() -> None:
    reg = load(host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", enabled="true"))]))
    assert reg.broken["/etc/postfix-a"].startswith("Unexpected /etc/postfix-a/main.cf entry: multi_instance_enable = true")


def test_shared_queue_conflicts() -> None:
    reg = load(
        host(
            secondaries=[
                ("/etc/postfix-a", secondary_main("postfix-a", queue="/var/spool/postfix-a")),
                ("/etc/postfix-b", secondary_main("postfix-b", queue="/var/spool/postfix-a")),
            ]
        )
    )
    assert reg.problems == [
        "instance /etc/postfix-b, queue_directory=/var/spool/postfix-a conflicts with instance /etc/postfix-a, queue_directory=/var/spool/postfix-a"
    ]


def test_queues_that_are_one_directory_through_a_link_conflict() -> None:
    """Written differently, one directory on disk (/srv/q-b is a link to /var/spool/postfix-a): postmulti
    compares the text only, the real location decides here, for listed instances and for a new one."""
    links = {"/srv/q-b": "/var/spool/postfix-a", "/srv/q-new": "/var/spool/postfix-a"}

    def resolve(path: str) -> str:
        return links.get(path, path)

    reg = load(
        host(
            secondaries=[
                ("/etc/postfix-a", secondary_main("postfix-a", queue="/var/spool/postfix-a")),
                ("/etc/postfix-b", secondary_main("postfix-b", queue="/srv/q-b")),
            ]
        )
    )
    assert reg.problems == []  # as written, they differ
    assert reg.conflicts(resolve) == [
        "instance /etc/postfix-b, queue_directory=/srv/q-b conflicts with instance /etc/postfix-a, queue_directory=/var/spool/postfix-a"
    ]
    new = Instance(config_directory="/etc/postfix-new", name="postfix-new", queue_directory="/srv/q-new", data_directory="/var/lib/postfix-new")
    with pytest.raises(PostfixMultiError, match="queue_directory=/srv/q-new conflicts with instance /etc/postfix-a, queue_directory=/var/spool/postfix-a"):
        reg.check_new(new, resolve)


def test_secondary_without_queue_directory_conflicts_with_primary() -> None:
    facts = host(secondaries=[("/etc/postfix-a", "multi_instance_name = postfix-a\ndata_directory = /var/lib/postfix-a\n")])
    reg = load(facts)
    assert reg.problems == [
        "instance /etc/postfix-a, queue_directory=/var/spool/postfix conflicts with instance /etc/postfix, queue_directory=/var/spool/postfix"
    ]


def test_same_directory_listed_twice_is_iterated_twice_without_conflict() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a"))])
    facts.files["/etc/postfix/main.cf"] += "multi_instance_directories = /etc/postfix-a /etc/postfix-a\n"
    reg = load(facts)
    assert [i.config_directory for i in reg.instances] == ["/etc/postfix", "/etc/postfix-a", "/etc/postfix-a"]
    assert reg.problems == []


def test_queue_equal_to_own_data_conflicts() -> None:
    reg = load(host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", queue="/srv/a", data="/srv/a"))]))
    assert reg.problems == ["instance /etc/postfix-a, data_directory=/srv/a conflicts with instance /etc/postfix-a, queue_directory=/srv/a"]


def test_expansion_of_directory_values() -> None:
    main = "base = /srv/mail\nqueue_directory = $base/q\ndata_directory = ${base}/d\nmulti_instance_name = postfix-e\n"
    reg = load(host(secondaries=[("/etc/postfix-e", main)]))
    inst = reg.instances[1]
    assert (inst.queue_directory, inst.data_directory) == ("/srv/mail/q", "/srv/mail/d")


def test_duplicate_names_conflict() -> None:
    reg = load(
        host(
            secondaries=[
                ("/etc/postfix-a", secondary_main("postfix-a")),
                ("/etc/postfix-b", secondary_main("postfix-a", queue="/var/spool/postfix-b", data="/var/lib/postfix-b")),
            ]
        )
    )
    assert reg.problems == ["instance /etc/postfix-b, multi_instance_name=postfix-a conflicts with instance /etc/postfix-a, multi_instance_name=postfix-a"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out", "New instance name must start with 'postfix-'"),
        ("postfix", "New instance name must start with 'postfix-'"),
        ("postfix-a/b", "Illegal '/' character in new instance name: 'postfix-a/b'"),
        ("postfix-a b", "Unsafe characters in new instance name: 'postfix-a b'"),
        ("postfix-\u00fc", "Unsafe characters"),
        ("postfix-a$b", "Unsafe characters"),
        # mkdir would fail on /etc/NAME (NAME_MAX 255), systemd on postfix@NAME.service (255)
        ("postfix-" + "a" * 232, "New instance name is 240 characters long; at most 239 fit"),
    ],
)
def test_name_rules_refuse(name: str, message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message.replace("(", r"\(")):
        validate_instance_name(name)


@pytest.mark.parametrize(
    "name",
    ["postfix-" + "a" * 231, "postfix-", "postfix-A.b_c", "postfix-a:b", "postfix-a@b", "postfix-a+b", "postfix-a=b", "postfix-a%b", "postfix-a!b", ""],
)
def test_name_rules_accept(name: str) -> None:  # observed 3.5
    validate_instance_name(name)


def test_group_rules() -> None:
    validate_group("a/b")
    validate_group("")
    with pytest.raises(PostfixMultiError, match="Unsafe characters in group 'a b'"):
        validate_group("a b")


def test_selection_rules() -> None:
    out = Instance("/etc/postfix-out", "/q", "/d", name="postfix-out", group="mta")
    nameless = Instance("/etc/px", "/q2", "/d2")
    primary = Instance("/etc/postfix", "/q0", "/d0", name="postfix-main", primary=True)
    assert out.matches("out") and out.matches("postfix-out") and out.matches("/etc/postfix-out")
    assert not out.matches("/etc/postfix-out/")
    assert not nameless.matches("px") and nameless.matches("/etc/px")
    assert primary.matches("-") and primary.matches("main")
    assert not out.matches("-")


def test_init_problem_messages() -> None:
    reg = load(host(primary="inet_interfaces = all\n"))
    assert "multi_instance_wrapper is empty" in (reg.init_problem() or "")
    reg = load(host(primary="multi_instance_wrapper = ${command_directory}/postmulti -p --\nmulti_instance_enable = YES\n"))
    assert "multi_instance_enable is 'YES', not 'yes'" in (reg.init_problem() or "")
    assert load(host(primary=INITIALISED)).init_problem() is None


# --------------------------------------------------------------- apart from every other instance
_DIRS = ("/srv", "/srv/a", "/srv/a/b", "/srv/ab", "/srv/a-b", "/var/spool/postfix", "/var/spool/postfix-q", "/var/spool/postfix-q/d", "/")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_DIRS), st.sampled_from(_DIRS), st.sampled_from(_DIRS)), min_size=1, max_size=5),
    st.tuples(st.sampled_from(_DIRS), st.sampled_from(_DIRS), st.sampled_from(_DIRS)),
)
def test_check_apart_is_the_plain_inside_rule(others: list[tuple[str, str, str]], mine: tuple[str, str, str]) -> None:
    """check_apart() refuses exactly the first (in claim order) directory of another instance that
    lies inside or around one of the candidate's, by the plain definition: a path is inside another
    when it is that path or starts with it and a slash; equal paths are left to check_new()."""
    instances = [Instance(config_directory="/etc/postfix", queue_directory="/var/spool/postfix", data_directory="/var/lib/postfix", primary=True)]
    instances += [Instance(config_directory=f"/etc/postfix-{i}" if c == "/" else c, queue_directory=q, data_directory=d) for i, (c, q, d) in enumerate(others)]
    reg = Registry(primary_directory="/etc/postfix", primary_cf=MainCf(""), defaults=dict(FALLBACK_DEFAULTS), instances=instances)
    candidate = Instance(config_directory="/etc/postfix-new", queue_directory=mine[1], data_directory=mine[2])

    def inside(path: str, top: str) -> bool:
        return path == top or path.startswith(top.rstrip("/") + "/")

    expected = None
    theirs = [(v, o, p) for v, o, p in reg.claims() if p != "multi_instance_name" and v.startswith("/") and o != candidate.config_directory]
    for param in ("config_directory", "queue_directory", "data_directory"):
        value = getattr(candidate, param)
        hits = [(v, o, p) for v, o, p in theirs if v != value and (inside(value, v) or inside(v, value))]
        if hits:
            v, o, p = hits[0]
            expected = f"instance /etc/postfix-new, {param}={value} lies {'inside' if inside(value, v) else 'around'} instance {o}'s {p}={v};"
            break
    if expected is None:
        reg.check_apart(candidate, identity, None)
    else:
        with pytest.raises(PostfixMultiError) as info:
            reg.check_apart(candidate, identity, None)
        assert info.value.msg.startswith(expected)
