# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Postfix installed by postfix_multi_host's action plugin on a host without it (``install: true``).

The module finds no ``postconf`` and changes nothing (``installed: false``); the action plugin then
installs the packages through Ansible's own ``ansible.builtin.package`` action (module_defaults,
``ansible_package_use`` and the package manager's detection as for a task of its own) and runs
the module again, in the same task: a converged host pays nothing for the possibility, and a
host without Postfix gets one task instead of a second pass through the role.
"""

from __future__ import annotations

import typing as t

# Postfix's packages by the host's ansible_facts: distribution first, then os_family (Debian's
# "postfix" also serves Ubuntu and the other derivatives that Debian's os_family covers)
PACKAGES: dict[str, list[str]] = {"Debian": ["postfix"]}


def platform_packages(facts: t.Mapping[str, t.Any]) -> list[str] | None:
    """The platform's Postfix packages for these facts, or None when none are known."""
    for key in (f"{facts.get('distribution', '')}_{facts.get('distribution_major_version', '')}", facts.get("distribution"), facts.get("os_family")):
        if isinstance(key, str) and key in PACKAGES:
            return list(PACKAGES[key])
    return None


def no_packages_message(facts: t.Mapping[str, t.Any]) -> str:
    return (
        f"No Postfix package names are known for {facts.get('distribution') or 'this platform'} "
        f"({facts.get('os_family') or 'unknown family'}): set packages (postfix_multi_packages in the multi_instance role)."
    )


def missing_result(result: dict[str, t.Any], packages: list[str], host: str) -> dict[str, t.Any]:
    """The check-mode answer for a host without Postfix that a real run would install it on."""
    return dict(
        result,
        changed=True,
        packages=packages,
        msg=f"Postfix is not installed on {host}: a real run installs {', '.join(packages)}, then converges the design.",
    )
