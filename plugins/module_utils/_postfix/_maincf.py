# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

# The coding line above is required by the collection's file header convention.
# ruff: noqa: UP009

"""Lossless reader and editor for Postfix ``main.cf`` text.

This is the only place in the collection that understands ``main.cf`` syntax. It works on
strings only: callers read and write the files. Every rule below was checked against the real
``postconf`` binary (Postfix 3.7.11 on Debian 12) and against the upstream sources
(``util/readlline.c``, ``util/split_nameval.c``, ``util/mac_parse.c``, ``util/mac_expand.c``,
``postconf/postconf_edit.c``, ``postconf/postconf_print.c``).

Reading (what ``postconf -n`` / ``postconf -h`` report):

* The file is split at ``\\n`` only. "Whitespace" means the C ``isspace()`` set
  (space, TAB, LF, VT, FF, CR).
* A line that is empty, whitespace-only, or whose first non-whitespace character is ``#`` is
  noise: it is ignored and does NOT end a multi-line entry.
* A line that starts with whitespace (and is not noise) continues the current entry. Its text
  is appended to the entry exactly, without the newline and without a separator. Continuation
  lines before the first entry are ignored (Postfix warns about them).
* Any other line starts a new entry ``name = value``: the name runs up to whitespace or ``=``,
  whitespace around ``=`` and at both ends of the value is dropped. An entry without ``=``
  (``garbage``) or without a name (``= x``) makes every ``postconf`` read fail; such entries are
  reported by :meth:`MainCf.errors` and ignored otherwise.
* With duplicate entries the last one wins.
* ``postconf`` prints values with normalised whitespace: runs of space, TAB, CR, LF become one
  space, leading and trailing ones disappear (VT and FF are kept). :meth:`MainCf.get` and
  :meth:`MainCf.params` return that printed form, :meth:`MainCf.raw` the value the Postfix
  daemons actually use.

Editing (what ``postconf -e``, ``-X`` and ``-#`` write):

* Noise lines are always copied, also inside a multi-line entry that is replaced, removed or
  commented out.
* The key of an entry is its first line up to a space, TAB, CR, LF or ``=`` (not VT/FF).
* ``-e``: every entry with that key (all duplicates) becomes one line ``name = value`` (an empty
  value is written ``name = `` with a trailing space); its continuation lines are dropped.
  Names not present are appended at the end, sorted by name (Postfix >= 3.7.17; 3.7.11 uses
  hash-table order).
* ``-X``: every entry with that key is deleted with its continuation lines.
* ``-#``: every line of every entry with that key (first and continuation lines) gets a ``#``
  prefix.
* A last line without a newline gets one whenever the file is edited (Postfix >= 3.7.15; 3.7.11
  glued appended text onto that line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "MainCf",
    "MainCfError",
    "expand",
    "normalize_whitespace",
    "validate_name",
    "validate_value",
]

# C isspace() in the C locale: what Postfix' ISSPACE() accepts.
_ISSPACE = " \t\n\v\f\r"
# Postfix CHARS_SPACE / PCF_SEPARATORS / MAC_EXP_WHITESPACE: key delimiters of postconf -e,
# whitespace inside ${...}, and the separators that postconf's output normalisation folds.
_CHARS_SPACE = " \t\r\n"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ALNUM_US = _ALNUM | {"_"}
_DIGITS = frozenset("0123456789")
_RELOP_CHARS = "<>!=?+-*/~&|%"
_RELOPS = ("==", "!=", "<", "<=", ">=", ">")
_RELOP_EXPECTED = '"==" or "!="" or "<"" or "<="" or ">="" or ">"'
_LONG_MAX = 2**63 - 1
_NESTING_LIMIT = 100
# Operator suffixes that postconf registers (mac_expand_add_relop): "level" since Postfix 3.6
# (compat_level_relop_register in global/compat_level.c), e.g. ${{$compatibility_level} <level {3.6} ? ...}.
_RELOP_SUFFIXES = ("level",)
# compat_level.c: 10 bits each for minor and patch, the rest of a C long for the major number.
_COMPAT_FIELD_BITS = 10
_COMPAT_MAJOR_MAX = _LONG_MAX >> (2 * _COMPAT_FIELD_BITS)
# What strtol(3) reads as a whole field in base 10: leading white space, a sign, digits.
_STRTOL_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_SEPARATORS_RE = re.compile(r"[ \t\r\n]+")
_KEY_RE = re.compile(r"[^ \t\r\n=]*")

_NOISE = 0
_START = 1
_CONTINUATION = 2

_SET = 0
_REMOVE = 1
_COMMENT = 2


class MainCfError(ValueError):
    """A parameter name, value or expression that Postfix would refuse or choke on."""


def _lstrip_len(text: str, chars: str, start: int = 0) -> int:
    """Index of the first character at or after start that is not in chars."""
    end = len(text)
    pos = start
    while pos < end and text[pos] in chars:
        pos += 1
    return pos


def _classify(line: str) -> int:
    """Classify a physical line (with or without its newline) like postconf does."""
    pos = _lstrip_len(line, _ISSPACE)
    if pos == len(line) or line[pos] == "#":
        return _NOISE
    if pos > 0:
        return _CONTINUATION
    return _START


def _edit_key(line: str) -> str:
    """The name that postconf -e/-X/-# matches on a first line: strcspn(line, CHARS_SPACE "=")."""
    match = _KEY_RE.match(line)
    return match.group(0) if match else ""


