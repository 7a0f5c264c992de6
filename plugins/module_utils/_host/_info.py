# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Instance discovery: what ``postmulti -l`` lists, what ``postmulti -x`` exports, and live state.

Shared by the ``postfix_instances`` lookup (controller files), the ``postfix_instance_info``
module (with what _monitor adds) and the ``postfix_service`` module (managed host). The instance list itself always
comes from :class:`Registry` (the one parser); this file only selects from it, orders it
and describes it.
"""

from __future__ import annotations

import os
import posixpath
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import MAIL_QUEUES
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Instance, Registry, TextReader

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

# The variables ``postmulti -x`` adds to a command's environment (PATH excepted), in a stable order.
ENVIRONMENT_KEYS = (
    "MAIL_CONFIG",
    "command_directory",
    "daemon_directory",
    "config_directory",
    "queue_directory",
    "data_directory",
    "multi_instance_name",
    "multi_instance_group",
    "multi_instance_enable",
)


class HostFacts(Protocol):
    """What gathering needs from the managed host (``_facts.LocalFacts`` satisfies it)."""

    def defaults(self) -> dict[str, str]: ...

    def read_text(self, path: str) -> str | None: ...

    def is_running(self, config_directory: str) -> bool: ...

    def queue_counts(self, queue_directory: str) -> dict[str, int]: ...


def describe(inst: Instance) -> str:
    """How messages list an instance: ``postfix-out (/etc/postfix-out)``, ``- (primary, /etc/postfix)``."""
    if inst.primary:
        return f"{inst.name or '-'} (primary, {inst.config_directory})"
    if inst.name:
        return f"{inst.name} ({inst.config_directory})"
    return f"{inst.config_directory} (nameless: select it by its directory)"


def select(
    reg: Registry,
    name: str | None = None,
    group: str | None = None,
    enabled_only: bool = False,
    reverse: bool = False,
) -> list[Instance]:
    """postmulti's ``-i`` / ``-g`` selection, optionally enabled-only, in list or reverse order.

    Unlike ``postmulti -l`` (which prints nothing), an unknown instance or group is an error
    that lists the known ones.
    """
    if name is not None and group is not None:
        raise PostfixMultiError("give at most one of name and group (postmulti: -i or -g)")
    if name is not None and name == "":
        raise PostfixMultiError("name must not be empty: use '-' for the primary or a directory for a nameless instance")
    chosen = reg.select(name=name, group=group)
    if not chosen:
        if name is not None:
            known = ", ".join(describe(inst) for inst in reg.instances)
            raise PostfixMultiError(f"no instance matches name '{name}'; known instances: {known}")
        groups = sorted({inst.group for inst in reg.instances if inst.group})
        known = ", ".join(groups) if groups else "none (no instance has a group)"
        raise PostfixMultiError(f"no instance is in group '{group}'; known groups: {known}")
    if enabled_only:
        chosen = [inst for inst in chosen if inst.enabled]
    if reverse:
        chosen.reverse()
    return chosen


def environment(reg: Registry, inst: Instance) -> dict[str, str]:
    """The variables ``postmulti -x`` exports for ``inst`` (without PATH), all strings."""
    values = {
        "MAIL_CONFIG": inst.config_directory,
        "command_directory": reg.primary_value("command_directory"),
        "daemon_directory": reg.primary_value("daemon_directory"),
        "config_directory": inst.config_directory,
        "queue_directory": inst.queue_directory,
        "data_directory": inst.data_directory,
        "multi_instance_name": inst.name or "",
        "multi_instance_group": inst.group or "",
        "multi_instance_enable": "yes" if inst.enabled else "no",
    }
    return {key: values[key] for key in ENVIRONMENT_KEYS}


def rooted_reader(root: str) -> TextReader:
    """A ``read_text`` that reads host path ``/p`` from ``ROOT/p`` (a chroot or a fetched copy)."""
    base = root.rstrip("/")

    def read_text(path: str) -> str | None:
        if not base:
            return _io.read_text(path)
        rel = posixpath.normpath("/" + path).lstrip("/")
        return _io.read_text(os.path.join(base, rel))

    return read_text


def list_instances(
    defaults: t.Mapping[str, str] | None,
    read_text: TextReader,
    config_directory: str | None = None,
    name: str | None = None,
    group: str | None = None,
    enabled_only: bool = False,
    reverse: bool = False,
) -> tuple[list[dict[str, t.Any]], list[str]]:
    """The lookup's work: the selected instances as dicts, and the problems found while loading."""
    merged = dict(FALLBACK_DEFAULTS)
    merged.update(defaults or {})
    if config_directory:
        merged["config_directory"] = config_directory.rstrip("/") or "/"
    reg = Registry.load(merged, read_text)
    chosen = select(reg, name=name, group=group, enabled_only=enabled_only, reverse=reverse)
    return [inst.to_dict() for inst in chosen], list(reg.problems)


def gather(facts: HostFacts, name: str | None = None, group: str | None = None) -> dict[str, t.Any]:
    """The selected instances with live state (running, queue files counted); changes nothing."""
    reg = Registry.load(facts.defaults(), facts.read_text)
    chosen = select(reg, name=name, group=group)
    instances: list[dict[str, t.Any]] = []
    for inst in chosen:
        record = inst.to_dict()
        record["running"] = facts.is_running(inst.config_directory)
        counts = facts.queue_counts(inst.queue_directory)
        record["queue_counts"] = {queue: int(counts.get(queue, 0)) for queue in MAIL_QUEUES}
        record["environment"] = environment(reg, inst)
        instances.append(record)
    return {"changed": False, "instances": instances, "problems": list(reg.problems)}
