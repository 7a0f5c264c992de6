# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A number of thousands of digits, wherever an operator or a file can put one, gets Postfix's
verdict or the collection's message, never Python's "Exceeds the limit (4300 digits) for
integer string conversion" (int() refuses such strings since Python 3.11, 3.10.7, 3.9.14)."""

from __future__ import annotations

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._health import queue_limit_spec
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCfError, expand
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import maxproc_problem, wakeup_problem
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._values import problem

BIG = "9" * 5000


def test_master_cf_fields() -> None:
    assert wakeup_problem(BIG) is not None and wakeup_problem(BIG + "?") is not None
    assert maxproc_problem(BIG) is not None
    # leading zeros are still a small number, as master(8) reads them
    assert wakeup_problem("00000000000060?") is None and maxproc_problem("0000000000007") is None


def test_relational_expansion_of_main_cf() -> None:
    with pytest.raises(MainCfError, match="mac_exp_eval: bad conversion"):
        expand("${{" + BIG + "} < {5} ? {a} : {b}}", lambda _name: None)
    assert expand("${{00000000000000000000000007} < {8} ? {a} : {b}}", lambda _name: None) == "a"


def test_queue_limits() -> None:
    with pytest.raises(PostfixMultiError, match="must be a number"):
        queue_limit_spec({"active": BIG})


def test_parameter_values() -> None:
    assert problem("smtpd_recipient_limit", BIG) == f"bad numerical configuration: smtpd_recipient_limit = {BIG}"