def _split_nameval(text: str) -> tuple[str, str] | str:
    """Postfix split_nameval(): (name, value) or an error message."""
    pos = _lstrip_len(text, _ISSPACE)
    if pos == len(text) or text[pos] == "=":
        return "missing attribute name"
    end = pos
    while end < len(text) and text[end] not in _ISSPACE and text[end] != "=":
        end += 1
    equals = _lstrip_len(text, _ISSPACE, end)
    if equals == len(text) or text[equals] != "=":
        return "missing '=' after attribute name"
    return text[pos:end], text[equals + 1 :].strip(_ISSPACE)


def normalize_whitespace(value: str) -> str:
    """Whitespace as postconf prints it: runs of space/TAB/CR/LF become one space, ends trimmed."""
    return " ".join(word for word in _SEPARATORS_RE.split(value) if word)


def validate_name(name: str) -> None:
    """Raise MainCfError unless name is a parameter name this collection will write.

    postconf -e itself accepts any text without whitespace or ``=`` that does not start with
    ``#``; this is stricter: letters, digits and underscores, plus ``-`` and ``.`` after the
    first character (master.cf service names in per-service parameters such as
    ``smtp-amavis_destination_recipient_limit``).
    """
    if not isinstance(name, str):
        raise MainCfError(f"parameter name must be a string, not {type(name).__name__}")
    if not name:
        raise MainCfError("parameter name must not be empty")
    if not _NAME_RE.match(name):
        raise MainCfError(
            f"invalid parameter name {name!r}: use letters, digits and '_' (and '-' or '.' after the first character); no whitespace, '=', '#' or '$'"
        )


def validate_value(value: str) -> None:
    """Raise MainCfError for values that postconf -e refuses or that would break every read.

    Refused: non-strings, newlines (``postconf: fatal: -e, -X, or -# accepts no multi-line
    input``), NUL characters (cannot be passed to postconf) and ``$`` expressions with a syntax
    error (``a $ b``, ``${x``, ``${x?{a}y}``...). postconf -e writes the latter, but then every
    ``postconf`` read and the Postfix daemons fail with ``macro processing error``. The check
    looks at both branches of every conditional, so it also catches errors that would only
    show up later, once another parameter changes. Leading and trailing whitespace is allowed;
    it is dropped when the value is written, as postconf -e does. A compatibility level compared
    with ``<level`` and the like is checked where it is a constant; one that comes from a
    parameter (``$compatibility_level``) is known only when the value is expanded (expand()).
    """
    if not isinstance(value, str):
        raise MainCfError(f"parameter value must be a string, not {type(value).__name__}")
    if "\n" in value:
        raise MainCfError(f"parameter value must be a single line (postconf -e accepts no multi-line input): {value!r}")
    if "\0" in value:
        raise MainCfError(f"parameter value must not contain a NUL character: {value!r}")
    try:
        _Expander(lambda _name: None, scan=True).run(value)
    except MainCfError as exc:
        raise MainCfError(f"invalid $ expression in value {value!r}: {exc}") from None


