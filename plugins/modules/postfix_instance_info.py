#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_instance_info
short_description: List the Postfix instances of a host with their state, queues and C(postmulti -x) environment
version_added: 1.0.0
description:
  - Lists the Postfix instances of the managed host in start order, primary first, exactly as C(postmulti -l) does
    (same instances, order, names, groups and enable flags), and adds for each one whether it runs, how many messages
    its queues hold, and the environment C(postmulti -x) gives a command run for it.
  - The environment lets C(ansible.builtin.command) tasks loop over instances like C(postmulti -x) does, see the examples.
  - Never changes anything.
  - Reads the same files with the same parser as the M(mailops.postfix_multi.postfix_instance) module and the
    P(mailops.postfix_multi.postfix_instances#lookup) lookup; use that lookup for configuration files on the controller.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._attributes.info_module
  - mailops.postfix_multi._selection
requirements:
  - Postfix on the managed host. The module runs C(postconf -d) and, per instance, C(postfix -c DIR status).
notes:
  - Unlike C(postmulti -l), which prints nothing, an O(name) or O(group) that matches no instance makes the module
    fail with the list of known instances or groups.
  - Unlike postmulti, a secondary instance whose C(main.cf) cannot be read does not make the whole listing fail; it is
    left out and reported in RV(problems).
seealso:
  - module: mailops.postfix_multi.postfix_service
  - module: mailops.postfix_multi.postfix_instance
  - plugin: mailops.postfix_multi.postfix_instances
    plugin_type: lookup
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
"""

EXAMPLES = r"""
---
- name: List the instances of the host
  mailops.postfix_multi.postfix_instance_info:
  register: postfix

- name: Show the mail queue of every instance (like postmulti -x postqueue -p)
  ansible.builtin.command:
    cmd: postqueue -p
  environment: "{{ item.environment }}"
  loop: "{{ postfix.instances }}"
  loop_control:
    label: "{{ item.name or item.config_directory }}"
  changed_when: false

- name: Fail when mail waits in any queue of the mta group
  mailops.postfix_multi.postfix_instance_info:
    group: mta
  register: mta
  failed_when: mta.instances | map(attribute='queue_counts.deferred') | sum > 0
"""

RETURN = r"""
instances:
  description: The selected instances in start order (primary first), as C(postmulti -l) lists them.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Instance name (C(multi_instance_name)), or null for a nameless instance.
      type: str
      sample: postfix-out
    group:
      description: Instance group (C(multi_instance_group)), or null.
      type: str
      sample: mta
    enabled:
      description:
        - Whether C(postfix start) starts it (C(multi_instance_enable)).
        - The primary counts as enabled when there is no secondary instance, as for postmulti.
      type: bool
      sample: true
    primary:
      description: Whether this is the primary instance.
      type: bool
      sample: false
    config_directory:
      description: Configuration directory.
      type: str
      sample: /etc/postfix-out
    queue_directory:
      description: Queue directory.
      type: str
      sample: /var/spool/postfix-out
    data_directory:
      description: Data directory.
      type: str
      sample: /var/lib/postfix-out
    running:
      description: Whether the instance's master daemon runs, as C(postfix -c DIR status) decides.
      type: bool
      sample: true
    queue_counts:
      description:
        - Number of queue files in each queue directory, counted from the files.
        - V(maildrop) holds mail submitted while the instance was stopped.
      type: dict
      contains:
        incoming:
          description: Messages being received.
          type: int
        active:
          description: Messages being delivered.
          type: int
        deferred:
          description: Messages waiting for a retry.
          type: int
        hold:
          description: Messages on hold.
          type: int
        maildrop:
          description: Locally submitted messages not yet picked up.
          type: int
        corrupt:
          description:
            - Damaged queue files that Postfix set aside; they are never delivered and do not drain.
            - A destroy refuses while any are left.
          type: int
        saved:
          description:
            - Messages set aside in the C(saved) queue; they do not drain either.
          type: int
      sample:
        incoming: 0
        active: 0
        deferred: 2
        hold: 0
        maildrop: 0
        corrupt: 0
        saved: 0
    environment:
      description:
        - The variables C(postmulti -x) sets for a command run for this instance, except C(PATH).
        - Pass it as C(environment) to a task to run a command for the instance.
      type: dict
      contains:
        MAIL_CONFIG:
          description: The instance's configuration directory.
          type: str
        command_directory:
          description: The primary's C(command_directory).
          type: str
        daemon_directory:
          description: The primary's C(daemon_directory).
          type: str
        config_directory:
          description: The instance's configuration directory.
          type: str
        queue_directory:
          description: The instance's queue directory.
          type: str
        data_directory:
          description: The instance's data directory.
          type: str
        multi_instance_name:
          description: The instance name, an empty string for a nameless instance.
          type: str
        multi_instance_group:
          description: The instance group, an empty string when it has none.
          type: str
        multi_instance_enable:
          description: V(yes) or V(no).
          type: str
      sample:
        MAIL_CONFIG: /etc/postfix-out
        command_directory: /usr/sbin
        daemon_directory: /usr/lib/postfix/sbin
        config_directory: /etc/postfix-out
        queue_directory: /var/spool/postfix-out
        data_directory: /var/lib/postfix-out
        multi_instance_name: postfix-out
        multi_instance_group: mta
        multi_instance_enable: "yes"
problems:
  description: Problems found while reading the instance list (unreadable secondaries, directory conflicts).
  returned: success
  type: list
  elements: str
  sample: ["Failed to obtain all required /etc/postfix-in/main.cf parameters: /etc/postfix-in/main.cf does not exist"]
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import INFO
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(INFO)


if __name__ == "__main__":
    main()
