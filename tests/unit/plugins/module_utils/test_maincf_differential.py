# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential tests: _maincf against the real, installed ``postconf``.

Every test writes a main.cf (plus an empty master.cf) into a private directory and compares
what _maincf computes with what ``postconf -c DIR`` prints or writes. These tests FAIL (they
are never skipped) when postconf is missing: the test command installs Postfix.

Timing trap: every postconf read (-n, -h, -x) sleeps about 1.5 s when main.cf was modified
within the last second. Before each read the file's mtime is set 10 s into the past.
-e/-X/-# do not wait.

Known, deliberate differences from Postfix 3.7.11 (Debian 12), each tested below:

* Several NEW parameters in one ``postconf -e`` call are appended in hash-table order, which
  changes from run to run; Postfix >= 3.7.17 appends them sorted by name, as we do. Calls that
  append one new parameter are compared byte for byte; calls that append several are compared
  with the appended tail sorted (byte for byte on a Postfix that sorts).
* A file whose last line lacks its newline: 3.7.11 glues appended text onto that line
  ("a = 1b = 2"). Postfix >= 3.7.15 terminates the line on every edit, and so do we: our result
  equals what postconf writes for the same text with the newline added.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import time
from pathlib import Path
from typing import cast

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import (
    MainCf,
    MainCfError,
    expand,
    normalize_whitespace,
    validate_value,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_maincf import (
    EDIT_CASES,
    ERROR_CASES,
    EXPAND_CASES,
    EXPAND_DEFS,
    EXPAND_ERROR_CASES,
    EXPAND_LOOPS,
    KNOWN_NAMES,
    NEW_NAMES,
    READ_CASES,
    TERMINATE_CASES,
    realistic_main_cf,
    simple_values,
)

POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
# postconf's msg_fatal() output: "/usr/sbin/postconf: fatal: ..." (then it sleeps 1 s, exits 1)
_FATAL = re.compile(rb"(?m)^\S*postconf: fatal: .*\n")

# First releases with the two fixes, per stable series (read from the upstream git tags).
_SORTED_SINCE = {(3, 7): 17, (3, 8): 20, (3, 9): 14, (3, 10): 13}
_NEWLINE_FIXED_SINCE = {(3, 7): 15, (3, 8): 20, (3, 9): 14, (3, 10): 13}

_DIFF = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Postconf:
    """The real postconf, run on main.cf text in a private directory (list arguments, no shell)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.main_cf = directory / "main.cf"
        (directory / "master.cf").write_text("")
        self.main_cf.write_text("")
        self.version = self._version()

    def _version(self) -> tuple[int, int, int]:
        out = self._run(["-d", "-h", "mail_version"], read=True).stdout.strip()
        match = re.match(r"(\d+)\.(\d+)\.(\d+)", out)
        assert match, f"cannot parse mail_version {out!r}"
        return (int(match.group(1)), int(match.group(2)), int(match.group(3)))

    def _has_fix(self, table: dict[tuple[int, int], int]) -> bool | None:
        """True/False when known for this version, None when unknown."""
        series = self.version[:2]
        if series >= (3, 11):
            return True
        if series in table:
            return self.version[2] >= table[series]
        return None if series > (3, 7) else False

    @property
    def sorts_new_names(self) -> bool:
        return bool(self._has_fix(_SORTED_SINCE))

    @property
    def newline_fixed(self) -> bool | None:
        return self._has_fix(_NEWLINE_FIXED_SINCE)

    def write(self, text: str) -> None:
        self.main_cf.write_bytes(text.encode("utf-8", "surrogateescape"))

    def read(self) -> str:
        return self.main_cf.read_bytes().decode("utf-8", "surrogateescape")

    def _run(self, args: list[str], read: bool) -> subprocess.CompletedProcess[str]:
        """Run postconf; stop it as soon as it has printed its ``fatal:`` line.

        Postfix' msg_fatal() prints the message, sleeps one second and exits 1. Waiting for
        that second would make the error-parity tests take minutes, so a process that has
        reported ``postconf: fatal: ...`` is killed and treated as having exited with 1.
        """
        if read:  # reads wait ~1.5 s for a main.cf younger than a second
            past = time.time() - 10
            os.utime(self.main_cf, (past, past))
        proc = subprocess.Popen([POSTCONF, "-c", str(self.directory), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        out: list[bytes] = []
        err: list[bytes] = []
        fatal = False
        deadline = time.monotonic() + 30
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, out)
            selector.register(proc.stderr, selectors.EVENT_READ, err)
            while selector.get_map() and not fatal:
                assert time.monotonic() < deadline, f"postconf {args} hangs"
                for key, _events in selector.select(timeout=1):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                    else:
                        key.data.append(data)
                        fatal = fatal or (key.data is err and _FATAL.search(b"".join(err)) is not None)
        if fatal:
            proc.kill()
        returncode = proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
        return subprocess.CompletedProcess(
            args,
            1 if fatal else returncode,
            b"".join(out).decode("utf-8", "surrogateescape"),
            b"".join(err).decode("utf-8", "surrogateescape"),
        )

    # reads
    def show(self, name: str) -> str | None:
        """``postconf -h -n NAME``: None when it prints nothing."""
        proc = self._run(["-h", "-n", name], read=True)
        assert proc.returncode == 0, proc.stderr
        if proc.stdout == "":
            return None
        assert proc.stdout.endswith("\n")
        return proc.stdout[:-1]

    def non_default(self) -> tuple[int, dict[str, str], str]:
        """``postconf -n`` parsed, without its config_directory line: (rc, params, stderr)."""
        proc = self._run(["-n"], read=True)
        params: dict[str, str] = {}
        for line in proc.stdout.split("\n"):
            if not line:
                continue
            name, sep, value = line.partition(" = ")
            if not sep:
                assert line.endswith(" ="), line
                name, value = line[:-2], ""
            if name != "config_directory":
                params[name] = value
        return proc.returncode, params, proc.stderr

    def expanded(self, name: str) -> tuple[int, str, str]:
        """``postconf -x -h NAME``: (rc, stdout without the newline, stderr)."""
        proc = self._run(["-x", "-h", name], read=True)
        return proc.returncode, proc.stdout[:-1] if proc.stdout.endswith("\n") else proc.stdout, proc.stderr

    # edits
    def edit(self, option: str, args: list[str]) -> str:
        """Run ``postconf -e/-X/-# ARGS`` on the current file; return the new text."""
        proc = self._run([option, *args], read=False)
        assert proc.returncode == 0, proc.stderr
        return self.read()

    def edit_like(self, text: str, set_values: dict[str, str], remove: list[str], comment_out: list[str]) -> str:
        """What postconf writes for MainCf.edit(set_values, remove, comment_out): -e, then -X, then -#."""
        self.write(text)
        result = text
        if set_values:
            result = self.edit("-e", [f"{name}={value}" for name, value in set_values.items()])
        if remove:
            result = self.edit("-X", remove)
        if comment_out:
            result = self.edit("-#", comment_out)
        return result


@pytest.fixture(scope="module")
def postconf(tmp_path_factory: pytest.TempPathFactory) -> Postconf:
    if not (os.path.isfile(POSTCONF) and os.access(POSTCONF, os.X_OK)):
        pytest.fail(f"postconf not found at {POSTCONF}: install Postfix (the test command does)")
    return Postconf(tmp_path_factory.mktemp("maincf-differential"))


_KEY = re.compile(r"[^ \t\r\n=]*")


def _start_keys(text: str) -> set[str]:
    """Names postconf -e would find in text: the key of every line that starts an entry."""
    keys = set()
    for line in text.split("\n"):
        if line and line[0] not in " \t\n\v\f\r#":
            match = _KEY.match(line)
            assert match
            keys.add(match.group(0))
    return keys


def _assert_same_edit(postconf: Postconf, ours: str, theirs: str, appended: int) -> None:
    """Byte-for-byte, except that 3.7.11 appends several new names in hash order.

    With appended >= 2 on a Postfix that does not sort them, the last `appended` lines are
    compared sorted and everything before them byte for byte.
    """
    if appended < 2 or postconf.sorts_new_names:
        assert ours == theirs
        return
    ours_lines = ours.split("\n")
    theirs_lines = theirs.split("\n")
    # both end with "\n": the last element is "", the appended lines precede it
    cut = len(ours_lines) - 1 - appended
    assert ours_lines[:cut] == theirs_lines[:cut]
    assert ours_lines[cut:-1] == sorted(ours_lines[cut:-1])
    assert sorted(ours_lines[cut:]) == sorted(theirs_lines[cut:])


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _split_kwargs(kwargs: dict[str, object]) -> tuple[dict[str, str], list[str], list[str]]:
    set_values = cast("dict[str, str]", kwargs.get("set_values") or {})
    remove = cast("list[str]", kwargs.get("remove") or [])
    comment_out = cast("list[str]", kwargs.get("comment_out") or [])
    return dict(set_values), list(remove), list(comment_out)


def _check_edit(postconf: Postconf, text: str, set_values: dict[str, str], remove: list[str], comment_out: list[str]) -> str:
    """Compare MainCf.edit with postconf (-e, then -X, then -#); returns our result."""
    ours = MainCf.parse(text).edit(set_values, remove=remove, comment_out=comment_out).render()
    if not (set_values or remove or comment_out):
        assert ours == text  # nothing to do: no postconf call, no change
        return ours
    appended = len(set(set_values) - _start_keys(text))
    # The fixed postconf (>= 3.7.15) behaves as if the missing final newline were there.
    theirs = postconf.edit_like(_with_newline(text), set_values, remove, comment_out)
    _assert_same_edit(postconf, ours, theirs, appended)
    if _with_newline(text) != text:
        # Document the 3.7.11 bug we deliberately do not copy.
        buggy = postconf.edit_like(text, set_values, remove, comment_out)
        if postconf.newline_fixed:
            _assert_same_edit(postconf, ours, buggy, appended)
        elif sum(1 for operation in (set_values, remove, comment_out) if operation) == 1 and (appended < 2 or postconf.sorts_new_names):
            # One 3.7.11 call writes the same bytes, at most without the newline we add to the
            # last line (then anything appended is glued onto it). Several calls compound it:
            # a later -X/-# also hits what -e glued onto the last line.
            assert buggy == ours or any(ours[i] == "\n" and ours[:i] + ours[i + 1 :] == buggy for i in range(len(ours)))
    return ours


# --------------------------------------------------------------------------- literal cases


def test_postconf_is_installed(postconf: Postconf) -> None:
    assert postconf.version >= (3, 0, 0)


@pytest.mark.parametrize(("text", "expected"), READ_CASES)
def test_read_cases(postconf: Postconf, text: str, expected: dict[str, str]) -> None:
    # postconf -n hides names it does not know; "$a" in a known parameter makes "a" a
    # user-defined parameter that it shows. The helper line itself is left out.
    refs = " ".join("$" + name for name in expected)
    postconf.write(f"smtpd_banner = {refs}\n" + text)
    rc, params, stderr = postconf.non_default()
    assert rc == 0, stderr
    params.pop("smtpd_banner", None)
    assert params == expected
    for name, value in expected.items():
        assert postconf.show(name) == value
    ours = MainCf.parse(text)
    assert ours.params() == params
    assert ours.errors() == []


@pytest.mark.parametrize(("text", "message"), [case for case in ERROR_CASES if "\0" not in case[0]])
def test_error_cases(postconf: Postconf, text: str, message: str) -> None:
    # A bad $ expression breaks reads only in parameters postconf uses: the helper line
    # (one line more for postconf's line numbers) refers to them.
    postconf.write("smtpd_banner = $x $myhostname\n" + text)
    rc, _params, stderr = postconf.non_default()
    assert rc == 1
    assert MainCf.parse("smtpd_banner = $x $myhostname\n" + text).errors()
    line, detail = message.split(": ", 1)
    if "macro" in detail:
        detail = detail.split(": ", 1)[1]  # "<name>: <postconf's warning>"
    else:
        assert f"line {int(line.split()[1]) + 1}: " in stderr
    assert detail in stderr


@pytest.mark.parametrize(("text", "kwargs", "expected"), EDIT_CASES)
def test_edit_cases(postconf: Postconf, text: str, kwargs: dict[str, object], expected: str) -> None:
    set_values, remove, comment_out = _split_kwargs(kwargs)
    assert _check_edit(postconf, text, set_values, remove, comment_out) == expected


@pytest.mark.parametrize(("text", "kwargs", "expected"), TERMINATE_CASES)
def test_terminate_cases(postconf: Postconf, text: str, kwargs: dict[str, object], expected: str) -> None:
    set_values, remove, comment_out = _split_kwargs(kwargs)
    assert _check_edit(postconf, text, set_values, remove, comment_out) == expected


def test_unterminated_file_3_7_11_glues_appended_text(postconf: Postconf) -> None:
    """The observed 3.7.11 bug, and our deliberate divergence from it."""
    postconf.write("myhostname = nonl.example")
    theirs = postconf.edit("-e", ["relayhost=r.example"])
    ours = MainCf.parse("myhostname = nonl.example").edit({"relayhost": "r.example"}).render()
    assert ours == "myhostname = nonl.example\nrelayhost = r.example\n"
    if postconf.newline_fixed is False:
        assert theirs == "myhostname = nonl.examplerelayhost = r.example\n"
    elif postconf.newline_fixed:
        assert theirs == ours


def test_several_new_names_order(postconf: Postconf) -> None:
    """3.7.11 appends several new names in hash order; we sort (Postfix >= 3.7.17)."""
    ours = MainCf.parse("# header\n").edit({"zeta_x": "1", "alpha_y": "2", "mid_z": "3", "queue_directory": "/q"}).render()
    assert ours == "# header\nalpha_y = 2\nmid_z = 3\nqueue_directory = /q\nzeta_x = 1\n"
    postconf.write("# header\n")
    theirs = postconf.edit("-e", ["zeta_x=1", "alpha_y=2", "mid_z=3", "queue_directory=/q"])
    _assert_same_edit(postconf, ours, theirs, 4)


@pytest.mark.parametrize(
    ("argument", "fragment", "set_values"),
    [
        ("a=x\ny", "multi-line input", {"a": "x\ny"}),
        ("#a=x", "comment input", {"#a": "x"}),
        (" #a=x", "comment input", {" #a": "x"}),
        ("=x", "missing attribute name", {"": "x"}),
        ("a b=x", "missing '=' after attribute name", {"a b": "x"}),
    ],
)
def test_postconf_refuses_what_we_refuse(postconf: Postconf, argument: str, fragment: str, set_values: dict[str, str]) -> None:
    postconf.write("a = 1\n")
    proc = postconf._run(["-e", argument], read=False)
    assert proc.returncode == 1
    assert fragment in proc.stderr
    assert postconf.read() == "a = 1\n"
    with pytest.raises(MainCfError):
        MainCf.parse("a = 1\n").edit(set_values)


@pytest.mark.parametrize(("value", "expected"), EXPAND_CASES)
def test_expand_cases(postconf: Postconf, value: str, expected: str) -> None:
    defs = "".join(f"{name} = {definition}\n" for name, definition in EXPAND_DEFS.items())
    postconf.write(defs + f"myhostname = {value}\n")
    rc, out, stderr = postconf.expanded("myhostname")
    assert rc == 0, stderr
    assert out == expected
    cf = MainCf.parse(defs + f"myhostname = {value}\n")
    assert normalize_whitespace(expand(cf.raw("myhostname") or "", cf.raw)) == out


@pytest.mark.parametrize(("value", "fragment"), EXPAND_ERROR_CASES)
def test_expand_error_cases(postconf: Postconf, value: str, fragment: str) -> None:
    defs = "".join(f"{name} = {definition}\n" for name, definition in {**EXPAND_DEFS, **EXPAND_LOOPS}.items())
    postconf.write(defs + f"myhostname = {value}\n")
    rc, _out, stderr = postconf.expanded("myhostname")
    assert rc == 1
    assert fragment in stderr


@pytest.mark.parametrize(("hops", "fails"), [(98, False), (99, False), (100, True), (101, True)])
def test_nesting_limit(postconf: Postconf, hops: int, fails: bool) -> None:
    text = "".join(f"zz{i} = $zz{i + 1}\n" for i in range(hops)) + f"zz{hops} = END\nmyhostname = $zz0\n"
    postconf.write(text)
    rc, out, _stderr = postconf.expanded("myhostname")
    cf = MainCf.parse(text)
    if fails:
        assert rc == 1
        with pytest.raises(MainCfError):
            expand(cf.raw("myhostname") or "", cf.raw)
    else:
        assert rc == 0
        assert out == expand(cf.raw("myhostname") or "", cf.raw) == "END"


# --------------------------------------------------------------------------- properties


@settings(_DIFF, max_examples=60)
@given(realistic_main_cf(garbage=True))
def test_reads_match_postconf(postconf: Postconf, text: str) -> None:
    cf = MainCf.parse(text)
    postconf.write(text)
    rc, params, stderr = postconf.non_default()
    if cf.errors():
        assert rc == 1, f"postconf accepted what we reject: {cf.errors()}"
        return
    assert rc == 0, stderr
    assert cf.params() == params
    for name in KNOWN_NAMES:
        assert cf.get(name) == postconf.show(name), name
    # raw(): what the daemons see. postconf compares raw values in ${{$name} == {text}}, so
    # one -x call checks them all (the generated values contain no '$', '{' or '}', and
    # myorigin is not among the generated names).
    raw = cf.raw_params()
    if raw:
        probe = "".join(f"${{{{${name}}} == {{{value}}}?{{1}}:{{0}}}}" for name, value in raw.items())
        # (not smtpd_reject_footer & co: postconf -x prints such "raw" parameters unexpanded)
        postconf.write(_with_newline(text) + f"myorigin = {probe}\n")
        rc, out, stderr = postconf.expanded("myorigin")
        assert rc == 0, stderr
        assert out == "1" * len(raw), f"raw values differ: {raw}"


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, dict[str, str], list[str], list[str]]:
    """A realistic file and one edit (set or remove or comment out) of present and new names."""
    text = draw(realistic_main_cf())
    names = st.sampled_from(KNOWN_NAMES + NEW_NAMES)
    kind = draw(st.sampled_from(["set", "set", "remove", "comment"]))
    chosen = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    if kind == "set":
        values = st.one_of(
            simple_values(),
            st.sampled_from(["$myhostname, localhost.$mydomain", "${x?{a}:{b}}", "  padded  ", "\tx\r", "$$"]),
        )
        return text, {name: draw(values) for name in chosen}, [], []
    if kind == "remove":
        return text, {}, chosen, []
    return text, {}, [], chosen


