#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_metrics
short_description: Write the state and queues of every Postfix instance of a host as Prometheus metrics for node_exporter
version_added: 1.0.0
description:
  - Reads every Postfix instance of the managed host as M(mailops.postfix_multi.postfix_instance_info) does - the
    instances as C(postmulti -l) lists them, whether each runs, its queues as C(postqueue -j) lists them - and writes
    them as Prometheus text-format metrics to O(path), a C(.prom) file in the directory that node_exporter's textfile
    collector reads (C(--collector.textfile.directory)).
  - Every sample has the labels C(host) (O(host_label)) and C(instance) (the instance name, or its configuration
    directory for a nameless instance); the queue metrics also C(queue).
  - "C(postfix_instance_up) - 1 while the instance's master daemon runs (C(postfix -c DIR status)), else 0."
  - "C(postfix_instance_enabled) - 1 when C(postfix start) starts the instance (C(multi_instance_enable))."
  - "C(postfix_instance_info) - always 1, with the labels C(group), C(syslog_name) (what its log lines are tagged with)
    and C(config_directory)."
  - "C(postfix_queue_messages) - messages per queue - V(maildrop), V(hold), V(incoming), V(active), V(deferred) as
    C(postqueue -j) lists them, V(corrupt) and V(saved) counted from their files."
  - "C(postfix_queue_oldest_message_timestamp_seconds) - the arrival time of the oldest message of a queue, in Unix
    time; no sample while the queue is empty. Alert on its age with C(time() - postfix_queue_oldest_message_timestamp_seconds)."
  - No sender or recipient address is ever written; only counts and times.
  - The file is replaced atomically (written beside it as C(PATH.tmp), which the collector does not read, then
    renamed), and only when its text changes. The text holds no timestamp of its own, so a second run with the same
    queues reports no change.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._writes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the instances and queues and tells whether the file would change; it writes nothing.
  diff_mode:
    support: full
    details:
      - The diff is the file's text before and after.
  idempotent:
    support: full
    details:
      - The file changes when an instance or its queues do (a message arrives or leaves), not because time passed.
options:
  path:
    description:
      - The metrics file, an absolute path ending in C(.prom), in the directory node_exporter's textfile collector
        reads (Debian's C(prometheus-node-exporter) reads V(/var/lib/prometheus/node-exporter)).
      - The directory must exist; the module does not create it.
      - A new file gets mode V(0644); an existing file keeps its owner, group and mode.
    type: path
    required: true
  host_label:
    description:
      - The value of the C(host) label of every sample. The playbooks give the inventory name.
      - Without it, the managed host's fully qualified name.
    type: str
notes:
  - Prometheus adds its own C(instance) label to every series it scrapes (the exporter's address). With the default
    C(honor_labels false) of a scrape job, the file's C(instance) label is kept as C(exported_instance); set
    C(honor_labels true) on the node_exporter job to keep it as C(instance).
  - node_exporter reports the file's modification time as C(node_textfile_mtime_seconds). Since the file is only
    replaced when its text changes, that time says when the queues last changed, not when the module last ran.
  - Where C(postqueue -j) cannot list an instance's queue (Postfix before 3.1, or a stopped instance for a user that is
    not root), its queue files are counted instead, with a warning; see
    RV(mailops.postfix_multi.postfix_instance_info#module:instances[].queue_source).
requirements:
  - Postfix on the managed host. The module runs C(postconf -d) and, per instance, C(postfix -c DIR status) and
    C(postqueue -c DIR -j).
seealso:
  - module: mailops.postfix_multi.postfix_instance_info
  - module: mailops.postfix_multi.postfix_health
  - name: node_exporter textfile collector
    description: How node_exporter reads C(.prom) files.
    link: https://github.com/prometheus/node_exporter#textfile-collector
  - name: Prometheus text-based exposition format
    description: The format of the file.
    link: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
  - name: postqueue(1)
    description: The JSON queue listing (C(postqueue -j)).
    link: https://www.postfix.org/postqueue.1.html
"""

EXAMPLES = r"""
---
- name: Write the Postfix metrics for node_exporter's textfile collector
  mailops.postfix_multi.postfix_metrics:
    path: /var/lib/prometheus/node-exporter/postfix.prom
    host_label: "{{ inventory_hostname }}"

- name: Only show what the file would hold, without writing it
  mailops.postfix_multi.postfix_metrics:
    path: /var/lib/prometheus/node-exporter/postfix.prom
  check_mode: true
  diff: true
"""

RETURN = r"""
path:
  description: The metrics file.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/postfix.prom
host_label:
  description: The value of the C(host) label.
  returned: always
  type: str
  sample: mx1.example.com
instances:
  description:
    - The instances the metrics were made from, as M(mailops.postfix_multi.postfix_instance_info) returns them in its
      RV(mailops.postfix_multi.postfix_instance_info#module:instances).
  returned: always
  type: list
  elements: dict
problems:
  description: Problems found while reading the instances (also warnings), such as a queue that C(postqueue -j) could not list.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._monitor import METRICS_FILE
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(METRICS_FILE)


if __name__ == "__main__":
    main()
