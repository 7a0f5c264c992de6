# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This package is PRIVATE to the collection. It can have breaking changes at any time.
#
# _plan: planning and applying - a desired state in, the steps that reach it out, then carried out.
#   _planner     one instance's life-cycle (postmulti -e init/create/import/destroy/deport/...) as a plan
#   _apply       carries a plan out in an order that never leaves a half-registered instance
#   _lifecycle   postfix_multi_init and postfix_instance: lock, plan, validate, apply
#   _configure   postfix_config and postfix_master: main.cf parameters and master.cf entries
#   _drift       how a host differs from a whole declared design (read-only)
#   _converge    a whole host's design in one call (postfix_multi_host), built on the above
#   _maps        lookup tables of an instance (postfix_map, the design's maps): postmap/postalias builds
#   _logging     where each instance logs (the design's logging): expanded to parameters and master.cf entries
# Each entry point plans first (check mode stops there and reports), then applies.
#
# May import: _core, _postfix, _host.
