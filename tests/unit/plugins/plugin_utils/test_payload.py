# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_payload: the module's AnsiballZ payload kept from one ansible-playbook run to the next.

The contract with ansible-core is checked against the installed ansible-core itself (each run in
a fresh interpreter, as each ansible-playbook run has its own DEFAULT_LOCAL_TMP): the second run
does not build the payload again and gets the same files; the rest - the key, the private store,
what is copied - on this machine's file system."""

from __future__ import annotations

import base64
import gc
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils import _payload

COLLECTIONS = Path(_payload.__file__).parents[5]  # the directory that holds ansible_collections/
FQN = "ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host"

# one ansible-playbook run's worth: build the module's payload through Ansible's own code, inside reused_payload
RUN = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader, module_loader
init_plugin_loader()
from ansible.executor import module_common
from ansible.template import Templar
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils._payload import reused_payload
built = []
real = module_common.recursive_finder
def counting(*args, **kwargs):
    built.append(1)
    return real(*args, **kwargs)
module_common.recursive_finder = counting
name = "mailops.postfix_multi.postfix_multi_host"
path = module_loader.find_plugin_with_context(name).plugin_resolved_path
with reused_payload(sys.argv[1]):
    data = module_common.modify_module(
        module_name=name, module_path=path, module_args={}, templar=Templar(loader=None),
        task_vars={"ansible_python_interpreter": "/usr/bin/python3"}, module_compression="ZIP_DEFLATED",
    )
