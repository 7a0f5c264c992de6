# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What a module is to Ansible, declared next to the logic it runs (without ``AnsibleModule``).

``spec`` holds the keyword arguments of ``AnsibleModule``: ``argument_spec`` and its constraints
(``required_one_of``, ``mutually_exclusive`` ...); check mode is always supported. ``operation``
is called as ``operation(params, check_mode, want_diff)`` and returns the module's result. The
module file itself only documents the module and hands its interface to _module.run().
"""

from __future__ import annotations

import typing as t

Operation = t.Callable[[t.Mapping[str, t.Any], bool, bool], t.Dict[str, t.Any]]


class Interface(t.NamedTuple):
    """The ``AnsibleModule`` keyword arguments of a module and the operation it runs."""

    spec: dict[str, t.Any]
    operation: Operation


# The options of the modules that replace files (doc fragment mailops.postfix_multi._writes). The
# runner applies them to every write of the run (_host/_io.py: write_policy) and returns the backups.
UNSAFE_WRITES: dict[str, t.Any] = {"unsafe_writes": {"type": "bool", "default": False}}
BACKUP: dict[str, t.Any] = {"backup": {"type": "bool", "default": False}}
