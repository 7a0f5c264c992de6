# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a module in-process as Ansible does: its arguments, for the ansible-core in use."""

from __future__ import annotations

import contextlib
import json
import typing as t

from ansible.module_utils import basic


@contextlib.contextmanager
def module_args(args: dict[str, t.Any]) -> t.Iterator[None]:
    """The arguments a module process reads (ansible-core 2.19's helper, or what 2.17 reads)."""
    try:
        from ansible.module_utils.testing import patch_module_args  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        saved = getattr(basic, "_ANSIBLE_ARGS", None)
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()  # type: ignore[attr-defined,unused-ignore]
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # type: ignore[attr-defined,unused-ignore]
    else:
        with patch_module_args(args):
            yield
