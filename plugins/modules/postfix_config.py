#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_config
short_description: Manage C(main.cf) parameters of one Postfix instance, validated before they touch the live file
version_added: 1.0.0
description:
  - Sets, changes and removes C(main.cf) parameters of the primary or of one secondary Postfix instance, with the end
    state of C(postconf -c DIR -e) and C(postconf -c DIR -X), but writing only when a value differs, with check mode and
    diff.
  - A value is compared as Postfix reads it, as C(postconf -h) prints it (continuation lines joined, runs of whitespace
    as one space), so a parameter that already has the requested value is left alone however it is written in the file.
    Comments, blank lines and the order of the other lines are kept. New parameters are appended at the end, sorted by
    name.
  - With O(validate=true) (the default) every change is first applied to a private copy of the instance's configuration
    directory in a temporary directory, whose C(queue_directory) and C(data_directory) point at empty scratch directories
    (so the live queue is never touched), and checked with C(postconf -c COPY -n) and C(postfix -c COPY check). If Postfix
    refuses the new configuration, the task fails with Postfix's own message and the live C(main.cf) is left byte for byte
    as it was. This runs in check mode too.
  - Parameters that define which instance a C(main.cf) belongs to are refused, see O(parameters).
  - The primary's configuration directory is locked while the file is read and written (the lock
    M(mailops.postfix_multi.postfix_instance) and M(mailops.postfix_multi.postfix_multi_init) take), so concurrent runs
    on one host do not lose each other's edits.
  - The running instance is not reloaded or restarted; use RV(restart_required) to decide which one a handler needs.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._writes
  - mailops.postfix_multi._writes.backup
  - mailops.postfix_multi._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Check mode validates the change on the private copy as a real run does, and fails where a real run would fail.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  instance:
    description:
      - The instance to configure, selected as C(postmulti -i) selects it, from the primary's instance list.
      - An instance name (V(postfix-out)), a name without V(postfix-) (V(out)), a configuration directory
        (V(/etc/postfix-out), compared as written), or V(-) for the primary.
    type: str
    default: '-'
  parameters:
    description:
      - Parameter names and the values they must have.
      - "Values may be strings, numbers, booleans (written V(yes)/V(no)) or lists (written comma-separated as Postfix writes
        them, C(a, b, c)). Leading and trailing whitespace is dropped, as C(postconf -e) does. A value must be a single line;
        V('') sets an empty value."
      - Refused, because they define the instance (use M(mailops.postfix_multi.postfix_instance) or
        M(mailops.postfix_multi.postfix_multi_init)) - C(config_directory), C(queue_directory), C(data_directory),
        C(multi_instance_name), C(multi_instance_group), C(multi_instance_enable), C(multi_instance_directories) and
        C(multi_instance_wrapper).
    type: dict
    default: {}
  absent:
    description:
      - Parameters to remove from C(main.cf) (every line of a multi-line entry, every duplicate), so that Postfix uses
        their defaults. Parameters that are not set are ignored.
      - The same names as in O(parameters) are refused.
    type: list
    elements: str
    default: []
  exclusive:
    description:
      - Also remove every explicitly set parameter that is not in O(parameters).
      - "Never removed: C(config_directory), C(queue_directory), C(data_directory), C(alternate_config_directories), every
        C(multi_instance_*) parameter, and the installation parameters shared by all instances - C(command_directory),
        C(daemon_directory), C(meta_directory), C(mail_owner), C(setgid_group), C(sendmail_path), C(mailq_path),
        C(newaliases_path), C(html_directory), C(manpage_directory), C(sample_directory), C(readme_directory) and
        C(shlib_directory)."
      - Everything else is removed, including the C(authorized_submit_users =) and C(master_service_disable = inet) lines
        that postmulti writes into a new instance; list them in O(parameters) to keep them.
    type: bool
    default: false
  validate:
    description:
      - Check a change on a private copy of the configuration directory with C(postconf -n) and C(postfix check) before
        writing it (see the description). Postfix's warnings about unknown or unused parameters are returned as warnings.
      - "Each number, time, boolean or bounded string value that the change sets (a literal value, without C($)) must also
        convert as the Postfix program that reads it converts it when it starts (for example smtpd reads
        C(smtpd_recipient_limit), which C(postfix check) never looks at); otherwise the task fails with that program's own
        fatal message, such as C(bad numerical configuration: smtpd_recipient_limit = abc), and nothing is written."
      - V(false) writes without these checks.
    type: bool
    default: true
