# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Offline stand-in for ansible-test's pip bootstrap script.

``ansible-test sanity --venv`` (and ``--local``) creates virtual environments without pip
and bootstraps pip in them by downloading ``get-pip-<version>.py`` from a host that the
test machines cannot reach. Before downloading, ansible-test looks for a cached copy at
``~/.ansible/test/cache/get_pip_<version with dots as underscores>.py`` and runs that
instead. ``make sanity`` copies this file there (the version comes from the installed
ansible-test).

ansible-test runs the script as ``__main__`` inside the new environment's Python with pip
options as arguments, e.g. ``--disable-pip-version-check pip==24.2 --no-setuptools
--no-wheel``. We bootstrap the pip bundled with Python (``ensurepip``) and then let that
pip install the requested packages from the configured package index.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# Options of the real get-pip script that pip install does not know.
GET_PIP_ONLY_OPTIONS = frozenset({"--no-setuptools", "--no-wheel"})


def main(argv: list[str]) -> int:
    saved_config = os.environ.get("PIP_CONFIG_FILE")
    ensurepip.bootstrap(upgrade=True)
    # ensurepip points PIP_CONFIG_FILE at os.devnull for its own run; undo that so the
    # pip run below sees the machine's pip configuration (index, CA bundle).
    os.environ.pop("PIP_CONFIG_FILE", None)
    if saved_config is not None:
        os.environ["PIP_CONFIG_FILE"] = saved_config
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]
    return subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade", *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
