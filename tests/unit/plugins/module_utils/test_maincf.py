# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""main.cf reading/editing rules with small literal examples, and round-trip properties.

Every expected value below was produced by the real postconf (Postfix 3.7.11, Debian 12);
test_maincf_differential.py re-checks the rules against the installed binary. The
strategies defined here (realistic_main_cf, ...) are shared with that file.
"""

from __future__ import annotations

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import (
    MainCf,
    MainCfError,
    expand,
    normalize_whitespace,
    validate_name,
    validate_value,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------------------- strategies

#: Parameters that postconf knows (so ``postconf -n`` shows them) and that have no special
#: handling (config_directory is overridden by -c, process_id/process_name are read-only).
KNOWN_NAMES = (
    "myhostname",
    "mydomain",
    "mydestination",
    "relayhost",
    "smtpd_banner",
    "alias_maps",
    "mynetworks",
    "smtpd_recipient_restrictions",
    "multi_instance_directories",
    "multi_instance_name",
)
#: Names postconf -e may add that are not in any generated file.
NEW_NAMES = ("aa_new_param", "multi_instance_group", "zz_new_param", "inet_interfaces")

_WORD_CHARS = "abcxyz0129.,:/[]-_=#é"
_words = st.text(alphabet=_WORD_CHARS, min_size=1, max_size=8)
_inner_space = st.sampled_from([" ", " ", "  ", "\t", " \t "])
_line_end = st.sampled_from(["\n"] * 10 + ["\r\n", "\r\n", " \n", "\t\n"])
_indent = st.sampled_from([" ", "    ", "\t", "  \t", "\t "])
_blank = st.sampled_from(["\n", " \n", "\t\n", "  \t \n", "\r\n"])


@st.composite
def simple_values(draw: st.DrawFn) -> str:
    """A value without ``$`` (so it can never be a bad expansion), may be empty."""
    words = draw(st.lists(_words, max_size=4))
    text = ""
    for word in words:
        text += (draw(_inner_space) if text else "") + word
    return text


@st.composite
def comment_lines(draw: st.DrawFn) -> str:
    lead = draw(st.sampled_from(["", "", " ", "  ", "\t"]))
    body = draw(st.sampled_from(["", " comment", "myhostname = commented.example", "relayhost=[x]:587", " #"]))
    return lead + "#" + body + draw(_line_end)


@st.composite
def entries(draw: st.DrawFn, names: tuple[str, ...] = KNOWN_NAMES) -> str:
    """One ``name = value`` entry, possibly with continuation, comment and blank lines."""
    name = draw(st.sampled_from(names))
    sep = draw(st.sampled_from([" = ", "=", " =", "= ", "\t=\t", "  =  ", " =\t"]))
    text = name + sep + draw(simple_values()) + draw(st.sampled_from(["", "", " ", "\t"])) + draw(_line_end)
    for _count in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cont", "cont", "cont", "comment", "blank"]))
        if kind == "cont":
            text += draw(_indent) + draw(_words) + draw(simple_values()) + draw(_line_end)
        elif kind == "comment":
            text += draw(comment_lines())
        else:
            text += draw(_blank)
    return text


@st.composite
def realistic_main_cf(draw: st.DrawFn, names: tuple[str, ...] = KNOWN_NAMES, garbage: bool = False) -> str:
    """Realistic main.cf text: comments, blank lines, entries (duplicates likely), continuations.

    With garbage=True it may also contain lines postconf cannot read (no '=', no name).
    The final newline is sometimes missing.
    """
    text = ""
    if draw(st.integers(0, 9)) == 0:  # continuation lines before the first entry
        text += draw(_indent) + draw(_words) + "\n"
    kinds = ["entry"] * 5 + ["comment", "comment", "blank"] + (["garbage"] if garbage else [])
    for _count in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(kinds))
        if kind == "entry":
            text += draw(entries(names))
        elif kind == "comment":
            text += draw(comment_lines())
        elif kind == "blank":
            text += draw(_blank)
        else:
            text += draw(st.sampled_from(["garbage", "= value", "two words = x", "myhostname value"])) + "\n"
    if text and draw(st.integers(0, 4)) == 0:
        text = text.rstrip("\n")
    return text


# --------------------------------------------------------------------------- reading

STOCK = """\
# Header comment line 1
# Header comment line 2

