# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one place that derives, cleans and compares instance directory paths.

postmulti compares directories as plain strings and strips trailing slashes only from
explicit create/import arguments. We are stricter: every path an operator gives is made
absolute-normal (no ``//``, ``.``, ``..`` or trailing slash), and two paths are the same
directory when their normal forms or their resolved forms (symlinks followed) are equal.
"""

from __future__ import annotations

import os
import posixpath
import stat
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError

Resolver = t.Callable[[str], str]

# Directories that must never become an instance's config, queue or data directory.
SYSTEM_DIRECTORIES = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/libexec",
        "/usr/local",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/mail",
        "/var/spool",
        "/var/tmp",
    }
)

INSTANCE_PREFIX = "postfix-"


def is_normal(path: str) -> bool:
    """True when an absolute path is already in normal form: told by substring tests (no ``//``,
    no ``/.`` that could start ``.`` or ``..``, no trailing slash), which cost far less than
    ``posixpath.normpath`` for the thousands of paths a host with hundreds of instances has. A
    name that merely starts with a dot (``/etc/.hidden``) is left to ``normpath``."""
    return path.startswith("/") and "//" not in path and "/." not in path and (path == "/" or not path.endswith("/"))


def identity(path: str) -> str:
    """A resolver that does not touch the file system (for pure planning and tests)."""
    return path


class RealPaths:
    """``os.path.realpath`` with a memo, for one pass over many instances' directories.

    A normal absolute path is resolved as its resolved parent plus its last component, so that
    directories shared by hundreds of instances (``/etc``, ``/var/spool``) are looked at once:
    the first child asked of a directory costs an ``lstat``, and from the second on the directory
    is listed once (``scandir`` tells which entries are links). Anything else (a symbolic link met
    on the way, ``..``) goes to ``os.path.realpath`` itself. ``forget()`` drops what was learnt
    (after the file system changed).
    """

    def __init__(self) -> None:
        self._memo: dict[str, str] = {"/": "/"}
        self._asked: dict[str, int] = {}
        self._listed: dict[str, dict[str, bool]] = {}

    def forget(self) -> None:
        self._memo = {"/": "/"}
        self._asked = {}
        self._listed = {}

    def _is_link(self, parent: str, name: str) -> bool | None:
        """Whether ``parent/name`` is a symbolic link; None when it does not exist (or cannot be seen)."""
        listing = self._listed.get(parent)
        if listing is None and self._asked.get(parent, 0) >= 1:
            try:
                with os.scandir(parent) as entries:
                    listing = {entry.name: entry.is_symlink() for entry in entries}
            except OSError:
                listing = None
            else:
                self._listed[parent] = listing
        self._asked[parent] = self._asked.get(parent, 0) + 1
        if listing is not None:
            return listing.get(name)
        try:
            return stat.S_ISLNK(os.lstat(posixpath.join(parent, name)).st_mode)
        except OSError:
            return None

    def __call__(self, path: str) -> str:
        found = self._memo.get(path)
        if found is not None:
            return found
        if not is_normal(path) and (not path.startswith("/") or path.startswith("//") or path != posixpath.normpath(path)):
            return os.path.realpath(path)
        # a normal path other than "/": its parent is what comes before its last slash
        parent, _slash, name = path.rpartition("/")
        real_parent = self(parent or "/")
        candidate = (real_parent if real_parent != "/" else "") + "/" + name
        # realpath(3) without strict: a missing component is kept as written
        result = os.path.realpath(candidate) if self._is_link(real_parent, name) else candidate
        self._memo[path] = result
        return result


def normalize(path: str) -> str:
    """Return the normal form of an absolute path: no ``//``, ``.``, ``..`` or trailing slash."""
    if is_normal(path):
        return path
    norm = posixpath.normpath(path)
    if norm.startswith("//"):  # POSIX keeps a leading double slash; we do not
        norm = "/" + norm.lstrip("/")
    return norm


def clean_directory(value: str, option: str) -> str:
    """Validate an operator-supplied directory and return its normal form.

    Refuses what postmulti refuses (relative paths, the root directory) and, beyond
    postmulti, the well-known system directories.
    """
    if not value:
        raise PostfixMultiError(f"{option} must not be empty")
    if not value.startswith("/"):
        raise PostfixMultiError(f"{option} '{value}' is not an absolute path; give the full path, e.g. /etc/postfix-out")
    if any(ch in value for ch in "\n\r\t ,"):
        raise PostfixMultiError(f"{option} '{value}' contains whitespace or a comma, which Postfix cannot store in multi_instance_directories")
    if "$" in value:
        # Postfix expands $name and ${name} in these parameters (postconf(5), "$name"): the directory it
        # would use is not the one written, so every check made on the written path would be wrong
        raise PostfixMultiError(f"{option} '{value}' contains '$', which Postfix expands to another directory; give the literal path")
    norm = normalize(value)
    if norm == "/":
        raise PostfixMultiError(f"{option} '{value}' is the root directory")
    if norm in SYSTEM_DIRECTORIES:
        raise PostfixMultiError(f"{option} '{value}' is a system directory; an instance needs a directory of its own")
    return norm


def derive(primary_value: str, name: str, parameter: str) -> str:
    """Default directory of a new instance: the sibling of the primary's directory named after the instance.

    ``/etc/postfix`` -> ``/etc/postfix-out``, ``/var/spool/postfix`` -> ``/var/spool/postfix-out``.
    This is postmulti's intended rule. postmulti itself nests the directory instead when the
    primary's path has exactly one trailing slash or sits directly below ``/``; we always
    take the sibling (documented divergence).
    """
    if not primary_value.startswith("/"):
        raise PostfixMultiError(f"Invalid default {parameter} parameter value: '{primary_value}': specify an absolute pathname")
    parent = posixpath.dirname(normalize(primary_value))
    return posixpath.join(parent, name)


def same_directory(left: str, right: str, resolve: Resolver = identity) -> bool:
    """True when two spellings name the same directory (normal form, then resolved form)."""
    if left == right:
        return True
    if not (left.startswith("/") and right.startswith("/")):
        return False
    nleft, nright = normalize(left), normalize(right)
    if nleft == nright:
        return True
    return resolve(nleft) == resolve(nright)


def inside(path: str, top: str) -> bool:
    """True when ``path`` is ``top`` or lies below it (both in normal form)."""
    return path == top or path.startswith(top.rstrip("/") + "/")


def is_system(path: str) -> bool:
    """True for the root and the well-known system directories (normal form)."""
    return path == "/" or path in SYSTEM_DIRECTORIES


def refuse_links(path: str, option: str, resolve: Resolver) -> None:
    """Refuse a directory whose path goes through a symbolic link (the link itself or any parent).

    postmulti accepts such a path and writes through it: a ``config_directory`` that is a link
    to ``/etc`` gets ``/etc/main.cf``. Every safety rule is meant for the place written to, so
    a new instance is given by its real path; the message names both.
    """
    real = resolve(path)
    if real == path:
        return
    what = " (a system directory)" if is_system(real) else ""
    raise PostfixMultiError(
        f"{option} {path} resolves to {real}{what} through a symbolic link. "
        f"Instance directories are never used through a link: give the real path{'' if what else ' (' + real + ')'}, "
        "or remove the link."
    )


def split_list(value: str) -> list[str]:
    """Split a Postfix list value (commas and/or white space) the way postmulti does, dropping empty items."""
    items: list[str] = []
    for chunk in value.replace(",", " ").split():
        if chunk:
            items.append(chunk)
    return items