class _Entry:
    """One logical line: a first line plus continuation lines (noise lines may sit in between)."""

    __slots__ = ("error", "name", "offset", "parts", "text", "value")

    def __init__(self, offset: int, content: str, name: str | None, value: str) -> None:
        self.offset = offset  # where its first physical line starts in the text
        self.parts = [content]  # line contents without their newlines
        self.text = content  # logical line as readlline() builds it: the parts glued together
        self.name = name or ""
        self.value = value
        self.error = ""

    def finish(self) -> None:
        """Split the logical line (after continuation lines were added, or for a first line that is not ``name = value``)."""
        self.text = "".join(self.parts)
        result = _split_nameval(self.text)
        if isinstance(result, str):
            self.error = result
            self.name = self.value = ""
        else:
            self.name, self.value = result
            self.error = ""


# Every physical line that does not start with "#" or end at once (noise: blank or a comment),
# found by the regular expression engine, so that the long comment blocks of a stock main.cf cost
# no Python code per line (Postfix readlline()); matched on the text with a newline in front.
_CANDIDATE_RE = re.compile(r"\n([^#\n][^\n]*)")
# A first line "name = value" (split_nameval()); other first lines are errors unless continuation
# lines complete them.
_NAMEVAL_RE = re.compile(r"([^ \t\n\v\f\r=]+)[ \t\v\f\r]*=(.*)", re.DOTALL)


def _simple_values(text: str) -> dict[str, str] | None:
    """The values of a text whose logical lines are all ``name = value`` (the usual main.cf), read
    without building entries: a continuation line extends the value of the line before it, as
    readlline() glues them (the name is on the first line, so it does not change). None for any
    other text (a malformed first line, a continuation line before the first), which
    MainCf._parse() reads entry by entry."""
    values: dict[str, str] = {}
    name = ""
    value = ""
    glued = False
    for line in _CANDIDATE_RE.findall("\n" + text):
        if line[0] in _ISSPACE:
            rest = line.lstrip(_ISSPACE)
            if not rest or rest[0] == "#":
                continue  # noise
            if not name:
                return None  # a continuation line before the first entry
            value += line
            glued = True
            continue
        if glued:
            values[name] = value.strip(_ISSPACE)
            glued = False
        nameval = _NAMEVAL_RE.match(line)
        if nameval is None:
            return None
        name, value = nameval.group(1), nameval.group(2)
        values[name] = value.strip(_ISSPACE)
    if glued:
        values[name] = value.strip(_ISSPACE)
    return values


