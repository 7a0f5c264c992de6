# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What the postfix_multi_init and postfix_instance modules do, minus AnsibleModule plumbing.

Each entry point takes plain options, locks the primary config directory, loads the
registry, plans, applies unless in check mode, and returns the module result as a dict.
Domain problems surface as ``PostfixMultiError`` with a message an operator can act on.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import UNSAFE_WRITES, Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _drain, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import Facts, FactsOverlay, LocalFacts, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._io import DirectoryLock, refuse_links, write_text
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._validate import validate
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._apply import apply_plan, sweep_instance
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import check_master_items, plan_config, plan_master, postfix_commands
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import Desired, FileWrite, Plan, Planner, plan_init
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, MainCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance, Registry


def _record_text(inst: Instance | None, state: str) -> str:
    if inst is None:
        return ""
    data = inst.to_dict()
    data["state"] = state
    return "".join(f"{key}: {'null' if value is None else value}\n" for key, value in data.items())


def _record(inst: Instance | None, state: str) -> dict[str, t.Any] | None:
    if inst is None:
        return None
    data = inst.to_dict()
    data["state"] = state
    return data


def _predicted_instances(reg: Registry, plan: Plan) -> list[dict[str, t.Any]]:
    out = [(plan.after if plan.after is not None and plan.after.primary else reg.primary).to_dict()]
    for directory in plan.directories:
        if plan.after is not None and plan.after.config_directory == directory:
            out.append(plan.after.to_dict())
            continue
        inst = reg.by_directory(directory)
        if inst is not None:
            out.append(inst.to_dict())
    if len(out) == 1 and plan.directories == [] and reg.secondary_directories:
        out[0]["enabled"] = True  # the last secondary went: single-instance mode
    return out


def _state_of(plan: Plan, desired: Desired) -> str:
    if plan.action == "destroy":
        return "absent"
    if plan.action == "deport":
        return "deported"
    if plan.action == "none" and plan.after is None:
        return desired.state
    return "present"


class Content(t.NamedTuple):
    """The configuration an instance must have (postfix_instance's ``parameters``, ``absent_parameters``,
    ``exclusive`` and ``master``): planned by the same functions as postfix_config and postfix_master."""

    parameters: t.Mapping[str, t.Any]
    absent: t.Sequence[str]
    exclusive: bool
    master: t.Sequence[t.Mapping[str, t.Any]]

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any]) -> Content:
        # as postfix_multi_host's: unknown keys and a second item for the same entry are refused
        master = check_master_items(str(options.get("name") or options.get("config_directory") or "instance"), options.get("master"))
        return cls(dict(options.get("parameters") or {}), list(options.get("absent_parameters") or []), bool(options.get("exclusive")), master)

    def given(self) -> bool:
        return bool(self.parameters or self.absent or self.exclusive or self.master)


class Configured(t.NamedTuple):
    """What ``configure_plan`` added: the files to validate and what changed in them."""

    files: dict[str, str]  # main.cf / master.cf text the plan now writes, by file name
    parameters: list[str]  # changed main.cf parameter names
    entries: list[str]  # changed master.cf entries, service/type
    restart_required: bool


