#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_multi_host
short_description: Converge a whole host to a declared Postfix multi-instance design in one call
version_added: 1.0.0
description:
  - Takes the whole design of one host - the secondary instances and the primary's C(main.cf) parameters, in the schema of
    the C(mailops.postfix_multi.multi_instance) role's variables - and in one call plans every difference
    (M(mailops.postfix_multi.postfix_drift_info) lists the same plan), validates the result and applies it.
  - "Order: every C(main.cf)/C(master.cf) edit of an existing instance, and every new instance's whole configuration, is
    validated on a private copy of its configuration directory (C(postconf -n), C(postconf -M), C(postfix check);
    and each number, time, boolean or bounded string value it sets as the Postfix program that reads it converts it at
    start-up, so that C(smtpd_recipient_limit = abc), which C(postfix check) lets pass and smtpd stops on, is refused),
    several instances at a time, before anything is written; multi-instance management is
    turned on; instances to be disabled are stopped; instances are created (disabled until their configuration validated,
    registered last), updated, deported or destroyed; the validated edits are written; with O(state=overridden) the
    undeclared instances are deported; exactly the enabled instances start at boot (systemd); changed instances are
    restarted where a changed setting needs it (C(inet_interfaces), C(inet_protocols), a new or changed C(master.cf)
    command) and reloaded otherwise; the instances that should run are started; with O(probe=true) every enabled
    instance is probed on its listeners."
  - An instance this call created, whose configuration passed C(postfix check) on the private copy and whose directories
    C(postfix set-permissions) has just made, starts with Postfix's own C(quick-start) marker in its queue directory, so
    that C(postfix start) does not run the same integrity check (C(check-fatal), C(check-warn)) a second time, as after
    C(postfix quick-stop). A marker that no start took (the start failed before C(postfix start) ran) is removed, so the
    next start of that instance checks as usual. Existing instances always start with the full check.
  - If any instance's new configuration is refused, the task fails with Postfix's own message for each refused instance
    and nothing is written.
  - "The C(master.cf) entries of O(instances[].master) are checked as M(mailops.postfix_multi.postfix_master) checks its
    options, before anything is read from the host, in check mode too. Each item takes the keys C(service), C(type),
    C(private), C(unprivileged), C(chroot), C(wakeup), C(maxproc), C(command) and C(state) (the options of
    M(mailops.postfix_multi.postfix_master) for the entry); an unknown key (such as C(maxprocs) or C(comand)) fails the
    task with the keys it takes, and so does a second item with the same C(service) and C(type) in one instance's list."
  - The fine-grained modules (M(mailops.postfix_multi.postfix_instance), M(mailops.postfix_multi.postfix_config),
    M(mailops.postfix_multi.postfix_master), M(mailops.postfix_multi.postfix_service),
    M(mailops.postfix_multi.postfix_health)) run the same code; use them for single changes.
  - A host without Postfix is reported with RV(installed=false) and nothing else, unless O(install=true).
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._design
  - mailops.postfix_multi._writes
  - mailops.postfix_multi._probes
