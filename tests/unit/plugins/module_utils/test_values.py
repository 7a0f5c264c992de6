# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values that stop a Postfix program at start-up, judged before anything is written.

Differential against the installed Postfix: every Postfix program converts the parameters of
src/global/mail_params.c when it starts, postmap(1) included, and dies with the fatal message
of the conversion (bad numerical configuration, bad time value or unit, bad boolean
configuration, bad string length, out of bounds). ``postmap -c DIR -q key texthash:/dev/null``
is a program that reads main.cf and nothing else, so its verdict on a value is Postfix's. These
tests FAIL (they are never skipped) when Postfix is missing: the test command installs it.

Every default that ``postconf -d`` prints must be accepted too, and a time parameter's unit
must be the one its default shows (postconf(5): "The default time unit is ...").
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._validate import changed_value_problems
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix import _values
from hypothesis import given
from hypothesis import strategies as st

POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"

# parameters of src/global/mail_params.c (converted by every Postfix program), one per kind
GLOBAL = {
    "default_process_limit": "int",  # min 1
    "line_length_limit": "int",  # min 512
    "message_size_limit": "long",
    "ipc_timeout": "time",  # unit s, min 1
    "max_idle": "time",
    "disable_dns_lookups": "bool",
    "soft_bounce": "bool",
    "bounce_service_name": "str",  # length at least 1
}
VALUES = [
    "",
    "0",
    "1",
    "7",
    "511",
    "512",
    "-3",
    "+5",
    " 5",
    "5 ",
    "05",
    "abc",
    "5x",
    "0x10",
    "1.5",
    "2147483647",
    "2147483648",
    "-2147483649",
    "99999999999999999999",
    "9223372036854775807",
    "10s",
    "10m",
    "3h",
    "2d",
    "1w",
    "1week",
    "4000w",
    "s",
    "m",
    "yes",
    "No",
    "TRUE",
    "on",
    "x",
    "mail.example.com",
]


def require(program: str) -> None:
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        pytest.fail(f"{program} not found: install Postfix (the test command does)")


def postfix_says(directory: Path, name: str, value: str) -> str | None:
    """The fatal message postmap gives for ``name = value``, or None when it starts."""
    (directory / "master.cf").write_text("")
    (directory / "main.cf").write_text(f"{name} = {value}\n")
    past = time.time() - 20  # Postfix waits for a main.cf changed within the last second
    os.utime(directory / "main.cf", (past, past))
    proc = subprocess.run([POSTMAP, "-c", str(directory), "-q", "key", "texthash:/dev/null"], capture_output=True, text=True, check=False)
    found = re.search(r"fatal: (.*)", proc.stderr)
    if found:
        return found.group(1).rstrip()
    assert proc.returncode in (0, 1), proc.stderr  # 1: the key was not found
    return None


def test_postfix_and_the_check_agree_on_every_value(tmp_path: Path) -> None:
    require(POSTMAP)
    cases = [(name, value) for name in GLOBAL for value in VALUES]
    for name, kind in GLOBAL.items():
        spec = _values.spec(name)
        assert spec is not None and spec.kind == kind, (name, spec)

    def one(index_case: tuple[int, tuple[str, str]]) -> tuple[str, str, str | None]:
        index, (name, value) = index_case
        directory = tmp_path / f"c{index}"
        directory.mkdir()
        return name, value, postfix_says(directory, name, value)

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        verdicts = list(pool.map(one, enumerate(cases)))
    # (Postfix's messages end without the space of an empty value)
    disagree = [(n, v, said, check) for n, v, said in verdicts if said != (check := (_values.problem(n, v.strip()) or "").rstrip() or None)]
    assert not disagree, "\n".join(f"{n} = {v!r}: postfix: {p!r}, check: {c!r}" for n, v, p, c in disagree)
    # the grid is worth something only when both verdicts occur for every kind
    for name in GLOBAL:
        said = [verdict for n, _v, verdict in verdicts if n == name]
        assert any(s is None for s in said) and any(s is not None for s in said), name


def compiled_defaults() -> dict[str, str]:
    require(POSTCONF)
    out = subprocess.run([POSTCONF, "-d"], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "") for line in out.splitlines())


def test_every_default_of_this_postfix_is_accepted() -> None:
    defaults = compiled_defaults()
    checked = 0
    for name, value in defaults.items():
        if _values.spec(name) is not None and "$" not in value:
            checked += 1
            assert _values.problem(name, value) is None, (name, value)
    assert checked > 300  # the table covers this Postfix's parameters


