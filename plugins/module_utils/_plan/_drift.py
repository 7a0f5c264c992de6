# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Drift: how a host differs from a declared multi-instance design (the multi_instance role's input).

Read-only. For every declared instance it answers, without changing anything, whether
``postfix_instance``, ``postfix_config``, each ``postfix_master`` entry and ``postfix_service``
would have something to do, so that the role calls those modules only where they will act: a
converged host then costs one module call, whatever the size of the design.

The answers come from the modules' own pure planners - ``_planner.Planner`` (postfix_instance),
``_configure.plan_config`` (postfix_config) and ``_configure.plan_master`` (postfix_master) -
applied to the files as they are, so "in sync" means exactly "the module would report no change".
Where a planner refuses the request (bad input, broken files, an instance that does not exist
yet) the item is reported as differing: the module then runs and reports the problem, or acts.
"""

from __future__ import annotations

import posixpath
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import Facts, FactsOverlay, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import check_master_items, plan_config, plan_master
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import check_design_maps, declared_type, map_changes
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import STATES, Desired, Planner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, MainCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import derive, same_directory
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance, Registry, validate_instance_name

if t.TYPE_CHECKING:
    from typing import Protocol  # novermin: new in Python 3.8, read by mypy only
else:
    Protocol = object  # ansible-core 2.17 runs modules on Python 3.7, which has no typing.Protocol

PRIMARY = "-"
# "postfix status" runs for this many instances at a time (it mostly waits for postfix-script).
STATUS_WORKERS = 8


class DriftFacts(Facts, Protocol):
    """What the comparison reads from the host (``_facts.LocalFacts`` satisfies it)."""

    def defaults(self) -> dict[str, str]: ...


@dataclass
class Declared:
    """One entry of ``postfix_multi_instances`` after defaults."""

    name: str
    group: str | None = None
    enabled: bool = True
    state: str = "present"
    config_directory: str | None = None
    queue_directory: str | None = None
    data_directory: str | None = None
    position: str | None = None
    before: str | None = None
    before_group: str | None = None
    parameters: dict[str, t.Any] = field(default_factory=dict)
    absent_parameters: list[str] = field(default_factory=list)
    exclusive: bool = False
    master: list[dict[str, t.Any]] = field(default_factory=list)
    maps: list[dict[str, t.Any]] = field(default_factory=list)
    move_mail_to: str | None = None

    def desired(self) -> Desired:
        """The ``postfix_instance`` request the role makes for this entry."""
        present = self.state == "present"
        return Desired(
            state=self.state,
            name=self.name,
            config_directory=self.config_directory,
            queue_directory=self.queue_directory,
            data_directory=self.data_directory,
            group=self.group,
            enabled=self.enabled if present else None,
            position=self.position,
            before=self.before,
            before_group=self.before_group,
            force=not present,
        )

    def call_args(self) -> dict[str, t.Any]:
        """What the role passes to ``postfix_instance`` (None: omitted)."""
        return {
            "name": self.name,
            "group": self.group,
            "enabled": self.enabled,
            "state": self.state,
            "config_directory": self.config_directory,
            "queue_directory": self.queue_directory,
            "data_directory": self.data_directory,
            "position": self.position,
            "before": self.before,
            "before_group": self.before_group,
            "move_mail_to": self.move_mail_to,
        }


def declared_from(entries: t.Sequence[t.Mapping[str, t.Any]]) -> list[Declared]:
    """Validate the declared list: names given, valid and unique; directories unique."""
    out: list[Declared] = []
    seen: dict[str, int] = {}
    dirs: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"postfix_multi_instances[{index}]"
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise PostfixMultiError(f"{where}: every declared instance needs a name (postfix-...)")
        try:
            validate_instance_name(name)
        except PostfixMultiError as exc:
            raise PostfixMultiError(f"{where}: {exc.msg}") from None
        if name in seen:
            raise PostfixMultiError(f"{where}: instance {name} is declared twice (also postfix_multi_instances[{seen[name]}])")
        seen[name] = index
        state = entry.get("state") or "present"
        if state not in STATES:
            raise PostfixMultiError(f"{where} ({name}): state must be one of {', '.join(STATES)}, not {state!r}")
        declared = Declared(
            name=name,
            group=entry.get("group"),
            enabled=True if entry.get("enabled") is None else bool(entry.get("enabled")),
            state=state,
            config_directory=entry.get("config_directory") or None,
            queue_directory=entry.get("queue_directory") or None,
            data_directory=entry.get("data_directory") or None,
            position=entry.get("position") or None,
            before=entry.get("before") or None,
            before_group=entry.get("before_group") or None,
            parameters=dict(entry.get("parameters") or {}),
            absent_parameters=list(entry.get("absent_parameters") or []),
            exclusive=bool(entry.get("exclusive")),
            master=check_master_items(f"{where} ({name})", entry.get("master")),
            maps=check_design_maps(f"{where} ({name})", entry.get("maps")),
            move_mail_to=entry.get("move_mail_to") or None,
        )
        if declared.move_mail_to and state == "present":
            raise PostfixMultiError(
                f"{where} ({name}): move_mail_to moves the mail of an instance that goes away: give it with state absent or deported, or remove it"
            )
        if declared.config_directory:
            key = posixpath.normpath(declared.config_directory)
            if key in dirs:
                raise PostfixMultiError(f"{where} ({name}): config_directory {declared.config_directory} is also declared for {dirs[key]}")
            dirs[key] = name
        out.append(declared)
    by_name = {item.name: item for item in out}
    for index, item in enumerate(out):
        target = by_name.get(item.move_mail_to or "")
        if target is not None and target.state != "present":
            raise PostfixMultiError(
                f"postfix_multi_instances[{index}] ({item.name}): move_mail_to names {target.name}, which this design also "
                f"removes (state {target.state}); name a sibling that stays"
            )
    return out


# ----------------------------------------------------------------------------- main.cf, master.cf
def parameter_changes(text: str | None, parameters: t.Mapping[str, t.Any], absent: t.Sequence[str], exclusive: bool) -> list[str]:
    """Names ``postfix_config`` would change in this main.cf text ([] for none); ``["*"]`` when it
    would not plan (missing file, or a request it refuses: it will run and say why)."""
    if text is None:
        return ["*"]
    try:
        plan = plan_config(MainCf.parse(text), parameters, absent, exclusive)
    except (PostfixMultiError, MainCfError):
        return ["*"]
    return plan.changed_names if plan.changed else []


def master_changes(text: str | None, entries: t.Sequence[t.Mapping[str, t.Any]]) -> list[int]:
    """Indexes of the declared entries ``postfix_master`` would act on (or refuse), in order."""
    if text is None:
        return list(range(len(entries)))
    out = []
    for index, entry in enumerate(entries):
        try:
            changed = plan_master(MasterCf.parse(text), entry).changed
        except (PostfixMultiError, MasterCfError):
            changed = True
        if changed:
            out.append(index)
    return out


# ----------------------------------------------------------------------------- the whole host
def _label(entry: t.Mapping[str, t.Any]) -> str:
    return f"{entry['service']}/{entry['type']}"


def compare(
    facts: DriftFacts,
    instances: t.Sequence[t.Mapping[str, t.Any]],
    primary_parameters: t.Mapping[str, t.Any] | None = None,
    primary_absent_parameters: t.Sequence[str] = (),
    prune: bool = False,
    start: bool = True,
    boot: t.Callable[[Registry], list[str] | None] | None = None,
    primary_maps: t.Sequence[t.Mapping[str, t.Any]] = (),
    primary_master: t.Sequence[t.Mapping[str, t.Any]] = (),
) -> dict[str, t.Any]:
    """The drift of this host from the design, and the module calls that would remove it.

    ``primary_master``: master.cf entries the primary needs (the postlog entry of its logging).

    ``boot`` (with ``start``) lists what would make exactly the enabled instances start at boot
    (``postfix_service`` with ``enabled: true``); it returns None where systemd does not drive
    Postfix, and ``systemd`` in the result says which. It runs beside the rest of the comparison
    (it waits for systemctl)."""
    declared = declared_from(instances)
    primary_tables = check_design_maps("primary_maps", list(primary_maps))
    primary_master = check_master_items("the primary instance", primary_master)
    reg = Registry.load(facts.defaults(), facts.read_text)
    booting = None
    if boot is not None:
        early = ThreadPoolExecutor(max_workers=1)
        booting = early.submit(boot, reg)
        early.shutdown(wait=False)  # the call runs on; booting.result() waits for it
    facts = _RunningOnce(facts, [inst.config_directory for inst in reg.instances])
    planner = Planner(reg, facts)
    init_needed = not reg.initialised
    actions: dict[str, t.Any] = {
        "init": init_needed,
        "stop": [],
        "instances": [],
        "config": [],
        "master": [],
        "prune": [],
        "start": [],
        "boot": [],
        "maps": [],
        "reload": [],
    }
    report: list[dict[str, t.Any]] = []

    primary = reg.primary
    primary_changes = parameter_changes(facts.read_text(primary.config_directory + "/main.cf"), primary_parameters or {}, primary_absent_parameters, False)
    if primary_parameters or primary_absent_parameters:
        if primary_changes:
            actions["config"].append(_config_action(PRIMARY, primary_parameters or {}, primary_absent_parameters, False, primary_changes))
    else:
        primary_changes = []
    primary_entries = master_changes(facts.read_text(primary.config_directory + "/master.cf"), primary_master) if primary_master else []
    for i in primary_entries:
        describe = f"set master.cf entry {_label(primary_master[i])} of the primary instance"
        actions["master"].append({"instance": PRIMARY, "entry": dict(primary_master[i]), "depends": False, "describe": describe})
    if primary_tables:
        _maps_action(facts, actions, PRIMARY, primary.config_directory, True, primary.config_directory, primary_tables, declared_type(primary_parameters))
    primary_running = facts.is_running(primary.config_directory) if start else True
    if start and not primary_running:
        actions["start"].append({"instance": PRIMARY, "depends": False, "describe": "start the primary instance"})

    for item in declared:
        row = _compare_instance(facts, reg, planner, item, init_needed, actions, start)
        if item.state == "present" and item.maps:
            current = _find(reg, facts, item)
            row["maps"] = _maps_action(
                facts, actions, item.name, row["config_directory"], current is not None, reg.primary_directory, item.maps, declared_type(item.parameters)
            )
        report.append(row)

    undeclared = [_undeclared(facts, inst) for inst in reg.secondaries if not any(_is_declared(reg, facts, inst, d) for d in declared)]
    if prune:
        # a nameless instance (postmulti -I - -e create) cannot be declared: overridden leaves it alone
        actions["prune"] = [u["config_directory"] for u in undeclared if u["name"]]

    if start:
        leaving = set(actions["prune"]) | {d.name for d in declared if d.state != "present"}
        actions["reload"] = _pending_reloads(facts, reg, leaving)

    systemd = False
    if booting is not None:
        commands = booting.result()
        systemd = commands is not None
        if start and commands and not init_needed:
            actions["boot"] = commands

    in_sync = not (init_needed or any(actions[key] for key in ("stop", "instances", "config", "master", "maps", "prune", "start", "boot", "reload")))
    return {
        "changed": False,
        "installed": True,
        "in_sync": in_sync,
        "initialised": not init_needed,
        "systemd": systemd,
        "primary": {
            "config_directory": primary.config_directory,
            "running": primary_running,
            "parameters": primary_changes,
            "master": [_label(primary_master[i]) for i in primary_entries],
            "maps": actions["maps"][0]["changes"] if actions["maps"] else [],
        },
        "instances": report,
        "undeclared": undeclared,
        "actions": actions,
        "problems": list(reg.problems),
        "summary": _summary(in_sync, init_needed, actions, undeclared),
    }


def _pending_reloads(facts: DriftFacts, reg: Registry, leaving: t.Collection[str]) -> list[dict[str, t.Any]]:
    """Running instances whose files an earlier postfix_multi_host run wrote and that it did not get
    to reload (killed, or its reload failed): the files are in sync, but what runs is not
    (``LocalFacts.reload_pending``). Not those that this run deports or removes."""
    out = []
    for inst in reg.instances:
        if inst.name in leaving or inst.config_directory in leaving or not facts.is_running(inst.config_directory):
            continue
        state = facts.reload_pending(inst.config_directory, inst.data_directory)
        if state is None:
            continue
        name = PRIMARY if inst.primary else inst.name or inst.config_directory
        verb = "restart" if state == "restarted" else "reload"
        shown = "the primary instance" if name == PRIMARY else name
        describe = f"{verb} {shown}: an earlier run changed its files and did not get to {verb} it"
        out.append({"instance": name, "config_directory": inst.config_directory, "state": state, "describe": describe})
    return out


class _RunningOnce(FactsOverlay):
    """The facts, with every instance's ``postfix status`` asked once and all at the same time."""

    def __init__(self, facts: DriftFacts, directories: t.Sequence[str]) -> None:
        super().__init__(facts)
        self._drift_facts = facts
        unique = list(dict.fromkeys(directories))
        with ThreadPoolExecutor(max_workers=max(1, min(STATUS_WORKERS, len(unique)))) as pool:
            self._running = dict(zip(unique, pool.map(facts.is_running, unique)))

    def is_running(self, config_directory: str) -> bool:
        if config_directory not in self._running:
            self._running[config_directory] = self._facts.is_running(config_directory)
        return self._running[config_directory]

    def defaults(self) -> dict[str, str]:
        return self._drift_facts.defaults()


