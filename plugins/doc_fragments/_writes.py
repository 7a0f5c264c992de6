# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

from __future__ import annotations


class ModuleDocFragment:
    # Every module that replaces Postfix's configuration files.
    DOCUMENTATION = r"""
options:
  unsafe_writes:
    description:
      - A file is replaced atomically, the way C(postconf -e) replaces C(main.cf) - a new file written beside it,
        then renamed over it - keeping the old file's owner, group, mode and SELinux context.
      - A file that is a mount point itself (a C(main.cf) bind-mounted into a container) cannot be replaced by a
        rename. With O(unsafe_writes=true) such a file is written in place instead, which a reader could see half
        written; without it the task fails and the file stays as it was.
      - Also set by the environment variable E(ANSIBLE_UNSAFE_WRITES), as for Ansible's own file modules.
    type: bool
    default: false
notes:
  - Files are written under Postfix's own edit lock (the lock that C(postconf -e) takes on C(FILE.tmp)), so that a
    concurrent C(postconf -e) loses no edit.
"""

    # The modules that replace one file and can keep its old version.
    BACKUP = r"""
options:
  backup:
    description:
      - Keep the file as it was before this task replaced it, beside it, named as Ansible's file modules name
        backups (C(main.cf.PID.YYYY-MM-DD@HH:MM:SS~)); the path is returned as RV(backup_file).
      - Nothing is kept when nothing changes, or in check mode.
      - Postfix ignores such files in the configuration directory; nothing removes them.
    type: bool
    default: false
"""
