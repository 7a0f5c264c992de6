# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_install: which packages postfix_multi_host's action plugin installs on a host without Postfix
(the whole path runs for real in tests/integration/test_multi_instance_role.py, on Debian 11, 12, 13)."""

from __future__ import annotations

import pytest
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._install import missing_result, no_packages_message, platform_packages

# the minimal facts (setup's "min" subset) of hosts an operator meets, as ansible_facts holds them
DEBIAN_12 = {"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian"}
UBUNTU_24 = {"distribution": "Ubuntu", "distribution_major_version": "24", "os_family": "Debian"}
ALMA_9 = {"distribution": "AlmaLinux", "distribution_major_version": "9", "os_family": "RedHat"}


@pytest.mark.parametrize(("facts", "expected"), [(DEBIAN_12, ["postfix"]), (UBUNTU_24, ["postfix"]), (ALMA_9, None), ({}, None)])
def test_the_platforms_packages(facts, expected):
    assert platform_packages(facts) == expected


def test_the_answer_is_a_copy():
    first = platform_packages(DEBIAN_12)
    assert first is not None
    first.append("postfix-pcre")
    assert platform_packages(DEBIAN_12) == ["postfix"]


def test_an_unknown_platform_is_named_with_what_to_set():
    assert no_packages_message(ALMA_9) == (
        "No Postfix package names are known for AlmaLinux (RedHat): set packages (postfix_multi_packages in the multi_instance role)."
    )
    assert "for this platform (unknown family)" in no_packages_message({})


def test_check_mode_reports_the_installation_as_a_change():
    module = {"changed": False, "installed": False, "msg": "Postfix is not installed", "drift": ["Postfix is not installed"]}
    answer = missing_result(module, ["postfix"], "mx1")
    assert answer["changed"] is True and answer["installed"] is False and answer["packages"] == ["postfix"]
    assert answer["msg"] == "Postfix is not installed on mx1: a real run installs postfix, then converges the design."
    assert module["changed"] is False  # the module's own answer is left as it was