requirements:
  - Postfix on the managed host (C(postconf) and C(postfix) in its C(command_directory)).
notes:
  - C(postfix check) refuses an C(inet_interfaces) address that no local interface has; add the address before setting it.
  - "When O(validate=true), the copy of a secondary instance is not listed in the primary's C(multi_instance_directories),
    so C(postfix check) also inspects the shared installation directories there. That part only logs warnings and never
    changes the result, and it creates nothing outside the scratch queue and data directories."
seealso:
  - module: mailops.postfix_multi.postfix_master
  - module: mailops.postfix_multi.postfix_instance
  - module: mailops.postfix_multi.postfix_service
  - name: postconf(5)
    description: Postfix configuration parameters.
    link: https://www.postfix.org/postconf.5.html
  - name: postconf(1)
    description: The Postfix configuration utility.
    link: https://www.postfix.org/postconf.1.html
"""

EXAMPLES = r"""
---
- name: Give the outbound instance its own address and name
  mailops.postfix_multi.postfix_config:
    instance: postfix-out
    parameters:
      myhostname: out.example.com
      inet_interfaces: 127.0.0.2
      smtp_tls_security_level: may
      smtpd_tls_received_header: true
      mydestination: []
      mynetworks:
        - 127.0.0.0/8
        - "[::1]/128"
    absent:
      - master_service_disable
  register: out_config

- name: Restart postfix-out if a changed parameter needs it, else reload it if anything changed
  mailops.postfix_multi.postfix_service:
    name: postfix-out
    state: "{{ 'restarted' if out_config.restart_required else 'reloaded' }}"
  when: out_config is changed

- name: Keep the primary on the loopback address only
  mailops.postfix_multi.postfix_config:
    instance: "-"
    parameters:
      inet_interfaces: 127.0.0.1

- name: Manage an instance's main.cf completely (identity and installation settings are kept)
  mailops.postfix_multi.postfix_config:
    instance: out
    exclusive: true
    parameters:
      compatibility_level: "3.7"
      myhostname: out.example.com
      inet_interfaces: 127.0.0.2
      inet_protocols: ipv4
      authorized_submit_users: ""
"""

RETURN = r"""
backup_file:
  description: The file as it was before this task replaced it (with O(backup=true)).
  returned: changed and O(backup=true)
  type: str
  sample: /etc/postfix-out/main.cf.2841.2026-12-05@19:51:03~
instance:
  description:
    - The configured instance, as C(postmulti -l) knows it.
    - "The keys are those of RV(mailops.postfix_multi.postfix_instance_info#module:instances) that describe an instance:
      C(name), C(group), C(enabled), C(primary), C(config_directory), C(queue_directory) and C(data_directory)."
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
config_file:
  description: The C(main.cf) that was (or, in check mode, would be) changed.
  returned: success
  type: str
  sample: /etc/postfix-out/main.cf
parameters:
  description:
    - The parameters named in O(parameters) and O(absent) after the change, as C(postconf -c DIR -n -h NAME) prints them.
    - Null for a parameter that is not set in C(main.cf) (Postfix then uses its default).
  returned: success
  type: dict
  sample:
    myhostname: out.example.com
    mynetworks: 127.0.0.0/8, [::1]/128
    master_service_disable: null
changed_parameters:
  description: The parameters whose value changed, was added or was removed.
  returned: success
  type: list
  elements: str
  sample: [inet_interfaces, master_service_disable]
restart_required:
  description:
    - Whether a changed parameter takes effect only after C(postfix stop) and C(postfix start) of the instance, not after
      C(postfix reload) - C(inet_interfaces), C(inet_protocols), C(queue_directory), C(data_directory) and
      C(process_id_directory).
    - Any other change needs a reload of a running instance.
  returned: success
  type: bool
  sample: true
msg:
  description: What was done, for humans.
  returned: always
  type: str
  sample: "postfix-out: set inet_interfaces; removed master_service_disable"
diff:
  description: The C(main.cf) text before and after the change.
  returned: when diff mode is on
  type: dict
  sample:
    before_header: /etc/postfix-out/main.cf
    after_header: /etc/postfix-out/main.cf
    before: "master_service_disable = inet\n"
    after: "inet_interfaces = 127.0.0.2\n"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import CONFIG


def main() -> None:
    run(CONFIG)


if __name__ == "__main__":
    main()