attributes:
  check_mode:
    support: full
    details:
      - Check mode validates every changed configuration on private copies, new instances included (also on a host where
        multi-instance management is not turned on yet), and reports the rest of the plan; it writes nothing and starts
        nothing. O(probe) is skipped in check mode when the host would change.
      - Each step is planned on what the steps before it would have written (several new instances registered one after
        the other, the units masked or unmasked for them), so that the diffs, messages and RV(started) of check mode are
        those of the real run; an instance that cannot be destroyed or deported is refused before anything is changed, in
        check mode and for real.
  diff_mode:
    support: full
    details:
      - One diff per changed file (C(main.cf), C(master.cf), the primary's instance list) and per changed instance record.
  idempotent:
    support: full
options:
  state:
    description:
      - How the design is applied, after Ansible's resource modules.
      - V(merged) creates and updates the declared instances and parameters and leaves everything else alone.
      - V(replaced) does the same, but the C(main.cf) of each declared instance holds exactly the declared parameters
        (O(instances[].exclusive) defaults to V(true); the parameters that say which instance a file belongs to and the
        installation parameters postmulti copies are kept). The settings postmulti writes into a new instance,
        C(master_service_disable = inet) and C(authorized_submit_users =), are ordinary settings; declare them to keep them,
        or the instance starts listening on C(inet_interfaces) (default all addresses) at the next restart.
      - V(overridden) is V(merged) plus the deportation of every registered instance that is not declared (its files and
        queues are kept; C(postmulti -e deport)). A nameless instance (C(postmulti -I - -e create)), which a design cannot
        declare, is left alone.
      - V(gathered) changes nothing and returns the host's instances in the schema of O(instances) (RV(gathered)).
        Bytes that are not UTF-8 in a C(main.cf) value or a C(master.cf) entry (Postfix takes any) are returned as U+FFFD,
        and a warning names each value returned so. Such a value given back as gathered is the current one - nothing is
        written and the bytes stay as they are, here and in M(mailops.postfix_multi.postfix_drift_info) - while any other
        value is written as declared. A parameter name, service name or type with such bytes cannot be declared; it is
        left out of the design, with a warning. So is a nameless instance. An entry that C(master.cf) lists more than once is
        one item, the last (the one master(8) uses), with a warning; given back, it becomes the only one, as
        C(postconf -M) makes it.
      - V(rendered) (the configuration without a host) does not fit, since a new instance's files are built from the host's
        own Postfix; use check mode with diff instead.
    type: str
    choices: [merged, replaced, overridden, gathered]
    default: merged
  start:
    description:
      - Whether the primary and the declared enabled instances should run (they are started if they do not) and, where
        systemd drives Postfix, start at boot while the disabled ones do not.
    type: bool
    default: true
  validate:
    description: Whether changed configuration is checked on a private copy before it is written.
    type: bool
    default: true
  check_before:
    description:
      - Whether C(postfix check) must pass for every instance before a host that differs from the design is changed.
      - The instances are checked several at a time, while the changes are planned and validated; a failure fails the task
        (with RV(stage=preflight), also when a change was refused as well), names every instance that failed, and changes nothing.
    type: bool
    default: true
  check_always:
    description:
      - Whether C(postfix check) must pass for every instance, disabled ones included, on every call - also when the
        host matches the design - before anything else is done; a failure fails the task (with RV(stage=preflight)) and
        changes nothing. Not run in check mode.
      - The rollout playbook's C(postfix_multi_rollout_preflight=always).
    type: bool
    default: false
  apply_changes:
    description: Whether changed running instances are reloaded (or restarted where a changed setting needs it).
    type: bool
    default: true
  probe:
    description:
      - Whether every enabled instance must run and answer on its listeners after the change, as
        M(mailops.postfix_multi.postfix_health) checks it; the task fails when one does not (RV(health)).
      - After a C(postfix -c DIR status) that succeeded (not in check mode), the call leaves C(postfix_multi-status-ok)
        in the instance's C(data_directory), naming the C(main.cf), default C(main.cf) and master pid file it read. While
        these stay as they are, later checks tell the same answer from the master's lock, without the command.
    type: bool
    default: false
  probe_timeout:
    description: Seconds the probes may take in all, above 0 and at most 3600.
    type: float
    default: 30.0
  install:
    description:
      - What a host without Postfix (no C(postconf)) gets. With V(false) the call reports RV(installed=false) and changes
        nothing.
      - With V(true) the action plugin installs O(packages) there with M(ansible.builtin.package) (its module_defaults and
        C(ansible_package_use) apply, as to a task of its own; on Debian, M(ansible.builtin.apt) installs C(python3-apt)
        first when the host lacks it), then runs the module again, so that the design is converged in the same task, which
        reports a change and the packages (RV(packages)). A host that has Postfix costs nothing more.
      - In check mode the package manager is not asked (M(ansible.builtin.apt) cannot answer without C(python3-apt), and
        installing that would change the host); the task reports the packages a real run would install, as a change,
        and plans nothing else for that host.
    type: bool
    default: false
  packages:
    description:
      - The packages O(install=true) installs. Empty (the default), the platform's, from the host's facts (gathered with
        the C(min) subset when the play has none); only Debian's and its derivatives' are known (V(postfix)).
    type: list
    elements: str
    default: []
notes:
  - The multi_instance role makes this one call per host, the package installation on a host without Postfix included.
  - A call holds the lock on the primary's config directory (C(flock), as the other modules of the collection take it)
    from its comparison to its last change; a second call on the same host, or another module's task, waits for it (at
    most 300 s), so two runs never interleave their steps.
  - This module has an action plugin on the controller. Ansible builds the module's payload (the module and the
    collection's module_utils it ships to each host) once per C(ansible-playbook) run, about 0.3 s of one controller CPU
    before the first host starts; the action plugin keeps the payload Ansible built in
    C(mailops.postfix_multi-ansiballz/) in Ansible's local temporary directory (C(ANSIBLE_LOCAL_TEMP), default
    C(~/.ansible/tmp)), private to the user (mode 0700), under a key of the ansible-core installation and the collection's
    files, and gives it back to Ansible on the next run. An upgrade of either makes a new key; the eight most recently
    used keys are kept. The directory can be removed at any time.