class MainCf:
    """An immutable, lossless model of a main.cf text."""

    __slots__ = ("_entry_list", "_text", "_values")

    def __init__(self, text: str = "") -> None:
        """Same as MainCf.parse(text)."""
        self._text = text
        self._entry_list: list[_Entry] | None = None
        values = _simple_values(text)
        if values is None:
            self._parse()
        else:
            self._values = values

    def _parse(self) -> list[_Entry]:
        """The logical lines (Postfix readlline()) and the values of those that are ``name = value``."""
        entries: list[_Entry] = []
        rework: list[_Entry] = []
        current: _Entry | None = None
        for match in _CANDIDATE_RE.finditer("\n" + self._text):
            line = match.group(1)
            if line[0] in _ISSPACE:
                rest = line.lstrip(_ISSPACE)
                if not rest or rest[0] == "#" or current is None:
                    continue  # noise, or a continuation line before any first line
                if len(current.parts) == 1 and not current.error:
                    rework.append(current)
                current.parts.append(line)
                continue
            nameval = _NAMEVAL_RE.match(line)
            if nameval is None:
                current = _Entry(match.start(), line, None, "")
                current.error = "?"
                rework.append(current)
            else:
                current = _Entry(match.start(), line, nameval.group(1), nameval.group(2).strip(_ISSPACE))
            entries.append(current)
        for entry in rework:
            entry.finish()
        self._entry_list = entries
        self._values = {entry.name: entry.value for entry in entries if not entry.error}
        return entries

    @property
    def _entries(self) -> list[_Entry]:
        """The logical lines, parsed when first needed (reading values does not need them)."""
        entries = self._entry_list
        return self._parse() if entries is None else entries

    @property
    def _lines(self) -> list[str]:
        """The physical lines, each with its newline (the last one may lack it)."""
        parts = self._text.split("\n")
        lines = [part + "\n" for part in parts[:-1]]
        if parts[-1]:
            lines.append(parts[-1])
        return lines

    def _line_number(self, entry: _Entry) -> int:
        return self._text.count("\n", 0, entry.offset) + 1

    @classmethod
    def parse(cls, text: str) -> MainCf:
        """Parse any string; never fails. ``MainCf.parse(t).render() == t`` for every ``t``."""
        return cls(text)

    def render(self) -> str:
        """The text, byte for byte."""
        return self._text

    def __repr__(self) -> str:
        return f"MainCf.parse({self.render()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MainCf):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self.render())

    # Reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """What ``postconf -c DIR -h -n NAME`` prints (without the newline); None when not set."""
        value = self._values.get(name)
        return None if value is None else normalize_whitespace(value)

    def raw(self, name: str) -> str | None:
        """The value the Postfix daemons see (continuations joined as written, inner whitespace kept)."""
        return self._values.get(name)

    def has(self, name: str) -> bool:
        """Whether the parameter is set explicitly (by a valid entry)."""
        return name in self._values

    def params(self) -> dict[str, str]:
        """Every explicitly set parameter -> value as ``postconf -n`` prints it, sorted by name.

        ``postconf -n`` itself omits names Postfix does not know and nothing refers to (it warns
        ``unused parameter``) and read-only ones such as ``process_id``; they are included here.
        """
        return {name: normalize_whitespace(self._values[name]) for name in sorted(self._values)}

    def raw_params(self) -> dict[str, str]:
        """Like params(), with the values as the daemons see them (see raw())."""
        return {name: self._values[name] for name in sorted(self._values)}

    def errors(self) -> list[str]:
        """Problems that make Postfix refuse this file, with postconf's wording.

        Entries that are not ``name = value`` (every postconf read fails on them), and values with
        a ``$`` expression syntax error (checked in all branches, see validate_value()). NUL
        characters are reported too: Postfix' C string handling truncates at them.
        """
        problems: list[str] = []
        for entry in self._entries:
            if entry.error:
                problems.append(f'line {self._line_number(entry)}: {entry.error}: "{entry.text}"')
                continue
            if "\0" in entry.text:
                problems.append(f"line {self._line_number(entry)}: {entry.name}: NUL character in entry")
                continue
            try:
                _Expander(lambda _name: None, scan=True).run(entry.value)
            except MainCfError as exc:
                problems.append(f"line {self._line_number(entry)}: {entry.name}: {exc}")
        return problems

    def changed_names(self, other: MainCf) -> list[str]:
        """Sorted names whose value (as the daemons see it) differs, including set vs. unset."""
        names = set(self._values) | set(other._values)
        return sorted(name for name in names if self._values.get(name) != other._values.get(name))

    # Editing ---------------------------------------------------------------------------------

    def edit(
        self,
        set_values: Mapping[str, str] | None = None,
        remove: Iterable[str] = (),
        comment_out: Iterable[str] = (),
    ) -> MainCf:
        """Return a new MainCf edited like ``postconf -e`` (set_values), ``-X`` (remove), ``-#`` (comment_out).

        set_values behaves like ONE ``postconf -e n1=v1 n2=v2 ...`` call; values are stripped of
        leading and trailing whitespace like postconf does. A name may appear in only one of the
        three arguments (the three operations then commute). All names and values are validated
        first; on MainCfError nothing is changed. With nothing to do, the text is returned as is.
        """
        actions: dict[str, tuple[int, str]] = {}
        if set_values is not None:
            if not isinstance(set_values, Mapping):
                raise MainCfError("set_values must be a mapping of parameter names to values")
            for name, value in set_values.items():
                validate_name(name)
                validate_value(value)
                actions[name] = (_SET, value.strip(_ISSPACE))
        for names, action, label in ((remove, _REMOVE, "remove"), (comment_out, _COMMENT, "comment_out")):
            if isinstance(names, (str, bytes)):
                raise MainCfError(f"{label} must be a list of parameter names, not a single string")
            for name in names:
                validate_name(name)
                previous = actions.get(name)
                if previous is not None and previous[0] != action:
                    raise MainCfError(f"parameter {name!r} is given to more than one of set, remove and comment out")
                actions[name] = (action, "")
        if not actions:
            return MainCf(self.render())

        out: list[str] = []
        found: set[str] = set()
        current: int | None = None  # action for the entry being copied; None: keep it
        for line in self._lines:
            if not line.endswith("\n"):
                line += "\n"
            kind = _classify(line)
            if kind == _NOISE:
                out.append(line)
            elif kind == _CONTINUATION:
                if current is None:
                    out.append(line)
                elif current == _COMMENT:
                    out.append("#" + line)
            else:
                key = _edit_key(line)
                todo = actions.get(key)
                current = None if todo is None else todo[0]
                if todo is None:
                    out.append(line)
                elif todo[0] == _SET:
                    found.add(key)
                    out.append(f"{key} = {todo[1]}\n")
                elif todo[0] == _COMMENT:
                    out.append("#" + line)
        for name in sorted(actions):
            action, value = actions[name]
            if action == _SET and name not in found:
                out.append(f"{name} = {value}\n")
        return MainCf("".join(out))


