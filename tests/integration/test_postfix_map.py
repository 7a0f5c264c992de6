# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_map on real Postfix instances (issue #14).

One lab clone is prepared with this collection's modules (postfix_multi_init, postfix_instance:
postfix-out and postfix-in); every test works on a fork of it. Every accepted change runs as
``check mode -> apply -> check mode -> apply`` (changed true, true, false, false); what the
tables answer is asked from Postfix itself (``postmap -c DIR -q``), and from a running instance
through its proxymap(8) daemon (``proxy:`` tables). The lab hosts carry Debian's postfix-pcre,
postfix-lmdb and postfix-cdb, so every type is built for real; a type that the host's
``postconf -m`` does not list (its line taken out of dynamicmaps.cf, as on a host without the
package) must be refused.
"""

from __future__ import annotations

import contextlib
import os
import typing as t

import labhost
import pytest
import yaml
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import INDEX_SUFFIXES, TYPES
from ansible_collections.mailops.postfix_multi.plugins.modules import postfix_map
from test_discovery_service import play
from test_instance_configuration import age_configs, ok
from test_postfix_instance import CHANGED_TWICE

OUT, IN = "/etc/postfix-out", "/etc/postfix-in"


def changed(results: list[dict]) -> list[bool]:
    for result in results:
        ok(result)
    return [result["changed"] for result in results]


def query(host: labhost.Host, directory: str, table: str, key: str) -> str | None:
    done = host.run("postmap", "-c", directory, "-q", key, table, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def stamp(host: labhost.Host, path: str) -> tuple[int, int]:
    info = host.path(path).stat()
    return info.st_ino, info.st_mtime_ns


def supported(host: labhost.Host) -> set[str]:
    return set(host.run("postconf", "-m").stdout.split())


@pytest.fixture(scope="module")
def prepared(lab_base, tmp_path_factory):  # lab_base: builds the base root first
    template = labhost.new_host("maptmpl", tmp_path_factory.mktemp("maps"))
    try:
        ok(template.module("postfix_multi_init"))
        ok(template.module("postfix_instance", name="postfix-out", group="mta", enabled=True))
        ok(template.module("postfix_instance", name="postfix-in", group="mta", enabled=True))
        age_configs(template)
        yield template
    finally:
        labhost.destroy_host(template)


@pytest.fixture
def mx(prepared, new_host) -> labhost.Host:
    return new_host("map", source=prepared)


def test_every_supported_type_check_apply_check_apply(mx):
    have = supported(mx)
    tested = [kind for kind in TYPES if kind in have]
    assert set(tested) == set(TYPES), have  # the lab hosts have every dynamically loaded type
    for kind in tested:
        name = f"t_{kind}"
        if kind == "cidr":
            entries: t.Any = [{"key": "192.0.2.0/24", "value": "REJECT"}, {"key": "0.0.0.0/0", "value": "OK"}]
            key, want = "192.0.2.7", "REJECT"
        elif kind in ("regexp", "pcre"):
            entries = [{"key": "/^root@/", "value": "admin"}, {"key": "/./", "value": "other"}]
            key, want = "root@example.com", "admin"
        else:
            entries = {"root@example.com": "admin", "info@example.com": ["alice", "bob"]}
            key, want = "info@example.com", "alice, bob"
        results = mx.sequence("postfix_map", instance="postfix-out", name=name, type=kind, entries=entries)
        assert changed(results) == CHANGED_TWICE, kind
        check, apply = results[0], results[1]
        assert check["diff"] == apply["diff"] and apply["diff"]["after"] == mx.read(f"{OUT}/{name}")
        assert apply["reload_required"] is (kind not in INDEX_SUFFIXES), kind
        assert apply["index"] == (f"{OUT}/{name}{INDEX_SUFFIXES[kind]}" if kind in INDEX_SUFFIXES else None)
        assert query(mx, OUT, f"{kind}:{OUT}/{name}", key) == want, kind
        if kind in INDEX_SUFFIXES:  # the two no-change runs rebuilt nothing
            assert [r["rebuilt"] for r in results] == [True, True, False, False]


def test_a_type_the_host_does_not_have_is_refused_before_anything_is_written(mx):
    # Debian registers its dynamically loaded types in dynamicmaps.cf (postconf(5):
    # meta_directory); without the line, as without the package, postconf -m does not list it.
    dynamicmaps = mx.path("/etc/postfix/dynamicmaps.cf")
    kept = [line for line in dynamicmaps.read_text().splitlines() if not line.startswith(("pcre", "lmdb"))]
    dynamicmaps.write_text("\n".join(kept) + "\n")
    assert not {"pcre", "lmdb"} & supported(mx)
    for kind in ("pcre", "lmdb"):
        entries = [{"key": "/x/", "value": "y"}] if kind == "pcre" else {"a": "b"}
        result = mx.module("postfix_map", instance="out", name="t_missing", type=kind, entries=entries)
        assert result.get("failed") and "does not support the table type" in result["msg"] and "postconf -m" in result["msg"], result
        assert not mx.path(f"{OUT}/t_missing").exists()


def test_default_type_comes_from_the_instances_default_database_type(mx):
    ok(mx.module("postfix_config", instance="in", parameters={"default_database_type": "btree"}))
    result = ok(mx.module("postfix_map", instance="in", name="virtual", entries={"a": "b"}))
    assert result["type"] == "btree" and result["index"] == f"{IN}/virtual.db"
    assert query(mx, IN, f"btree:{IN}/virtual", "a") == "b"
    assert query(mx, OUT, f"btree:{IN}/virtual", "a") == "b"  # a btree file indeed (hash cannot open it)
    assert query(mx, IN, f"hash:{IN}/virtual", "a") is None


def test_a_changed_entry_rebuilds_only_that_table_and_no_change_rebuilds_nothing(mx):
    tables = {"virtual": {"root": "admin"}, "generic": {"root": "root@out.example"}, "transport": {"example.com": "smtp:[relay]"}}
    play(mx, *[{"mailops.postfix_multi.postfix_map": {"instance": "out", "name": n, "entries": e}} for n, e in tables.items()])
    before = {name: (stamp(mx, f"{OUT}/{name}"), stamp(mx, f"{OUT}/{name}.db")) for name in tables}
    tables["generic"] = {"root": "postmaster@out.example"}
    results = play(mx, *[{"mailops.postfix_multi.postfix_map": {"instance": "out", "name": n, "entries": e}} for n, e in tables.items()])
    assert [r["changed"] for r in results] == [False, True, False]
    assert results[1]["changed_keys"] == ["root"] and results[1]["reason"] == "source changed"
    after = {name: (stamp(mx, f"{OUT}/{name}"), stamp(mx, f"{OUT}/{name}.db")) for name in tables}
    assert after["virtual"] == before["virtual"] and after["transport"] == before["transport"]
    assert after["generic"][1] != before["generic"][1]
    assert query(mx, OUT, f"hash:{OUT}/generic", "root") == "postmaster@out.example"
    # postmap's rule: an index older than its source is built again (and then nothing more)
    old = mx.path(f"{OUT}/virtual.db").stat().st_mtime - 60
    os.utime(mx.path(f"{OUT}/virtual.db"), (old, old))
    again = mx.sequence("postfix_map", instance="out", name="virtual", entries=tables["virtual"])
    assert changed(again) == CHANGED_TWICE and again[1]["reason"] == "index older than its source"
    assert not [name for name in os.listdir(mx.path(OUT)) if name.startswith(".mailops-map-")]


def test_content_owner_mode_secret_and_absent(mx):
    mx.run("sh", "-c", f"printf 'old x\\n' > {OUT}/access && chmod 0640 {OUT}/access && chgrp postfix {OUT}/access")
    label = b"system_u:object_r:postfix_etc_t:s0\x00"  # an SELinux label, kept like atomic_move keeps it
    os.setxattr(mx.path(f"{OUT}/access"), "security.selinux", label)
    source = mx.path(f"{OUT}/access").stat()
    text = "# senders we refuse\nspam@example.net   REJECT\nexample.org\n    OK\n"
    results = mx.sequence("postfix_map", instance="out", name="access", content=text)
    assert changed(results) == CHANGED_TWICE
    assert mx.read(f"{OUT}/access") == text and results[1]["changed_keys"] == ["old", "spam@example.net", "example.org"]
    for name in ("access", "access.db"):
        info = mx.path(f"{OUT}/{name}").stat()
        assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (0o640, 0, source.st_gid) and source.st_gid != 0
        assert os.getxattr(mx.path(f"{OUT}/{name}"), "security.selinux") == label, name
    assert query(mx, OUT, f"hash:{OUT}/access", "example.org") == "OK"

    results = mx.sequence("postfix_map", instance="out", name="sasl_passwd", entries={"[relay.example]:587": "user:s3cret"})
    assert changed(results) == CHANGED_TWICE
    assert all("s3cret" not in str(r) for r in results) and results[1]["secret"] is True
    assert results[1]["diff"]["after"] == "[relay.example]:587 VALUE_HIDDEN\n"
    assert mx.path(f"{OUT}/sasl_passwd.db").stat().st_mode & 0o777 == 0o600

    results = mx.sequence("postfix_map", instance="out", name="access", state="absent")
    assert changed(results) == CHANGED_TWICE
    assert not mx.path(f"{OUT}/access").exists() and not mx.path(f"{OUT}/access.db").exists()


def test_a_table_postmap_refuses_leaves_the_live_one(mx):
    ok(mx.module("postfix_map", instance="out", name="virtual", entries={"a": "b"}))
    before = stamp(mx, f"{OUT}/virtual"), stamp(mx, f"{OUT}/virtual.db")
    for check in (True, False):
        result = mx.module("postfix_map", check=check, instance="out", name="virtual", content="a b\na c\n")
        assert result.get("failed") and "duplicate entry" in result["msg"], result
    result = mx.module("postfix_map", instance="out", name="checks", type="regexp", entries=[{"key": "/x(/", "value": "REJECT"}])
    assert result.get("failed") and "regexp" in result["msg"] and not mx.path(f"{OUT}/checks").exists()
    assert (stamp(mx, f"{OUT}/virtual"), stamp(mx, f"{OUT}/virtual.db")) == before
    result = mx.module("postfix_map", instance="out", name="../postfix/virtual", entries={"a": "b"})
    assert result.get("failed") and "without '..'" in result["msg"]


def test_aliases_with_postalias(mx):
    results = mx.sequence("postfix_map", instance="in", name="aliases", aliases=True, entries={"postmaster": "root", "root": "admin@example.com"})
    assert changed(results) == CHANGED_TWICE
    assert query(mx, IN, f"hash:{IN}/aliases", "root") == "admin@example.com"
    assert query(mx, IN, f"hash:{IN}/aliases", "@") == "@"  # postalias' own marker: postalias(1) built it


def master_pid(host: labhost.Host, directory: str) -> str:
    queue = host.run("postconf", "-c", directory, "-h", "queue_directory").stdout.strip()
    return host.read(f"{queue}/pid/master.pid").strip()


def test_a_running_instance_answers_the_new_value(mx):
    """An indexed table: the running instance's proxymap(8) answers the new value by itself (no
    reload, same master); a regexp table: reload_required, and after postfix reload the new value.
    proxymap(8) serves only the tables proxy_read_maps lists with their proxy: prefix."""
    virtual, checks = f"hash:{OUT}/virtual", f"regexp:{OUT}/checks"
    ok(mx.module("postfix_map", instance="out", name="virtual", entries={"root": "old@example.com"}))
    ok(mx.module("postfix_map", instance="out", name="checks", type="regexp", entries=[{"key": "/^root$/", "value": "old"}]))
    ok(mx.module("postfix_config", instance="out", parameters={"virtual_alias_maps": virtual, "proxy_read_maps": f"proxy:{virtual} proxy:{checks}"}))
    age_configs(mx)
    try:
        ok(mx.module("postfix_service", name="postfix-out", state="started"))
        pid = master_pid(mx, OUT)
        assert query(mx, OUT, f"proxy:{virtual}", "root") == "old@example.com"
        assert query(mx, OUT, f"proxy:{checks}", "root") == "old"
        result = ok(mx.module("postfix_map", instance="out", name="virtual", entries={"root": "new@example.com"}))
        assert result["changed"] and result["reload_required"] is False
        assert query(mx, OUT, f"proxy:{virtual}", "root") == "new@example.com"
        result = ok(mx.module("postfix_map", instance="out", name="checks", type="regexp", entries=[{"key": "/^root$/", "value": "new"}]))
        assert result["changed"] and result["reload_required"] is True
        ok(mx.module("postfix_service", name="postfix-out", state="reloaded"))
        assert query(mx, OUT, f"proxy:{checks}", "root") == "new"
        assert master_pid(mx, OUT) == pid  # never restarted
    finally:
        with contextlib.suppress(Exception):
            mx.run("postfix", "-c", OUT, "stop", check=False)


def test_documented_examples_run(mx):
    tasks = yaml.safe_load(postfix_map.EXAMPLES)
    for task in tasks:
        task.setdefault("vars", {})["isp_password"] = "pw"
    ok(mx.module("postfix_config", instance="-", parameters={"master_service_disable": "inet"}))
    results = play(mx, *tasks)
    for task, result in zip(tasks, results):
        if "no_log" in task:
            assert not result.get("failed"), task["name"]
            continue
        assert not result.get("failed"), (task["name"], result)
    assert query(mx, IN, f"hash:{IN}/virtual", "info@example.com") == "alice, bob"


def test_the_design_builds_maps_before_start_and_reloads_for_flat_ones(new_host):
    """postfix_multi_host with maps: a new instance gets its tables before it starts (check mode
    lists them and writes nothing), a second run changes nothing, a changed regexp table of the
    running instance reloads it (same master), a refused table stops the run before anything changes."""
    host = new_host("mapdesign")
    virtual = "hash:/etc/postfix-out/virtual"
    checks = "regexp:/etc/postfix-out/checks"

    def design(rule: str, extra: dict | None = None) -> dict:
        return {
            "start": True,
            "check_before": False,
            "primary_parameters": {"master_service_disable": "inet"},
            "instances": [
                {
                    "name": "postfix-out",
                    "parameters": {"virtual_alias_maps": virtual, "proxy_read_maps": f"proxy:{virtual} proxy:{checks}"},
                    "maps": [
                        {"name": "virtual", "type": "hash", "entries": {"root": "admin@example.com"}},
                        {"name": "checks", "type": "regexp", "entries": [{"key": "/^root$/", "value": rule}]},
                        *([extra] if extra else []),
                    ],
                }
            ],
        }

    try:
        results = host.sequence("postfix_multi_host", **design("old"))
        assert changed(results) == CHANGED_TWICE
        assert any(line == "build lookup tables of postfix-out: virtual, checks" for line in results[0]["drift"]), results[0]["drift"]
        assert results[1]["instances"]["postfix-out"]["changed_maps"] == ["virtual", "checks"]
        assert results[2]["in_sync"] is True
        assert query(host, OUT, f"proxy:{virtual}", "root") == "admin@example.com"
        assert query(host, OUT, f"proxy:{checks}", "root") == "old"
        pid = master_pid(host, OUT)

        result = ok(host.module("postfix_multi_host", **design("new")))
        assert result["changed"] and "postfix-out" in result["reloaded"] and not result["restarted"]
        assert query(host, OUT, f"proxy:{checks}", "root") == "new" and master_pid(host, OUT) == pid

        stamps = stamp(host, f"{OUT}/virtual.db"), stamp(host, f"{OUT}/checks")
        bad = {"name": "transport", "content": "a b\na c\n"}
        result = host.module("postfix_multi_host", **design("newer", bad))
        assert result.get("failed") and "duplicate entry" in result["msg"] and result.get("stage") == "validate", result
        assert (stamp(host, f"{OUT}/virtual.db"), stamp(host, f"{OUT}/checks")) == stamps
        assert not host.path(f"{OUT}/transport").exists() and "new" in host.read(f"{OUT}/checks")

        secret = {"name": "sasl_passwd", "entries": {"[relay]:587": "u:s3cret"}}
        result = ok(host.module("postfix_multi_host", **design("new", secret)))
        assert result["changed"] and "s3cret" not in str(result)
    finally:
        host.run("postmulti", "-p", "stop", check=False)
        host.run("postfix", "stop", check=False)
