# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""master.cf reading/editing rules with small literal examples, and properties of the model.

Every expected text below was produced by the real postconf (Postfix 3.7.11, Debian 12);
test_mastercf_differential.py re-checks them against the installed binary. The strategies
defined here (master_cf_texts, entry_texts, ...) are shared with that file.
"""

from __future__ import annotations

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import (
    SERVICE_TYPES,
    MasterCf,
    MasterCfError,
    MasterEntry,
    split_command,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------- strategies

SERVICES = ("smtp", "relay", "127.0.0.2:smtp", "[::1]:2525", "amavis", "x-y.z", "submission", "scalemail-backend-long", "pickup")
PROGRAMS = ("smtpd", "smtp", "pipe", "local", "lmtp", "/usr/lib/x/prog", "spawn")
_OPTIONS = (
    "-v",
    "-o x=y",
    "-o syslog_name=postfix/$service_name",
    "-ox=y",
    "-o{ a = b }",
    "-o {smtpd_milters = inet:127.0.0.1:1 inet:127.0.0.1:2}",
    "-vo z=1",
    "-vv",
    "-D",
    "-o smtpd_client_restrictions=permit_mynetworks,reject",
    "-o\n  long_parameter_name_number_one=and_a_rather_long_value_too_1234567890",
    "-ofoo=bar",
    "-o",
    "-o {c}",
)
_ARGS = (
    "flags=DRXhu",
    "user=vmail",
    "argv=/usr/bin/maildrop",
    "-d",
    "${recipient}",
    "{a b}",
    "{ c }",
    "--",
    "($recipient)",
    "x{y z}",
    "a_very_long_argument_that_will_need_wrapping_somewhere_in_the_output_line",
    "{x y",
    "{x}y",
    "{}",
    "$nexthop!rmail",
)
_SEP = st.sampled_from([" ", " ", "\t", "  ", " \t", "   "])
_INDENT = st.sampled_from([" ", "  ", "\t", "    ", " \t"])
_NOISE = st.sampled_from(["#", "# comment\n", "  # indented comment", "", "  ", "\t", "#  -o commented=out"])


@st.composite
def entry_texts(draw: st.DrawFn, valid: bool = False, one_line: bool = False) -> str:
    """The text of one entry (without the final newline), maybe split over continuation lines."""

    def pick(good: tuple[str, ...], bad: tuple[str, ...]) -> str:
        if valid or draw(st.integers(0, 30)) > 0:
            return draw(st.sampled_from(good))
        return draw(st.sampled_from(bad))

    fields = [
        draw(st.sampled_from(SERVICES)),
        pick(SERVICE_TYPES, ("bogus", "Unix")),
        pick(("y", "n", "-"), ("yy", "x")),
        pick(("y", "n", "-"), ("-n",)),
        pick(("y", "n", "-"), ("1",)),
        pick(("-", "60", "1000?", "0", "300"), ("x", "1??", "?", "-?")),
        pick(("-", "0", "1", "100"), ("many", "-1")),
        draw(st.sampled_from(PROGRAMS)),
    ]
    if valid:
        options = st.sampled_from(_OPTIONS[:10])
        arguments = st.sampled_from(_ARGS[:11])
    else:
        options = st.sampled_from(_OPTIONS)
        arguments = st.sampled_from(_ARGS)
    fields += draw(st.lists(options, max_size=3))
    fields += draw(st.lists(arguments, max_size=4))
    if not valid and draw(st.integers(0, 40)) == 0:
        fields = fields[: draw(st.integers(1, 7))]  # bad field count
    text = fields[0]
    for index, item in enumerate(fields[1:], start=1):
        if not one_line and index >= 2 and draw(st.integers(0, 4)) == 0:
            text += "\n" + draw(_INDENT)
        else:
            text += draw(_SEP)
        text += item.replace("\n", "\n" if not one_line else " ")
    if one_line:
        text = text.replace("\n", " ")
    return text


@st.composite
def master_cf_texts(draw: st.DrawFn, valid: bool = False) -> str:
    """A master.cf: entries, comments and blank lines (also inside entries), always newline-terminated."""
    lines: list[str] = []
    if not valid and draw(st.integers(0, 20)) == 0:
        lines.append("  orphan continuation")
    for _entry in range(draw(st.integers(0, 6))):
        for _noise in range(draw(st.integers(0, 2))):
            lines.append(draw(_NOISE))
        entry = draw(entry_texts(valid=valid))
        if draw(st.integers(0, 5)) == 0:
            # a comment or blank line inside the entry (before a continuation line)
            parts = entry.split("\n", 1)
            if len(parts) == 2:
                entry = parts[0] + "\n" + draw(_NOISE) + "\n" + parts[1]
        lines.append(entry)
    lines.extend(draw(st.lists(_NOISE, max_size=2)))
    text = "\n".join(lines)
    return text + "\n" if text else text


def entries_of(text: str) -> list[MasterEntry]:
    return MasterCf.parse(text).entries()


# --------------------------------------------------------------------------- literal cases

STOCK = """\
smtp      inet  n       -       y       -       -       smtpd
pickup    unix  n       -       y       60      1       pickup
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
postlog   unix-dgram n  -       n       -       1       postlogd
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
scalemail-backend unix -       n       n       -       2       pipe
  flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store ${nexthop} ${user} ${extension}
