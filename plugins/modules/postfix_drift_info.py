#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_drift_info
short_description: Compare a host with a declared Postfix multi-instance design, and list what differs
version_added: 1.0.0
description:
  - Compares the Postfix instances of the managed host with a declared design - the variables of the
    C(mailops.postfix_multi.multi_instance) role - and lists what differs and the module calls that would remove the difference. Never changes anything.
  - "Per declared instance: whether M(mailops.postfix_multi.postfix_instance) would create, import, update, deport or
    destroy it (answered by that module's own planner), which C(main.cf) parameters differ, which C(master.cf) entries
    differ, and whether it runs. Instances that are registered but not declared are listed too."
  - The multi_instance role calls it first on every host and then calls the other modules only for what it lists, so a
    host that already matches the design costs one module call. Use it on its own to report drift across a fleet.
  - The answers come from the planners of those modules applied to the files as they are, so "in sync" means that the
    module would report no change. Where a planner refuses (bad input, a configuration file with errors, an instance
    that does not exist yet), the item is reported as differing, and the module that acts on it reports the problem.
  - A host without Postfix is reported with RV(installed=false) and nothing else.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._attributes.info_module
  - mailops.postfix_multi._design
options:
  prune:
    description:
      - Whether registered instances that are not declared should go (listed in RV(actions.prune)).
      - They are listed in RV(undeclared) either way.
    type: bool
    default: false
  start:
    description:
      - Whether the primary and the declared enabled instances should run (those that do not are listed in RV(actions.start))
        and, where systemd drives Postfix, start at boot while the disabled ones do not (RV(actions.boot)).
    type: bool
    default: true
requirements:
  - Postfix 2.6 or later on the managed host. The module runs C(postconf -d) and, per instance it checks, C(postfix -c DIR status).
notes:
  - Instances are matched to declared entries by O(instances[].config_directory) when given, else by name.
  - O(instances[].position), O(instances[].before) and O(instances[].before_group) only place new instances; an
    existing instance in another place is not reported.
seealso:
  - module: mailops.postfix_multi.postfix_instance
  - module: mailops.postfix_multi.postfix_instance_info
  - module: mailops.postfix_multi.postfix_config
  - module: mailops.postfix_multi.postfix_master
"""

EXAMPLES = r"""
---
- name: Report how each host differs from the design
  mailops.postfix_multi.postfix_drift_info:
    instances:
      - name: postfix-out
        group: mta
        parameters:
          inet_interfaces: 192.0.2.25
          myhostname: out.example.com
        absent_parameters: [master_service_disable]
  register: drift

- name: Show it
  ansible.builtin.debug:
    var: drift.summary
"""

RETURN = r"""
installed:
  description: Whether Postfix is installed (C(postconf) found). When false, the module returns nothing else but RV(in_sync).
  returned: always
  type: bool
  sample: true
in_sync:
  description: Whether the host matches the design (no action listed in RV(actions)).
  returned: always
  type: bool
  sample: false
initialised:
  description: Whether multi-instance management is turned on (C(postmulti -e init)).
  returned: when Postfix is installed
  type: bool
  sample: true
primary:
  description: The primary instance.
  returned: when Postfix is installed
  type: dict
  contains:
    config_directory:
      description: Its configuration directory.
      type: str
      sample: /etc/postfix
    running:
      description: Whether it runs (V(true) when O(start=false); not checked then).
      type: bool
      sample: true
    parameters:
      description: Names of the declared parameters that differ (V(*) when the comparison cannot tell).
      type: list
      elements: str
      sample: [inet_interfaces]
    master:
      description: The C(master.cf) entries its O(primary_logging) needs that differ (C(service/type)).
      type: list
      elements: str
      sample: [postlog/unix-dgram]
instances:
  description: One entry per declared instance, in declared order.
  returned: when Postfix is installed
  type: list
  elements: dict
  contains:
    name:
      description: Instance name.
      type: str
      sample: postfix-out
    state:
      description: The declared state.
      type: str
      sample: present
    exists:
      description: Whether the instance is registered now.
      type: bool
      sample: true
    config_directory:
      description: Its configuration directory (where a new instance would be created).
      type: str
      sample: /etc/postfix-out
    lifecycle:
      description: V(in sync), or V(differs) with the planner's reason when it refused the request.
      type: str
      sample: in sync
    parameters:
      description: Names of the parameters that differ; V(*) when the comparison cannot tell.
      type: list
      elements: str
      sample: [myhostname]
    master:
      description: The C(master.cf) entries that differ, as V(service/type).
      type: list
      elements: str
      sample: [submission/inet]
    running:
      description: Whether it runs; null when that is not asked (not enabled, not present).
      type: bool
      sample: false
undeclared:
  description: Registered secondary instances that are not declared.
  returned: when Postfix is installed
  type: list
  elements: dict
  sample:
    - name: postfix-old
      group: null
      enabled: false
      config_directory: /etc/postfix-old
      running: false
systemd:
  description: Whether systemd drives Postfix on this host (PID 1, with a usable C(postfix@.service) unit).
  returned: when Postfix is installed
  type: bool
  sample: true
actions:
  description: The module calls that would bring the host to the design, in the order the role makes them.
  returned: when Postfix is installed
  type: dict
  contains:
    init:
      description: Whether M(mailops.postfix_multi.postfix_multi_init) has something to do.
      type: bool
    stop:
      description: Instances to stop before they are disabled.
      type: list
      elements: str
    instances:
      description: Declared entries (with null for options not given) that M(mailops.postfix_multi.postfix_instance) would act on.
      type: list
      elements: dict
    config:
      description:
        - C(main.cf) changes, one per instance (V(-) is the primary), with V(instance), V(parameters), V(absent),
          V(exclusive) and V(changes) (the names that differ).
      type: list
      elements: dict
    master:
      description: C(master.cf) entries to set or remove, each with V(instance) and the declared V(entry).
      type: list
      elements: dict
    prune:
      description: Configuration directories of undeclared instances to stop, disable and deport (with O(prune=true)).
      type: list
      elements: str
    start:
      description: Instances (V(-) is the primary) that should run but do not, each with V(instance) and V(exists).
      type: list
      elements: dict
    boot:
      description:
        - With O(start=true), where systemd drives Postfix, the systemctl commands that would make exactly the enabled
          instances start at boot (what M(mailops.postfix_multi.postfix_service) with O(mailops.postfix_multi.postfix_service#module:enabled=true) would run).
      type: list
      elements: str
    reload:
      description:
        - Running instances (V(-) is the primary) whose files are as declared, but that an earlier
          M(mailops.postfix_multi.postfix_multi_host) run did not get to reload after it changed them (it was killed, or
          the reload failed), each with V(instance), V(config_directory), V(state) (V(reloaded) or V(restarted)) and
          V(describe). The run leaves a marker, C(postfix_multi-reload-pending), in the instance's C(data_directory)
          before it writes the files (or rebuilds a flat lookup table of a running instance) and removes it once the
          instance has been reloaded, restarted or started.
      type: list
      elements: dict
  sample:
    init: false
    stop: []
    instances: []
    config:
      - instance: postfix-out
        parameters: {myhostname: out.example.com}
        absent: []
        exclusive: false
        changes: [myhostname]
    master: []
    prune: []
    start: []
    boot: []
    reload: []
summary:
  description: What differs, one line per item, for humans.
  returned: always
  type: list
  elements: str
  sample: ["main.cf of postfix-out: myhostname"]
problems:
  description: Problems found while reading the instance list.
  returned: when Postfix is installed
  type: list
  elements: str
  sample: []
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import DRIFT


def main() -> None:
    run(DRIFT)


if __name__ == "__main__":
    main()