seealso:
  - module: mailops.postfix_multi.postfix_drift_info
  - module: mailops.postfix_multi.postfix_health
  - module: mailops.postfix_multi.postfix_tls_info
  - name: Postfix MULTI_INSTANCE_README
    description: Managing multiple Postfix instances on a single host.
    link: https://www.postfix.org/MULTI_INSTANCE_README.html
"""

EXAMPLES = r"""
- name: Converge the host and probe every instance afterwards
  mailops.postfix_multi.postfix_multi_host:
    instances:
      - name: postfix-out
        group: mta
        parameters:
          inet_interfaces: 127.0.0.2
          myhostname: out.example.net
        master:
          - {service: "127.0.0.2:smtp", type: inet, private: false, command: smtpd}
    primary_parameters:
      inet_interfaces: loopback-only
    probe: true

- name: postfix-out serves an ECDSA and an RSA certificate, checked before its configuration changes
  mailops.postfix_multi.postfix_multi_host:
    instances:
      - name: postfix-out
        parameters:
          inet_interfaces: 127.0.0.2
        tls:
          chains:
            - chain_file: /etc/postfix-out/tls/ecdsa.pem
            - key_file: /etc/postfix-out/tls/rsa.key
              cert_file: /etc/postfix-out/tls/rsa.crt
          security_level: may
          expiry_warning_days: 21
- name: Each instance logs under its own name, postfix-out to a file of its own
  mailops.postfix_multi.postfix_multi_host:
    instances:
      - name: postfix-in
        logging: {to: syslog}
      - name: postfix-out
        logging: {to: file, file: /var/log/postfix-out.log}
    primary_logging: {to: syslog, syslog_name: postfix-main}

- name: Everything that is not declared goes (deported, files and queues kept)
  mailops.postfix_multi.postfix_multi_host:
    state: overridden
    instances: "{{ postfix_multi_instances }}"

- name: Read the host back as a design
  mailops.postfix_multi.postfix_multi_host:
    state: gathered
  register: design