def _config_action(
    instance: str, parameters: t.Mapping[str, t.Any], absent: t.Sequence[str], exclusive: bool, changes: list[str], depends: bool = False
) -> dict[str, t.Any]:
    names = changes if changes != ["*"] else sorted(set(parameters) | set(absent))
    return {
        "instance": instance,
        "parameters": dict(parameters),
        "absent": list(absent),
        "exclusive": exclusive,
        "changes": changes,
        "depends": depends,
        "describe": f"change main.cf of {'the primary instance' if instance == PRIMARY else instance}: {', '.join(names) or 'remove undeclared parameters'}",
    }


def _maps_action(
    facts: DriftFacts,
    actions: dict[str, t.Any],
    instance: str,
    config_directory: str,
    exists: bool,
    primary_directory: str,
    specs: list[dict[str, t.Any]],
    default_type: str | None,
) -> list[str]:
    """The declared lookup tables of one instance that differ (``_maps.map_changes``), and the action
    that makes them as declared (after the instance exists: ``depends`` when it does not yet)."""
    postconf = find_postfix_command("postconf", facts.defaults().get("command_directory"))
    changes = map_changes(config_directory if exists else None, specs, postconf, default_type, primary_directory)
    if changes:
        names = changes if changes != ["*"] else [spec["name"] for spec in specs]
        actions["maps"].append(
            {
                "instance": instance,
                "config_directory": config_directory,
                "maps": specs,
                "default_type": default_type,
                "changes": changes,
                "depends": not exists,
                "describe": f"build lookup tables of {'the primary instance' if instance == PRIMARY else instance}: {', '.join(names)}",
            }
        )
    return changes


