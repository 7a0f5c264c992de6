# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Compile each of the collection's modules once when a module runs from Ansible's payload zip.

Ansible runs a module with its module_utils in a zip file (AnsiballZ) and imports them with
``zipimport``, which has no bytecode cache and compiles each source twice: once to find the
module's file name (``zipimporter.get_filename`` -> ``_get_module_code``, called by
``importlib._bootstrap.spec_from_loader``) and once more to load it (``get_code``) - CPython 3.9
to 3.13 alike. The collection's ~0.5 MB of module_utils then cost about 0.1 s of CPU more per
module call on every host. Importing this module (first, from a module file) puts a finder in
front that serves this collection's modules from the same zip with one compile each; outside a
zip (tests, ansible-test, an exploded payload) it does nothing.

The compiled code is also kept between calls, the way Python keeps ``__pycache__`` for files
(PEP 3147), in ``$XDG_CACHE_HOME/mailops.postfix_multi/<cache tag>`` (``~/.cache/...`` by
default): one file per module, named after the module and the SHA-256 of its source, so a
changed source is simply compiled again. A file is only read from a directory that belongs to
the user the module runs as and that nobody else may write, and only when it is a regular file
of that user, never through a link. ``save()`` writes what was compiled at the end of a module
call that was not in check mode, unless Python was told not to write bytecode
(``PYTHONDONTWRITEBYTECODE``, ``-B``); any error means the code is compiled as before.
"""

from __future__ import annotations

import _imp
import hashlib
import importlib.abc
import importlib.util
import marshal
import os
import stat
import sys
import typing as t
import zipimport

PREFIX = "ansible_collections.mailops.postfix_multi."

# what importlib's own SourceLoader uses to give kept code the file name it is loaded from
# (CPython 3.4 and later); without it, nothing is kept
_FIX_FILENAME: t.Callable[[t.Any, str], None] | None = getattr(_imp, "_fix_co_filename", None)


class _SourceLoader(importlib.abc.Loader):
    """Executes one module's source, compiled once, with ``__file__`` as zipimport gives it."""

    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename

    def create_module(self, spec: t.Any) -> None:  # noqa: ARG002
        return None  # the default module object

    def exec_module(self, module: t.Any) -> None:
        name = module.__spec__.name
        digest = hashlib.sha256(self.source.encode("utf-8", "surrogatepass")).digest()
        code = _CACHE.load(name, digest, self.filename)
        if code is None:
            code = compile(self.source, self.filename, "exec", dont_inherit=True)
            _CACHE.compiled.append((name, digest, code))
        exec(code, module.__dict__)  # noqa: S102 # pylint: disable=exec-used


class _Cache:
    """Compiled modules kept between module calls (see the module's docstring)."""

    # what a file starts with: the interpreter's own bytecode magic, then the source's SHA-256
    MAGIC = importlib.util.MAGIC_NUMBER

    def __init__(self) -> None:
        self.compiled: list[tuple[str, bytes, t.Any]] = []
        self._fd: int | None = None
        self._opened = False

    @staticmethod
    def directory() -> str | None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        tag = sys.implementation.cache_tag
        if not os.path.isabs(base) or not tag or _FIX_FILENAME is None:
            return None
        if sys.flags.optimize:  # python -O compiles differently (as __pycache__'s .opt-1 files)
            tag += f".opt-{sys.flags.optimize}"
        return os.path.join(base, "mailops.postfix_multi", tag)

    @staticmethod
    def _private(st: os.stat_result, kind: int) -> bool:
        """Of this kind, the user's own, writable by nobody else."""
        return stat.S_IFMT(st.st_mode) == kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022

    def _dir_fd(self, create: bool) -> int | None:
        if self._fd is None and (create or not self._opened):
            self._opened = True
            path = self.directory()
            if path is None:
                return None
            try:
                if create:
                    os.makedirs(path, mode=0o700, exist_ok=True)
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return None
            if self._private(os.fstat(fd), stat.S_IFDIR):
                self._fd = fd
            else:
                os.close(fd)
        return self._fd

    @staticmethod
    def _name(module: str, digest: bytes) -> str:
        return f"{module}.{digest.hex()[:32]}"

    def load(self, module: str, digest: bytes, filename: str) -> t.Any:
        """The kept code of ``module`` for this very source, its file name made ``filename``; or None."""
        fd = self._dir_fd(create=False)
        if fd is None:
            return None
        try:
            file_fd = os.open(self._name(module, digest), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError:
            return None
        try:
            with os.fdopen(file_fd, "rb") as handle:
                if not self._private(os.fstat(handle.fileno()), stat.S_IFREG):
                    return None
                data = handle.read()
            head = self.MAGIC + digest
            if not data.startswith(head):
                return None
            code = marshal.loads(data[len(head) :])
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if _FIX_FILENAME is None:
            return None
        _FIX_FILENAME(code, filename)
        return code

    def save(self) -> None:
        """Write what this process compiled (never in check mode: see ``_module.run``)."""
        compiled, self.compiled = self.compiled, []
        if not compiled or sys.dont_write_bytecode:
            return
        fd = self._dir_fd(create=True)
        if fd is None:
            return
        try:
            present = os.listdir(fd)
        except OSError:
            return
        for module, digest, code in compiled:
            name = self._name(module, digest)
            temp = f".{name}.{os.getpid()}"
            try:
                file_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
                with os.fdopen(file_fd, "wb") as handle:
                    handle.write(self.MAGIC + digest + marshal.dumps(code))
                os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
                # the same module compiled from an older source is not needed any more
                for old in present:
                    if old.startswith(module + ".") and old != name and old.count(".") == module.count(".") + 1:
                        os.unlink(old, dir_fd=fd)
            except (OSError, ValueError):  # ValueError: marshal cannot write it (never for code objects)
                try:
                    os.unlink(temp, dir_fd=fd)
                except OSError:
                    pass


_CACHE = _Cache()


def save() -> None:
    """Keep the code compiled by this module call for the next ones (see the docstring)."""
    _CACHE.save()


class _ZipFinder:
    """A ``sys.meta_path`` finder for this collection's modules inside zip files only."""

    def find_spec(self, fullname: str, path: t.Any = None, target: t.Any = None) -> t.Any:
        if not fullname.startswith(PREFIX) or not path:
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            importer = sys.path_importer_cache.get(entry)
            if importer is None and ".zip/" in entry:
                try:  # what the zipimport path hook would make for a package directory inside the zip
                    importer = sys.path_importer_cache[entry] = zipimport.zipimporter(entry)
                except zipimport.ZipImportError:
                    return None
            if not isinstance(importer, zipimport.zipimporter):
                return None  # not from a zip: the usual import
            try:
                package = importer.is_package(name)
                source = importer.get_source(name)
            except zipimport.ZipImportError:
                continue
            if source is None:
                return None  # bytecode only: zipimport's own way
            filename = f"{entry}/{name}/__init__.py" if package else f"{entry}/{name}.py"
            spec = importlib.util.spec_from_loader(fullname, _SourceLoader(source, filename), origin=filename, is_package=package)
            if spec is not None:
                spec.has_location = True
                if package:
                    spec.submodule_search_locations = [f"{entry}/{name}"]
            return spec
        return None


def install() -> None:
    """Put the finder in front of the import system when this package comes from a zip file."""
    if isinstance(getattr(__spec__, "loader", None), zipimport.zipimporter) and not any(isinstance(f, _ZipFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ZipFinder())


install()
