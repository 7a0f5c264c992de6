# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This package is PRIVATE to the collection. It can have breaking changes at any time.
#
# _core: the vocabulary every other layer shares.
#   _errors      PostfixMultiError, the one exception for problems an operator can fix
#   _interface   Interface: what a module is to Ansible (argument spec + operation), without AnsibleModule
#   _zipload     imported first by every module: one compile per module of the collection in Ansible's payload zip
# Pure Python: no file system, no commands, no Ansible.
#
# May import: nothing of the collection.
