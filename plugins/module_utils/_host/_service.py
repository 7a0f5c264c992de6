# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What the postfix_service module does: postmulti's iterator mode (``postmulti -p``), idempotently.

Planning is pure (:func:`plan`): given the selected instances, which of them run, and the
command classes of the primary ``main.cf``, it returns the steps in postmulti's order
(postmulti(1), iterator mode; postmulti.c):

* start class: list order; a disabled instance gets ``check`` instead of the start command;
* stop class: reverse order; disabled instances are skipped;
* control class (``reload``, ``flush``): list order; disabled instances are skipped;
* anything else: list order (reversible, like ``postmulti -x -R``); every instance.

The states add idempotence on top: ``started`` starts only instances that are not running,
``stopped`` stops only running ones, ``reloaded``/``flushed`` act only on running ones.
:func:`manage_service` gathers the facts, plans, and runs the steps (``postfix -c DIR -- CMD``
under a pseudo-terminal so that Postfix's own messages are captured, or the instance's
``postfix@`` unit where systemd drives Postfix, see ``_systemd``).
"""

from __future__ import annotations

import os
import shutil
import typing as t
from dataclasses import dataclass

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner, _systemd
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import select
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import split_list
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance, Registry

STATES = ("started", "stopped", "reloaded", "restarted", "flushed", "checked")

# postmulti's command classes and their defaults (postmulti_*_commands in the primary main.cf).
CLASS_PARAMETERS = (
    ("start", "postmulti_start_commands", "start"),
    ("stop", "postmulti_stop_commands", "stop abort drain quick-stop"),
    ("control", "postmulti_control_commands", "reload flush"),
)

# Commands that never change what runs or what is queued.
READ_ONLY_COMMANDS = frozenset({"status", "check"})

NONE = "none"


@dataclass(frozen=True)
class Step:
    """One instance and what to do with it (``action`` NONE: nothing, ``reason`` says why)."""

    instance: Instance
    action: str
    args: tuple[str, ...] = ()
    reason: str = ""

    @property
    def changes(self) -> bool:
        """Whether carrying it out changes the state of the mail system."""
        return self.action != NONE and self.action not in READ_ONLY_COMMANDS


def command_classes(reg: Registry) -> dict[str, list[str]]:
    """postmulti's start/stop/control command lists as the primary main.cf sets them."""
    classes: dict[str, list[str]] = {}
    for klass, parameter, default in CLASS_PARAMETERS:
        raw = reg.primary_cf.get(parameter)
        classes[klass] = split_list(default if raw is None else reg.primary_value(parameter))
    return classes


def classify(word: str, classes: t.Mapping[str, t.Sequence[str]]) -> str:
    """The class of a command word, checked in postmulti's order: start, stop, control, other."""
    for klass in ("start", "stop", "control"):
        if word in classes.get(klass, ()):
            return klass
    return "other"


def _ordered(instances: t.Sequence[Instance], reverse: bool) -> list[Instance]:
    out = list(instances)
    if reverse:
        out.reverse()
    return out


def _start_steps(instances: t.Sequence[Instance], running: t.Mapping[str, bool]) -> list[Step]:
    steps = []
    for inst in instances:
        if not inst.enabled:
            steps.append(Step(inst, "check", ("check",), "disabled: postmulti checks a disabled instance instead of starting it"))
        elif running.get(inst.config_directory, False):
            steps.append(Step(inst, NONE, (), "already running"))
        else:
            steps.append(Step(inst, "start", ("start",)))
    return steps


def _stop_steps(instances: t.Sequence[Instance], running: t.Mapping[str, bool]) -> list[Step]:
    steps = []
    for inst in _ordered(instances, True):
        if not inst.enabled:
            why = "disabled: postmulti skips disabled instances when stopping"
            if running.get(inst.config_directory, False):
                why += " (it is running: enable it, or stop it with postfix -c DIR stop)"
            steps.append(Step(inst, NONE, (), why))
        elif not running.get(inst.config_directory, False):
            steps.append(Step(inst, NONE, (), "already stopped"))
        else:
            steps.append(Step(inst, "stop", ("stop",)))
    return steps


