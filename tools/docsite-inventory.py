# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write an offline Sphinx inventory (objects.inv) for the labels of docs.ansible.com our docsite uses.

The generated plugin pages refer to other documentation through Sphinx labels that only the
Ansible documentation defines: ``ansible_collections.ansible.builtin.command_module`` for
``M(ansible.builtin.command)``, ``common_return_values`` and a few more from antsibull-docs'
templates. sphinx-init resolves them with intersphinx, which downloads
docs.ansible.com's objects.inv - impossible offline, and every unresolved label is a warning.
This script writes an inventory holding those labels, pointing at the real pages of
docs.ansible.com (the ``devel`` documentation), so the links in the built site are the same.

It lists every plugin that ships in the ``ansible.builtin`` collection of the installed
ansible-core (run it with the release venv's Python), and the fixed labels of the templates.

Usage: docsite-inventory.py OUTPUT_FILE
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import ansible

# Labels that antsibull-docs' templates refer to: (label, page, anchor, title).
STATIC_LABELS = (
    ("common_return_values", "reference_appendices/common_return_values.html", "common-return-values", "Return Values"),
    ("ansible_configuration_settings", "reference_appendices/config.html", "ansible-configuration-settings", "Ansible Configuration Settings"),
    ("collections_keyword", "collections_guide/collections_using_playbooks.html", "collections-keyword", "The collections keyword"),
    ("list_of_collections", "collections/index.html", "list-of-collections", "Collection Index"),
    ("callback_plugins", "plugins/callback.html", "callback-plugins", "Callback plugins"),
    ("list_of_callback_plugins", "collections/callback_index_stdout.html", "list-of-callback-plugins", "Index of all Callback Plugins"),
    ("action_plugins", "plugins/action.html", "action-plugins", "Action plugins"),
)

# Plugin directories of ansible-core and the plugin type they hold.
PLUGIN_DIRS = {
    "modules": "module",
    "plugins/become": "become",
    "plugins/cache": "cache",
    "plugins/callback": "callback",
    "plugins/cliconf": "cliconf",
    "plugins/connection": "connection",
    "plugins/filter": "filter",
    "plugins/httpapi": "httpapi",
    "plugins/inventory": "inventory",
    "plugins/lookup": "lookup",
    "plugins/netconf": "netconf",
    "plugins/shell": "shell",
    "plugins/strategy": "strategy",
    "plugins/test": "test",
    "plugins/vars": "vars",
}


def builtin_plugins() -> list[tuple[str, str]]:
    root = Path(ansible.__file__).parent
    found = set()
    for sub, plugin_type in PLUGIN_DIRS.items():
        directory = root / sub
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.name.startswith("_") or path.suffix not in (".py", ".yml", ".yaml"):
                continue
            found.add((path.stem, plugin_type))
    return sorted(found)


def anchor(label: str) -> str:
    return label.replace(".", "-").replace("_", "-").lower()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.rsplit("Usage: ", 1)[1].strip(), file=sys.stderr)
        return 2
    lines = []
    for label, page, anchor_id, title in STATIC_LABELS:
        lines.append(f"{label} std:label -1 {page}#{anchor_id} {title}")
    for name, plugin_type in builtin_plugins():
        label = f"ansible_collections.ansible.builtin.{name}_{plugin_type}"
        page = f"collections/ansible/builtin/{name}_{plugin_type}.html"
        lines.append(f"{label} std:label -1 {page}#{anchor(label)} ansible.builtin.{name} {plugin_type}")
    header = ("# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n").encode()
    Path(argv[1]).write_bytes(header + zlib.compress(("\n".join(lines) + "\n").encode()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
