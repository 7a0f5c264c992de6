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

import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._apply import apply_plan, sweep_instance
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._io import DirectoryLock, write_text
from ansible_collections.mailops.postfix_multi.plugins.module_utils._planner import Desired, FileWrite, Plan, Planner, plan_init
from ansible_collections.mailops.postfix_multi.plugins.module_utils._registry import Instance, Registry


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


def manage_instance(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_instance`` module: create/import, update, destroy or deport one instance."""
    desired = Desired(
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
    facts = LocalFacts()
    defaults = facts.defaults()
    with DirectoryLock(defaults["config_directory"]):
        reg = Registry.load(defaults, facts.read_text)
        planner = Planner(reg, facts)
        plan = planner.plan(desired)
        state = _state_of(plan, desired)
        leftovers: list[str] = []
        if plan.changed and not check_mode:
            leftovers = apply_plan(plan, facts)
            after_reg = Registry.load(defaults, facts.read_text)
            instances = [inst.to_dict() for inst in after_reg.instances]
            current = plan.after
            if current is not None:
                current = after_reg.by_directory(current.config_directory) or current
        else:
            instances = _predicted_instances(reg, plan)
            current = plan.after
            if plan.remove and plan.before is not None:
                leftovers = sweep_instance(plan.before, remove=False)
    shown = current if current is not None else plan.before
    result: dict[str, t.Any] = {
        "changed": plan.changed,
        "action": plan.action,
        "instance": _record(shown, state),
        "instances": instances,
        "msg": "; ".join(plan.messages) or "nothing to do",
        "warnings": list(plan.warnings),
    }
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


def manage_init(check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_multi_init`` module: ``postmulti -e init``, written only when a value differs."""
    facts = LocalFacts()
    defaults = facts.defaults()
    with DirectoryLock(defaults["config_directory"]):
        reg = Registry.load(defaults, facts.read_text)
        write: FileWrite | None = plan_init(reg)
        if write is not None and not check_mode:
            write_text(write.path, write.after)
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
