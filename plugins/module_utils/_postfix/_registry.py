# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The instance registry: the primary plus every directory in ``multi_instance_directories``.

Built the way postmulti builds its instance list (postmulti(1); src/postmulti/postmulti.c): the
primary first, then the secondaries in list order; each instance's name, group, enable
flag and queue/data directories are read from its own main.cf with ``$name`` expansion.
Unlike postmulti, a broken secondary does not abort loading: it is recorded in
``Registry.problems`` so that callers can report it (or repair it) instead of failing blind.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, expand
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import (
    INSTANCE_PREFIX,
    Resolver,
    identity,
    normalize,
    same_directory,
    split_list,
)

TextReader = t.Callable[[str], t.Optional[str]]

# Compiled-in defaults of Debian's Postfix 3.7; the real values come from ``postconf -d``.
FALLBACK_DEFAULTS: dict[str, str] = {
    "config_directory": "/etc/postfix",
    "queue_directory": "/var/spool/postfix",
    "data_directory": "/var/lib/postfix",
    "command_directory": "/usr/sbin",
    "daemon_directory": "/usr/lib/postfix/sbin",
    "meta_directory": "/etc/postfix",
    "shlib_directory": "/usr/lib/postfix",
    "mail_owner": "postfix",
    "setgid_group": "postdrop",
    "multi_instance_enable": "no",
    "multi_instance_name": "",
    "multi_instance_group": "",
    "multi_instance_directories": "",
    "multi_instance_wrapper": "",
    "alternate_config_directories": "",
}

# Shared installation directories that no instance directory may coincide with (claims).
SHARED_CLAIMED = ("command_directory", "daemon_directory", "shlib_directory")

_SAFE_PUNCT = "!@%-_=+:./"
WRAPPER_VALUE = "${command_directory}/postmulti -p --"


def _is_safe(text: str) -> bool:
    return all((ch.isascii() and ch.isalnum()) or ch in _SAFE_PUNCT for ch in text)


# the longest instance name: a unit name is at most 255 characters (systemd.unit(5)), and
# "postfix@" + NAME + ".service" must fit; a directory name is at most 255 bytes (NAME_MAX)
NAME_MAX = 255 - len("postfix@.service")


def validate_instance_name(name: str) -> None:
    """Apply postmulti's rules for a new instance name (postmulti(1), -I); ``''`` means nameless."""
    if name == "":
        return
    if not _is_safe(name):
        raise PostfixMultiError(f"Unsafe characters in new instance name: '{name}' (allowed: letters, digits and {_SAFE_PUNCT.replace('/', '')})")
    if "/" in name:
        raise PostfixMultiError(f"Illegal '/' character in new instance name: '{name}'")
    if not name.startswith(INSTANCE_PREFIX):
        raise PostfixMultiError(f"New instance name must start with 'postfix-' (got '{name}'); use e.g. 'postfix-{name}'")
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        # postmulti itself has no limit; mkdir fails on the derived directories (255 bytes a name,
        # NAME_MAX), and systemd refuses a unit name longer than 255 (systemd.unit(5)): postfix@NAME.service
        raise PostfixMultiError(
            f"New instance name is {len(name)} characters long; at most {NAME_MAX} fit in its directory names and its "
            f"postfix@NAME.service unit name: '{name[:40]}...'"
        )


def validate_group(group: str) -> None:
    """Apply postmulti's rules for a group name (postmulti(1), -G); ``''`` means no group."""
    if group and not _is_safe(group):
        raise PostfixMultiError(f"Unsafe characters in group '{group}' (allowed: letters, digits and {_SAFE_PUNCT})")


def parse_bool(value: str, where: str) -> bool:
    """Postfix booleans are ``yes``/``no`` in any case; anything else is fatal for postmulti."""
    low = value.strip().lower()
    if low == "yes":
        return True
    if low == "no":
        return False
    raise PostfixMultiError(f"Unexpected {where} entry: multi_instance_enable = {value} (use yes or no)")


@dataclass(frozen=True)
class Instance:
    """One Postfix instance as postmulti sees it."""

    config_directory: str
    queue_directory: str
    data_directory: str
    name: str | None = None
    group: str | None = None
    enabled: bool = False
    primary: bool = False

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "group": self.group,
            "enabled": self.enabled,
            "primary": self.primary,
            "config_directory": self.config_directory,
            "queue_directory": self.queue_directory,
            "data_directory": self.data_directory,
        }

    @property
    def label(self) -> str:
        """How messages name the instance: its name, or its config directory when nameless."""
        return self.name or self.config_directory

    def matches(self, selector: str) -> bool:
        """postmulti ``-i`` matching (postmulti(1)): path, name, short name, ``-`` for the primary."""
        if selector == "-" and self.primary:
            return True
        if selector.startswith("/") or not self.name:
            return selector == self.config_directory
        if not selector.startswith(INSTANCE_PREFIX) and self.name.startswith(INSTANCE_PREFIX):
            return selector == self.name[len(INSTANCE_PREFIX) :]
        return selector == self.name