myhostname = host.example
# comment about mydestination
mydestination = $myhostname,
    localhost.$mydomain,
\tlocalhost
#relayhost = [commented.example]
relayhost =
smtpd_recipient_restrictions =
\tpermit_mynetworks
\treject_unauth_destination
myorigin=$mydomain
# trailing comment
"""


def test_stock_example_reads_like_postconf() -> None:
    cf = MainCf.parse(STOCK)
    assert cf.params() == {
        "mydestination": "$myhostname, localhost.$mydomain, localhost",
        "myhostname": "host.example",
        "myorigin": "$mydomain",
        "relayhost": "",
        "smtpd_recipient_restrictions": "permit_mynetworks reject_unauth_destination",
    }
    assert cf.get("relayhost") == ""
    assert cf.get("no_such_param") is None
    assert cf.has("relayhost")
    assert not cf.has("no_such_param")
    # the daemons see the continuation lines glued together as written
    assert cf.raw("mydestination") == "$myhostname,    localhost.$mydomain,\tlocalhost"


#: (text, what postconf -n shows); re-checked against postconf by the differential tests.
READ_CASES: list[tuple[str, dict[str, str]]] = [
    # comment lines (also indented) and blank/whitespace-only lines do not end an entry
    ("a = 1\n  # c\n\n  cont\n#x\nb = 2\n", {"a": "1 cont", "b": "2"}),
    ("a = 1\n#c\n  b\n", {"a": "1 b"}),
    ("a = 1\n\n  b\n", {"a": "1 b"}),
    ("a = 1\n \t \n\tb\n", {"a": "1 b"}),
    # whitespace around '=' and at the ends of the value is dropped
    ("a  =  v  w \n", {"a": "v w"}),
    ("a=v\n", {"a": "v"}),
    ("a\t=\tv\t\n", {"a": "v"}),
    # empty values
    ("a =\n", {"a": ""}),
    ("a = \n", {"a": ""}),
    ("a=\n", {"a": ""}),
    # '=' may even sit on a continuation line
    ("a\n  = c\n", {"a": "c"}),
    ("a = x\n  b\n  = c\n", {"a": "x b = c"}),
    # duplicates: the last one wins
    ("a = 1\na = 2\n", {"a": "2"}),
    ("a = 1\n  more\nb = 0\na = 2\n", {"a": "2", "b": "0"}),
    # continuation lines before the first entry are ignored (postconf warns)
    ("  lead = 1\nb = 2\n", {"b": "2"}),
    ("\tlead = 1\n  more\nb = 2\n", {"b": "2"}),
    # CRLF line ends: CR is whitespace
    ("a = x\r\nb=y\r\n", {"a": "x", "b": "y"}),
    # inner whitespace is printed as one space; VT and FF are kept (not PCF_SEPARATORS)
    ("a = a\vb \fc\rd\te\n", {"a": "a\vb \fc d e"}),
    # the last line may lack its newline
    ("a = 1\nb = 2", {"a": "1", "b": "2"}),
    # a name ends at VT for reading (isspace), see test_edit_key_differs_from_read_name
    ("a\v= 1\n", {"a": "1"}),
    # non-ASCII is just text
    ("myhostname = é€ x\n", {"myhostname": "é€ x"}),
    ("", {}),
    ("\n\n# only comments\n", {}),
]


@pytest.mark.parametrize(("text", "expected"), READ_CASES)
def test_reading_rules(text: str, expected: dict[str, str]) -> None:
    cf = MainCf.parse(text)
    assert cf.params() == expected
    for name, value in expected.items():
        assert cf.get(name) == value
    assert cf.errors() == []


def test_raw_keeps_whitespace_get_normalises() -> None:
    cf = MainCf.parse("smtpd_banner = $myhostname   ESMTP\n\tmore  \n")
    assert cf.raw("smtpd_banner") == "$myhostname   ESMTP\tmore"
    assert cf.get("smtpd_banner") == "$myhostname ESMTP more"
    assert cf.raw_params() == {"smtpd_banner": "$myhostname   ESMTP\tmore"}
    assert normalize_whitespace(" a \t\r\n b\v ") == "a b\v"


#: (text, the one problem errors() reports); postconf fails on each (see the differential tests).
ERROR_CASES: list[tuple[str, str]] = [
    ("garbage\nb = 2\n", "line 1: missing '=' after attribute name: \"garbage\""),
    ("=x\n", 'line 1: missing attribute name: "=x"'),
    ("foo bar = x\n", "line 1: missing '=' after attribute name: \"foo bar = x\""),
    ("a = 1\n  b\ngarbage\n  more\n", "line 3: missing '=' after attribute name: \"garbage  more\""),
    ("a = 1\n\n#c\ngarbage\n", "line 4: missing '=' after attribute name: \"garbage\""),
    ("myhostname = a $ b\n", 'line 1: myhostname: empty macro name: "a $ b"'),
    ("x = ${y\n", 'line 1: x: truncated macro reference: "${y"'),
    ("x = a\0b\n", "line 1: x: NUL character in entry"),
]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_errors(text: str, message: str) -> None:
    cf = MainCf.parse(text)
    assert cf.errors() == [message]


def test_invalid_entries_are_ignored_for_reading() -> None:
    cf = MainCf.parse("a = 1\ngarbage\nb = 2\n")
    assert cf.params() == {"a": "1", "b": "2"}
    assert not cf.has("garbage")


def test_changed_names() -> None:
    one = MainCf.parse("a = 1\nb = x  y\nc = 3\n")
    two = MainCf.parse("a = 1\nb = x y\nd = 4\n")
    assert one.changed_names(two) == ["b", "c", "d"]
    assert one.changed_names(one) == []
    assert MainCf.parse("a=1").changed_names(MainCf.parse("a = 1\n")) == []


def test_equality_and_repr() -> None:
    assert MainCf.parse("a = 1\n") == MainCf.parse("a = 1\n")
    assert MainCf.parse("a = 1\n") != MainCf.parse("a=1\n")
    assert len({MainCf.parse("a = 1\n"), MainCf.parse("a = 1\n")}) == 1
    assert repr(MainCf.parse("a = 1\n")) == "MainCf.parse('a = 1\\n')"
    assert MainCf.parse("a") != "a"


# --------------------------------------------------------------------------- editing


#: (text, edit() arguments, result); the differential tests run the same edits with postconf.
EDIT_CASES: list[tuple[str, dict[str, object], str]] = [
    # replace in place, comments untouched
    (STOCK, {"set_values": {"myhostname": "new.example"}}, STOCK.replace("myhostname = host.example", "myhostname = new.example")),
    # a multi-line entry becomes one line; comment lines inside it stay
    (
        "a = 1\n  # c\n\n  cont\n#x\nb = 2\n",
        {"set_values": {"a": "9"}},
        "a = 9\n  # c\n\n#x\nb = 2\n",
    ),
    (
        "a = 1\n  # c\n\n  cont\n#x\nb = 2\n",
        {"remove": ["a"]},
        "  # c\n\n#x\nb = 2\n",
    ),
    (
        "a = 1\n  # c\n\n  cont\n#x\nb = 2\n",
        {"comment_out": ["a"]},
        "#a = 1\n  # c\n\n#  cont\n#x\nb = 2\n",
    ),
    # duplicates: all rewritten / removed / commented
    ("a = 1\n  cont\nb = 2\na=3\n  c2\n", {"set_values": {"a": "9"}}, "a = 9\nb = 2\na = 9\n"),
    ("a = 1\n  cont\nb = 2\na=3\n  c2\n", {"remove": ["a"]}, "b = 2\n"),
    ("a = 1\n  cont\nb = 2\na=3\n  c2\n", {"comment_out": ["a"]}, "#a = 1\n#  cont\nb = 2\n#a=3\n#  c2\n"),
    # canonical form; untouched lines keep their spacing
    ("a=1\nb=2\n", {"set_values": {"a": "x"}}, "a = x\nb=2\n"),
    # value trimmed like postconf -e 'a =  v  w  '; inner whitespace kept
    ("a = 1\n", {"set_values": {"a": "  v  w  "}}, "a = v  w\n"),
    ("a = 1\n", {"set_values": {"a": "\tx\r"}}, "a = x\n"),
    # empty value: trailing space
    ("a = 1\n", {"set_values": {"a": ""}}, "a = \n"),
    # new names appended at the end, sorted
    ("# h\n", {"set_values": {"zeta_x": "1", "alpha_y": "2", "mid_z": "3"}}, "# h\nalpha_y = 2\nmid_z = 3\nzeta_x = 1\n"),
    ("a = 1\n# trailing comment\n", {"set_values": {"b": "2"}}, "a = 1\n# trailing comment\nb = 2\n"),
    ("", {"set_values": {"c": "3"}}, "c = 3\n"),
    # commented-out definitions are not touched
    ("#relayhost = [c]\nrelayhost =\n", {"set_values": {"relayhost": "[x]:587"}}, "#relayhost = [c]\nrelayhost = [x]:587\n"),
    ("#a=1\n", {"comment_out": ["a"]}, "#a=1\n"),
    # removing / commenting what is not there changes nothing
    ("a = 1\n", {"remove": ["b"]}, "a = 1\n"),
    ("a = 1\n", {"comment_out": ["b"]}, "a = 1\n"),
    # continuation lines before the first entry belong to nothing
    ("  orphan\na = 1\n", {"set_values": {"a": "2"}}, "  orphan\na = 2\n"),
    ("  orphan\n  orphan2\na = 1\n", {"comment_out": ["a"]}, "  orphan\n  orphan2\n#a = 1\n"),
    # CRLF: the key ends at CR; commented lines keep their CR
    ("a = 1\r\n  b\r\n", {"comment_out": ["a"]}, "#a = 1\r\n#  b\r\n"),
    ("a\r= 1\n  x\n", {"remove": ["a"]}, ""),
    # the key of a line is its text up to whitespace or '=', even on lines postconf cannot read
    ("a b = 1\n", {"set_values": {"a": "3"}}, "a = 3\n"),
    ("garbage\n", {"set_values": {"garbage": "3"}}, "garbage = 3\n"),
    ("a:b = 1\n", {"set_values": {"a": "3"}}, "a:b = 1\na = 3\n"),
    # the key ends at space, TAB, CR, LF or '=' only (reading stops at VT and FF too)
    ("a\v= 1\n", {"set_values": {"a": "3"}}, "a\v= 1\na = 3\n"),
    ("a\f= 1\n  x\n", {"remove": ["a"]}, "a\f= 1\n  x\n"),
    ("\fa = 1\n", {"remove": ["a"]}, "\fa = 1\n"),
    # several operations in one call (disjoint names)
    (
        "a = 1\nb = 2\n  b2\nc = 3\n",
        {"set_values": {"a": "x", "d": "4"}, "remove": ["b"], "comment_out": ["c"]},
        "a = x\n#c = 3\nd = 4\n",
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), EDIT_CASES)
def test_edit_rules(text: str, kwargs: dict[str, object], expected: str) -> None:
    before = MainCf.parse(text)
    after = before.edit(**kwargs)  # type: ignore[arg-type]
    assert after.render() == expected
    assert before.render() == text  # unchanged


def test_edit_key_differs_from_read_name() -> None:
    # postconf -e matches keys up to space/TAB/CR/LF/'=' only; reading stops at any isspace()
    cf = MainCf.parse("a\v= 1\n")
    assert cf.get("a") == "1"
    assert cf.edit({"a": "3"}).render() == "a\v= 1\na = 3\n"
    assert MainCf.parse("\fa = 1\n").edit(remove=["a"]).render() == "\fa = 1\n"


#: Files without a final newline: (text, edit() arguments, result of the fixed postconf).
TERMINATE_CASES: list[tuple[str, dict[str, object], str]] = [
    # Postfix >= 3.7.15 behaviour (3.7.11 would write "a = 1b = 2\n")
    ("a = 1", {"set_values": {"b": "2"}}, "a = 1\nb = 2\n"),
    ("b = 1\n#x", {"set_values": {"c": "3"}}, "b = 1\n#x\nc = 3\n"),
    # the fixed postconf terminates the last line on every edit
    ("a = 1", {"comment_out": ["a"]}, "#a = 1\n"),
    ("a = 1", {"remove": ["b"]}, "a = 1\n"),
    ("a = 1", {"set_values": {"a": "3"}}, "a = 3\n"),
    ("b = 1\n  x", {"remove": ["b"]}, ""),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), TERMINATE_CASES)
def test_edit_terminates_last_line(text: str, kwargs: dict[str, object], expected: str) -> None:
    assert MainCf.parse(text).edit(**kwargs).render() == expected  # type: ignore[arg-type]


def test_edit_with_nothing_to_do_returns_equal_copy() -> None:
    cf = MainCf.parse("a = 1")
    other = cf.edit()
    assert other is not cf
    assert other.render() == "a = 1"
    assert cf.edit(set_values={}, remove=[], comment_out=()).render() == "a = 1"


def test_edit_duplicate_names_in_one_list_are_fine() -> None:
    # postconf -X a a crashes (SIGSEGV) on 3.7.11; we just do it once
    assert MainCf.parse("a = 1\nb = 2\n").edit(remove=["a", "a"]).render() == "b = 2\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"set_values": {"a": "1"}, "remove": ["a"]},
        {"set_values": {"a": "1"}, "comment_out": ["a"]},
        {"remove": ["a"], "comment_out": ["a"]},
        {"remove": "a"},
        {"comment_out": "a"},
        {"set_values": [("a", "1")]},
        {"set_values": {"ok": "1", "bad name": "1"}},
        {"set_values": {"ok": "1", "x": "two\nlines"}},
        {"set_values": {"ok": "1", "x": "a $ b"}},
        {"set_values": {"ok": 1}},
        {"remove": ["ok", "#x"]},
        {"comment_out": ["ok", ""]},
    ],
)
def test_edit_refuses_and_changes_nothing(kwargs: dict[str, object]) -> None:
    cf = MainCf.parse("ok = 0\na = 1\n")
    with pytest.raises(MainCfError):
        cf.edit(**kwargs)  # type: ignore[arg-type]
    assert cf.render() == "ok = 0\na = 1\n"


@pytest.mark.parametrize(
    "name",
    ["myhostname", "smtp-amavis_destination_recipient_limit", "a", "_x", "1abc", "FOO", "relay.svc_param"],
)
def test_validate_name_accepts(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize(
    "name",
    ["", " a", "a ", "a b", "a=b", "#a", "a#", "-a", ".a", "a$", "a:b", "a/b", "é", "a\n", "a\tb", 5, None],
)
def test_validate_name_refuses(name: object) -> None:
    with pytest.raises(MainCfError):
        validate_name(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  padded  ",
        "a\rb",
        "$myhostname, localhost.$mydomain",
        "$$literal",
        "cost $5",
        "${x?{a}:{b}}",
        "${x?a:b}",
        "${x?a}}",
        "${ x ? {y} : {n} }",
        "${{$x} == {1}?{a}:{b}}",
        "${x?{a}:{b} }",
        "#not a comment",
        "é€",
        "inline:{ {a=b}, {c=d} }",
    ],
)
def test_validate_value_accepts(value: str) -> None:
    validate_value(value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("two\nlines", "single line"),
        ("nul\0", "NUL"),
        ("a $ b", "empty macro name"),
        ("a$", "empty macro name"),
        ("${x", "truncated macro reference"),
        ("$(x?(a)", "truncated macro reference"),
        ("${a b}", "attribute name syntax error"),
        ("$(my{domain)", "attribute name syntax error"),
        ("${x?{a} x}", '":" expected'),
        ("${x?{a}:{b} c}", "unexpected input"),
        ("${x:{a}?{b}}", "unexpected input"),
        ("${{a}}", "expected at"),
        ("${{a} = {b}}", "expected at"),
        ("${{a} == b}", '"{expression}" expected'),
        ("${{a}=={b} x}", '"?" or ":" expected'),
        # scan mode: also errors in branches that would not be taken right now
        ("${x?{$}}", "empty macro name"),
        ("${x?{a}:{${y}", "truncated macro reference"),
        (5, "must be a string"),
    ],
)
def test_validate_value_refuses(value: object, fragment: str) -> None:
    with pytest.raises(MainCfError, match=None) as info:
        validate_value(value)  # type: ignore[arg-type]
    assert fragment in str(info.value)


# --------------------------------------------------------------------------- expansion

#: Parameter definitions for the expansion cases (written into main.cf for the differential test).
EXPAND_DEFS = {
    "mydomain": "ex.org",
    "relayhost": "",
    "rec1": "$rec2",
    "rec2": "$rec1",
    "zz_dollar": "a$$b $mydomain",
    "mynetworks_style": "subnet",
    "ten": "10",
    "compatibility_level": "3.6",
}


#: (value of myhostname, what `postconf -x -h myhostname` prints) with EXPAND_DEFS in main.cf.
EXPAND_CASES: list[tuple[str, str]] = [
    # all observed with `postconf -x -h myhostname` on 3.7.11
    ("$mydomain", "ex.org"),
    ("${mydomain}", "ex.org"),
    ("$(mydomain)", "ex.org"),
    ("$$mydomain", "$mydomain"),
    ("cost $5", "cost"),
    ("${mydomain?yes}", "yes"),
    ("${relayhost?yes}", ""),
    ("${relayhost:no}", "no"),
    ("${mydomain:no}", ""),
    ("${mydomain?{ yes }:{ no }}", "yes"),
    ("${relayhost?{ yes }:{ no }}", "no"),
    ("${relayhost?{yes}:no}", "no"),
    ("${{$mydomain} == {ex.org}?{eq}:{ne}}", "eq"),
    ("${{$mydomain} != {ex.org}?{eq}:{ne}}", "ne"),
    ("${{$mydomain}=={ex.org}}", "true"),
    ("${mydomain?a:b}", "a:b"),
    ("${mydomain?${relayhost:x}}", "x"),
    ("$zz_undef", ""),
    ("${zz_undef?x}", ""),
    ("${zz_undef:y}", "y"),
    ("${mydomain?{a}}b", "ab"),
    ("$(mydomain?(x))", "(x)"),
    ("${mydomain?{$mynetworks_style}}", "subnet"),
    ("$zz_dollar", "a$b ex.org"),
    ("${{10} < {9}}", ""),
    ("${{$ten} > {9}}", "true"),
    ("${{10} < {9x}}", "true"),
    ("${{} < {1}}", "true"),
    ("${{9223372036854775807} > {0}}", "true"),
    ("${ mydomain }", "ex.org"),
    ("${ mydomain ? {y} : {n} }", "y"),
    ("${mydomain ?x}", "x"),
    ("${ }", ""),
    ("${{a}<={a}?yes}", "yes"),
    ("${{ $mydomain } == {ex.org}}", ""),
    ("${{$mydomain}=={ex.org} ?x}", "x"),
    ("${x?{$}}", ""),  # x undefined: the broken branch is not parsed
    # compatibility levels (Postfix 3.6+, global/compat_level.c): numbers per component, 3.10 above 3.2
    ("${{3.10} >level {3.2}?{above}:{below}}", "above"),
    ("${{3.6} <level {3.6}}", ""),
    ("${{3.6} <=level {3.6}}", "true"),
    ("${{ 3.6} ==level {3.6.0}}", "true"),
    ("${{3} ==level {3.0}}", "true"),
    ("${{3.6.1} >level {3.6}}", "true"),
    ("${{$compatibility_level} <level {3.6} ? {no} : {yes}}", "yes"),
    ("${{$compatibility_level} !=level {3.6.0}}", ""),
    ("${{+3.6} ==level {3.6}}", "true"),
    ("${{3. 6} ==level {3.6}}", "true"),
    ("${{1024} >level {3.1023.1023}}", "true"),
    ("${{10} <level {9}}", ""),
    ("${{3.6}<level{3.7}}", "true"),
]


@pytest.mark.parametrize(("value", "expected"), EXPAND_CASES)
def test_expand(value: str, expected: str) -> None:
    # expected: what `postconf -x -h` printed, i.e. with normalised whitespace
    assert normalize_whitespace(expand(value, EXPAND_DEFS.get)) == expected


def test_expand_keeps_whitespace() -> None:
    assert expand("${mydomain?{ yes }:{ no }} a  b\t$mydomain", EXPAND_DEFS.get) == " yes  a  b\tex.org"


#: (value of myhostname, part of the error); postconf -x fails on each with EXPAND_DEFS + EXPAND_LOOPS.
EXPAND_ERROR_CASES: list[tuple[str, str]] = [
    ("a $ b", "empty macro name"),
    ("${mydomain", "truncated macro reference"),
    ("${a b}", "attribute name syntax error"),
    ("${mydomain?{a} x}", '":" expected'),
    ("${{a}=>{a}?yes}", "expected at"),
    ("$myorigin_loop", "unreasonable macro call nesting"),
    ("x $rec1", "unreasonable macro call nesting"),
    ("${{99999999999999999999} < {1}}", "bad conversion"),
    ("${relayhost:{$}}", "empty macro name"),
    ("${{x} <level {3}}", 'malformed compatibility level syntax: "x"'),
    ("${{3.6 } ==level {3.6}}", 'malformed compatibility level syntax: "3.6 "'),
    ("${{3.1024} <level {4}}", 'malformed compatibility level syntax: "3.1024"'),
    ("${{3.6.1.1} <level {4}}", 'malformed compatibility level syntax: "3.6.1.1"'),
    ("${{} <level {4}}", 'malformed compatibility level syntax: ""'),
    ("${{3.} <level {4}}", 'malformed compatibility level syntax: "3."'),
    ("${{-1} <level {4}}", 'malformed compatibility level syntax: "-1"'),
    ("${{3.6} <levels {4}}", 'bad operator suffix at: "...<>>>levels"'),
    ("${{3.6} <Level {4}}", 'bad operator suffix at: "...<>>>Level"'),
    ("${{3.6} <lev {4}}", 'bad operator suffix at: "...<>>>lev"'),
    ("${{3.6} =level {4}}", 'expected at: "...3.6}>>>=level {4}"'),
    ("${{3.6} <level_x {4}}", '"{expression}" expected at: "...{3.6} <>>>_x {4}"'),
    ("${{3.6} < level {4}}", '"{expression}" expected at: "...{3.6} <>>> level {4}"'),
]
EXPAND_LOOPS = {"myorigin_loop": "$myhostname_loop", "myhostname_loop": "$myorigin_loop"}


@pytest.mark.parametrize(("value", "fragment"), EXPAND_ERROR_CASES)
def test_expand_errors(value: str, fragment: str) -> None:
    defs = dict(EXPAND_DEFS, **EXPAND_LOOPS)
    with pytest.raises(MainCfError) as info:
        expand(value, defs.get)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("hops", "fails"), [(98, False), (99, False), (100, True), (101, True)])
def test_expand_nesting_limit(hops: int, fails: bool) -> None:
    # postconf: myhostname = $zz0, zz0 = $zz1, ..., zzN = END  -> fine up to N = 99
    defs = {f"zz{i}": f"$zz{i + 1}" for i in range(hops)}
    defs[f"zz{hops}"] = "END"
    if fails:
        with pytest.raises(MainCfError, match="unreasonable macro call nesting"):
            expand("$zz0", defs.get)
    else:
        assert expand("$zz0", defs.get) == "END"


def test_expand_deep_relational_nesting_does_not_crash() -> None:
    value = "${{" * 1000 + "a" + "} == {a}}" * 1000
    with pytest.raises(MainCfError):
        expand(value, lambda _name: None)


# --------------------------------------------------------------------------- properties

_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CHEAP = settings(max_examples=500, deadline=None)


@_CHEAP
@given(st.text())
def test_round_trip_any_text(text: str) -> None:
    cf = MainCf.parse(text)
    assert cf.render() == text
    cf.params()  # never fails
    cf.errors()


@_CHEAP
@given(st.text(alphabet=st.sampled_from(list(" \t\r\n\v\f#=abc$é\0"))))
def test_round_trip_whitespace_heavy_text(text: str) -> None:
    assert MainCf.parse(text).render() == text


@_PROPERTY
@given(realistic_main_cf(garbage=True))
def test_round_trip_realistic(text: str) -> None:
    assert MainCf.parse(text).render() == text


@_PROPERTY
@given(realistic_main_cf(), st.sampled_from(KNOWN_NAMES + NEW_NAMES), simple_values())
def test_set_then_get(text: str, name: str, value: str) -> None:
    cf = MainCf.parse(text)
    after = cf.edit({name: value})
    assert after.get(name) == normalize_whitespace(value)
    assert after.raw(name) == value.strip(" \t\r\n\v\f")
    assert after.changed_names(cf) in ([], [name])
    # setting again is a fixed point, and other parameters keep their values
    assert after.edit({name: value}) == after
    assert {k: v for k, v in after.params().items() if k != name} == {k: v for k, v in cf.params().items() if k != name}


@_PROPERTY
@given(realistic_main_cf(), st.sampled_from(KNOWN_NAMES + NEW_NAMES))
def test_remove_and_comment_out(text: str, name: str) -> None:
    cf = MainCf.parse(text)
    for after in (cf.edit(remove=[name]), cf.edit(comment_out=[name])):
        assert not after.has(name)
        assert {k: v for k, v in after.params().items() if k != name} == {k: v for k, v in cf.params().items() if k != name}
        assert after.changed_names(cf) == ([name] if cf.has(name) else [])
    # removal only deletes lines, commenting out only prefixes '#'
    assert len(cf.edit(remove=[name]).render()) <= len(text) + 1
    assert cf.edit(comment_out=[name]).render().replace("#", "") == (text if text.endswith("\n") or not text else text + "\n").replace("#", "")


@_PROPERTY
@given(realistic_main_cf(garbage=True))
def test_realistic_garbage_is_reported(text: str) -> None:
    cf = MainCf.parse(text)
    bad = any(line.startswith(("garbage", "= value", "two words", "myhostname value")) for line in text.split("\n"))
    assert bool(cf.errors()) == bad


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("${{$compatibility_level} <level {3.6} ? {a} : {b}}", True),
        ("${{$compatibility_level} <level {3.x} ? {a} : {b}}", False),  # a constant that is no level
        ("${{x} ==level {3}}", False),
        ("${{3.6} <levels {4}}", False),
        ("${{$a} <level {$b}}", True),  # known only when expanded
    ],
)
def test_validate_value_level_operators(value: str, ok: bool) -> None:
    if ok:
        validate_value(value)
    else:
        with pytest.raises(MainCfError):
            validate_value(value)


def _entry_by_entry(cf: MainCf) -> dict[str, str]:
    """The values as the full parse (logical line by logical line, as readlline() builds them) gives them."""
    return {entry.name: entry.value for entry in cf._parse() if not entry.error}


@_CHEAP
@given(st.text(alphabet=st.sampled_from(list(" \t\r\n\v\f#=abc$é\0"))))
def test_quick_values_equal_the_full_parse_on_whitespace_heavy_text(text: str) -> None:
    cf = MainCf.parse(text)
    assert cf.raw_params() == dict(sorted(_entry_by_entry(MainCf.parse(text)).items()))


@_PROPERTY
@given(realistic_main_cf(garbage=True))
def test_quick_values_equal_the_full_parse(text: str) -> None:
    """Reading values skips building entries for the usual file (MainCf.__init__); it must read
    exactly what the entry-by-entry parse reads, continuation lines included."""
    cf = MainCf.parse(text)
    assert cf.raw_params() == dict(sorted(_entry_by_entry(MainCf.parse(text)).items()))


def test_quick_values_of_the_stock_file_glue_continuation_lines() -> None:
    """Postfix's own main.cf continues debugger_command over indented lines (conf/main.cf)."""
    text = "debugger_command =\n\t PATH=/bin:/usr/bin\n\t ddd $daemon_directory/$process_name & sleep 5\n\n# comment\nmyhostname = mx\n"
    cf = MainCf.parse(text)
    assert cf.raw("debugger_command") == "PATH=/bin:/usr/bin\t ddd $daemon_directory/$process_name & sleep 5"
    assert cf.get("myhostname") == "mx"
    assert cf.errors() == []
