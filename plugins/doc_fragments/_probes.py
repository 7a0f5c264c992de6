# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

from __future__ import annotations


class ModuleDocFragment:
    # The probes a caller adds to (or puts instead of) those derived from an instance's configuration,
    # and the queue limits (postfix_health; postfix_multi_host with probe=true).
    DOCUMENTATION = r"""
options:
  probes:
    description:
      - Endpoints to probe for an instance, in addition to those derived from its configuration (or instead of them,
        see O(replace_probes)).
      - An instance that no entry names is probed on the derived endpoints only.
      - Probes given for a disabled instance are ignored, with a warning; an O(probes[].instance) that matches no
        instance makes the module fail.
    type: list
    elements: dict
    default: []
    suboptions:
      instance:
        description:
          - The instance, as C(postmulti -i) selects it - a full name (V(postfix-out)), the name without C(postfix-)
            (V(out)), a configuration directory (the only way to select a nameless instance), or V(-) for the primary.
        type: str
        required: true
      host:
        description:
          - Address or host name to connect to, on the managed host. An IPv6 address may be written in brackets.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        required: true
      expect:
        description:
          - V(banner) - the server must greet with C(220) (an SMTP server, not in TLS wrapper mode).
          - V(connect) - the connection must be accepted.
        type: str
        choices: [banner, connect]
        default: banner
  replace_probes:
    description:
      - Instances (selected as in O(probes[].instance)) whose derived endpoints are not probed; only their O(probes) are.
      - An instance listed here with no O(probes) only has to run. Its configuration is still read for the hazards reported (listener clashes, loops), and
        what cannot be told about it no longer fails the check.
    type: list
    elements: str
    default: []
  queue_limits:
    description:
      - "The most messages each queue of an enabled instance may hold, by queue name (V(incoming), V(active),
        V(deferred), V(hold), V(maildrop), V(corrupt), V(saved)), for example C({deferred: 500, active: 1000})."
      - An enabled instance with more queue files in a queue than its limit fails the check, with the count and the
        limit in the message. The queues are counted from the queue files, whether the instance runs or not.
      - Queues not named here have no limit; disabled instances are not checked.
    type: dict
    default: {}
"""