def _control_steps(word: str, instances: t.Sequence[Instance], running: t.Mapping[str, bool]) -> list[Step]:
    steps = []
    for inst in instances:
        if not inst.enabled:
            steps.append(Step(inst, NONE, (), f"disabled: postmulti skips disabled instances for {word}"))
        elif not running.get(inst.config_directory, False):
            steps.append(Step(inst, NONE, (), "not running"))
        else:
            steps.append(Step(inst, word, (word,)))
    return steps


def _command_steps(words: t.Sequence[str], instances: t.Sequence[Instance], classes: t.Mapping[str, t.Sequence[str]], reverse: bool) -> list[Step]:
    """``postmulti -p WORDS``: no idempotence, postmulti's classes, order and skipping."""
    word, rest = words[0], tuple(words[1:])
    klass = classify(word, classes)
    steps = []
    if klass == "start":
        for inst in instances:
            if inst.enabled:
                steps.append(Step(inst, word, (word, *rest)))
            else:
                steps.append(Step(inst, "check", ("check", *rest), f"disabled: postmulti runs check instead of {word}"))
    elif klass in ("stop", "control"):
        for inst in _ordered(instances, klass == "stop"):
            if inst.enabled:
                steps.append(Step(inst, word, (word, *rest)))
            else:
                steps.append(Step(inst, NONE, (), f"disabled: postmulti skips disabled instances for {word}"))
    else:
        steps = [Step(inst, word, (word, *rest)) for inst in _ordered(instances, reverse)]
    if not any(step.action != NONE for step in steps):
        raise PostfixMultiError(f"No matching instances: every selected instance is disabled, and postmulti skips disabled instances for '{word}'")
    return steps


def plan(
    instances: t.Sequence[Instance],
    running: t.Mapping[str, bool],
    state: str | None = None,
    command: t.Sequence[str] | None = None,
    classes: t.Mapping[str, t.Sequence[str]] | None = None,
    reverse: bool = False,
) -> list[Step]:
    """The steps, in execution order, for ``state`` or ``command`` over ``instances`` (list order)."""
    if state is not None and command is not None:
        raise PostfixMultiError("give at most one of state and command")
    if state is None and command is None:
        return []
    if classes is None:
        classes = {klass: split_list(default) for klass, _param, default in CLASS_PARAMETERS}
    if command is not None:
        words = [str(word) for word in command]
        if not words or not words[0].strip():
            raise PostfixMultiError("command must name a postfix command, for example [status] or [tls, all-default-client]")
        if words[0].startswith("/") or words[0].startswith("-"):
            raise PostfixMultiError(
                f"command '{words[0]}' is not a postfix command; run other programs with ansible.builtin.command and the "
                "environment returned by mailops.postfix_multi.postfix_instance_info"
            )
        if reverse and classify(words[0], classes) != "other":
            raise PostfixMultiError(
                f"reverse is not allowed with the {classify(words[0], classes)} command '{words[0]}': postmulti fixes its order and refuses -R with -p"
            )
        return _command_steps(words, instances, classes, reverse)
    if state not in STATES:
        raise PostfixMultiError(f"state must be one of {', '.join(STATES)}, not '{state}'")
    if reverse and state != "checked":
        raise PostfixMultiError(
            f"reverse is not allowed with state={state}: postmulti fixes the order (start in list order, stop in reverse) and refuses -R with -p"
        )
    if state == "started":
        return _start_steps(instances, running)
    if state == "stopped":
        return _stop_steps(instances, running)
    if state == "reloaded":
        return _control_steps("reload", instances, running)
    if state == "flushed":
        return _control_steps("flush", instances, running)
    if state == "restarted":
        stops = [step for step in _stop_steps(instances, running) if step.action != NONE]
        after = {inst.config_directory: False for inst in instances if inst.enabled}
        after.update({inst.config_directory: running.get(inst.config_directory, False) for inst in instances if not inst.enabled})
        return stops + _start_steps(instances, after)
    return [Step(inst, "check", ("check",)) for inst in _ordered(instances, reverse)]


