# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookup tables: the request checks and rendering (pure), and planning and building against the
real postmap(1)/postalias(1) of this machine in a scratch configuration directory. The live-host
behaviour (instances, running daemons, the role) is in tests/integration/test_postfix_map.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import (
    HIDDEN,
    TEMP_PREFIX,
    apply_map,
    check_request,
    entry_lines,
    hide_values,
    is_secret,
    plan_map,
    plan_maps,
    postfix_map_commands,
    render_entries,
    validate_map,
)

POSTMAP = shutil.which("postmap", path=os.environ.get("PATH", "") + ":/usr/sbin")
needs_postfix = pytest.mark.skipif(POSTMAP is None, reason="Postfix's postmap is not installed on this machine")
SUPPORTED = frozenset({"hash", "btree", "texthash", "regexp", "cidr"})


# --------------------------------------------------------------------------- pure


def test_a_mapping_renders_one_line_per_entry_in_order_and_lists_comma_separated() -> None:
    assert render_entries({"root": "admin", "info@example.com": ["alice", "bob"], 25: 1}, "hash") == ("root admin\ninfo@example.com alice, bob\n25 1\n")
    assert render_entries({"postmaster": "root"}, "hash", aliases=True) == "postmaster: root\n"


def test_ordered_types_take_a_list_and_keep_its_order() -> None:
    entries = [{"key": "/^b/", "value": "REJECT"}, {"key": "/^a b/", "value": "OK"}]
    assert render_entries(entries, "regexp") == "/^b/ REJECT\n/^a b/ OK\n"
    with pytest.raises(PostfixMultiError, match="must be a list"):
        render_entries({"/^b/": "REJECT"}, "regexp")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"a b": "x"}, "cannot contain blanks"),
        ({"#a": "x"}, "comment"),
        ({"a": ""}, "value is empty"),
        ({"a": "x\ny"}, "single line"),
        ({"a": None}, "not NoneType"),
        ([{"key": "a", "value": "1"}, {"key": "a", "value": "2"}], "given twice"),
        ([{"key": "a"}], "exactly 'key' and 'value'"),
        ("a b", "mapping or a list"),
    ],
)
def test_entries_postmap_would_misread_are_refused(entries: t.Any, message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        render_entries(entries, "hash")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "/etc/postfix/virtual", "entries": {}}, "relative"),
        ({"name": "../postfix/virtual", "entries": {}}, "without '..'"),
        ({"name": "virtual.db", "entries": {}}, "index file"),
        ({"name": "main.cf", "entries": {}}, "Postfix's own files"),
        ({"name": "virtual"}, "either entries or content"),
        ({"name": "virtual", "entries": {}, "content": ""}, "either entries or content"),
        ({"name": "virtual", "type": "dbm", "entries": {}}, "type must be one of"),
        ({"name": "virtual", "type": "regexp", "aliases": True, "entries": []}, "postalias"),
        ({"name": "virtual", "mode": "0666", "entries": {}}, "group or others write"),
        ({"name": "virtual", "mode": "rw", "entries": {}}, "octal"),
    ],
)
def test_bad_requests_fail_before_anything_is_read(spec: dict[str, t.Any], message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        check_request(spec)


def test_password_tables_are_secret_unless_told_otherwise() -> None:
    assert is_secret("sasl_passwd") and is_secret("sasl/smtp_sasl_password") and not is_secret("virtual")
    assert check_request({"name": "sasl_passwd", "content": "x y"}).secret is True
    assert check_request({"name": "sasl_passwd", "content": "x y", "secret": False}).secret is False
    assert check_request({"name": "virtual", "content": "x y", "secret": True}).secret is True
    assert hide_values("# relay\n[smtp.example]:587 user:pw\n  continued\n") == f"# relay\n[smtp.example]:587 {HIDDEN}\n"


def test_entry_lines_read_keys_as_postmap_does() -> None:
    text = "# c\n\na   1\n  2\nb: x\na 3\n"
    assert entry_lines(text) == {"a": "a   1 2", "b:": "b: x"}
    assert entry_lines(text, aliases=True)["b"] == "b: x"


# --------------------------------------------------------------------------- with the real postmap


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "etc-postfix"
    directory.mkdir()
    (directory / "main.cf").write_text("compatibility_level = 3.6\n")
    return directory


def commands() -> dict[str, str]:
    return postfix_map_commands(None)


def build(config: Path, spec: dict[str, t.Any], default: str = "hash") -> t.Any:
    plan = plan_map(str(config), check_request(spec), default, SUPPORTED)
    apply_map(plan, str(config), commands())
    return plan


def query(config: Path, table: str, key: str) -> str | None:
    done = subprocess.run([str(POSTMAP), "-c", str(config), "-q", key, table], capture_output=True, text=True, check=False)  # noqa: S603
    return done.stdout.strip() if done.returncode == 0 else None


@needs_postfix
@pytest.mark.parametrize("kind", ["hash", "btree"])
def test_an_indexed_table_is_built_once_and_rebuilt_only_when_it_changes(config: Path, kind: str) -> None:
    spec = {"name": "virtual", "type": kind, "entries": {"root": "admin"}}
    first = build(config, spec)
    assert first.changed and first.build and first.reason == "create"
    assert query(config, f"{kind}:{config}/virtual", "root") == "admin"
    index = config / "virtual.db"
    mtime = index.stat().st_mtime_ns
    again = build(config, spec)
    assert not again.changed and index.stat().st_mtime_ns == mtime
    changed = build(config, dict(spec, entries={"root": "other", "postmaster": "root"}))
    assert changed.changed and changed.changed_keys == ["root", "postmaster"]
    assert query(config, f"{kind}:{config}/virtual", "root") == "other"
    assert not [p for p in os.listdir(config) if p.startswith(TEMP_PREFIX)]


@needs_postfix
def test_a_type_change_hash_to_btree_rebuilds_though_the_source_is_the_same(config: Path) -> None:
    build(config, {"name": "virtual", "type": "hash", "entries": {"a": "b"}})
    plan = plan_map(str(config), check_request({"name": "virtual", "type": "btree", "entries": {"a": "b"}}), "hash", SUPPORTED)
    assert plan.build and not plan.write and plan.reason == "index is not a btree file"
    apply_map(plan, str(config), commands())
    assert query(config, f"btree:{config}/virtual", "a") == "b"


@needs_postfix
def test_an_index_older_than_its_source_is_rebuilt(config: Path) -> None:
    build(config, {"name": "virtual", "entries": {"a": "b"}})
    past = (config / "virtual.db").stat().st_mtime - 100
    os.utime(config / "virtual.db", (past, past))
    plan = plan_map(str(config), check_request({"name": "virtual", "entries": {"a": "b"}}), "hash", SUPPORTED)
    assert plan.build and plan.reason == "index older than its source"
    apply_map(plan, str(config), commands())
    assert (config / "virtual.db").stat().st_mtime_ns >= (config / "virtual").stat().st_mtime_ns


@needs_postfix
def test_the_default_type_is_the_instances_default_database_type(config: Path) -> None:
    (config / "main.cf").write_text("default_database_type = btree\n")
    [plan] = plan_maps(str(config), [{"name": "virtual", "entries": {"a": "b"}}], commands()["postconf"])
    assert plan.type == "btree"


@needs_postfix
def test_an_unsupported_type_is_refused_naming_the_supported_ones(config: Path) -> None:
    with pytest.raises(PostfixMultiError, match="does not support the table type lmdb"):
        plan_map(str(config), check_request({"name": "virtual", "type": "lmdb", "entries": {"a": "b"}}), "hash", SUPPORTED)


@needs_postfix
@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ({"name": "virtual", "content": "a 1\nbad\n"}, "expected format"),
        ({"name": "virtual", "content": "a 1\na 2\n"}, "duplicate entry"),
        ({"name": "checks", "type": "regexp", "content": "/x(/ REJECT\n"}, "Unmatched"),
    ],
)
def test_a_table_postmap_warns_about_is_refused_and_the_live_one_kept(config: Path, spec: dict[str, t.Any], said: str) -> None:
    live = config / spec["name"]
    live.write_text("kept 1\n")
    plan = plan_map(str(config), check_request(spec), "hash", SUPPORTED)
    with pytest.raises(PostfixMultiError, match=said):
        validate_map(plan, str(config), commands())
    with pytest.raises(PostfixMultiError, match=said):
        apply_map(plan, str(config), commands())
    assert live.read_text() == "kept 1\n"
    assert sorted(os.listdir(config)) == sorted(["main.cf", spec["name"]])


