# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of mailops.postfix_multi.postfix_multi_host: Ansible's own way of running a
module (ansible.builtin.normal), with the module's payload kept from one run to the next
(plugins/plugin_utils/_payload.py), in a call of the multi_instance role the role's variables
validated against its argument specification first (plugins/plugin_utils/_role_args.py), and with
``install: true`` Postfix installed where the module found none, then the module run again
(plugins/plugin_utils/_install.py)."""

from __future__ import annotations

import typing as t

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._install import missing_result, no_packages_message, platform_packages
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._payload import reused_payload
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._role_args import role_argument_failure

MODULE_FQN = "ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host"


class ActionModule(NormalAction):
    """Runs the module as ansible.builtin.normal does."""

    def run(self, tmp: t.Any = None, task_vars: t.Any = None) -> t.Any:
        failure = role_argument_failure(self._task, task_vars or {}, self._templar, self._loader, str(C.DEFAULT_LOCAL_TMP))
        if failure is not None:
            return failure
        with reused_payload(MODULE_FQN):
            result = super().run(tmp, task_vars)
        if result.get("failed") or result.get("installed", True) or not boolean(self._task.args.get("install", False), strict=False):
            return result
        task_vars = task_vars or {}
        packages = [str(name) for name in self._task.args.get("packages") or []]
        if not packages:
            facts = self._facts(task_vars)
            packages = platform_packages(facts) or []
            if not packages:
                return dict(result, failed=True, msg=no_packages_message(facts))
        host = str(task_vars.get("inventory_hostname", ""))
        if self._task.check_mode:
            # the package manager is not asked: ansible.builtin.apt cannot answer without python3-apt,
            # which only a real run may install
            return missing_result(result, packages, host)
        installed = self._install(packages, task_vars)
        if installed.get("failed"):
            return dict(result, failed=True, packages=packages, msg=f"Installing {', '.join(packages)} on {host} failed: {installed.get('msg', '')}")
        with reused_payload(MODULE_FQN):
            result = super().run(tmp, task_vars)
        return dict(result, changed=True, packages=packages)

    def _facts(self, task_vars: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
        facts = task_vars.get("ansible_facts") or {}
        if "os_family" not in facts:  # the minimal facts that name the platform, as the setup module gathers them
            gathered = self._execute_module(module_name="ansible.legacy.setup", module_args={"gather_subset": ["min"]}, task_vars=dict(task_vars))
            # the module names them ansible_os_family, ...; ansible_facts holds them as os_family, ...
            facts = {str(name).removeprefix("ansible_"): value for name, value in (gathered.get("ansible_facts") or {}).items()}
        return facts

    def _install(self, packages: list[str], task_vars: t.Mapping[str, t.Any]) -> t.Any:
        """``ansible.builtin.package: {name: packages, state: present}`` on this host, as a task of its own would."""
        task = self._task.copy()
        task.args = {"name": packages, "state": "present"}
        action = self._shared_loader_obj.action_loader.get(
            "ansible.builtin.package",
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return action.run(task_vars=dict(task_vars))
