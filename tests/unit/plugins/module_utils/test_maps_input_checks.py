# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookup tables: input that Postfix or Ansible would read otherwise than the user meant is refused
before anything is written, in check mode (planning) as in a real run.

- A table under a symbolic link that leaves the instance: the real run refuses the write, so the
  plan (what check mode reports) refuses it too.
- Integer modes: YAML 1.1 (PyYAML, which Ansible uses) reads an unquoted ``0644`` as the number 420,
  and ansible.builtin.file takes an integer mode as that number; an unquoted ``644`` is the decimal
  number 644 (octal 1204), which is refused with how it was read.
- setuid, setgid and sticky bits are refused.
- postmap(1) reads each line as a C string (src/util/readlline.c, src/postmap/postmap.c): a NUL byte
  ends the line for it, so ``a b<NUL>c`` is stored as ``a b``.
- main.cf names a table as ``TYPE:$config_directory/NAME`` in a list that Postfix splits at blanks
  and commas, so a name with whitespace, a control character or a comma cannot be referenced.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import (
    apply_map,
    check_design_maps,
    check_request,
    plan_design_maps,
    plan_map,
    postfix_map_commands,
)
from test_maps import POSTMAP, SUPPORTED, needs_postfix


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "etc-postfix-a"
    directory.mkdir()
    (directory / "main.cf").write_text("compatibility_level = 3.6\n")
    return directory


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "srv-out"
    directory.mkdir()
    return directory


# --------------------------------------------------------------------------- 1. a subdirectory that is a symbolic link


def test_a_table_under_a_link_leaving_the_instance_is_refused_when_planned(config: Path, outside: Path) -> None:
    (config / "sub").symlink_to(outside)
    request = check_request({"name": "sub/evil", "entries": {"a": "b"}})
    with pytest.raises(PostfixMultiError) as planned:
        plan_map(str(config), request, "hash", SUPPORTED)
    message = planned.value.msg
    assert "sub/evil" in message and "name" in message and "not a directory of the instance" in message
    assert "symbolic link" in message
    assert not os.listdir(outside)


def test_check_mode_and_the_real_run_refuse_a_linked_subdirectory_with_the_same_message(config: Path, outside: Path) -> None:
    """The plan made before the link appeared is refused by the write with the message planning gives."""
    request = check_request({"name": "sub/evil", "entries": {"a": "b"}})
    (config / "sub").mkdir()
    plan = plan_map(str(config), request, "hash", SUPPORTED)
    (config / "sub").rmdir()
    (config / "sub").symlink_to(outside)
    with pytest.raises(PostfixMultiError) as planned:
        plan_map(str(config), request, "hash", SUPPORTED)
    with pytest.raises(PostfixMultiError) as written:
        apply_map(plan, str(config), postfix_map_commands(None) if POSTMAP else {})
    assert planned.value.msg == written.value.msg
    assert not os.listdir(outside)


def test_absent_does_not_remove_files_through_a_link_leaving_the_instance(config: Path, outside: Path) -> None:
    (outside / "evil").write_text("a b\n")
    (outside / "evil.db").write_text("not ours")
    (config / "sub").symlink_to(outside)
    with pytest.raises(PostfixMultiError, match="not a directory of the instance"):
        plan_map(str(config), check_request({"name": "sub/evil", "state": "absent"}), "hash", SUPPORTED)
    assert sorted(os.listdir(outside)) == ["evil", "evil.db"]


def test_a_missing_subdirectory_of_an_existing_instance_is_refused_when_planned(config: Path) -> None:
    with pytest.raises(PostfixMultiError, match="create it first"):
        plan_map(str(config), check_request({"name": "sasl/sasl_passwd", "entries": {"a": "b"}}), "hash", SUPPORTED)
    # nothing to remove there: absent is already the case
    plan = plan_map(str(config), check_request({"name": "sasl/sasl_passwd", "state": "absent"}), "hash", SUPPORTED)
    assert not plan.changed


def test_a_real_subdirectory_and_a_new_instance_are_planned(config: Path, tmp_path: Path) -> None:
    (config / "sasl").mkdir()
    assert plan_map(str(config), check_request({"name": "sasl/sasl_passwd", "entries": {"a": "b"}}), "hash", SUPPORTED).write
    # an instance created by this run: its directory does not exist yet, its tables are planned again once it does
    assert plan_map(str(tmp_path / "etc-postfix-new"), check_request({"name": "virtual", "entries": {"a": "b"}}), "hash", SUPPORTED).write


@needs_postfix
def test_the_designs_check_mode_refuses_a_linked_subdirectory(config: Path, outside: Path) -> None:
    (config / "sub").symlink_to(outside)
    action = {"instance": "postfix-a", "config_directory": str(config), "maps": [{"name": "sub/evil", "entries": {"a": "b"}}]}
    with pytest.raises(PostfixMultiError, match="not a directory of the instance"):
        plan_design_maps([action], str(config))
    assert not os.listdir(outside)


# --------------------------------------------------------------------------- 2. and 3. modes


