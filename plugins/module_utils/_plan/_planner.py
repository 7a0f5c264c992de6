# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Turn a desired instance state into a plan: file writes, directories and commands.

The same plan serves check mode (report it), diff (its before/after texts) and apply
(``_apply.apply_plan``). Planning only reads: it asks a ``Facts`` object about the host.
The end state of each plan is the one ``postmulti -e ...`` would leave (postmulti(1) and the
postmulti-script it runs), and beyond postmulti: idempotence, refusal of conflicting or
dangerous requests before anything is touched, and no silent overwrite of files.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field, replace

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError, displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import Facts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import (
    clean_directory,
    derive,
    is_system,
    normalize,
    refuse_links,
    same_directory,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import (
    WRAPPER_VALUE,
    Instance,
    Registry,
    parse_bool,
    validate_group,
    validate_instance_name,
)

# Installation parameters postmulti copies from the primary into a new instance when the
# primary sets them explicitly, and comments out otherwise (postmulti-script, create).
SHARED_PARAMETERS = (
    "command_directory",
    "daemon_directory",
    "meta_directory",
    "mail_owner",
    "setgid_group",
    "sendmail_path",
    "mailq_path",
    "newaliases_path",
    "html_directory",
    "manpage_directory",
    "sample_directory",
    "readme_directory",
    "shlib_directory",
)

STATES = ("present", "absent", "deported")


@dataclass
class Desired:
    """What the operator asked for (module options after type conversion)."""

    state: str = "present"
    name: str | None = None  # None: not given; "" (or "-"): nameless
    config_directory: str | None = None
    queue_directory: str | None = None
    data_directory: str | None = None
    group: str | None = None  # None: leave alone; "" (or "-"): clear
    enabled: bool | None = None
    position: str | None = None  # "first" | "last"
    before: str | None = None
    before_group: str | None = None
    force: bool = False


def set_values_edit(values: t.Mapping[str, str]) -> t.Callable[[str], str]:
    """The edit that sets ``values`` in a main.cf text, to make again on a text edited meanwhile."""
    frozen = dict(values)
    return lambda text: MainCf.parse(text).edit(set_values=frozen).render()


@dataclass
class FileWrite:
    """One file the plan writes: ``before`` is None for a new file. ``reedit`` makes the same
    edit on the file's current text, when another editor (postconf -e) changed it meanwhile."""

    path: str
    before: str | None
    after: str
    mode: int = 0o644
    reedit: t.Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def setting(cls, path: str, cf: MainCf, values: t.Mapping[str, str], before: str | None = None) -> FileWrite:
        """A main.cf write that sets ``values`` in ``cf``."""
        return cls(path, cf.render() if before is None else before, cf.edit(set_values=values).render(), reedit=set_values_edit(values))

    def diff(self) -> dict[str, str]:
        return {
            "before_header": self.path if self.before is not None else f"{self.path} (absent)",
            "after_header": self.path,
            "before": displayable(self.before or ""),
            "after": displayable(self.after),
        }


@dataclass
class Plan:
    """Everything an apply will do, in order."""

    action: str  # none | create | import | update | repair | destroy | deport
    before: Instance | None
    after: Instance | None
    directories: list[str] = field(default_factory=list)  # secondary list after the change
    stop: bool = False  # postfix -c DIR stop before anything else (force)
    mkdirs: list[tuple[str, int]] = field(default_factory=list)
    instance_writes: list[FileWrite] = field(default_factory=list)
    primary_write: FileWrite | None = None
    set_permissions: bool = False
    remove: bool = False  # destroy: remove the instance's files after deregistration
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.stop or self.mkdirs or self.instance_writes or self.primary_write or self.set_permissions or self.remove)

    def writes(self) -> list[FileWrite]:
        out = list(self.instance_writes)
        if self.primary_write is not None:
            out.append(self.primary_write)
        return out


def _norm_optional_name(value: str | None) -> str | None:
    if value is None:
        return None
    return "" if value in ("", "-") else value


def _directory_list_value(directories: t.Sequence[str]) -> str:
    return " ".join(directories)