def _compare_instance(
    facts: DriftFacts, reg: Registry, planner: Planner, item: Declared, init_needed: bool, actions: dict[str, t.Any], start: bool
) -> dict[str, t.Any]:
    current = _find(reg, facts, item)
    lifecycle = "differs"
    planned: dict[str, str] = {}  # files the postfix_instance call would write
    if not init_needed:
        try:
            plan = planner.plan(item.desired())
            lifecycle = "differs" if plan.changed else "in sync"
            planned = {posixpath.basename(write.path): write.after for write in plan.instance_writes}
        except PostfixMultiError as exc:
            lifecycle = f"differs ({exc.msg})"
    new = current is None and item.state == "present"
    if lifecycle != "in sync":
        call = item.call_args()
        # postfix_instance plans on top of the init it is asked to make, so nothing waits for an
        # earlier task, in check mode either; a new instance gets its configuration in the same
        # call: validated on a staging copy, then written and registered (never the stock one)
        call["initialise"] = init_needed
        call["depends"] = False
        if new:
            call.update(parameters=item.parameters, absent_parameters=item.absent_parameters, exclusive=item.exclusive, master=item.master)
        if new:
            call["describe"] = f"create instance {item.name} (group {item.group or '-'}, {'enabled' if item.enabled else 'disabled'})" + _with(item)
        elif item.state == "present":
            call["describe"] = f"create or update instance {item.name} (group {item.group or '-'}, {'enabled' if item.enabled else 'disabled'})"
        else:
            call["describe"] = f"{'destroy' if item.state == 'absent' else 'deport'} instance {item.name}"
        actions["instances"].append(call)
    if item.state == "present" and current is not None and current.enabled and not item.enabled and facts.is_running(current.config_directory):
        actions["stop"].append(item.name)

    row: dict[str, t.Any] = {
        "name": item.name,
        "state": item.state,
        "exists": current is not None,
        "config_directory": current.config_directory if current else _config_directory(reg, item),
        "lifecycle": lifecycle,
        "parameters": [],
        "master": [],
        "maps": [],
        "running": None,
    }
    if item.state != "present":
        return row
    directory = row["config_directory"]
    if new:  # its configuration goes with the postfix_instance call above
        text = planned.get("main.cf")
        if item.parameters or item.absent_parameters or item.exclusive:
            row["parameters"] = parameter_changes(text, item.parameters, item.absent_parameters, item.exclusive) if text else ["*"]
        row["master"] = [_label(entry) for entry in item.master]
    elif item.parameters or item.absent_parameters or item.exclusive:
        text = planned.get("main.cf") or facts.read_text(directory + "/main.cf")
        changes = parameter_changes(text, item.parameters, item.absent_parameters, item.exclusive)
        if current is None and not changes:
            changes = ["*"]  # a new instance: postfix_instance writes main.cf first, then postfix_config runs
        row["parameters"] = changes
        if changes:
            actions["config"].append(_config_action(item.name, item.parameters, item.absent_parameters, item.exclusive, changes, current is None))
    if item.master and not new:
        if current is None:
            indexes = list(range(len(item.master)))
        else:
            indexes = master_changes(planned.get("master.cf") or facts.read_text(directory + "/master.cf"), item.master)
        row["master"] = [_label(item.master[i]) for i in indexes]
        actions["master"].extend(
            {
                "instance": item.name,
                "entry": item.master[i],
                "depends": current is None,
                "describe": f"{'remove' if item.master[i].get('state') == 'absent' else 'set'} master.cf entry {_label(item.master[i])} of {item.name}",
            }
            for i in indexes
        )
    if item.enabled:
        row["running"] = facts.is_running(current.config_directory) if current is not None else False
        if start and not row["running"]:
            # a new instance, or one the same run enables: postmulti starts it only after that step
            depends = current is None or not current.enabled
            actions["start"].append({"instance": item.name, "depends": depends, "describe": f"start {item.name}"})
    return row


