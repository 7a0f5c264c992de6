# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This package is PRIVATE to the collection. It can have breaking changes at any time.
#
# _postfix: Postfix's file formats and rules, as postconf(1), postconf(5), master(5) and postmulti(1)
# define them.
#   _maincf      main.cf: lossless parse, edit, $name expansion, compatibility_level, postconf -e/-X/-#
#   _mastercf    master.cf: lossless parse, edit, service entries and their fields
#   _listeners   where an instance listens (inet_interfaces, master.cf services) and clashes
#   _paths       instance directory paths: derived names, cleaning, nesting, links
#   _registry    the instance list as postmulti -l builds it (multi_instance_directories, claims)
#   _queue       what a mail queue holds: postqueue -j output, queue file records (rec_get), arrival times
#   _values      whether the program that reads a main.cf value accepts it at start-up (mail_conf_*.c)
#   _paramtable  each parameter's kind and bounds, generated from Postfix's CONFIG_*_TABLE tables
# Text in, structures out. Never runs a command and never writes; _paths and _registry only look
# paths up (realpath, stat) to apply postmulti's rules to the directories that exist.
#
# May import: _core.
