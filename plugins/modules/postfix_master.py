#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_master
short_description: Manage one C(master.cf) service entry of one Postfix instance, validated before it touches the live file
version_added: 1.0.0
description:
  - Adds, changes or removes one service entry in the C(master.cf) of the primary or of one secondary Postfix instance,
    with the end state of C(postconf -c DIR -M 'service/type=...') and C(postconf -c DIR -MX service/type), but writing only
    when a field differs, with check mode and diff.
  - An entry is identified by O(service) and O(type). Its fields are compared as C(postconf -M) reads them (continuation
    lines, spacing, braces and C(-oname=value) spellings do not matter), never as bytes.
  - A changed entry is written in place, in the layout C(postconf -M) uses (each C(-o name=value) on its own line indented
    4 spaces, other arguments wrapped at 80 columns); its old continuation lines and any later duplicate of it are
    dropped. Comments, blank lines (also those inside the entry) and all other entries are kept as they are. A new
    entry is appended at the end. Unlike Postfix 3.7's C(postconf -M), the first non-option argument keeps its braces
    when it contains blanks, so that it stays one argument.
  - Entries that C(postconf -M), the Postfix master daemon or the service's program would refuse or read differently are
    refused before anything is written, in check mode too (unknown type, bad flags, wakeup or process limit, unbalanced
    braces, C(-o) values that are not C(name=value) - braced or not, so C(-o foo) and a final C(-o) are refused, while
    C(-o name=), C(-o {name = value with blanks}) and C(-o name=$other) are fine -, an inet service marked private,
    option clusters such as C(-ofoo=bar) that postconf splits differently from the daemons, control characters such as
    a carriage return in any field).
  - "The socket of a C(unix), C(unix-dgram) or C(pass) service is C(private/NAME) (O(private=y) or V(-)) or
    C(public/NAME) (O(private=n)) in the queue directory, and must fit in a UNIX-domain socket address (107 bytes on
    Linux); otherwise the master daemon stops with C(fatal: unix-domain name too long) and the instance does not start.
    So such a O(service) name is refused when it is longer than 99 bytes (100 with O(private=n))."
  - A wrong value of O(private), O(unprivileged), O(chroot), O(wakeup), O(maxproc) or O(command) fails the task before
    anything is read from the host (also with O(state=absent)); so do an invalid O(service) name (also one too long for
    its socket when O(private) is given) and, for an C(inet) entry, O(private=y) or O(private=-).
  - With O(validate=true) (the default) the new C(master.cf) is first checked on a private copy of the configuration
    directory (with its own scratch queue and data directories, so the live queue is never touched) with
    C(postconf -c COPY -M), C(postconf -c COPY -n) and C(postfix -c COPY check). If Postfix refuses it, the task fails
    with Postfix's message and the live file is left byte for byte as it was. This runs in check mode too.
  - The primary's configuration directory is locked while the file is read and written (the lock every module of this
    collection that writes configuration takes).
  - The running instance is not reloaded or restarted; see RV(restart_required).
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
      - The instance whose C(master.cf) is edited, selected as C(postmulti -i) selects it.
      - An instance name (V(postfix-out)), a name without V(postfix-) (V(out)), a configuration directory
        (V(/etc/postfix-out), compared as written), or V(-) for the primary.
    type: str
    default: '-'
  service:
    description:
      - The service name (first column), for example V(smtp), V(submission), V(127.0.0.2:smtp), V([::1]:2525) or V(amavis).
      - "Letters, digits and C(. _ - : [ ] @ + %)."
    type: str
    required: true
  type:
    description:
      - The service type (second column). With O(service), identifies the entry.
    type: str
    required: true
    choices: [inet, unix, unix-dgram, fifo, pass]
  private:
    description:
      - Whether the service is private (third column), V(y), V(n) or V(-) (the default, which means V(y)).
      - V(true) and V(false) are accepted for V(y) and V(n). Any other value fails the task before anything is read from
        the host.
      - An C(inet) service cannot be private, and V(-) means V(y) there, so an C(inet) entry needs V(n) (V(false));
        Postfix's C(master) refuses to start otherwise, which C(postconf -M) and C(postfix check) do not detect; this module
        refuses it before anything is written.
      - Omitted, an existing entry keeps its value and a new one gets V(-).
    type: str
    choices: ['y', 'n', '-']
  unprivileged:
    description:
      - Whether the service runs as the mail owner (fourth column, V(n) runs it as root), V(y), V(n) or V(-) (the default,
        which means V(y)).
      - V(true) and V(false) are accepted for V(y) and V(n), as for O(private).
      - Omitted, an existing entry keeps its value and a new one gets V(-).
    type: str
    choices: ['y', 'n', '-']
  chroot:
    description:
      - Whether the service runs chrooted to the queue directory (fifth column), V(y), V(n) or V(-) (the default).
      - V(-) means V(n) when the instance's C(compatibility_level) is 1 or more (as in the C(main.cf) files that Debian's
        packages and C(postmulti) write), and V(y) at the backwards-compatible level 0, which is also Postfix's default
        when C(main.cf) does not set C(compatibility_level) (master(5) gives V(n) as the default since Postfix 3.0).
        Give V(y) or V(n) to be independent of it.
      - V(true) and V(false) are accepted for V(y) and V(n), as for O(private).
      - Omitted, an existing entry keeps its value and a new one gets V(-).
    type: str
    choices: ['y', 'n', '-']
  wakeup:
    description:
      - Wake-up time in seconds (sixth column), optionally followed by V(?) (no wake-up before the service is first used),
        for example V(60) or V(300?); or V(-) (the default, which means V(0), never woken up).
      - A number up to 2147483647, as an integer or a string. Any other value fails the task before anything is read
        from the host, with what to give instead.
      - Omitted, an existing entry keeps its value and a new one gets V(-).
    type: str
  maxproc:
    description:
      - Process limit (seventh column), a number up to 2147483647 (V(0) means no limit), as an integer or a string, or
        V(-) (the default, C(default_process_limit)).
      - Any other value fails the task before anything is read from the host, with what to give instead.
      - Omitted, an existing entry keeps its value and a new one gets V(-).
    type: str
  command:
    description:
      - The command with its arguments (eighth column and the rest), for example V(smtpd -o smtpd_tls_wrappermode=yes).
      - A string, or a list whose items are joined with spaces (so an item can be V(-o name=value)). Both are read like
        C(master.cf) text - an argument containing blanks must be written in braces, for example V(-o {name = a b}) or
        V({argument with spaces}).
      - Required to add an entry. Omitted, an existing entry keeps its command.
    type: raw
  state:
    description:
      - V(present) adds or updates the entry, V(absent) removes it (every duplicate, every continuation line).
    type: str
    choices: [present, absent]
    default: present
  validate:
    description:
      - Check a change on a private copy of the configuration directory with C(postconf -M), C(postconf -n) and
        C(postfix check) before writing it. Postfix's warnings (for example about unused C(-o) parameters) are returned as
        warnings.
      - "A literal C(-o name=value) number, time, boolean or bounded string of a new or changed entry must also convert as
        the entry's program converts it when it starts; otherwise the task fails with the program's own fatal message
        (C(bad numerical configuration: smtpd_recipient_limit = abc)) and nothing is written."
      - V(false) writes without these checks; the entry is still checked as described above.
    type: bool
    default: true