# Parameter expansion ---------------------------------------------------------------------------


class _Expander:
    """A port of Postfix 3.7 mac_parse() + mac_expand() with MAC_EXP_FLAG_RECURSE (or MAC_EXP_FLAG_SCAN)."""

    __slots__ = ("level", "lookup", "result", "scan")

    def __init__(self, lookup: Callable[[str], str | None], scan: bool = False) -> None:
        self.lookup = lookup
        self.scan = scan
        self.level = 0
        self.result: list[str] = []

    def run(self, pattern: str) -> str:
        try:
            self._parse(pattern)
        except RecursionError:
            raise MainCfError(f"unreasonable macro call nesting: {pattern!r}") from None
        return "".join(self.result)

    def _sub(self, pattern: str) -> str:
        """A separate mac_expand() call (relational operands): fresh nesting level."""
        return _Expander(self.lookup, self.scan).run(pattern)

    def _parse(self, value: str) -> None:
        """mac_parse(): split into literal text and $name / ${...} / $(...) references."""
        literal: list[str] = []
        end = len(value)
        pos = 0
        while pos < end:
            char = value[pos]
            if char != "$":
                literal.append(char)
                pos += 1
                continue
            if pos + 1 < end and value[pos + 1] == "$":
                literal.append("$")
                pos += 2
                continue
            if literal:
                self._callback(False, "".join(literal))
                literal = []
            pos += 1
            if pos < end and value[pos] in "({":
                opening = value[pos]
                closing = ")" if opening == "(" else "}"
                level = 1
                pos += 1
                scan = pos
                while level > 0:
                    if scan >= end:
                        raise MainCfError(f'truncated macro reference: "{value}"')
                    if value[scan] == opening:
                        level += 1
                    elif value[scan] == closing:
                        level -= 1
                    scan += 1
                name = value[pos : scan - 1]
                pos = scan
            else:
                scan = pos
                while scan < end and value[scan] in _ALNUM_US:
                    scan += 1
                name = value[pos:scan]
                pos = scan
            if not name:
                raise MainCfError(f'empty macro name: "{value}"')
            self._callback(True, name)
        if literal:
            self._callback(False, "".join(literal))

    @staticmethod
    def _curly(buf: str, pos: int) -> tuple[str, int] | None:
        """MAC_EXP_FIND_LEFT_CURLY + mac_exp_extract_curly_payload: (payload, next position) or None."""
        start = _lstrip_len(buf, _CHARS_SPACE, pos)
        if start >= len(buf) or buf[start] != "{":
            return None
        level = 1
        scan = start + 1
        while True:
            if scan >= len(buf):
                raise MainCfError(f'unbalanced {{}} in attribute expression: "{buf[start:]}"')
            if buf[scan] == "{":
                level += 1
            elif buf[scan] == "}":
                level -= 1
                if level <= 0:
                    break
            scan += 1
        return buf[start + 1 : scan], _lstrip_len(buf, _CHARS_SPACE, scan + 1)

    def _relational(self, buf: str, pos: int) -> tuple[str | None, int]:
        """mac_exp_parse_relational(): {left} OP {right}."""
        left_part = self._curly(buf, pos)
        if left_part is None:  # pragma: no cover - the caller checked for '{'
            raise MainCfError("internal error: '{' expected")
        left, pos = left_part
        op_end = _lstrip_len(buf, _RELOP_CHARS, pos)
        operator = buf[pos:op_end]
        if operator not in _RELOPS:
            raise MainCfError(f'{_RELOP_EXPECTED} expected at: "...{left}}}>>>{buf[pos : pos + 20]}"')
        suffix = ""
        if op_end < len(buf) and buf[op_end] in _ALNUM:
            suffix_end = op_end
            while suffix_end < len(buf) and buf[suffix_end] in _ALNUM:
                suffix_end += 1
            suffix = buf[op_end:suffix_end]
            if suffix not in _RELOP_SUFFIXES:
                raise MainCfError(f'bad operator suffix at: "...{operator}>>>{suffix}"')
            op_end = suffix_end
        right_part = self._curly(buf, op_end)
        if right_part is None:
            raise MainCfError(f'"{{expression}}" expected at: "...{{{left}}} {operator}>>>{buf[op_end : op_end + 20]}"')
        right, pos = right_part
        left_value = self._sub(left)
        right_value = self._sub(right)
        if self.scan:
            if suffix == "level":
                # a constant level is wrong whatever the parameters say; one with $name is known only
                # when Postfix expands it (postconf -e and the scan of mac_expand() do not evaluate)
                for operand in (left, right):
                    if "$" not in operand:
                        _compat_level(operand)
            return None, pos
        if suffix == "level":
            return ("true" if _compare_levels(left_value, operator, right_value) else ""), pos
        return ("true" if _compare(left_value, operator, right_value) else ""), pos

    def _callback(self, is_expr: bool, buf: str) -> None:
        """mac_expand_callback()."""
        if self.level > _NESTING_LIMIT:
            raise MainCfError(f'unreasonable macro call nesting: "{buf}"')
        self.level += 1
        if not is_expr:
            if not self.scan:
                self.result.append(buf)
            self.level -= 1
            return

        end = len(buf)
        pos = _lstrip_len(buf, _CHARS_SPACE)
        lookup: str | None
        if pos < end and buf[pos] == "{":
            lookup, pos = self._relational(buf, pos)
            operator = buf[pos] if pos < end else ""
            if operator:
                if operator not in "?:":
                    raise MainCfError(f'"?" or ":" expected at: "...}}>>>{buf[pos : pos + 20]}"')
                pos += 1
        else:
            start = pos
            while True:
                after = _lstrip_len(buf, _CHARS_SPACE, pos)
                operator = buf[after] if after < end else ""
                if not operator:
                    name = buf[start:pos]
                    break
                if operator in "?:":
                    name = buf[start:pos]
                    pos = after + 1
                    break
                if buf[pos] not in _ALNUM_US:
                    raise MainCfError(f'attribute name syntax error at: "...{buf[:pos]}>>>{buf[pos : pos + 20]}"')
                pos += 1
            lookup = None if self.scan else self.lookup(name)

        if operator == "?":
            part = self._curly(buf, pos)
            if part is None:
                if_true, pos = buf[pos:], end
            else:
                if_true, pos = part
            if lookup or self.scan:
                self._parse(if_true)
            if pos < end:
                if buf[pos] != ":":
                    raise MainCfError(f'":" expected at: "...{if_true}}}>>>{buf[pos : pos + 20]}"')
                operator = ":"
                pos += 1
                self._if_false(buf, pos, lookup)
        elif operator == ":":
            self._if_false(buf, pos, lookup)
        elif lookup and not self.scan:
            self._parse(lookup)
        self.level -= 1

    def _if_false(self, buf: str, pos: int, lookup: str | None) -> None:
        part = self._curly(buf, pos)
        if part is None:
            if_false, pos = buf[pos:], len(buf)
        else:
            if_false, pos = part
        if not lookup or self.scan:
            self._parse(if_false)
        if pos < len(buf):
            raise MainCfError(f'unexpected input at: "...{if_false}}}>>>{buf[pos : pos + 20]}"')