@needs_postfix
def test_a_flat_table_has_no_index_and_needs_a_reload(config: Path) -> None:
    plan = build(config, {"name": "checks", "type": "regexp", "entries": [{"key": "/^a/", "value": "REJECT"}]})
    assert plan.index_file is None and plan.reload_required
    assert sorted(os.listdir(config)) == ["checks", "main.cf"]
    assert query(config, f"regexp:{config}/checks", "abc") == "REJECT"


@needs_postfix
def test_owner_and_mode_are_kept_and_given_to_the_index(config: Path) -> None:
    (config / "sasl_passwd").write_text("old x\n")
    os.chmod(config / "sasl_passwd", 0o640)
    os.chown(config / "sasl_passwd", 0, 1)
    plan = build(config, {"name": "sasl_passwd", "entries": {"[relay]:587": "u:p"}})
    assert plan.request.secret and HIDDEN in plan.diff()["after"] and "u:p" not in str(plan.diff())
    for name in ("sasl_passwd", "sasl_passwd.db"):
        info = (config / name).stat()
        assert (oct(info.st_mode & 0o777), info.st_uid, info.st_gid) == (oct(0o640), 0, 1)
    build(config, {"name": "new_passwd", "entries": {"a": "b"}})
    assert (config / "new_passwd.db").stat().st_mode & 0o777 == 0o600


@needs_postfix
def test_aliases_are_indexed_with_postalias(config: Path) -> None:
    build(config, {"name": "aliases", "aliases": True, "entries": {"postmaster": "root"}})
    assert (config / "aliases").read_text() == "postmaster: root\n"
    assert query(config, f"hash:{config}/aliases", "postmaster") == "root"


@needs_postfix
def test_absent_removes_the_index_and_the_source(config: Path) -> None:
    build(config, {"name": "virtual", "entries": {"a": "b"}})
    plan = plan_map(str(config), check_request({"name": "virtual", "state": "absent"}), "hash", SUPPORTED)
    assert plan.changed
    apply_map(plan, str(config), commands())
    assert sorted(os.listdir(config)) == ["main.cf"]
    assert not plan_map(str(config), check_request({"name": "virtual", "state": "absent"}), "hash", SUPPORTED).changed


@needs_postfix
def test_a_directory_that_leads_outside_is_refused(config: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (config / "sub").mkdir()
    request = check_request({"name": "sub/virtual", "entries": {"a": "b"}})
    plan = plan_map(str(config), request, "hash", SUPPORTED)
    (config / "sub").rmdir()
    (config / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PostfixMultiError, match="not a directory of the instance"):
        plan_map(str(config), request, "hash", SUPPORTED)  # planned (check mode) on the link
    with pytest.raises(PostfixMultiError, match="not a directory of the instance"):
        apply_map(plan, str(config), commands())  # written after the link appeared
    assert not os.listdir(tmp_path / "elsewhere")
