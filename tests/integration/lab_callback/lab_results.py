# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-harness callback: append every task result as one JSON line to $LAB_RESULTS_FILE.

Used only by tests/integration/labhost.py. It does not touch stdout (the default
stdout callback still prints the usual output, which the harness keeps for
debugging), so results are read from a file instead of being scraped from stdout.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_results
type: aggregate
short_description: Write task results as JSON lines to a file (test harness only)
description:
  - Appends one JSON object per task result to the file named by the E(LAB_RESULTS_FILE) environment variable.
  - Keys are V(host), V(task), V(action), V(status) (one of V(ok), V(changed), V(failed), V(skipped), V(unreachable)) and V(result).
  - V(result) is the task result without C(_ansible_*) keys; like a registered variable it always has V(changed) and V(failed).
requirements:
  - enable in ANSIBLE_CALLBACKS_ENABLED
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _messages(summaries) -> list[str]:
    out = []
    for item in summaries or ():
        event = getattr(item, "event", None)
        out.append(getattr(event, "msg", None) or str(item))
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lab_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("LAB_RESULTS_FILE")

    def _record(self, result, status: str) -> None:
        if not self._path:
            return
        data = getattr(result, "result", None)
        if data is None:  # ansible-core < 2.19
            data = result._result  # pylint: disable=protected-access
        data = {key: value for key, value in dict(data).items() if not str(key).startswith("_ansible_")}
        warnings = _messages(getattr(result, "warnings", None))
        if warnings:
            data.setdefault("warnings", warnings)
        deprecations = _messages(getattr(result, "deprecations", None))
        if deprecations:
            data.setdefault("deprecations", deprecations)
        exception = getattr(result, "exception", None)
        traceback = getattr(getattr(exception, "event", None), "formatted_traceback", None)
        if traceback and "exception" not in data:
            data["exception"] = traceback
        # like a registered variable: "changed" and "failed" are always present
        data["failed"] = status == "failed" or bool(data.get("failed"))
        data["changed"] = bool(data.get("changed"))
        if status in ("skipped", "unreachable"):
            data[status] = True
        task = result.task if hasattr(result, "task") else result._task  # pylint: disable=protected-access
        host = result.host if hasattr(result, "host") else result._host  # pylint: disable=protected-access
        record = {
            "host": host.get_name(),
            "task": task.get_name(),
            "action": task.action,
            "status": status,
            "result": data,
        }
        with open(self._path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str, sort_keys=True) + "\n")

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, "unreachable")