def configure_plan(plan: Plan, content: Content, facts: Facts) -> Configured:
    """Add the instance's configuration to a present-state plan: the main.cf and master.cf edits that
    postfix_config and postfix_master would make, on top of what the plan already writes (the new
    instance's files, or its name/group/enable edit). A new instance is thus written, validated and
    registered with its final configuration: it never exists with the stock one."""
    inst = plan.after
    if inst is None or not content.given():
        return Configured({}, [], [], False)
    texts: dict[str, tuple[FileWrite | None, str]] = {}
    for name in ("main.cf", "master.cf"):
        path = f"{inst.config_directory}/{name}"
        write = next((w for w in plan.instance_writes if w.path == path), None)
        text = write.after if write is not None else facts.read_text(path)
        if text is None:
            raise PostfixMultiError(f"{path} does not exist")
        texts[name] = (write, text)
    try:
        config = plan_config(MainCf.parse(texts["main.cf"][1]), content.parameters, content.absent, content.exclusive)
        master = MasterCf.parse(texts["master.cf"][1])
    except (MainCfError, MasterCfError) as exc:
        raise PostfixMultiError(f"{inst.config_directory}: {exc}") from None
    entries: list[str] = []
    restart = config.restart_required
    for index, options in enumerate(content.master):
        try:
            step = plan_master(master, options)
        except PostfixMultiError as exc:
            raise PostfixMultiError(f"master[{index}]: {exc.msg}") from None
        if step.changed:
            entries.append(f"{options['service']}/{options['type']}")
            restart = restart or step.restart_required
            master = step.after

    def config_edit(text: str) -> str:
        return plan_config(MainCf.parse(text), content.parameters, content.absent, content.exclusive).after.render()

    def master_edit(text: str) -> str:
        cf = MasterCf.parse(text)
        for options in content.master:
            cf = plan_master(cf, options).after
        return cf.render()

    changed: dict[str, str] = {}
    for name, after, edit in (("main.cf", config.after.render(), config_edit), ("master.cf", master.render(), master_edit)):
        write, before = texts[name]
        if after == before:
            continue
        changed[name] = after
        if write is not None:
            write.after = after
            write.reedit = _chain(write.reedit, edit) if write.before is not None else None
        else:
            plan.instance_writes.append(FileWrite(f"{inst.config_directory}/{name}", before, after, reedit=edit))
    if changed and plan.action == "none":
        plan.action = "update"
    if config.changed:
        plan.messages.append(f"{inst.label}: main.cf " + ", ".join(config.changed_names))
    if entries:
        plan.messages.append(f"{inst.label}: master.cf " + ", ".join(entries))
    if plan.action in ("create", "import"):  # validate the whole new configuration
        whole = {name: write.after for name, (write, _text) in texts.items() if write is not None}
        whole.update(changed)  # not dict | dict: Python 3.9 and later only
        changed = whole
    return Configured(changed, config.changed_names, entries, restart and plan.action not in ("create", "import"))


def _chain(first: t.Callable[[str], str] | None, then: t.Callable[[str], str]) -> t.Callable[[str], str]:
    if first is None:
        return then
    return lambda text: then(first(text))


def _initialised_registry(reg: Registry, defaults: dict[str, str], facts: Facts) -> tuple[Registry, FileWrite | None]:
    """The registry as it is after ``postfix_multi_init`` (initialise=true): planned on the edited text."""
    write = plan_init(reg)
    if write is None:
        return reg, None
    overlay = {write.path: write.after}

    def read(path: str) -> str | None:
        return overlay[path] if path in overlay else facts.read_text(path)

    return Registry.load(defaults, read), write


class _Planned(t.NamedTuple):
    desired: Desired
    content: Content
    reg: Registry
    plan: Plan
    configured: Configured


def _desired(options: t.Mapping[str, t.Any]) -> Desired:
    return Desired(
        state=options.get("state") or "present",
        name=options.get("name"),
        config_directory=options.get("config_directory"),
        queue_directory=options.get("queue_directory"),
        data_directory=options.get("data_directory"),
        group=options.get("group"),
        enabled=options.get("enabled"),
        position=options.get("position"),
        before=options.get("before"),
        before_group=options.get("before_group"),
        force=bool(options.get("force")),
    )


def _plan_instance(options: t.Mapping[str, t.Any], facts: Facts, defaults: dict[str, str], assume_init: bool = False) -> _Planned:
    """Everything ``postfix_instance`` decides before it validates and writes (reads only).
    ``assume_init`` (check mode): on a host that ``postfix_multi_init`` has not initialised yet, the
    plan is made as if it had (as when a play's earlier task would have done it), and says so."""
    desired = _desired(options)
    content = Content.from_options(options)
    if content.given() and desired.state != "present":
        raise PostfixMultiError("parameters, absent_parameters, exclusive and master describe a present instance; leave them out with state=" + desired.state)
    reg = Registry.load(defaults, facts.read_text)
    init_write = None
    assumed = None
    if options.get("initialise") and desired.state == "present":
        reg, init_write = _initialised_registry(reg, defaults, facts)
    elif assume_init and desired.state == "present" and reg.init_problem():
        assumed = reg.init_problem()
        reg, _write = _initialised_registry(reg, defaults, facts)
    plan = Planner(reg, facts).plan(desired)
    if assumed is not None and not reg.init_problem():
        why = assumed.split(";", maxsplit=1)[0]
        plan.warnings.append(f"check mode: {why}; this check assumes that it is initialised first (postfix_multi_init), a real run refuses until then")
    configured = configure_plan(plan, content, facts)
    if init_write is not None:
        plan.messages.insert(0, "multi-instance management turned on")
        if plan.primary_write is not None:
            plan.primary_write.before = init_write.before
            if plan.primary_write.reedit is not None and init_write.reedit is not None:
                plan.primary_write.reedit = _chain(init_write.reedit, plan.primary_write.reedit)
        else:
            plan.primary_write = init_write
    return _Planned(desired, content, reg, plan, configured)