@settings(_DIFF, max_examples=200)
@given(edits())
def test_single_edits_match_postconf(postconf: Postconf, case: tuple[str, dict[str, str], list[str], list[str]]) -> None:
    text, set_values, remove, comment_out = case
    _check_edit(postconf, text, set_values, remove, comment_out)


@st.composite
def combined_edits(draw: st.DrawFn) -> tuple[str, dict[str, str], list[str], list[str]]:
    text = draw(realistic_main_cf())
    pool = draw(st.permutations(KNOWN_NAMES + NEW_NAMES))
    counts = draw(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)))
    set_names = pool[: counts[0]]
    remove = list(pool[counts[0] : counts[0] + counts[1]])
    comment_out = list(pool[counts[0] + counts[1] : sum(counts)])
    return text, {name: draw(simple_values()) for name in set_names}, remove, comment_out


@settings(_DIFF, max_examples=80)
@given(combined_edits())
def test_combined_edits_match_sequential_postconf_calls(postconf: Postconf, case: tuple[str, dict[str, str], list[str], list[str]]) -> None:
    text, set_values, remove, comment_out = case
    _check_edit(postconf, text, set_values, remove, comment_out)


_EXPR_NAMES = ["x", "y", "zz_undefined_q"]
_plain = st.text(alphabet="ab 019-.,", max_size=4)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    seq = st.lists(inner, min_size=1, max_size=3).map("".join)
    space = st.sampled_from(["", "", " ", "\t"])
    curly = st.tuples(space, seq, space).map(lambda t: f"{t[0]}{{{t[1]}}}{t[2]}")
    name = st.sampled_from(_EXPR_NAMES + [" x ", "x y", ""])
    op = st.sampled_from(["?", ":", " ?", ": "])
    conditional = st.tuples(name, op, st.one_of(curly, _plain)).map(lambda t: f"${{{t[0]}{t[1]}{t[2]}}}")
    ternary = st.tuples(name, curly, st.one_of(curly, _plain)).map(lambda t: f"${{{t[0]}?{t[1]}:{t[2]}}}")
    relop = st.sampled_from(["==", "!=", "<", "<=", ">=", ">", "=", "=>", "", "<level", ">=level", "==level", "!=level", "<lev", "<level_"])
    tail = st.one_of(
        st.just(""),
        curly.map(lambda c: "?" + c),
        curly.map(lambda c: ":" + c),
        st.tuples(curly, curly).map(lambda t: f"?{t[0]}:{t[1]}"),
    )
    relational = st.tuples(curly, relop, curly, tail).map(lambda t: f"${{{t[0]}{t[1]}{t[2]}{t[3]}}}")
    noise = st.sampled_from(["$", "{", "}", "${", "?", ":", "$(", ")"])
    return st.one_of(seq, conditional, ternary, relational, st.tuples(seq, noise, seq).map("".join))


