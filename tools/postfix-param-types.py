# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate plugins/module_utils/_postfix/_paramtable.py from Postfix's sources.

Every Postfix program reads its main.cf parameters through tables in its source
(``CONFIG_INT_TABLE``, ``CONFIG_TIME_TABLE``, ``CONFIG_BOOL_TABLE``, ... in src/*/*.c; the
structures are in src/global/mail_conf.h): the parameter, its default, and for numbers, times
and strings a lower and upper bound (0: none). A value that does not convert, or is out of
bounds, stops the program at start-up (msg_fatal in src/global/mail_conf_{int,long,bool,time,
nint,nbool,str}.c) - the same tables that src/postconf/extract.awk collects for postconf(1).

This reads those tables from one or more releases of a Postfix git repository (for example
https://github.com/vdukhovni/postfix) and writes, per parameter, its kind and bounds. Where the
releases or the programs disagree (the same parameter read by several programs), the loosest
bounds win: the check may only refuse what every program of every release refuses.

    python3 tools/postfix-param-types.py REPO REF [REF ...] > plugins/module_utils/_postfix/_paramtable.py
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import typing as t

KINDS = {
    "INT": ("int", True),
    "INT_FN": ("int", True),
    "NINT": ("int", True),
    "NINT_FN": ("int", True),
    "LONG": ("long", True),
    "LONG_FN": ("long", True),
    "TIME": ("time", True),
    "BOOL": ("bool", False),
    "BOOL_FN": ("bool", False),
    "NBOOL": ("bool", False),
    "NBOOL_FN": ("bool", False),
    "STR": ("str", True),
    "STR_FN": ("str", True),
}
_KIND_NAMES = "|".join(sorted(KINDS, key=len, reverse=True))
TABLE = re.compile(r"CONFIG_(" + _KIND_NAMES + r")_TABLE\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\};", re.S)
DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)\s+(.+?)\s*$", re.M)
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def git(repo: str, *argv: str) -> str:
    return subprocess.run(["git", "-C", repo, *argv], check=True, capture_output=True, text=True, errors="surrogateescape").stdout


def sources(repo: str, ref: str) -> dict[str, str]:
    names = [n for n in git(repo, "ls-tree", "-r", "--name-only", ref, "--", "postfix/src").splitlines() if n.endswith((".c", ".h"))]
    batch = subprocess.run(
        ["git", "-C", repo, "cat-file", "--batch"], input="".join(f"{ref}:{n}\n" for n in names).encode(), check=True, capture_output=True
    ).stdout
    files, pos = {}, 0
    for name in names:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        files[name] = batch[header_end + 1 : header_end + 1 + size].decode("utf-8", "surrogateescape")
        pos = header_end + 1 + size + 1
    return files


TEST_BLOCK = re.compile(r"#\s*(?:ifdef\s+TEST\b|if\s+defined\s*\(?\s*TEST\b)")
CONDITIONAL = re.compile(r"#\s*if")
END = re.compile(r"#\s*endif\b")


def strip(text: str) -> str:
    """The code without comments and preprocessor lines, both branches of a conditional kept,
    except test programs (``#ifdef TEST``: src/global/mail_conf_time.c tests "days", "hours")."""
    text = COMMENT.sub(" ", text)
    kept: list[str] = []
    skipping = 0  # depth of conditionals inside a test block
    for line in text.splitlines():
        stripped = line.lstrip()
        if skipping:
            if CONDITIONAL.match(stripped):
                skipping += 1
            elif END.match(stripped):
                skipping -= 1
            continue
        if TEST_BLOCK.match(stripped):
            skipping = 1
        elif not stripped.startswith("#"):
            kept.append(line)
    return "\n".join(kept)


class Macros:
    def __init__(self, files: dict[str, str]) -> None:
        self.raw: dict[str, str] = {}
        for text in files.values():
            for name, value in DEFINE.findall(COMMENT.sub(" ", text)):
                self.raw.setdefault(name, value.strip())

    def value(self, token: str, depth: int = 0) -> str | int | None:
        token = token.strip()
        if depth > 20:
            return None
        if re.fullmatch(r'"(?:[^"\\]|\\.)*"(?:\s*"(?:[^"\\]|\\.)*")*', token):
            return "".join(ast.literal_eval(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', token))
        if re.fullmatch(r"\w+", token) and token in self.raw:
            return self.value(self.raw[token], depth + 1)
        parts = re.findall(r'"(?:[^"\\]|\\.)*"|\w+', token)
        if len(parts) > 1 and "".join(parts) == re.sub(r"\s+", "", token):  # "local" _DEST_RCPT_LIMIT
            values = [self.value(part, depth + 1) for part in parts]
            if all(isinstance(v, str) for v in values):
                return "".join(t.cast(str, v) for v in values)
        expression = re.sub(r"\b([A-Za-z_]\w*)\b", lambda m: repr(self.value(m.group(1), depth + 1)), token)
        expression = re.sub(r"(\d+)[lLuU]+\b", r"\1", expression)
        try:
            tree = ast.parse(expression, mode="eval")
        except SyntaxError:
            return None
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Div, ast.USub, ast.UAdd)
        if not all(isinstance(node, allowed) for node in ast.walk(tree)):
            return None
        try:
            result = eval(compile(tree, "<macro>", "eval"), {"__builtins__": {}})  # noqa: S307 - integer arithmetic only, checked above
        except (ArithmeticError, TypeError):
            return None
        return int(result) if isinstance(result, (int, float)) else None


def tables(files: dict[str, str]) -> list[tuple[str, str, int | None, int | None, str]]:
    """(parameter, kind, min, max, default time unit) for every table row of every program."""
    macros = Macros(files)
    rows = []
    for path, text in files.items():
        if not path.endswith(".c") or "/postconf/" in path or "tester" in path:
            continue
        for kind_name, body in TABLE.findall(strip(text)):
            kind, bounded = KINDS[kind_name]
            fields = [f.strip() for f in body.split(",")]
            width = 5 if bounded else 3
            i = 0
            while i + width <= len(fields):
                if fields[i] in ("0", ""):
                    break
                name = macros.value(fields[i])
                if not isinstance(name, str):  # e.g. a table commented out with "X" in src/postlog/postlog.c
                    print(f"{path}: skipped a row, cannot resolve the parameter name {fields[i]!r}", file=sys.stderr)
                    i += width
                    continue
                low = high = 0
                if bounded:
                    low_value, high_value = macros.value(fields[i + 3]), macros.value(fields[i + 4])
                    low = low_value if isinstance(low_value, int) else None
                    high = high_value if isinstance(high_value, int) else None
                default = macros.value(fields[i + 1])
                if kind == "str" and isinstance(default, str) and "$" not in default and low and len(default.encode()) < low:
                    # the default itself is out of bounds (virtual_mailbox_base = "" for virtual(8)):
                    # the program is not meant to run unconfigured; an empty value is not wrong as such
                    low = 0
                if kind in ("int", "long") and isinstance(default, int) and ((low and default < low) or (high and default > high)):
                    low = high = 0
                unit = ""
                if kind == "time":
                    found = re.search(r"[A-Za-z]", default) if isinstance(default, str) and "$" not in default else None
                    unit = found.group(0) if found else ""
                rows.append((name, kind, low, high, unit))
                i += width
    return rows


def merge(rows: list[tuple[str, str, int | None, int | None, str]]) -> dict[str, tuple[str, int, int, str]]:
    """One entry per parameter: the loosest bounds; a parameter read as two kinds is left out."""
    merged: dict[str, tuple[str, int, int, str]] = {}
    conflicts: set[str] = set()
    for name, kind, low, high, unit in rows:
        low_n = 0 if low is None else low  # an unresolved bound: none
        high_n = 0 if high is None else high
        if name in merged:
            old_kind, old_low, old_high, old_unit = merged[name]
            if old_kind != kind:
                conflicts.add(name)
                continue
            low_n = min(old_low, low_n) if old_low and low_n else 0
            high_n = max(old_high, high_n) if old_high and high_n else 0
            unit = old_unit if old_unit == unit else ""
        merged[name] = (kind, low_n, high_n, unit)
    for name in conflicts:
        merged.pop(name, None)
    return {name: spec for name, spec in merged.items() if spec[0] != "str" or spec[1] or spec[2]}


def main() -> int:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    repo, refs = sys.argv[1], sys.argv[2:]
    rows = []
    described = []
    for ref in refs:
        rows.extend(tables(sources(repo, ref)))
        described.append(git(repo, "describe", "--tags", "--always", ref).strip())
    merged = merge(rows)
    lines = [f"{name} {kind} {low} {high} {unit or '-'}" for name, (kind, low, high, unit) in sorted(merged.items())]
    print(
        f'''# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""How Postfix's programs read each main.cf parameter: GENERATED by tools/postfix-param-types.py, do not edit.

From the CONFIG_*_TABLE tables in the sources of Postfix {", ".join(described)} (src/*/*.c;
the structures are in src/global/mail_conf.h). One line per parameter: name, kind (int, long,
time, bool, str), lower and upper bound (0: none; for str, of the length), and for time the
unit a bare number is read in (``-``: none given). Where programs or releases differ, the
loosest bounds are kept; strings appear only where a length is bounded.
"""

from __future__ import annotations

TABLE = """
{chr(10).join(lines)}
"""'''
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
