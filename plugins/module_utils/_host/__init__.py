# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This package is PRIVATE to the collection. It can have breaking changes at any time.
#
# _host: the managed host - commands, files, services and what they report.
#   _runner      runs commands (argument lists, never a shell), captures Postfix's reasons
#   _io          reads, writes (atomic, owner/mode/SELinux label kept) and locks files
#   _facts       what the planners may ask about the host (LocalFacts: files, postconf -d, status)
#   _validate    a configuration checked on a private copy (postconf -n/-M, postfix check) before use
#   _systemd     decisions for driving instances through the host's postfix@ units
#   _info        instance discovery and live state (postfix_instance_info, the lookup)
#   _service     start/stop/reload/... of instances, postmulti -p style (postfix_service)
#   _health      running state, listener probes and queue limits of every instance (postfix_health, gates)
#   _monitor     per instance: syslog_name, listeners, queues as postqueue -j lists them; Prometheus metrics
#                (postfix_instance_info, postfix_metrics)
#   _drain       moves a stopped instance's queued mail into a sibling (postsuper -r style, via maildrop)
#   _tls         TLS keys and certificates checked as smtpd loads them (the design's tls, postfix_tls_info)
# Everything that touches the host goes through _runner (commands) and _io (files).
#
# May import: _core, _postfix.
