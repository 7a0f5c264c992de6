#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_instance
short_description: Create, import, destroy, deport, enable, disable and name Postfix instances (C(postmulti -e))
version_added: 1.0.0
description:
  - Manages one secondary Postfix instance (or the name, group and enable flag of the primary) with the same end state
    as C(postmulti -e create|import|destroy|deport|enable|disable|assign), but idempotently, with check mode and diff,
    and with the checks postmulti lacks.
  - An instance is identified by O(config_directory) when given, else by O(name). If the directory is registered under
    another name or group, the module assigns the requested ones (postmulti's C(assign)).
  - A new instance is built from the prototypes in C($meta_directory) (C(main.cf.proto), C(master.cf.proto)) exactly as
    postmulti does, its directories are created and their ownership set by the real C(postfix -c DIR set-permissions),
    and it is then registered in the primary's C(multi_instance_directories). If that last step fails, the registration
    is rolled back and a re-run completes the job. If O(config_directory) already holds both C(main.cf) and
    C(master.cf), the instance is imported as it is (postmulti's C(import)).
  - The primary's C(main.cf) is locked while it is read and changed, so concurrent runs on one host (several plays or
    forks) do not lose each other's edits.
  - Destroying an instance refuses, always, while its queue holds mail, and says how many messages - unless
    O(move_mail_to) moves that mail to a sibling instance first. It removes the
    instance's directories completely when they hold only what Postfix itself creates there (empty queue directories,
    sockets, pid and lock files, the data directory's caches); anything else is left in place and listed in
    RV(leftovers).
  - Life-cycle changes need multi-instance management turned on first, see M(mailops.postfix_multi.postfix_multi_init).
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._writes
  - mailops.postfix_multi._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports the C(main.cf) and C(master.cf) texts a new instance gets from the prototypes; the real
        C(postfix set-permissions) run on apply may add installation parameters to the new C(main.cf).
      - On a host where multi-instance management is not turned on yet, check mode plans a new instance as if
        M(mailops.postfix_multi.postfix_multi_init) had run before it (as an earlier task of the play would have, also in check
        mode) and says so in a warning; the real run refuses until it has.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description:
      - Full instance name, starting with V(postfix-) (for example V(postfix-out)), or V(-) for a nameless instance.
      - Without O(config_directory), the instance is looked up by this name; a new one gets the directories derived from
        it as postmulti does (C(/etc/postfix-out), C(/var/spool/postfix-out), C(/var/lib/postfix-out)).
      - With O(config_directory), the instance found there is given this name.
      - "Allowed characters are letters, digits and C(! @ % - _ = + : .)."
      - One of O(name) and O(config_directory) is required.
    type: str
  config_directory:
    description:
      - The instance's configuration directory. Identifies the instance when given.
      - Defaults to the sibling of the primary's configuration directory named after O(name).
      - Must be an absolute path, not a system directory, and not in use by another instance (compared after resolving
        C(..), duplicate slashes and symbolic links).
    type: path
  queue_directory:
    description:
      - The queue directory of a new instance. Defaults to the sibling of the primary's queue directory named after O(name).
      - For an existing or imported instance it must match what the instance uses; the module never moves a queue.
      - Taken literally, like O(config_directory) and O(data_directory) - a path containing C($), which Postfix would
        expand to another directory, is refused - and it must differ from the instance's own other two directories and
        from every other instance's (not inside, not around them).
    type: path
  data_directory:
    description:
      - The data directory of a new instance. Defaults to the sibling of the primary's data directory named after O(name).
      - For an existing or imported instance it must match what the instance uses.
    type: path
  group:
    description:
      - Instance group (C(multi_instance_group)). Omit to leave it alone, V('') (or V(-)) to clear it.
      - "Allowed characters are letters, digits and C(! @ % - _ = + : . /)."
    type: str
  state:
    description:
      - V(present) creates the instance, or imports it when O(config_directory) already holds C(main.cf) and C(master.cf).
      - V(absent) destroys it (postmulti's C(destroy)). An instance that is not registered is left alone.
      - V(deported) removes it from C(multi_instance_directories) and adds it to C(alternate_config_directories), keeping
        its files (postmulti's C(deport)).
    type: str
    choices: [present, absent, deported]
    default: present
  enabled:
    description:
      - Whether C(postfix start) (C(postmulti -p start)) starts the instance (C(multi_instance_enable)).
      - Omit to leave it alone. A new instance is disabled unless V(true).
      - Nothing is started or stopped. A running instance that is disabled keeps running and is skipped by C(postfix stop).
    type: bool
  position:
    description:
      - Where a new instance goes in the start order (C(multi_instance_directories)). V(first) puts it before every
        secondary instance (postmulti C(-a)), V(last) after them.
      - Applies only when the instance is added; existing instances keep their place.
      - Mutually exclusive with O(before) and O(before_group).
    type: str
    choices: [first, last]
  before:
    description:
      - Put a new instance just before this secondary instance (name, name without C(postfix-), or config directory;
        postmulti C(-i)).
      - Downstream instances (for example the one a content filter delivers to) should start before the ones feeding them.
    type: str
  before_group:
    description:
      - Put a new instance just before the first secondary instance of this group (postmulti C(-g)).
    type: str
  force:
    description:
      - With O(state=absent) or O(state=deported), stop a running instance and disable an enabled one first, instead of
        refusing.
      - Destroying still refuses while the queue holds mail (see O(move_mail_to)).
    type: bool
    default: false
  move_mail_to:
    description:
      - With O(state=absent) or O(state=deported), move the instance's queued mail to this sibling instance on the same
        host first (name, name without C(postfix-), config directory, or V(-) for the primary, as postmulti C(-i)), so
        that the instance can be destroyed now instead of after its queue drained.
      - The instance is stopped first (a running one only with O(force=true)). Every message of its C(incoming),
        C(active), C(deferred) and C(maildrop) queues is requeued in the sibling through the sibling's C(maildrop) queue,
        as C(postsuper -r) requeues mail (the sibling's C(pickup) and C(cleanup) give it a new queue ID; its address
        rewriting and content filter apply). A message of the C(hold) queue goes to the sibling's C(hold) queue and stays
        held. Each new queue file is named after its own inode in the sibling's queue ID format (C(enable_long_queue_ids)),
        keeps its mode, times and owner (the sibling's C(mail_owner) for files of the instance's), and the source file
        goes only after the copy is on disk; the sibling is then flushed (C(postfix flush)) if it runs.
      - A run killed at any point (even with C(kill -9)) loses no message, and running the task again finishes the move
        without requeueing any message twice; until then the sibling's queue directory holds a C(mailops-move) directory
        with the state of the move.
      - Mail that cannot be requeued is never moved and never deleted - files of the C(corrupt) and C(saved) queues,
        queue files whose records do not parse, files still being written (not mode 0700), files whose name is not a queue
        ID - and is listed in RV(moved_mail.kept). O(state=absent) refuses, before anything is changed, while such files
        exist; O(state=deported) moves the rest and leaves them.
      - Check mode lists the messages that would move (RV(moved_mail)); for a running instance that list is a snapshot.
    type: str
  parameters:
    description:
      - C(main.cf) parameters the instance must have, with the meaning (and the same code) of
        O(mailops.postfix_multi.postfix_config#module:parameters).
      - "A new instance is written with them - and with O(absent_parameters), O(exclusive) and O(master) - in the same
        run: the whole new configuration is first checked on a private copy (C(postconf -n), C(postconf -M),
        C(postfix check), and every number, time, boolean or bounded string value as the program that reads it
        converts it at start-up), in check mode too, and only then written and registered, enabled if O(enabled=true). A
        refused value leaves nothing created; the instance never exists with the stock configuration."
      - An existing instance's C(main.cf) is changed as postfix_config would change it; the result says whether the
        change needs a restart (RV(restart_required)). This module never reloads or restarts.
      - Only with O(state=present).
    type: dict
  absent_parameters:
    description:
      - C(main.cf) parameters to remove, as O(mailops.postfix_multi.postfix_config#module:absent).
    type: list
    elements: str
  exclusive:
    description:
      - Remove every other explicitly set parameter, as O(mailops.postfix_multi.postfix_config#module:exclusive).
    type: bool
    default: false
  master:
    description:
      - C(master.cf) entries, each with the options of M(mailops.postfix_multi.postfix_master) (V(service), V(type),
        V(private), V(unprivileged), V(chroot), V(wakeup), V(maxproc), V(command), V(state)), applied in order. An
        unknown key, or a second item for the same service name and type, is refused.
    type: list
    elements: dict
  validate:
    description:
      - Check a configuration change (O(parameters), O(absent_parameters), O(exclusive), O(master)) on a private copy
        before writing it. V(false) writes without these checks.
    type: bool
    default: true
  initialise:
    description:
      - Turn on multi-instance management first where it is off, as M(mailops.postfix_multi.postfix_multi_init) does,
        in the same write of the primary C(main.cf) that registers the instance.
      - Lets check mode plan a new instance on a host where multi-instance management is not on yet.
    type: bool
    default: false
requirements:
  - Postfix 2.6 or later on the managed host, with its C(main.cf.proto) and C(master.cf.proto) prototypes for new instances.
notes:
  - Unlike postmulti, every path is compared after normalisation and symbolic-link resolution, so another spelling of
    an instance's directory cannot create a second instance on top of it.
  - The default directories of a new instance are always siblings of the primary's; postmulti nests them when the
    primary's path ends in one slash or sits directly below C(/).
  - An instance that is not registered counts as absent and as deported; O(state=absent) does not remove the files of
    a deported instance.
seealso:
  - module: mailops.postfix_multi.postfix_multi_init
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
  - name: Managing multiple Postfix instances on a single host
    description: Postfix's MULTI_INSTANCE_README.
    link: https://www.postfix.org/MULTI_INSTANCE_README.html
"""

EXAMPLES = r"""
---
- name: Turn on multi-instance management first
  mailops.postfix_multi.postfix_multi_init:

- name: Create an enabled outbound relay instance in group mta
  mailops.postfix_multi.postfix_instance:
    name: postfix-out
    group: mta
    enabled: true

- name: Create an inbound instance that starts before the mta group
  mailops.postfix_multi.postfix_instance:
    name: postfix-in
    group: mta
    before_group: mta

- name: Import a hand-made instance and name it
  mailops.postfix_multi.postfix_instance:
    config_directory: /etc/postfix-legacy
    name: postfix-legacy

- name: Disable an instance
  mailops.postfix_multi.postfix_instance:
    name: postfix-in
    enabled: false

- name: Deport an instance (keep its files, stop managing it)
  mailops.postfix_multi.postfix_instance:
    name: postfix-legacy
    state: deported

- name: Destroy an instance, stopping it first; refuses while mail is queued
  mailops.postfix_multi.postfix_instance:
    name: postfix-in
    state: absent
    force: true

- name: Destroy an instance now, its queued mail (deferred and held included) moved to a sibling
  mailops.postfix_multi.postfix_instance:
    name: postfix-old
    state: absent
    force: true
    move_mail_to: postfix-out
"""

RETURN = r"""
action:
  description:
    - What was (or, in check mode, would be) done.
    - V(repair) completes an instance whose creation was cut off after it was registered (a killed run) - its missing
      directories are made and C(postfix set-permissions) runs again.
  returned: success
  type: str
  sample: create
  choices: [none, create, import, update, repair, destroy, deport]
instance:
  description:
    - The instance after the change (for a destroyed one, as it was).
    - "The keys are those of RV(mailops.postfix_multi.postfix_instance_info#module:instances) that describe an instance:
      C(name), C(group), C(enabled), C(primary), C(config_directory), C(queue_directory) and C(data_directory);
      and C(state), V(present), V(absent) or V(deported)."
  returned: success
  type: dict
  sample:
    name: postfix-out
    group: mta
    enabled: true
    primary: false
    config_directory: /etc/postfix-out
    queue_directory: /var/spool/postfix-out
    data_directory: /var/lib/postfix-out
    state: present
instances:
  description: All instances in start order after the change (primary first), as C(postmulti -l) lists them.
  returned: success
  type: list
  elements: dict
  sample:
    - name: null
      group: null
      enabled: true
      primary: true
      config_directory: /etc/postfix
      queue_directory: /var/spool/postfix
      data_directory: /var/lib/postfix
    - name: postfix-out
      group: mta
      enabled: true
      primary: false
      config_directory: /etc/postfix-out
      queue_directory: /var/spool/postfix-out
      data_directory: /var/lib/postfix-out
leftovers:
  description: Paths a destroy left in place because they hold something Postfix did not create (or mail, which is never deleted).
  returned: when O(state=absent) destroyed an instance
  type: list
  elements: str
  sample: [/etc/postfix-out/transport]
units:
  description:
    - Where systemd is PID 1, the C(systemctl) commands run (in check mode, that would run) so that an instance destroyed,
      deported or renamed leaves no unit setting behind, as C(postmulti) leaves none - a mask of its unit is removed
      (a later instance of the same name could not start; a renamed one keeps it under its new unit), an enabled unit
      is disabled (at boot it would start an instance that is gone, or fail).
  returned: when such commands ran (or would run)
  type: list
  elements: str
  sample: [/usr/bin/systemctl unmask -- postfix@postfix-old.service]
moved_mail:
  description:
    - The mail that O(move_mail_to) moved (in check mode, would move).
  returned: when O(move_mail_to) is given and the instance is destroyed or deported
  type: dict
  contains:
    to:
      description: The config directory of the sibling that received the mail.
      type: str
      sample: /etc/postfix-out
    count:
      description: How many messages moved.
      type: int
      sample: 3
    queue_ids:
      description: The source queue IDs of the messages, by source queue (C(incoming), C(active), C(deferred), C(hold), C(maildrop)).
      type: dict
      sample: {incoming: [], active: [], deferred: [4XyBcD1qz1Xw, 4XyBcD2rz1Xx], hold: [4XyBcD3sz1Xy], maildrop: []}
    files:
      description:
        - The new files in the sibling's queue directory, by source queue (empty in check mode). A message requeued
          through C(maildrop) gets its final queue ID from the sibling's C(cleanup), logged with C(orig_id=) by C(pickup).
      type: dict
      sample: {deferred: [maildrop/4XyBcG1qz7Ab, maildrop/4XyBcG1rz7Ac], hold: [hold/4XyBcG1sz7Ad]}
    kept:
      description: Files that are never moved or deleted, by reason (corrupt or saved queue, malformed, still being written).
      type: dict
      sample: {"in the corrupt queue": [/var/spool/postfix-old/corrupt/4XyBcD9tz1Xz]}
changed_parameters:
  description: The C(main.cf) parameters that O(parameters), O(absent_parameters) and O(exclusive) changed (or would).
  returned: when any of O(parameters), O(absent_parameters), O(exclusive) or O(master) is given
  type: list
  elements: str
  sample: [inet_interfaces, myhostname]
changed_entries:
  description: The C(master.cf) entries (V(service/type)) that O(master) changed (or would).
  returned: when any of O(parameters), O(absent_parameters), O(exclusive) or O(master) is given
  type: list
  elements: str
  sample: [127.0.0.1:10026/inet]
restart_required:
  description:
    - Whether a running existing instance needs C(postfix stop; postfix start) rather than C(postfix reload) to use the
      changed configuration (as RV(mailops.postfix_multi.postfix_config#module:restart_required)). Always V(false) for a
      new instance, which is not running.
  returned: when any of O(parameters), O(absent_parameters), O(exclusive) or O(master) is given
  type: bool
  sample: false
msg:
  description: What was done, for humans.
  returned: always
  type: str
  sample: created postfix-out in /etc/postfix-out
diff:
  description:
    - Text diffs of each file written (the instance's C(main.cf) and C(master.cf), the primary C(main.cf)), then the
      instance record before and after.
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: /etc/postfix/main.cf
      after_header: /etc/postfix/main.cf
      before: "multi_instance_enable = yes\n"
      after: "multi_instance_enable = yes\nmulti_instance_directories = /etc/postfix-out\n"
    - before_header: instance
      after_header: instance
      before: ""
      after: "name: postfix-out\n"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import INSTANCE


def main() -> None:
    run(INSTANCE)


if __name__ == "__main__":
    main()