class Planner:
    """Plans one ``postfix_instance`` request against a loaded registry."""

    def __init__(self, registry: Registry, facts: Facts) -> None:
        self.reg = registry
        self.facts = facts

    # ------------------------------------------------------------ helpers
    def primary_value(self, name: str) -> str:
        return self.reg.primary_value(name)

    def _require_init(self) -> None:
        problem = self.reg.init_problem()
        if problem:
            raise PostfixMultiError(problem)

    def _require_healthy(self, target: str | None, deregistering: str | None = None) -> None:
        """Refuse to edit a host whose instance list postmulti itself could not load; the conflicts
        of the instance being ``deregistering`` (deported) are what its deregistration ends."""
        problems = [p for d, p in self.reg.broken.items() if d != target]
        problems += self.reg.conflicts(self.facts.resolve, apart_from=deregistering)
        if problems:
            raise PostfixMultiError(
                "the instance list in "
                f"{self.reg.primary_directory}/main.cf is broken, so postmulti and 'postfix start' fail too: "
                + "; ".join(problems)
                + ". Repair it first (e.g. state=deported for an entry whose main.cf is missing or wrong, or whose directories conflict).",
                problems=problems,
            )

    def _primary_edit(self, directories: list[str], alternate_del: str | None = None, alternate_add: str | None = None) -> FileWrite | None:
        """Primary main.cf edit that sets the list and maintains alternate_config_directories."""
        cf = self.reg.primary_cf
        values: dict[str, str] = {}
        if directories != self.reg.secondary_directories or (cf.get("multi_instance_directories") or "") != _directory_list_value(directories):
            values["multi_instance_directories"] = _directory_list_value(directories)
        alternates = self.reg.alternate_directories()
        if alternate_del is not None:
            kept = [d for d in alternates if not same_directory(d, alternate_del, self.facts.resolve)]
            if kept != alternates:
                values["alternate_config_directories"] = " ".join(kept)
        if alternate_add is not None and not any(same_directory(d, alternate_add, self.facts.resolve) for d in alternates):
            values["alternate_config_directories"] = " ".join([*alternates, alternate_add])
        if not values:
            return None
        return FileWrite.setting(f"{self.reg.primary_directory}/main.cf", cf, values)

    def _raw_enabled(self, inst: Instance) -> bool:
        if not inst.primary:
            return inst.enabled
        value = self.reg.primary_cf.raw("multi_instance_enable")
        if value is None:
            return False
        return parse_bool(self.reg.primary_value("multi_instance_enable"), f"{inst.config_directory}/main.cf")

    def _instance_cf(self, inst: Instance) -> tuple[str, MainCf]:
        path = f"{inst.config_directory}/main.cf"
        if inst.primary:
            return path, self.reg.primary_cf
        text = self.facts.read_text(path)
        if text is None:
            raise PostfixMultiError(f"{path} disappeared while planning; run again")
        return path, MainCf.parse(text)

    # ----------------------------------------------------------- identity
    def identify(self, desired: Desired) -> tuple[str, Instance | None, str | None]:
        """(config directory, registered instance or None, list entry or None)."""
        name = _norm_optional_name(desired.name)
        if desired.config_directory:
            cfg = clean_directory(desired.config_directory, "config_directory")
            if same_directory(cfg, self.reg.primary_directory, self.facts.resolve):
                return self.reg.primary_directory, self.reg.primary, None
            return cfg, self.reg.by_directory(cfg, self.facts.resolve), self.reg.listed(cfg, self.facts.resolve)
        if not name:
            raise PostfixMultiError("a nameless instance (name '-') is identified by its directory: give config_directory too")
        validate_instance_name(name)
        inst = self.reg.by_name(name)
        if inst is not None:
            return inst.config_directory, inst, None if inst.primary else self.reg.listed(inst.config_directory)
        cfg = clean_directory(derive(self.reg.primary_directory, name, "config_directory"), "config_directory")
        return cfg, self.reg.by_directory(cfg, self.facts.resolve), self.reg.listed(cfg, self.facts.resolve)

    # --------------------------------------------------------------- plan
    def plan(self, desired: Desired) -> Plan:
        if desired.state not in STATES:
            raise PostfixMultiError(f"state must be one of {', '.join(STATES)}, got '{desired.state}'")
        placement = [o for o in ("position", "before", "before_group") if getattr(desired, o) not in (None, "")]
        if len(placement) > 1:
            raise PostfixMultiError(f"position, before and before_group are mutually exclusive; got {', '.join(placement)}")
        name = _norm_optional_name(desired.name)
        if name:
            validate_instance_name(name)
        group = _norm_optional_name(desired.group)
        if group:
            validate_group(group)
        cfg, inst, entry = self.identify(desired)
        if desired.state == "present":
            if inst is not None:
                self._require_healthy(None)
                return self._plan_update(desired, inst, name, group)
            if entry is not None:
                raise PostfixMultiError(
                    f"{cfg} is listed in multi_instance_directories but cannot be read: {self.reg.broken.get(entry)}. "
                    "Repair its main.cf, or deregister it with state=deported."
                )
            self._require_healthy(None)
            return self._plan_new(desired, cfg, name, group)
        if desired.state == "absent":
            if inst is None:
                if entry is not None:
                    raise PostfixMultiError(
                        f"{cfg} is listed but broken ({self.reg.broken.get(entry)}); it cannot be destroyed safely. Use state=deported to deregister it."
                    )
                return Plan("none", None, None, directories=list(self.reg.secondary_directories), messages=[f"instance {cfg} is not registered"])
            self._require_healthy(None)
            return self._plan_remove(desired, inst, destroy=True)
        # deported
        if inst is None:
            if entry is not None:
                return self._plan_deregister_broken(cfg, entry)
            return Plan("none", None, None, directories=list(self.reg.secondary_directories), messages=[f"instance {cfg} is not registered"])
        resolve = self.facts.resolve
        own = [problem for problem in self.reg.conflicts(resolve) if problem not in self.reg.conflicts(resolve, apart_from=inst.config_directory)]
        self._require_healthy(None, deregistering=inst.config_directory)
        if own:
            # its directories are another instance's too: what "postfix status" or a stop would reach
            # is that instance, so the entry is only taken off the list, as an unreadable one is
            entry = self.reg.listed(inst.config_directory, resolve) or inst.config_directory
            return self._plan_deregister_broken(cfg, entry, "; ".join(own))
        return self._plan_remove(desired, inst, destroy=False)

    # ------------------------------------------------------------- update
    def _check_dirs_match(self, desired: Desired, inst: Instance) -> None:
        for option in ("queue_directory", "data_directory"):
            wanted = getattr(desired, option)
            if not wanted:
                continue
            have = getattr(inst, option)
            if not same_directory(clean_directory(wanted, option), have, self.facts.resolve):
                raise PostfixMultiError(
                    f"instance {inst.label} already uses {option} {have}, not {wanted}. "
                    "This module never moves a queue or data directory; change it by hand (stop the instance, move the directory, edit main.cf) "
                    "or leave the option out."
                )

    def _plan_update(self, desired: Desired, inst: Instance, name: str | None, group: str | None) -> Plan:
        self._check_dirs_match(desired, inst)
        values: dict[str, str] = {}
        after = inst
        if name is not None and name != (inst.name or ""):
            after = replace(after, name=name or None)
            values["multi_instance_name"] = name
            if name:
                self.reg.check_new(replace(after, queue_directory="", data_directory=""), self.facts.resolve, replacing=inst.config_directory)
        if group is not None and group != (inst.group or ""):
            after = replace(after, group=group or None)
            values["multi_instance_group"] = group
        plan = Plan("none", inst, after, directories=list(self.reg.secondary_directories))
        if desired.enabled is not None and desired.enabled != self._raw_enabled(inst):
            values["multi_instance_enable"] = "yes" if desired.enabled else "no"
            after = replace(after, enabled=desired.enabled if not (inst.primary and not self.reg.secondary_directories) else True)
            plan.after = after
            if not desired.enabled and self.facts.is_running(inst.config_directory):
                plan.warnings.append(
                    f"instance {inst.label} is still running; a disabled instance is skipped by 'postfix stop' (postmulti -p stop). "
                    "Stop it with 'postfix -c " + inst.config_directory + " stop'."
                )
            if inst.primary and not desired.enabled:
                plan.warnings.append(
                    "the primary instance is now disabled: 'postfix start' only checks it, and postmulti -e actions (and this collection's) "
                    "are refused until mailops.postfix_multi.postfix_multi_init runs again"
                )
        plan.after = after
        if not inst.primary:
            self._plan_repair(plan, inst)
        if desired.position or desired.before or desired.before_group:
            plan.messages.append("placement options apply only when an instance is added; the existing order is kept")
        if values:
            self._require_init()
            path, cf = self._instance_cf(inst)
            plan.instance_writes.append(FileWrite.setting(path, cf, values))
            plan.action = "update"
            plan.messages.append(f"updated {inst.label}: " + ", ".join(f"{k} = {v}" for k, v in sorted(values.items())))
        return plan

    def _plan_repair(self, plan: Plan, inst: Instance) -> None:
        """Complete an instance whose creation was cut off after its registration (killed before
        or during ``postfix set-permissions``): make its missing directories, run set-permissions."""
        gap = self.facts.incomplete(inst.queue_directory, inst.data_directory, self.primary_value("mail_owner") or "postfix")
        if gap is None:
            return
        for option, mode in (("queue_directory", 0o755), ("data_directory", 0o700)):
            directory = getattr(inst, option)
            if not self.facts.is_dir(directory):
                plan.mkdirs.extend(self._mkdirs(directory, mode))
        plan.set_permissions = True
        if plan.action == "none":
            plan.action = "repair"
        plan.messages.append(f"repaired {inst.label}: {gap}; ran postfix set-permissions")

    # ---------------------------------------------------------------- new
    def _insert(self, cfg: str, desired: Desired) -> list[str]:
        directories = list(self.reg.secondary_directories)
        if desired.before:
            for sec in self.reg.secondaries:
                if sec.matches(desired.before) or same_directory(sec.config_directory, desired.before, self.facts.resolve):
                    at = directories.index(sec.config_directory)
                    return [*directories[:at], cfg, *directories[at:]]
            raise PostfixMultiError(f"No matching secondary instances: before={desired.before} names no secondary instance (known: {self._known()})")
        if desired.before_group:
            for sec in self.reg.secondaries:
                if sec.group == desired.before_group:
                    at = directories.index(sec.config_directory)
                    return [*directories[:at], cfg, *directories[at:]]
            groups = sorted({s.group for s in self.reg.secondaries if s.group})
            raise PostfixMultiError(
                f"No matching secondary instances: no secondary instance is in group '{desired.before_group}' (groups: {', '.join(groups) or 'none'})"
            )
        if desired.position == "first":
            return [cfg, *directories]
        return [*directories, cfg]

    def _known(self) -> str:
        return ", ".join(s.name or s.config_directory for s in self.reg.secondaries) or "none"

    def _plan_new(self, desired: Desired, cfg: str, name: str | None, group: str | None) -> Plan:
        refuse_links(cfg, "config_directory", self.facts.resolve)
        has_main = self.facts.exists(f"{cfg}/main.cf")
        has_master = self.facts.exists(f"{cfg}/master.cf")
        if has_main != has_master:
            present, missing = ("main.cf", "master.cf") if has_main else ("master.cf", "main.cf")
            raise PostfixMultiError(
                f"{cfg} holds {present} but no {missing}. postmulti would silently replace it with the stock template; "
                f"this module refuses. Add {cfg}/{missing} to import the instance as it is, or remove {cfg}/{present} to create a new instance."
            )
        if has_main:
            return self._plan_import(desired, cfg, name, group)
        return self._plan_create(desired, cfg, name, group)

    def _plan_import(self, desired: Desired, cfg: str, name: str | None, group: str | None) -> Plan:
        path = f"{cfg}/main.cf"
        text = self.facts.read_text(path)
        if text is None:
            raise PostfixMultiError(f"{path} disappeared while planning; run again")
        cf = MainCf.parse(text)
        found = self.reg.instance_from(cf, cfg)
        self._check_dirs_match(desired, found)
        for option in ("queue_directory", "data_directory"):
            refuse_links(clean_directory(getattr(found, option), f"{cfg}/main.cf: {option}"), option, self.facts.resolve)
        values: dict[str, str] = {}
        after = found
        if name is not None and name != (found.name or ""):
            values["multi_instance_name"] = name
            after = replace(after, name=name or None)
        if group is not None and group != (found.group or ""):
            values["multi_instance_group"] = group
            after = replace(after, group=group or None)
        if desired.enabled is not None and desired.enabled != found.enabled:
            values["multi_instance_enable"] = "yes" if desired.enabled else "no"
            after = replace(after, enabled=desired.enabled)
        try:
            self.reg.check_new(after, self.facts.resolve)
        except PostfixMultiError as exc:
            raise PostfixMultiError(
                f"cannot import {cfg}: {exc.msg}. An imported main.cf must set its own queue_directory and data_directory "
                "(without them it would share the primary's)."
            ) from exc
        self._require_init()
        directories = self._insert(cfg, desired)
        plan = Plan("import", None, after, directories=directories, set_permissions=True)
        for option, mode in (("queue_directory", 0o755), ("data_directory", 0o700)):
            directory = getattr(after, option)
            if not self.facts.is_dir(directory):
                plan.mkdirs.extend(self._mkdirs(directory, mode))
                plan.messages.append(f"{option} {directory} did not exist and will be created")
        if values:
            plan.instance_writes.append(FileWrite.setting(path, cf, values, before=text))
        plan.primary_write = self._primary_edit(directories, alternate_del=cfg)
        plan.messages.append(f"imported {after.label} from {cfg}")
        return plan

    def _mkdirs(self, directory: str, mode: int) -> list[tuple[str, int]]:
        """Missing directories from the top down to ``directory`` (postmulti's ``mkdir -p`` with its umask)."""
        missing: list[tuple[str, int]] = []
        current = directory
        while current not in ("/", "") and not self.facts.is_dir(current):
            if self.facts.exists(current):
                raise PostfixMultiError(f"{current} exists and is not a directory")
            missing.append((current, mode))
            current = current.rsplit("/", 1)[0] or "/"
        return list(reversed(missing))

    def _plan_create(self, desired: Desired, cfg: str, name: str | None, group: str | None) -> Plan:
        queue = clean_directory(desired.queue_directory, "queue_directory") if desired.queue_directory else None
        data = clean_directory(desired.data_directory, "data_directory") if desired.data_directory else None
        if not name and (queue is None or data is None):
            missing = [o for o, v in (("queue_directory", queue), ("data_directory", data)) if v is None]
            raise PostfixMultiError(
                f"a nameless instance needs explicit directories: missing {', '.join(missing)} (a name such as postfix-out lets them be derived)"
            )
        if queue is None:
            queue = clean_directory(derive(self.primary_value("queue_directory"), t.cast(str, name), "queue_directory"), "queue_directory")
        if data is None:
            data = clean_directory(derive(self.primary_value("data_directory"), t.cast(str, name), "data_directory"), "data_directory")
        refuse_links(queue, "queue_directory", self.facts.resolve)
        refuse_links(data, "data_directory", self.facts.resolve)
        after = Instance(
            config_directory=cfg,
            queue_directory=queue,
            data_directory=data,
            name=name or None,
            group=group or None,
            enabled=bool(desired.enabled),
        )
        self.reg.check_new(after, self.facts.resolve)
        self._require_init()
        meta = self.primary_value("meta_directory") or self.reg.primary_directory
        protos = {}
        for proto in ("main.cf", "master.cf"):
            proto_path = f"{meta}/{proto}.proto"
            text = self.facts.read_text(proto_path)
            if text is None:
                raise PostfixMultiError(
                    f"Missing {proto} prototype: {proto_path}. Postfix's packaging should install it (Debian copies it from /usr/share/postfix/{proto}.dist)."
                )
            protos[proto] = text
        directories = self._insert(cfg, desired)
        plan = Plan("create", None, after, directories=directories, set_permissions=True)
        seen: set[str] = set()
        for directory, mode in ((cfg, 0o755), (queue, 0o755), (data, 0o700)):
            for item in self._mkdirs(directory, mode):
                if item[0] not in seen:
                    seen.add(item[0])
                    plan.mkdirs.append(item)
        main_text = self.build_main_cf(protos["main.cf"], after)
        plan.instance_writes.append(FileWrite(f"{cfg}/main.cf", None, main_text))
        plan.instance_writes.append(FileWrite(f"{cfg}/master.cf", None, protos["master.cf"]))
        plan.primary_write = self._primary_edit(directories, alternate_del=cfg)
        plan.messages.append(f"created {after.label} in {cfg}")
        return plan

    def build_main_cf(self, proto: str, inst: Instance) -> str:
        """The new instance's main.cf, built from the prototype as postmulti-script does."""
        primary = self.reg.primary_cf
        copied: dict[str, str] = {}
        comment: list[str] = []
        for param in SHARED_PARAMETERS:
            value = primary.get(param)
            if value:
                copied[param] = value
            else:
                comment.append(param)
        cf = MainCf.parse(proto).edit(comment_out=comment)
        values = {
            "queue_directory": inst.queue_directory,
            "data_directory": inst.data_directory,
            "authorized_submit_users": "",
            "master_service_disable": "inet",
        }
        values.update(copied)
        cf = cf.edit(set_values=values)
        names: dict[str, str] = {}
        if inst.name:
            names["multi_instance_name"] = inst.name
        if inst.group:
            names["multi_instance_group"] = inst.group
        if inst.enabled:
            names["multi_instance_enable"] = "yes"
        if names:
            cf = cf.edit(set_values=names)
        return cf.render()

    # ------------------------------------------------------------- remove
    def _plan_remove(self, desired: Desired, inst: Instance, destroy: bool) -> Plan:
        verb = "destroy" if destroy else "deport"
        if inst.primary:
            raise PostfixMultiError(f"Cannot {verb} the primary instance ({inst.config_directory})")
        running = self.facts.is_running(inst.config_directory)
        if inst.enabled and not desired.force:
            raise PostfixMultiError(f"Cannot {verb} enabled instance {inst.label}: set enabled=false first (and stop it), or force=true to stop and disable it")
        if running and not desired.force:
            raise PostfixMultiError(f"Instance {inst.label} ({inst.config_directory}) is not stopped: stop it first, or set force=true to stop it")
        if destroy:
            counts = self.facts.queue_counts(inst.queue_directory)
            total = sum(counts.values())
            if total:
                detail = ", ".join(f"{q}: {n}" for q, n in counts.items() if n)
                raise PostfixMultiError(
                    f"Cannot destroy instance {inst.label}: its queue {inst.queue_directory} still holds {total} message"
                    f"{'s' if total != 1 else ''} ({detail}). This module never deletes mail: deliver, requeue or remove them first "
                    f"(postqueue -c {inst.config_directory} -p lists them), or deport the instance instead.",
                    queue=counts,
                )
        if destroy:
            self._check_destroyable(inst)
        self._require_init()
        directories = [d for d in self.reg.secondary_directories if not same_directory(d, inst.config_directory, self.facts.resolve)]
        plan = Plan("destroy" if destroy else "deport", inst, None if destroy else replace(inst, enabled=False), directories=directories)
        plan.stop = running
        if running:
            plan.messages.append(f"stopped {inst.label}")
        if inst.enabled:
            path, cf = self._instance_cf(inst)
            plan.instance_writes.append(FileWrite.setting(path, cf, {"multi_instance_enable": "no"}))
            plan.messages.append(f"disabled {inst.label}")
        if destroy:
            plan.primary_write = self._primary_edit(directories, alternate_del=inst.config_directory)
            plan.remove = True
            plan.messages.append(f"destroyed {inst.label}")
        else:
            plan.primary_write = self._primary_edit(directories, alternate_add=inst.config_directory)
            plan.messages.append(f"deported {inst.label}: it keeps its files and stays usable with postfix -c {inst.config_directory}")
        return plan

    def _check_destroyable(self, inst: Instance) -> None:
        """Refuse to destroy an instance whose directories really are a system directory or another instance's."""
        try:
            for option in ("config_directory", "queue_directory", "data_directory"):
                path = getattr(inst, option)
                real = self.facts.resolve(normalize(path))
                if is_system(real):
                    shown = path if real == path else f"{path} (really {real})"
                    raise PostfixMultiError(f"its {option} {shown} is a system directory")
            self.reg.check_apart(inst, self.facts.resolve, None)
        except PostfixMultiError as exc:
            raise PostfixMultiError(
                f"Cannot destroy instance {inst.label}: {exc.msg}. Nothing was changed; deregister it with state=deported and clean up by hand."
            ) from exc

    def _plan_deregister_broken(self, cfg: str, entry: str, why: str | None = None) -> Plan:
        """Take ``entry`` off the instance list and nothing else: its main.cf cannot be read, or
        (``why``) its directories conflict with another instance's; nothing is stopped or disabled."""
        self._require_init()
        directories = [d for d in self.reg.secondary_directories if d != entry]
        has_main = self.facts.exists(f"{entry}/main.cf")
        plan = Plan("deport", None, None, directories=directories)
        plan.primary_write = self._primary_edit(directories, alternate_add=entry if has_main else None)
        plan.warnings.append(f"deregistered broken entry {entry}: {why or self.reg.broken.get(entry)}")
        return plan


def plan_init(registry: Registry) -> FileWrite | None:
    """The primary main.cf edit of ``postmulti -e init``, or None when nothing differs."""
    cf = registry.primary_cf
    values: dict[str, str] = {}
    if cf.get("multi_instance_wrapper") != WRAPPER_VALUE:
        values["multi_instance_wrapper"] = WRAPPER_VALUE
    if cf.get("multi_instance_enable") != "yes":
        values["multi_instance_enable"] = "yes"
    if not values:
        return None
    return FileWrite.setting(f"{registry.primary_directory}/main.cf", cf, values)
