# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Lossless reader and editor for Postfix ``master.cf`` text.

This is the only place in the collection that understands ``master.cf`` syntax. It works on
strings only: callers read and write the files. The rules are those of ``postconf -M`` in
Postfix 3.7 (``postconf/postconf_master.c``, ``postconf/postconf_edit.c``,
``util/readlline.c``, ``util/mystrtok.c``, ``util/extpar.c``), checked against the real binary
by the differential tests.

Reading (what ``postconf -c DIR -M`` shows):

* Logical lines are built exactly as for ``main.cf`` (see ``_maincf``): noise lines (empty,
  whitespace-only, ``#`` comments) are skipped without ending an entry, a line starting with
  whitespace continues the entry, its text glued on without a separator.
* An entry is split into fields at runs of space, TAB, CR and LF; ``{...}`` groups (balanced
  braces anywhere in a field) keep their blanks. Fewer than 8 fields is fatal (``bad field
  count``); so are an unknown type, a ``private``/``unprivileged``/``chroot`` field other than
  ``y``, ``n`` or ``-``, a wakeup other than ``-`` or digits with an optional ``?``, and a
  process limit other than ``-`` or digits. One fatal entry makes every ``postconf`` call for
  the instance fail.
* The arguments after the command are normalised: ``-vox=y`` becomes ``-v -o x=y``, the value
  of ``-o`` loses its braces and, when it was braced, the blanks around ``=``; other braced
  arguments lose their braces and outer blanks. Unbalanced braces, text after a closing brace
  and ``-o`` values that are not ``name=value`` only draw warnings from postconf;
  :meth:`MasterCf.warnings` reports them (the module refuses to write them).
* An entry is identified by service name and type. Duplicates are all shown.

Writing (what ``postconf -c DIR -M 'name/type=...'`` and ``-MX name/type`` write):

* The first entry with that name and type is replaced in place by the new entry in postconf's
  layout (columns at 0, 11, 17, 25, 33, 41, 49, 57; each option with a value on its own line
  indented 4 spaces; other arguments wrapped at 80 columns); its continuation lines and every
  later entry with the same name and type are dropped; noise lines stay where they are. A new
  entry is appended at the end. ``-MX`` deletes every matching entry with its continuation
  lines.
* Deliberate difference: postconf 3.7 prints the first non-option argument without its braces
  even when it contains blanks (``cmd {a b}`` is written back as ``cmd a b``, two arguments);
  :meth:`MasterEntry.render` keeps the braces, which every Postfix reads as one argument.
* A last line without a newline gets one whenever the file is edited (as Postfix >= 3.7.15 does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import (
    _CONTINUATION,
    _NOISE,
    _START,
    _classify,
)

__all__ = [
    "BOOL_FIELDS",
    "FIELD_NAMES",
    "FLAG_VALUES",
    "NUMBER_MAX",
    "SERVICE_TYPES",
    "SOCKET_TYPES",
    "SUN_PATH_SIZE",
    "MasterCf",
    "MasterCfError",
    "MasterEntry",
    "control_problem",
    "maxproc_problem",
    "socket_path_problem",
    "split_command",
    "wakeup_problem",
]

# PCF_MASTER_BLANKS: field separators (not VT and FF).
BLANKS = " \t\r\n"
SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
FIELD_NAMES = ("service", "type", "private", "unprivileged", "chroot", "wakeup", "maxproc", "command")
BOOL_FIELDS = ("private", "unprivileged", "chroot")
# What the BOOL_FIELDS may hold (postconf's pcf_valid_bool_types; master(8): exactly y, n or - for the default).
FLAG_VALUES = ("y", "n", "-")
# master(8) reads the wakeup time and the process limit with atoi() (master_ent.c get_int_ent):
# a larger number wraps around (on 64-bit Linux 2147483648 is fatal, 4294967296 becomes 0: no limit).
NUMBER_MAX = 2147483647
# The types whose listener is a UNIX-domain socket that master(8) creates relative to the queue
# directory (it runs with the queue directory as its working directory, master/master.c: chdir
# var_queue_dir). master/master_ent.c names it mail_pathname(private ? "private" : "public", name)
# (global/mail_pathname.c: "private/NAME" or "public/NAME"; the private field defaults to y), and
# master/master_listen.c hands it to LOCAL_LISTEN (unix_listen on Linux, util/sys_defs.h) for unix
# and pass, to unix_dgram_listen for unix-dgram. Both refuse a path that does not fit in sun_path
# with its terminating NUL (util/unix_listen.c: "if (len >= sizeof(sun.sun_path)) msg_fatal(
# "unix-domain name too long: %s", addr)"; util/unix_dgram_listen.c alike), which stops master(8):
# the instance does not start. (fifo services are FIFOs, created with mkfifo(), without this limit.)
SOCKET_TYPES = ("unix", "unix-dgram", "pass")
# sizeof(struct sockaddr_un.sun_path) on Linux (<sys/un.h>: char sun_path[108]); the BSDs have 104.
SUN_PATH_SIZE = 108
# postconf's names for the fields in its messages (pcf_str_field_pattern).
_MESSAGE_NAMES = ("service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command")
_MIN_FIELDS = 8
_COLUMN_GOALS = (0, 11, 17, 25, 33, 41, 49, 57)
_LINE_LIMIT = 80
_INDENT = "    "
# Daemon options that take a value (pcf_daemon_options_expecting_value).
_VALUE_OPTIONS = "o"
_BLANK_RE = re.compile(r"[ \t\r\n]")
_WAKEUP_RE = re.compile(r"(?:-|[0-9]*)\??\Z")  # what postconf accepts ("?" and "-?" included)
_WAKEUP_STRICT_RE = re.compile(r"(?:-|[0-9]+\??)\Z")  # what this collection writes
_MAXPROC_RE = re.compile(r"(?:-|[0-9]+)\Z")
# Service names this collection writes: inet "host:port" / "[::1]:port" / "port", unix names.
_SERVICE_RE = re.compile(r"[A-Za-z0-9_\[][A-Za-z0-9_.:\[\]@+%-]*\Z")
_ISSPACE = " \t\n\v\f\r"
# Control characters (Unicode category Cc: C0, DEL, C1): no master.cf field may hold them.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


class MasterCfError(ValueError):
    """A master.cf entry or edit that Postfix would refuse or misread."""


def wakeup_problem(value: str) -> str | None:
    """Why the wakeup field ``value`` would be refused or misread (None: it is fine), with the remedy.

    Accepted is what postconf and master(8) both accept and read alike: postconf also takes ``?``
    and ``-?``, which master(8) refuses (a number must start with a digit), and master(8) would read
    ``60x``, which postconf refuses, as 60. The message starts with postconf's wording.
    """
    if _WAKEUP_STRICT_RE.match(value) and (value == "-" or (len(value.rstrip("?").lstrip("0")) <= 10 and int(value.rstrip("?")) <= NUMBER_MAX)):
        return None
    return (
        f'invalid wakeup field "{value}": give a number of seconds up to {NUMBER_MAX}, optionally followed by ? '
        "(no wake-up before the service is first used), or - (the default, 0: never woken up)"
    )


def maxproc_problem(value: str) -> str | None:
    """Why the process limit field ``value`` would be refused or misread (None: it is fine), with the remedy."""
    if _MAXPROC_RE.match(value) and (value == "-" or (len(value.lstrip("0")) <= 10 and int(value) <= NUMBER_MAX)):
        return None
    return f'invalid process_limit field "{value}": give a number of processes up to {NUMBER_MAX} (0: no limit), or - (the default, $default_process_limit)'


def control_problem(name: str, value: str) -> str | None:
    """Why the master.cf field ``name`` cannot hold ``value`` because of control characters (None: it has none).

    master(8) and postconf split entries at TAB, CR and LF and read the other control characters as
    part of a word (a service name, a flag, a number, a program name or an argument), where they
    are never meant; a carriage return from a file edited on Windows is the usual one."""
    found = list(dict.fromkeys(_CONTROL_RE.findall(value)))
    if not found:
        return None
    shown = ", ".join(f"U+{ord(char):04X}" for char in found)
    return f"{name} {value!r} contains the control character(s) {shown}, which master.cf fields cannot hold: remove them" + (
        " (separate the arguments with spaces)" if name == "command" else ""
    )


def socket_path_problem(service: str, kind: str, private: str) -> str | None:
    """Why master(8) could not create the socket of this service (None: it can, or it is no socket), with the remedy.

    See SOCKET_TYPES: the path ``private/NAME`` (private field y or -) or ``public/NAME`` (n) must be
    shorter than SUN_PATH_SIZE bytes."""
    if kind not in SOCKET_TYPES:
        return None
    directory = "public" if private == "n" else "private"
    path = f"{directory}/{service}"
    size = len(path.encode("utf-8", "surrogateescape"))
    if size < SUN_PATH_SIZE:
        return None
    return (
        f"{service}/{kind}: the service name is too long for a {kind} socket: master(8) creates it as {directory}/NAME in the "
        f"queue directory, {size} bytes, and a UNIX-domain socket name holds at most {SUN_PATH_SIZE - 1} bytes (master(8) would "
        f"stop with: fatal: unix-domain name too long); give a service name of at most {SUN_PATH_SIZE - 1 - len('private/')} "
        f"bytes ({SUN_PATH_SIZE - 1 - len('public/')} with private n)"
    )


def _option_problems(command: Sequence[str]) -> list[str]:
    """Daemon options of a normalised command that the daemon would stop on.

    Every Postfix daemon reads ``-o`` with split_nameval() and stops when that fails
    (master/single_server.c, multi_server.c, event_server.c, trigger_server.c, dgram_server.c:
    ``msg_fatal("invalid \"-o %s\" option value: %s", optarg, err)``), so ``-o foo`` stops it with
    ``missing '=' after attribute name``; ``-o foo=`` (an empty value) is fine. A ``-o`` without
    anything after it is an option without its value (getopt()), fatal too."""
    found: list[str] = []
    index = 1
    while index < len(command):
        arg = command[index]
        if not arg.startswith("-") or arg == "--":
            break
        if arg != "-o":
            index += 1
            continue
        if index + 1 == len(command):
            found.append("command: -o at the end has no value: give -o name=value (-o name= for an empty value), or remove it")
            break
        value = command[index + 1]
        parsed = _split_nameval(value)
        if isinstance(parsed, str):
            found.append(
                f'command: "-o {value}" is not -o name=value (the program would stop with: fatal: invalid "-o {value}" option '
                f"value: {parsed}); give -o name=value, -o name= for an empty value, or -o {{name = value}} for a value with blanks"
            )
        index += 2
    return found


def _has_blank(text: str) -> bool:
    return _BLANK_RE.search(text) is not None


_FIELD_RE = re.compile(r"[^ \t\r\n]+")  # a field of a line without {}: a run of non-BLANKS


def _tokenize(text: str) -> list[str]:
    """mystrtokq(text, BLANKS, "{}") repeatedly: fields with balanced {} groups kept whole."""
    if "{" not in text:
        return _FIELD_RE.findall(text)
    tokens: list[str] = []
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos] in BLANKS:
            pos += 1
        if pos >= end:
            return tokens
        start = pos
        level = 0
        while pos < end:
            char = text[pos]
            if char == "{":
                level += 1
            elif level > 0 and char == "}":
                level -= 1
            elif level == 0 and char in BLANKS:
                break
            pos += 1
        tokens.append(text[start:pos])


def _balpar(text: str) -> int:
    """Length of the balanced {...} group at the start of text, 0 when unbalanced."""
    level = 0
    for index, char in enumerate(text):
        if char == "}":
            level -= 1
            if level == 0:
                return index + 1
        elif char == "{":
            level += 1
    return 0


def _extract(text: str) -> tuple[str, str | None]:
    """extpar(text, "{}", EXTPAR_FLAG_STRIP) for text starting with '{': (inside, warning)."""
    length = _balpar(text)
    warning: str | None = None
    if length == 0:
        warning = f"missing '}}' in \"{text}\""
        inner = text[1:]
    else:
        if length < len(text):
            warning = f"syntax error after '}}' in \"{text}\""
        inner = text[1 : length - 1]
    return inner.strip(_ISSPACE), warning


def _split_nameval(text: str) -> tuple[str, str] | str:
    """split_nameval() as in _maincf: (name, value) or an error message."""
    pos = 0
    while pos < len(text) and text[pos] in _ISSPACE:
        pos += 1
    if pos == len(text) or text[pos] == "=":
        return "missing attribute name"
    end = pos
    while end < len(text) and text[end] not in _ISSPACE and text[end] != "=":
        end += 1
    equals = end
    while equals < len(text) and text[equals] in _ISSPACE:
        equals += 1
    if equals == len(text) or text[equals] != "=":
        return "missing '=' after attribute name"
    return text[pos:end], text[equals + 1 :].strip(_ISSPACE)


def _expects_value(option: str) -> bool:
    """strchr("o", arg[1]): also true for a lone "-" (its arg[1] is the terminating NUL)."""
    return len(option) < 2 or option[1] in _VALUE_OPTIONS


def _ambiguous_options(tokens: Sequence[str]) -> list[str]:
    """Options that postconf normalises differently from how the daemons' getopt() reads them.

    A second ``o`` in an option cluster (postconf turns ``-ofoo=bar`` into ``-o f -o -o=bar``)
    and a lone ``-`` (postconf then reads past the end of the string).
    """
    found: list[str] = []
    index = 0
    while index < len(tokens):
        arg = tokens[index]
        if not arg.startswith("-") or arg == "--":
            break
        first = arg.find("o", 1)
        if arg == "-" or (first > 0 and "o" in arg[first + 1 :]):
            found.append(arg)
        # an option cluster ending in "o" (or a lone "-") takes the next word as its value
        index += 2 if arg == "-" or (first > 0 and first == len(arg) - 1) else 1
    return found


def _normalize_args(argv: list[str], start: int, warnings: list[str]) -> list[str]:
    """pcf_normalize_daemon_args() on argv[start:] (the arguments after the command)."""
    args = list(argv)
    index = start
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-") or arg == "--":
            break
        for pos in range(2, len(arg)):
            if arg[pos] in _VALUE_OPTIONS:
                # "-vox=y" -> "-v" "-ox=y"
                args.insert(index + 1, "-" + arg[pos:])
                arg = args[index] = arg[:pos]
                break
        if not _expects_value(arg):
            index += 1
            continue
        if len(arg) > 2:
            # "-oname=value" -> "-o" "name=value"
            args.insert(index + 1, arg[2:])
            args[index] = arg[:2]
            index += 1
            extract = args[index].startswith("{")
        elif index + 1 < len(args):
            index += 1
            extract = args[index].startswith("{")
        else:
            extract = False
        if extract:
            inner, warning = _extract(args[index])
            if warning:
                warnings.append(warning)
            args[index] = inner
            if args[index - 1][1:2] == "o":
                parsed = _split_nameval(inner)
                if isinstance(parsed, str):
                    warnings.append(f'{parsed}: "{inner}"')
                else:
                    args[index] = f"{parsed[0]}={parsed[1]}"
        index += 1
    while index < len(args):
        if args[index].startswith("{"):
            inner, warning = _extract(args[index])
            if warning:
                warnings.append(warning)
            args[index] = inner
        index += 1
    return args


def split_command(text: str) -> tuple[str, ...]:
    """Command text (as written in master.cf after the 7 single fields) -> normalised argv.

    Raises MasterCfError where postconf would warn (braces, ``-o`` values) or the text is empty.
    """
    if "\n" in text:
        raise MasterCfError(f"command must be a single line: {text!r}")
    tokens = _tokenize(text)
    if not tokens:
        raise MasterCfError("command must not be empty")
    warnings: list[str] = []
    ambiguous = _ambiguous_options(tokens[1:])
    argv = _normalize_args(["-"] * (_MIN_FIELDS - 1) + tokens, _MIN_FIELDS, warnings)
    if warnings:
        raise MasterCfError(f"command {text!r}: " + "; ".join(warnings))
    if ambiguous:
        raise MasterCfError(
            f"command {text!r}: postconf and the Postfix daemons read the option(s) {', '.join(ambiguous)} differently; "
            "write each option as its own word and -o values separately (-o name=value)"
        )
    return tuple(argv[_MIN_FIELDS - 1 :])


def _pieces(args: Sequence[str], exact: bool) -> list[tuple[str, int, bool]]:
    """The printed items after the command: (text, length postconf wraps by, is an option with a value).

    With exact=False the first non-option argument keeps its braces when it contains blanks
    (postconf 3.7 drops them, changing the entry's meaning); everything else is identical.
    Note that postconf wraps by the length without the braces of non-option arguments.
    """
    pieces: list[tuple[str, int, bool]] = []
    in_options = True
    index = 0
    while index < len(args):
        arg = args[index]
        if in_options and arg.startswith("-") and arg != "--":
            if _expects_value(arg) and index + 1 < len(args):
                value = args[index + 1]
                braces = _has_blank(value)
                text = f"{arg} {{{value}}}" if braces else f"{arg} {value}"
                pieces.append((text, len(arg) + len(value) + 3 + (2 if braces else 0), True))
                index += 2
                continue
            pieces.append((arg, len(arg), False))
        else:
            braces = _has_blank(arg) and not (in_options and exact)
            in_options = False
            pieces.append(("{" + arg + "}" if braces else arg, len(arg), False))
        index += 1
    return pieces


def _format(argv: Sequence[str], fold: bool, exact: bool) -> str:
    """pcf_print_master_entry(): the layout of ``postconf -M`` (fold: as -M edits and -Mf write)."""
    out: list[str] = []
    line_len = 0
    for index in range(_MIN_FIELDS):
        if line_len > 0:
            while True:
                out.append(" ")
                line_len += 1
                if line_len >= _COLUMN_GOALS[index]:
                    break
        out.append(argv[index])
        line_len += len(argv[index])
    for text, length, with_value in _pieces(argv[_MIN_FIELDS:], exact):
        if with_value:
            line_len = _LINE_LIMIT  # an option with a value starts a new line ...
        if line_len > len(_INDENT):
            if not fold or line_len + 1 + length < _LINE_LIMIT:
                out.append(" ")
                line_len += 1
            else:
                out.append("\n" + _INDENT)
                line_len = len(_INDENT)
        out.append(text)
        line_len = _LINE_LIMIT if with_value else line_len + len(text)  # ... and ends it
    return "".join(out) + "\n"


@dataclass(frozen=True)
class MasterEntry:
    """One master.cf service entry; ``command`` is the normalised argv (program name first)."""

    service: str
    type: str
    private: str = "-"
    unprivileged: str = "-"
    chroot: str = "-"
    wakeup: str = "-"
    maxproc: str = "-"
    command: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.type)

    @property
    def argv(self) -> list[str]:
        return [self.service, self.type, self.private, self.unprivileged, self.chroot, self.wakeup, self.maxproc, *self.command]

    def fields(self) -> dict[str, str]:
        """The eight master(5) columns; ``command`` with its arguments as ``postconf -F`` prints it."""
        return {
            "service": self.service,
            "type": self.type,
            "private": self.private,
            "unprivileged": self.unprivileged,
            "chroot": self.chroot,
            "wakeup": self.wakeup,
            "maxproc": self.maxproc,
            "command": self.command_text(),
        }

    def command_text(self) -> str:
        """Command and arguments on one line, braces where a value needs them (readable back)."""
        if not self.command:
            return ""
        return " ".join([self.command[0]] + [text for text, _length, _value in _pieces(self.command[1:], exact=False)])

    def render(self) -> str:
        """The entry as ``postconf -M`` writes it (see the module docstring for the one difference)."""
        return _format(self.argv, fold=True, exact=False)

    def show(self, fold: bool = False) -> str:
        """Exactly what ``postconf -M`` (``fold``: ``-Mf``) prints for this entry."""
        return _format(self.argv, fold=fold, exact=True)

    def problems(self) -> list[str]:
        """Why postconf, master(8) or the service's program would refuse this entry, or could not write it back unchanged."""
        found: list[str] = []
        label = f"{self.service}/{self.type}"
        for name, value in zip(FIELD_NAMES, [*self.argv[: len(FIELD_NAMES) - 1], self.command_text()]):
            problem = control_problem(name, value)
            if problem is not None:
                found.append(f"{label!r}: {problem}" if _CONTROL_RE.search(label) else f"{label}: {problem}")
        if found:
            return found
        if not _SERVICE_RE.match(self.service):
            found.append(f"invalid service name {self.service!r}: use letters, digits and . _ - : [ ] @ + % (for example smtp, 127.0.0.2:smtp or [::1]:2525)")
        found.extend(_field_problems(self.argv, " ".join(self.argv)))
        for name, problem in (("wakeup", wakeup_problem(self.wakeup)), ("process_limit", maxproc_problem(self.maxproc))):
            if problem is not None and not any(f"invalid {name} field" in known for known in found):
                found.append(problem)
        socket = socket_path_problem(self.service, self.type, self.private)
        if socket is not None:
            found.append(socket)
        if self.type == "inet" and self.private == "y":
            found.append(f"{self.service}/{self.type}: an inet service cannot be private (master(8): inet service cannot be private)")
        if not self.command:
            found.append(f"{self.service}/{self.type}: the command field is missing")
        else:
            program = self.command[0]
            if not program or _has_blank(program) or program[0] in "{-" or "{" in program or "}" in program:
                found.append(f"{self.service}/{self.type}: invalid command name {program!r}")
            if any(arg == "" for arg in self.command):
                found.append(f"{self.service}/{self.type}: empty arguments cannot be written to master.cf")
            found.extend(f"{self.service}/{self.type}: {problem}" for problem in _option_problems(self.command))
        if not found:
            warnings: list[str] = []
            again = _parse_entry(self.render(), warnings)
            if warnings or not isinstance(again, MasterEntry) or again != self:
                found.append(
                    f"{self.service}/{self.type}: the command {self.command_text()!r} cannot be written so that Postfix reads it back unchanged"
                    + (f" ({'; '.join(warnings)})" if warnings else "")
                )
        return found