requirements:
  - Postfix on the managed host (C(postconf) and C(postfix) in its C(command_directory)).
notes:
  - C(postfix check) does not look at listener addresses; the master daemon reports an address it cannot bind to only
    when the instance starts or reloads.
seealso:
  - module: mailops.postfix_multi.postfix_config
  - module: mailops.postfix_multi.postfix_instance
  - module: mailops.postfix_multi.postfix_service
  - name: master(5)
    description: The Postfix master process configuration file format.
    link: https://www.postfix.org/master.5.html
"""

EXAMPLES = r"""
---
- name: Listen for submissions on port 587 of the outbound instance
  mailops.postfix_multi.postfix_master:
    instance: postfix-out
    service: submission
    type: inet
    private: false
    chroot: true
    command:
      - smtpd
      - -o syslog_name=postfix-out/submission
      - -o smtpd_tls_security_level=encrypt
      - -o smtpd_sasl_auth_enable=yes
  register: submission

- name: Restart postfix-out for a new or changed listener, else reload it if anything changed
  mailops.postfix_multi.postfix_service:
    name: postfix-out
    state: "{{ 'restarted' if submission.restart_required else 'reloaded' }}"
  when: submission is changed

- name: Add a content filter return path on a loopback port
  mailops.postfix_multi.postfix_master:
    instance: out
    service: "127.0.0.1:10026"
    type: inet
    private: n
    chroot: n
    command: >-
      smtpd -o content_filter= -o {smtpd_recipient_restrictions = permit_mynetworks, reject}
      -o mynetworks=127.0.0.0/8