class NewInstances:
    """The instances one run registers (created or imported), each checked against those registered
    before it in the same run. Each is planned against the host as it is, where the others do not
    exist yet: two that clash (the same queue directory, one's queue in the other's configuration
    directory) would each pass, and the second fail after the first was written."""

    def __init__(self) -> None:
        self._registry: Registry | None = None

    def add(self, planned: _Planned, resolve: t.Callable[[str], str]) -> None:
        after = planned.plan.after
        if planned.plan.action not in ("create", "import") or after is None:
            return
        if self._registry is None:
            self._registry = dataclasses.replace(planned.reg, instances=list(planned.reg.instances))  # checked against it when planned
        else:
            try:
                self._registry.check_new(after, resolve)
            except PostfixMultiError as exc:
                raise PostfixMultiError(f"{exc.msg} (both are new in this design: postmulti would refuse the second one)") from exc
        self._registry.instances.append(after)


def staged_configuration(
    options: t.Mapping[str, t.Any], facts: LocalFacts | None = None, together: NewInstances | None = None
) -> tuple[str, dict[str, str]] | None:
    """The configuration directory and the files ``postfix_instance`` with these options would
    validate (None: nothing to validate), so that a caller can validate several instances at once
    and then call ``manage_instance`` with ``validate=false``. Refuses, as ``manage_instance``
    does, a plan that would write through a symbolic link, and (``together``) an instance that
    clashes with one registered earlier in the same run."""
    facts = facts or LocalFacts()
    planned = _plan_instance(options, facts, facts.defaults())
    refuse_links(write.path for write in planned.plan.writes())
    if together is not None:
        together.add(planned, facts.resolve)
    if not planned.configured.files or planned.plan.after is None:
        return None
    return planned.plan.after.config_directory, planned.configured.files


class PlannedWrites(FactsOverlay):
    """The host as the earlier steps of one check-mode run would have left it: the files their plans
    write (path -> text) and the directories they make; anything else as the host is. Each step
    plans on it (``manage_instance(..., planned=...)``) and records its own plan, so that a run that
    creates several instances predicts each registration on top of the one before, as the real run
    makes them."""

    def __init__(self, facts: Facts) -> None:
        super().__init__(facts)
        self.texts: dict[str, str] = {}
        self.directories: set[str] = set()

    def read_text(self, path: str) -> str | None:
        return self.texts[path] if path in self.texts else self._facts.read_text(path)

    def exists(self, path: str) -> bool:
        return path in self.texts or path in self.directories or self._facts.exists(path)

    def is_dir(self, path: str) -> bool:
        return path in self.directories or self._facts.is_dir(path)

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._facts, name)  # the rest of LocalFacts (defaults, postfix, ...), as the host answers

    def record(self, plan: Plan) -> None:
        for write in plan.writes():
            self.texts[write.path] = write.after
        self.directories.update(path for path, _mode in plan.mkdirs)

    def record_init(self, defaults: dict[str, str]) -> None:
        """What ``postfix_multi_init`` (``manage_init``) writes."""
        write = plan_init(Registry.load(defaults, self.read_text))
        if write is not None:
            self.texts[write.path] = write.after


class _AfterMove(FactsOverlay):
    """The host's facts, with the mail that the move takes out of a queue directory gone from it:
    what destroy's refusal is planned on when ``move_mail_to`` is given."""

    def __init__(self, facts: Facts, queue_directory: str, moved: t.Mapping[str, int]) -> None:
        super().__init__(facts)
        self._queue_directory = queue_directory
        self._moved = moved

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        counts = self._facts.queue_counts(queue_directory)
        if os.path.realpath(queue_directory) == os.path.realpath(self._queue_directory):
            counts = {queue: max(0, count - self._moved.get(queue, 0)) for queue, count in counts.items()}
        return counts