@dataclass
class Registry:
    """The instance list of one host, primary first, plus what is needed to edit it."""

    primary_directory: str
    primary_cf: MainCf
    defaults: dict[str, str]
    instances: list[Instance] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # directory -> problem, for listed secondaries that could not be read
    broken: dict[str, str] = field(default_factory=dict)
    secondary_directories: list[str] = field(default_factory=list)
    # resolver -> (value, parameter) -> the keys a claim is compared by (see _claim_keys); a host
    # with hundreds of instances is compared several times per plan, each path resolved once
    _keys: dict[t.Any, dict[tuple[str, str], list[tuple[str, str]]]] = field(default_factory=dict, repr=False, compare=False)

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, defaults: t.Mapping[str, str], read_text: TextReader) -> Registry:
        merged = dict(FALLBACK_DEFAULTS)
        merged.update(defaults)
        primary_dir = merged["config_directory"]
        text = read_text(primary_dir + "/main.cf")
        if text is None:
            raise PostfixMultiError(f"{primary_dir}/main.cf does not exist: is Postfix installed?")
        primary_cf = MainCf.parse(text)
        reg = cls(primary_directory=primary_dir, primary_cf=primary_cf, defaults=merged)

        lookup = reg._lookup(primary_cf, primary_dir)
        raw_list = expand(primary_cf.raw("multi_instance_directories") or "", lookup)
        reg.secondary_directories = split_list(raw_list)
        enable_raw = expand(primary_cf.raw("multi_instance_enable") or merged["multi_instance_enable"], lookup)
        try:
            primary_enabled = parse_bool(enable_raw, f"{primary_dir}/main.cf")
        except PostfixMultiError as exc:
            reg.problems.append(exc.msg)
            primary_enabled = False
        if not reg.secondary_directories:
            primary_enabled = True  # single-instance mode: postmulti lists the primary as enabled
        reg.instances.append(
            Instance(
                config_directory=primary_dir,
                queue_directory=expand(lookup("queue_directory") or "", lookup),
                data_directory=expand(lookup("data_directory") or "", lookup),
                name=expand(primary_cf.raw("multi_instance_name") or "", lookup) or None,
                group=expand(primary_cf.raw("multi_instance_group") or "", lookup) or None,
                enabled=primary_enabled,
                primary=True,
            )
        )
        for directory in reg.secondary_directories:
            try:
                reg.instances.append(reg.read_secondary(directory, read_text))
            except PostfixMultiError as exc:
                reg.broken[directory] = exc.msg
                reg.problems.append(exc.msg)
        reg.problems.extend(reg.conflicts())
        return reg

    def _lookup(self, cf: MainCf, config_directory: str) -> t.Callable[[str], str | None]:
        defaults = self.defaults

        def lookup(name: str) -> str | None:
            if name == "config_directory":
                return config_directory
            value = cf.raw(name)
            if value is not None:
                return value
            return defaults.get(name)

        return lookup

    def read_secondary(self, directory: str, read_text: TextReader) -> Instance:
        """Read a (listed or candidate) secondary the way ``postconf -xc DIR`` would."""
        if not directory.startswith("/"):
            raise PostfixMultiError(f"multi_instance_directories entry '{directory}' is not an absolute path")
        text = read_text(directory + "/main.cf")
        if text is None:
            raise PostfixMultiError(f"Failed to obtain all required {directory}/main.cf parameters: {directory}/main.cf does not exist")
        cf = MainCf.parse(text)
        return self.instance_from(cf, directory)

    def instance_from(self, cf: MainCf, directory: str) -> Instance:
        lookup = self._lookup(cf, directory)
        enable_raw = expand(lookup("multi_instance_enable") or "no", lookup)
        return Instance(
            config_directory=directory,
            queue_directory=expand(lookup("queue_directory") or "", lookup),
            data_directory=expand(lookup("data_directory") or "", lookup),
            name=expand(cf.raw("multi_instance_name") or "", lookup) or None,
            group=expand(cf.raw("multi_instance_group") or "", lookup) or None,
            enabled=parse_bool(enable_raw, f"{directory}/main.cf"),
            primary=False,
        )

    # -------------------------------------------------------------- queries
    @property
    def primary(self) -> Instance:
        return self.instances[0]

    @property
    def secondaries(self) -> list[Instance]:
        return self.instances[1:]

    @property
    def initialised(self) -> bool:
        return not self.init_problem()

    def primary_value(self, name: str) -> str:
        """A parameter of the primary as ``postconf -x`` reports it: expanded, the default when unset."""
        lookup = self._lookup(self.primary_cf, self.primary_directory)
        return expand(lookup(name) or "", lookup)

    def init_problem(self) -> str | None:
        """Why life-cycle actions are refused (postmulti-script's precondition), or None."""
        lookup = self._lookup(self.primary_cf, self.primary_directory)
        wrapper = expand(self.primary_cf.raw("multi_instance_wrapper") or "", lookup)
        enable = expand(self.primary_cf.raw("multi_instance_enable") or "", lookup)
        where = f"{self.primary_directory}/main.cf"
        if not wrapper.strip():
            return (
                f"multi-instance management is not initialised: multi_instance_wrapper is empty in {where}; run mailops.postfix_multi.postfix_multi_init first"
            )
        if enable != "yes":
            return (
                f"multi-instance management is not initialised: multi_instance_enable is '{enable}', not 'yes', in {where}; "
                "run mailops.postfix_multi.postfix_multi_init first"
            )
        return None

    def find(self, selector: str) -> Instance | None:
        """First instance matching a postmulti ``-i`` selector (primary first)."""
        for inst in self.instances:
            if inst.matches(selector):
                return inst
        return None

    def by_name(self, name: str) -> Instance | None:
        for inst in self.instances:
            if inst.name == name:
                return inst
        return None

    def by_directory(self, directory: str, resolve: Resolver = identity) -> Instance | None:
        for inst in self.instances:
            if same_directory(inst.config_directory, directory, resolve):
                return inst
        return None

    def listed(self, directory: str, resolve: Resolver = identity) -> str | None:
        """The list entry (as written) naming this directory, including broken entries."""
        for entry in self.secondary_directories:
            if same_directory(entry, directory, resolve):
                return entry
        return None

    def select(self, name: str | None = None, group: str | None = None) -> list[Instance]:
        """Instances selected like postmulti ``-i`` / ``-g`` (all when neither is given)."""
        if name is not None:
            return [inst for inst in self.instances if inst.matches(name)]
        if group is not None:
            return [inst for inst in self.instances if inst.group == group]
        return list(self.instances)

    def alternate_directories(self) -> list[str]:
        """``alternate_config_directories`` as postmulti-script reads it: unexpanded, split."""
        return split_list(self.primary_cf.raw("alternate_config_directories") or "")

    # --------------------------------------------------------------- claims
    def claims(self) -> list[tuple[str, str, str]]:
        """(value, owner directory, parameter) in registration order, as postmulti claims them."""
        out: list[tuple[str, str, str]] = []
        lookup = self._lookup(self.primary_cf, self.primary_directory)
        for param in SHARED_CLAIMED:
            value = self.defaults.get(param, "")
            value = expand(self.primary_cf.raw(param) or value, lookup)
            if value.startswith("/"):
                out.append((value, self.primary_directory, param))
        for inst in self.instances:
            if inst.name:
                out.append((inst.name, inst.config_directory, "multi_instance_name"))
            out.append((inst.config_directory, inst.config_directory, "config_directory"))
            out.append((inst.queue_directory, inst.config_directory, "queue_directory"))
            out.append((inst.data_directory, inst.config_directory, "data_directory"))
        return out

    def _claim_keys(self, value: str, param: str, resolve: Resolver) -> list[tuple[str, str]]:
        """What a claim is compared by: the name; or the path as written, in normal form and resolved
        (the last key of an absolute path is its real location)."""
        memo = self._keys.setdefault(resolve, {})
        keys = memo.get((value, param))
        if keys is None:
            if param == "multi_instance_name":
                keys = [("name", value)]
            else:
                keys = [("dir", value)]
                if value.startswith("/"):
                    norm = normalize(value)
                    # each form once (most paths are all three alike): the last one stays the real location
                    for form in (norm, resolve(norm)):
                        if form != keys[-1][1]:
                            keys.append(("dir", form))
            memo[(value, param)] = keys
        return keys

    def _claim_index(self, resolve: Resolver, skip_owner: str | None = None) -> dict[tuple[str, str], tuple[str, str, str]]:
        index: dict[tuple[str, str], tuple[str, str, str]] = {}
        for value, owner, param in self.claims():
            if skip_owner is not None and owner == skip_owner:
                continue
            for key in self._claim_keys(value, param, resolve):
                index.setdefault(key, (value, owner, param))
        return index

    def conflicts(self, resolve: Resolver = identity, apart_from: str | None = None) -> list[str]:
        """postmulti's uniqueness rule (no two instances share a name or a config, queue or data directory: postmulti.c), by normal and resolved paths.
        ``apart_from``: leave out the conflicts of that instance (configuration directory) - those
        its deregistration ends."""
        index: dict[tuple[str, str], tuple[str, str, str]] = {}
        problems: list[str] = []
        for value, owner, param in self.claims():
            keys = self._claim_keys(value, param, resolve)
            for key in keys:
                other = index.get(key)
                if other is not None and (other[1], other[2]) != (owner, param):
                    if apart_from is None or apart_from not in (owner, other[1]):
                        problems.append(f"instance {owner}, {param}={value} conflicts with instance {other[1]}, {other[2]}={other[0]}")
                    break
            for key in keys:
                index.setdefault(key, (value, owner, param))
        return problems

    def check_new(self, candidate: Instance, resolve: Resolver = identity, replacing: str | None = None) -> None:
        """Raise when a new or renamed instance would claim something already owned (the same rule postmulti -e create applies)."""
        owner = candidate.config_directory
        own = [(param, getattr(candidate, param)) for param in ("config_directory", "queue_directory", "data_directory")]
        for position, (param, value) in enumerate(own):
            for other_param, other_value in own[position + 1 :]:
                # postmulti compares an instance's own directories too (postmulti.c): the list would not load
                if value and other_value and same_directory(value, other_value, resolve):
                    raise PostfixMultiError(f"instance {owner}: {param} and {other_param} are the same directory ({value}); give each its own")
        skip = replacing if replacing is not None and replacing != self.primary_directory else None
        index = self._claim_index(resolve, skip_owner=skip)
        mine = [
            ("multi_instance_name", candidate.name),
            ("config_directory", candidate.config_directory),
            ("queue_directory", candidate.queue_directory),
            ("data_directory", candidate.data_directory),
        ]
        for param, value in mine:
            if not value:
                continue
            for key in self._claim_keys(value, param, resolve):
                other = index.get(key)
                if other is None:
                    continue
                other_value, other_owner, other_param = other
                if replacing is not None and other_owner == replacing and param != "multi_instance_name":
                    continue
                if replacing is not None and other_owner == replacing and other_param == "multi_instance_name":
                    continue
                if param == "config_directory" and other_param == "config_directory":
                    raise PostfixMultiError(f"new config_directory={value} is already in use by instance {other_owner}, config_directory={other_value}")
                raise PostfixMultiError(f"instance {owner}, {param}={value} conflicts with instance {other_owner}, {other_param}={other_value}")
        self.check_apart(candidate, resolve, replacing)

    def check_apart(self, candidate: Instance, resolve: Resolver, replacing: str | None) -> None:
        """Refuse a directory of the candidate inside, or around, a directory another instance uses.

        Compared by real path: ``/etc/postfix/out`` as a config_directory would put one
        instance's files in the primary's, a queue below another queue would be swept by it.
        """
        theirs: list[tuple[str, str, str, str]] = []
        for value, owner, param in self.claims():
            if param == "multi_instance_name" or not value.startswith("/") or owner in (candidate.config_directory, replacing):
                continue
            theirs.append((self._claim_keys(value, param, resolve)[-1][1], value, owner, param))
        for param in ("config_directory", "queue_directory", "data_directory"):
            value = getattr(candidate, param)
            if not value:
                continue
            real = resolve(normalize(value))
            # inside(real, other) is other being one of real's ancestors; inside(other, real) is
            # other starting with real's path and a slash: two cheap tests per claim, not two calls
            parts = real.split("/")
            ancestors = {"/".join(parts[:end]) or "/" for end in range(1, len(parts))}
            below = real.rstrip("/") + "/"
            for other_real, other_value, other_owner, other_param in theirs:
                if real == other_real:
                    continue  # equality is reported above, with its own message
                if other_real in ancestors or other_real.startswith(below):
                    where = "inside" if other_real in ancestors else "around"
                    raise PostfixMultiError(
                        f"instance {candidate.config_directory}, {param}={value} lies {where} instance {other_owner}'s "
                        f"{other_param}={other_value}; each instance needs directories of its own, apart from every other instance's"
                    )