def _to_long(text: str) -> int:
    if len(text.strip().lstrip("+-").lstrip("0")) > 20:  # beyond a C long; int() refuses very long digit strings
        raise MainCfError(f"mac_exp_eval: bad conversion: {text}")
    number = int(text)
    if number > _LONG_MAX:
        raise MainCfError(f"mac_exp_eval: bad conversion: {text}")
    return number


def _compat_level(text: str) -> int:
    """compat_level_from_string(): ``major[.minor[.patch]]`` as one comparable number (each part
    as strtol() reads it: leading whitespace and a sign allowed, nothing after the digits)."""
    parts = text.split(".")
    limits = (_COMPAT_MAJOR_MAX, 2**_COMPAT_FIELD_BITS - 1, 2**_COMPAT_FIELD_BITS - 1)
    number = 0
    if len(parts) <= 3:
        for index, part in enumerate(parts):
            match = _STRTOL_RE.fullmatch(part)
            if not match or len(match.group(1).lstrip("+-").lstrip("0")) > 12 or not 0 <= int(match.group(1)) <= limits[index]:
                break
            number |= int(match.group(1)) << (_COMPAT_FIELD_BITS * (2 - index))
        else:
            return number
    raise MainCfError(f'malformed compatibility level syntax: "{text}"')