def _field_problems(argv: Sequence[str], raw: str) -> list[str]:
    """pcf_check_master_entry() messages, in postconf's wording."""
    found: list[str] = []
    if argv[1] not in SERVICE_TYPES:
        found.append(f'invalid type field "{argv[1]}" in "{raw}"')
    for index in (2, 3, 4):
        if len(argv[index]) != 1 or argv[index] not in "yn-":
            found.append(f'invalid {_MESSAGE_NAMES[index]} field "{argv[index]}" in "{raw}"')
    wakeup = argv[5]
    if not _WAKEUP_RE.match(wakeup):
        found.append(f'invalid wakeup field "{wakeup}" in "{raw}"')
    if not _MAXPROC_RE.match(argv[6]):
        found.append(f'invalid process_limit field "{argv[6]}" in "{raw}"')
    return found


def _parse_entry(text: str, warnings: list[str]) -> MasterEntry | str:
    """pcf_parse_master_entry() on a logical line: the entry, or postconf's fatal message."""
    tokens = _tokenize(text)
    if len(tokens) < _MIN_FIELDS:
        return "bad field count"
    raw = text.replace("\n", " ")
    problems = _field_problems(tokens, raw)
    if problems:
        return problems[0]
    argv = _normalize_args(tokens, _MIN_FIELDS, warnings)
    return MasterEntry(argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], tuple(argv[7:]))


