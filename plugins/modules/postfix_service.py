#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_service
short_description: Start, stop, reload, restart, flush or check Postfix instances in postmulti's order
version_added: 1.0.0
description:
  - Runs Postfix commands over the instances of a multi-instance host like C(postmulti -p) (what C(postfix start) runs
    in multi-instance mode) - in the same order, with the same treatment of disabled instances, but idempotently for
    O(state=started) and O(state=stopped).
  - "Order and disabled instances, as postmulti: V(started) goes in start order (primary first, then
    C(multi_instance_directories)) and runs C(postfix check) instead of a start for a disabled instance; V(stopped) goes in
    reverse order and skips disabled instances; V(reloaded) and V(flushed) go in start order and skip disabled
    instances."
  - Idempotence beyond postmulti, which fails to start a running instance and to stop a stopped one. V(started) starts
    only enabled instances that are not running, V(stopped) stops only running ones, V(reloaded) and V(flushed) act
    only on running instances. Whether an instance runs is decided by C(postfix -c DIR status).
  - Every command runs for one instance at a time (C(postfix -c DIR -- COMMAND)), sequentially; after a failure the
    remaining instances are still handled, as with postmulti, and the module then fails. Postfix's own messages are
    captured (Postfix before 3.11 prints them only to a terminal, so the commands run under a pseudo-terminal) and
    returned for every instance in RV(results).
  - Where systemd is PID 1 and a C(postfix@.service) template unit is installed (Debian's package), V(started),
    V(stopped), V(reloaded) and V(restarted) drive each instance through the unit that the host's Postfix package
    names for it, so that systemd knows what runs, and O(enabled) decides which instances start at boot. The unit
    files on the host say how the package names units (see O(use)); no release name or variable is needed.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports, per instance, the command that would run; it runs only C(postfix status) (and, with
        systemd, C(systemctl is-active) and C(systemctl is-enabled)) to learn what runs and what starts at boot.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - O(state=started) and O(state=stopped) are idempotent.
      - O(state=reloaded), O(state=restarted) and O(state=flushed) act every time on the instances that qualify, and
        report a change then.
      - O(state=checked) and O(command=[status]) never report a change; any other O(command) reports a change whenever
        it ran.
      - O(enabled) is idempotent.
options:
  state:
    description:
      - V(started) starts the enabled instances that are not running; a disabled instance is checked (C(postfix check))
        instead.
      - V(stopped) stops the running enabled instances, in reverse order. A disabled instance is never stopped, even
        when it runs (postmulti ignores it too; the module warns). Stop an instance before disabling it.
      - V(reloaded) reloads (C(postfix reload)) the running enabled instances.
      - V(restarted) stops the running enabled instances in reverse order, then starts every enabled instance in start
        order (disabled ones are checked).
      - V(flushed) asks the running enabled instances to retry their deferred mail (C(postfix flush)).
      - V(checked) runs C(postfix check) for every selected instance, disabled ones included.
      - At most one of O(state) and O(command); at least one of O(state), O(command) and O(enabled).
    type: str
    choices: [started, stopped, reloaded, restarted, flushed, checked]
  enabled:
    description:
      - Whether the units of the selected instances start at boot (where systemd drives Postfix, see O(use)).
      - V(true) makes each selected instance that postmulti enables (C(multi_instance_enable = yes)) start at boot and
        keeps each disabled one from starting, so that a reboot brings back exactly the enabled instances and no unit
        fails. V(false) keeps every selected instance from starting at boot.
      - "How depends on the host's packaging, read from its unit files: where a generator makes C(postfix.service)
        want every listed instance (C(postfix-instance-generator), Debian 11 and 12), C(postfix.service) is enabled
        and the unit of an instance that must not start is masked (C(systemctl mask postfix@postfix-out.service)),
        since the generator pulls in disabled instances too; C(systemctl daemon-reload) runs when the instance list
        changed since the generator last ran. Without O(name) and O(group) (the whole host), a mask of a
        C(postfix@NAME.service) that no listed instance has - left by an instance masked while disabled, then destroyed,
        deported or renamed - is removed (C(systemctl unmask)): it would keep a later instance of that name from ever
        starting. Where units are named after the configuration directory and nothing pulls them in
        (C(postfix@out.service) for C(/etc/postfix-out), C(postfix.service) for the primary, Debian 13), the units are
        enabled or disabled (C(systemctl enable postfix@out.service))."
      - An instance that no unit of the package can drive (Debian 13 - a configuration directory not named
        C(/etc/postfix-NAME); Debian 11 and 12 - a nameless instance) does not start at boot; the module warns.
      - Where systemd is not PID 1 or O(use=postmulti), boot is left alone (with a warning); Debian's init script
        starts Postfix with postmulti's rules, which start enabled instances only.
      - The boot settings are made before O(state) acts, so that a masked unit is unmasked before its instance starts.
      - Without O(enabled), boot is left alone; V(started) and V(restarted) then warn where what starts at boot does not
        follow postmulti's enable flags.
    type: bool
  command:
    description:
      - Any other C(postfix) command with its arguments, for example V([status]) or V([tls, all-default-client]), run
        for each selected instance exactly like C(postmulti -p) runs it, without idempotence.
      - "postmulti's classes apply, read from the primary C(main.cf): a start command (C(postmulti_start_commands),
        default C(start)) runs in start order and becomes C(check) for disabled instances; a stop command
        (C(postmulti_stop_commands), default C(stop abort drain quick-stop)) runs in reverse order for enabled instances;
        a control command (C(postmulti_control_commands), default C(reload flush)) runs in start order for enabled
        instances; any other command runs in start order for every instance."
      - As with postmulti, the module fails with C(No matching instances) when every selected instance would be skipped.
      - Commands that are paths or options are refused; run other programs with M(ansible.builtin.command) and the
        C(environment) returned by M(mailops.postfix_multi.postfix_instance_info).
    type: list
    elements: str
  name:
    description:
      - Act only on the instance selected by this name, as C(postmulti -i) selects it.
      - "A full name (V(postfix-out)), the name without C(postfix-) (V(out)), a configuration directory
        (V(/etc/postfix-out); the only way to select a nameless instance), or V(-) for the primary."
      - Without O(name) and O(group), every instance is selected.
      - Mutually exclusive with O(group).
    type: str
  group:
    description:
      - Act only on the instances of this group (C(multi_instance_group)), as C(postmulti -g) selects them.
      - Mutually exclusive with O(name).
    type: str
  reverse:
    description:
      - Run in reverse start order, like postmulti's C(-R).
      - Only where the order is free, as postmulti allows C(-R) only with C(-x) and C(-l), not with C(-p) - that is
        with O(state=checked) and with a O(command) outside the start, stop and control classes (for example
        V([status])). Elsewhere the module fails.
    type: bool
    default: false
  use:
    description:
      - How V(started), V(stopped), V(reloaded) and V(restarted) act on an instance.
      - V(postmulti) runs C(postfix -c DIR start) (C(stop), C(reload)) as C(postmulti -p) does.
      - V(systemd) goes through the instance's unit as the host's package names it. Where C(postfix@.service) runs
        C(postmulti -i %i) (Debian 11, 12), the unit is C(postfix@NAME.service) for the instance's
        C(multi_instance_name) and C(postfix@-.service) for the primary. Where C(postfix@.service) takes the
        configuration directory from C(%I) (C(MAIL_CONFIG=/etc/postfix-%I), Debian 13), the unit is
        C(postfix@X.service) for C(/etc/postfix-X) (escaped as C(systemd-escape) does) and C(postfix.service) for the
        primary; since every other unit is C(PartOf=postfix.service), the primary is stopped and reloaded with
        C(postfix -c /etc/postfix), so that the other instances keep running.
      - An instance without a usable unit (see O(enabled)) and an instance whose unit is inactive although its master
        runs (started by hand) are still handled with C(postfix -c DIR).
      - V(auto) picks V(systemd) when systemd is PID 1 and a usable C(postfix@.service) unit is installed, else
        V(postmulti).
      - V(flushed), V(checked) and O(command) always run C(postfix -c DIR).
    type: str
    choices: [auto, postmulti, systemd]
    default: auto
