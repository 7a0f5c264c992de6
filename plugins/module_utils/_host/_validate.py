# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Validate a configuration change on a private copy of an instance's config directory.

The live files are never touched. The copy lives in a new private temporary directory:

1. the instance's config directory is copied (regular files, with owner and mode; symbolic
   links to files are copied as files, so ``postfix check`` does not warn about links that
   leave the directory; sockets and FIFOs are skipped), then the changed files are written
   over the copy;
2. the copy's ``main.cf`` gets ``queue_directory`` and ``data_directory`` pointing at empty
   scratch directories next to it. ``postfix check`` creates missing queue subdirectories
   and runs ``postsuper`` on ``$queue_directory``: without this it would work on the LIVE
   queue (postfix-script's check, postfix(1)). Lookups written as ``$config_directory/...`` resolve to the
   copy, which holds the same files;
3. ``main.cf`` and ``master.cf`` of the copy get an mtime 10 s in the past, so that the
   ``postconf`` calls below (and the ~15 that ``postfix check`` makes) do not each wait
   1.5 s for a "just changed" file (dict_load_file_xt() and load_file() in src/util);
4. ``postconf -c COPY -n`` must succeed; its warnings (unknown or unused parameters) are
   returned, with the copy's path replaced by the live one;
5. the literal values that the new ``main.cf`` sets or changes, and the ``-o name=value``
   settings of new or changed ``master.cf`` entries, must convert as the Postfix programs that
   read them convert them at start-up (_postfix._values): ``postfix check`` converts only what
   postfix(1) itself reads, so ``smtpd_recipient_limit = abc`` would pass it and stop smtpd(8)
   on the first connection;
6. with ``master.cf`` changed, ``postconf -c COPY -M`` must succeed (postconf(1), -M);
7. ``postfix -c COPY check`` must succeed. It runs under a pseudo-terminal, because Postfix
   3.7 prints the reason for a failure only to a terminal (msg_vstream/msg_syslog: without one, only syslog hears it).

How the copy differs from the live instance, and why that does not change the outcome:
``postfix -c DIR`` never hands over to ``multi_instance_wrapper`` (``-c`` forces single-instance
mode), for the live directory and the copy alike. ``postfix-script`` and ``post-install``
treat a directory that is not listed in the primary's ``multi_instance_directories`` as the
owner of the shared files (``check_shared_files``): for the copy of a secondary, ``check``
additionally looks at the shared installation directories. That part only logs warnings
(it never changes the exit status), and ``create-missing`` creates only directories marked
``c`` in ``postfix-files``, which are all below ``$queue_directory`` and ``$data_directory``
(the scratch directories). Everything else (parameter syntax, ``inet_interfaces``
addresses, numbers, ``master.cf`` syntax, the postlog service) is checked from the copy's
own files, exactly as for the live directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError, displayable
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix import _values
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._listeners import entry_options
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, MainCfError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterCfError

# Files whose mtime postconf checks before reading ("file just changed" guard).
_CONFIG_FILES = ("main.cf", "master.cf")
_AGE_SECONDS = 10
# Every validation copy lives in this directory (under the temporary directory), named after the
# process that made it, so that a run finds and removes what a killed run left (kill -9 gives no
# chance to clean up).
STAGING_PARENT = "mailops-postfix-multi-validate"


def staging_parent(base: str | None = None) -> str:
    """The private directory of the validation copies, made if missing (mode 0700). Refused when
    it is not a real directory owned by this user and closed to others: the temporary directory
    is shared, and the copies hold the configuration."""
    parent = os.path.join(base or tempfile.gettempdir(), STAGING_PARENT)
    try:
        os.mkdir(parent, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(parent)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PostfixMultiError(f"{parent} is not a private directory of this user (a symbolic link, another owner, or open to others): remove it")
    return parent


def remove_stale_copies(parent: str) -> list[str]:
    """Remove the copies of runs that are gone (``PID.*`` whose process does not exist); return them."""
    removed = []
    for path in _io.stale_entries(parent, ""):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(os.path.basename(path))
    return removed


def copy_config_directory(source: str, target: str) -> None:
    """Copy ``source`` to the new directory ``target`` (see the module docstring, step 1)."""
    if not os.path.isdir(source):
        raise PostfixMultiError(f"cannot validate: {source} is not a directory")
    try:
        os.mkdir(target, 0o755)
        for root, dirs, files in os.walk(source, followlinks=False):
            relative = os.path.relpath(root, source)
            destination = target if relative == "." else os.path.join(target, relative)
            for name in dirs:
                path = os.path.join(root, name)
                if os.path.islink(path):
                    os.symlink(os.readlink(path), os.path.join(destination, name))
                else:
                    os.mkdir(os.path.join(destination, name))
                    _copy_status(path, os.path.join(destination, name))
            for name in files:
                path = os.path.join(root, name)
                try:
                    info = os.stat(path)  # follows symbolic links
                except OSError:
                    continue  # dangling link
                if not stat.S_ISREG(info.st_mode):
                    continue  # sockets, FIFOs, devices
                shutil.copyfile(path, os.path.join(destination, name))
                _copy_status(path, os.path.join(destination, name))
        _copy_status(source, target)
    except OSError as exc:
        raise PostfixMultiError(f"cannot copy {source} for validation: {exc}") from exc


def _copy_status(source: str, target: str) -> None:
    info = os.stat(source)
    os.chmod(target, stat.S_IMODE(info.st_mode))
    with contextlib.suppress(PermissionError):
        os.chown(target, info.st_uid, info.st_gid)


def age(directory: str, seconds: int = _AGE_SECONDS) -> None:
    """Give the copy's main.cf and master.cf an mtime in the past (step 3)."""
    past = time.time() - seconds
    for name in _CONFIG_FILES:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            os.utime(path, (past, past))


def _rewrite(text: str, copy: str, live: str) -> str:
    return text.replace(copy + "/", live + "/").replace(copy, live)


def _warning_lines(stderr: str, copy: str, live: str) -> list[str]:
    """postconf's ``warning:`` lines, without the program name, with the live directory's path."""
    out: list[str] = []
    for line in stderr.splitlines():
        _head, sep, message = line.partition("warning: ")
        if sep and message:
            out.append(displayable(_rewrite(message.strip(), copy, live)))
    return out


class Staging:
    """A private copy of one instance's config directory with some files replaced."""

    def __init__(self, config_directory: str, replacements: t.Mapping[str, str], base: str | None = None) -> None:
        self.live = config_directory
        self.replacements = dict(replacements)
        self.base = base
        self.top = ""
        self.copy = ""

    def __enter__(self) -> Staging:
        parent = staging_parent(self.base)
        remove_stale_copies(parent)
        self.top = tempfile.mkdtemp(prefix=f"{os.getpid()}.", dir=parent)
        try:
            self.copy = os.path.join(self.top, "config")
            if os.path.isdir(self.live) or not {"main.cf", "master.cf"} <= set(self.replacements):
                copy_config_directory(self.live, self.copy)
            else:  # a new instance: nothing to copy, its two files are given
                os.mkdir(self.copy, 0o755)
            queue = os.path.join(self.top, "queue")
            data = os.path.join(self.top, "data")
            os.mkdir(queue, 0o755)
            texts = dict(self.replacements)
            main = texts.get("main.cf")
            if main is None:
                with open(os.path.join(self.copy, "main.cf"), encoding="utf-8", errors="surrogateescape", newline="") as handle:
                    main = handle.read()
            try:
                texts["main.cf"] = MainCf.parse(main).edit({"queue_directory": queue, "data_directory": data}).render()
            except MainCfError as exc:  # pragma: no cover - the paths are plain
                raise PostfixMultiError(f"cannot prepare the validation copy: {exc}") from exc
            for name, text in texts.items():
                with open(os.path.join(self.copy, name), "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
                    handle.write(text)
            age(self.copy)
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.cleanup()

    def keep_log_inside(self, postconf: str) -> None:
        """Step 2, for an instance that logs to a file (``maillog_file``): with no postlogd(8) to
        answer, the Postfix commands of the check write that file themselves (maillog_client.c,
        the logwriter fallback), so the copy's file is moved below the private directory. Its
        prefixes (``maillog_file_prefixes``) move with it, so that a file outside them is refused
        as it is live (the same directory is put before the file and before each prefix)."""
        path = os.path.join(self.copy, "main.cf")
        text = _io.read_text(path)
        if text is None:
            return
        cf = MainCf.parse(text)
        if not (cf.raw("maillog_file") or "").strip():
            return
        shown = _runner.run([postconf, "-c", self.copy, "-xh", "maillog_file", "maillog_file_prefixes"])
        lines = shown.stdout.splitlines()
        if shown.rc != 0 or len(lines) != 2 or not lines[0].strip():
            return  # postconf -n says what is wrong
        value, prefixes = lines[0].strip(), [p for p in re.split(r"[,\s]+", lines[1]) if p]
        root = os.path.join(self.top, "log")
        if ".." in value.split("/"):
            # a file named through "..": the check sees one that matches its prefixes exactly when it does
            good = any(value.startswith(prefix) for prefix in prefixes)
            value, prefixes = "/maillog", ["/" if good else "/none/"]
        moved = root + value
        os.makedirs(os.path.dirname(moved) if value.startswith("/") else root, exist_ok=True)
        edited = cf.edit({"maillog_file": moved, "maillog_file_prefixes": ", ".join(root + prefix for prefix in prefixes)}).render()
        with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(edited)
        age(self.copy)

    def cleanup(self) -> None:
        if self.top:
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = ""

    def fail(self, what: str, result: _runner.CommandResult) -> t.NoReturn:
        def shown(text: str) -> str:
            # the paths of the copy as the live ones (the log file too: keep_log_inside)
            return _rewrite(text, self.copy, self.live).replace(os.path.join(self.top, "log"), "") if self.top else text

        said = shown(result.output) or "(no message)"
        raise PostfixMultiError(
            f"validation failed, {self.live} was left unchanged: {what} rejects the new configuration (rc={result.rc}): {said}",
            rc=result.rc,
            stdout=shown(result.stdout),
            stderr=shown(result.stderr),
        )


_UNUSED = re.compile(r"unused parameter: ([^=\s]+)=")


def changed_value_problems(config_directory: str, replacements: t.Mapping[str, str], warnings: t.Sequence[str]) -> list[str]:
    """Postfix's fatal messages for the literal values that the new files set or change (step 5;
    see _postfix._values): ``main.cf`` parameters, and the ``-o name=value`` settings of new or
    changed ``master.cf`` entries (the program applies them before it reads its parameters),
    leaving out parameters this Postfix does not know (postconf's ``unused parameter`` warnings)."""
    unknown = {found.group(1) for line in warnings for found in [_UNUSED.search(line)] if found}
    found: list[str] = []
    main_after = replacements.get("main.cf")
    if main_after is not None:
        try:
            after = MainCf.parse(main_after)
            before = MainCf.parse(_io.read_text(os.path.join(config_directory, "main.cf")) or "")
        except MainCfError:
            pass  # postconf and postfix check say what is wrong with the file itself
        else:
            found += _values.problems(after.raw_params(), [name for name in after.changed_names(before) if name not in unknown])
    master_after = replacements.get("master.cf")
    if master_after is not None:
        try:
            entries = MasterCf.parse(master_after).entries()
            old = MasterCf.parse(_io.read_text(os.path.join(config_directory, "master.cf")) or "")
        except MasterCfError:
            return found  # postconf -M says what is wrong with the file itself
        for entry in entries:
            if old.count(entry.service, entry.type) == 1 and old.get(entry.service, entry.type) == entry:
                continue
            options = entry_options(entry)
            said = _values.problems(options, [name for name in options if name not in unknown])
            found += [f"{line} (-o of master.cf service {entry.service}/{entry.type})" for line in said]
    return found


def validate(
    config_directory: str,
    replacements: t.Mapping[str, str],
    *,
    postconf: str,
    postfix: str,
    check_master: bool = False,
) -> list[str]:
    """Check ``replacements`` (file name -> new text) on a private copy of ``config_directory``.

    Returns postconf's warnings about the new configuration; raises PostfixMultiError with
    Postfix's own message when Postfix refuses it. Never touches the live directory, queue or
    data directory.
    """
    with Staging(config_directory, replacements) as staging:
        copy = staging.copy
        staging.keep_log_inside(postconf)
        result = _runner.run([postconf, "-c", copy, "-n"])
        if result.rc != 0:
            staging.fail(f"postconf -c {config_directory} -n", result)
        warnings = _warning_lines(result.stderr, copy, config_directory)
        refused = changed_value_problems(config_directory, replacements, warnings)
        if refused:
            raise PostfixMultiError(
                f"validation failed, {config_directory} was left unchanged: the Postfix programs that read "
                + ("this value stop" if len(refused) == 1 else "these values stop")
                + " when they start: "
                + "; ".join(displayable(line) for line in refused)
            )
        if check_master:
            shown = _runner.run([postconf, "-c", copy, "-M"])
            if shown.rc != 0:
                staging.fail(f"postconf -c {config_directory} -M", shown)
        checked = _runner.run([postfix, "-c", copy, "check"], tty=True)
        if checked.rc != 0:
            staging.fail(f"postfix -c {config_directory} check", checked)
    return warnings
