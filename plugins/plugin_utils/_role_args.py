# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The multi_instance role's argument validation, made in the task of the role's module call.

Ansible validates a role's variables against its ``meta/argument_specs.yml`` in a task of its own
that it puts before the role's first task (``ansible.builtin.validate_argument_spec``, see
ansible/playbook/role/__init__.py): on a host that matches its design, that task is a third of
what the role costs on top of the module call itself. A play that includes the role with
``rolespec_validate: false`` (the collection's rollout playbook does) skips that task; the role's
module call (``postfix_multi_host``'s action plugin) then validates the same variables against the
same specification, in the same way and with the same messages, before the module runs. It does
so for every call made from the role, so a play that switches Ansible's validation off still gets
it, and one that keeps it gets it twice (a few milliseconds of the controller).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._payload import STORE_NAME, private

# this file is plugins/plugin_utils/_role_args.py of the collection: the role is roles/multi_instance
ROLE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles", "multi_instance")


SPEC_FILE = os.path.join(ROLE_PATH, "meta", "argument_specs.yml")
_KEPT = "role-argument-specs-"  # + the YAML file's digest + ".json", in the payload store (_payload.STORE_NAME)


def _kept_path(local_tmp: str, digest: str) -> str:
    return os.path.join(os.path.dirname(local_tmp), STORE_NAME, f"{_KEPT}{digest}.json")


def argument_specs(loader: t.Any, local_tmp: str) -> dict[str, t.Any]:
    """The role's ``argument_specs`` (meta/argument_specs.yml). Parsing its YAML costs each worker
    process about 20 ms, so the parsed data is kept as JSON in the payload store (a private directory,
    _payload.store_directory) under the digest of the YAML file, and read from there while the file
    is the same; anything unexpected means the YAML is parsed."""
    with open(SPEC_FILE, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:32]
    kept = _kept_path(local_tmp, digest)
    with contextlib.suppress(OSError, ValueError):
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        with os.fdopen(os.open(kept, flags), "rb") as reader:
            if private(os.fstat(reader.fileno()), stat.S_IFREG) and private(os.lstat(os.path.dirname(kept)), stat.S_IFDIR):
                data = json.loads(reader.read())
                if isinstance(data, dict):
                    return data
    data = loader.load_from_file(SPEC_FILE)
    with contextlib.suppress(OSError, TypeError, ValueError):
        store = os.path.dirname(kept)
        if private(os.lstat(store), stat.S_IFDIR):
            temporary = f"{kept}.{os.getpid()}.tmp"
            with open(temporary, "x", encoding="utf-8") as writer:
                os.fchmod(writer.fileno(), 0o600)
                json.dump(data, writer)
            os.replace(temporary, kept)
            for name in os.listdir(store):
                if name.startswith(_KEPT) and name.endswith(".json") and os.path.join(store, name) != kept:
                    os.unlink(os.path.join(store, name))
    return data


def _is_the_role(role: t.Any) -> bool:
    path = getattr(role, "_role_path", None)
    return isinstance(path, str) and os.path.realpath(path) == os.path.realpath(ROLE_PATH)


def role_argument_failure(task: t.Any, task_vars: t.Mapping[str, t.Any], templar: t.Any, loader: t.Any, local_tmp: str) -> dict[str, t.Any] | None:
    """A failed task result when ``task`` belongs to the multi_instance role and the role's variables do not
    pass its argument specification; None when they pass or the task is not the role's.

    As ansible.builtin.validate_argument_spec validates a role's variables: each variable the entry point's
    specification names, from the task's variables (where the role's parameters are too), templated."""
    role = getattr(task, "_role", None)
    if role is None or not _is_the_role(role):
        return None
    entry_point = getattr(role, "_from_files", {}).get("tasks", "main")
    data = argument_specs(loader, local_tmp)
    spec = ((data or {}).get("argument_specs") or {}).get(entry_point) or {}
    options = spec.get("options") or {}
    if not options:
        return None
    provided = {name: task_vars[name] for name in options if name in task_vars}
    errors = ArgumentSpecValidator(options).validate(templar.template(provided), validate_role_argument_spec=True).error_messages
    if not errors:
        return None
    return {
        "failed": True,
        "changed": False,
        "msg": "Validation of arguments failed:\n" + "\n".join(errors),
        "argument_errors": errors,
        "validate_args_context": {"type": "role", "name": role.get_name(), "argument_spec_name": entry_point, "path": role._role_path},
    }