def test_a_time_parameter_reads_a_bare_number_in_the_unit_of_its_default() -> None:
    defaults = compiled_defaults()
    compared = 0
    for name, value in defaults.items():
        spec = _values.spec(name)
        found = re.fullmatch(r"\d+([a-z])", value)
        if spec is not None and spec.kind == "time" and found and spec.unit:
            compared += 1
            assert spec.unit == found.group(1), (name, value, spec)
    assert compared > 50


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("smtpd_recipient_limit", "abc", "bad numerical configuration: smtpd_recipient_limit = abc"),
        ("smtpd_recipient_limit", "0", "invalid smtpd_recipient_limit parameter value 0 < 1"),
        ("smtpd_recipient_limit", "1000", None),
        ("maximal_queue_lifetime", "5", None),  # days: 5 d
        ("maximal_queue_lifetime", "101", "invalid maximal_queue_lifetime: 8726400 (max 8640000)"),
        ("maximal_queue_lifetime", "3y", "parameter maximal_queue_lifetime: bad time value or unit: 3y"),
        ("smtpd_tls_received_header", "maybe", "bad boolean configuration: smtpd_tls_received_header = maybe"),
        ("smtpd_tls_received_header", "YES", None),
        ("smtpd_recipient_limit", "$other", None),  # expanded by each program: not judged here
        ("smtpd_banner", "anything at all", None),  # free text
        ("no_such_parameter_anywhere", "abc", None),
        ("days", "a few", None),  # an operator's own parameter; only Postfix's test programs read "days"
        ("message_size_limit", "9" * 5000, "bad numerical configuration: message_size_limit = " + "9" * 5000),  # no ValueError from int()
        ("maximal_queue_lifetime", "-" + "9" * 5000 + "d", "parameter maximal_queue_lifetime: bad time value or unit: -" + "9" * 5000 + "d"),
        ("message_size_limit", "0" * 30 + "7", None),
    ],
)
def test_values_of_programs_that_postfix_check_does_not_run(name: str, value: str, said: str | None) -> None:
    assert _values.problem(name, value) == said


def test_only_what_the_new_main_cf_sets_or_changes_is_judged(tmp_path: Path) -> None:
    live = tmp_path / "etc-postfix-out"
    live.mkdir()
    # a bad value that is already there and untouched is Postfix's business, not this change's
    (live / "main.cf").write_text("smtpd_recipient_limit = abc\nsmtpd_banner = hi\n")
    assert changed_value_problems(str(live), {"main.cf": "smtpd_recipient_limit = abc\nsmtpd_banner = hello\n"}, []) == []
    assert changed_value_problems(str(live), {"main.cf": "smtpd_recipient_limit = abcd\nsmtpd_banner = hi\n"}, []) == [
        "bad numerical configuration: smtpd_recipient_limit = abcd"
    ]
    # a new instance: every value counts; a parameter this Postfix does not know is left to postconf's warning
    new = str(tmp_path / "etc-postfix-new")
    text = "smtpd_recipient_limit = 0\nsmtpd_foo_limit = x\nsmtp_tls_loglevel = x\n"
    assert changed_value_problems(new, {"main.cf": text}, []) == ["invalid smtpd_recipient_limit parameter value 0 < 1"]
    unused = [f"{new}/main.cf: unused parameter: smtpd_recipient_limit=0"]
    assert changed_value_problems(new, {"main.cf": text}, unused) == []
    assert changed_value_problems(new, {}, []) == []


def test_the_o_settings_of_new_and_changed_master_cf_entries_are_judged(tmp_path: Path) -> None:
    live = tmp_path / "etc-postfix-out"
    live.mkdir()
    # an untouched entry with a bad -o is left alone; the program itself reads -o before its parameters
    old = "smtp inet n - y - - smtpd -o smtpd_recipient_limit=abc\npickup unix n - y 60 1 pickup\n"
    (live / "master.cf").write_text(old)
    assert changed_value_problems(str(live), {"master.cf": old}, []) == []
    new = old + "2525 inet n - y - - smtpd -o smtpd_client_connection_rate_limit=lots -o { smtpd_banner = $myhostname hi } -o smtpd_tls_received_header=$x\n"
    assert changed_value_problems(str(live), {"master.cf": new}, []) == [
        "bad numerical configuration: smtpd_client_connection_rate_limit = lots (-o of master.cf service 2525/inet)"
    ]
    changed = old.replace("pickup unix n - y 60 1 pickup", "pickup unix n - y 60 1 pickup -o ipc_timeout=0")
    assert changed_value_problems(str(live), {"master.cf": changed}, []) == ["invalid ipc_timeout: 0 (min 1) (-o of master.cf service pickup/unix)"]


@given(
    name=st.sampled_from(["smtpd_recipient_limit", "message_size_limit", "maximal_queue_lifetime", "ipc_timeout", "soft_bounce", "myhostname"]), value=st.text()
)
def test_any_value_gets_a_verdict_not_an_exception(name: str, value: str) -> None:
    said = _values.problem(name, value)
    assert said is None or name in said
