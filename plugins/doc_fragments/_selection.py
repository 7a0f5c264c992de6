# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

from __future__ import annotations


class ModuleDocFragment:
    # Which instances, as postmulti -i and -g select them (postfix_instance_info, the postfix_instances lookup).
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Only the instance selected by this name, as C(postmulti -i) selects it.
      - "A full name (V(postfix-out)), the name without C(postfix-) (V(out)), a configuration directory
        (V(/etc/postfix-out); the only way to select a nameless instance), or V(-) for the primary."
      - Mutually exclusive with O(group).
    type: str
  group:
    description:
      - Only the instances of this group (C(multi_instance_group)), as C(postmulti -g) selects them.
      - Mutually exclusive with O(name).
    type: str
"""