# ---------------------------------------------------------------------------------- running
class ServiceHost:
    """The managed host as postfix_service sees it: Postfix commands and systemd probes."""

    def __init__(self, facts: LocalFacts | None = None) -> None:
        self.facts = facts or LocalFacts()

    def systemd_booted(self) -> bool:
        return os.path.isdir(_systemd.BOOTED_MARKER)

    def _unit_file(self, unit: str) -> tuple[str | None, str | None]:
        """``(path, text)`` of the unit file systemd would load first (unit dirs in precedence order)."""
        for directory in _systemd.UNIT_DIRECTORIES:
            path = os.path.join(directory, unit)
            if os.path.exists(path):
                return path, self.facts.read_text(path)
        return None, None

    def packaging(self) -> _systemd.Packaging:
        """How this host's Postfix package names and starts its units (read from its unit files)."""
        template_path, template = self._unit_file(_systemd.TEMPLATE_UNIT)
        _umbrella_path, umbrella = self._unit_file(_systemd.UMBRELLA_UNIT)
        generator = any(os.path.exists(os.path.join(d, _systemd.GENERATOR)) for d in _systemd.GENERATOR_DIRECTORIES)
        return _systemd.read_packaging(template, umbrella, generator, template_path)

    def is_enabled(self, units: t.Sequence[str]) -> dict[str, str]:
        """``systemctl is-enabled`` of each unit, in one call (an unknown unit: ``not-found``)."""
        if not units:
            return {}
        result = _runner.run([self.systemctl(), "is-enabled", "--", *units])
        answers = result.stdout.split()
        if len(answers) != len(units):  # systemd 247 (Debian 11) stops at the first unit it does not know
            return {unit: (_runner.run([self.systemctl(), "is-enabled", "--", unit]).stdout.strip() or "not-found") for unit in units}
        return dict(zip(units, answers))

    def masked_units(self) -> list[str]:
        """The ``postfix@*.service`` units masked in ``/etc/systemd/system`` (``systemctl mask``: a
        link to ``/dev/null``)."""
        try:
            names = [entry for entry in os.listdir(_systemd.MASK_DIRECTORY) if entry.startswith("postfix@") and entry.endswith(".service")]
        except OSError:
            return []
        masked = []
        for name in names:
            try:
                if os.readlink(os.path.join(_systemd.MASK_DIRECTORY, name)) == os.devnull:
                    masked.append(name)
            except OSError:
                continue  # not a link: a unit file of the administrator's
        return masked

    def generated_wants(self) -> list[str] | None:
        try:
            return sorted(entry for entry in os.listdir(_systemd.GENERATOR_WANTS) if entry.startswith("postfix@"))
        except OSError:
            return None

    def systemctl(self) -> str:
        found = shutil.which("systemctl", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
        if not found:
            raise PostfixMultiError("systemd drives Postfix here, but systemctl was not found")
        return found

    def unit_active(self, unit: str) -> bool:
        result = _runner.run([self.systemctl(), "is-active", unit])
        return result.stdout.strip() == "active"

    def postfix_argv(self, config_directory: str, args: t.Sequence[str]) -> list[str]:
        return [self.facts.postfix(), "-c", config_directory, "--", *args]

    def systemctl_argv(self, verb: str, unit: str | None) -> list[str]:
        return [self.systemctl(), verb] + ([unit] if unit else [])


def _record(step: Step, running: bool) -> dict[str, t.Any]:
    data = step.instance.to_dict()
    for key in ("queue_directory", "data_directory"):
        data.pop(key, None)
    data.update({"running": running, "action": step.action, "reason": step.reason, "via": None, "cmd": None, "rc": None, "output": "", "changed": False})
    return data


def done_lists(records: t.Sequence[dict[str, t.Any]]) -> dict[str, list[str]]:
    """The instances each action changed (or would), by what happened to them: an instance stopped
    and started again was ``restarted``; one that did not run and was only started, ``started``."""
    acted: dict[str, set[str]] = {}
    order: list[str] = []
    for rec in records:
        if not rec["changed"]:
            continue
        label = rec["name"] or rec["config_directory"]
        if label not in acted:
            order.append(label)
        acted.setdefault(label, set()).add(rec["action"])
    out: dict[str, list[str]] = {"started": [], "stopped": [], "restarted": [], "reloaded": [], "flushed": []}
    for label in order:
        actions = acted[label]
        if {"stop", "start"} <= actions:
            out["restarted"].append(label)
            continue
        for action, key in (("start", "started"), ("stop", "stopped"), ("reload", "reloaded"), ("flush", "flushed")):
            if action in actions:
                out[key].append(label)
    return out


def _summary(records: t.Sequence[dict[str, t.Any]], check_mode: bool) -> str:
    done: dict[str, list[str]] = {}
    for rec in records:
        if rec["action"] != NONE:
            done.setdefault(rec["action"], []).append(rec["name"] or rec["config_directory"])
    if not done:
        return "nothing to do: " + "; ".join(f"{rec['name'] or rec['config_directory']}: {rec['reason']}" for rec in records)
    prefix = "would run " if check_mode else "ran "
    return prefix + "; ".join(f"{action} for {', '.join(names)}" for action, names in done.items())


def _boot(
    host: ServiceHost,
    packaging: _systemd.Packaging,
    chosen: t.Sequence[Instance],
    enabled: bool,
    check_mode: bool,
    every: t.Sequence[Instance] | None = None,
) -> tuple[list[dict[str, t.Any]], list[str], list[str]]:
    """Make the units of ``chosen`` start at boot or not (``enabled``; a disabled instance never
    does); returns the per-instance records, the systemctl commands (run unless check mode) and
    failures. With ``every`` (all the host's instances: ``chosen`` is the whole host), masks left
    for instances no longer listed are removed too (``_systemd.stale_masks``)."""
    entries = [(inst.label, _systemd.unit_for(inst, packaging), enabled and inst.enabled) for inst in chosen]
    units = [unit for _label, unit, _wanted in entries if unit]
    stale: list[str] = []
    if every is not None:
        stale = _systemd.stale_masks(packaging, host.masked_units(), [_systemd.unit_for(inst, packaging) for inst in every])
    states = host.is_enabled([*units, _systemd.UMBRELLA_UNIT])
    changes, umbrella = _systemd.plan_boot(packaging, entries, states, states.get(_systemd.UMBRELLA_UNIT, ""), stale)
    commands = _systemd.boot_commands(changes, umbrella)
    umbrella_after = "enabled" if "enable" in umbrella else states.get(_systemd.UMBRELLA_UNIT, "")
    records = []
    for change in changes:
        after = change.state
        for verb in change.verbs:
            after = {"unmask": "disabled", "enable": "enabled", "disable": "disabled", "mask": "masked"}[verb]
        records.append(
            {
                "instance": change.label,
                "unit": change.unit,
                "state": change.state or None,
                "wanted": change.wanted,
                "verbs": list(change.verbs),
                # a stale mask's unit is not listed: the generator does not want it
                "starts_at_boot": change.unit not in stale and _systemd.starts_at_boot(packaging, change.unit, after, umbrella_after),
                "note": change.note,
            }
        )
    ran, failed = _systemctl_all(host, commands, check_mode)
    return records, ran, failed


def _systemctl_all(host: ServiceHost, commands: t.Sequence[tuple[str, t.Sequence[str]]], check_mode: bool) -> tuple[list[str], list[str]]:
    """Run ``systemctl VERB -- UNITS`` for each ``(verb, units)`` (not in check mode); the command
    lines, and the failures."""
    ran, failed = [], []
    for verb, names in commands:
        argv = host.systemctl_argv(verb, None) + ["--", *names]
        ran.append(" ".join(argv))
        if check_mode:
            continue
        result = _runner.run(argv)
        if result.rc != 0:
            failed.append(f"systemctl {verb} {' '.join(names)} failed (rc={result.rc}): {result.output or '(no output)'}")
    return ran, failed


def release_units(before: Instance, after: Instance | None, check_mode: bool, host: ServiceHost | None = None) -> tuple[list[str], list[str]]:
    """Where systemd drives Postfix: leave no unit setting behind for ``before``, an instance that was
    destroyed or deported (``after`` None) or renamed to ``after`` (``_systemd.release_unit``). Returns
    the systemctl commands run (would run, in check mode) and the failures."""
    host = host or ServiceHost()
    if not host.systemd_booted():
        return [], []
    packaging = host.packaging()
    old = _systemd.unit_for(before, packaging)
    new = _systemd.unit_for(after, packaging) if after is not None else None
    if old is None or old == new:
        return [], []
    state = host.is_enabled([old]).get(old, "")
    return _systemctl_all(host, [(verb, [unit]) for verb, unit in _systemd.release_unit(state, old, new)], check_mode)


def stop_command(inst: Instance, host: ServiceHost | None = None) -> list[str]:
    """The command that stops a running instance: through its unit where systemd drives it and the
    unit is active (``postfix stop`` there would leave the unit failed), else ``postfix stop``."""
    host = host or ServiceHost()
    if host.systemd_booted():
        unit = _systemd.unit_for(inst, host.packaging())
        if unit is not None and host.unit_active(unit):
            return host.systemctl_argv("stop", unit)
    return host.postfix_argv(inst.config_directory, ["stop"])


def _wants_stale(host: ServiceHost, reg: Registry) -> bool:
    """Whether the generator's wants of postfix.service lag behind the instance list."""
    names = []
    for directory in reg.secondary_directories:
        inst = reg.by_directory(directory)
        names.append(inst.name if inst is not None else None)
    return _systemd.needs_daemon_reload(_systemd.expected_wants(names), host.generated_wants())


def boot_drift(reg: Registry, host: ServiceHost | None = None) -> list[str] | None:
    """The systemctl commands that ``postfix_service`` with ``enabled: true`` would run for every
    instance of ``reg`` (empty when boot is right); None where systemd does not drive Postfix."""
    host = host or ServiceHost()
    if not host.systemd_booted():
        return None
    packaging = host.packaging()
    if packaging.by is None:
        return None
    _records, commands, _failed = _boot(host, packaging, reg.instances, True, check_mode=True, every=reg.instances)
    if not commands and packaging.generator and _wants_stale(host, reg):
        commands.append(" ".join(host.systemctl_argv("daemon-reload", None)))
    return commands


def manage_service(options: t.Mapping[str, t.Any], check_mode: bool, host: ServiceHost | None = None) -> dict[str, t.Any]:
    """The ``postfix_service`` module: plan, then (outside check mode) make the boot settings
    right and run the steps in order."""
    host = host or ServiceHost()
    facts = host.facts
    enabled = options.get("enabled")
    if options.get("state") is None and options.get("command") is None and enabled is None:
        raise PostfixMultiError("give state, command or enabled")
    reg = Registry.load(facts.defaults(), facts.read_text)
    warnings = [f"instance list: {problem}" for problem in reg.broken.values()]
    fatal = [problem for problem in reg.problems if problem not in reg.broken.values()]
    if fatal:
        raise PostfixMultiError("the instance list is inconsistent, so postmulti would refuse to act as well: " + "; ".join(fatal), problems=reg.problems)
    chosen = select(reg, name=options.get("name"), group=options.get("group"))
    running = {inst.config_directory: facts.is_running(inst.config_directory) for inst in chosen}
    steps = plan(
        chosen,
        running,
        state=options.get("state"),
        command=options.get("command"),
        classes=command_classes(reg),
        reverse=bool(options.get("reverse")),
    )
    booted = host.systemd_booted()
    packaging = host.packaging() if booted else _systemd.Packaging(None, None)
    backend = _systemd.choose_backend(options.get("use") or "auto", booted, packaging)

    records: list[dict[str, t.Any]] = []
    daemon_reload = False
    failed: list[str] = []
    boot: list[dict[str, t.Any]] = []
    boot_commands: list[str] = []
    if enabled is not None and backend == "systemd":
        whole = options.get("name") is None and options.get("group") is None
        boot, boot_commands, failed = _boot(host, packaging, chosen, bool(enabled), check_mode, every=reg.instances if whole else None)
        for rec in boot:
            if rec["note"] and rec["unit"] is None:
                warnings.append(f"{rec['instance']}: {rec['note']}")
    elif backend == "systemd" and options.get("state") in ("started", "restarted"):
        # not asked to manage boot: say where a reboot would bring back something else than what runs now
        would, _ran, _failed = _boot(host, packaging, chosen, True, check_mode=True)
        differ = [rec["instance"] for rec in would if rec["verbs"] and rec["unit"]]
        if differ:
            warnings.append(
                "what starts at boot does not follow postmulti's enable flags for "
                + ", ".join(differ)
                + " (enabled instances start at boot, disabled ones do not): give enabled=true to make it so"
            )
    elif enabled is not None:
        why = "systemd is not PID 1" if not booted else f"no usable {_systemd.TEMPLATE_UNIT} unit is installed"
        if options.get("use") == "postmulti":
            why = "use=postmulti"
        warnings.append(f"enabled: boot settings were left alone ({why}); what starts Postfix at boot here is not managed by this module")
    if backend == "systemd" and packaging.generator and enabled is not None and not boot_commands:
        # the generator's wants (what starts at boot) follow the instance list only after a
        # daemon-reload; enable/mask above reload by themselves
        daemon_reload = _wants_stale(host, reg)
        if daemon_reload and not check_mode:
            result = _runner.run(host.systemctl_argv("daemon-reload", None))
            if result.rc != 0:
                raise PostfixMultiError(f"systemctl daemon-reload failed (rc={result.rc}): {result.output}", **result.as_dict())

    for step in steps:
        rec = _record(step, running.get(step.instance.config_directory, False))
        records.append(rec)
        if step.action == NONE:
            continue
        via, argv = "postfix", host.postfix_argv(step.instance.config_directory, step.args)
        unit_name: str | None = None
        if backend == "systemd" and step.action in ("start", "stop", "reload"):
            unit = _systemd.unit_for(step.instance, packaging)
            active = host.unit_active(unit) if unit else False
            is_running = facts.is_running(step.instance.config_directory) if step.action == "start" and active else rec["running"]
            how = _systemd.translate(step.action, unit, active, is_running)
            if how.via == "systemd":
                via, argv, unit_name = "systemd", host.systemctl_argv(how.verb, how.unit), how.unit
            if how.note:
                rec["reason"] = "; ".join(part for part in (rec["reason"], how.note) if part)
        rec["via"], rec["cmd"] = via, argv
        rec["changed"] = step.changes
        if check_mode:
            continue
        # systemctl prints no reason of its own: the unit's Postfix logs it (journald, mail facility)
        mark = _runner.MailLog.mark() if via == "systemd" else None
        result = _runner.run(argv, tty=via == "postfix")
        if mark is not None and result.rc != 0:
            said = mark.since(unit=unit_name)
            result = _runner.CommandResult(result.argv, result.rc, result.stdout, "\n".join(p for p in (result.stderr.strip(), said) if p))
        rec["rc"], rec["output"] = result.rc, result.output
        if result.rc != 0:
            rec["changed"] = False
            label = step.instance.name or step.instance.config_directory
            failed.append(f"{step.action} of {label} failed (rc={result.rc}): {result.output or '(no output)'}")

    changed = daemon_reload or bool(boot_commands) or any(rec["changed"] for rec in records)
    msg = _summary(records, check_mode) if records else "nothing to start, stop or run"
    if boot_commands:
        msg += ("; would run " if check_mode else "; ran ") + "; ".join(cmd.rsplit("/", 1)[-1] for cmd in boot_commands)
    out: dict[str, t.Any] = {
        "changed": changed,
        "backend": backend,
        "packaging": packaging.describe() if backend == "systemd" else None,
        "daemon_reload": daemon_reload,
        "boot": boot,
        "results": records,
        **done_lists(records),
        "msg": msg,
        "warnings": warnings,
    }
    if options.get("state") in ("stopped", "restarted"):
        for inst in chosen:
            if not inst.enabled and running.get(inst.config_directory):
                warnings.append(f"{inst.label} is disabled but running: postmulti (and this module) never stop a disabled instance")
    if failed:
        out["failed"] = True
        out["msg"] = "; ".join(failed)
    return out


SERVICE = Interface(
    {
        "argument_spec": {
            "state": {"type": "str", "choices": list(STATES)},
            "command": {"type": "list", "elements": "str"},
            "name": {"type": "str"},
            "group": {"type": "str"},
            "reverse": {"type": "bool", "default": False},
            "use": {"type": "str", "choices": ["auto", "postmulti", "systemd"], "default": "auto"},
            "enabled": {"type": "bool"},
        },
        "required_one_of": [["state", "command", "enabled"]],
        "mutually_exclusive": [["state", "command"], ["name", "group"]],
    },
    lambda options, check_mode, _want_diff: manage_service(options, check_mode),
)