- name: Limit the primary's smtp client to 20 processes
  mailops.postfix_multi.postfix_master:
    service: smtp
    type: unix
    maxproc: 20

- name: Remove the uucp transport from the primary
  mailops.postfix_multi.postfix_master:
    service: uucp
    type: unix
    state: absent
"""

RETURN = r"""
backup_file:
  description: The file as it was before this task replaced it (with O(backup=true)).
  returned: changed and O(backup=true)
  type: str
  sample: /etc/postfix-out/main.cf.2841.2026-12-05@19:51:03~
instance:
  description: The instance whose C(master.cf) was edited, as C(postmulti -l) knows it.
  returned: success
  type: dict
  contains:
    name:
      description: Instance name, or null for the primary or a nameless instance.
      type: str
      sample: postfix-out
    group:
      description: Instance group, or null.
      type: str
      sample: mta
    enabled:
      description: Whether C(postfix start) starts it.
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
  sample:
    name: postfix-out
    group: mta
    enabled: true
    primary: false
    config_directory: /etc/postfix-out
    queue_directory: /var/spool/postfix-out
    data_directory: /var/lib/postfix-out
config_file:
  description: The C(master.cf) that was (or, in check mode, would be) changed.
  returned: success
  type: str
  sample: /etc/postfix-out/master.cf
entry:
  description:
    - The entry's fields after the change (as C(postconf -F) shows them), or null after O(state=absent).
  returned: success
  type: dict
  contains:
    service:
      description: Service name.
      type: str
      sample: submission
    type:
      description: Service type.
      type: str
      sample: inet
    private:
      description: V(y), V(n) or V(-).
      type: str
      sample: n
    unprivileged:
      description: V(y), V(n) or V(-).
      type: str
      sample: "-"
    chroot:
      description: V(y), V(n) or V(-).
      type: str
      sample: y
    wakeup:
      description: Wake-up time or V(-).
      type: str
      sample: "-"
    maxproc:
      description: Process limit or V(-).
      type: str
      sample: "-"
    command:
      description: Command and arguments on one line (arguments with blanks in braces).
      type: str
      sample: smtpd -o syslog_name=postfix-out/submission -o smtpd_tls_security_level=encrypt
  sample:
    service: submission
    type: inet
    private: n
    unprivileged: "-"
    chroot: y
    wakeup: "-"
    maxproc: "-"
    command: smtpd -o syslog_name=postfix-out/submission -o smtpd_tls_security_level=encrypt
restart_required:
  description:
    - Whether the change adds or removes a listener or changes its command, which this collection answers with a stop and
      start of the instance rather than a reload. Other field changes need a reload of a running instance.
  returned: success
  type: bool
  sample: true
msg:
  description: What was done, for humans.
  returned: always
  type: str
  sample: "postfix-out: added submission/inet"
diff:
  description: The C(master.cf) text before and after the change.
  returned: when diff mode is on
  type: dict
  sample:
    before_header: /etc/postfix-out/master.cf
    after_header: /etc/postfix-out/master.cf
    before: "smtp      inet  n       -       y       -       -       smtpd\n"
    after: "smtp      inet  n       -       y       -       -       smtpd\nsubmission inet n       -       y       -       -       smtpd\n"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import MASTER


def main() -> None:
    run(MASTER)


if __name__ == "__main__":
    main()
