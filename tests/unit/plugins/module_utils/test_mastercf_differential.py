# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential tests: _mastercf against the real, installed ``postconf -M``.

Every test writes a master.cf (plus an empty main.cf) into a private directory and compares
what _mastercf computes with what ``postconf -c DIR -M`` prints or writes. These tests FAIL
(they are never skipped) when postconf is missing: the test command installs Postfix. Before
every postconf read both files get an mtime 10 s in the past (postconf waits ~1.5 s for a
main.cf younger than a second).

Known, deliberate differences from Postfix 3.7.11 (Debian 12), each tested below:

* postconf prints (and so writes back) the first non-option argument without its braces
  even when it contains blanks; :meth:`MasterEntry.render` keeps them. Our writes are
  compared with postconf's output rendered by :meth:`MasterEntry.show` (postconf's layout)
  and separately checked to read back unchanged.
* A file whose last line lacks its newline: 3.7.11 glues an appended entry onto that line;
  we terminate it (Postfix >= 3.7.15 does).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterCfError, MasterEntry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_maincf_differential import POSTCONF, Postconf
from test_mastercf import ERROR_CASES, READ_CASES, SET_CASES, STOCK, STOCK_SHOWN, WARNING_CASES, entry_texts, master_cf_texts

_DIFF = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
# postconf's own warnings about master.cf syntax (not "unused parameter", not main.cf)
_SYNTAX_WARNING = re.compile(r"(?m)^\S*postconf: warning: (?:\S*/)?master\.cf: (?!unused parameter)(.*)$")
_ORPHAN_WARNING = re.compile(r"(?m)^\S*postconf: warning: \S*master\.cf: logical line must not start with whitespace")


class MasterPostconf(Postconf):
    """The real postconf on a private master.cf (and an empty main.cf)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.master_cf = directory / "master.cf"

    def write_master(self, text: str) -> None:
        self.master_cf.write_bytes(text.encode("utf-8", "surrogateescape"))

    def read_master(self) -> str:
        return self.master_cf.read_bytes().decode("utf-8", "surrogateescape")

    def _age(self) -> None:
        past = time.time() - 10
        os.utime(self.master_cf, (past, past))

    def show_master(self, fold: bool = False) -> tuple[int, str, str]:
        self._age()
        proc = self._run(["-Mf" if fold else "-M"], read=True)
        return proc.returncode, proc.stdout, proc.stderr

    def edit_master(self, args: list[str]) -> tuple[int, str, str]:
        self._age()
        proc = self._run(args, read=True)  # postconf -M edits read main.cf too: age it as well
        return proc.returncode, self.read_master(), proc.stderr


@pytest.fixture(scope="module")
def postconf(tmp_path_factory: pytest.TempPathFactory) -> MasterPostconf:
    if not (os.path.isfile(POSTCONF) and os.access(POSTCONF, os.X_OK)):
        pytest.fail(f"postconf not found at {POSTCONF}: install Postfix (the test command does)")
    return MasterPostconf(tmp_path_factory.mktemp("mastercf-differential"))


def _printable(text: str) -> str:
    """Postfix' msg_printf output replaces unprintable characters (TAB, CR...) with '?'."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _syntax_warnings(stderr: str) -> list[str]:
    return [match.group(1) for match in _SYNTAX_WARNING.finditer(stderr) if "logical line must not start" not in match.group(1)]


def _check_read(postconf: MasterPostconf, text: str) -> MasterCf:
    """postconf -M and -Mf against MasterCf.show(); fatal and warning parity."""
    cf = MasterCf.parse(text)
    postconf.write_master(text)
    rc, out, err = postconf.show_master()
    errors = cf.errors()
    if errors:
        assert rc == 1, f"postconf accepted what we call fatal: {errors}\n{out}"
        first = errors[0]
        detail = first.split(": ", 1)[1] if first.startswith("line ") else first
        if detail == "bad field count":
            assert f"{first}" in err, err
        else:
            assert _printable(detail) in err, err
        return cf
    assert rc == 0, f"postconf failed on what we accept: {err}"
    assert out == cf.show()
    # our warnings, without their "line N: " prefix, are postconf's (same order)
    ours = [_printable(w.split(": ", 1)[1]) for w in cf.warnings() if "logical line must not start" not in w]
    assert ours == _syntax_warnings(err)
    assert len(_ORPHAN_WARNING.findall(err)) == sum("logical line must not start" in w for w in cf.warnings())
    rc, folded, err = postconf.show_master(fold=True)
    assert rc == 0, err
    assert folded == cf.show(fold=True)
    return cf


# --------------------------------------------------------------------------- literal cases


def test_stock_master_cf(postconf: MasterPostconf) -> None:
    assert _check_read(postconf, STOCK).show() == STOCK_SHOWN
    installed = Path("/etc/postfix/master.cf")
    if installed.exists():  # Debian's whole stock file, if this host has one
        _check_read(postconf, installed.read_text())


@pytest.mark.parametrize(("text", "shown"), READ_CASES)
def test_read_cases(postconf: MasterPostconf, text: str, shown: str) -> None:
    assert _check_read(postconf, text).show() == shown


@pytest.mark.parametrize(("text", "warning"), WARNING_CASES)
def test_warning_cases(postconf: MasterPostconf, text: str, warning: str) -> None:
    _check_read(postconf, text)
    postconf.write_master(text)
    assert _syntax_warnings(postconf.show_master()[2]) == [warning]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_error_cases(postconf: MasterPostconf, text: str, message: str) -> None:
    _check_read(postconf, text)
    postconf.write_master(text)
    rc, _out, err = postconf.show_master()
    assert rc == 1
    detail = message.split(": ", 1)[1] if message.startswith("line ") else message
    assert detail in err


