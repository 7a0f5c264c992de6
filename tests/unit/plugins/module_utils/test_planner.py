# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The planner: what each request changes, and what it refuses (postmulti(1) -e).

The end state of each plan is compared with real postmulti in tests/integration; these tests
pin the decisions (idempotence, placement, refusals) on an in-memory host.
"""

from __future__ import annotations

import pytest
from _fakes import INITIALISED, PROTO_MASTER, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import Desired, Plan, Planner, plan_init
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Registry


def plan(facts: FakeFacts, **kwargs: object) -> Plan:
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    return Planner(reg, facts).plan(Desired(**kwargs))  # type: ignore[arg-type]


def apply(facts: FakeFacts, p: Plan) -> None:
    """Apply a plan to the in-memory host (files and directories only)."""
    for path, _mode in p.mkdirs:
        facts.dirs.add(path)
    for write in p.writes():
        facts.write(write.path, write.after)


def primary(facts: FakeFacts) -> MainCf:
    return MainCf.parse(facts.files["/etc/postfix/main.cf"])


THREE = [
    ("/etc/postfix-a", secondary_main("postfix-a", "x")),
    ("/etc/postfix-b", secondary_main("postfix-b", "y")),
    ("/etc/postfix-c", secondary_main("postfix-c", "y")),
]


def test_create_derives_directories_and_builds_main_cf() -> None:
    facts = host()
    p = plan(facts, name="postfix-out", group="mta")
    assert p.action == "create" and p.changed
    assert p.mkdirs == [("/etc/postfix-out", 0o755), ("/var/spool/postfix-out", 0o755), ("/var/lib/postfix-out", 0o700)]
    assert p.set_permissions
    main = MainCf.parse(p.instance_writes[0].after)
    assert main.get("queue_directory") == "/var/spool/postfix-out"
    assert main.get("data_directory") == "/var/lib/postfix-out"
    assert main.get("authorized_submit_users") == ""
    assert main.get("master_service_disable") == "inet"
    assert main.get("multi_instance_name") == "postfix-out"
    assert main.get("multi_instance_group") == "mta"
    assert not main.has("multi_instance_enable")  # disabled by default
    # shared settings: copied when the primary sets them, commented out otherwise
    assert main.get("readme_directory") == "no"
    assert not main.has("command_directory") and "#command_directory = /usr/sbin" in p.instance_writes[0].after
    assert not main.has("sendmail_path")
    assert p.instance_writes[1].after == PROTO_MASTER
    assert primary(facts).edit(set_values={}).get("multi_instance_directories") is None
    assert MainCf.parse(p.primary_write.after).get("multi_instance_directories") == "/etc/postfix-out"  # type: ignore[union-attr]


def test_create_then_again_is_a_no_op() -> None:  # postmulti fails; we are idempotent
    facts = host()
    apply(facts, plan(facts, name="postfix-out", group="mta", enabled=True))
    again = plan(facts, name="postfix-out", group="mta", enabled=True)
    assert not again.changed and again.action == "none"


def test_create_enabled_writes_enable() -> None:
    p = plan(host(), name="postfix-out", enabled=True)
    assert MainCf.parse(p.instance_writes[0].after).get("multi_instance_enable") == "yes"


def test_create_refused_before_init() -> None:
    with pytest.raises(PostfixMultiError, match="multi_instance_wrapper is empty.*postfix_multi_init"):
        plan(host(primary="inet_interfaces = all\n"), name="postfix-a")


def test_nameless_needs_directories() -> None:
    with pytest.raises(PostfixMultiError, match="nameless instance .* give config_directory"):
        plan(host(), name="-")
    with pytest.raises(PostfixMultiError, match="missing queue_directory, data_directory"):
        plan(host(), config_directory="/etc/postfix-nl")
    p = plan(host(), config_directory="/etc/postfix-nl", queue_directory="/var/spool/postfix-nl", data_directory="/var/lib/postfix-nl")
    main = MainCf.parse(p.instance_writes[0].after)
    assert not main.has("multi_instance_name") and not main.has("multi_instance_group")


def test_trailing_slashes_are_stripped() -> None:
    p = plan(host(), name="postfix-ts", config_directory="/etc/postfix-ts/", queue_directory="/var/spool/postfix-ts//", data_directory="/var/lib/postfix-ts/")
    assert p.directories == ["/etc/postfix-ts"]
    assert MainCf.parse(p.instance_writes[0].after).get("queue_directory") == "/var/spool/postfix-ts"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"before_group": "y"}, ["/etc/postfix-a", "/etc/postfix-d", "/etc/postfix-b", "/etc/postfix-c"]),
        ({"position": "first"}, ["/etc/postfix-d", "/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c"]),
        ({"position": "last"}, ["/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c", "/etc/postfix-d"]),
        ({}, ["/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c", "/etc/postfix-d"]),
        ({"before": "c"}, ["/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-d", "/etc/postfix-c"]),
        ({"before": "postfix-b"}, ["/etc/postfix-a", "/etc/postfix-d", "/etc/postfix-b", "/etc/postfix-c"]),
        ({"before": "/etc/postfix-a"}, ["/etc/postfix-d", "/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c"]),
    ],
)
def test_placement(kwargs: dict[str, str], expected: list[str]) -> None:
    p = plan(host(secondaries=THREE), name="postfix-d", **kwargs)
    assert p.directories == expected
    assert MainCf.parse(p.primary_write.after).get("multi_instance_directories") == " ".join(expected)  # type: ignore[union-attr]


def test_first_without_secondaries_appends() -> None:
    assert plan(host(), name="postfix-d", position="first").directories == ["/etc/postfix-d"]


@pytest.mark.parametrize("kwargs", [{"before": "nosuch"}, {"before_group": "nosuch"}, {"before": "-"}])
def test_placement_anchor_must_exist(kwargs: dict[str, str]) -> None:
    with pytest.raises(PostfixMultiError, match="No matching secondary instances"):
        plan(host(secondaries=THREE), name="postfix-d", **kwargs)


def test_placement_only_on_insertion() -> None:
    facts = host(secondaries=THREE)
    p = plan(facts, name="postfix-c", group="y", position="first")
    assert not p.changed and "placement options apply only" in p.messages[0]


def test_conflicting_queue_is_refused() -> None:
    with pytest.raises(PostfixMultiError, match="queue_directory=/var/spool/postfix-a conflicts with instance /etc/postfix-a"):
        plan(host(secondaries=THREE), name="postfix-q", queue_directory="/var/spool/postfix-a")


def test_queue_of_primary_is_refused() -> None:
    with pytest.raises(PostfixMultiError, match="conflicts with instance /etc/postfix, queue_directory=/var/spool/postfix"):
        plan(host(), name="postfix-q", queue_directory="/var/spool//postfix/")


def test_config_directory_of_primary_is_the_primary() -> None:
    p = plan(host(), config_directory="/etc/postfix", group="prim")
    assert p.action == "update" and p.after is not None and p.after.primary and p.after.group == "prim"


def test_rename_existing_found_by_directory() -> None:  # assign
    facts = host(secondaries=THREE)
    p = plan(facts, config_directory="/etc/postfix-a", name="postfix-aa", group="")
    main = MainCf.parse(p.instance_writes[0].after)
    assert main.get("multi_instance_name") == "postfix-aa"
    assert main.get("multi_instance_group") == ""  # cleared, line kept
    apply(facts, p)
    assert not plan(facts, config_directory="/etc/postfix-a", name="postfix-aa", group="").changed


def test_rename_to_taken_name_conflicts() -> None:
    with pytest.raises(PostfixMultiError, match="instance /etc/postfix-a, multi_instance_name=postfix-b conflicts with instance /etc/postfix-b"):
        plan(host(secondaries=THREE), config_directory="/etc/postfix-a", name="postfix-b")


def test_never_moves_a_queue() -> None:
    with pytest.raises(PostfixMultiError, match="never moves a queue"):
        plan(host(secondaries=THREE), name="postfix-a", queue_directory="/srv/elsewhere")


def test_enable_disable_idempotent() -> None:
    facts = host(secondaries=THREE)
    p = plan(facts, name="postfix-a", enabled=True)
    assert p.action == "update"
    apply(facts, p)
    assert not plan(facts, name="postfix-a", enabled=True).changed
    p = plan(facts, name="postfix-a", enabled=False)
    assert MainCf.parse(p.instance_writes[0].after).get("multi_instance_enable") == "no"


def test_disable_running_warns() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", enabled="yes"))])
    facts.running.add("/etc/postfix-a")
    p = plan(facts, name="postfix-a", enabled=False)
    assert any("still running" in w for w in p.warnings)


def test_import_both_files_renames_and_drops_alternate() -> None:
    facts = host(primary=INITIALISED + "alternate_config_directories = /etc/postfix-imp /etc/other\n")
    facts.write("/etc/postfix-imp/main.cf", secondary_main("postfix-old", queue="/var/spool/postfix-imp", data="/var/lib/postfix-imp"))
    facts.write("/etc/postfix-imp/master.cf", PROTO_MASTER)
    p = plan(facts, config_directory="/etc/postfix-imp", name="postfix-imp")
    assert p.action == "import"
    assert MainCf.parse(p.instance_writes[0].after).get("multi_instance_name") == "postfix-imp"
    after = MainCf.parse(p.primary_write.after)  # type: ignore[union-attr]
    assert after.get("alternate_config_directories") == "/etc/other"
    assert after.get("multi_instance_directories") == "/etc/postfix-imp"
    assert ("/var/spool/postfix-imp", 0o755) in p.mkdirs


def test_import_without_own_queue_is_refused() -> None:  # observed 3.7 Case B trap
    facts = host()
    facts.write("/etc/postfix-pre3/main.cf", "myhostname = pre3.example\n")
    facts.write("/etc/postfix-pre3/master.cf", PROTO_MASTER)
    with pytest.raises(PostfixMultiError, match="cannot import /etc/postfix-pre3: .*conflicts with instance /etc/postfix, queue_directory"):
        plan(facts, name="postfix-pre3")


def test_lone_main_cf_is_not_overwritten() -> None:  # postmulti overwrites it
    facts = host()
    facts.write("/etc/postfix-half/main.cf", "myhostname = half.example\n")
    with pytest.raises(PostfixMultiError, match="holds main.cf but no master.cf"):
        plan(facts, name="postfix-half")


def test_missing_prototype() -> None:
    facts = host()
    del facts.files["/etc/postfix/main.cf.proto"]
    with pytest.raises(PostfixMultiError, match="Missing main.cf prototype: /etc/postfix/main.cf.proto"):
        plan(facts, name="postfix-a")


def test_destroy_refusals() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", enabled="yes")), ("/etc/postfix-b", secondary_main("postfix-b"))])
    with pytest.raises(PostfixMultiError, match="Cannot destroy the primary instance"):
        plan(facts, config_directory="/etc/postfix", state="absent")
    with pytest.raises(PostfixMultiError, match="Cannot destroy enabled instance postfix-a"):
        plan(facts, name="postfix-a", state="absent")
    facts.running.add("/etc/postfix-b")
    with pytest.raises(PostfixMultiError, match="Instance postfix-b .* is not stopped"):
        plan(facts, name="postfix-b", state="absent")
    facts.queues["/var/spool/postfix-b"] = {"deferred": 3, "hold": 1}
    with pytest.raises(PostfixMultiError, match=r"still holds 4 messages \(deferred: 3, hold: 1\)"):
        plan(facts, name="postfix-b", state="absent", force=True)


def test_destroy_force_stops_and_disables() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", enabled="yes"))])
    facts.running.add("/etc/postfix-a")
    p = plan(facts, name="postfix-a", state="absent", force=True)
    assert p.action == "destroy" and p.stop and p.remove
    assert MainCf.parse(p.instance_writes[0].after).get("multi_instance_enable") == "no"
    assert MainCf.parse(p.primary_write.after).get("multi_instance_directories") == ""  # type: ignore[union-attr]


def test_absent_when_not_registered_is_ok() -> None:  # postmulti fails
    p = plan(host(), name="postfix-nosuch", state="absent")
    assert not p.changed


def test_deport_adds_alternate_once() -> None:
    facts = host(secondaries=THREE)
    p = plan(facts, name="postfix-a", state="deported")
    after = MainCf.parse(p.primary_write.after)  # type: ignore[union-attr]
    assert after.get("multi_instance_directories") == "/etc/postfix-b /etc/postfix-c"
    assert after.get("alternate_config_directories") == "/etc/postfix-a"
    apply(facts, p)
    assert not plan(facts, name="postfix-a", state="deported").changed
    facts2 = host(primary=INITIALISED + "alternate_config_directories = /etc/postfix-a\n", secondaries=THREE)
    after2 = MainCf.parse(plan(facts2, name="postfix-a", state="deported").primary_write.after)  # type: ignore[union-attr]
    assert after2.get("alternate_config_directories") == "/etc/postfix-a"


def test_deport_repairs_broken_entry() -> None:
    facts = host(secondaries=THREE)
    del facts.files["/etc/postfix-b/main.cf"]
    with pytest.raises(PostfixMultiError, match="instance list .* is broken"):
        plan(facts, name="postfix-a", group="x2")
    p = plan(facts, config_directory="/etc/postfix-b", state="deported")
    assert MainCf.parse(p.primary_write.after).get("multi_instance_directories") == "/etc/postfix-a /etc/postfix-c"  # type: ignore[union-attr]


def test_init_plan() -> None:
    facts = host(primary="inet_interfaces = all\n")
    write = plan_init(Registry.load(FALLBACK_DEFAULTS, facts.read_text))
    assert write is not None
    cf = MainCf.parse(write.after)
    assert cf.get("multi_instance_wrapper") == "${command_directory}/postmulti -p --"
    assert cf.get("multi_instance_enable") == "yes"
    facts.write("/etc/postfix/main.cf", write.after)
    assert plan_init(Registry.load(FALLBACK_DEFAULTS, facts.read_text)) is None


# --- hostile layouts: symbolic links and nested directories (issue 11, defect 2) ---------------


@pytest.mark.parametrize(
    ("links", "request_", "message"),
    [
        # the config directory itself is a link to /etc: postmulti would write /etc/main.cf
        (
            {"/etc/postfix-link": "/etc"},
            {"config_directory": "/etc/postfix-link", "name": "postfix-link"},
            r"config_directory /etc/postfix-link resolves to /etc \(a system directory\) through a symbolic link",
        ),
        # a parent is a link: the instance would be created through it
        (
            {"/srv/mail": "/opt/elsewhere"},
            {"config_directory": "/srv/mail/postfix-x", "name": "postfix-x"},
            r"config_directory /srv/mail/postfix-x resolves to /opt/elsewhere/postfix-x through a symbolic link.*give the real path",
        ),
        # the queue directory goes through a link into the primary's queue
        (
            {"/srv/q": "/var/spool/postfix"},
            {"name": "postfix-x", "queue_directory": "/srv/q/x"},
            r"queue_directory /srv/q/x resolves to /var/spool/postfix/x through a symbolic link",
        ),
        # the derived data directory goes through a linked /var/lib
        ({"/var/lib/postfix-x": "/var/lib"}, {"name": "postfix-x"}, r"data_directory /var/lib/postfix-x resolves to /var/lib \(a system directory\)"),
    ],
)
def test_new_instance_through_a_link_is_refused(links: dict[str, str], request_: dict[str, str], message: str) -> None:
    facts = host()
    facts.links.update(links)
    before = dict(facts.files)
    with pytest.raises(PostfixMultiError, match=message):
        plan(facts, **request_)
    assert facts.files == before


def test_import_through_a_link_is_refused() -> None:
    facts = host()
    facts.write("/srv/real/postfix-imp/main.cf", secondary_main("postfix-imp"))
    facts.write("/srv/real/postfix-imp/master.cf", PROTO_MASTER)
    facts.links["/etc/postfix-imp"] = "/srv/real/postfix-imp"
    facts.write("/etc/postfix-imp/main.cf", secondary_main("postfix-imp"))
    facts.write("/etc/postfix-imp/master.cf", PROTO_MASTER)
    with pytest.raises(PostfixMultiError, match="config_directory /etc/postfix-imp resolves to /srv/real/postfix-imp through a symbolic link"):
        plan(facts, config_directory="/etc/postfix-imp")
    # an imported main.cf whose queue_directory goes through a link
    facts2 = host()
    facts2.write("/etc/postfix-imp/main.cf", secondary_main("postfix-imp", queue="/srv/spool-link/imp"))
    facts2.write("/etc/postfix-imp/master.cf", PROTO_MASTER)
    facts2.links["/srv/spool-link"] = "/var/spool"
    with pytest.raises(PostfixMultiError, match="queue_directory /srv/spool-link/imp resolves to /var/spool/imp through a symbolic link"):
        plan(facts2, config_directory="/etc/postfix-imp")


def test_the_real_path_is_accepted() -> None:
    facts = host()
    facts.links["/srv/mail"] = "/opt/elsewhere"
    p = plan(facts, config_directory="/opt/elsewhere/postfix-x", name="postfix-x")
    assert p.action == "create"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"config_directory": "/etc/postfix/inner", "name": "postfix-inner"},
            r"config_directory=/etc/postfix/inner lies inside instance /etc/postfix's config_directory",
        ),
        (
            {"name": "postfix-x", "queue_directory": "/var/spool/postfix/x"},
            r"queue_directory=/var/spool/postfix/x lies inside instance /etc/postfix's queue_directory",
        ),
        (
            {"name": "postfix-x", "data_directory": "/var/spool/postfix-a/data"},
            r"data_directory=/var/spool/postfix-a/data lies inside instance /etc/postfix-a's queue_directory",
        ),
        ({"name": "postfix-x", "queue_directory": "/srv/all"}, r"queue_directory=/srv/all lies around instance /etc/postfix-a's"),
        ({"name": "postfix-x", "data_directory": "/usr/lib/postfix/x"}, r"lies inside instance /etc/postfix's (shlib|daemon)_directory"),
    ],
)
def test_nested_directories_are_refused(request_: dict[str, str], message: str) -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", data="/srv/all/a"))])
    with pytest.raises(PostfixMultiError, match=message):
        plan(facts, **request_)


def test_nesting_is_compared_by_real_path() -> None:
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a"))])
    facts.links["/srv/a-queue"] = "/var/spool/postfix-a"
    with pytest.raises(PostfixMultiError, match="resolves to /var/spool/postfix-a/x through a symbolic link"):
        plan(facts, name="postfix-x", queue_directory="/srv/a-queue/x")


def test_destroy_refuses_system_or_shared_real_directories() -> None:
    # registered by hand (or by postmulti) with a data directory that really is /var/lib
    facts = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", data="/var/lib/postfix-a"))])
    facts.links["/var/lib/postfix-a"] = "/var/lib"
    with pytest.raises(
        PostfixMultiError,
        match=r"Cannot destroy instance postfix-a: its data_directory /var/lib/postfix-a \(really /var/lib\) is a system directory.*state=deported",
    ):
        plan(facts, name="postfix-a", state="absent")
    # deporting touches only the primary's main.cf: allowed
    assert plan(facts, name="postfix-a", state="deported").action == "deport"
    facts2 = host(secondaries=[("/etc/postfix-a", secondary_main("postfix-a", queue="/var/spool/postfix/a"))])
    with pytest.raises(
        PostfixMultiError,
        match=r"Cannot destroy instance postfix-a: .*queue_directory=/var/spool/postfix/a lies inside instance /etc/postfix's queue_directory",
    ):
        plan(facts2, name="postfix-a", state="absent")


@pytest.mark.parametrize(
    ("queue", "data", "message"),
    [
        ("/srv/d31", None, "config_directory and queue_directory are the same directory"),
        (None, "/srv/d31/", "config_directory and data_directory are the same directory"),
        ("/srv/q", "/srv/q", "queue_directory and data_directory are the same directory"),
    ],
)
def test_an_instance_whose_own_directories_are_one_is_refused(queue: str | None, data: str | None, message: str) -> None:
    # postmulti -e create config_directory=/srv/d31 queue_directory=/srv/d31 is fatal: postmulti
    # compares an instance's own directories too, and would not load the list afterwards
    with pytest.raises(PostfixMultiError, match=message):
        plan(host(), name="postfix-d31", config_directory="/srv/d31", queue_directory=queue, data_directory=data)


def test_deport_takes_a_conflicting_entry_off_the_list_and_touches_nothing_else() -> None:
    # a hand-made entry whose queue is the primary's: its "postfix status" is the primary's master, so
    # a forced stop would stop the primary; deregistering is the repair the refusal of every edit names
    facts = host(secondaries=[*THREE, ("/etc/postfix-q", secondary_main("postfix-q", queue="/var/spool/postfix", enabled="yes"))])
    with pytest.raises(PostfixMultiError, match="is broken.* conflicts with instance /etc/postfix, queue_directory=/var/spool/postfix"):
        plan(facts, name="postfix-a", group="x2")
    with pytest.raises(PostfixMultiError, match="is broken"):
        plan(facts, name="postfix-q", state="absent")  # destroying it would remove the primary's queue
    p = plan(facts, name="postfix-q", state="deported", force=True)
    assert p.action == "deport" and not p.stop and not p.instance_writes and not p.remove
    after = MainCf.parse(p.primary_write.after)  # type: ignore[union-attr]
    assert after.get("multi_instance_directories") == "/etc/postfix-a /etc/postfix-b /etc/postfix-c"
    assert "conflicts with instance /etc/postfix" in p.warnings[0]
    apply(facts, p)
    assert Registry.load(FALLBACK_DEFAULTS, facts.read_text).problems == []


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"queue_directory": "/var/spool/pfx-same"}, "queue_directory=/var/spool/pfx-same conflicts with instance /etc/postfix-c"),
        ({"queue_directory": "/var/spool/pfx-same/sub"}, "lies inside instance /etc/postfix-c's queue_directory"),
        ({"queue_directory": "/etc/postfix-c"}, "conflicts with instance /etc/postfix-c, config_directory=/etc/postfix-c"),
        ({"name": "postfix-c2", "config_directory": "/etc/postfix-c"}, "new config_directory=/etc/postfix-c is already in use"),
    ],
)
def test_new_instances_of_one_run_are_checked_against_each_other(second: dict[str, str], message: str) -> None:
    """Each is planned against the host as it is, where the other does not exist yet; registered one
    after the other, postmulti refuses the second (the real run would fail half-way)."""
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import NewInstances, _plan_instance

    facts = host()
    together = NewInstances()
    together.add(
        _plan_instance({"name": "postfix-c", "queue_directory": "/var/spool/pfx-same", "state": "present"}, facts, dict(FALLBACK_DEFAULTS)), facts.resolve
    )
    planned = _plan_instance({"name": "postfix-d", "state": "present", **second}, facts, dict(FALLBACK_DEFAULTS))
    with pytest.raises(PostfixMultiError, match=message + r".*both are new in this design"):
        together.add(planned, facts.resolve)
    distinct = _plan_instance({"name": "postfix-e", "state": "present"}, facts, dict(FALLBACK_DEFAULTS))
    together.add(distinct, facts.resolve)
