# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The lookup tables of one instance (the ``postfix_map`` module, and the design's ``maps``).

A table is a source file in the instance's configuration directory and, for the indexed types,
the file ``postmap(1)`` (``postalias(1)`` for aliases) builds beside it: ``NAME.db`` for hash and
btree, ``NAME.lmdb``, ``NAME.cdb``. The flat types (texthash, regexp, pcre, cidr) have no index;
Postfix reads the file itself when a daemon opens the table.

Planning (``plan_map``) reads the files and decides, without running anything, whether the source
differs from the requested text, or the index is missing, of another type, or older than its
source (what Postfix itself warns about: "database ... is older than source file"). Applying
(``apply_map``) never lets a daemon see a half-built table: the new source is written to a
temporary name beside the target, ``postmap -c CONFIG_DIR TYPE:TEMP`` builds ``TEMP.db`` (etc.)
from it, the index is renamed over the live index and only then the source over the live source
(a run killed in between leaves a live index newer than its old source; the next run sees the
source differ and builds again). Every warning of ``postmap`` while it builds (a line without a
value, a duplicate key, a regular expression that does not compile) refuses the table before
anything live is touched; check mode builds the same way in a private temporary directory.

A daemon that has an indexed table open notices a new index by itself and restarts after its
current request (``dict_changed_name()`` in Postfix's src/util/dict.c: the open file's mtime
changed or its link count dropped to zero, which the rename does); flat tables are read once, at
open, so a changed flat table needs ``postfix reload`` (RV(reload_required)).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import typing as t
import unicodedata
from collections.abc import Mapping, Sequence

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError, displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._io import (
    DirectoryLock,
    fsync_directory,
    give_label,
    label_of,
    read_text,
    stale_entries,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import resolve_instance
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Registry

# The index file postmap(1) builds beside SOURCE, per indexed type (DB_README, LMDB_README, CDB_README).
# dbm and sdbm build two files (.dir and .pag) and are not offered.
INDEX_SUFFIXES = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}
# Types read straight from the source file by the daemons (texthash: postmap(1) -s/-q only;
# regexp_table(5), pcre_table(5), cidr_table(5)). The last three are order sensitive: the first
# matching pattern wins.
FLAT_TYPES = ("texthash", "regexp", "pcre", "cidr")
ORDERED_TYPES = ("regexp", "pcre", "cidr")
TYPES = tuple(INDEX_SUFFIXES) + FLAT_TYPES
# The Berkeley DB magic number at offset 12 of a hash and of a btree file (db.h: DB_HASHMAGIC,
# DB_BTREEMAGIC), so that a table whose type changed from hash to btree is built again.
_DB_MAGIC = {"hash": 0x061561, "btree": 0x053162}
# Table names that default to secret=true: sasl_passwd (SASL_README), and other password tables.
SECRET_HINTS = ("passw", "secret")
HIDDEN = "VALUE_HIDDEN"
# postmap(1), postalias(1) and the daemons read a table line by line as C strings (readllines() in
# Postfix's src/util/readlline.c): a NUL byte ends the line for them, and since Postfix 3.9 they warn
# "text after null byte may be ignored"; earlier ones (3.7.11: 'a b<NUL>c' gives 'b') say nothing.
_NUL_WHY = "and Postfix reads a table's lines as C strings, so it would silently drop the rest of the line (a NUL byte cannot be stored)"
_SPECIAL_BITS = ((0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky"))
TEMP_PREFIX = ".mailops-map-"
STATES = ("present", "absent")


class MapRequest(t.NamedTuple):
    """One table as requested, checked (``check_request``)."""

    name: str  # relative to the instance's configuration directory
    type: str | None  # None: the instance's default_database_type
    text: str | None  # the source text; None with state=absent
    state: str
    aliases: bool
    secret: bool
    mode: int | None
    from_entries: bool


def _line_value(where: str, value: t.Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict,)):
        raise PostfixMultiError(f"{where}: a value must be a string, a number or a list of them, not {type(value).__name__}")
    if isinstance(value, (list, tuple)):
        parts = [_line_value(where, item) for item in value]
        text = ", ".join(part for part in parts if part)
    else:
        text = str(value).strip()
    if not text:
        raise PostfixMultiError(f"{where}: the value is empty (postmap(1) refuses a line without a value)")
    if "\n" in text or "\r" in text:
        raise PostfixMultiError(f"{where}: a value must be a single line")
    if "\0" in text:
        raise PostfixMultiError(f"{where}: the value contains a NUL byte, {_NUL_WHY}; remove it")  # the value not shown: it may be secret
    return text


def _line_key(where: str, key: t.Any, type_: str | None, aliases: bool) -> str:
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise PostfixMultiError(f"{where}: a key must be a string, not {type(key).__name__}")
    text = str(key)
    if not text or text != text.strip() or "\n" in text or "\r" in text:
        raise PostfixMultiError(f"{where}: a key must be a non-empty single line without leading or trailing blanks: {text!r}")
    if text.startswith("#"):
        raise PostfixMultiError(f"{where}: a key cannot start with '#' (Postfix reads the line as a comment): {text!r}")
    if "\0" in text:
        raise PostfixMultiError(f"{where}: the key contains a NUL byte, {_NUL_WHY}; remove it: {text!r}")
    if type_ not in ORDERED_TYPES and re.search(r"\s", text):
        raise PostfixMultiError(f"{where}: a key cannot contain blanks (postmap(1) ends the key at the first blank): {text!r}")
    if aliases and ":" in text:
        raise PostfixMultiError(f"{where}: an alias name cannot contain ':' (aliases(5) ends the name there): {text!r}")
    return text


def render_entries(entries: t.Any, type_: str | None, aliases: bool = False) -> str:
    """The source text of ``entries``: a mapping (key: value) or a list of ``{key, value}``, one
    line each in the given order (``KEY VALUE``, for aliases ``KEY: VALUE``); list values are joined
    with ', '. Order-sensitive types (regexp, pcre, cidr) take the list only."""
    pairs: list[tuple[t.Any, t.Any]] = []
    if isinstance(entries, Mapping):
        if type_ in ORDERED_TYPES:
            raise PostfixMultiError(f"entries of a {type_} table must be a list of {{key, value}} (the first matching pattern wins, so the order matters)")
        pairs = list(entries.items())
    elif isinstance(entries, (list, tuple)):
        for index, item in enumerate(entries):
            if not isinstance(item, Mapping) or set(item) != {"key", "value"}:
                raise PostfixMultiError(f"entries[{index}]: each item must be a mapping with exactly 'key' and 'value', not {item!r}")
            pairs.append((item["key"], item["value"]))
    else:
        raise PostfixMultiError(f"entries must be a mapping or a list of {{key, value}}, not {type(entries).__name__}")
    lines = []
    seen: dict[str, int] = {}
    for index, (key, value) in enumerate(pairs):
        where = f"entries[{index}]"
        key_text = _line_key(where, key, type_, aliases)
        if key_text in seen and type_ not in ORDERED_TYPES:
            raise PostfixMultiError(f"{where}: key {key_text!r} is given twice (also entries[{seen[key_text]}])")
        seen[key_text] = index
        lines.append(f"{key_text}{':' if aliases else ''} {_line_value(where + ' (' + key_text + ')', value)}")
    return "".join(line + "\n" for line in lines)


def is_secret(name: str) -> bool:
    """Whether a table of this name is secret unless told otherwise (sasl_passwd ...)."""
    base = os.path.basename(name).lower()
    return any(hint in base for hint in SECRET_HINTS)


def check_name(name: t.Any) -> str:
    """A table name: a path relative to the configuration directory, inside it."""
    if not isinstance(name, str) or not name:
        raise PostfixMultiError("name must be the table's file name in the instance's configuration directory, such as 'virtual'")
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise PostfixMultiError(
            f"name {name!r}: give the file name relative to the instance's configuration directory (such as 'virtual' or 'sasl/sasl_passwd'), "
            "without '..' - tables live in the instance's own directory"
        )
    if parts[-1].startswith(".") or parts[-1].endswith((".tmp", ".db", ".lmdb", ".cdb")):
        raise PostfixMultiError(f"name {name!r}: that is the name of a temporary or index file; give the source file's name")
    if parts[-1] in ("main.cf", "master.cf", "dynamicmaps.cf", "postfix-files", "postfix-script", "post-install"):
        raise PostfixMultiError(f"name {name!r} is one of Postfix's own files, not a lookup table")
    for position, char in enumerate(name):
        if char == "," or char.isspace() or unicodedata.category(char) == "Cc":
            what = "a comma" if char == "," else "whitespace" if char.isspace() else "a control character"
            raise PostfixMultiError(
                f"name {name!r}: a table name cannot contain blanks, other whitespace, control characters or commas ({what}, {char!r}, "
                f"at position {position}). main.cf names the table as TYPE:$config_directory/NAME in a list that Postfix splits at blanks "
                "and commas, so the table could never be used; choose a name without them, such as 'virtual_domains'"
            )
    return name


def check_mode(name: str, mode: t.Any) -> int:
    """The permission bits of a table's ``mode``.

    A string is octal ('0644', '644', '0o644'). An integer is the mode's number, as
    ansible.builtin.file takes it: an unquoted ``0644`` in YAML is the number 420, that is 0o644,
    while an unquoted ``644`` is the decimal number 644, that is 0o1204. Only plain table modes are
    taken (read for the owner, write for the owner, read for group and others: 0644, 0640, 0600,
    0444, 0440, 0400), so that no integer written as if it were octal is silently applied as
    another mode: every refusal of an integer says how it was read and what to quote instead."""
    fix = "use '0644', or '0600' or '0640' for a secret table"
    if isinstance(mode, int) and not isinstance(mode, bool):
        bits = mode
        shown = f"{mode} (an integer, which is read as ansible.builtin.file reads one: as the number {mode}, octal {'-' if mode < 0 else ''}0{abs(mode):o})"
        fix = "write the mode as a quoted octal string, such as '0640' or '0644'"
        if mode > 0 and re.fullmatch(r"[0-7]+", str(mode)):
            fix += f" (for octal {mode}, write '0{mode}')"
    elif isinstance(mode, str) and re.fullmatch(r"\s*(0[oO])?[0-7]+\s*", mode):
        bits, shown = int(mode, 8), repr(mode)
    else:
        raise PostfixMultiError(f"{name}: mode must be octal, as a quoted string such as '0644', not {mode!r}")
    if bits < 0 or bits & ~0o7777:
        problem = "is not a file mode"
    elif bits & 0o7000:
        set_bits = [label for bit, label in _SPECIAL_BITS if bits & bit]
        problem = f"sets the {' and '.join(set_bits)} bit{'s' if len(set_bits) > 1 else ''}, which a lookup table never needs (the index would get it too)"
    elif bits & 0o022:
        # postfix-script check: files in the configuration directory writable by group or others are a warning
        problem = "lets group or others write the table (postfix check warns about it)"
    elif bits & 0o111:
        problem = "makes the table executable (a lookup table is only read)"
    elif not bits & 0o400:
        problem = "does not let the owner read the table"
    else:
        return bits
    raise PostfixMultiError(f"{name}: mode {shown} {problem}; {fix}")


def check_request(spec: Mapping[str, t.Any]) -> MapRequest:
    """The request in one table's options, checked without reading anything."""
    name = check_name(spec.get("name"))
    state = spec.get("state") or "present"
    if state not in STATES:
        raise PostfixMultiError(f"{name}: state must be present or absent, not {state!r}")
    type_ = spec.get("type") or None
    if type_ is not None and type_ not in TYPES:
        raise PostfixMultiError(f"{name}: type must be one of {', '.join(TYPES)} (or omitted for the instance's default_database_type), not {type_!r}")
    aliases = bool(spec.get("aliases"))
    if aliases and type_ in FLAT_TYPES:
        raise PostfixMultiError(f"{name}: aliases are indexed by postalias(1); a {type_} table cannot be an aliases table")
    entries, content = spec.get("entries"), spec.get("content")
    if state == "present" and (entries is None) == (content is None):
        raise PostfixMultiError(f"{name}: give either entries or content (exactly one of them)")
    text: str | None = None
    if state == "present":
        if content is not None:
            if not isinstance(content, str):
                raise PostfixMultiError(f"{name}: content must be the table's text")
            if "\0" in content:
                line = content.count("\n", 0, content.index("\0")) + 1
                raise PostfixMultiError(f"{name}: content: line {line} contains a NUL byte, {_NUL_WHY}; remove it from the content")
            text = content if content == "" or content.endswith("\n") else content + "\n"
        else:
            try:
                text = render_entries(entries, type_, aliases)
            except PostfixMultiError as exc:
                raise PostfixMultiError(f"{name}: {exc.msg}") from None
    mode = spec.get("mode")
    mode_bits = None if mode is None else check_mode(name, mode)
    secret = spec.get("secret")
    return MapRequest(name, type_, text, state, aliases, is_secret(name) if secret is None else bool(secret), mode_bits, entries is not None)


# --------------------------------------------------------------------------- reading the host


def _index_path(source: str, type_: str) -> str | None:
    suffix = INDEX_SUFFIXES.get(type_)
    return source + suffix if suffix else None


def _db_magic(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if len(head) < 16:
        return None
    little, big = int.from_bytes(head[12:16], "little"), int.from_bytes(head[12:16], "big")
    for value in (little, big):
        if value in _DB_MAGIC.values():
            return value
    return None


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def entry_lines(text: str, aliases: bool = False) -> dict[str, str]:
    """Key -> logical line of a table's text (continuation lines joined; comments and blank lines
    left out), the way postmap(1) reads it: a line that starts with whitespace continues the
    previous one. For a per-entry diff; a repeated key keeps its first line, as postmap does."""
    logical: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[:1] in (" ", "\t") and logical:
            logical[-1] += " " + line.strip()
        else:
            logical.append(line.strip())
    out: dict[str, str] = {}
    for line in logical:
        key = re.split(r"\s", line, maxsplit=1)[0]
        if aliases:
            key = line.split(":", 1)[0].strip()
        out.setdefault(key, line)
    return out


def hide_values(text: str, aliases: bool = False) -> str:
    """A table's text with every value replaced by VALUE_HIDDEN (keys, comments and order kept)."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            out.append(line)
        elif line[:1] in (" ", "\t"):
            continue  # the continuation of a hidden value
        elif aliases and ":" in line:
            out.append(line.split(":", 1)[0] + ": " + HIDDEN)
        else:
            out.append(re.split(r"\s", line.strip(), maxsplit=1)[0] + " " + HIDDEN)
    return "".join(line + "\n" for line in out)


class MapPlan(t.NamedTuple):
    """What one table needs (``plan_map``)."""

    request: MapRequest
    type: str
    path: str
    index_file: str | None
    before: str | None  # the source text now (None: missing)
    build: bool  # the index (re)built
    write: bool  # the source written
    remove: list[str]  # files removed (state=absent)
    reason: str
    changed_keys: list[str]

    @property
    def changed(self) -> bool:
        return self.build or self.write or bool(self.remove)

    @property
    def reload_required(self) -> bool:
        """A changed flat table is read again only when the daemons restart (postfix reload)."""
        return self.changed and self.type in FLAT_TYPES

    def shown(self, text: str | None) -> str:
        if text is None:
            return ""
        return hide_values(text, self.request.aliases) if self.request.secret else displayable(text)

    def diff(self) -> dict[str, str]:
        after = "" if self.request.state == "absent" else self.request.text
        header = self.path + (f" ({self.type}, values hidden)" if self.request.secret else f" ({self.type})")
        return {"before_header": header, "after_header": header, "before": self.shown(self.before), "after": self.shown(after)}


def check_table_directory(config_directory: str, name: str, state: str = "present") -> None:
    """Refuse a table whose directory is not a real directory inside the instance's configuration
    directory: a subdirectory that is a symbolic link (which could lead anywhere, such as
    ``sub -> /srv/out``), that leads outside through a link further up, or that does not exist
    (tables are written only into existing directories). Planning runs it (check mode fails where
    the real run would) and so does writing, which refuses with the same message.

    A missing subdirectory is no error with ``state=absent`` (there is nothing to remove), and
    nothing is checked while the configuration directory itself does not exist (an instance this
    run creates: its tables are planned again once it exists)."""
    directory = os.path.dirname(os.path.join(config_directory, name))
    if not os.path.lexists(config_directory):
        return
    where = f"{name}: name: {directory} is not a directory of the instance"
    if os.path.normpath(directory) != os.path.normpath(config_directory) and os.path.islink(directory):
        raise PostfixMultiError(
            f"{where} but a symbolic link to {os.readlink(directory)}; tables are written only into real directories of the "
            f"instance's configuration directory {config_directory}: replace the link with a directory, or give a name without it"
        )
    if not os.path.isdir(directory):
        if state == "absent" and not os.path.lexists(directory):
            return
        raise PostfixMultiError(f"{where}; create it first (tables are written only into existing directories)")
    real_config = os.path.realpath(config_directory)
    if os.path.commonpath([os.path.realpath(directory), real_config]) != real_config:
        raise PostfixMultiError(
            f"{name}: name: {directory} leads outside the instance's configuration directory {config_directory} through a symbolic link; "
            "give a name in a real directory of the instance; nothing was written"
        )


def plan_map(config_directory: str, request: MapRequest, default_type: str, supported: t.Collection[str]) -> MapPlan:
    """What makes the instance's table as requested; reads files, changes nothing."""
    type_ = request.type or default_type
    if type_ not in TYPES:
        raise PostfixMultiError(f"{request.name}: the instance's default_database_type is {type_}, which this module cannot index; give the table's type")
    if request.state == "present" and type_ not in supported:
        raise PostfixMultiError(
            f"{request.name}: this Postfix does not support the table type {type_} (postconf -m lists {', '.join(sorted(supported))}); "
            "install the Postfix package that adds it (such as postfix-lmdb, postfix-cdb or postfix-pcre) or choose another type"
        )
    check_table_directory(config_directory, request.name, request.state)
    path = os.path.join(config_directory, request.name)
    index = _index_path(path, type_)
    source_stat = _lstat(path)
    if source_stat is not None and not stat.S_ISREG(source_stat.st_mode):
        raise PostfixMultiError(f"{path} is not a regular file (a link or a directory?); this module writes only plain files in the instance's directory")
    before = read_text(path) if source_stat is not None else None
    if request.state == "absent":
        remove = [p for p in (path, index) if p and _lstat(p) is not None]
        keys = sorted(entry_lines(before or "", request.aliases))
        return MapPlan(request, type_, path, index, before, False, False, remove, "remove" if remove else "absent", keys if remove else [])
    after = request.text or ""
    write = before != after
    mode_differs = source_stat is not None and request.mode is not None and stat.S_IMODE(source_stat.st_mode) != request.mode
    build = False
    reason = "up to date"
    if write:
        reason = "create" if before is None else "source changed"
    elif mode_differs:
        reason = "mode changed"
        write = True
    if index is not None:
        index_stat = _lstat(index)
        if write:
            build = True
        elif index_stat is None:
            build, reason = True, "index missing"
        elif source_stat is not None and index_stat.st_mtime_ns < source_stat.st_mtime_ns:
            build, reason = True, "index older than its source"
        elif type_ in _DB_MAGIC and _db_magic(index) != _DB_MAGIC[type_]:
            build, reason = True, f"index is not a {type_} file"
    before_lines, after_lines = entry_lines(before or "", request.aliases), entry_lines(after, request.aliases)
    changed_keys = [key for key in dict.fromkeys(list(before_lines) + list(after_lines)) if before_lines.get(key) != after_lines.get(key)]
    return MapPlan(request, type_, path, index, before, build, write, [], reason, changed_keys)


# --------------------------------------------------------------------------- applying


def _write_new(path: str, text: str, mode: int, owner: tuple[int, int]) -> None:
    """Create ``path`` (a fresh temporary name) with ``text``, fsync'ed, with its final owner and mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        view = memoryview(text.encode("utf-8", "surrogateescape"))
        while view:
            view = view[os.write(fd, view) :]
        os.fchown(fd, owner[0], owner[1])
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _warnings(result: _runner.CommandResult) -> list[str]:
    return [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if "warning:" in line or "fatal:" in line or "error:" in line]


def _build(command: str, config_directory: str, type_: str, source: str, index: bool) -> None:
    """postmap/postalias on ``source`` (an index for indexed types; for flat ones a query, which makes
    Postfix parse every line); refuse on any warning."""
    table = f"{type_}:{source}"
    if index:
        # -o: as root, do not become the source file's owner (who may not write the directory);
        # the index gets its owner and mode afterwards
        argv = [command, "-o", "-c", config_directory, table]
    else:
        argv = [command, "-c", config_directory, "-q", "mailops-postfix-map-probe", table]
    result = _runner.run(argv)
    said = _warnings(result)
    if result.rc not in ((0,) if index else (0, 1)) or said:
        name = os.path.basename(command)
        text = "; ".join(said) or result.output or "(it printed nothing)"
        raise PostfixMultiError(f"{name} refuses the table, so nothing was changed (rc={result.rc}): {text}", **result.as_dict())


def _command(plan: MapPlan, commands: Mapping[str, str]) -> str:
    return commands["postalias" if plan.request.aliases else "postmap"]


def validate_map(plan: MapPlan, config_directory: str, commands: Mapping[str, str]) -> None:
    """Build the planned table in a private temporary directory (check mode: nothing beside the live table)."""
    if plan.request.state == "absent" or not plan.changed:
        return
    scratch = tempfile.mkdtemp(prefix="mailops-map-check-")
    try:
        source = os.path.join(scratch, "table")
        _write_new(source, plan.request.text or "", 0o600, (os.getuid(), os.getgid()))
        _build(_command(plan, commands), config_directory, plan.type, source, plan.index_file is not None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def apply_map(plan: MapPlan, config_directory: str, commands: Mapping[str, str]) -> None:
    """Make the table as planned: build beside it under a temporary name, rename the index into
    place, then the source (see the module docstring); or remove it."""
    if plan.changed:
        # planning checked it too (check mode fails the same way); the directory may have changed since
        check_table_directory(config_directory, plan.request.name, plan.request.state)
    if plan.remove:
        # the index first: a source without an index is refused by Postfix, never read half
        for path in sorted(plan.remove, key=lambda p: p != plan.index_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        fsync_directory(os.path.dirname(plan.path))
        return
    if not plan.changed:
        return
    directory, base = os.path.split(plan.path)
    prefix = f"{TEMP_PREFIX}{base}."
    for stale in stale_entries(directory, prefix):  # left by a run that was killed
        with contextlib.suppress(OSError):
            os.unlink(stale)
    current = _lstat(plan.path)
    mode = plan.request.mode if plan.request.mode is not None else (stat.S_IMODE(current.st_mode) if current else (0o600 if plan.request.secret else 0o644))
    # Postfix wants the files of its configuration directory owned by root (postfix-script check); an existing owner is kept
    owner = (current.st_uid, current.st_gid) if current else (0, 0)
    # the SELinux labels of the files replaced go to their replacements (a new index: its source's)
    source_label = label_of(plan.path)
    index_label = (label_of(plan.index_file) or source_label) if plan.index_file is not None else None
    temp = os.path.join(directory, f"{prefix}{os.getpid()}.{os.urandom(4).hex()}")
    temp_index = _index_path(temp, plan.type)
    try:
        _write_new(temp, plan.request.text or "", mode, owner)
        give_label(temp, source_label)
        if plan.index_file is not None and temp_index is not None:
            _build(_command(plan, commands), config_directory, plan.type, temp, True)
            os.chown(temp_index, owner[0], owner[1])
            os.chmod(temp_index, mode)
            give_label(temp_index, index_label)
            fd = os.open(temp_index, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp_index, plan.index_file)
            if not plan.write:
                # only the index was stale: the live source stays, older than its new index
                fsync_directory(directory)
                return
        else:
            _build(_command(plan, commands), config_directory, plan.type, temp, False)
        os.rename(temp, plan.path)
        fsync_directory(directory)
    except OSError as exc:
        raise PostfixMultiError(f"cannot write {plan.path}: {exc.strerror}") from exc
    finally:
        for leftover in (temp, temp_index):
            if leftover:
                with contextlib.suppress(OSError):
                    os.unlink(leftover)


# --------------------------------------------------------------------------- several tables of one instance


def postfix_map_commands(command_directory: str | None) -> dict[str, str]:
    """postmap, postalias and postconf of this Postfix."""
    return {name: find_postfix_command(name, command_directory) for name in ("postmap", "postalias", "postconf")}


def table_facts(postconf: str, config_directory: str) -> tuple[str, frozenset[str]]:
    """The instance's default_database_type and the table types this Postfix supports (postconf -m)."""
    default = _runner.run([postconf, "-c", config_directory, "-h", "default_database_type"])
    if default.rc != 0:
        raise PostfixMultiError(f"postconf -c {config_directory} -h default_database_type failed (rc={default.rc}): {default.output}", **default.as_dict())
    types = _runner.run([postconf, "-c", config_directory, "-m"])
    if types.rc != 0:
        raise PostfixMultiError(f"postconf -m failed (rc={types.rc}): {types.output}", **types.as_dict())
    return default.stdout.strip(), frozenset(line.strip() for line in types.stdout.splitlines() if line.strip())


def plan_maps(config_directory: str, specs: Sequence[Mapping[str, t.Any]], postconf: str, facts_directory: str | None = None) -> list[MapPlan]:
    """The plans of several tables of one instance (names unique); ``facts_directory`` is where
    default_database_type is read when the instance does not exist yet (check mode of a new one)."""
    requests = [check_request(spec) for spec in specs]
    names = [request.name for request in requests]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise PostfixMultiError(f"table(s) declared twice: {', '.join(twice)}")
    if not requests:
        return []
    default_type, supported = table_facts(postconf, facts_directory or config_directory)
    return [plan_map(config_directory, request, default_type, supported) for request in requests]


def summary(plan: MapPlan) -> str:
    if plan.remove:
        return f"removed {plan.request.name}"
    if plan.write:
        return f"{plan.reason}: {plan.request.name} ({plan.type})"
    return f"rebuilt {plan.request.name} ({plan.type}: {plan.reason})"


def result_of(plan: MapPlan) -> dict[str, t.Any]:
    """One table in a result (values hidden for a secret table)."""
    return {
        "name": plan.request.name,
        "path": plan.path,
        "type": plan.type,
        "index": plan.index_file,
        "state": plan.request.state,
        "changed": plan.changed,
        "rebuilt": plan.build,
        "reason": plan.reason,
        "changed_keys": list(plan.changed_keys),
        "reload_required": plan.reload_required,
        "secret": plan.request.secret,
    }


# --------------------------------------------------------------------------- the design's maps (postfix_multi_host, postfix_drift_info)

# One table in the design: the options of postfix_map without the instance.
MAP_OPTIONS: dict[str, t.Any] = {
    "name": {"type": "str", "required": True},
    "type": {"type": "str", "choices": list(TYPES)},
    "entries": {"type": "raw"},
    "content": {"type": "str"},
    "state": {"type": "str", "choices": list(STATES), "default": "present"},
    "aliases": {"type": "bool", "default": False},
    "secret": {"type": "bool"},
    "mode": {"type": "raw"},
}


def check_design_maps(where: str, specs: t.Any) -> list[dict[str, t.Any]]:
    """The ``maps`` of one declared instance, checked without reading anything (names unique)."""
    if specs is None:
        return []
    if not isinstance(specs, (list, tuple)) or any(not isinstance(spec, Mapping) for spec in specs):
        raise PostfixMultiError(f"{where}: maps must be a list of tables (mappings with name and entries or content)")
    out = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        clean = {key: value for key, value in spec.items() if value is not None}
        try:
            request = check_request(clean)
        except PostfixMultiError as exc:
            raise PostfixMultiError(f"{where}.maps[{index}]: {exc.msg}") from None
        if request.name in seen:
            raise PostfixMultiError(f"{where}.maps[{index}]: table {request.name} is also maps[{seen[request.name]}]")
        seen[request.name] = index
        out.append(clean)
    return out


def design_plans(
    config_directory: str, specs: Sequence[Mapping[str, t.Any]], postconf: str, default_type: str | None = None, facts_directory: str | None = None
) -> list[MapPlan]:
    """The plans of an instance's declared tables. ``default_type``: the default_database_type the
    design gives the instance (its main.cf holds it once the run is done); else the instance's
    main.cf is asked, or ``facts_directory``'s while the instance does not exist yet."""
    requests = [check_request(spec) for spec in specs]
    if not requests:
        return []
    exists = os.path.isfile(os.path.join(config_directory, "main.cf"))
    default, supported = table_facts(postconf, config_directory if exists else (facts_directory or config_directory))
    return [plan_map(config_directory, request, default_type or default, supported) for request in requests]


def differing(plans: Sequence[MapPlan]) -> list[str]:
    return [plan.request.name for plan in plans if plan.changed]


def declared_type(parameters: Mapping[str, t.Any] | None) -> str | None:
    """The default_database_type a design's main.cf parameters give (a plain type name), else None."""
    value = (parameters or {}).get("default_database_type")
    return value.strip() if isinstance(value, str) and value.strip() in TYPES else None


def map_changes(config_directory: str | None, specs: Sequence[Mapping[str, t.Any]], postconf: str, default_type: str | None, facts_directory: str) -> list[str]:
    """The declared tables that differ on the host ([] for none); ``["*"]`` when they cannot be
    planned (the converge run plans them again and says why). ``config_directory`` None: the instance
    does not exist yet, and every table it should have differs."""
    if config_directory is None or not os.path.isdir(config_directory):
        return [spec["name"] for spec in specs if (spec.get("state") or "present") == "present"]
    try:
        return differing(design_plans(config_directory, specs, postconf, default_type, facts_directory))
    except PostfixMultiError:
        return ["*"]


def redacted_design(instances: t.Any, primary_maps: t.Any) -> tuple[t.Any, t.Any]:
    """The design's instances and primary maps with the values of secret tables hidden."""
    shown = []
    for entry in instances or []:
        if isinstance(entry, Mapping) and entry.get("maps"):
            entry = dict(entry, maps=[redacted(spec) if isinstance(spec, Mapping) else spec for spec in entry["maps"]])
        shown.append(entry)
    return shown, [redacted(spec) if isinstance(spec, Mapping) else spec for spec in primary_maps or []]


class MapJob(t.NamedTuple):
    """The declared tables of one instance, planned and validated before the run changes anything."""

    instance: str
    config_directory: str
    specs: list[dict[str, t.Any]]
    default_type: str | None
    primary_directory: str
    plans: list[MapPlan]
    new: bool  # the instance is created in this run (and started afterwards, never reloaded)


def plan_design_maps(actions: Sequence[Mapping[str, t.Any]], primary_directory: str, validate: bool = True) -> list[MapJob]:
    """Plan the ``maps`` actions of the drift and build every changed table in a private directory
    (``validate_map``), so that a table postmap refuses stops the run before anything is written."""
    if not actions:
        return []
    commands = postfix_map_commands(None)
    jobs = []
    refused = []
    for action in actions:
        directory = action["config_directory"]
        plans = design_plans(directory, action["maps"], commands["postconf"], action.get("default_type"), primary_directory)
        exists = os.path.isfile(os.path.join(directory, "main.cf"))
        if validate:
            for plan in plans:
                try:
                    validate_map(plan, directory if exists else primary_directory, commands)
                except PostfixMultiError as exc:
                    refused.append(f"{action['instance']}: {plan.request.name}: {exc.msg}")
        jobs.append(
            MapJob(action["instance"], directory, list(action["maps"]), action.get("default_type"), primary_directory, plans, bool(action.get("depends")))
        )
    if refused:
        raise PostfixMultiError("a lookup table is refused, so nothing was changed: " + "; ".join(refused), stage="validate")
    return jobs


def apply_design_maps(job: MapJob, check_mode: bool, before_write: t.Callable[[list[MapPlan]], None] | None = None) -> list[MapPlan]:
    """Make the job's tables as declared (planned again on the files as they are now: a new instance
    exists by now); check mode returns the plans made before. ``before_write`` is given the plans
    once they are made, before the first table is written."""
    if check_mode:
        return job.plans
    commands = postfix_map_commands(None)
    plans = design_plans(job.config_directory, job.specs, commands["postconf"], job.default_type, job.primary_directory)
    if before_write is not None:
        before_write(plans)
    for plan in plans:
        apply_map(plan, job.config_directory, commands)
    return plans


def redacted_actions(actions: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A drift's actions with the values of secret tables hidden (for results)."""
    out = dict(actions)
    out["maps"] = [dict(action, maps=[redacted(spec) for spec in action["maps"]]) for action in actions.get("maps") or []]
    return out


# --------------------------------------------------------------------------- the postfix_map module


def manage_map(options: Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_map`` module."""
    request = check_request(options)  # bad input fails before anything is read
    facts = LocalFacts()
    defaults = facts.defaults()
    commands = postfix_map_commands(defaults.get("command_directory"))
    with DirectoryLock(defaults["config_directory"]):
        reg = Registry.load(defaults, facts.read_text)
        # an empty string selects nothing, as with postmulti -i '': only '-' (the default) is the primary
        inst = resolve_instance(reg, "-" if options.get("instance") is None else options["instance"])
        default_type, supported = table_facts(commands["postconf"], inst.config_directory)
        plan = plan_map(inst.config_directory, request, default_type, supported)
        if check_mode:
            validate_map(plan, inst.config_directory, commands)
        else:
            apply_map(plan, inst.config_directory, commands)
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "instance": inst.to_dict(),
        **result_of(plan),
        "msg": f"{inst.label}: " + (summary(plan) if plan.changed else f"{request.name} already as requested"),
    }
    if want_diff:
        result["diff"] = plan.diff()
    if request.secret:
        # AnsibleModule returns the module's arguments as "invocation" unless the result has one
        result["invocation"] = {"module_args": redacted(options)}
    return result


def redacted(spec: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """One table's options with the values of a secret table hidden (keys kept)."""
    out = dict(spec)
    try:
        secret = check_request(spec).secret
    except PostfixMultiError:
        secret = bool(spec.get("secret")) or is_secret(str(spec.get("name") or ""))
    if not secret:
        return out
    entries = spec.get("entries")
    if isinstance(entries, Mapping):
        out["entries"] = {key: HIDDEN for key in entries}
    elif isinstance(entries, (list, tuple)):
        out["entries"] = [{"key": item.get("key"), "value": HIDDEN} if isinstance(item, Mapping) else HIDDEN for item in entries]
    elif entries is not None:
        out["entries"] = HIDDEN
    if isinstance(spec.get("content"), str):
        out["content"] = hide_values(spec["content"], bool(spec.get("aliases")))
    return out


MAP = Interface(
    {
        "argument_spec": dict({"instance": {"type": "str", "default": "-"}}, **MAP_OPTIONS),
        "mutually_exclusive": [("entries", "content")],
    },
    manage_map,
)