class _Logical:
    """A logical line: first physical line index plus the joined text."""

    __slots__ = ("entry", "error", "first", "key", "parts", "warnings")

    def __init__(self, first: int, content: str) -> None:
        self.first = first
        self.parts = [content]
        self.entry: MasterEntry | None = None
        self.error = ""
        self.warnings: list[str] = []
        self.key: tuple[str, str] | None = None


def _edit_key(line: str) -> tuple[str, str] | str:
    """Service name and type on an entry's first line as postconf -M edits see them, or why not."""
    tokens = [token for token in re.split(r"[ \t\r\n]+", line) if token]
    if len(tokens) < 2:
        return "specify service name and type on the same line"
    name, kind = tokens[0], tokens[1]
    if "=" in name:
        return f'service name syntax "{name}" is unsupported with -Me, -Fe, -Pe, -X, or -#'
    if "=" in kind or "/" in kind:
        return f'service type syntax "{kind}" is unsupported with -Me, -Fe, -Pe, -X, or -#'
    return (name, kind)


_PARSED: dict[str, MasterCf] = {}  # MasterCf.parse: text -> its model (the class has no subclasses)
_PARSED_KEPT = 64


class MasterCf:
    """An immutable, lossless model of a master.cf text."""

    __slots__ = ("_lines", "_logical", "_orphans")

    def __init__(self, text: str = "") -> None:
        """Same as MasterCf.parse(text)."""
        parts = text.split("\n")
        lines = [part + "\n" for part in parts[:-1]]
        if parts[-1]:
            lines.append(parts[-1])
        self._lines: tuple[str, ...] = tuple(lines)
        self._logical: list[_Logical] = []
        self._orphans: list[int] = []  # continuation lines before the first entry
        current: _Logical | None = None
        for index, line in enumerate(self._lines):
            kind = _classify(line)
            content = line[:-1] if line.endswith("\n") else line
            if kind == _START:
                current = _Logical(index, content)
                self._logical.append(current)
            elif kind == _CONTINUATION:
                if current is None:
                    self._orphans.append(index)
                else:
                    current.parts.append(content)
        for logical in self._logical:
            parsed = _parse_entry("".join(logical.parts), logical.warnings)
            if isinstance(parsed, str):
                logical.error = parsed
            else:
                logical.entry = parsed
            key = _edit_key(logical.parts[0])
            logical.key = key if isinstance(key, tuple) else None

    @classmethod
    def parse(cls, text: str) -> MasterCf:
        """Parse any string; never fails. ``MasterCf.parse(t).render() == t`` for every ``t``.

        The model is immutable, so a text parsed before (a run reads each instance's master.cf for
        the comparison and again for the health check) gives the same object."""
        parsed = _PARSED.get(text)
        if parsed is None:
            parsed = cls(text)
            if len(_PARSED) >= _PARSED_KEPT:
                _PARSED.clear()
            _PARSED[text] = parsed
        return parsed

    def render(self) -> str:
        """The text, byte for byte."""
        return "".join(self._lines)

    def __repr__(self) -> str:
        return f"MasterCf.parse({self.render()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterCf):
            return NotImplemented
        return self._lines == other._lines

    def __hash__(self) -> int:
        return hash(self.render())

    # Reading ---------------------------------------------------------------------------------

    def entries(self) -> list[MasterEntry]:
        """Every valid entry in file order (duplicates included), as ``postconf -M`` lists them."""
        return [logical.entry for logical in self._logical if logical.entry is not None]

    def get(self, service: str, kind: str) -> MasterEntry | None:
        """The first entry with this service name and type (the one ``postconf -M`` edits replace)."""
        for entry in self.entries():
            if entry.key == (service, kind):
                return entry
        return None

    def count(self, service: str, kind: str) -> int:
        return sum(1 for entry in self.entries() if entry.key == (service, kind))

    def errors(self) -> list[str]:
        """Fatal problems: any of them makes every ``postconf`` call for the instance fail."""
        return [f"line {logical.first + 1}: {logical.error}" for logical in self._logical if logical.error]

    def warnings(self) -> list[str]:
        """What postconf only warns about (master(8) may still refuse it), with postconf's wording."""
        found = [f"line {index + 1}: logical line must not start with whitespace: {self._lines[index].rstrip()!r}" for index in self._orphans]
        for logical in self._logical:
            found.extend(f"line {logical.first + 1}: {warning}" for warning in logical.warnings)
        return found

    def edit_errors(self) -> list[str]:
        """Why ``postconf -M``/``-MX`` edits of this file would fail (``postconf -M`` reads still work)."""
        found: list[str] = []
        for logical in self._logical:
            key = _edit_key(logical.parts[0])
            if isinstance(key, str):
                found.append(f"line {logical.first + 1}: {key}")
        return found

    def show(self, fold: bool = False) -> str:
        """What ``postconf -M`` (``fold``: ``-Mf``) prints; MasterCfError when it would fail."""
        errors = self.errors()
        if errors:
            raise MasterCfError("; ".join(errors))
        return "".join(entry.show(fold) for entry in self.entries())

    # Editing ---------------------------------------------------------------------------------

    def _edit(self, key: tuple[str, str], replacement: str | None) -> MasterCf:
        errors = self.edit_errors()
        if errors:
            raise MasterCfError("postconf -M cannot edit this master.cf: " + "; ".join(errors))
        out: list[str] = []
        matched = False
        done = False
        for line in self._lines:
            if not line.endswith("\n"):
                line += "\n"
            kind = _classify(line)
            if kind == _NOISE:
                out.append(line)
            elif kind == _CONTINUATION:
                if not matched:
                    out.append(line)
            else:
                matched = _edit_key(line) == key
                if not matched:
                    out.append(line)
                elif replacement is not None and not done:
                    out.append(replacement)
                    done = True
        if replacement is not None and not done:
            out.append(replacement)
        return MasterCf("".join(out))

    def set(self, entry: MasterEntry) -> MasterCf:
        """``postconf -M 'service/type=<entry>'``: replace (or append) the entry.

        Raises MasterCfError for an entry Postfix would refuse or misread (see
        MasterEntry.problems()) and for files postconf -M cannot edit.
        """
        problems = entry.problems()
        if problems:
            raise MasterCfError("; ".join(problems))
        return self._edit(entry.key, entry.render())

    def remove(self, service: str, kind: str) -> MasterCf:
        """``postconf -MX service/type``: delete every entry with this name and type."""
        if self.count(service, kind) == 0 and not any(logical.key == (service, kind) for logical in self._logical):
            return MasterCf(self.render())
        return self._edit((service, kind), None)
