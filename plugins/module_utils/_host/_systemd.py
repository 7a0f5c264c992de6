# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Decisions for driving Postfix instances through the host's own systemd units.

Where systemd is PID 1, ``postfix_service`` starts, stops and reloads instances through the
units the host's Postfix package ships, and decides which of them start at boot. Packages do
this in different ways, and the unit files say which (nothing here looks at a release name):

* Debian 11 and 12 (``postfix@.service`` runs ``postmulti -i %i -p start``): the unit of an
  instance is named after its ``multi_instance_name`` (``postfix@postfix-out``), the primary is
  ``postfix@-``, and ``postfix.service`` is an umbrella (``ExecStart=/bin/true``). The package's
  systemd generator ``postfix-instance-generator`` makes ``postfix.service`` want the unit of
  every entry of ``multi_instance_directories`` - disabled instances too - each time systemd
  reloads. An instance is kept from starting at boot by masking its unit.
* Debian 13 (``postfix@.service`` sets ``MAIL_CONFIG=/etc/postfix-%I`` and asserts
  ``/etc/postfix-%I/main.cf``): the unit of an instance is named after the end of its
  configuration directory (``postfix@out`` for ``/etc/postfix-out``, escaped as
  ``systemd-escape`` does), the primary is ``postfix.service``, there is no generator, and an
  instance starts at boot when its unit is enabled (``systemctl enable postfix@out``, as the
  package's README.Debian says). A configuration directory outside that pattern has no unit.

Everything here is a pure function of facts gathered by ``_service.ServiceHost`` (unit files,
``systemctl is-enabled``/``is-active``), so it is unit-tested without systemd; the integration
tests run it on booted Debian 11, 12 and 13 hosts.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError

if t.TYPE_CHECKING:
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance

# Where a distribution or the administrator may have put the unit files (systemd.unit(5)), in
# systemd's order of precedence.
UNIT_DIRECTORIES = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
# Where generators live (systemd.generator(7)).
GENERATOR_DIRECTORIES = (
    "/etc/systemd/system-generators",
    "/usr/local/lib/systemd/system-generators",
    "/usr/lib/systemd/system-generators",
    "/lib/systemd/system-generators",
)
TEMPLATE_UNIT = "postfix@.service"
UMBRELLA_UNIT = "postfix.service"
GENERATOR = "postfix-instance-generator"
# The directory sd_booted(3) tests: it exists only when systemd is PID 1.
BOOTED_MARKER = "/run/systemd/system"
# Where ``systemctl mask`` links a unit to /dev/null (systemctl(1)).
MASK_DIRECTORY = "/etc/systemd/system"
# Where the Debian generator puts the wants links of postfix.service.
GENERATOR_WANTS = "/run/systemd/generator/postfix.service.wants"

BACKENDS = ("auto", "postmulti", "systemd")

# systemctl is-enabled answers (systemctl(1)) that make a unit start at boot by itself.
ENABLED_STATES = frozenset({"enabled", "enabled-runtime", "alias", "linked", "linked-runtime"})
MASKED_STATES = frozenset({"masked", "masked-runtime"})

# Characters unit_name_escape() of systemd passes through unchanged (src/basic/unit-name.c).
_ESCAPE_SAFE = re.compile(r"[A-Za-z0-9:_.]")
# A unit instance string that needs no escaping at all; %i hands it over verbatim.
_UNIT_SAFE = re.compile(r"[A-Za-z0-9:_.-]+\Z")
_SPECIFIER = re.compile(r"%([iI])")
# Commands that are no-ops: a unit running only these is an umbrella that starts nothing itself.
_NOOP_COMMANDS = ("/bin/true", "/usr/bin/true", "true", ":")


def escape(text: str) -> str:
    """``systemd-escape TEXT``: ``/`` becomes ``-``, anything but ``[A-Za-z0-9:_.]`` (and a
    leading ``.``) becomes ``\\xNN`` of its UTF-8 bytes."""
    out = []
    for pos, char in enumerate(text):
        if char == "/":
            out.append("-")
        elif _ESCAPE_SAFE.match(char) and not (pos == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8"))
    return "".join(out)


def unit_settings(text: str) -> list[tuple[str, str]]:
    """``(Key, value)`` of every setting of a unit file, in order (systemd.syntax(7): comments
    start with ``#`` or ``;``, a trailing backslash is replaced by a space and joins the next line)."""
    settings = []
    logical = ""
    for line in text.splitlines():
        if logical:
            line = logical + line
            logical = ""
        if line.endswith("\\"):
            logical = line[:-1] + " "
            continue
        stripped = line.strip()
        if not stripped or stripped[0] in "#;[":
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            settings.append((key.strip(), value.strip()))
    return settings


@dataclass(frozen=True)
class Packaging:
    """How this host's Postfix package maps instances to systemd units (read from its unit files).

    ``by`` is ``name`` (the template's ``%i`` is a ``postmulti -i`` name), ``directory`` (the
    template's ``%I``/``%i`` is part of the configuration directory: ``prefix + X + suffix``) or
    None (no usable template). ``primary_unit`` drives the primary (None: none does).
    ``generator`` says that a generator makes ``postfix.service`` want every listed instance.
    """

    by: str | None
    primary_unit: str | None
    prefix: str = ""
    suffix: str = ""
    unescaped: bool = False
    generator: bool = False
    template: str | None = None

    def describe(self) -> str:
        if self.by == "name":
            boot = "a generator makes postfix.service want every instance" if self.generator else "no generator"
            return f"{self.template}: postfix@NAME for multi_instance_name NAME, primary {self.primary_unit}; {boot}"
        if self.by == "directory":
            return f"{self.template}: postfix@X for {self.prefix}X{self.suffix}, primary {self.primary_unit or 'not driven by a unit'}"
        return "no usable postfix@.service template unit"


def _directory_pattern(value: str) -> tuple[str, str, bool] | None:
    """``(prefix, suffix, unescaped)`` of a path with one ``%i``/``%I`` (a trailing ``/main.cf``
    names the file in the directory, not the directory)."""
    specifiers = _SPECIFIER.findall(value)
    if len(specifiers) != 1 or not value.startswith("/"):
        return None
    prefix, suffix = _SPECIFIER.split(value)[0], _SPECIFIER.split(value)[2]
    for tail in ("/main.cf", "/master.cf"):
        if suffix.endswith(tail):
            suffix = suffix[: -len(tail)]
    if "/" in suffix:
        return None
    return prefix, suffix, specifiers[0] == "I"


def read_packaging(template_text: str | None, umbrella_text: str | None, generator: bool, template_path: str | None = None) -> Packaging:
    """The :class:`Packaging` that the template ``postfix@.service`` and ``postfix.service``
    (their texts, None when not installed) and the presence of the generator describe."""
    if template_text is None:
        return Packaging(None, None, template=template_path)
    settings = unit_settings(template_text)
    for key, value in settings:
        if key.startswith("Exec") and "postmulti" in value:
            match = re.search(r"(?:^|\s)-i\s*%([iI])(?:\s|$)", value)
            if match:
                return Packaging("name", "postfix@-.service", unescaped=match.group(1) == "I", generator=generator, template=template_path)
    candidates = []
    for key, value in settings:
        if key == "Environment":
            for word in value.split():
                name, _sep, path = word.strip('"').partition("=")
                if name == "MAIL_CONFIG":
                    candidates.append(path)
        elif key.startswith("Exec"):
            candidates += re.findall(r"-c\s*(\S*%[iI]\S*)", value)
        elif key in ("AssertPathExists", "ConditionPathExists", "AssertPathIsDirectory", "ConditionPathIsDirectory"):
            candidates.append(value.lstrip("!|"))
    for candidate in candidates:
        pattern = _directory_pattern(candidate)
        if pattern is not None:
            prefix, suffix, unescaped = pattern
            return Packaging("directory", _umbrella_drives_primary(umbrella_text), prefix, suffix, unescaped, generator, template_path)
    return Packaging(None, None, generator=generator, template=template_path)


def _umbrella_drives_primary(umbrella_text: str | None) -> str | None:
    """``postfix.service`` when it starts a Postfix itself (not an umbrella running ``true``)."""
    if umbrella_text is None:
        return None
    starts = [value for key, value in unit_settings(umbrella_text) if key == "ExecStart"]
    if any(value.lstrip("-@:+!").split()[0] not in _NOOP_COMMANDS for value in starts if value.strip()):
        return UMBRELLA_UNIT
    return None


def choose_backend(use: str, booted: bool, packaging: Packaging) -> str:
    """``postmulti`` or ``systemd`` for option ``use`` (auto, postmulti, systemd)."""
    if use not in BACKENDS:
        raise PostfixMultiError(f"use must be one of {', '.join(BACKENDS)}, not '{use}'")
    if use == "postmulti":
        return "postmulti"
    available = booted and packaging.by is not None
    if use == "systemd":
        if not booted:
            raise PostfixMultiError(f"use=systemd: systemd is not running as PID 1 on this host ({BOOTED_MARKER} does not exist); use 'postmulti' or 'auto'")
        if packaging.by is None:
            raise PostfixMultiError(
                f"use=systemd: no usable {TEMPLATE_UNIT} unit is installed (looked in {', '.join(UNIT_DIRECTORIES)}); use 'postmulti' or 'auto'"
            )
        return "systemd"
    return "systemd" if available else "postmulti"


def unit_for(inst: Instance, packaging: Packaging) -> str | None:
    """The unit that drives ``inst`` on this host, or None when none can (the instance is then
    driven with Postfix commands and nothing starts it at boot)."""
    if inst.primary:
        return packaging.primary_unit
    if packaging.by == "name":
        if not inst.name:
            return None  # nameless: the generator's postfix@.service is unusable
        if packaging.unescaped:
            return f"postfix@{escape(inst.name)}.service"
        # with %i the string reaches postmulti -i as written: a name systemd would escape selects nothing
        return f"postfix@{inst.name}.service" if _UNIT_SAFE.match(inst.name) else None
    if packaging.by == "directory":
        directory = inst.config_directory.rstrip("/")
        if not (directory.startswith(packaging.prefix) and directory.endswith(packaging.suffix)):
            return None
        middle = directory[len(packaging.prefix) : len(directory) - len(packaging.suffix)]
        if not middle:
            return None
        if packaging.unescaped:
            return f"postfix@{escape(middle)}.service"
        return f"postfix@{middle}.service" if _UNIT_SAFE.match(middle) else None
    return None


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
      (the master was started outside systemd, which would not stop or reload it);
    * ``stop`` / ``reload`` of the primary whose unit is ``postfix.service`` (Debian 13): the
      postfix command, since the other units are ``PartOf=postfix.service`` and would be stopped
      or reloaded with it (systemd.unit(5)); systemd sees the master end and the unit stop.
    """
    if unit is None:
        return UnitStep("postfix", action, None, "no unit of this host's Postfix package can drive this instance")
    if unit == UMBRELLA_UNIT and action in ("stop", "reload"):
        return UnitStep("postfix", action, None, f"{unit} would {action} every instance (their units are PartOf it)")
    if action == "start":
        if unit_active and not running:
            return UnitStep("systemd", "restart", unit, "unit active but master not running")
        return UnitStep("systemd", "start", unit, "")
    if action in ("stop", "reload"):
        if unit_active:
            return UnitStep("systemd", action, unit, "")
        return UnitStep("postfix", action, None, f"{unit} is inactive: the master was started outside systemd")
    return UnitStep("postfix", action, None, "")


# ------------------------------------------------------------------------------------ at boot
@dataclass(frozen=True)
class BootChange:
    """What makes one instance start at boot or not: the instance's label, its unit, the unit's
    ``systemctl is-enabled`` state now, whether it should start at boot, and the systemctl
    verbs (in order) that get it there."""

    label: str
    unit: str | None
    state: str
    wanted: bool
    verbs: tuple[str, ...]
    note: str = ""


def starts_at_boot(packaging: Packaging, unit: str | None, state: str, umbrella_state: str) -> bool:
    """Whether a unit in ``state`` starts at boot on this packaging."""
    if unit is None or state in MASKED_STATES:
        return False
    if state in ENABLED_STATES:
        return True
    if packaging.generator and packaging.by == "name":
        # the generator links every listed instance (and postfix@-) into postfix.service.wants
        return umbrella_state in ENABLED_STATES
    return False


def stale_masks(packaging: Packaging, masked: t.Iterable[str], listed: t.Iterable[str | None]) -> list[str]:
    """The masked ``postfix@NAME.service`` units (``masked``, from ``/etc/systemd/system``) that no
    listed instance has (``listed``: the units of every instance, primary included) - masks that
    ``plan_boot`` made for an instance since destroyed, deported or renamed. Only with generator
    packaging (Debian 11, 12), where masking keeps a disabled instance from starting: such a mask
    would keep a later instance of the same name from ever starting (``postmulti -e create``
    knows nothing of it). Elsewhere a mask is the administrator's and stays."""
    if not (packaging.generator and packaging.by == "name"):
        return []
    keep = {unit for unit in listed if unit}
    return sorted(unit for unit in set(masked) if unit.startswith("postfix@") and unit.endswith(".service") and unit not in keep)


STALE_MASK_NOTE = "masked for an instance no longer listed (destroyed, deported or renamed): unmasked, so that a later instance of that name can start"


def plan_boot(
    packaging: Packaging,
    entries: t.Sequence[tuple[str, str | None, bool]],
    states: t.Mapping[str, str],
    umbrella_state: str,
    stale: t.Sequence[str] = (),
) -> tuple[list[BootChange], tuple[str, ...]]:
    """Boot changes for ``entries`` = ``(label, unit, wanted)``, given ``systemctl is-enabled``
    ``states`` of the units and of ``postfix.service``; also the verbs for ``postfix.service``.

    * generator packaging (Debian 11, 12): ``postfix.service`` is enabled when any instance should
      start at boot; a wanted unit is unmasked; an unwanted one is masked (the generator would
      pull it in, and a disabled instance's unit fails); the ``stale`` masks (``stale_masks``) are
      removed, each a change labelled with the unit's instance string;
    * otherwise (Debian 13): a wanted unit is unmasked and enabled, an unwanted one disabled.
    """
    changes = [BootChange(unit[len("postfix@") : -len(".service")], unit, "masked", False, ("unmask",), STALE_MASK_NOTE) for unit in stale]
    for label, unit, wanted in entries:
        if unit is None:
            note = "no unit of this host's Postfix package can drive it, so nothing starts it at boot" if wanted else ""
            changes.append(BootChange(label, None, "", wanted, (), note))
            continue
        state = states.get(unit, "")
        verbs: list[str] = []
        if packaging.generator and packaging.by == "name":
            if wanted and state in MASKED_STATES:
                verbs.append("unmask")
            elif not wanted and state not in MASKED_STATES:
                # enabled-runtime: linked by the generator (it is listed), which no disable can undo
                if state in ENABLED_STATES and not state.endswith("-runtime"):
                    verbs.append("disable")
                verbs.append("mask")
        else:
            if wanted:
                if state in MASKED_STATES:
                    verbs.append("unmask")
                if state not in ENABLED_STATES:
                    verbs.append("enable")
            elif state in ENABLED_STATES:
                verbs.append("disable")
        changes.append(BootChange(label, unit, state, wanted, tuple(verbs)))
    umbrella: tuple[str, ...] = ()
    if packaging.generator and packaging.by == "name" and any(c.wanted and c.unit for c in changes):
        if umbrella_state in MASKED_STATES:
            umbrella = ("unmask", "enable")
        elif umbrella_state not in ENABLED_STATES:
            umbrella = ("enable",)
    return changes, umbrella


def release_unit(state: str, old_unit: str, new_unit: str | None = None) -> list[tuple[str, str]]:
    """``(verb, unit)`` for systemctl that leave nothing behind for the unit ``old_unit`` (``systemctl
    is-enabled``: ``state``) of an instance that is destroyed, deported, or renamed to the unit
    ``new_unit``: a mask is removed (a later instance of that name could never start; a renamed
    instance keeps it under its new unit), an enabled unit is disabled (at boot it would start an
    instance that is gone, or fail). What the generator links at run time (``-runtime``) follows the
    instance list by itself."""
    if state in ("masked",):
        return [("unmask", old_unit)] + ([("mask", new_unit)] if new_unit else [])
    if state in ("enabled", "linked"):
        return [("disable", old_unit)] + ([("enable", new_unit)] if new_unit else [])
    return []


def boot_commands(changes: t.Sequence[BootChange], umbrella: t.Sequence[str]) -> list[tuple[str, list[str]]]:
    """``(verb, units)`` for systemctl, one call per verb, in a safe order: unmask before enable,
    disable before mask."""
    order = ("unmask", "enable", "disable", "mask")
    by_verb: dict[str, list[str]] = {verb: [] for verb in order}
    for verb in umbrella:
        by_verb[verb].append(UMBRELLA_UNIT)
    for change in changes:
        for verb in change.verbs:
            if change.unit is not None and change.unit not in by_verb[verb]:
                by_verb[verb].append(change.unit)
    return [(verb, by_verb[verb]) for verb in order if by_verb[verb]]