@pytest.mark.parametrize(("written", "mode"), [("0644", 0o644), ("0600", 0o600), ("0400", 0o400), ("0640", 0o640), ("0o644", 0o644)])
def test_an_unquoted_yaml_octal_mode_is_the_number_ansible_reads(written: str, mode: int) -> None:
    """``mode: 0644`` in a playbook is YAML 1.1's octal number 420, which ansible.builtin.file applies as 0o644."""
    value = yaml.safe_load(f"mode: {written}")["mode"]
    assert check_request({"name": "virtual", "content": "a b", "mode": value}).mode == mode
    assert check_request({"name": "virtual", "content": "a b", "mode": f"{mode:04o}"}).mode == mode


@pytest.mark.parametrize("written", ["644", "640", "600", "400", "444", "755"])
def test_an_unquoted_decimal_mode_is_refused_saying_how_it_was_read(written: str) -> None:
    """``mode: 644`` is the decimal number 644 = octal 1204 for Ansible (a different mode): refused with how it
    was read and the quoted octal string to write instead."""
    value = yaml.safe_load(f"mode: {written}")["mode"]
    assert isinstance(value, int)
    with pytest.raises(PostfixMultiError) as refused:
        check_request({"name": "virtual", "content": "a b", "mode": value})
    message = refused.value.msg
    assert message.startswith("virtual: mode")
    assert f"{value:o}" in message and "integer" in message
    assert f"'0{written}'" in message


@pytest.mark.parametrize("value", [100, 300, 40, 0o755, 0o200])
def test_an_integer_mode_that_is_not_a_table_mode_is_refused(value: int) -> None:
    """Small decimal numbers (100 is octal 0144) are no plain read/write mode either."""
    with pytest.raises(PostfixMultiError, match=r"virtual: mode .*integer.*quote"):
        check_request({"name": "virtual", "content": "a b", "mode": value})


@pytest.mark.parametrize("value", [True, 6.44, [0o644]])
def test_a_mode_of_another_type_is_refused(value: t.Any) -> None:
    with pytest.raises(PostfixMultiError, match=r"virtual: mode .*'0644'"):
        check_request({"name": "virtual", "content": "a b", "mode": value})


@pytest.mark.parametrize(("mode", "bit"), [("04644", "setuid"), ("02644", "setgid"), ("01644", "sticky"), ("06600", "setuid"), (0o4644, "setuid")])
def test_setuid_setgid_and_sticky_bits_are_refused(mode: t.Any, bit: str) -> None:
    with pytest.raises(PostfixMultiError, match=rf"virtual: mode .*{bit}.*0644"):
        check_request({"name": "virtual", "content": "a b", "mode": mode})
    with pytest.raises(PostfixMultiError, match=bit):
        check_design_maps("instances[0]", [{"name": "virtual", "content": "a b", "mode": mode}])


@needs_postfix
def test_an_integer_mode_is_given_to_the_table_and_its_index(config: Path) -> None:
    plan = plan_map(str(config), check_request({"name": "virtual", "entries": {"a": "b"}, "mode": yaml.safe_load("0640")}), "hash", SUPPORTED)
    apply_map(plan, str(config), postfix_map_commands(None))
    assert [(config / name).stat().st_mode & 0o7777 for name in ("virtual", "virtual.db")] == [0o640, 0o640]


# --------------------------------------------------------------------------- 4. NUL bytes


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "virtual", "content": "a b\0c\n"},
        {"name": "virtual", "content": "x y\na\0 b\n"},
        {"name": "virtual", "entries": {"a": "b\0c"}},
        {"name": "virtual", "entries": {"a\0": "b"}},
        {"name": "checks", "type": "regexp", "entries": [{"key": "/^a/", "value": ["OK", "b\0"]}]},
    ],
)
def test_a_nul_byte_is_refused_because_postmap_drops_what_follows(spec: dict[str, t.Any]) -> None:
    with pytest.raises(PostfixMultiError, match=rf"{spec['name']}: .*NUL") as refused:
        check_request(spec)
    assert ("content" in refused.value.msg) == ("content" in spec)


def test_a_nul_byte_names_its_line() -> None:
    with pytest.raises(PostfixMultiError, match="line 2"):
        check_request({"name": "virtual", "content": "x y\na\0 b\n"})


# --------------------------------------------------------------------------- 5. names main.cf cannot reference


@pytest.mark.parametrize("name", ["vir tual", "virtual\n", "vir\ttual", "a,b", "sub dir/virtual", "vir\x01tual", "vir\x7ftual", "vir\rtual", "vir\u00a0tual"])
def test_a_name_main_cf_cannot_reference_is_refused(name: str) -> None:
    with pytest.raises(PostfixMultiError) as refused:
        check_request({"name": name, "entries": {"a": "b"}})
    message = refused.value.msg
    assert message.startswith(f"name {name!r}")
    assert "main.cf" in message and "comma" in message
    with pytest.raises(PostfixMultiError, match=r"instances\[0\]\.maps\[0\]: name"):
        check_design_maps("instances[0]", [{"name": name, "entries": {"a": "b"}}])


@pytest.mark.parametrize("name", ["virtual", "sasl/sasl_passwd", "sender-canonical_2", "vïrtual"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert check_request({"name": name, "entries": {"a": "b"}}).name == name


def test_a_nul_byte_in_a_secret_value_is_refused_without_showing_the_value() -> None:
    with pytest.raises(PostfixMultiError, match="NUL") as refused:
        check_request({"name": "sasl_passwd", "entries": {"[relay]:587": "user:s3cr3t\0word"}})
    assert "s3cr3t" not in refused.value.msg and "[relay]:587" in refused.value.msg
