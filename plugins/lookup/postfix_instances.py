# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: postfix_instances
author:
  - mailops.postfix_multi maintainers (@mailops)
version_added: 1.0.0
short_description: List the Postfix instances of a configuration readable on the controller
description:
  - Lists the Postfix instances of a C(main.cf) on the B(controller), primary first and then in
    C(multi_instance_directories) order, exactly as C(postmulti -l) would list them there (same instances, order, names,
    groups and enable flags).
  - Like every lookup, it reads the files of the machine Ansible runs on, not those of the managed hosts. To list the
    instances of a managed host use M(mailops.postfix_multi.postfix_instance_info), or point O(root) at a copy of the
    host's files (for example fetched with M(ansible.builtin.fetch)).
  - Uses the same parser as M(mailops.postfix_multi.postfix_instance_info) and M(mailops.postfix_multi.postfix_instance).
  - Returns one dictionary per instance. Use the C(query) function (or C(lookup) with C(wantlist=true)) to always get a list;
    C(lookup) returns the dictionary itself when there is exactly one instance.
extends_documentation_fragment:
  - mailops.postfix_multi._selection
options:
  config_directory:
    description:
      - The primary instance's configuration directory, the one whose C(main.cf) lists the secondary instances.
    type: path
    default: /etc/postfix
  root:
    description:
      - A directory prefixed to every path read, for a copy of a host's files or a chroot, for example V(/srv/copies/mx1)
        holding C(etc/postfix/main.cf) and the secondary instances' C(main.cf) files.
      - The returned paths are those of the host (without O(root)).
    type: path
    default: /
  enabled_only:
    description:
      - Only instances that C(postfix start) starts (C(multi_instance_enable = yes)).
    type: bool
    default: false
  reverse:
    description:
      - Return the instances in reverse order (the order C(postfix stop) uses), like C(postmulti -l -R).
    type: bool
    default: false
notes:
  - Values that C(main.cf) does not set take Postfix's compiled-in defaults, read with C(postconf -d) when Postfix is
    installed on the controller, else those of Debian's Postfix (C(/var/spool/postfix), C(/var/lib/postfix)).
  - Unlike C(postmulti -l), which prints nothing, an O(name) or O(group) that matches no instance is an error that lists
    the known instances or groups.
  - A secondary instance whose C(main.cf) cannot be read is left out with a warning (postmulti would fail entirely).
  - The lookup takes no terms.
seealso:
  - module: mailops.postfix_multi.postfix_instance_info
  - module: mailops.postfix_multi.postfix_service
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
"""

EXAMPLES = r"""
---
- name: Show the instances configured on the controller
  ansible.builtin.debug:
    msg: "{{ query('mailops.postfix_multi.postfix_instances') }}"

- name: Names of the enabled instances of group mta, in stop order
  ansible.builtin.debug:
    msg: >-
      {{ query('mailops.postfix_multi.postfix_instances', group='mta', enabled_only=true, reverse=true)
         | map(attribute='name') }}

- name: Instances of a host whose /etc was fetched to the controller
  ansible.builtin.debug:
    msg: "{{ query('mailops.postfix_multi.postfix_instances', root='/srv/fetched/' ~ inventory_hostname) }}"

- name: One instance; lookup() returns the dictionary itself when there is one result
  ansible.builtin.debug:
    msg: "{{ lookup('mailops.postfix_multi.postfix_instances', name='out').queue_directory }}"
"""

RETURN = r"""
_raw:
  description:
    - One dictionary per instance, in start order (or reversed with O(reverse)).
    - "The keys are those of RV(mailops.postfix_multi.postfix_instance_info#module:instances) that describe an instance:
      C(name), C(group), C(enabled), C(primary), C(config_directory), C(queue_directory) and C(data_directory)."
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import list_instances, rooted_reader

display = Display()


def _compiled_defaults() -> dict[str, str]:
    """``postconf -d`` of the controller's Postfix; empty (the registry's fallbacks) without one."""
    try:
        return LocalFacts().defaults()
    except PostfixMultiError as exc:
        display.vvv(f"postfix_instances: using built-in Postfix defaults ({exc.msg})")
        return {}


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[dict[str, t.Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        if terms:
            raise AnsibleLookupError("the postfix_instances lookup takes no terms; select with name=... or group=...")
        name = self.get_option("name")
        group = self.get_option("group")
        if name is not None and group is not None:
            raise AnsibleLookupError("postfix_instances: give at most one of name and group")
        try:
            instances, problems = list_instances(
                _compiled_defaults(),
                rooted_reader(self.get_option("root")),
                config_directory=self.get_option("config_directory"),
                name=name,
                group=group,
                enabled_only=self.get_option("enabled_only"),
                reverse=self.get_option("reverse"),
            )
        except PostfixMultiError as exc:
            raise AnsibleLookupError(f"postfix_instances: {exc.msg}") from exc
        for problem in problems:
            display.warning(f"postfix_instances: {problem}")
        return instances