module = data[0] if isinstance(data, tuple) else data.b_module_data
print(json.dumps({"built": len(built), "module": module.decode("utf-8", "surrogateescape")}))
"""


def run(tmp_path: Path) -> dict:
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    proc = subprocess.run([sys.executable, "-c", RUN, FQN], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def files_of(module: str) -> dict[str, bytes]:
    """The files in the payload zip of an AnsiballZ wrapper (its one long base64 literal)."""
    blob = max(re.findall(r"[A-Za-z0-9+/=]{2000,}", module), key=len)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_next_run_reuses_the_payload_ansible_built(tmp_path: Path) -> None:
    first = run(tmp_path)
    second = run(tmp_path)
    assert first["built"] == 1  # nothing kept yet: Ansible builds it
    assert second["built"] == 0  # the kept payload: no build
    payload = files_of(second["module"])
    assert payload == files_of(first["module"])
    assert "ansible_collections/mailops/postfix_multi/plugins/module_utils/_plan/_converge.py" in payload
    store = tmp_path / "local" / _payload.STORE_NAME
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    [key] = store.iterdir()
    [kept] = key.iterdir()
    assert kept.name.startswith(FQN + "-") and oct(kept.stat().st_mode & 0o777) == "0o600"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_key_covers_every_input(tmp_path: Path) -> None:
    ansible = tree(tmp_path / "ansible", {"basic.py": "a", "common/text.py": "b", "README": "x"})
    ours = tree(tmp_path / "ours", {"modules/m.py": "m", "module_utils/_u.py": "u"})
    key = _payload.payload_key("2.19.1", [str(ansible)], [str(ours)])
    assert key == _payload.payload_key("2.19.1", [str(ansible)], [str(ours)])
    assert key != _payload.payload_key("2.19.2", [str(ansible)], [str(ours)])
    (ansible / "README").write_text("changed, not Python")
    assert key == _payload.payload_key("2.19.1", [str(ansible)], [str(ours)])
    info = (ansible / "common/text.py").stat()
    os.utime(ansible / "common/text.py", ns=(info.st_atime_ns, info.st_mtime_ns + 1))  # reinstalled
    moved = _payload.payload_key("2.19.1", [str(ansible)], [str(ours)])
    assert moved != key
    before = (ours / "module_utils/_u.py").stat()
    (ours / "module_utils/_u.py").write_text("v")  # same size, same mtime: only the content tells
    os.utime(ours / "module_utils/_u.py", ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _payload.payload_key("2.19.1", [str(ansible)], [str(ours)]) != moved
    (ours / "modules/new.py").write_text("")
    assert len({moved, _payload.payload_key("2.19.1", [str(ansible)], [str(ours)])}) == 2


def test_only_a_private_store_is_used(tmp_path: Path) -> None:
    local = tmp_path / "local" / "ansible-local-1"
    local.mkdir(parents=True)
    store = _payload.store_directory(str(local), "k1")
    assert store == str(tmp_path / "local" / _payload.STORE_NAME / "k1")
    os.chmod(store, 0o770)  # group-writable: someone else could plant a pickle
    assert _payload.store_directory(str(local), "k1") is None
    os.chmod(store, 0o700)
    os.chmod(Path(store).parent, 0o757)
    assert _payload.store_directory(str(local), "k2") is None
    os.chmod(Path(store).parent, 0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (Path(store).parent / "k3").symlink_to(elsewhere)
    assert _payload.store_directory(str(local), "k3") is None
    if os.geteuid() == 0:
        os.chown(store, 65534, 65534)
        assert _payload.store_directory(str(local), "k1") is None


def test_only_complete_private_payloads_of_the_module_are_copied(tmp_path: Path) -> None:
    cache, store, later = tmp_path / "cache", tmp_path / "store", tmp_path / "later"
    cache.mkdir()
    store.mkdir(mode=0o700)
    prefix = FQN + "-"
    for name, text in {
        prefix + "ZIP_DEFLATED-none": "payload",
        prefix + "ZIP_DEFLATED-none.lock": "",  # Ansible's lock
        prefix + "ZIP_DEFLATED-none-part": "half",  # Ansible still writing
        FQN + "_other-ZIP_DEFLATED-none": "another module",
    }.items():
        (cache / name).write_text(text)
        os.chmod(cache / name, 0o600)
    assert _payload.keep(str(store), str(cache), prefix) == [prefix + "ZIP_DEFLATED-none"]
    assert sorted(p.name for p in store.iterdir()) == [prefix + "ZIP_DEFLATED-none"]
    assert _payload.keep(str(store), str(cache), prefix) == []  # kept already
    assert _payload.seed(str(store), str(later), prefix) == [prefix + "ZIP_DEFLATED-none"]
    assert (later / (prefix + "ZIP_DEFLATED-none")).read_text() == "payload"
    assert _payload.seed(str(store), str(later), prefix) == []  # never over a file Ansible has
    planted = store / (prefix + "ZIP_STORED-none")
    planted.write_text("import os")
    os.chmod(planted, 0o666)  # writable by others: not trusted
    (store / (prefix + "ZIP_LZMA-none")).symlink_to(planted)
    assert _payload.seed(str(store), str(tmp_path / "third"), prefix) == [prefix + "ZIP_DEFLATED-none"]
    assert [p.name for p in later.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_old_keys_are_removed(tmp_path: Path) -> None:
    root = tmp_path / _payload.STORE_NAME
    for number in range(_payload.KEEP + 3):
        (root / f"old{number:02}").mkdir(parents=True)
        os.utime(root / f"old{number:02}", (1000 + number, 1000 + number))
    current = root / "current"
    current.mkdir(mode=0o700)
    cache = tmp_path / "cache"
    cache.mkdir()
    _payload.keep(str(current), str(cache), FQN + "-")
    left = sorted(p.name for p in root.iterdir())
    assert len(left) == _payload.KEEP and "current" in left and "old00" not in left and f"old{_payload.KEEP + 2:02}" in left


def test_the_block_runs_whatever_the_store_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible import constants as C  # pylint: disable=import-outside-toplevel

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(blocker / "ansible-local-1"), raising=False)  # nothing can be made there
    assert gc.isenabled()
    with _payload.reused_payload(FQN):
        assert not gc.isenabled()  # no collection while the task runs
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), _payload.reused_payload(FQN):
        print(1 / 0)
    assert gc.isenabled()
