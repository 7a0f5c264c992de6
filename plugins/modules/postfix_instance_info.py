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
  - For monitoring, each instance also has its C(syslog_name) (the tag of its log lines), the addresses and ports it
    listens on, and per queue the number of messages and the age of the oldest, as C(postqueue -j) lists them
    (RV(instances[].queues)). M(mailops.postfix_multi.postfix_metrics) writes the same as Prometheus metrics.
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
  - Postfix on the managed host. The module runs C(postconf -d) and, per instance, C(postfix -c DIR status) and
    C(postqueue -c DIR -j).
notes:
  - Unlike C(postmulti -l), which prints nothing, an O(name) or O(group) that matches no instance makes the module
    fail with the list of known instances or groups.
  - Unlike postmulti, a secondary instance whose C(main.cf) cannot be read does not make the whole listing fail; it is
    left out and reported in RV(problems).
  - "RV(instances[].queues) comes from C(postqueue -c DIR -j) (Postfix 3.1 and later). For a running instance postqueue
    asks its showq(8) service; for a stopped one, run as root, postqueue runs showq(8) itself on the queue directory.
    Where that fails (an older Postfix, a stopped instance for a user that is not root), the queue files are read
    instead, with a warning; RV(instances[].queue_source) says which. RV(instances[].queue_counts) is always counted
    from the files."
seealso:
  - module: mailops.postfix_multi.postfix_service
  - module: mailops.postfix_multi.postfix_instance
  - module: mailops.postfix_multi.postfix_metrics
  - plugin: mailops.postfix_multi.postfix_instances
    plugin_type: lookup
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
  - name: postqueue(1)
    description: The JSON queue listing (C(postqueue -j)).
    link: https://www.postfix.org/postqueue.1.html
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

- name: Show where each instance logs as, and how old its oldest deferred message is
  ansible.builtin.debug:
    msg: >-
      {{ item.name or item.config_directory }} logs as {{ item.syslog_name }};
      deferred {{ item.queues.deferred.count }}{{ (', the oldest ' ~ item.queues.deferred.oldest_age ~ ' s old')
      if item.queues.deferred.oldest_age is not none else '' }}
  loop: "{{ postfix.instances }}"
  loop_control:
    label: "{{ item.name or item.config_directory }}"
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
    syslog_name:
      description:
        - The instance's C(syslog_name), expanded as C(postconf -x) shows it - the tag of its log lines
          (C(postfix-out/smtpd[123])), what log searches and parsers select an instance by.
        - Null when its C(main.cf) cannot be expanded (a problem says why).
      type: str
      sample: postfix-out
    listeners:
      description:
        - Every address and TCP port that master(8) binds for an C(inet) service of its C(master.cf) that
          C(master_service_disable) leaves on, from the files as they are now (the host in the service name, or else
          C(inet_interfaces); V(0.0.0.0) and V(::) for V(all)).
        - Empty when every C(inet) service is off (C(master_service_disable = inet), as postmulti creates instances).
      type: list
      elements: dict
      contains:
        address:
          description: The address bound.
          type: str
          sample: 127.0.0.1
        port:
          description: The TCP port.
          type: int
          sample: 10026
        service:
          description: The C(master.cf) service name.
          type: str
          sample: "127.0.0.1:10026"
        program:
          description: The program it runs (C(smtpd), C(postscreen), ...).
          type: str
          sample: smtpd
    queue_source:
      description:
        - Where RV(instances[].queues) comes from - V(postqueue) (C(postqueue -c DIR -j)) or V(files) (the queue files,
          where postqueue could not list the queue; a problem says why).
        - The V(corrupt) and V(saved) queues, which postqueue never lists, are always read from their files.
      type: str
      choices: [postqueue, files]
      sample: postqueue
    queues:
      description:
        - Per queue (V(incoming), V(active), V(deferred), V(hold), V(maildrop), V(corrupt), V(saved)), its messages
          and its oldest message.
        - No addresses; only counts and times.
      type: dict
      contains:
        deferred:
          description: One queue; every queue has the same keys.
          type: dict
          contains:
            count:
              description: Messages in the queue.
              type: int
            oldest_arrival_time:
              description: Arrival time of the oldest message, in Unix time (the C(arrival_time) of C(postqueue -j)); null when empty.
              type: int
            oldest_age:
              description: Seconds since the oldest message arrived; null when the queue is empty.
              type: int
      sample:
        deferred:
          count: 2
          oldest_arrival_time: 1796515067
          oldest_age: 3600
        hold:
          count: 0
          oldest_arrival_time: null
          oldest_age: null
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

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._monitor import INFO
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(INFO)


if __name__ == "__main__":
    main()
