#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_multi_init
short_description: Turn on Postfix multi-instance management (C(postmulti -e init))
version_added: 1.0.0
description:
  - Sets C(multi_instance_wrapper = ${command_directory}/postmulti -p --) and C(multi_instance_enable = yes) in the
    primary instance's C(main.cf), the end state of C(postmulti -e init).
  - Unlike C(postmulti -e init), the file is written only when one of the two values differs, and the write is atomic,
    keeps the file's owner and mode, comments, blank lines and continuation lines.
  - Without secondary instances (an empty C(multi_instance_directories)), C(postfix start) keeps working in
    single-instance mode; add instances with M(mailops.postfix_multi.postfix_instance).
  - The primary configuration directory is the compiled-in default of the host's Postfix (C(postconf -d config_directory)).
  - This also re-enables a primary instance that was disabled, as C(postmulti -e init) does.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._writes
  - mailops.postfix_multi._attributes.idempotent
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
requirements:
  - Postfix 2.6 or later on the managed host (C(postconf)).
notes:
  - Concurrent runs on one host are serialised by a lock on the primary configuration directory.
seealso:
  - module: mailops.postfix_multi.postfix_instance
  - name: postmulti(1)
    description: The Postfix multi-instance manager.
    link: https://www.postfix.org/postmulti.1.html
  - name: Managing multiple Postfix instances on a single host
    description: Postfix's MULTI_INSTANCE_README.
    link: https://www.postfix.org/MULTI_INSTANCE_README.html
"""

EXAMPLES = r"""
---
- name: Turn on multi-instance management
  mailops.postfix_multi.postfix_multi_init:

- name: Show what would change, without changing it
  mailops.postfix_multi.postfix_multi_init:
  check_mode: true
  diff: true
"""

RETURN = r"""
config_directory:
  description: The primary instance's configuration directory whose C(main.cf) was checked.
  returned: success
  type: str
  sample: /etc/postfix
msg:
  description: What was done.
  returned: always
  type: str
  sample: multi-instance management initialised
diff:
  description: Text diff of the primary C(main.cf).
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: /etc/postfix/main.cf
      after_header: /etc/postfix/main.cf
      before: "inet_protocols = all\n"
      after: "inet_protocols = all\nmulti_instance_enable = yes\nmulti_instance_wrapper = ${command_directory}/postmulti -p --\n"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._lifecycle import INIT


def main() -> None:
    run(INIT)


if __name__ == "__main__":
    main()
