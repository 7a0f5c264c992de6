# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_zipload: the collection's modules imported from a payload zip, as AnsiballZ ships them, each
compiled once - in a fresh interpreter, against CPython's own zipimport."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
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


def payload(tmp_path: Path, b_source: str = "B = 41\n") -> Path:
    """A zip laid out as AnsiballZ's: the real _zipload, a package _x whose _a imports _b."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "payload.zip"
    with zipfile.ZipFile(path, "w") as zf:
        parents = ["/".join(BASE.split("/")[:depth]) for depth in range(1, BASE.count("/") + 2)]
        for package in (*parents, f"{BASE}/_core", f"{BASE}/_x"):
            zf.writestr(f"{package}/__init__.py", "")
        zf.writestr(f"{BASE}/_core/_zipload.py", Path(_zipload.__file__).read_text())
        zf.writestr(f"{BASE}/_x/_a.py", "from ansible_collections.mailops.postfix_multi.plugins.module_utils._x._b import B\nVALUE = B + 1\n")
        zf.writestr(f"{BASE}/_x/_b.py", b_source + "def where():\n    return where.__code__.co_filename\n")
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


# --- the compiled code kept between module calls -----------------------------------------------

# a module call from ``sys.argv[1]``: imports as above, then what _module.run does when the call
# was not in check mode (argv[2] == "save")
CALL = r"""
import builtins, collections, json, sys
sys.path.insert(0, sys.argv[1])
counts = collections.Counter()
real = builtins.compile
def counting(source, filename, *args, **kwargs):
    counts[str(filename).rpartition(".zip/")[2]] += 1
    return real(source, filename, *args, **kwargs)
builtins.compile = counting
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload
counts.clear()
from ansible_collections.mailops.postfix_multi.plugins.module_utils._x import _a, _b
error = ""
try:
    import ansible_collections.mailops.postfix_multi.plugins.module_utils._x._broken
except SyntaxError as exc:
    error = f"{exc.filename}:{exc.lineno}"
if sys.argv[2] == "save":
    _zipload.save()
print(json.dumps({"counts": counts, "value": _a.VALUE, "file": _b.__file__, "code_file": _b.where(), "error": error}))
"""

MODULES = [f"{BASE}/_x/__init__.py", f"{BASE}/_x/_a.py", f"{BASE}/_x/_b.py"]


def call(zip_path: Path, cache_home: Path, save: bool = True, python_flags: tuple[str, ...] = ()) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, *python_flags, "-c", CALL, str(zip_path), "save" if save else "no"], capture_output=True, text=True, check=True, env=env
    )
    result = json.loads(out.stdout)
    result["compiled"] = [result["counts"].get(name, 0) for name in MODULES]
    return result


def cache_dir(cache_home: Path) -> Path:
    return cache_home / "mailops.postfix_multi" / sys.implementation.cache_tag


def kept(cache_home: Path) -> dict[str, Path]:
    """The kept files by module (the name without the digest)."""
    return {path.name.rpartition(".")[0]: path for path in cache_dir(cache_home).iterdir()} if cache_dir(cache_home).exists() else {}


PKG = "ansible_collections.mailops.postfix_multi.plugins.module_utils._x"


def test_the_next_call_uses_the_kept_code_even_from_another_payload(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    first = call(payload(tmp_path / "one"), home)
    assert first["compiled"] == [1, 1, 1]
    assert sorted(kept(home)) == [PKG, f"{PKG}._a", f"{PKG}._b"]
    assert cache_dir(home).stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in kept(home).values()} == {0o600}
    # Ansible extracts every payload to a new temporary directory: the code is the same, its file name is not
    second_zip = payload(tmp_path / "two")
    second = call(second_zip, home)
    assert second["compiled"] == [0, 0, 0]
    assert second["value"] == 42
    assert second["file"] == second["code_file"] == f"{second_zip}/{BASE}/_x/_b.py"  # tracebacks name this call's files
    # what does not compile is never kept, and fails as before, with its place in this call's payload
    assert first["error"] == f"{tmp_path / 'one' / 'payload.zip'}/{BASE}/_x/_broken.py:2"
    assert second["error"] == f"{second_zip}/{BASE}/_x/_broken.py:2"


def test_a_changed_source_is_compiled_again_and_replaces_its_old_code(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    call(payload(tmp_path / "old"), home)
    old_b = kept(home)[f"{PKG}._b"]
    new = call(payload(tmp_path / "new", b_source="B = 1\n"), home)
    assert new["compiled"] == [0, 0, 1]
    assert new["value"] == 2
    assert not old_b.exists()
    assert sorted(kept(home)) == [PKG, f"{PKG}._a", f"{PKG}._b"]
    assert call(payload(tmp_path / "again", b_source="B = 1\n"), home)["compiled"] == [0, 0, 0]


def test_optimized_code_is_kept_apart(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    zip_path = payload(tmp_path / "p")
    call(zip_path, home)
    assert call(zip_path, home, python_flags=("-O",))["compiled"] == [1, 1, 1]
    assert call(zip_path, home, python_flags=("-O",))["compiled"] == [0, 0, 0]
    assert sorted(path.name for path in cache_dir(home).parent.iterdir()) == [sys.implementation.cache_tag, f"{sys.implementation.cache_tag}.opt-1"]


def test_check_mode_and_python_told_not_to_write_bytecode_write_nothing(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    zip_path = payload(tmp_path / "p")
    assert call(zip_path, home, save=False)["compiled"] == [1, 1, 1]
    assert call(zip_path, home, python_flags=("-B",))["compiled"] == [1, 1, 1]
    assert not home.exists()


def untrusted_cases() -> list[str]:
    cases = ["group-writable directory", "other-writable file", "linked file", "linked directory", "truncated file", "another digest", "another magic"]
    if os.geteuid() == 0:
        cases += ["another user's file", "another user's directory"]
    return cases


@pytest.mark.parametrize("case", untrusted_cases())
def test_kept_code_that_is_not_the_users_alone_or_not_this_sources_is_not_used(tmp_path: Path, case: str) -> None:
    home = tmp_path / "cache"
    zip_path = payload(tmp_path / "p")
    call(zip_path, home)
    directory, target = cache_dir(home), kept(home)[f"{PKG}._b"]
    if case == "group-writable directory":
        directory.chmod(0o770)
    elif case == "other-writable file":
        target.chmod(0o602)
    elif case == "linked file":
        copy = tmp_path / "copy"
        copy.write_bytes(target.read_bytes())
        copy.chmod(0o600)
        target.unlink()
        target.symlink_to(copy)
    elif case == "linked directory":
        directory.rename(tmp_path / "elsewhere")
        directory.symlink_to(tmp_path / "elsewhere")
    elif case == "truncated file":
        target.write_bytes(target.read_bytes()[:60])
    elif case == "another digest":
        data = target.read_bytes()
        target.write_bytes(data[:4] + bytes(32) + data[36:])
    elif case == "another magic":
        data = target.read_bytes()
        target.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    elif case == "another user's file":
        os.chown(target, 65534, 65534)
    elif case == "another user's directory":
        os.chown(directory, 65534, 65534)
    expected = [1, 1, 1] if "directory" in case else [0, 0, 1]
    again = call(zip_path, home, save=False)
    assert again["compiled"] == expected, case
    assert again["value"] == 42