@pytest.mark.parametrize(("text", "entry", "expected"), SET_CASES)
def test_set_cases(postconf: MasterPostconf, text: str, entry: str, expected: str) -> None:
    new = MasterCf.parse(entry + "\n").entries()[0]
    postconf.write_master(text)
    rc, theirs, err = postconf.edit_master(["-M", f"{new.service}/{new.type}={entry}"])
    assert rc == 0, err
    assert theirs == expected == MasterCf.parse(text).set(new).render()


def test_postconf_drops_the_braces_of_the_first_non_option_argument(postconf: MasterPostconf) -> None:
    entry = MasterCf.parse("a unix - - n - - cmd {x y} -o z\n").entries()[0]
    postconf.write_master("")
    rc, theirs, err = postconf.edit_master(["-M", "a/unix=a unix - - n - - cmd {x y} -o z"])
    assert rc == 0, err
    assert theirs == entry.show(fold=True)  # postconf's layout, braces lost ...
    assert MasterCf.parse(theirs).entries()[0].command == ("cmd", "x", "y", "-o", "z")  # ... and the meaning with them
    ours = MasterCf.parse("").set(entry).render()
    postconf.write_master(ours)
    assert postconf.show_master()[1] == entry.show()  # postconf reads ours back as the entry we meant
    assert MasterCf.parse(ours).entries() == [entry]


def test_unterminated_file(postconf: MasterPostconf) -> None:
    """3.7.11 glues an appended entry onto a last line without newline; we terminate the line."""
    new = MasterEntry("b", "unix", command=("x",))
    ours = MasterCf.parse("a unix - - n - - cmd").set(new).render()
    assert ours == "a unix - - n - - cmd\n" + new.render()
    postconf.write_master("a unix - - n - - cmd\n")
    assert postconf.edit_master(["-M", "b/unix=b unix - - - - - x"])[1] == ours
    postconf.write_master("a unix - - n - - cmd")
    _rc, buggy, _err = postconf.edit_master(["-M", "b/unix=b unix - - - - - x"])
    assert buggy in (ours, ours.replace("cmd\n", "cmd", 1))


@pytest.mark.parametrize(
    "text",
    ["a\n  unix - - n - - cmd\n", "a=b unix - - n - - cmd\n", "a unix/x - - n - - cmd\n"],
)
def test_postconf_refuses_edits_we_refuse(postconf: MasterPostconf, text: str) -> None:
    cf = MasterCf.parse(text)
    postconf.write_master(text)
    rc, after, err = postconf.edit_master(["-M", "b/unix=b unix - - - - - x"])
    assert rc == 1
    assert after == text
    assert cf.edit_errors()[0].split(": ", 1)[1] in err
    with pytest.raises(MasterCfError):
        cf.set(MasterEntry("b", "unix", command=("x",)))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("a bogus - - n - - cmd", 'invalid type field "bogus"'),
        ("a unix yes - n - - cmd", 'invalid private field "yes"'),
        ("a unix - - n x - cmd", 'invalid wakeup field "x"'),
        ("a unix - - n - many cmd", 'invalid process_limit field "many"'),
        ("a unix - - n - -", "bad field count"),
    ],
)
def test_postconf_m_refuses_bad_fields(postconf: MasterPostconf, entry: str, message: str) -> None:
    """Trap 2: postconf -M refuses bad fields itself (rc=1, file unchanged); so do we."""
    postconf.write_master("# keep\n")
    rc, after, err = postconf.edit_master(["-M", f"a/{entry.split()[1]}={entry}"])
    assert rc == 1 and after == "# keep\n" and message in err
    parsed = MasterCf.parse(entry + "\n")
    assert parsed.errors() and message in parsed.errors()[0]


# --------------------------------------------------------------------------- properties


@settings(_DIFF, max_examples=150)
@given(master_cf_texts())
def test_reads_match_postconf(postconf: MasterPostconf, text: str) -> None:
    _check_read(postconf, text)


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, MasterEntry]:
    text = draw(master_cf_texts())
    entry = MasterCf.parse(draw(entry_texts(valid=True, one_line=True)) + "\n").entries()[0]
    return text, entry


@settings(_DIFF, max_examples=120)
@given(edits())
def test_set_matches_postconf(postconf: MasterPostconf, case: tuple[str, MasterEntry]) -> None:
    text, entry = case
    cf = MasterCf.parse(text)
    postconf.write_master(text)
    rc, theirs, err = postconf.edit_master(["-M", f"{entry.service}/{entry.type}={entry.show().rstrip()}"])
    if cf.edit_errors():
        assert rc == 1 and theirs == text
        with pytest.raises(MasterCfError):
            cf.set(entry)
        return
    assert rc == 0, err
    # what postconf writes is our edit with postconf's own rendering of the entry
    assert theirs == cf._edit(entry.key, entry.show(fold=True)).render()
    if entry.problems():
        with pytest.raises(MasterCfError):
            cf.set(entry)
        return
    ours = cf.set(entry).render()
    if entry.render() == entry.show(fold=True):
        assert ours == theirs
    # and postconf reads our file as we do
    _check_read(postconf, ours)


@settings(_DIFF, max_examples=80)
@given(master_cf_texts(), st.sampled_from(["smtp/inet", "relay/unix", "pickup/unix", "127.0.0.2:smtp/inet", "x-y.z/fifo", "amavis/pass"]))
def test_remove_matches_postconf(postconf: MasterPostconf, text: str, pattern: str) -> None:
    service, kind = pattern.split("/")
    cf = MasterCf.parse(text)
    postconf.write_master(text)
    rc, theirs, err = postconf.edit_master(["-MX", pattern])
    if cf.edit_errors():
        assert rc == 1 and theirs == text
        return
    assert rc == 0, err
    assert cf.remove(service, kind).render() == theirs
