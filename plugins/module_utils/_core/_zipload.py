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
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import typing as t
import zipimport

PREFIX = "ansible_collections.mailops.postfix_multi."


class _SourceLoader(importlib.abc.Loader):
    """Executes one module's source, compiled once, with ``__file__`` as zipimport gives it."""

    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename

    def create_module(self, spec: t.Any) -> None:  # noqa: ARG002
        return None  # the default module object

    def exec_module(self, module: t.Any) -> None:
        code = compile(self.source, self.filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 # pylint: disable=exec-used


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
