# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Decisions for driving Postfix instances through Debian's ``postfix@.service`` units.

Debian and Ubuntu ship ``postfix@.service`` (``ExecStart=postmulti -i %i -p start``,
``ExecStop=... -p stop``, ``ExecReload=... -p reload``) and a generator that makes
``postfix.service`` want ``postfix@-.service`` (the primary) plus
``postfix@<multi_instance_name>.service`` for every entry of ``multi_instance_directories``.
Where systemd is PID 1, starting an instance by hand would leave its unit inactive, so
``postfix_service`` goes through the units there.

Everything here is a pure function of facts gathered elsewhere, so it is unit-tested
without systemd (the test machines do not boot with systemd).
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._registry import Instance

# Where a distribution or the administrator may have put the template unit.
UNIT_DIRECTORIES = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
TEMPLATE_UNIT = "postfix@.service"
# The directory sd_booted(3) tests: it exists only when systemd is PID 1.
BOOTED_MARKER = "/run/systemd/system"
# Where the Debian generator puts the wants links of postfix.service.
GENERATOR_WANTS = "/run/systemd/generator/postfix.service.wants"

# Characters a unit instance string may hold without systemd escaping. An instance name
# outside this set would reach ``postmulti -i %i`` escaped (``\x21``) and select nothing.
_UNIT_SAFE = re.compile(r"[A-Za-z0-9:_.-]+\Z")

BACKENDS = ("auto", "postmulti", "systemd")


def choose_backend(use: str, booted: bool, template_installed: bool) -> str:
    """``postmulti`` or ``systemd`` for option ``use`` (auto, postmulti, systemd)."""
    if use not in BACKENDS:
        raise PostfixMultiError(f"use must be one of {', '.join(BACKENDS)}, not '{use}'")
    if use == "postmulti":
        return "postmulti"
    available = booted and template_installed
    if use == "systemd":
        if not booted:
            raise PostfixMultiError(f"use=systemd: systemd is not running as PID 1 on this host ({BOOTED_MARKER} does not exist); use 'postmulti' or 'auto'")
        if not template_installed:
            raise PostfixMultiError(f"use=systemd: no {TEMPLATE_UNIT} unit is installed (looked in {', '.join(UNIT_DIRECTORIES)}); use 'postmulti' or 'auto'")
        return "systemd"
    return "systemd" if available else "postmulti"


def unit_for(inst: Instance) -> str | None:
    """The ``postfix@`` unit that drives ``inst``, or None when no unit can (nameless, unsafe name).

    The unit's ``%i`` is handed to ``postmulti -i``: ``-`` selects the primary, a name selects
    a named instance. A nameless secondary has no usable unit (the generator would make
    ``postfix@.service``).
    """
    if inst.primary:
        return "postfix@-.service"
    if not inst.name or not _UNIT_SAFE.match(inst.name):
        return None
    return f"postfix@{inst.name}.service"


def expected_wants(names: t.Sequence[str | None]) -> list[str]:
    """The wants links the Debian generator makes, given the name (None: nameless or
    unreadable) of each entry of ``multi_instance_directories`` in order."""
    return ["postfix@-.service", *(f"postfix@{name or ''}.service" for name in names)]


def needs_daemon_reload(expected: t.Iterable[str], present: t.Iterable[str] | None) -> bool:
    """Whether systemd's generated units lag behind the instance list (instances were added,
    removed or renamed since the last ``daemon-reload``); ``present`` None = never generated."""
    if present is None:
        return True
    return set(expected) != set(present)


class UnitStep(t.NamedTuple):
    """How one planned Postfix action is carried out: ``systemctl VERB UNIT`` or ``postfix CMD``."""

    via: str  # "systemd" or "postfix"
    verb: str  # systemctl verb, or the postfix command word
    unit: str | None
    note: str


def translate(action: str, unit: str | None, unit_active: bool, running: bool) -> UnitStep:
    """Map a planned action (``start``, ``stop``, ``reload``; anything else runs as a postfix
    command) on an instance to its unit, given the unit's and the master's state.

    * no unit: the postfix command, as without systemd;
    * ``start``: ``systemctl start``; ``restart`` when the unit is active but the master is
      gone (a stale unit would make start a no-op);
    * ``stop`` / ``reload``: through the unit when it is active, else the postfix command
      (the master was started outside systemd, which would not stop or reload it).
    """
    if unit is None:
        return UnitStep("postfix", action, None, "no postfix@ unit can drive this instance (nameless or a name systemd would escape)")
    if action == "start":
        if unit_active and not running:
            return UnitStep("systemd", "restart", unit, "unit active but master not running")
        return UnitStep("systemd", "start", unit, "")
    if action in ("stop", "reload"):
        if unit_active:
            return UnitStep("systemd", action, unit, "")
        return UnitStep("postfix", action, None, f"{unit} is inactive: the master was started outside systemd")
    return UnitStep("postfix", action, None, "")
