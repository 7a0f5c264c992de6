# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests of mailops.postfix_multi.postfix_multi_init against the real ``postmulti -e init``.

The chain machinery (check -> apply -> check -> apply in one ansible run, oracle parity,
check-mode purity, diffs) is described in test_postfix_instance.py.
"""

from __future__ import annotations

import test_oracle_parity as op
from test_postfix_instance import Step, primary_n, run_steps

WRAPPER = "multi_instance_wrapper = ${command_directory}/postmulti -p --"


def init_twice(oracle) -> None:
    """The real ``postmulti -e init`` twice: the second run succeeds and leaves the same content."""
    op.init(oracle)
    first, text = op.state(oracle), oracle.read("/etc/postfix/main.cf")
    op.init(oracle)
    assert op.state(oracle) == first
    assert oracle.read("/etc/postfix/main.cf") == text


def test_init(host, oracle):
    """init on a fresh primary, then init re-enabling a primary disabled with ``postmulti -e disable -i -``."""

    def fresh(_host, state):
        assert WRAPPER in primary_n(state) and "multi_instance_enable = yes" in primary_n(state)
        assert state["postmulti_l"] == [op.PRIMARY]  # still single-instance: the list is untouched
        assert "multi_instance_directories" not in _host.read("/etc/postfix/main.cf")

    def disable_primary(h):
        h.run_tty("postmulti", "-e", "disable", "-i", "-")  # the real postmulti, in host and oracle
        assert "multi_instance_enable = no" in h.read("/etc/postfix/main.cf")

    def enabled(_host, state):
        assert "multi_instance_enable = yes" in primary_n(state)

    steps = [
        Step("init a fresh primary", {}, module="postfix_multi_init", oracle=init_twice, files=("/etc/postfix/main.cf",), verify=fresh),
        Step(
            "init re-enables a disabled primary",
            {},
            module="postfix_multi_init",
            prepare=disable_primary,
            oracle=op.init,
            files=("/etc/postfix/main.cf",),
            verify=enabled,
        ),
    ]
    results = run_steps(host, steps, oracle=oracle)
    first = results[0]
    assert [r["msg"] for r in first] == ["multi-instance management initialised"] * 2 + ["multi-instance management already initialised"] * 2
    assert all(r["config_directory"] == "/etc/postfix" for r in first)
    added = set(first[0]["diff"][0]["after"].splitlines()) - set(first[0]["diff"][0]["before"].splitlines())
    assert added == {WRAPPER, "multi_instance_enable = yes"}
    reenable = results[1][0]["diff"][0]
    assert "multi_instance_enable = no" in reenable["before"] and "multi_instance_enable = yes" in reenable["after"]
