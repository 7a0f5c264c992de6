# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""A whole host's multi-instance design in one call (the ``postfix_multi_host`` module).

The design is the multi_instance role's (``postfix_multi_instances`` and the primary's
parameters). ``_drift.compare`` plans every difference; this module then removes them in the
order the role's tasks used to, calling the same code as the fine-grained modules:

1. every main.cf/master.cf edit of an existing instance is planned (``plan_config``,
   ``plan_master``), every new instance's configuration is built (``staged_configuration``: what
   ``manage_instance`` would validate), and all of them are validated on staging copies
   (``_validate``) before anything is written, several instances at a time;
2. multi-instance management is turned on (``manage_init``), instances that are going to be
   disabled are stopped, instances going away are kept from starting at boot;
3. instances are created (with their validated configuration, registered last), updated,
   deported or destroyed (``manage_instance``);
4. the declared lookup tables are built, then the validated edits are written (atomically,
   re-applied on top of a concurrent edit): a table that cannot be written leaves no main.cf that
   names it;
5. undeclared instances are deported (``overridden``), exactly the enabled instances start at
   boot, changed instances are restarted where a changed setting needs it, else reloaded, and
   the instances that should run are started (``manage_service``);
6. on request, every instance is probed on its listeners (``_health.check``).

An instance's ``tls`` becomes parameters (``_tls.TlsSpec.parameters``) before the comparison; the
TLS material of every instance that is created or whose files change is checked in step 1
(``_tls.check_material``), before anything is written and in check mode too.