class _Move(t.NamedTuple):
    """A planned ``move_mail_to``: from which instance to which, and what the source holds."""

    source: Instance
    target: Instance
    survey: _drain.Survey
    running: bool  # the source, when surveyed: then only its corrupt and saved queues are certain

    def certain_blocks(self) -> dict[str, list[str]]:
        """What keeps a destroy from happening whatever the move does (everything, once the source is stopped)."""
        if not self.running:
            return dict(self.survey.blocked)
        kept = tuple(f"in the {queue} queue" for queue in _drain.KEPT_QUEUES)
        return {reason: paths for reason, paths in self.survey.blocked.items() if reason in kept}


def _blocked_text(blocked: t.Mapping[str, t.Sequence[str]]) -> str:
    return "; ".join(f"{reason}: {', '.join(paths)}" for reason, paths in blocked.items())


def _plan_move(options: t.Mapping[str, t.Any], facts: Facts, defaults: dict[str, str]) -> _Move | None:
    """Check a ``move_mail_to`` request before anything is touched (None: no source instance, nothing to move)."""
    desired = _desired(options)
    selector = str(options["move_mail_to"])
    if desired.state not in ("absent", "deported"):
        raise PostfixMultiError("move_mail_to moves the mail of an instance that is destroyed or deported: use it with state=absent or state=deported")
    reg = Registry.load(defaults, facts.read_text)
    _cfg, source, _entry = Planner(reg, facts).identify(desired)
    if source is None:
        return None
    if source.primary:
        raise PostfixMultiError(f"Cannot destroy or deport the primary instance ({source.config_directory})")
    target = reg.find(selector)
    if target is None:
        known = ", ".join(inst.name or inst.config_directory for inst in reg.instances)
        raise PostfixMultiError(f"move_mail_to: no instance {selector} on this host (it has: {known}); nothing was changed")
    if target.config_directory == source.config_directory or facts.resolve(target.queue_directory) == facts.resolve(source.queue_directory):
        raise PostfixMultiError(f"move_mail_to: {selector} is the instance being removed ({source.label}); name a sibling that stays")
    running = facts.is_running(source.config_directory)
    return _Move(source, target, _drain.survey(source.queue_directory), running)


def _move_result(move: _Move, moved: t.Mapping[str, t.Sequence[str]] | None) -> dict[str, t.Any]:
    survey = move.survey
    return {
        "to": move.target.config_directory,
        "queue_ids": survey.ids(),
        "count": len(survey.messages),
        "files": {queue: list(files) for queue, files in (moved or {}).items()},
        "kept": {reason: list(paths) for reason, paths in survey.blocked.items()},
    }


def _run_move(move: _Move, plan: Plan, facts: LocalFacts) -> tuple[_Move, dict[str, list[str]]]:
    """Stop the source, move its mail into the target, ask the target to deliver it. Returns the move as
    surveyed once the source was stopped and the target files of the moved messages."""
    source, target = move.source, move.target
    if plan.stop:
        _runner.check([facts.postfix(), "-c", source.config_directory, "stop"], what=f"stopping instance {source.label}")
        plan.stop = False  # stopped: the plan's own stop would fail on a stopped instance
    elif facts.is_running(source.config_directory):
        raise PostfixMultiError(f"Instance {source.label} is running; its mail moves only when it is stopped (force=true stops it)")
    move = move._replace(survey=_drain.survey(source.queue_directory), running=False)
    if plan.action == "destroy" and move.survey.blocked:
        raise PostfixMultiError(
            f"Cannot destroy instance {source.label}: mail that is never moved or deleted appeared while it was stopped "
            f"({_blocked_text(move.survey.blocked)}). It is stopped; nothing was moved.",
            kept=move.survey.blocked,
        )
    postconf = find_postfix_command("postconf", facts.defaults().get("command_directory"))
    mover = _drain.Mover(
        source.queue_directory,
        _drain.mail_owner_uid(postconf, source.config_directory),
        _drain.read_target(postconf, target.label, target.config_directory, target.queue_directory),
        os.path.basename(source.queue_directory.rstrip("/")) or "source",
    )
    try:
        moved = mover.run(move.survey.messages)
    except OSError as exc:
        raise PostfixMultiError(f"moving the mail of {source.label} to {target.label} failed: {exc}. No message is lost: run again to finish the move") from exc
    if moved and facts.is_running(target.config_directory):
        # postqueue(1) -f: pickup(8) takes the maildrop files now, the queue manager retries deferred mail
        _runner.check([facts.postfix(), "-c", target.config_directory, "flush"], what=f"flushing instance {target.label}")
    return move, moved