"""

STOCK_SHOWN = """\
smtp       inet  n       -       y       -       -       smtpd
pickup     unix  n       -       y       60      1       pickup
tlsmgr     unix  -       -       y       1000?   1       tlsmgr
relay      unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name
postlog    unix-dgram n  -       n       -       1       postlogd
maildrop   unix  -       n       n       -       -       pipe flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
scalemail-backend unix - n       n       -       2       pipe flags=R user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store ${nexthop} ${user} ${extension}
"""

STOCK_FOLDED_TAIL = """\
maildrop   unix  -       n       n       -       -       pipe flags=DRXhu
    user=vmail argv=/usr/bin/maildrop -d ${recipient}
scalemail-backend unix - n       n       -       2       pipe flags=R
    user=scalemail argv=/usr/lib/scalemail/bin/scalemail-store ${nexthop}
    ${user} ${extension}
"""

#: (master.cf entry text, what postconf -M shows for it)
READ_CASES = [
    ("a unix - - n - - cmd {x y} {p q}\n", "a          unix  -       -       n       -       -       cmd x y {p q}\n"),
    ("a unix - - n - - cmd -o {x = y z} -v {p q}\n", "a          unix  -       -       n       -       -       cmd -o {x=y z} -v p q\n"),
    ("a unix - - n - - cmd -o\n", "a          unix  -       -       n       -       -       cmd -o\n"),
    ("a unix - - n - - cmd x{y z}\n", "a          unix  -       -       n       -       -       cmd x{y z}\n"),
    ("a unix - - n - - cmd -vox=y -o{ a = b }\n", "a          unix  -       -       n       -       -       cmd -v -o x=y -o a=b\n"),
    ("a unix - - n - - cmd\r\n  -o x=y\r\n", "a          unix  -       -       n       -       -       cmd -o x=y\n"),
    ("a unix - - n ? - cmd\n", "a          unix  -       -       n       ?       -       cmd\n"),
    ("a unix - - n 0? 00 cmd\n", "a          unix  -       -       n       0?      00      cmd\n"),
    ("a unix-dgram - - n - - cmd\n", "a          unix-dgram -  -       n       -       -       cmd\n"),
    ("a\n  unix - - n - - cmd\n", "a          unix  -       -       n       -       -       cmd\n"),
    ("a unix - - n - - cmd {a {b} c} {  x  }\n", "a          unix  -       -       n       -       -       cmd a {b} c x\n"),
    ("a unix - - n - - cmd -o a=b=c -o x= -o =y\n", "a          unix  -       -       n       -       -       cmd -o a=b=c -o x= -o =y\n"),
    ("a fifo - - - - - cmd -- -o x\n", "a          fifo  -       -       -       -       -       cmd -- -o x\n"),
    ("a fifo - - - - - cmd -ovo x -vv\n", "a          fifo  -       -       -       -       -       cmd -o v -o x -vv\n"),
    ("a unix - - n - - cmd -ofoo=bar\n", "a          unix  -       -       n       -       -       cmd -o f -o -o=bar\n"),
    ("a unix - - n - - cmd -o x=y\n\n#c\n  \n\t-v\n", "a          unix  -       -       n       -       -       cmd -o x=y -v\n"),
    ("a fifo - - - - - }cmd{ x} \n", "a          fifo  -       -       -       -       -       }cmd{ x}\n"),
    ("a\tunix\t-\t-\tn - - cmd\fx\n", "a          unix  -       -       n       -       -       cmd\fx\n"),
]

#: (text, warning as postconf prints it after "master.cf: ")
WARNING_CASES = [
    ("a unix - - n - - cmd {x y\n", "missing '}' in \"{x y\""),
    ("a unix - - n - - cmd {x y}z\n", "syntax error after '}' in \"{x y}z\""),
    ("a unix - - n - - cmd -o {a {b} c}\n", "missing '=' after attribute name: \"a {b} c\""),
    ("a unix - - n - - cmd -o {}\n", 'missing attribute name: ""'),
]

#: (text, fatal message as postconf prints it)
ERROR_CASES = [
    ("a unix - - n - -\n", "line 1: bad field count"),
    ("# c\na\tunix - - n\n   - - \n", "line 2: bad field count"),
    ("a\vunix - - n - - cmd\n", "line 1: bad field count"),
    ("a bogus - - n - - cmd\n", 'invalid type field "bogus" in "a bogus - - n - - cmd"'),
    ("a unix yy - - - - cmd\n", 'invalid private field "yy" in "a unix yy - - - - cmd"'),
    ("a unix - x - - - cmd\n", 'invalid unprivileged field "x" in "a unix - x - - - cmd"'),
    ("a unix - - 1 - - cmd\n", 'invalid chroot field "1" in "a unix - - 1 - - cmd"'),
    ("a unix - - - 1?? - cmd\n", 'invalid wakeup field "1??" in "a unix - - - 1?? - cmd"'),
    ("a unix - - - - 1x cmd\n", 'invalid process_limit field "1x" in "a unix - - - - 1x cmd"'),
]

#: (file, entry to set (one-line text), expected file after postconf -M)
SET_CASES = [
    (
        "# head\nsmtp inet n - y - - smtpd\n  -o a=b\n# mid comment\n  -o c=d\nb unix - - n - - x\nsmtp inet n - y - - dup\n",
        "smtp inet n - y - - smtpd -o a=b -o c=d",
        "# head\nsmtp       inet  n       -       y       -       -       smtpd\n    -o a=b\n    -o c=d\n# mid comment\nb unix - - n - - x\n",
    ),
    (
        "b unix - - n - - x\n",
        "verylongservicename12345 unix - - n - - cmd -v -o {x = y z} flags=F user=abc argv=/usr/bin/something-long-here -x $nexthop {abc def}"
        " ${recipient} more more more",
        "b unix - - n - - x\n"
        "verylongservicename12345 unix - - n      -       -       cmd -v\n"
        "    -o {x=y z}\n"
        "    flags=F user=abc argv=/usr/bin/something-long-here -x $nexthop {abc def}\n"
        "    ${recipient} more more more\n",
    ),
    ("", "127.0.0.2:smtp inet n - y - - smtpd", "127.0.0.2:smtp inet n    -       y       -       -       smtpd\n"),
]


def test_stock_entries_show_like_postconf() -> None:
    cf = MasterCf.parse(STOCK)
    assert cf.render() == STOCK
    assert cf.errors() == [] and cf.warnings() == [] and cf.edit_errors() == []
    assert cf.show() == STOCK_SHOWN
    assert cf.show(fold=True).endswith(STOCK_FOLDED_TAIL)
    relay = cf.get("relay", "unix")
    assert relay == MasterEntry("relay", "unix", "-", "-", "y", "-", "-", ("smtp", "-o", "syslog_name=postfix/$service_name"))
    assert relay is not None and relay.fields()["command"] == "smtp -o syslog_name=postfix/$service_name"
    assert cf.get("smtp", "unix") is None and cf.get("smtp", "inet") is not None


@pytest.mark.parametrize(("text", "shown"), READ_CASES)
def test_read_cases(text: str, shown: str) -> None:
    cf = MasterCf.parse(text)
    assert cf.errors() == []
    assert cf.show() == shown


@pytest.mark.parametrize(("text", "warning"), WARNING_CASES)
def test_warning_cases(text: str, warning: str) -> None:
    cf = MasterCf.parse(text)
    assert cf.errors() == []
    assert [w.split(": ", 1)[1] for w in cf.warnings()] == [warning]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_error_cases(text: str, message: str) -> None:
    cf = MasterCf.parse(text)
    assert message in cf.errors()[0]
    with pytest.raises(MasterCfError):
        cf.show()


def test_orphan_continuation_is_a_warning() -> None:
    cf = MasterCf.parse("  lead unix - - n - - cmd\na unix - - n - - c\n")
    assert cf.errors() == []
    assert ["logical line must not start with whitespace" in w for w in cf.warnings()] == [True]
    assert [e.service for e in cf.entries()] == ["a"]


@pytest.mark.parametrize(("text", "entry", "expected"), SET_CASES)
def test_set_cases(text: str, entry: str, expected: str) -> None:
    new = MasterCf.parse(entry + "\n").entries()[0]
    assert MasterCf.parse(text).set(new).render() == expected


def test_first_non_option_argument_keeps_its_braces() -> None:
    """postconf 3.7 writes `cmd {x y}` back as `cmd x y` (two arguments); we keep the braces."""
    entry = MasterCf.parse("a unix - - n - - cmd {x y} -o z\n").entries()[0]
    assert entry.command == ("cmd", "x y", "-o", "z")
    assert entry.show() == "a          unix  -       -       n       -       -       cmd x y -o z\n"  # postconf
    assert entry.render() == "a          unix  -       -       n       -       -       cmd {x y} -o z\n"  # us
    assert MasterCf.parse(entry.render()).entries() == [entry]
    assert MasterCf.parse(entry.show()).entries() != [entry]


def test_remove_keeps_noise_and_other_entries() -> None:
    text = "# head\na unix - - n - - x\n  -o a=b\n# inside\n\n  -o c=d\nb unix - - n - - y\na unix - - n - - dup\n# tail"
    cf = MasterCf.parse(text)
    assert cf.remove("a", "unix").render() == "# head\n# inside\n\nb unix - - n - - y\n# tail\n"
    assert cf.remove("a", "inet").render() == text  # nothing to remove: untouched
    assert cf.remove("zz", "unix") == cf


def test_unterminated_last_line_gets_a_newline_on_edit() -> None:
    cf = MasterCf.parse("a unix - - n - - cmd")
    new = MasterEntry("b", "unix", command=("x",))
    assert cf.set(new).render() == "a unix - - n - - cmd\nb          unix  -       -       -       -       -       x\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a\n  unix - - n - - cmd\n", "specify service name and type on the same line"),
        ("a=b unix - - n - - cmd\n", 'service name syntax "a=b" is unsupported'),
        ("a unix/x - - n - - cmd\n", 'service type syntax "unix/x" is unsupported'),
    ],
)
def test_files_postconf_cannot_edit(text: str, fragment: str) -> None:
    cf = MasterCf.parse(text)
    assert fragment in cf.edit_errors()[0]
    with pytest.raises(MasterCfError, match="cannot edit"):
        cf.set(MasterEntry("b", "unix", command=("x",)))


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (MasterEntry("smtp", "inet", "y", command=("smtpd",)), "inet service cannot be private"),
        (MasterEntry("smtp", "bogus", command=("smtpd",)), 'invalid type field "bogus"'),
        (MasterEntry("smtp", "inet", "yes", command=("smtpd",)), 'invalid private field "yes"'),
        (MasterEntry("smtp", "inet", maxproc="many", command=("smtpd",)), 'invalid process_limit field "many"'),
        (MasterEntry("smtp", "inet", wakeup="?", command=("smtpd",)), 'invalid wakeup field "?"'),
        (MasterEntry("smtp", "inet", wakeup="x", command=("smtpd",)), 'invalid wakeup field "x"'),
        (MasterEntry("sm tp", "inet", command=("smtpd",)), "invalid service name"),
        (MasterEntry("a=b", "inet", command=("smtpd",)), "invalid service name"),
        (MasterEntry("a/b", "inet", command=("smtpd",)), "invalid service name"),
        (MasterEntry("smtp", "inet"), "command field is missing"),
        (MasterEntry("smtp", "inet", command=("-smtpd",)), "invalid command name"),
        (MasterEntry("smtp", "inet", command=("smtpd", "")), "empty arguments"),
        (MasterEntry("smtp", "inet", command=("smtpd", "{x")), "cannot be written"),
        (MasterEntry("smtp", "inet", command=("smtpd", "-o", "x = y")), "cannot be written"),
    ],
)
def test_entry_problems(entry: MasterEntry, fragment: str) -> None:
    problems = entry.problems()
    assert any(fragment in problem for problem in problems), problems
    with pytest.raises(MasterCfError):
        MasterCf.parse("").set(entry)


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("smtpd", ("smtpd",)),
        (
            "smtpd -o smtpd_tls_wrappermode=yes -o { smtpd_sasl_auth_enable = yes }",
            ("smtpd", "-o", "smtpd_tls_wrappermode=yes", "-o", "smtpd_sasl_auth_enable=yes"),
        ),
        ("pipe flags=R user=x argv=/bin/prog {a b} ${nexthop}", ("pipe", "flags=R", "user=x", "argv=/bin/prog", "a b", "${nexthop}")),
        ("smtpd -vox=y", ("smtpd", "-v", "-o", "x=y")),
        ("  smtpd\t-v  ", ("smtpd", "-v")),
    ],
)
def test_split_command(text: str, argv: tuple[str, ...]) -> None:
    assert split_command(text) == argv


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("smtpd\n-v", "single line"),
        ("smtpd {x", "missing '}'"),
        ("smtpd -o {x}", "missing '='"),
        ("smtpd -ofoo=bar", "read the option(s) -ofoo=bar differently"),
        ("smtpd -vofoo", "differently"),
        ("smtpd -o{ syslog_name = x }", "missing '}' in \"{ sysl\""),  # postconf splits at the second "o"
        ("smtpd - x", "differently"),
    ],
)
def test_split_command_refuses(text: str, fragment: str) -> None:
    with pytest.raises(MasterCfError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        split_command(text)


# --------------------------------------------------------------------------- properties

_PROPS = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(st.text(alphabet=" \t\r\n\v\f#{}-ox=ay", max_size=80))
def test_parse_never_fails_and_is_lossless(text: str) -> None:
    cf = MasterCf.parse(text)
    assert cf.render() == text
    cf.errors()
    cf.warnings()
    cf.edit_errors()


@_PROPS
@given(master_cf_texts())
def test_generated_files_are_lossless(text: str) -> None:
    assert MasterCf.parse(text).render() == text


@_PROPS
@given(master_cf_texts(valid=True))
def test_shown_entries_read_back_as_the_same_entries(text: str) -> None:
    cf = MasterCf.parse(text)
    assert cf.errors() == []
    entries = cf.entries()
    rendered = "".join(entry.render() for entry in entries if not entry.problems())
    assert MasterCf.parse(rendered).entries() == [entry for entry in entries if not entry.problems()]


@_PROPS
@given(master_cf_texts(valid=True), entry_texts(valid=True, one_line=True))
def test_set_is_idempotent_and_found_again(text: str, entry_text: str) -> None:
    cf = MasterCf.parse(text)
    entry = MasterCf.parse(entry_text + "\n").entries()[0]
    if entry.problems() or cf.edit_errors():
        return
    once = cf.set(entry)
    assert once.set(entry) == once
    assert once.get(*entry.key) == entry
    assert once.count(*entry.key) == 1
    others = [e for e in cf.entries() if e.key != entry.key]
    assert [e for e in once.entries() if e.key != entry.key] == others
    removed = once.remove(*entry.key)
    assert removed.get(*entry.key) is None
    assert removed.entries() == others