Check mode runs steps 1 and 3 as far as validation (new instances too: their configuration is
built and checked on a staging copy) and reports the rest as the plan.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError, displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import UNSAFE_WRITES, Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import PROBE_OPTIONS, LocalHealthHost, check, queue_limit_spec, timeout_spec
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._io import (
    DirectoryLock,
    clear_quick_start,
    clear_reload_pending,
    mark_quick_start,
    mark_reload_pending,
    refuse_links,
    write_text,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import ServiceHost, boot_drift, manage_service
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._systemd import STALE_MASK_NOTE
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._tls import TLS_OPTIONS, TlsSpec, check_material, check_spec, merge_parameters
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import (
    is_protected,
    plan_config,
    plan_master,
    postfix_commands,
    resolve_instance,
    text_diff,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._drift import PRIMARY, compare
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._logging import LOGGING_OPTIONS, expand_design, missing_log_directories
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import (
    MAP_OPTIONS,
    MapJob,
    MapPlan,
    apply_design_maps,
    plan_design_maps,
    redacted_actions,
    redacted_design,
    summary,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterEntry
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Registry

STATES = ("merged", "replaced", "overridden", "gathered")

# The declared design of a host, in the schema of the multi_instance role's variables (postfix_multi_host
# converges to it, postfix_drift_info compares with it).
DESIGN_OPTIONS: dict[str, t.Any] = {
    "instances": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "group": {"type": "str"},
            "enabled": {"type": "bool", "default": True},
            "state": {"type": "str", "choices": ["present", "absent", "deported"], "default": "present"},
            "config_directory": {"type": "path"},
            "queue_directory": {"type": "path"},
            "data_directory": {"type": "path"},
            "position": {"type": "str", "choices": ["first", "last"]},
            "before": {"type": "str"},
            "before_group": {"type": "str"},
            "parameters": {"type": "dict", "default": {}},
            "absent_parameters": {"type": "list", "elements": "str", "default": []},
            "exclusive": {"type": "bool"},
            "master": {"type": "list", "elements": "dict", "default": []},
            "maps": {"type": "list", "elements": "dict", "default": [], "options": MAP_OPTIONS},
            "move_mail_to": {"type": "str"},
            "tls": {"type": "dict", "options": TLS_OPTIONS},
            "logging": {"type": "dict", "options": LOGGING_OPTIONS},
        },
    },
    "primary_maps": {"type": "list", "elements": "dict", "default": [], "options": MAP_OPTIONS},
    "primary_logging": {"type": "dict", "options": LOGGING_OPTIONS},
    "primary_parameters": {"type": "dict", "default": {}},
    "primary_absent_parameters": {"type": "list", "elements": "str", "default": []},
    "start": {"type": "bool", "default": True},
}
_ARGUMENT_SPEC: dict[str, t.Any] = dict(
    DESIGN_OPTIONS,
    state={"type": "str", "choices": list(STATES), "default": "merged"},
    validate={"type": "bool", "default": True},
    check_before={"type": "bool", "default": True},
    check_always={"type": "bool", "default": False},
    apply_changes={"type": "bool", "default": True},
    probe={"type": "bool", "default": False},
    probe_timeout={"type": "float", "default": 30.0},
    # read by the action plugin (plugins/action/postfix_multi_host.py), which installs Postfix where this finds none
    install={"type": "bool", "default": False},
    packages={"type": "list", "elements": "str", "default": []},
    **PROBE_OPTIONS,
    **UNSAFE_WRITES,
)
# Staging copies validated at the same time (each mostly waits for postconf and postfix check); also
# the instances the pre-flight checks at the same time.
VALIDATE_WORKERS = 4
# Instances started, reloaded or restarted at the same time.
SERVICE_WORKERS = 8


class Edit(t.NamedTuple):
    """The validated main.cf/master.cf texts of one existing instance (None: file unchanged)."""

    instance: str  # as the design names it; "-" for the primary
    config_directory: str
    main_before: str
    main_after: str | None
    master_before: str
    master_after: str | None
    changed_parameters: list[str]
    changed_entries: list[str]
    restart_required: bool
    redo_main: t.Callable[[str], str]
    redo_master: t.Callable[[str], str]

    def files(self) -> dict[str, str]:
        out = {}
        if self.main_after is not None:
            out["main.cf"] = self.main_after
        if self.master_after is not None:
            out["master.cf"] = self.master_after
        return out

    def paths(self) -> list[str]:
        return [f"{self.config_directory}/{name}" for name in self.files()]

    def diffs(self) -> list[dict[str, str]]:
        out = []
        if self.main_after is not None:
            out.append(text_diff(self.config_directory + "/main.cf", self.main_before, self.main_after))
        if self.master_after is not None:
            out.append(text_diff(self.config_directory + "/master.cf", self.master_before, self.master_after))
        return out


def _read(facts: LocalFacts, path: str) -> str:
    text = facts.read_text(path)
    if text is None:
        raise PostfixMultiError(f"{path} does not exist")
    return text


def _plan_edit(facts: LocalFacts, reg: Registry, instance: str, config: dict[str, t.Any] | None, entries: list[dict[str, t.Any]]) -> Edit | None:
    """Both files of one instance after every declared change (pure, apart from reading them)."""
    inst = resolve_instance(reg, instance)
    main_before = _read(facts, inst.config_directory + "/main.cf")
    master_before = _read(facts, inst.config_directory + "/master.cf") if entries else ""
    parameters, absent, exclusive = (config or {}).get("parameters") or {}, (config or {}).get("absent") or [], bool((config or {}).get("exclusive"))

    def redo_main(text: str) -> str:
        return plan_config(MainCf.parse(text), parameters, absent, exclusive).after.render()

    def redo_master(text: str) -> str:
        cf = MasterCf.parse(text)
        for entry in entries:
            cf = plan_master(cf, entry).after
        return cf.render()

    main_plan = plan_config(MainCf.parse(main_before), parameters, absent, exclusive) if config else None
    restart = bool(main_plan and main_plan.restart_required)
    changed_entries: list[str] = []
    master_cf = MasterCf.parse(master_before)
    for entry in entries:
        step = plan_master(master_cf, entry)
        if step.changed:
            changed_entries.append(f"{entry['service']}/{entry['type']}")
            restart = restart or step.restart_required
        master_cf = step.after
    main_after = main_plan.after.render() if main_plan is not None and main_plan.changed else None
    master_after = master_cf.render() if changed_entries else None
    if main_after is None and master_after is None:
        return None
    return Edit(
        instance,
        inst.config_directory,
        main_before,
        main_after,
        master_before,
        master_after,
        main_plan.changed_names if main_plan is not None and main_after is not None else [],
        changed_entries,
        restart,
        redo_main,
        redo_master,
    )


def _validate_all(facts: LocalFacts, jobs: t.Sequence[tuple[str, str, dict[str, str]]]) -> dict[str, list[str]]:
    """``postconf -n`` (``-M``) and ``postfix check`` of every (instance, configuration directory,
    new files) on a staging copy, several at a time; postconf's warnings per instance. Raises with
    every refusal when any instance's new configuration is refused."""
    if not jobs:
        return {}
    postconf, postfix = postfix_commands(facts)
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._validate import validate  # pylint: disable=import-outside-toplevel

    def one(job: tuple[str, str, dict[str, str]]) -> tuple[list[str], str | None]:
        instance, directory, files = job
        try:
            return validate(directory, files, postconf=postconf, postfix=postfix, check_master="master.cf" in files), None
        except PostfixMultiError as exc:
            return [], f"{_label(instance)}: {exc.msg}"

    with ThreadPoolExecutor(max_workers=max(1, min(VALIDATE_WORKERS, len(jobs)))) as pool:
        outcomes = list(pool.map(one, jobs))
    refused = [error for _warnings, error in outcomes if error]
    if refused:
        raise PostfixMultiError("the new configuration is refused, so nothing was changed: " + "; ".join(refused), stage="validate")
    return {job[0]: warnings for job, (warnings, _error) in zip(jobs, outcomes)}


def _write_edits(facts: LocalFacts, edits: t.Sequence[Edit], check_mode: bool, written: t.Callable[[Edit], None]) -> None:
    """Write the validated files under the primary's lock, with Postfix's edit protocol (in check
    mode nothing); ``written(edit)`` once an edit has changed the host, also when its master.cf
    write fails after its main.cf was replaced."""
    if check_mode:
        for edit in edits:
            written(edit)
        return
    with DirectoryLock(facts.defaults()["config_directory"]):
        for edit in edits:
            changed = False
            try:
                if edit.main_after is not None:
                    write_text(edit.config_directory + "/main.cf", edit.main_after, before=edit.main_before, reedit=edit.redo_main)
                    changed = True
                if edit.master_after is not None:
                    write_text(edit.config_directory + "/master.cf", edit.master_after, before=edit.master_before, reedit=edit.redo_master)
                    changed = True
            finally:
                if changed:
                    written(edit)


def _report_edit(report: _Report, edit: Edit, want_diff: bool) -> None:
    report.changed = True
    record = report.instance(edit.instance)
    record["changed_parameters"] += edit.changed_parameters
    record["changed_entries"] += edit.changed_entries
    what = ", ".join(edit.changed_parameters + [f"master.cf {label}" for label in edit.changed_entries]) or "remove undeclared parameters"
    report.action(edit.instance, f"changed {_label(edit.instance)}: {what}")
    if want_diff:
        report.diff.extend(edit.diffs())


def _label(instance: str) -> str:
    return "the primary instance" if instance == PRIMARY else instance


class _Report:
    """What happened, per instance and in total. The primary is ``-`` everywhere in it (the service
    results name it by its config directory, ``primary_directory``)."""

    def __init__(self, primary_directory: str | None = None) -> None:
        self.primary_directory = primary_directory
        self.changed = False
        self.diff: list[dict[str, str]] = []
        self.instances: dict[str, dict[str, t.Any]] = {}
        self.warnings: list[str] = []
        self.messages: list[str] = []
        self.done: dict[str, list[str]] = {"started": [], "restarted": [], "reloaded": []}

    def key(self, name: str) -> str:
        """How the result names the instance ``name`` (a service result's label or the design's name)."""
        return PRIMARY if self.primary_directory is not None and name == self.primary_directory else name

    def instance(self, name: str) -> dict[str, t.Any]:
        name = self.key(name)
        blank = {"actions": [], "changed_parameters": [], "changed_entries": [], "started": False, "restarted": False, "reloaded": False}
        return self.instances.setdefault(name, blank)

    def action(self, name: str, text: str) -> None:
        self.instance(name)["actions"].append(text)
        self.messages.append(text)

    def service(self, result: dict[str, t.Any]) -> None:
        self.changed = self.changed or bool(result.get("changed"))
        self.warnings.extend(result.get("warnings") or [])
        for key in ("started", "restarted", "reloaded"):
            for name in result.get(key) or []:
                self.mark(name, key)
        for record in result.get("boot") or []:
            # what starts at boot changes with the instance list: said, also when the same run created,
            # enabled or disabled the instance whose unit is masked or unmasked
            if not record.get("verbs"):
                continue
            text = f"boot: {' and '.join(record['verbs'])} {record['unit']}"
            if record.get("note") == STALE_MASK_NOTE:
                self.messages.append(text)  # the mask of an instance the host no longer lists
            else:
                self.action(record["instance"], text)
        if result.get("failed"):
            raise PostfixMultiError(result.get("msg") or "a Postfix command failed", results=result.get("results"))

    def mark(self, name: str, key: str) -> None:
        name = self.key(name)
        self.instance(name)[key] = True
        if name not in self.done[key]:
            self.done[key].append(name)

    def lists(self) -> dict[str, list[str]]:
        """The instances started, restarted and reloaded, in the order it happened."""
        return {key: list(names) for key, names in self.done.items()}


def _service(report: _Report, options: dict[str, t.Any], check_mode: bool, host: ServiceHost) -> None:
    report.service(manage_service(options, check_mode, host))


def converge(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool, host: ServiceHost | None = None) -> dict[str, t.Any]:
    """The ``postfix_multi_host`` module."""
    state = options.get("state") or "merged"
    if state not in STATES:
        raise PostfixMultiError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    # a malformed health gate fails before anything changes
    queue_limit_spec(options.get("queue_limits"))
    probe_timeout = timeout_spec(30.0 if options.get("probe_timeout") is None else options["probe_timeout"], "probe_timeout")
    try:
        find_postfix_command("postconf")
    except PostfixMultiError:
        return {
            "changed": False,
            "installed": False,
            "in_sync": False,
            "drift": ["Postfix is not installed"],
            "instances": {},
            "started": [],
            "restarted": [],
            "reloaded": [],
            "health": None,
            "msg": "Postfix is not installed",
        }
    facts = LocalFacts()
    if state == "gathered":
        return gathered(facts)
    instances = []
    for entry in options.get("instances") or []:
        # the master items as given (the specification declares no sub-options, so that unknown keys
        # reach compare, whose check_master_items refuses them and drops null fields: kept as they are)
        instances.append(dict(entry))
    tls = expand_tls(instances)
    if state == "replaced":
        for entry in instances:
            if entry.get("exclusive") is None:
                entry["exclusive"] = True
    design = _expanded(facts, options, instances)
    start = bool(options.get("start", True))
    service_host = host or ServiceHost(facts)
    health_host = LocalHealthHost(facts, remember=not check_mode) if options.get("probe") else None

    def boot(reg: Registry) -> list[str] | None:
        # compare() runs this beside the comparison; so do the health check's postfix status
        # calls, whose answers serve a run that changes nothing
        if health_host is not None:
            health_host.start_statuses([inst.config_directory for inst in reg.instances])
        return boot_drift(reg, service_host)

    # the whole comparison and every change under the primary's lock: a second run on the host waits,
    # and never interleaves its steps with this one's (two overridden designs would both survive)
    with _host_lock(facts):
        drift = compare(
            facts,
            design["instances"],
            primary_parameters=design["primary_parameters"],
            primary_absent_parameters=design["primary_absent_parameters"],
            prune=state == "overridden",
            start=start,
            boot=boot,
            primary_maps=options.get("primary_maps") or [],
            primary_master=design["primary_master"],
        )
        report = _Report(facts.defaults().get("config_directory"))
        if health_host is not None and not drift["in_sync"]:
            health_host.discard_statuses()  # the host is going to change: after those calls have ended
        actions = drift["actions"]
        if options.get("check_always") and not check_mode:
            _preflight(service_host)  # also on a host that matches the design
        if not drift["in_sync"]:
            try:
                _apply(facts, drift, options, check_mode, want_diff, service_host, report, tls)
            except PostfixMultiError as exc:
                if (report.changed or exc.details.get("changed")) and not check_mode:
                    # a task that changed the host before it failed says so, and what it had done
                    exc.details.update(changed=True, done=list(report.messages), instances=report.instances, **report.lists())
                raise
    result: dict[str, t.Any] = {
        "changed": report.changed,
        "installed": True,
        "in_sync": drift["in_sync"],
        "drift": drift["summary"],
        "actions": redacted_actions(actions),
        "instances": report.instances,
        **report.lists(),
        "health": None,
        "msg": "in sync" if drift["in_sync"] else "; ".join(report.messages) or "; ".join(drift["summary"]),
        "warnings": report.warnings + [f"instance list: {problem}" for problem in drift["problems"]],
    }
    if want_diff:
        result["diff"] = report.diff
    shown_instances, shown_maps = redacted_design(options.get("instances"), options.get("primary_maps"))
    if shown_instances != list(options.get("instances") or []) or shown_maps != list(options.get("primary_maps") or []):
        # the values of secret tables stay out of the arguments Ansible returns as "invocation"
        result["invocation"] = {"module_args": dict(options, instances=shown_instances, primary_maps=shown_maps)}
    if health_host is not None:
        if check_mode and not drift["in_sync"]:
            result["health"] = None
            result["warnings"].append("probe: skipped in check mode, where the host is not changed yet")
        else:
            facts.forget()  # the paths learnt before the changes; the compiled-in defaults stay (postconf -d ran once)
            health = check(
                health_host,
                options.get("probes") or [],
                options.get("replace_probes") or [],
                probe_timeout,
                queue_limits=options.get("queue_limits") or {},
            )
            result["health"] = health
            result["warnings"].extend(health["problems"] + health["hazards"])
            if health["failures"]:
                result["failed"] = True
                result["stage"] = "health"
                result["msg"] = health["msg"]
    return result


def _expanded(facts: LocalFacts, options: t.Mapping[str, t.Any], instances: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    """The design with its logging settings as parameters and master.cf entries (``_logging``),
    refused before anything is touched when a log file's directory is missing."""
    design = expand_design(
        instances,
        options.get("primary_parameters") or {},
        options.get("primary_absent_parameters") or [],
        options.get("primary_logging"),
        host_files=_host_log_files(facts.defaults(), facts.read_text, options, instances),
    )
    missing_log_directories(design["log_files"], facts.is_dir)
    return design


def _leaves_log_file(entry: t.Mapping[str, t.Any] | None, logging: t.Any, parameters: t.Any, absent: t.Any) -> bool:
    """Whether the design leaves an instance's ``maillog_file`` as the host has it."""
    if entry is not None and (entry.get("exclusive") or (entry.get("state") or "present") != "present"):
        return False
    return logging is None and "maillog_file" not in (parameters or {}) and "maillog_file" not in (absent or [])


def _host_log_files(
    defaults: dict[str, str], read_text: t.Callable[[str], str | None], options: t.Mapping[str, t.Any], instances: t.Sequence[t.Mapping[str, t.Any]]
) -> dict[str, str]:
    """The files that instances of the host write now (``maillog_file``) where the design leaves that
    as it is - the primary without logging settings in the design, instances the design does not
    declare or declares without them - so that no declared instance is set to write one of them
    (label -> file)."""
    try:
        reg = Registry.load(defaults, read_text)
    except PostfixMultiError:
        return {}  # the comparison says what is wrong with the host
    declared = {entry.get("name"): entry for entry in instances if isinstance(entry.get("name"), str)}
    found: dict[str, str] = {}
    for inst in reg.instances:
        if inst.primary:
            keep = _leaves_log_file(None, options.get("primary_logging"), options.get("primary_parameters"), options.get("primary_absent_parameters"))
            label = "the primary instance"
        else:
            entry = declared.get(inst.name or "")
            keep = entry is None or _leaves_log_file(entry, entry.get("logging"), entry.get("parameters"), entry.get("absent_parameters"))
            label = inst.name or inst.config_directory
        text = read_text(f"{inst.config_directory}/main.cf") if keep else None
        if text is None:
            continue
        path = (MainCf.parse(text).raw("maillog_file") or "").strip()
        if path:
            found[label] = path
    return found


def _host_lock(facts: LocalFacts) -> t.ContextManager[t.Any]:
    """The primary's lock (``DirectoryLock``) for a whole run; nothing to lock where Postfix has no
    config directory (yet)."""
    directory = facts.defaults().get("config_directory") or ""
    return DirectoryLock(directory) if os.path.isdir(directory) else contextlib.nullcontext()


def _preflight(host: ServiceHost) -> None:
    """``postfix check`` of every instance, disabled ones included, several at a time (each check
    reads and creates only in its own instance's directories); a failure changes nothing. The
    checks run as ``postfix_service`` runs them (``state: checked``), one instance per call, and
    are reported in list order."""
    reg = Registry.load(host.facts.defaults(), host.facts.read_text)
    requests = [{"name": inst.config_directory, "state": "checked"} for inst in reg.instances]
    with ThreadPoolExecutor(max_workers=max(1, min(VALIDATE_WORKERS, len(requests)))) as pool:
        outcomes = list(pool.map(lambda request: manage_service(request, False, host), requests))
    failed = [outcome.get("msg") or "" for outcome in outcomes if outcome.get("failed")]
    if failed:
        raise PostfixMultiError(
            "pre-flight: postfix check fails for the current configuration, so nothing was changed (fix it first): " + "; ".join(failed),
            results=[record for outcome in outcomes for record in outcome.get("results") or []],
            stage="preflight",
        )


@contextlib.contextmanager
def _beside_preflight(host: ServiceHost, wanted: bool) -> t.Iterator[None]:
    """The pre-flight (when ``wanted``) runs beside the block, which must not change the host (the
    planning and validation of step 1); it has ended when the block has. Its failure is the one
    raised, also when the block failed as well: as when it ran first."""
    if not wanted:
        yield
        return
    with ThreadPoolExecutor(max_workers=1) as one:
        preflight = one.submit(_preflight, host)
        try:
            yield
        except BaseException:
            failure = preflight.exception()
            if isinstance(failure, PostfixMultiError):
                raise failure from None
            raise
        preflight.result()


def _apply(
    facts: LocalFacts,
    drift: dict[str, t.Any],
    options: t.Mapping[str, t.Any],
    check_mode: bool,
    want_diff: bool,
    host: ServiceHost,
    report: _Report,
    tls: t.Mapping[str, TlsSpec],
) -> None:
    # only a run that changes something compiles the life-cycle code (the module's source is compiled
    # on every call: see _core._zipload)
    from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import (  # pylint: disable=import-outside-toplevel
        NewInstances,
        PlannedWrites,
        manage_init,
        manage_instance,
        staged_configuration,
    )

    actions = drift["actions"]
    validate_on = options.get("validate", True) is not False
    start = bool(options.get("start", True))

    # 1. plan and validate every edit of an existing instance before anything is written
    reg = Registry.load(facts.defaults(), facts.read_text)
    # the pre-flight (postfix check of the current configuration) runs beside this planning and
    # validation, which change nothing; both have ended before anything is written
    preflight = bool(options.get("check_before", True)) and not options.get("check_always") and not check_mode
    with _beside_preflight(host, preflight):
        grouped: dict[str, tuple[dict[str, t.Any] | None, list[dict[str, t.Any]]]] = {}
        for item in actions["config"]:
            grouped[item["instance"]] = (item, grouped.get(item["instance"], (None, []))[1])
        for item in actions["master"]:
            config, entries = grouped.get(item["instance"], (None, []))
            grouped[item["instance"]] = (config, entries + [item["entry"]])
        edits = [edit for edit in (_plan_edit(facts, reg, name, config, entries) for name, (config, entries) in grouped.items()) if edit is not None]
        jobs = [(edit.instance, edit.config_directory, edit.files()) for edit in edits]
        requests = [_instance_request(call, validate_on) for call in actions["instances"]]
        _check_moves(reg, requests)
        if not check_mode:
            # what refuses to destroy or deport an instance (mail in its queue, directories it shares)
            # refuses now, as in check mode, not after step 2 has stopped, disabled or unmasked anything
            # (each planned on what the ones before it would have written, as check mode plans them)
            removals = PlannedWrites(facts.fresh())
            for request in requests:
                if request["state"] != "present":
                    manage_instance(request, True, False, facts.fresh(), removals)
        # every file the run writes, checked now: a symbolic link would stop the run half-way
        refuse_links(path for edit in edits for path in edit.paths())
        if actions["init"] or actions["prune"] or any(request["state"] != "present" for request in requests):
            refuse_links([f"{reg.primary_directory}/main.cf"])  # the registration
        together = NewInstances()
        for request in requests:
            # also refuses links, and new instances that clash with each other
            staged = staged_configuration(request, facts.fresh(), together) if request["state"] == "present" else None
            if staged is not None and validate_on:  # validated here with the others, not again in manage_instance
                jobs.append((request["name"], staged[0], staged[1]))
                request["validate"] = False
        changing = [edit.instance for edit in edits] + [request["name"] for request in requests if request["state"] == "present"]
        _check_tls(reg, tls, changing, report)
        warnings = _validate_all(facts, jobs) if validate_on else {}
        map_jobs = plan_design_maps(actions["maps"], reg.primary_directory, validate_on)
        for name, lines in warnings.items():
            report.warnings.extend(f"{_label(name)}: {line}" for line in lines)

    # 2. init, stop what is going to be disabled, keep what goes away from starting at boot
    # (check mode: each later step is planned on what the steps before it would have written)
    planned = PlannedWrites(facts.fresh()) if check_mode else None
    if actions["init"]:
        result = manage_init(check_mode, want_diff, facts.fresh())
        report.changed = True
        report.action(PRIMARY, result["msg"])
        if want_diff:
            report.diff.extend(result.get("diff") or [])
        if planned is not None:
            planned.record_init(facts.defaults())
    for name in actions["stop"]:
        report.action(name, f"stop {name} before disabling it")
        _service(report, {"name": name, "state": "stopped"}, check_mode, host)
    going = [item["name"] for item in actions["instances"] if item["state"] in ("absent", "deported")] + list(actions["prune"])
    if start and drift["systemd"]:
        for name in going:
            _service(report, {"name": name, "enabled": False}, check_mode, host)

    # 3. create, update, deport or destroy the declared instances
    fresh: dict[str, str] = {}  # new instances checked above (postfix check) and set up here (set-permissions): queue directory
    for call, request in zip(actions["instances"], requests):
        checked = validate_on and request["state"] == "present" and request.get("validate") is False
        result = manage_instance(request, check_mode, want_diff, facts.fresh(), planned)
        if checked and result["changed"] and result.get("action") == "create" and not check_mode and result.get("instance"):
            fresh[call["name"]] = result["instance"]["queue_directory"]
        report.warnings.extend(result.get("warnings") or [])
        if result["changed"]:
            report.changed = True
            report.action(call["name"], result["msg"])
            record = report.instance(call["name"])
            record["changed_parameters"] += result.get("changed_parameters") or []
            record["changed_entries"] += result.get("changed_entries") or []
            if result.get("moved_mail"):
                record["moved_mail"] = result["moved_mail"]
        if want_diff:
            report.diff.extend(diff for diff in result.get("diff") or [] if diff.get("before") != diff.get("after"))

    # 4. the validated edits, each reported once written; until its instance is reloaded, a marker in
    # its data directory tells the next run to reload it, should this one be killed before that
    apply_changes = options.get("apply_changes", True) is not False
    written: list[Edit] = []
    map_reloads: list[str] = []
    reloading = False
    pending = _pending_markers(reg, edits, actions["reload"], report) if apply_changes and not check_mode else {}
    try:
        # 4a. the lookup tables, now that every instance exists, before the edits that name them are
        # written (a table that cannot be written leaves no main.cf naming it) and before any instance
        # is started or reloaded
        map_reloads = _maps(map_jobs, check_mode, want_diff, report, lambda job: _map_marker(reg, job, report, pending) if apply_changes else None)

        # 4b. the main.cf/master.cf edits
        if edits:
            _write_edits(facts, edits, check_mode, lambda edit: _written(report, written, edit, want_diff))

        # 5. prune, boot, reload/restart what changed, start what should run
        for directory in actions["prune"]:
            result = manage_instance({"config_directory": directory, "state": "deported", "force": True}, check_mode, want_diff, facts.fresh(), planned)
            report.changed = report.changed or result["changed"]
            report.action(directory, result["msg"])
            if want_diff:
                report.diff.extend(diff for diff in result.get("diff") or [] if diff.get("before") != diff.get("after"))
        if start and drift["systemd"] and (actions["boot"] or actions["init"] or actions["instances"] or actions["prune"]):
            # check mode: the units of the instance list the steps above would have left
            _service(report, {"enabled": True}, check_mode, host if planned is None else ServiceHost(t.cast(LocalFacts, planned)))
        if apply_changes:
            reloading = True
            _reload(report, edits, map_reloads, validate_on, check_mode, host, actions["reload"])
    except PostfixMultiError as exc:
        if apply_changes and not reloading and not check_mode and (written or map_reloads or actions["reload"]):
            _reload_after_failure(exc, report, written, map_reloads, validate_on, host, actions["reload"])
        raise
    finally:
        _clear_markers(report, pending)
    starts = []
    for item in actions["start"]:
        if check_mode and item["depends"]:
            report.action(item["instance"], f"would {item['describe']}")
            report.mark(item["instance"], "started")
            report.changed = True
            continue
        starts.append({"name": item["instance"], "state": "started"})
    try:
        _start_new(report, starts, fresh, check_mode, host)
    finally:
        _clear_markers(report, pending)  # a start reads the files too


def _written(report: _Report, written: list[Edit], edit: Edit, want_diff: bool) -> None:
    written.append(edit)
    _report_edit(report, edit, want_diff)


def _reload(
    report: _Report,
    edits: t.Sequence[Edit],
    map_reloads: t.Sequence[str],
    validate_on: bool,
    check_mode: bool,
    host: ServiceHost,
    pending: t.Sequence[t.Mapping[str, t.Any]] = (),
) -> None:
    """Reload (restart where a parameter needs it) the instances whose files or lookup tables changed,
    and those an earlier run left to reload (``pending``, drift's ``reload`` actions); ``postfix
    check`` first when the run did not validate the files."""
    if not validate_on and not check_mode:
        _services(report, [{"name": edit.instance, "state": "checked"} for edit in edits], check_mode, host)
    reloads = [{"name": edit.instance, "state": "restarted" if edit.restart_required else "reloaded"} for edit in edits]
    reloads += [{"name": name, "state": "reloaded"} for name in map_reloads if name not in {edit.instance for edit in edits}]
    for item in pending:
        if item["instance"] not in {request["name"] for request in reloads}:
            report.action(item["instance"], item["describe"])
            reloads.append({"name": item["instance"], "state": item["state"]})
    _services(report, reloads, check_mode, host)


def _pending_markers(reg: Registry, edits: t.Sequence[Edit], pending: t.Sequence[t.Mapping[str, t.Any]], report: _Report) -> dict[str, str]:
    """Leave the reload-pending marker of every instance whose files this run is about to write
    (``_io.mark_reload_pending``); the data directories of the markers to remove once their
    instance has been reloaded, restarted or started, by the name the service results give it."""
    out: dict[str, str] = {}
    for edit in edits:
        _leave_marker(reg, edit.instance, "restarted" if edit.restart_required else "reloaded", report, out)
    for item in pending:
        found = reg.by_directory(item["config_directory"])
        if found is not None:
            out[found.label] = found.data_directory
    return out


def _leave_marker(reg: Registry, name: str, state: str, report: _Report, pending: dict[str, str]) -> None:
    """Leave the reload-pending marker of instance ``name`` and add it to ``pending``; a marker that
    cannot be left is a warning (the run goes on)."""
    inst = resolve_instance(reg, name)
    problem = mark_reload_pending(inst.data_directory, state)
    if problem:
        report.warnings.append(f"{_label(name)}: {problem} (should this run stop before it reloads the instance, the next run will not know)")
    else:
        pending[inst.label] = inst.data_directory


def _clear_markers(report: _Report, pending: dict[str, str]) -> None:
    """Remove the markers of the instances that have been reloaded, restarted or started by now; one
    that stays makes every later run reload its instance, so the run says so."""
    for label in [label for label in pending if any(report.key(label) in report.done[key] for key in ("reloaded", "restarted", "started"))]:
        problem = clear_reload_pending(pending.pop(label))
        if problem:
            report.warnings.append(f"{label}: {problem}: remove it by hand, or every run reloads the instance again")


def _reload_after_failure(
    exc: PostfixMultiError,
    report: _Report,
    written: t.Sequence[Edit],
    map_reloads: t.Sequence[str],
    validate_on: bool,
    host: ServiceHost,
    pending: t.Sequence[t.Mapping[str, t.Any]] = (),
) -> None:
    """A run that fails after it wrote the files (or rebuilt the tables) of some instances still
    reloads those, as it would have: their new files passed validation, and a rerun finds them in
    sync and has no reason to reload them, so what runs would stay behind what the files say (a new
    master.cf service would never listen). A failure of that reload is added to ``exc``'s message."""
    try:
        _reload(report, written, map_reloads, validate_on, False, host, pending)
    except PostfixMultiError as again:
        exc.msg = f"{exc.msg}; reloading the instances already changed failed too: {again.msg}"
        exc.args = (exc.msg,)


def _start_new(report: _Report, starts: t.Sequence[dict[str, t.Any]], fresh: t.Mapping[str, str], check_mode: bool, host: ServiceHost) -> None:
    """Start what should run. An instance this run created - its configuration passed ``postfix
    check`` on the staging copy, ``postfix set-permissions`` made its directories just now - starts
    with Postfix's quick-start marker, so ``postfix start`` does not run the same integrity check
    again (as after ``postfix quick-stop``); a marker that no start took is removed afterwards."""
    markers = [marker for marker in (mark_quick_start(fresh[item["name"]]) for item in starts if item["name"] in fresh) if marker]
    try:
        _services(report, starts, check_mode, host)
    finally:
        for marker in markers:
            problem = clear_quick_start(marker)
            if problem:
                report.warnings.append(f"{problem}: the next postfix start of that instance skips its integrity check; remove it by hand")


def expand_tls(instances: t.Sequence[dict[str, t.Any]]) -> dict[str, TlsSpec]:
    """Each declared instance's ``tls`` merged into its parameters and absent_parameters (in
    place); the checked specs by instance name."""
    out = {}
    for index, entry in enumerate(instances):
        where = f"postfix_multi_instances[{index}] ({entry.get('name')})"
        spec = check_spec(where, entry.get("tls"))
        if spec is None or entry.get("state", "present") != "present":
            continue
        entry["parameters"], entry["absent_parameters"] = merge_parameters(where, spec, entry.get("parameters") or {}, entry.get("absent_parameters") or [])
        out[entry["name"]] = spec
    return out


def _check_tls(reg: Registry, tls: t.Mapping[str, TlsSpec], changing: t.Sequence[str], report: _Report) -> None:
    """The TLS material of every instance whose configuration is about to change, checked as
    smtpd(8) will load it; raises, naming each file and why, before anything is written."""
    refused = []
    for name in dict.fromkeys(changing):
        spec = tls.get(name)
        if spec is None:
            continue
        inst = reg.by_name(name)
        outcome = check_material(spec, inst.queue_directory if inst is not None else None)
        report.instance(name)["tls"] = outcome.as_dict()
        report.warnings.extend(f"{name}: TLS: {line}" for line in outcome.warnings)
        refused += [f"{name}: {line}" for line in outcome.problems]
    if refused:
        raise PostfixMultiError("the TLS material is refused, so nothing was changed: " + "; ".join(refused), stage="tls")


def _map_marker(reg: Registry, job: MapJob, report: _Report, pending: dict[str, str]) -> t.Callable[[list[MapPlan]], None]:
    """What to do before the tables of ``job`` are written: when a flat table of a running instance is
    about to change, leave its reload-pending marker (as for its files, ``_pending_markers``), so that
    a run stopped between the table and the reload leaves the reload to the next run."""

    def before_write(plans: list[MapPlan]) -> None:
        if job.new or not any(plan.reload_required for plan in plans):
            return
        if resolve_instance(reg, job.instance).label not in pending:  # else its files changed too: marked already
            _leave_marker(reg, job.instance, "reloaded", report, pending)

    return before_write


def _maps(
    jobs: t.Sequence[MapJob],
    check_mode: bool,
    want_diff: bool,
    report: _Report,
    before_write: t.Callable[[MapJob], t.Callable[[list[MapPlan]], None] | None] = lambda job: None,
) -> list[str]:
    """Build the declared lookup tables (``_maps.apply_design_maps``); the instances a changed flat
    table needs to be reloaded. ``before_write`` gives, for a job, what to do once its tables are
    planned and before they are written."""
    reloads = []
    for job in jobs:
        plans = apply_design_maps(job, check_mode, before_write(job))
        done = [plan for plan in plans if plan.changed]
        if not done:
            continue
        report.changed = True
        record = report.instance(job.instance)
        record.setdefault("changed_maps", []).extend(plan.request.name for plan in done)
        report.action(job.instance, f"lookup tables of {_label(job.instance)}: " + "; ".join(summary(plan) for plan in done))
        if any(plan.reload_required for plan in done) and not job.new:
            record["reload_required"] = True
            reloads.append(job.instance)
        if want_diff:
            report.diff.extend(plan.diff() for plan in done)
    return reloads


def _services(report: _Report, requests: t.Sequence[dict[str, t.Any]], check_mode: bool, host: ServiceHost) -> None:
    """``manage_service`` for several instances at the same time (each one's own start, reload or
    restart), as systemd starts the instances' units at boot; reported in request order."""
    if not requests:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(SERVICE_WORKERS, len(requests)))) as pool:
        futures = [pool.submit(manage_service, request, check_mode, host) for request in requests]
    failures = []
    for future in futures:
        try:
            report.service(future.result())
        except PostfixMultiError as exc:
            failures.append(exc)
    if failures:
        raise PostfixMultiError("; ".join(exc.msg for exc in failures), results=[exc.details.get("results") for exc in failures])