def _with(item: Declared) -> str:
    """What a new instance is created with, for the summary."""
    parts = []
    names = sorted(set(item.parameters) | set(item.absent_parameters))
    if names or item.exclusive:
        parts.append("main.cf " + (", ".join(names) or "without undeclared parameters"))
    if item.master:
        parts.append("master.cf " + ", ".join(_label(entry) for entry in item.master))
    return " with " + " and ".join(parts) if parts else ""


def _find(reg: Registry, facts: DriftFacts, item: Declared) -> Instance | None:
    """The registered instance a declared entry names (its directory first, else its name)."""
    if item.config_directory:
        return reg.by_directory(item.config_directory, facts.resolve)
    found = reg.by_name(item.name)
    return None if found is None or found.primary else found


def _config_directory(reg: Registry, item: Declared) -> str:
    """Where a declared instance that is not registered has (or gets) its configuration."""
    if item.config_directory:
        return posixpath.normpath(item.config_directory)
    return derive(reg.primary_directory, item.name, "config_directory")


def _is_declared(reg: Registry, facts: DriftFacts, inst: Instance, item: Declared) -> bool:
    if item.config_directory:
        return same_directory(inst.config_directory, item.config_directory, facts.resolve)
    return inst.name == item.name


def _undeclared(facts: DriftFacts, inst: Instance) -> dict[str, t.Any]:
    return {
        "name": inst.name,
        "group": inst.group,
        "enabled": inst.enabled,
        "config_directory": inst.config_directory,
        "running": facts.is_running(inst.config_directory),
    }


def _summary(in_sync: bool, init_needed: bool, actions: t.Mapping[str, t.Any], undeclared: list[dict[str, t.Any]]) -> list[str]:
    if in_sync:
        lines = ["in sync"]
    else:
        lines = ["turn on multi-instance management"] if init_needed else []
        lines += [f"stop {name} before disabling it" for name in actions["stop"]]
        lines += [a["describe"] for key in ("instances", "config", "master", "maps") for a in actions[key]]
        lines += [f"deport (not declared): {d}" for d in actions["prune"]]
        lines += [a["describe"] for a in actions["reload"]]
        lines += [a["describe"] for a in actions["start"]]
        lines += [f"start at boot exactly the enabled instances: {command}" for command in actions["boot"]]
    kept = [u for u in undeclared if u["config_directory"] not in actions["prune"]]
    if kept:
        lines.append("not declared, left alone: " + ", ".join(u["name"] or u["config_directory"] for u in kept))
    return lines
