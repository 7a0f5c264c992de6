# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one runner of every module: arguments in, a result or a failure out.

The only module_utils file that imports ``AnsibleModule``. A module names its ``Interface``
(see _interface.py: the keyword arguments of ``AnsibleModule`` and an operation of the pure
layers) and ``run`` does the rest the same way for all of them:

- the operation's ``PostfixMultiError`` becomes a failure with its message and structured
  details; any other exception a failure that says it was unexpected, with the traceback;
- ``warnings`` in the result are handed to Ansible as warnings;
- a result with ``failed: true`` (a health gate that did not pass, a service step that failed)
  fails the task with the whole result, so that it can still be registered and read;
- a call that is not in check mode keeps the code it compiled from the payload (_zipload.py).
"""

from __future__ import annotations

import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._io import write_policy


def _spec(interface: Interface) -> dict[str, t.Any]:
    """The ``AnsibleModule`` arguments; ``unsafe_writes`` also read from ANSIBLE_UNSAFE_WRITES, as
    for Ansible's own file modules."""
    spec = dict(interface.spec)
    options = spec["argument_spec"]
    if "unsafe_writes" in options:
        spec["argument_spec"] = dict(options, unsafe_writes=dict(options["unsafe_writes"], fallback=(env_fallback, ["ANSIBLE_UNSAFE_WRITES"])))
    return spec


def _backups(backups: dict[str, str]) -> dict[str, t.Any]:
    """``backup_file`` (one file replaced, as Ansible's file modules return it), else ``backup_files``."""
    if len(backups) == 1:
        return {"backup_file": next(iter(backups.values()))}
    return {"backup_files": backups} if backups else {}


def run(interface: Interface) -> None:
    """Run ``interface`` as the module of this process (exits through ``exit_json``/``fail_json``)."""
    module = AnsibleModule(supports_check_mode=True, **_spec(interface))
    params = module.params
    with write_policy(backup=bool(params.get("backup")), unsafe_writes=bool(params.get("unsafe_writes"))) as policy:
        try:
            result = interface.operation(params, module.check_mode, module._diff)
        except PostfixMultiError as exc:
            module.fail_json(msg=exc.msg, **dict(exc.details, **_backups(policy.backups)))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            module.fail_json(msg=f"unexpected error: {exc}", exception=traceback.format_exc(), **_backups(policy.backups))
    if not module.check_mode:
        _zipload.save()  # the code this call compiled, for the next calls (check mode writes nothing)
    result.update(_backups(policy.backups))
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