def _check_moves(reg: Registry, requests: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """Before anything is touched: the sibling that takes an instance's mail already exists on the
    host (one created by the same run cannot take mail in check mode, where it does not exist yet)."""
    for request in requests:
        target = request.get("move_mail_to")
        if target and reg.find(target) is None:
            known = ", ".join(inst.name for inst in reg.secondaries if inst.name) or "none"
            raise PostfixMultiError(
                f"{request.get('name')}: move_mail_to names {target}, which is not an instance of this host (it has: {known}); "
                "create the sibling in an earlier run. Nothing was changed"
            )


def _instance_request(call: t.Mapping[str, t.Any], validate_on: bool) -> dict[str, t.Any]:
    """The postfix_instance options for one planned instance action."""
    request = {key: value for key, value in call.items() if key not in ("depends", "describe") and value is not None}
    request["force"] = call["state"] != "present"
    request["validate"] = validate_on
    if call["state"] != "present":
        request.pop("enabled", None)
    return request


def gathered(facts: LocalFacts) -> dict[str, t.Any]:
    """The host as a design: every secondary instance in start order with the settings of its
    main.cf that the design can hold, and its master.cf entries; read-only.

    Bytes that are not UTF-8 (Postfix takes any) are shown as U+FFFD (``displayable``), and each
    value shown so is named in ``warnings``: given back, such a value is the current one
    (``_configure.same_value``, ``kept_bytes``), so the design changes nothing. A parameter name,
    service name or type with such bytes cannot be declared: it is left out, and said so."""
    reg = Registry.load(facts.defaults(), facts.read_text)
    notes: list[str] = []
    design: list[dict[str, t.Any]] = []
    for inst in reg.secondaries:
        if not inst.name:
            notes.append(
                f"{inst.config_directory}: a nameless instance, which a design cannot declare: left out, and left alone by every state "
                f"(overridden too); to manage it here, name it (postmulti -i {inst.config_directory} -I postfix-NAME -e assign)"
            )
            continue
        main_text = facts.read_text(inst.config_directory + "/main.cf") or ""
        master_text = facts.read_text(inst.config_directory + "/master.cf") or ""
        label = displayable(inst.label)
        design.append(
            {
                "name": inst.name,
                "group": inst.group or None,
                "enabled": inst.enabled,
                "config_directory": inst.config_directory,
                "queue_directory": inst.queue_directory,
                "data_directory": inst.data_directory,
                "parameters": _gathered_parameters(label, MainCf.parse(main_text).params(), notes),
                "master": _gathered_master(label, MasterCf.parse(master_text).entries(), notes),
            }
        )
    primary = MainCf.parse(facts.read_text(reg.primary_directory + "/main.cf") or "").params()
    return {
        "changed": False,
        "installed": True,
        "gathered": {
            "instances": design,
            "primary_parameters": _gathered_parameters(_label(PRIMARY), primary, notes),
        },
        "problems": list(reg.problems),
        "warnings": notes,
    }


_NOT_UTF8 = "holds bytes that are not UTF-8"


def _gathered_parameters(label: str, params: t.Mapping[str, str], notes: list[str]) -> dict[str, str]:
    """The parameters of one main.cf that a design holds, shown as text; ``notes`` says which are not UTF-8."""
    out = {}
    for name, value in params.items():
        if is_protected(name):
            continue
        if displayable(name) != name:
            notes.append(f"{label}: main.cf parameter {displayable(name)!r} {_NOT_UTF8} in its name; left out of the design, which cannot name it")
            continue
        out[name] = displayable(value)
        if out[name] != value:
            notes.append(f"{label}: main.cf {name} {_NOT_UTF8}, shown as U+FFFD; given back as gathered, the value is kept byte for byte (nothing is written)")
    return out


def _gathered_master(label: str, entries: t.Iterable[MasterEntry], notes: list[str]) -> list[dict[str, str]]:
    """The master.cf entries of one instance as design items, shown as text; ``notes`` says which are not UTF-8.
    An entry listed more than once is one item, the last one: master(8) uses it (master_conf.c:
    "duplicate master.cf entry ... -- using the last entry"), and a design holds each entry once."""
    entries = list(entries)
    last = {entry.key: index for index, entry in enumerate(entries)}
    for key in [key for key in last if sum(1 for entry in entries if entry.key == key) > 1]:
        shown_key = "/".join(displayable(part) for part in key)
        notes.append(
            f"{label}: master.cf lists {shown_key} more than once; the design holds the last entry, which master(8) uses "
            "(given back, it becomes the only one, as postconf -M makes it)"
        )
    out = []
    for index, entry in enumerate(entries):
        if last[entry.key] != index:
            continue
        fields = entry.fields()
        shown = {key: displayable(value) for key, value in fields.items()}
        where = f"{label}: master.cf {shown['service']}/{shown['type']}"
        if shown["service"] != fields["service"] or shown["type"] != fields["type"]:
            notes.append(f"{where} {_NOT_UTF8} in its service name or type; left out of the design, which cannot name it")
            continue
        if shown != fields:
            notes.append(f"{where} {_NOT_UTF8}, shown as U+FFFD; given back as gathered, the entry is kept byte for byte (nothing is written)")
        out.append(shown)
    return out


HOST = Interface({"argument_spec": _ARGUMENT_SPEC}, converge)


def drift_info(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_drift_info`` module: what differs from the design on this host; changes nothing."""
    try:
        find_postfix_command("postconf")
    except PostfixMultiError:
        return {"changed": False, "installed": False, "in_sync": False, "summary": ["Postfix is not installed"]}
    instances = []
    for entry in options["instances"]:
        instances.append(dict(entry))  # master items as given, checked by compare (check_master_items)
    expand_tls(instances)
    facts = LocalFacts()
    design = _expanded(facts, options, instances)
    drift = compare(
        facts,
        design["instances"],
        primary_parameters=design["primary_parameters"],
        primary_absent_parameters=design["primary_absent_parameters"],
        prune=options["prune"],
        start=options["start"],
        boot=lambda reg: boot_drift(reg, ServiceHost(facts)),
        primary_maps=options["primary_maps"],
        primary_master=design["primary_master"],
    )
    drift["actions"] = redacted_actions(drift["actions"])
    shown_instances, shown_maps = redacted_design(options.get("instances"), options.get("primary_maps"))
    drift["invocation"] = {"module_args": dict(options, instances=shown_instances, primary_maps=shown_maps)}
    return drift


DRIFT = Interface({"argument_spec": dict(DESIGN_OPTIONS, prune={"type": "bool", "default": False})}, drift_info)
