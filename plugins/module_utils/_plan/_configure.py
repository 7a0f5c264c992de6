# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""What the postfix_config and postfix_master modules do, minus AnsibleModule plumbing.

Both entry points take plain options and run the same steps: lock the PRIMARY's config
directory (the lock postfix_multi_init and postfix_instance take, so that no run can lose
another's edit of an instance's main.cf: postfix_instance rewrites instance main.cf files
when it names, groups or enables them), load the registry, resolve the instance like
``postmulti -i``, plan the new file text (pure functions below), validate it on a private
copy (``_validate``) when it differs, and write it atomically (``_io.write_text``, keeping
owner and mode) unless in check mode. Validation runs in check mode too: it has no effect on
the live instance, and check mode then fails exactly where a real run would.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError, displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import BACKUP, UNSAFE_WRITES, Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts, find_postfix_command
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._io import DirectoryLock, refuse_links, write_text
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import SHARED_PARAMETERS
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import (
    MainCf,
    MainCfError,
    normalize_whitespace,
    validate_name,
    validate_value,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import (
    BOOL_FIELDS,
    FLAG_VALUES,
    MasterCf,
    MasterCfError,
    MasterEntry,
    control_problem,
    maxproc_problem,
    split_command,
    wakeup_problem,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance, Registry

# Parameters that say which instance a main.cf belongs to. postfix_config refuses to manage
# them; postfix_instance (name, group, enable flag, directories) and postfix_multi_init
# (wrapper, enable flag and directory list of the primary) do.
IDENTITY_PARAMETERS = (
    "config_directory",
    "queue_directory",
    "data_directory",
    "multi_instance_name",
    "multi_instance_group",
    "multi_instance_enable",
    "multi_instance_directories",
    "multi_instance_wrapper",
)

# The installation parameters postmulti copies (or comments out) when it creates an instance,
# shared by every instance of the host.
SHARED_INSTALLATION_PARAMETERS = SHARED_PARAMETERS

# Never removed by exclusive=true (besides every name starting with multi_instance_). The
# other settings postmulti writes into a new instance (authorized_submit_users = and
# master_service_disable = inet) are ordinary settings: list them to keep them.
PROTECTED_PARAMETERS = frozenset(IDENTITY_PARAMETERS + ("alternate_config_directories",) + SHARED_INSTALLATION_PARAMETERS)
PROTECTED_PREFIX = "multi_instance_"

# main.cf parameters whose change a running instance only picks up on "postfix stop; postfix
# start", not on "postfix reload":
#   inet_interfaces, inet_protocols - postconf(5): "you need to stop and start Postfix";
#   queue_directory, data_directory, process_id_directory - the master daemon changes to the
#     queue directory, takes its lock in the data directory and writes its pid file only at
#     start-up (the first two are identity parameters, listed for completeness).
RESTART_PARAMETERS = frozenset({"inet_interfaces", "inet_protocols", "queue_directory", "data_directory", "process_id_directory"})


# --------------------------------------------------------------------------- shared steps


def resolve_instance(reg: Registry, selector: str) -> Instance:
    """The instance ``postmulti -i SELECTOR`` would pick (name, short name, directory, ``-``)."""
    if not isinstance(selector, str) or not selector:
        raise PostfixMultiError("instance must be a name, a short name, a config directory or '-' for the primary")
    inst = reg.find(selector)
    if inst is not None:
        return inst
    if selector in reg.broken:
        raise PostfixMultiError(f"instance {selector} cannot be read: {reg.broken[selector]}")
    known = ", ".join(inst.label for inst in reg.instances)
    raise PostfixMultiError(
        f"No matching instance: '{selector}' (postmulti -i matches a name, a name without 'postfix-', a config directory or '-'; known: {known})"
    )


def text_diff(path: str, before: str, after: str) -> dict[str, str]:
    return {"before_header": path, "after_header": path, "before": displayable(before), "after": displayable(after)}


def _read(facts: LocalFacts, path: str) -> str:
    text = facts.read_text(path)
    if text is None:
        raise PostfixMultiError(f"{path} does not exist")
    return text


def postfix_commands(facts: LocalFacts) -> tuple[str, str]:
    defaults = facts.defaults()
    return find_postfix_command("postconf", defaults.get("command_directory")), facts.postfix()


# --------------------------------------------------------------------------- main.cf


def render_value(name: str, value: t.Any) -> str:
    """A module value as main.cf text: booleans yes/no, numbers as written, lists joined with ', '."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip(" \t\n\v\f\r")
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, (list, tuple, dict)) or item is None:
                raise PostfixMultiError(f"parameter {name}: list items must be strings, numbers or booleans, not {type(item).__name__}")
            items.append(render_value(name, item))
        return ", ".join(item for item in items if item)
    if value is None:
        raise PostfixMultiError(f"parameter {name} has no value (null): use '' for an empty value, or list it in 'absent' to remove it")
    raise PostfixMultiError(f"parameter {name}: a value must be a string, number, boolean or list, not {type(value).__name__}")


def _refuse_identity(names: t.Iterable[str], where: str) -> None:
    for name in names:
        if name in IDENTITY_PARAMETERS:
            raise PostfixMultiError(
                f"{name} cannot be managed with {where}: it defines which instance this is. "
                "Use mailops.postfix_multi.postfix_instance (name, group, enabled, directories of an instance) "
                "or mailops.postfix_multi.postfix_multi_init (multi_instance_wrapper / multi_instance_enable / multi_instance_directories of the primary)"
            )


def is_protected(name: str) -> bool:
    """Whether exclusive=true keeps this parameter."""
    return name in PROTECTED_PARAMETERS or name.startswith(PROTECTED_PREFIX)


def same_value(current: str | None, wanted: str) -> bool:
    """Whether a declared value (as ``postconf -h`` prints it) is the current one (idem).

    A current value with bytes that are not UTF-8 (read as surrogates) is shown everywhere, and
    returned by ``postfix_multi_host`` ``state=gathered``, with those bytes as U+FFFD
    (``displayable``); that shown form, declared, is the current value: nothing is written, and the
    bytes stay as they are. Any other declared value is a change (one with U+FFFD of its own is
    written as UTF-8)."""
    if current is None:
        return False
    return current == wanted or (displayable(current) != current and displayable(current) == wanted)


class ConfigPlan(t.NamedTuple):
    before: MainCf
    after: MainCf
    set_values: dict[str, str]
    removed: list[str]
    names: list[str]  # the parameters named in the task, in order

    @property
    def changed(self) -> bool:
        return self.after.render() != self.before.render()

    @property
    def changed_names(self) -> list[str]:
        return self.before.changed_names(self.after)

    @property
    def restart_required(self) -> bool:
        return any(name in RESTART_PARAMETERS for name in self.changed_names)


def plan_config(
    cf: MainCf,
    parameters: Mapping[str, t.Any] | None = None,
    absent: Sequence[str] | None = None,
    exclusive: bool = False,
) -> ConfigPlan:
    """The edit that makes ``cf`` hold ``parameters`` and not ``absent`` (pure).

    A parameter whose value already reads the same as the desired one (as ``postconf -h``
    prints it: continuation lines joined, runs of whitespace as one space) is left as it is
    written. With ``exclusive``, every other explicitly set parameter except the protected
    ones is removed too.
    """
    parameters = dict(parameters or {})
    absent_names = list(absent or [])
    if isinstance(absent, str):
        raise PostfixMultiError("absent must be a list of parameter names")
    for name in list(parameters) + absent_names:
        if not isinstance(name, str):
            raise PostfixMultiError(f"parameter names must be strings, not {type(name).__name__}: {name!r}")
        try:
            validate_name(name)
        except MainCfError as exc:
            raise PostfixMultiError(str(exc)) from None
    both = sorted(set(parameters) & set(absent_names))
    if both:
        raise PostfixMultiError(f"parameter(s) {', '.join(both)} given both in parameters and absent")
    _refuse_identity(parameters, "parameters")
    _refuse_identity(absent_names, "absent")

    set_values: dict[str, str] = {}
    for name, value in parameters.items():
        text = render_value(name, value)
        try:
            validate_value(text)
        except MainCfError as exc:
            raise PostfixMultiError(f"parameter {name}: {exc}") from None
        if not same_value(cf.get(name), normalize_whitespace(text)):
            set_values[name] = text
    removed = [name for name in dict.fromkeys(absent_names) if cf.has(name)]
    if exclusive:
        removed += [name for name in cf.params() if name not in parameters and name not in removed and not is_protected(name)]
    after = cf.edit(set_values, remove=removed) if set_values or removed else cf
    return ConfigPlan(cf, after, set_values, removed, list(dict.fromkeys(list(parameters) + absent_names)))


class _Edit(t.NamedTuple):
    """One instance file planned (and, outside check mode, written) under the primary's lock."""

    instance: Instance
    path: str
    before: str
    after: str
    plan: t.Any  # ConfigPlan or MasterPlan: both have .changed and .after
    warnings: list[str]


def _edit_instance_file(options: Mapping[str, t.Any], name: str, replan: t.Callable[[str], t.Any], check_mode: bool) -> _Edit:
    """Plan ``replan(text)`` on the selected instance's ``name`` (main.cf or master.cf), validate the
    new text on a copy, and write it unless in check mode; a file that another editor changed since
    it was read is planned again on its current text (``write_text``'s reedit)."""
    facts = LocalFacts()
    defaults = facts.defaults()
    with DirectoryLock(defaults["config_directory"]):
        reg = Registry.load(defaults, facts.read_text)
        # an empty string selects nothing, as with postmulti -i '': only '-' (the default) is the primary
        inst = resolve_instance(reg, "-" if options.get("instance") is None else options["instance"])
        path = f"{inst.config_directory}/{name}"
        before = _read(facts, path)
        plan = replan(before)
        after = plan.after.render()
        warnings: list[str] = []
        if plan.changed:
            refuse_links([path])
        if plan.changed and options.get("validate", True):
            from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._validate import validate  # pylint: disable=import-outside-toplevel

            postconf, postfix = postfix_commands(facts)
            warnings = validate(inst.config_directory, {name: after}, postconf=postconf, postfix=postfix, check_master=name == "master.cf")
        if plan.changed and not check_mode:
            write_text(path, after, before=before, reedit=lambda text: replan(text).after.render())
    return _Edit(inst, path, before, after, plan, warnings)


def manage_config(options: Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_config`` module."""
    parameters, absent, exclusive = options.get("parameters"), options.get("absent"), bool(options.get("exclusive"))
    edit = _edit_instance_file(options, "main.cf", lambda text: plan_config(MainCf.parse(text), parameters, absent, exclusive), check_mode)
    inst, path, before, after, _plan, warnings = edit
    plan: ConfigPlan = edit.plan
    changes = [f"set {name}" for name in plan.set_values] + [f"removed {name}" for name in plan.removed]
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "instance": inst.to_dict(),
        "config_file": path,
        "parameters": {name: displayable(plan.after.get(name) or "") if plan.after.has(name) else None for name in plan.names},
        "changed_parameters": plan.changed_names,
        "restart_required": plan.restart_required,
        "msg": f"{inst.label}: " + ("; ".join(changes) if changes else "main.cf already as requested"),
        "warnings": warnings,
    }
    if want_diff:
        result["diff"] = text_diff(path, before, after)
    return result


# --------------------------------------------------------------------------- master.cf


def _flag(name: str, value: t.Any) -> str | None:
    """A y/n/- field from a module value (booleans, y/n/-, yes/no, true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "y" if value else "n"
    text = str(value).strip().lower()
    if text in ("y", "yes", "true"):
        return "y"
    if text in ("n", "no", "false"):
        return "n"
    if text == "-":
        return "-"
    raise PostfixMultiError(f"{name} must be y, n or - (or a boolean), not {value!r}")


def _number(name: str, value: t.Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise PostfixMultiError(f"{name} must be a number or -, not a boolean")
    return str(value).strip()


_NUMBER_CHECKS: tuple[tuple[str, t.Callable[[str], str | None]], ...] = (("wakeup", wakeup_problem), ("maxproc", maxproc_problem))


def requested_fields(options: Mapping[str, t.Any]) -> dict[str, str]:
    """The columns 3 to 7 the options give, as master.cf text (omitted ones left out).

    Checks them without reading anything: raises PostfixMultiError naming every bad one and what to
    give instead. ``private``, ``unprivileged`` and ``chroot`` take y, n or - or a boolean (true: y);
    ``wakeup`` and ``maxproc`` a number (an integer or its text) or -.
    """
    values: dict[str, str] = {}
    problems: list[str] = []
    for name in BOOL_FIELDS + ("wakeup", "maxproc"):
        # before the values are stripped: "y\r" is no flag
        control = control_problem(name, options[name]) if isinstance(options.get(name), str) else None
        if control is not None:
            problems.append(control)
    if problems:
        raise PostfixMultiError(f"{options.get('service')}/{options.get('type')}: " + "; ".join(problems))
    for name in BOOL_FIELDS:
        try:
            flag = _flag(name, options.get(name))
        except PostfixMultiError as exc:
            problems.append(exc.msg)
            continue
        if flag is not None:
            values[name] = flag
    for name, check in _NUMBER_CHECKS:
        try:
            number = _number(name, options.get(name))
        except PostfixMultiError as exc:
            problems.append(exc.msg)
            continue
        if number is None:
            continue
        problem = check(number)
        if problem is not None:
            problems.append(f"{name}: {problem}")
        else:
            values[name] = number
    if problems:
        raise PostfixMultiError(f"{options.get('service')}/{options.get('type')}: " + "; ".join(problems))
    return values


def command_argv(command: t.Any) -> tuple[str, ...] | None:
    """The command option as argv: a string, or a list whose items are joined with spaces.

    Both are read like master.cf text, so an argument containing blanks is written in braces,
    ``{...}``, and a list item may hold several words (``-o name=value``).
    """
    if command is None:
        return None
    if isinstance(command, (list, tuple)):
        if not command or any(isinstance(item, (list, tuple, dict)) or item is None for item in command):
            raise PostfixMultiError("command must be a non-empty string or list of strings")
        command = " ".join(str(item) for item in command)
    if not isinstance(command, str):
        raise PostfixMultiError(f"command must be a string or a list, not {type(command).__name__}")
    # before it is split: master.cf text separates words at TAB, CR and LF too, which would hide them
    control = control_problem("command", command)
    if control is not None:
        raise PostfixMultiError(control)
    try:
        return split_command(command)
    except MasterCfError as exc:
        raise PostfixMultiError(str(exc)) from None


def _entry_command(service: str, kind: str, options: Mapping[str, t.Any]) -> tuple[str, ...] | None:
    """command_argv of the options' command, its messages naming the entry."""
    try:
        return command_argv(options.get("command"))
    except PostfixMultiError as exc:
        raise PostfixMultiError(f"{service}/{kind}: {exc.msg}") from None


def _service_and_type(options: Mapping[str, t.Any]) -> tuple[str, str]:
    """The options' service name and type: required, without control characters."""
    service, kind = options.get("service"), options.get("type")
    if not isinstance(service, str) or not service or not isinstance(kind, str) or not kind:
        raise PostfixMultiError("service and type are required")
    for name, value in (("service", service), ("type", kind)):
        control = control_problem(name, value)
        if control is not None:
            raise PostfixMultiError(f"{service!r}/{kind!r}: {control}")
    return service, kind


def _refuse_private_inet(service: str, kind: str, private: str) -> t.NoReturn:
    # master(5): private defaults to y, and master(8) refuses to start with a private inet service
    # ("inet service cannot be private"), which postconf -M and postfix check do not catch
    raise PostfixMultiError(
        f"{service}/{kind}: an inet service cannot be private, and private "
        + ("defaults to y ('-')" if private == "-" else "is y")
        + ": give private: false (n)"
    )


def desired_entry(current: MasterEntry | None, options: Mapping[str, t.Any]) -> MasterEntry:
    """The entry the options ask for: omitted fields keep their current value (``-`` for a new entry)."""
    service, kind = options["service"], options["type"]
    values = requested_fields(options)
    for name in BOOL_FIELDS + ("wakeup", "maxproc"):
        if name not in values:
            values[name] = getattr(current, name) if current else "-"
    argv = _entry_command(service, kind, options)
    if argv is None:
        if current is None:
            raise PostfixMultiError(f"{service}/{kind} does not exist yet: give its command")
        argv = current.command
    if kind == "inet" and values["private"] in ("-", "y"):
        _refuse_private_inet(service, kind, values["private"])
    entry = MasterEntry(service, kind, values["private"], values["unprivileged"], values["chroot"], values["wakeup"], values["maxproc"], argv)
    problems = entry.problems()
    if problems:
        raise PostfixMultiError(f"{service}/{kind}: " + "; ".join(problems))
    return entry


def kept_bytes(current: MasterEntry | None, entry: MasterEntry) -> MasterEntry:
    """``entry`` with each command word that is the shown form (``displayable``: bytes that are not
    UTF-8 as U+FFFD) of a word of the ``current`` entry holding such bytes replaced by that word, so
    that a declared command as ``state=gathered`` returns it (or with other words changed) keeps the
    bytes of the file instead of writing U+FFFD. A word at the same position is taken first, else
    the one current word shown so."""
    if current is None or current.command == entry.command:
        return entry
    raw = [word for word in current.command if displayable(word) != word]
    if not raw:
        return entry
    words = []
    for index, word in enumerate(entry.command):
        if index < len(current.command) and current.command[index] in raw and displayable(current.command[index]) == word:
            words.append(current.command[index])
            continue
        candidates = list(dict.fromkeys(item for item in raw if displayable(item) == word))
        words.append(candidates[0] if len(candidates) == 1 else word)
    return replace(entry, command=tuple(words))


def check_master_options(options: Mapping[str, t.Any]) -> None:
    """Refuse what is wrong in the ``postfix_master`` options alone, before anything is read.

    The checks plan_master makes on them, with the same messages, but without the host's master.cf:
    only what depends on the current entry is left to plan_master (a new entry needs a command; an
    inet entry whose private column the options do not give must not be private). With
    ``state=absent`` the given fields are checked too, the service name and type are not.
    """
    service, kind = _service_and_type(options)
    values = requested_fields(options)
    argv = _entry_command(service, kind, options)
    if options.get("state", "present") == "absent":
        return
    if kind == "inet" and values.get("private") in ("-", "y"):
        _refuse_private_inet(service, kind, values["private"])
    # the service name and the command: the entry with what the options give, placeholders for the rest
    # (private n: whether an existing entry's private column is y is only known from master.cf)
    probe = MasterEntry(
        service,
        kind,
        values.get("private", "n"),
        values.get("unprivileged", "-"),
        values.get("chroot", "-"),
        values.get("wakeup", "-"),
        values.get("maxproc", "-"),
        argv or ("x",),
    )
    problems = probe.problems()
    if problems:
        raise PostfixMultiError(f"{service}/{kind}: " + "; ".join(problems))


# The keys of a master.cf entry in a list of them (postfix_multi_host's instances[].master, the
# multi_instance role's postfix_multi_instances[].master): postfix_master's options for the entry.
MASTER_ITEM_KEYS = ("service", "type", "private", "unprivileged", "chroot", "wakeup", "maxproc", "command", "state")
MASTER_ITEM_STATES = ("present", "absent")


def check_master_items(where: str, items: t.Any) -> list[dict[str, t.Any]]:
    """A list of master.cf entries (each with MASTER_ITEM_KEYS), checked without reading anything.

    Each is checked as check_master_options checks postfix_master's options; unknown keys (a
    misspelt field would otherwise be left out of the entry) and a second entry with the same
    service name and type (each would undo the other on every run) are refused. ``where`` starts
    the messages (``...master[INDEX]: ...``). Returns the entries without their null values (an
    omitted field: the current value is kept)."""
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        raise PostfixMultiError(f"{where}: master must be a list of master.cf entries (service, type, command, ...)")
    out: list[dict[str, t.Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        label = f"{where}.master[{index}]"
        if not isinstance(item, Mapping):
            raise PostfixMultiError(f"{label} must be a dictionary (service, type, command, ...)")
        unknown = [str(key) for key in item if key not in MASTER_ITEM_KEYS]
        if unknown:
            raise PostfixMultiError(
                f"{label} ({item.get('service')}/{item.get('type')}): unknown key(s) {', '.join(unknown)}; "
                f"a master.cf entry takes {', '.join(MASTER_ITEM_KEYS)}"
            )
        entry = {key: value for key, value in item.items() if value is not None}
        service, kind = entry.get("service"), entry.get("type")
        if not service or not kind:
            raise PostfixMultiError(f"{label} needs a service and a type")
        state = entry.get("state", "present")
        if state not in MASTER_ITEM_STATES:
            raise PostfixMultiError(f"{label} ({service}/{kind}): state must be one of {', '.join(MASTER_ITEM_STATES)}, not {state!r}")
        try:
            check_master_options(entry)
        except PostfixMultiError as exc:
            raise PostfixMultiError(f"{label}: {exc.msg}") from None
        key = (service, kind)
        if key in seen:
            raise PostfixMultiError(
                f"{label}: entry {service}/{kind} is also master[{seen[key]}]; declare each service name and type once (put all its fields into one item)"
            )
        seen[key] = index
        out.append(entry)
    return out


class MasterPlan(t.NamedTuple):
    before: MasterCf
    after: MasterCf
    current: MasterEntry | None
    entry: MasterEntry | None  # after the change; None when absent
    restart_required: bool

    @property
    def changed(self) -> bool:
        return self.after.render() != self.before.render()


def plan_master(cf: MasterCf, options: Mapping[str, t.Any]) -> MasterPlan:
    """The edit of one master.cf entry (pure); refuses results Postfix would not read."""
    service, kind = _service_and_type(options)
    current = cf.get(service, kind)
    try:
        if options.get("state", "present") == "absent":
            after = cf.remove(service, kind)
            entry = None
            restart = after.render() != cf.render()
        else:
            entry = kept_bytes(current, desired_entry(current, options))
            if current == entry and cf.count(service, kind) == 1:
                after = cf
            else:
                after = cf.set(entry)
            restart = current is None or current.command != entry.command
    except MasterCfError as exc:
        raise PostfixMultiError(f"{service}/{kind}: {exc}") from None
    if after.render() != cf.render():
        errors = after.errors()
        if errors:
            raise PostfixMultiError("master.cf has entries that make every postconf call fail; fix them first (nothing was changed): " + "; ".join(errors))
    return MasterPlan(cf, after, current, entry, restart and after.render() != cf.render())


def manage_master(options: Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_master`` module."""
    check_master_options(options)
    edit = _edit_instance_file(options, "master.cf", lambda text: plan_master(MasterCf.parse(text), options), check_mode)
    inst, path, before, after, _plan, warnings = edit
    plan: MasterPlan = edit.plan
    label = f"{options['service']}/{options['type']}"
    if not plan.changed:
        msg = f"{inst.label}: {label} already as requested"
    elif plan.entry is None:
        msg = f"{inst.label}: removed {label}"
    else:
        msg = f"{inst.label}: {'added' if plan.current is None else 'updated'} {label}"
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "instance": inst.to_dict(),
        "config_file": path,
        "entry": plan.entry.fields() if plan.entry is not None else None,
        "restart_required": plan.restart_required,
        "msg": msg,
        "warnings": warnings,
    }
    if want_diff:
        result["diff"] = text_diff(path, before, after)
    return result


CONFIG = Interface(
    {
        "argument_spec": {
            "instance": {"type": "str", "default": "-"},
            "parameters": {"type": "dict", "default": {}},
            "absent": {"type": "list", "elements": "str", "default": []},
            "exclusive": {"type": "bool", "default": False},
            "validate": {"type": "bool", "default": True},
            **BACKUP,
            **UNSAFE_WRITES,
        }
    },
    manage_config,
)
MASTER = Interface(
    {
        "argument_spec": {
            "instance": {"type": "str", "default": "-"},
            "service": {"type": "str", "required": True},
            "type": {"type": "str", "required": True, "choices": ["inet", "unix", "unix-dgram", "fifo", "pass"]},
            # y, n or -: Ansible turns a boolean into y or n (the one choice among its true or false spellings)
            "private": {"type": "str", "choices": list(FLAG_VALUES)},
            "unprivileged": {"type": "str", "choices": list(FLAG_VALUES)},
            "chroot": {"type": "str", "choices": list(FLAG_VALUES)},
            # a number or -, checked by manage_master before it reads anything
            "wakeup": {"type": "str"},
            "maxproc": {"type": "str"},
            "command": {"type": "raw"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "validate": {"type": "bool", "default": True},
            **BACKUP,
            **UNSAFE_WRITES,
        }
    },
    manage_master,
)
