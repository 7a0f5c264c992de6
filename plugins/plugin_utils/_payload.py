# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""The controller's cost of one call of a module with a large payload, paid once instead of on every run.

Before a Python module runs, Ansible builds its payload (AnsiballZ): the module and every
module_utils file it imports, each found by parsing the files with ``ast`` (``recursive_finder``
in ansible/executor/module_common.py). It keeps the result in ``ansiballz_cache`` under the run's
local temporary directory (``DEFAULT_LOCAL_TMP``), so the other hosts of the run reuse it, and
removes that directory when the run ends. ``postfix_multi_host`` imports the whole collection
(about 0.6 MB of module_utils): building its payload takes about 0.3 s of one controller CPU on
every ``ansible-playbook`` run, before the first host can start - a fifth of a no-op rollout.

``reused_payload`` keeps the payload files Ansible wrote, byte for byte, in a private directory
beside the per-run directories (``ANSIBLE_LOCAL_TEMP``, default ``~/.ansible/tmp``), under a key
that covers everything a payload is built from: the ansible-core version and the size and
modification time of each of its module_utils files (and those of configured module_utils
directories), and the content of the collection's modules and module_utils. The next run puts
them back into its own cache before Ansible looks there, and Ansible reads them as if one of its
workers had just built them. Ansible's files are pickles, so only a directory and files of this
user that no one else can write are used; anything unexpected (another layout of Ansible's cache,
an error) leaves Ansible to build the payload itself. The cyclic garbage collector is paused
while the task runs in its worker process: building and decoding create many objects and no
cycles, and the collector's passes over the worker's inherited heap cost about 0.1 s more.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import os
import shutil
import stat
import typing as t

STORE_NAME = "mailops.postfix_multi-ansiballz"
KEEP = 8  # key directories kept (collection or ansible-core versions in use side by side)
_SKIPPED = (".lock", "-part")  # Ansible's lock files and files it is still writing


def _digest_tree(digest: t.Any, root: str, content: bool) -> None:
    """Every ``.py`` file below ``root``, in a stable order: its path, and its content or size and mtime."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode("utf-8", "surrogateescape") + b"\0")
            if content:
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
            else:
                info = os.stat(path)
                digest.update(f"{info.st_size}:{info.st_mtime_ns}\0".encode())


def payload_key(version: str, stat_roots: t.Sequence[str], content_roots: t.Sequence[str]) -> str:
    """The key of the payloads built from these files: ansible-core's ``version``, the files below
    ``stat_roots`` by size and mtime (an installation), those below ``content_roots`` by content."""
    digest = hashlib.sha256(f"{version}\0".encode())
    for roots, content in ((stat_roots, False), (content_roots, True)):
        for root in roots:
            digest.update(os.path.abspath(root).encode("utf-8", "surrogateescape") + b"\0")
            if os.path.isdir(root):
                _digest_tree(digest, root, content)
    return digest.hexdigest()[:32]


def private(info: os.stat_result, kind: int) -> bool:
    """A file or directory of this user, of the expected kind, that no one else can write."""
    return stat.S_IFMT(info.st_mode) == kind and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def store_directory(local_tmp: str, key: str) -> str | None:
    """The private directory that keeps the payloads of ``key`` (made if missing), beside the run's
    ``local_tmp``; None when it is not this user's alone."""
    path = os.path.join(os.path.dirname(local_tmp), STORE_NAME)
    keyed = os.path.join(path, key)
    for directory in (path, keyed):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        if not private(os.lstat(directory), stat.S_IFDIR):
            return None
    return keyed


def _copy(source: str, target_directory: str, name: str) -> bool:
    """Copy the regular, private file ``source`` to ``target_directory/name`` unless it is there:
    through a temporary file renamed into place, so that no one reads a partial file."""
    target = os.path.join(target_directory, name)
    if os.path.lexists(target):
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source, flags)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return False
        raise
    with os.fdopen(fd, "rb") as reader:
        if not private(os.fstat(reader.fileno()), stat.S_IFREG):
            return False
        temporary = os.path.join(target_directory, f".{name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "xb") as writer:
                os.fchmod(writer.fileno(), 0o600)
                shutil.copyfileobj(reader, writer)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    return True


def _payload_names(directory: str, prefix: str) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith(prefix) and not name.endswith(_SKIPPED))


def seed(store: str, cache: str, prefix: str) -> list[str]:
    """Put the kept payloads named ``prefix...`` into Ansible's run cache ``cache``; the names put."""
    os.makedirs(cache, mode=0o700, exist_ok=True)
    return [name for name in _payload_names(store, prefix) if _copy(os.path.join(store, name), cache, name)]


def keep(store: str, cache: str, prefix: str) -> list[str]:
    """Keep the payloads named ``prefix...`` that Ansible's run cache ``cache`` holds; the names
    kept. Only the ``KEEP`` most recently used key directories stay."""
    kept = [name for name in _payload_names(cache, prefix) if _copy(os.path.join(cache, name), store, name)]
    os.utime(store)
    parent = os.path.dirname(store)
    keys = [entry for entry in os.scandir(parent) if entry.is_dir(follow_symlinks=False)]
    keys.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime_ns)
    for entry in keys[:-KEEP]:
        shutil.rmtree(entry.path, ignore_errors=True)
    return kept


def _ansible_key() -> str:
    import ansible.module_utils  # pylint: disable=import-outside-toplevel
    from ansible import constants as C  # pylint: disable=import-outside-toplevel
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel

    extra = [path for path in (getattr(C, "DEFAULT_MODULE_UTILS_PATH", None) or []) if isinstance(path, str)]
    collection = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../plugins
    stat_roots = [os.path.dirname(os.path.abspath(ansible.module_utils.__file__)), *extra]
    return payload_key(__version__, stat_roots, [os.path.join(collection, "modules"), os.path.join(collection, "module_utils")])


@contextlib.contextmanager
def reused_payload(module_fqn: str) -> t.Iterator[None]:
    """Run the block (an action plugin's run of module ``module_fqn``, e.g.
    ``ansible_collections.mailops.postfix_multi.plugins.modules.postfix_multi_host``) with that
    module's kept payload in Ansible's run cache, and keep the one Ansible used; no cyclic garbage
    collection meanwhile. Never fails the block: any problem only means Ansible builds the payload."""
    from ansible import constants as C  # pylint: disable=import-outside-toplevel

    prefix = module_fqn + "-"
    store: str | None = None
    cache = os.path.join(str(C.DEFAULT_LOCAL_TMP), "ansiballz_cache")
    with contextlib.suppress(Exception):
        store = store_directory(str(C.DEFAULT_LOCAL_TMP), _ansible_key())
        if store is not None:
            seed(store, cache, prefix)
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        if store is not None:
            with contextlib.suppress(Exception):
                keep(store, cache, prefix)