_leaf = st.one_of(_plain, st.sampled_from(["$x", "${x}", "$(y)", "$$", "$zz_undefined_q", "${ x }", "$y", "$$x", "$(x)"]))
_expressions = st.recursive(_leaf, _extend, max_leaves=8)


@settings(_DIFF, max_examples=250)
@given(
    _expressions,
    st.sampled_from(["a", "", "10", "9", "b  c", "3.10", "3.6.1", None]),
    st.sampled_from(["$x", "${x?{1}:{2}}", "lit", None]),
)
def test_expansion_matches_postconf(postconf: Postconf, value: str, x_value: str | None, y_value: str | None) -> None:
    text = ""
    if x_value is not None:
        text += f"x = {x_value}\n"
    if y_value is not None:
        text += f"y = {y_value}\n"
    text += f"myhostname = {value}\n"
    cf = MainCf.parse(text)
    postconf.write(text)
    rc, out, stderr = postconf.expanded("myhostname")
    raw = cf.raw("myhostname") or ""
    try:
        ours = normalize_whitespace(expand(raw, cf.raw))
    except MainCfError as exc:
        assert rc == 1, f"we fail ({exc}), postconf printed {out!r}"
    else:
        assert rc == 0, f"postconf failed ({stderr.strip()}), we expand to {ours!r}"
        assert ours == out
    # validate_value() is conservative: what it accepts, postconf expands without error
    try:
        validate_value(raw)
    except MainCfError:
        pass
    else:
        # except a compatibility level that comes from a parameter: known only when expanded
        level_from_parameter = "malformed compatibility level syntax" in stderr and re.search(r"\$(?!\{\{)", raw)
        assert rc == 0 or level_from_parameter, f"validate_value accepted {raw!r} but postconf failed: {stderr.strip()}"
