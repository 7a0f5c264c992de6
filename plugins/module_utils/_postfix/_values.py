# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Whether Postfix's programs would accept a main.cf value when they start.

``postfix check`` reads only the parameters that postfix(1) itself uses: a number, a time or a
boolean that only smtpd(8), qmgr(8) or local(8) reads is converted when that program starts, and a
bad one stops it there (``fatal: bad numerical configuration: smtpd_recipient_limit = abc``), after
the instance was enabled and started. This module converts a value the way those programs do,
from the tables in _paramtable (generated from Postfix's sources):

- int, long: the whole value is a decimal number (strtol() with nothing left over, within the C
  type's range), src/global/mail_conf_int.c and mail_conf_long.c;
- bool: ``yes`` or ``no`` in any case, mail_conf_bool.c;
- time: a number, optionally followed by a unit letter (w, d, h, m, s; only the first letter
  after the number counts), else the parameter's default unit; not negative, not overflowing an
  int in seconds, mail_conf_time.c and conv_time.c;
- str: a length within the bounds some tables give (``myhostname`` must not be empty),
  mail_conf_str.c;

then checks the table's bounds (0: none). The problems are Postfix's own fatal messages.

Only literal values are judged: a value with a ``$`` is expanded by each program with what it
knows (``-o`` settings in master.cf included), which no single expansion here can reproduce.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paramtable import TABLE

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
TIME_UNITS = {"w": 7 * 24 * 3600, "d": 24 * 3600, "h": 3600, "m": 60, "s": 1}
# strtol(): leading white space (C isspace()), an optional sign, decimal digits
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")


class Spec(t.NamedTuple):
    kind: str  # int, long, time, bool, str
    low: int  # 0: no lower bound (for str: of the length in bytes)
    high: int  # 0: no upper bound
    unit: str  # time: the unit of a bare number ("" when the default does not say)


_SPECS: dict[str, Spec] = {}


def spec(name: str) -> Spec | None:
    """How Postfix's programs read ``name``; None for a parameter they read as free text (or not at all)."""
    if not _SPECS:
        for line in TABLE.split("\n"):
            fields = line.split()
            if len(fields) == 5:
                _SPECS[fields[0]] = Spec(fields[1], int(fields[2]), int(fields[3]), "" if fields[4] == "-" else fields[4])
    return _SPECS.get(name)


def _strtol(value: str) -> tuple[int | None, str]:
    """(the number strtol() reads at the start of ``value`` or None, what is left after it)."""
    found = _STRTOL.match(value)
    if found is None:
        return None, value
    digits = found.group(1)
    if len(digits.lstrip("+-").lstrip("0")) > 20:  # beyond any C long (ERANGE); int() refuses very long digit strings
        return (LONG_RANGE[0] - 1 if digits.startswith("-") else LONG_RANGE[1] + 1), value[found.end() :]
    return int(digits), value[found.end() :]


def _number(name: str, value: str, kind: Spec) -> str | None:
    number, rest = _strtol(value)
    low, high = INT_RANGE if kind.kind == "int" else LONG_RANGE
    if number is None or rest or not low <= number <= high:
        return f"bad numerical configuration: {name} = {value}"
    if kind.low and number < kind.low:
        return f"invalid {name} parameter value {number} < {kind.low}"
    if kind.high and number > kind.high:
        return f"invalid {name} parameter value {number} > {kind.high}"
    return None


def _time(name: str, value: str, kind: Spec) -> str | None:
    bad = f"parameter {name}: bad time value or unit: {value}"
    number, rest = _strtol(value)
    if number is None:  # strtol() converts nothing: 0, and the unit is the first character
        number, rest = 0, value
    if value == "" or number < 0 or not LONG_RANGE[0] <= number <= LONG_RANGE[1] or number > INT_RANGE[1]:
        return bad
    unit = rest[:1] or kind.unit
    if not unit:
        return None  # a bare number, and no default unit known: the program decides
    if unit not in TIME_UNITS:
        return bad
    if unit != "s" and number >= INT_RANGE[1] // TIME_UNITS[unit]:
        return bad
    seconds = number * TIME_UNITS[unit]
    if kind.low and seconds < kind.low:
        return f"invalid {name}: {seconds} (min {kind.low})"
    if kind.high and seconds > kind.high:
        return f"invalid {name}: {seconds} (max {kind.high})"
    return None


def problem(name: str, value: str) -> str | None:
    """Postfix's fatal message for ``name = value`` (a literal value), or None when its programs accept it."""
    kind = spec(name)
    if kind is None or "$" in value:
        return None
    if kind.kind in ("int", "long"):
        return _number(name, value, kind)
    if kind.kind == "time":
        return _time(name, value, kind)
    if kind.kind == "bool":
        return None if value.lower() in ("yes", "no") else f"bad boolean configuration: {name} = {value}"
    length = len(value.encode("utf-8", "surrogateescape"))
    if kind.low and length < kind.low:
        return f"bad string length {length} < {kind.low}: {name} = {value}"
    if kind.high and length > kind.high:
        return f"bad string length {length} > {kind.high}: {name} = {value}"
    return None


def problems(values: t.Mapping[str, str], names: t.Iterable[str]) -> list[str]:
    """Postfix's fatal messages for the ``names`` among ``values`` (name -> value as the programs read it)."""
    found = []
    for name in names:
        if name in values:
            said = problem(name, values[name])
            if said:
                found.append(said)
    return found
