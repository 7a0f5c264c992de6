# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Path derivation and cleaning (postmulti-script's default directories, and the system directories refused)."""

from __future__ import annotations

import os
import posixpath
import tempfile

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import (
    RealPaths,
    clean_directory,
    derive,
    is_normal,
    normalize,
    same_directory,
    split_list,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("primary", "expected"),
    [
        ("/etc/postfix", "/etc/postfix-out"),
        ("/var/spool/postfix", "/var/spool/postfix-out"),
        ("/var/lib/postfix", "/var/lib/postfix-out"),
        ("/a//b", "/a/postfix-out"),
        ("/a/b//", "/a/postfix-out"),
        # postmulti nests in these two cases (quirk); we take the intended sibling
        ("/var/spool/postfix/", "/var/spool/postfix-out"),
        ("/b", "/postfix-out"),
    ],
)
def test_derive_sibling(primary: str, expected: str) -> None:
    assert derive(primary, "postfix-out", "queue_directory") == expected


def test_derive_refuses_relative_primary() -> None:
    with pytest.raises(PostfixMultiError, match="Invalid default queue_directory parameter value: 'spool': specify an absolute pathname"):
        derive("spool", "postfix-out", "queue_directory")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/c///", "/c"), ("/etc/postfix-ts/", "/etc/postfix-ts"), ("/x/./y/../z", "/x/z"), ("//srv//mail", "/srv/mail")],
)
def test_clean_directory_normalises(value: str, expected: str) -> None:
    assert clean_directory(value, "config_directory") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("c", "config_directory 'c' is not an absolute path"),
        ("rel/dir", "is not an absolute path"),
        ("/", "is the root directory"),
        ("///", "is the root directory"),
        ("/etc", "is a system directory"),
        ("/var/spool/", "is a system directory"),
        ("/etc/a b", "whitespace or a comma"),
        ("/etc/a,b", "whitespace or a comma"),
        ("", "must not be empty"),
    ],
)
def test_clean_directory_refuses(value: str, message: str) -> None:
    with pytest.raises(PostfixMultiError, match=message):
        clean_directory(value, "config_directory")


def test_same_directory_spellings_and_symlinks(tmp_path: os.PathLike[str]) -> None:
    real = os.path.join(tmp_path, "real")
    os.mkdir(real)
    link = os.path.join(tmp_path, "link")
    os.symlink(real, link)
    assert same_directory("/etc/postfix-a", "/etc//postfix-a/")
    assert same_directory("/etc/postfix-a", "/etc/x/../postfix-a")
    assert not same_directory("/etc/postfix-a", "/etc/postfix-b")
    assert not same_directory(real, link)  # without resolving: different
    assert same_directory(real, link, os.path.realpath)


def test_split_list() -> None:
    assert split_list("/etc/postfix-a, /etc/postfix-b") == ["/etc/postfix-a", "/etc/postfix-b"]
    assert split_list(",,") == []
    assert split_list(" /a\t/b,/c ") == ["/a", "/b", "/c"]


_component = st.text(alphabet="abc.-_", min_size=1, max_size=4)


@given(st.lists(st.one_of(_component, st.just(""), st.just("."), st.just("..")), min_size=1, max_size=6), st.booleans())
def test_normalize_is_idempotent_and_canonical(parts: list[str], trailing: bool) -> None:
    path = "/" + "/".join(parts) + ("/" if trailing else "")
    norm = normalize(path)
    assert normalize(norm) == norm
    assert norm.startswith("/")
    assert "//" not in norm
    assert norm == "/" or not norm.endswith("/")
    assert norm == posixpath.normpath(path).replace("//", "/")


@given(st.lists(st.one_of(_component, st.just(""), st.just("."), st.just(".."), st.just(".x")), min_size=0, max_size=6), st.booleans(), st.booleans())
def test_is_normal_only_for_paths_normalize_keeps(parts: list[str], trailing: bool, double: bool) -> None:
    """The quick test never calls a path normal that normpath would change (a path it declines is
    normalised the slow way, so declining is always safe)."""
    path = ("//" if double else "/") + "/".join(parts) + ("/" if trailing else "")
    if is_normal(path):
        assert posixpath.normpath(path) == path
        assert not path.startswith("//")
    assert normalize(path) == normalize(posixpath.normpath(path).replace("//", "/"))


@pytest.mark.parametrize("path", ["/", "/etc", "/etc/postfix-out", "/var/spool/postfix-a.b", "/a-b/c_d"])
def test_is_normal_for_the_paths_instances_have(path: str) -> None:
    assert is_normal(path)


@pytest.mark.parametrize("path", ["", "etc", "//etc", "/etc/", "/etc/./x", "/etc/../x", "/etc/.", "/etc/..", "/etc//x", "/.hidden"])
def test_is_normal_declines(path: str) -> None:
    assert not is_normal(path)


# ----------------------------------------------------------------------------- RealPaths
_TREE_NAMES = ("a", "b", "c", "etc", "spool")


def _tree(root: str, links: list[tuple[str, str]]) -> None:
    """Directories a/b/c, etc, spool below root, plus the given links (relative or absolute targets,
    chains, loops and dangling ones included)."""
    os.makedirs(os.path.join(root, "a", "b", "c"))
    os.makedirs(os.path.join(root, "etc", "postfix"))
    os.makedirs(os.path.join(root, "spool"))
    for where, target in links:
        path = os.path.join(root, where)
        if not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
            os.symlink(target.replace("ROOT", root), path)


@settings(max_examples=150, deadline=None)
@given(
    links=st.lists(
        st.tuples(
            st.sampled_from(["l1", "a/l2", "a/b/l3", "etc/postfix-x", "spool/q"]),
            st.sampled_from(["a", "../a/b", "ROOT/etc", "ROOT/nowhere", "l1", "a/l2", "..", ".", "ROOT/a/b/c", "ROOT/spool/q", "missing/x"]),
        ),
        max_size=5,
    ),
    paths=st.lists(
        st.lists(st.sampled_from(("a", "b", "c", "l1", "l2", "l3", "etc", "postfix", "postfix-x", "spool", "q", "new")), min_size=0, max_size=5),
        min_size=1,
        max_size=8,
    ),
)
def test_real_paths_match_realpath(links, paths):
    """The memoised resolver answers exactly what os.path.realpath answers, whatever links lie on the
    way (asked twice, in any order, so that the memo is used)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.realpath(tmp)
        _tree(root, links)
        resolve = RealPaths()
        asked = [os.path.join(root, *parts) for parts in paths]
        for path in asked + list(reversed(asked)):
            assert resolve(path) == os.path.realpath(path), path


def test_real_paths_forget_sees_a_new_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "other").mkdir()
    resolve = RealPaths()
    path = str(tmp_path / "dir")
    (tmp_path / "dir").mkdir()
    assert resolve(path) == os.path.realpath(path)
    (tmp_path / "dir").rmdir()
    (tmp_path / "dir").symlink_to(tmp_path / "other")
    assert resolve(path) == str(tmp_path / "dir")  # remembered until told to forget
    resolve.forget()
    assert resolve(path) == str(tmp_path / "other")


@pytest.mark.parametrize("value", ["/var/spool/postfix${undefined}", "/var/lib/$myhostname", "/etc/postfix-$(name)"])
def test_a_directory_postfix_would_expand_is_refused(value: str) -> None:
    # Postfix expands $name in queue_directory and data_directory (postconf(5)): the conflict and
    # link checks would look at another directory than the one Postfix uses
    with pytest.raises(PostfixMultiError, match=r"contains '\$', which Postfix expands"):
        clean_directory(value, "queue_directory")