"""

RETURN = r"""
installed:
  description:
    - Whether Postfix is installed; when not, nothing else was looked at.
    - After O(install=true) installed it, true (the answer of the module's second run).
  returned: always
  type: bool
  sample: true
packages:
  description: The packages O(install=true) installed (in check mode, would install) on a host without Postfix.
  returned: when O(install=true) found no Postfix
  type: list
  elements: str
  sample: [postfix]
in_sync:
  description: Whether the host matched the design before the call.
  returned: unless O(state=gathered) or Postfix is missing
  type: bool
  sample: false
drift:
  description: What differed, one line per item (as M(mailops.postfix_multi.postfix_drift_info) RV(mailops.postfix_multi.postfix_drift_info#module:summary)).
  returned: unless O(state=gathered) or Postfix is missing
  type: list
  elements: str
  sample: ["create instance postfix-out (group mta, enabled) with main.cf inet_interfaces, myhostname", "start postfix-out"]
actions:
  description: The plan, as M(mailops.postfix_multi.postfix_drift_info) RV(actions) lists it.
  returned: unless O(state=gathered) or Postfix is missing
  type: dict
  sample: {init: false, stop: [], instances: [], config: [], master: [], prune: [], start: [], boot: [], reload: []}
instances:
  description:
    - Per instance (by name; V(-) is the primary) what was done (or would be, in check mode).
    - C(actions) lists it for humans; C(changed_parameters) and C(changed_entries) name the changed C(main.cf) parameters
      and C(master.cf) entries; C(started), C(restarted), C(reloaded) say what happened to the running instance.
    - C(moved_mail), for an instance removed with O(instances[].move_mail_to), is the mail moved to the sibling, as
      RV(mailops.postfix_multi.postfix_instance#module:moved_mail) of M(mailops.postfix_multi.postfix_instance) reports it.
    - C(tls), for an instance with O(instances[].tls) that was created or changed, is the check of its TLS material as
      M(mailops.postfix_multi.postfix_tls_info) returns it per instance (C(ok), C(problems), C(warnings), C(chains)).
  returned: unless O(state=gathered) or Postfix is missing
  type: dict
  sample:
    postfix-out:
      actions: ["created postfix-out"]
      changed_parameters: [inet_interfaces, myhostname]
      changed_entries: ["127.0.0.2:smtp/inet"]
      started: true
      restarted: false
      reloaded: false
started:
  description: Instances started (in check mode, that would be).
  returned: unless O(state=gathered) or Postfix is missing
  type: list
  elements: str
  sample: [postfix-out]
restarted:
  description: Instances restarted because a changed setting needs it.
  returned: unless O(state=gathered) or Postfix is missing
  type: list
  elements: str
  sample: []
reloaded:
  description: Instances reloaded after a change.
  returned: unless O(state=gathered) or Postfix is missing
  type: list
  elements: str
  sample: [postfix-in]
health:
  description: The result of the probes, as M(mailops.postfix_multi.postfix_health) returns it; null when not asked for
    (O(probe=false)) or skipped.
  returned: always
  type: dict
  sample: {passed: true, failures: [], instances: []}
gathered:
  description: The host as a design, in the schema of O(instances) and O(primary_parameters).
  returned: when O(state=gathered)
  type: dict
  sample:
    instances:
      - name: postfix-out
        group: mta
        enabled: true
        config_directory: /etc/postfix-out
        queue_directory: /var/spool/postfix-out
        data_directory: /var/lib/postfix-out
        parameters: {inet_interfaces: 127.0.0.2}
        master: [{service: smtp, type: inet, private: n, unprivileged: "-", chroot: y, wakeup: "-", maxproc: "-", command: smtpd}]
    primary_parameters: {inet_interfaces: loopback-only}
done:
  description:
    - When the task failed after it had changed the host (an instance created, a file written, a unit enabled, and then
      a start failed), what it had done, in order, as RV(msg) lists it on success. The task then also reports
      C(changed=true), RV(instances) and RV(started), RV(restarted) and RV(reloaded) up to the failure, so that the
      next run (which plans from the host as it is) and the operator both know where it stopped.
  returned: on failure after a change
  type: list
  elements: str
  sample: ["created postfix-out in /etc/postfix-out"]
stage:
  description:
    - When the task failed, the step that failed - V(preflight) (C(postfix check) of the current configuration, see
      O(check_before) and O(check_always)), V(validate) (a new configuration or lookup table refused), V(tls) (the TLS
      material refused) or V(health) (a probe failed); nothing was changed for the first three.
  returned: on failure at one of these steps
  type: str
  sample: preflight
msg:
  description: What was done, for humans.
  returned: always
  type: str
  sample: "created postfix-out; started postfix-out"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import HOST


def main() -> None:
    run(HOST)


if __name__ == "__main__":
    main()