def manage_instance(
    options: t.Mapping[str, t.Any],
    check_mode: bool,
    want_diff: bool,
    facts: LocalFacts | None = None,
    planned: PlannedWrites | None = None,
) -> dict[str, t.Any]:
    """The ``postfix_instance`` module: create/import, update, destroy or deport one instance.
    ``planned`` (check mode): what earlier steps of the same run would have written, planned on
    and added to."""
    facts = facts or LocalFacts()
    defaults = facts.defaults()
    with DirectoryLock(defaults["config_directory"]):
        planning: Facts = planned if planned is not None and check_mode else facts
        move = _plan_move(options, planning, defaults) if options.get("move_mail_to") else None
        if move is not None:
            blocks = move.certain_blocks()
            if options.get("state") == "absent" and blocks:
                raise PostfixMultiError(
                    f"Cannot destroy instance {move.source.label}: its queue holds mail that is never moved or deleted "
                    f"({_blocked_text(blocks)}). Look at it (postcat -c {move.source.config_directory} -q QUEUE_ID, "
                    "or postcat FILE), move or remove it by hand, or deport the instance instead. Nothing was changed.",
                    kept=blocks,
                )
            planning = _AfterMove(planning, move.source.queue_directory, move.survey.counts())
        desired, content, reg, plan, configured = _plan_instance(options, planning, defaults, assume_init=check_mode)
        if planned is not None and check_mode:
            planned.record(plan)
        refuse_links(write.path for write in plan.writes())
        warnings: list[str] = []
        if configured.files and options.get("validate", True) and plan.after is not None:
            postconf, postfix = postfix_commands(facts)
            warnings = validate(plan.after.config_directory, configured.files, postconf=postconf, postfix=postfix, check_master="master.cf" in configured.files)
        state = _state_of(plan, desired)
        leftovers: list[str] = []
        moved: dict[str, list[str]] | None = None
        if move is not None and plan.action in ("destroy", "deport"):
            if move.target.enabled is False:
                warnings.append(f"move_mail_to: {move.target.label} is disabled; 'postfix start' does not start it, and the mail waits in it until it runs")
            if not check_mode:
                move, moved = _run_move(move, plan, facts)
            count = len(move.survey.messages) if moved is None else sum(len(files) for files in moved.values())
            if count:
                plan.messages.insert(0, f"moved {count} message{'s' if count != 1 else ''} to {move.target.label}")
            if move.survey.blocked:
                warnings.append(f"{move.source.label} keeps mail that is never moved or deleted: {_blocked_text(move.survey.blocked)}")
        if plan.changed and not check_mode:
            leftovers = apply_plan(plan, facts, _stop_command(plan, facts))
            after_reg = Registry.load(defaults, facts.read_text)
            instances = [inst.to_dict() for inst in after_reg.instances]
            current = plan.after
            if current is not None:
                current = after_reg.by_directory(current.config_directory) or current
        else:
            instances = _predicted_instances(reg, plan)
            current = plan.after
            if plan.remove and plan.before is not None:
                taken = move.survey.taken(plan.before.queue_directory) if move is not None else ()
                leftovers = sweep_instance(plan.before, remove=False, gone=taken)
        units, unit_failures = _release_units(plan, facts, check_mode)
    shown = current if current is not None else plan.before
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "action": plan.action,
        "instance": _record(shown, state),
        "instances": instances,
        "msg": "; ".join(plan.messages) or "nothing to do",
        "warnings": list(plan.warnings) + warnings,
    }
    if units or unit_failures:
        result["units"] = units
        result["changed"] = True
        done = {"destroy": "destroyed", "deport": "deported"}.get(plan.action, "renamed")
        result["warnings"].extend(f"{failure}: the instance is {done}; run it by hand" for failure in unit_failures)
    if content.given():
        result["changed_parameters"] = configured.parameters
        result["changed_entries"] = configured.entries
        result["restart_required"] = configured.restart_required
    if move is not None and plan.action in ("destroy", "deport"):
        result["moved_mail"] = _move_result(move, moved)
        result["changed"] = result["changed"] or bool(move.survey.messages)
    if plan.action == "destroy":
        result["leftovers"] = leftovers
        if leftovers:
            result["warnings"].append("left in place because they hold something Postfix did not create (check and remove by hand): " + ", ".join(leftovers))
    if want_diff:
        diffs = [write.diff() for write in plan.writes()]
        diffs.append(
            {
                "before_header": "instance",
                "after_header": "instance",
                "before": _record_text(plan.before, "present"),
                "after": _record_text(shown, state) if state == "present" or plan.action == "deport" else "",
            }
        )
        result["diff"] = diffs
    return result