def _compare_levels(left: str, operator: str, right: str) -> bool:
    """compat_relop_eval(): compare two compatibility levels (3.10 is above 3.2)."""
    return _relop(_compat_level(left) - _compat_level(right), operator)


def _relop(delta: int, operator: str) -> bool:
    if operator == "==":
        return delta == 0
    if operator == "!=":
        return delta != 0
    if operator == "<":
        return delta < 0
    if operator == "<=":
        return delta <= 0
    if operator == ">=":
        return delta >= 0
    return delta > 0


def _compare(left: str, operator: str, right: str) -> bool:
    """mac_exp_eval(): numeric when both sides are all digits, else strcmp() on the bytes."""
    delta: int
    if left and right and all(c in _DIGITS for c in left) and all(c in _DIGITS for c in right):
        delta = _to_long(left) - _to_long(right)
    else:
        left_bytes = left.encode("utf-8", "surrogateescape")
        right_bytes = right.encode("utf-8", "surrogateescape")
        delta = (left_bytes > right_bytes) - (left_bytes < right_bytes)
    return _relop(delta, operator)


def expand(value: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$name`` references the way ``postconf -x`` does (Postfix 3.7 mac_expand).

    Supports ``$name``, ``${name}``, ``$(name)``, ``$$`` (a literal ``$``), ``${name?text}``,
    ``${name:text}``, ``${name?{text}}``, ``${name:{text}}``, ``${name?{text1}:{text2}}``,
    ``${name?{text1}:text2}`` and relational expressions ``${{text1} OP {text2}}`` /
    ``${{text1} OP {text2}?{text3}:{text4}}`` with OP one of ``== != < <= >= >`` (numeric when both
    sides are all digits) or, as in Postfix 3.6 and later, one of them with the suffix ``level``
    (``<level``: compatibility levels compared per component, so 3.10 is above 3.2; a malformed
    level is an error). ``lookup(name)`` returns the raw value of a parameter or None when it
    is undefined (expands to nothing); looked-up values are expanded recursively. Raises
    MainCfError where postconf fails with ``macro processing error`` (syntax errors, more than
    100 nested expansions such as ``a = $b``, ``b = $a``, numbers beyond 2**63-1 in a comparison).
    The result keeps its whitespace; postconf prints normalize_whitespace() of it. Note that
    ``postconf -x`` prints some parameters unexpanded (``smtpd_reject_footer`` and other
    parameters whose ``$`` macros are only filled in at run time); do not expand those.
    """
    if "$" not in value:  # mac_parse() copies text without a $ as it is
        return value
    return _Expander(lookup).run(value)
