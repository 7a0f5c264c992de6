# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of mailops.postfix_multi.postfix_multi_host: Ansible's own way of running a
module (ansible.builtin.normal), with the module's payload kept from one run to the next
(plugins/plugin_utils/_payload.py) and, in a call of the multi_instance role, the role's variables
validated against its argument specification first (plugins/plugin_utils/_role_args.py)."""

from __future__ import annotations

import typing as t

from ansible import constants as C
from ansible.plugins.action.normal import ActionModule as NormalAction
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
            return super().run(tmp, task_vars)
