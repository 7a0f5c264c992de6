# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of mailops.postfix_multi.postfix_multi_host: Ansible's own way of running a
module (ansible.builtin.normal), with the module's payload kept from one run to the next
(plugins/plugin_utils/_payload.py)."""

from __future__ import annotations

import typing as t

from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._payload import reused_payload

MODULE_FQN = "ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host"


class ActionModule(NormalAction):
    """Runs the module as ansible.builtin.normal does."""

    def run(self, tmp: t.Any = None, task_vars: t.Any = None) -> t.Any:
        with reused_payload(MODULE_FQN):
            return super().run(tmp, task_vars)