requirements:
  - Postfix 2.6 or later on the managed host, run as root.
notes:
  - Unlike postmulti, an O(name) or O(group) that matches no instance makes the module fail with the list of known
    instances or groups.
  - The systemd path is tested on booted Debian 11, 12 and 13 hosts (systemd as PID 1, reached over SSH), including
    a reboot that must bring back exactly the enabled instances; the V(postmulti) path on hosts without systemd.
  - A secondary instance whose C(main.cf) cannot be read is skipped with a warning; directory conflicts between
    instances make the module fail, as they make postmulti fail.
seealso:
  - module: mailops.postfix_multi.postfix_instance_info
  - module: mailops.postfix_multi.postfix_instance
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
  - name: postfix(1)
    description: The Postfix control program and its commands.
    link: https://www.postfix.org/postfix.1.html
"""

EXAMPLES = r"""
---
- name: Start every enabled instance (check the disabled ones)
  mailops.postfix_multi.postfix_service:
    state: started

- name: Reload the instances of the mta group after a configuration change
  mailops.postfix_multi.postfix_service:
    group: mta
    state: reloaded

- name: Stop one instance
  mailops.postfix_multi.postfix_service:
    name: postfix-out
    state: stopped

- name: Ask every instance for its status, last instance first (never changes anything)
  mailops.postfix_multi.postfix_service:
    command: [status]
    reverse: true
  register: status
  failed_when: false