def _stop_command(plan: Plan, facts: LocalFacts) -> list[str] | None:
    """How a plan that stops its instance stops it (``_service.stop_command``); None: it does not."""
    if not plan.stop or plan.before is None:
        return None
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import (  # pylint: disable=import-outside-toplevel
        ServiceHost,
        stop_command,
    )

    return stop_command(plan.before, ServiceHost(facts))


def _release_units(plan: Plan, facts: LocalFacts, check_mode: bool) -> tuple[list[str], list[str]]:
    """The systemd unit of an instance destroyed, deported or renamed: nothing left behind
    (``_service.release_units``)."""
    before = plan.before
    if before is None or not plan.changed:
        return [], []
    if plan.action in ("destroy", "deport"):
        after = None
    elif plan.after is not None and plan.after.name != before.name:
        after = plan.after
    else:
        return [], []
    # only a run that removes or renames an instance compiles the service code (see _core._zipload)
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import (  # pylint: disable=import-outside-toplevel
        ServiceHost,
        release_units,
    )

    return release_units(before, after, check_mode, ServiceHost(facts))


def manage_init(check_mode: bool, want_diff: bool, facts: LocalFacts | None = None) -> dict[str, t.Any]:
    """The ``postfix_multi_init`` module: ``postmulti -e init``, written only when a value differs."""
    facts = facts or LocalFacts()
    defaults = facts.defaults()
    with DirectoryLock(defaults["config_directory"]):
        reg = Registry.load(defaults, facts.read_text)
        write: FileWrite | None = plan_init(reg)
        refuse_links([write.path] if write is not None else [])
        if write is not None and not check_mode:
            write_text(write.path, write.after, before=write.before, reedit=write.reedit)
    changed = write is not None
    result: dict[str, t.Any] = {
        "changed": changed,
        "config_directory": reg.primary_directory,
        "msg": "multi-instance management initialised" if changed else "multi-instance management already initialised",
    }
    if want_diff:
        if write is None:
            text = reg.primary_cf.render()
            write = FileWrite(f"{reg.primary_directory}/main.cf", text, text)
        result["diff"] = [write.diff()]
    return result


INSTANCE = Interface(
    {
        "argument_spec": {
            "name": {"type": "str"},
            "config_directory": {"type": "path"},
            "queue_directory": {"type": "path"},
            "data_directory": {"type": "path"},
            "group": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent", "deported"], "default": "present"},
            "enabled": {"type": "bool"},
            "position": {"type": "str", "choices": ["first", "last"]},
            "before": {"type": "str"},
            "before_group": {"type": "str"},
            "force": {"type": "bool", "default": False},
            "parameters": {"type": "dict"},
            "absent_parameters": {"type": "list", "elements": "str"},
            "exclusive": {"type": "bool", "default": False},
            "master": {"type": "list", "elements": "dict"},
            "validate": {"type": "bool", "default": True},
            "initialise": {"type": "bool", "default": False},
            "move_mail_to": {"type": "str"},
            **UNSAFE_WRITES,
        },
        "required_one_of": [["name", "config_directory"]],
        "mutually_exclusive": [["position", "before", "before_group"]],
    },
    manage_instance,
)
INIT = Interface({"argument_spec": dict(UNSAFE_WRITES)}, lambda _options, check_mode, want_diff: manage_init(check_mode, want_diff))
