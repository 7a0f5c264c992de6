# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Carry out a plan on this machine, in an order that never leaves a half-registered instance.

Order: stop (force) -> instance main.cf edits -> new directories -> instance files ->
primary main.cf (the one atomic write that registers or deregisters) -> ``postfix -c DIR
set-permissions`` (needs the registration; on failure the registration is rolled back, so a
re-run finds the instance's files and completes the job) -> removal of a destroyed
instance's files (only what Postfix itself creates; never mail; anything else is listed).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat

from ansible_collections.mailops.postfix_multi.plugins.module_utils import _io, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import MAIL_QUEUES, LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._planner import Plan
from ansible_collections.mailops.postfix_multi.plugins.module_utils._registry import Instance

# Queue subdirectories Postfix (post-install, postfix-files) creates in a queue directory.
QUEUE_SUBDIRECTORIES = frozenset(
    {"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "maildrop", "pid", "private", "public", "saved", "trace", "tlstrace"}
)
# Files Postfix keeps in a data directory: the master lock, the PRNG exchange file and caches.
_DATA_FILE = re.compile(r"^(master\.lock|prng_exch|[a-z0-9_]*_?(cache|scache)(\.(db|lmdb|dir|pag|sdbm))?|[a-z0-9_]*\.lmdb)$")
# Files Postfix itself may leave in an instance's config directory besides main.cf/master.cf.
_CONFIG_FILES = frozenset({"main.cf", "master.cf", "check-alias-maps-migration-done"})


def apply_plan(plan: Plan, facts: LocalFacts) -> list[str]:
    """Apply ``plan``; return the paths left in place by a destroy (with the reason)."""
    inst = plan.before or plan.after
    if plan.stop and inst is not None:
        _runner.check([facts.postfix(), "-c", inst.config_directory, "stop"], what=f"stopping instance {inst.label}")
    if plan.remove and inst is not None:
        counts = facts.queue_counts(inst.queue_directory)
        if sum(counts.values()):
            raise PostfixMultiError(
                f"Cannot destroy instance {inst.label}: mail arrived in {inst.queue_directory} while it was being stopped ({counts}); nothing was removed",
                queue=counts,
            )
    for path, mode in plan.mkdirs:
        try:
            os.mkdir(path, mode)
            os.chmod(path, mode)
        except FileExistsError:
            if not os.path.isdir(path):
                raise PostfixMultiError(f"{path} exists and is not a directory") from None
        except OSError as exc:
            raise PostfixMultiError(f"cannot create directory {path}: {exc.strerror}") from exc
    for write in plan.instance_writes:
        _io.write_text(write.path, write.after, mode=write.mode)
    if plan.primary_write is not None:
        _io.write_text(plan.primary_write.path, plan.primary_write.after)
    if plan.set_permissions and plan.after is not None:
        try:
            result = _runner.run([facts.postfix(), "-c", plan.after.config_directory, "set-permissions"], tty=True)
        except BaseException:
            _rollback(plan)
            raise
        if result.rc != 0:
            _rollback(plan)
            raise PostfixMultiError(
                f"postfix -c {plan.after.config_directory} set-permissions failed (rc={result.rc}): "
                f"{result.output or '(no message)'}. The instance was NOT registered (the primary main.cf was restored); "
                "its files were kept, so fixing the cause and running again completes the job.",
                **result.as_dict(),
            )
    if plan.remove and inst is not None:
        return remove_instance_files(inst)
    return []


def _rollback(plan: Plan) -> None:
    """Undo the registration of an instance whose set-permissions did not succeed."""
    if plan.primary_write is not None and plan.primary_write.before is not None:
        _io.write_text(plan.primary_write.path, plan.primary_write.before)


def _is_special(mode: int) -> bool:
    return stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode)


def _clean_tree(top: str, allow_files: bool, leftovers: list[str]) -> None:
    """Remove sockets, FIFOs (and regular files when ``allow_files``) and empty directories below ``top``."""
    for root, dirs, files in os.walk(top, topdown=False):
        for entry in files:
            path = os.path.join(root, entry)
            mode = os.lstat(path).st_mode
            if _is_special(mode) or (allow_files and stat.S_ISREG(mode)):
                os.unlink(path)
            else:
                leftovers.append(path)
        for entry in dirs:
            path = os.path.join(root, entry)
            if os.path.islink(path):
                leftovers.append(path)
                continue
            with contextlib.suppress(OSError):  # not empty: its content is already listed
                os.rmdir(path)
    with contextlib.suppress(OSError):
        os.rmdir(top)


def _rmdir_or_report(path: str, leftovers: list[str]) -> None:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return
    except OSError:
        if path not in leftovers and not any(item.startswith(path + "/") for item in leftovers):
            leftovers.append(path)


def remove_instance_files(inst: Instance) -> list[str]:
    """Remove what Postfix created for a destroyed instance; return what was left in place.

    Never deletes a message: the caller refuses to destroy an instance with mail in its queue,
    and this function only deletes sockets, FIFOs, pid/lock files, the data directory's caches,
    main.cf/master.cf and empty directories. Everything else stays and is reported.
    """
    leftovers: list[str] = []
    # queue directory
    if os.path.isdir(inst.queue_directory) and not os.path.islink(inst.queue_directory):
        for entry in sorted(os.listdir(inst.queue_directory)):
            path = os.path.join(inst.queue_directory, entry)
            if entry in QUEUE_SUBDIRECTORIES and os.path.isdir(path) and not os.path.islink(path):
                if entry in MAIL_QUEUES:
                    _clean_tree(path, allow_files=False, leftovers=leftovers)
                else:
                    _clean_tree(path, allow_files=entry == "pid", leftovers=leftovers)
                if os.path.lexists(path) and not any(item.startswith(path + "/") for item in leftovers):
                    leftovers.append(path)
            else:
                leftovers.append(path)
        _rmdir_or_report(inst.queue_directory, leftovers)
    # data directory
    if os.path.isdir(inst.data_directory) and not os.path.islink(inst.data_directory):
        for entry in sorted(os.listdir(inst.data_directory)):
            path = os.path.join(inst.data_directory, entry)
            if _DATA_FILE.match(entry) and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
            else:
                leftovers.append(path)
        _rmdir_or_report(inst.data_directory, leftovers)
    # config directory
    if os.path.isdir(inst.config_directory) and not os.path.islink(inst.config_directory):
        for entry in sorted(os.listdir(inst.config_directory)):
            path = os.path.join(inst.config_directory, entry)
            if entry in _CONFIG_FILES and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
            elif entry == ".tmp" and os.path.isdir(path):
                _rmdir_or_report(path, leftovers)
            else:
                leftovers.append(path)
        _rmdir_or_report(inst.config_directory, leftovers)
    return sorted(set(leftovers))


def predict_leftovers(inst: Instance) -> list[str]:
    """What a destroy would leave in place, computed without touching anything (check mode)."""
    leftovers: list[str] = []
    if os.path.isdir(inst.queue_directory):
        for entry in sorted(os.listdir(inst.queue_directory)):
            path = os.path.join(inst.queue_directory, entry)
            if entry not in QUEUE_SUBDIRECTORIES or not os.path.isdir(path) or os.path.islink(path):
                leftovers.append(path)
                continue
            for root, _dirs, files in os.walk(path):
                for name in files:
                    full = os.path.join(root, name)
                    mode = os.lstat(full).st_mode
                    if not (_is_special(mode) or (entry == "pid" and entry not in MAIL_QUEUES and stat.S_ISREG(mode))):
                        leftovers.append(full)
    if os.path.isdir(inst.data_directory):
        for entry in sorted(os.listdir(inst.data_directory)):
            path = os.path.join(inst.data_directory, entry)
            if not (_DATA_FILE.match(entry) and stat.S_ISREG(os.lstat(path).st_mode)):
                leftovers.append(path)
    if os.path.isdir(inst.config_directory):
        for entry in sorted(os.listdir(inst.config_directory)):
            if entry not in _CONFIG_FILES and entry != ".tmp":
                leftovers.append(os.path.join(inst.config_directory, entry))
    return sorted(set(leftovers))