- name: Start every enabled instance now and at boot; keep the disabled ones from starting at boot
  mailops.postfix_multi.postfix_service:
    state: started
    enabled: true

- name: Restart through postmulti even where systemd manages Postfix
  mailops.postfix_multi.postfix_service:
    state: restarted
    use: postmulti
"""

RETURN = r"""
backend:
  description: How instances were started, stopped, reloaded and restarted.
  returned: always
  type: str
  choices: [postmulti, systemd]
  sample: postmulti
daemon_reload:
  description: Whether C(systemctl daemon-reload) ran (or, in check mode, would run) first.
  returned: always
  type: bool
  sample: false
packaging:
  description: How the host's Postfix package names its units, as read from its unit files; null without systemd.
  returned: always
  type: str
  sample: "/usr/lib/systemd/system/postfix@.service: postfix@X for /etc/postfix-X, primary postfix.service"
boot:
  description:
    - With O(enabled), one entry per selected instance; empty without O(enabled) or where systemd does not drive Postfix.
    - Also one entry per stale mask removed (see O(enabled)), labelled with the unit's instance name, V(wanted=false).
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: The instance (name, or configuration directory of a nameless one).
      type: str
      sample: postfix-out
    unit:
      description: Its unit, or null when no unit of the package can drive it.
      type: str
      sample: postfix@postfix-out.service
    state:
      description: What C(systemctl is-enabled) said of the unit before the module acted.
      type: str
      sample: masked
    wanted:
      description: Whether the instance should start at boot.
      type: bool
      sample: true
    verbs:
      description: The systemctl verbs run (would run, in check mode) for the unit, in order.
      type: list
      elements: str
      sample: [unmask]
    starts_at_boot:
      description: Whether the instance starts at boot afterwards.
      type: bool
      sample: true
    note:
      description: Why an instance that should start at boot cannot, why a stale mask was removed, or empty.
      type: str
      sample: ""
results:
  description:
    - One entry per selected instance and step, in the order the steps ran (would run, in check mode).
    - For O(state=restarted) an instance appears twice, once for the stop and once for the start.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Instance name, or null for a nameless instance.
      type: str
      sample: postfix-out
    group:
      description: Instance group, or null.
      type: str
      sample: mta
    enabled:
      description: Whether the instance is enabled (C(multi_instance_enable)).
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
    running:
      description: Whether the instance was running before the module acted.
      type: bool
      sample: false
    action:
      description: The Postfix command run (V(start), V(stop), V(reload), V(flush), V(check), or the O(command) word), or V(none).
      type: str
      sample: start
    reason:
      description: "Why nothing was done (for example V(already running)), or how the action was carried out."
      type: str
      sample: ""
    via:
      description: V(postfix) (C(postfix -c DIR)), V(systemd) (the instance's unit), or null when nothing ran.
      type: str
      sample: postfix
    cmd:
      description: The command run (or that would run in check mode), or null.
      type: list
      elements: str
      sample: [/usr/sbin/postfix, -c, /etc/postfix-out, --, start]
    rc:
      description: Its exit status; null when nothing ran (also in check mode).
      type: int
      sample: 0
    output:
      description: What it printed (standard output and error), including Postfix's own messages.
      type: str
      sample: "postfix-out/postfix-script: starting the Postfix mail system"
    changed:
      description: Whether this step changed (or, in check mode, would change) something.
      type: bool
      sample: true
started:
  description:
    - The instances this run started (or would start, in check mode) that were not running, by name (config directory
      for a nameless one); with O(state=restarted), an instance that did not run is only started and is listed here.
  returned: always
  type: list
  elements: str
  sample: [postfix-out]
stopped:
  description: The instances this run stopped (or would stop).
  returned: always
  type: list
  elements: str
  sample: []
restarted:
  description: The instances this run stopped and started again (or would).
  returned: always
  type: list
  elements: str
  sample: [postfix-mx]
reloaded:
  description: The running instances this run reloaded (or would reload).
  returned: always
  type: list
  elements: str
  sample: []
flushed:
  description: The running instances asked to retry their deferred mail (or that would be).
  returned: always
  type: list
  elements: str
  sample: []
msg:
  description: What was done, for humans; on failure the failed commands with Postfix's messages.
  returned: always
  type: str
  sample: ran start for postfix-out
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import SERVICE
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(SERVICE)


if __name__ == "__main__":
    main()
