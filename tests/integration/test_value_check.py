# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The value check (_postfix._values) against the Postfix of each release the lab runs.

The unit test (tests/unit/plugins/module_utils/test_values.py) compares the check with the
installed Postfix; ``make releases`` runs this file on chroot hosts of the other releases, so
the same grid of parameters and values is judged by postmap(1) of Postfix 3.5 and 3.10 too
(every Postfix program converts the parameters of src/global/mail_params.c when it starts).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import sys
import time
from pathlib import Path

from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix import _values

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils"))
from test_values import GLOBAL, VALUES  # noqa: E402  (the unit test's grid)


def test_postfix_of_this_release_and_the_check_agree(host):
    cases = [(name, value) for name in GLOBAL for value in VALUES]

    def one(index_case: tuple[int, tuple[str, str]]) -> tuple[str, str, str | None]:
        index, (name, value) = index_case
        directory = f"/tmp/values{index}"
        host.path(directory).mkdir()
        host.path(f"{directory}/master.cf").write_text("")
        main = host.path(f"{directory}/main.cf")
        main.write_text(f"{name} = {value}\n")
        past = time.time() - 20  # Postfix waits for a main.cf changed within the last second
        os.utime(main, (past, past))
        said = host.run("postmap", "-c", directory, "-q", "key", "texthash:/dev/null", check=False)
        found = re.search(r"fatal: (.*)", said.stderr)
        return name, value, found.group(1).rstrip() if found else None

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        verdicts = list(pool.map(one, enumerate(cases)))
    version = host.run("postconf", "-h", "mail_version").stdout.strip()
    disagree = [(n, v, said, check) for n, v, said in verdicts if said != (check := (_values.problem(n, v.strip()) or "").rstrip() or None)]
    assert not disagree, f"Postfix {version}:\n" + "\n".join(f"{n} = {v!r}: postfix: {p!r}, check: {c!r}" for n, v, p, c in disagree)
    assert sum(1 for *_rest, said in verdicts if said) > 100  # the grid reaches Postfix's fatal paths
