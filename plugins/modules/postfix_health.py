#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_health
short_description: Check that every enabled Postfix instance of a host runs and answers where it listens
version_added: 1.0.0
description:
  - In one call, checks the Postfix instances of the managed host, as C(postmulti -l) lists them - the health gate of the
    C(mailops.postfix_multi.rollout) playbook.
  - Every enabled instance must run (C(postfix -c DIR status), as C(postmulti -p status) decides). Where the
    instance's master holds the lock on its pid file, its C(main.cf) and C(master.cf) are older than that pid file
    (the master started on these very files, and C(postfix) accepted them then) and the C(mail_owner) and
    C(setgid_group) they name still exist, the answer of C(postfix status) is already known and the command is not
    run; the same where a C(postfix status) that succeeded since that master started read this very C(main.cf) and the
    default one (M(mailops.postfix_multi.postfix_multi_host) leaves what it read in C(postfix_multi-status-ok) in the
    instance's C(data_directory)). Any other instance (a file changed since, a stopped master) is asked with
    C(postfix status) itself, whose words the failure quotes.
  - Every enabled instance must answer on each endpoint that its B(live configuration) makes it listen on - its
    C(main.cf) and C(master.cf) as they are on disk now, read with C($name) expansion as C(postconf -x) does. Each
    C(inet) service of C(master.cf) that C(master_service_disable) does not turn off is probed on its port (a number,
    or a name from C(/etc/services) such as C(smtp), C(submission), C(submissions)) at the host in its name
    (C(127.0.0.2:10026)), or else at the addresses of C(inet_interfaces) - V(127.0.0.1) (and V(::1) where
    C(inet_protocols) includes IPv6 and the host has it) for V(all) and V(loopback-only), each listed address or
    resolved host name otherwise.
  - smtpd(8) and postscreen(8) services must greet with a C(220) banner, except smtpd(8) with
    C(smtpd_tls_wrappermode = yes) (TLS comes first); other programs (qmqpd, tlsproxy, spawn) must accept the
    connection.
  - An enabled instance whose C(inet) services are all turned off (C(master_service_disable = inet), as postmulti
    creates instances) only has to run. Disabled instances are listed, not checked.
  - The caller can add probes for an instance, or replace the derived ones (O(probes), O(replace_probes)).
  - With O(queue_limits), an enabled instance whose queue holds more messages than its limit fails too - a host where
    mail piles up after a change is not healthy.
  - All probes run at the same time, each until O(timeout) seconds after the first starts. A refused connection is
    tried again until then (an instance that was just started may not listen yet); any other answer decides at once.
  - B(The module fails) when an enabled instance does not run, when a probe fails, when a queue holds more than
    O(queue_limits) allows, and when it cannot tell what to probe for an enabled instance that has C(inet) services - a
    host name in C(inet_interfaces) or a service name that does not resolve, an address of C(inet_interfaces) that no
    interface of the host has, a C(master.cf) entry that Postfix refuses. A gate that cannot tell fails; replace the instance's probes to check it anyway.
  - It warns (RV(hazards), also as Ansible warnings) about combinations that break mail without failing the check -
    two enabled instances, or two services of one, that listen on the same port of overlapping addresses, and SMTP
    next hops that the instance's own smtp(8) client refuses as C(mail for X loops back to myself) (see the notes).
  - Never changes anything.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._attributes.info_module
  - mailops.postfix_multi._probes
options:
  timeout:
    description:
      - Seconds that every probe has, from the moment the probes start; above 0 and at most 3600.
      - A probe that fails for another reason than a refused connection (no banner, a C(421) banner, a closed
        connection) fails at once.
    type: float
    default: 30
requirements:
  - Postfix on the managed host. The module runs C(postconf -d) and, per instance that the pid-file test above does
    not settle, C(postfix -c DIR status).
notes:
  - The endpoints come from the files, not from the running master(8), on purpose - C(inet_interfaces) and C(master.cf)
    changes need a reload or restart to take effect, and a check after a change that was not applied fails where the
    configuration says the instance listens.
  - C(inet_interfaces = loopback-only) is fine for any instance - Postfix's MULTI_INSTANCE_README gives it to its
    C(postfix-out) re-injection instance, whose only listener is an explicit C(127.0.0.1:10026) service. What it
    changes is the instance's own addresses - every loopback address configured on an interface of the host (with
    V(all), every interface address). The instance's smtp(8) client refuses a next hop on port 25 at one of its own
    addresses as C(mail for X loops back to myself) (Postfix's C(smtp_addr.c); loop detection is on for port 25 only),
    and so does it with a server on port 25 that answers EHLO with the client's own C(myhostname) (C(smtp_proto.c)).
    The module warns about such literal next hops - C(relayhost), the next hops of C(default_transport),
    C(relay_transport), C(content_filter) (also as C(-o) in C(master.cf)) and C(smtp_fallback_relay), when the
    transport runs smtp(8). And a service without a host in its name binds every one of those addresses, so it
    overlaps every other instance that listens on the same port of one of them.
  - Overlapping listeners do not always stop an instance. Before Postfix 3.6 the master(8) started second cannot bind
    (C(Address already in use)) and does not start, which the check reports. Postfix 3.6 and later bind with
    C(SO_REUSEPORT) (C(util/inet_listen.c)) - both instances start, and the kernel hands each connection for an address
    both bind to either of them at random (mail meant for one is received by the other), or, where one binds the
    address and the other the wildcard (V(all)), to the one with the address only. Both answer their probes, so only
    the warning tells. Its wording follows the host's Postfix version (C(postconf -d mail_version)).
  - The interface addresses are read with getifaddrs(3), as Postfix reads them; where that is not possible (not Linux)
    the warnings that need them are left out.
seealso:
  - module: mailops.postfix_multi.postfix_instance_info
  - module: mailops.postfix_multi.postfix_service
  - name: master(5)
    description: The services of C(master.cf) and their names.
    link: https://www.postfix.org/master.5.html
  - name: inet_interfaces
    description: The addresses an instance listens on, and counts as its own.
    link: https://www.postfix.org/postconf.5.html#inet_interfaces
  - name: MULTI_INSTANCE_README
    description: Postfix's guide to multiple instances, including the loopback-only re-injection instance.
    link: https://www.postfix.org/MULTI_INSTANCE_README.html
"""

EXAMPLES = r"""
---
- name: Fail unless every enabled instance runs and answers where its configuration says it listens
  mailops.postfix_multi.postfix_health:
    timeout: 20

- name: Also check the content filter's return port of postfix-out, and its submission port with TLS first
  mailops.postfix_multi.postfix_health:
    probes:
      - instance: postfix-out
        host: 127.0.0.1
        port: 10026
      - instance: postfix-out
        host: 192.0.2.25
        port: 465
        expect: connect

- name: Probe postfix-mx on its public address only, instead of the endpoints its configuration gives
  mailops.postfix_multi.postfix_health:
    probes:
      - instance: mx
        host: 192.0.2.26
        port: 25
    replace_probes:
      - mx

- name: Also fail when mail piles up - more than 500 deferred or 1000 active messages in an instance
  mailops.postfix_multi.postfix_health:
    queue_limits:
      deferred: 500
      active: 1000

- name: Look without failing, and show what would break
  mailops.postfix_multi.postfix_health:
  register: health
  failed_when: false

- name: Show the failures and the hazards
  ansible.builtin.debug:
    msg: "{{ health.failures + health.hazards }}"
"""

RETURN = r"""
passed:
  description: Whether every enabled instance runs and answered on every endpoint, and nothing was left unclear.
  returned: always
  type: bool
  sample: true
msg:
  description: The failures joined with C(; ), or a summary when there are none.
  returned: always
  type: str
  sample: "postfix-out: 127.0.0.1:10026 (master.cf service 127.0.0.1:10026/inet, expects a 220 banner): connection refused (16 attempt(s) in 3 s)"
failures:
  description: One line per failure - an enabled instance that does not run, a failed probe, what cannot be told.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      postfix-in (/etc/postfix-in): enabled, but postfix -c /etc/postfix-in status says:
      postfix-in/postfix-script: the Postfix mail system is not running
hazards:
  description:
    - Combinations that break mail without failing the check - listeners of enabled instances on the same port and
      overlapping addresses (what follows depends on the Postfix version), and SMTP next hops that an instance's own
      smtp(8) client refuses as a mail loop (see the notes).
    - Each is also an Ansible warning.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      postfix-out: relayhost sends mail to [127.0.0.3], port 25 of 127.0.0.3, one of the instance's own addresses
      (inet_interfaces = loopback-only makes every loopback address configured on the host's interfaces its own); its
      smtp(8) client refuses it: "mail for 127.0.0.3 loops back to myself". Use another port (as content filters do)
      or other inet_interfaces
problems:
  description: Problems of the instance list that do not decide the check (for example probes given for a disabled instance).
  returned: always
  type: list
  elements: str
instances:
  description: Every instance in start order (primary first), as C(postmulti -l) lists them, with what was checked.
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
    enabled:
      description: Whether the instance is enabled (only enabled instances are checked).
      type: bool
    primary:
      description: Whether this is the primary instance.
      type: bool
    config_directory:
      description: Configuration directory.
      type: str
      sample: /etc/postfix-out
    queue_directory:
      description: Queue directory.
      type: str
    data_directory:
      description: Data directory.
      type: str
    running:
      description: Whether its master daemon runs (C(postfix -c DIR status), or the pid-file test described above).
      type: bool
    passed:
      description: Whether the instance passed (always true for a disabled one).
      type: bool
    probes_replaced:
      description: Whether O(replace_probes) named the instance.
      type: bool
    queue_counts:
      description: The queue files counted in each queue, for an enabled instance when O(queue_limits) is given.
      type: dict
      returned: when O(queue_limits) is given and the instance is enabled
      sample: {incoming: 0, active: 0, deferred: 812, hold: 0, maildrop: 0, corrupt: 0, saved: 0}
    problems:
      description: Why the instance failed, apart from failed probes.
      type: list
      elements: str
    listeners:
      description: The C(inet) services of its C(master.cf), and what master(8) binds for each (empty for a disabled instance).
      type: list
      elements: dict
      contains:
        service:
          description: The service name, the first field of the C(master.cf) entry.
          type: str
          sample: "127.0.0.1:10026"
        program:
          description: The program it runs (C(smtpd), C(postscreen), C(qmqpd), ...).
          type: str
        port:
          description: The TCP port, or null when it cannot be told.
          type: int
        source:
          description:
            - Where its addresses come from - V(service) (a host in the service name), V(all), V(loopback-only),
              V(inet_interfaces) (listed addresses and names). Empty when disabled or unclear.
          type: str
        addresses:
          description: What master(8) binds (V(0.0.0.0) and V(::) for V(all)).
          type: list
          elements: str
        expect:
          description: V(banner) or V(connect).
          type: str
        disabled:
          description: Why master(8) does not open it (C(master_service_disable), an empty C(inet_protocols)), or null.
          type: str
        problem:
          description: Why what it binds cannot be told, or null.
          type: str
    probes:
      description: The endpoints probed, derived ones first.
      type: list
      elements: dict
      contains:
        host:
          description: The address (or given host name) connected to.
          type: str
          sample: 127.0.0.1
        port:
          description: The TCP port.
          type: int
          sample: 10026
        expect:
          description: V(banner) or V(connect).
          type: str
        service:
          description: The C(master.cf) service it comes from, or null for a probe given in O(probes).
          type: str
        passed:
          description: Whether it answered as expected; null when the instance does not run (then nothing is probed).
          type: bool
        banner:
          description: The first line the server sent, or null.
          type: str
          sample: "220 out.example.com ESMTP Postfix"
        error:
          description: Why it failed, or null.
          type: str
        attempts:
          description: Connection attempts (refused connections are tried again).
          type: int
        seconds:
          description: How long the probe took.
          type: float
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import HEALTH
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(HEALTH)


if __name__ == "__main__":
    main()
