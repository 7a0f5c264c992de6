# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_zipload: the collection's modules imported from a payload zip, as AnsiballZ ships them, each
compiled once - in a fresh interpreter, against CPython's own zipimport."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload

BASE = "ansible_collections/mailops/postfix_multi/plugins/module_utils"

# imports _zipload (or not), then a package of the collection, counting compile() per file
PROBE = r"""
import builtins, collections, json, sys
sys.path.insert(0, sys.argv[1])
counts = collections.Counter()
real = builtins.compile
def counting(source, filename, *args, **kwargs):
    counts[str(filename).rpartition(".zip/")[2]] += 1
    return real(source, filename, *args, **kwargs)
builtins.compile = counting
if sys.argv[2] == "yes":
    import ansible_collections.mailops.postfix_multi.plugins.module_utils._core._zipload
counts.clear()
from ansible_collections.mailops.postfix_multi.plugins.module_utils._x import _a
error = ""
try:
    import ansible_collections.mailops.postfix_multi.plugins.module_utils._x._broken
except SyntaxError as exc:
    error = f"{exc.filename.rpartition('.zip/')[2]}:{exc.lineno}"
print(json.dumps({"counts": counts, "value": _a.VALUE, "file": _a.__file__.rpartition(".zip/")[2], "error": error,
                  "finders": [type(f).__name__ for f in sys.meta_path]}))
"""


def payload(tmp_path: Path) -> Path:
    """A zip laid out as AnsiballZ's: the real _zipload, a package _x whose _a imports _b."""
    path = tmp_path / "payload.zip"
    with zipfile.ZipFile(path, "w") as zf:
        parents = ["/".join(BASE.split("/")[:depth]) for depth in range(1, BASE.count("/") + 2)]
        for package in (*parents, f"{BASE}/_core", f"{BASE}/_x"):
            zf.writestr(f"{package}/__init__.py", "")
        zf.writestr(f"{BASE}/_core/_zipload.py", Path(_zipload.__file__).read_text())
        zf.writestr(f"{BASE}/_x/_a.py", "from ansible_collections.mailops.postfix_multi.plugins.module_utils._x._b import B\nVALUE = B + 1\n")
        zf.writestr(f"{BASE}/_x/_b.py", "B = 41\n")
        zf.writestr(f"{BASE}/_x/_broken.py", "X = 1\ndef (:\n")
    return path


def probe(zip_path: Path, install: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(zip_path), "yes" if install else "no"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_each_module_of_the_collection_is_compiled_once(tmp_path: Path) -> None:
    zip_path = payload(tmp_path)
    plain = probe(zip_path, install=False)
    once = probe(zip_path, install=True)
    names = [f"{BASE}/_x/__init__.py", f"{BASE}/_x/_a.py", f"{BASE}/_x/_b.py"]
    # zipimport alone: twice each (get_filename, then get_code) - what _zipload exists for
    assert [plain["counts"].get(name) for name in names] == [2, 2, 2], plain["counts"]
    assert [once["counts"].get(name) for name in names] == [1, 1, 1], once["counts"]
    # the same module, the same file name, the same error with its place
    assert plain["value"] == once["value"] == 42
    assert plain["file"] == once["file"] == f"{BASE}/_x/_a.py"
    assert plain["error"] == once["error"] == f"{BASE}/_x/_broken.py:2"
    assert once["finders"][0] == "_ZipFinder"


def test_nothing_changes_outside_a_zip() -> None:
    """Imported from files (tests, ansible-test, an exploded payload): no finder is installed."""
    assert not any(isinstance(finder, _zipload._ZipFinder) for finder in sys.meta_path)
    assert _zipload._ZipFinder().find_spec(_zipload.PREFIX + "plugins.module_utils._core", [str(Path(_zipload.__file__).parent)]) is None


# what only a run that creates, validates or changes something needs: the module's source is compiled on
# every call (above), so postfix_multi_host leaves these to the code paths that use them
NOT_FOR_A_NO_OP = ("_plan._lifecycle", "_plan._apply", "_host._validate", "_host._drain", "_postfix._values", "_postfix._paramtable")


def test_the_host_module_imports_only_what_a_run_without_changes_needs() -> None:
    collections = Path(_zipload.__file__).parents[6]
    code = (
        "import json, sys\n"
        "import ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host\n"
        f"print(json.dumps(sorted(m.rpartition('module_utils.')[2] for m in sys.modules if m.startswith('{_zipload.PREFIX}plugins.module_utils.'))))"
    )
    env_path = [str(collections), *sys.path]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": ":".join(env_path)})
    loaded = json.loads(out.stdout)
    assert "_plan._converge" in loaded and "_plan._drift" in loaded and "_host._health" in loaded
    assert [name for name in NOT_FOR_A_NO_OP if name in loaded] == []
