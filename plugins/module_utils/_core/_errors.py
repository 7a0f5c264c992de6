# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The one exception type the collection's logic raises for problems an operator can fix."""

from __future__ import annotations


class PostfixMultiError(Exception):
    """A problem with the request or the host, described so that an operator can act on it.

    ``details`` carries structured context (for example the command, its rc and output)
    that modules return next to ``msg``.
    """

    def __init__(self, msg: str, **details: object) -> None:
        msg = displayable(msg)
        super().__init__(msg)
        self.msg = msg
        self.details = {key: displayable(value) if isinstance(value, str) else value for key, value in details.items()}


def displayable(text: str) -> str:
    """``text`` for messages and diffs: bytes that are not UTF-8 (kept as surrogates when files and
    command output are read, so that they are written back unchanged) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
