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
import typing as t

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _io, _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import Plan
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance

# Queue subdirectories Postfix (post-install, postfix-files) creates in a queue directory.
QUEUE_SUBDIRECTORIES = frozenset(
    {"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "maildrop", "pid", "private", "public", "saved", "trace", "tlstrace"}
)
# Files Postfix keeps in a data directory: the master lock, the PRNG exchange file and caches; and the
# markers of postfix_multi_host (_io.RELOAD_PENDING, _io.STATUS_OK).
_DATA_FILE = re.compile(
    r"^(master\.lock|prng_exch|[a-z0-9_]*_?(cache|scache)(\.(db|lmdb|dir|pag|sdbm))?|[a-z0-9_]*\.lmdb|postfix_multi-reload-pending|postfix_multi-status-ok)$"
)
# Files Postfix itself may leave in an instance's config directory besides main.cf/master.cf.
_CONFIG_FILES = frozenset({"main.cf", "master.cf", "check-alias-maps-migration-done"})


def apply_plan(plan: Plan, facts: LocalFacts, stop: t.Sequence[str] | None = None) -> list[str]:
    """Apply ``plan``; return the paths left in place by a destroy (with the reason). ``stop``: the
    command that stops the instance when the plan stops it (default ``postfix -c DIR stop``).

    SIGTERM and SIGHUP unwind like SIGINT, so the undo and rollback below run for them too."""
    facts.forget()
    try:
        with _io.signals_unwind():
            return _apply(plan, facts, stop)
    finally:
        facts.forget()


def _undo(created: list[str]) -> None:
    """Remove what this run created before it registered anything (newest first; never a
    directory that is not empty any more)."""
    for path in reversed(created):
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                for name in ("main.cf", "master.cf"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(path, name))
                os.rmdir(path)
            else:
                os.unlink(path)


def _apply(plan: Plan, facts: LocalFacts, stop: t.Sequence[str] | None) -> list[str]:
    inst = plan.before or plan.after
    if plan.stop and inst is not None:
        _runner.check(list(stop or [facts.postfix(), "-c", inst.config_directory, "stop"]), what=f"stopping instance {inst.label}")
    if plan.remove and inst is not None:
        counts = facts.queue_counts(inst.queue_directory)
        if sum(counts.values()):
            raise PostfixMultiError(
                f"Cannot destroy instance {inst.label}: mail arrived in {inst.queue_directory} while it was being stopped ({counts}); nothing was removed",
                queue=counts,
            )
    created: list[str] = []
    try:
        _make_instance(plan, created)
        if plan.primary_write is not None:  # the one write that registers or deregisters
            write = plan.primary_write
            write.after = _io.write_text(write.path, write.after, before=write.before, reedit=write.reedit)
    except BaseException:
        _undo(created)
        raise
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
                changed=True,  # the files it made are kept
                **result.as_dict(),
            )
    if plan.remove and inst is not None:
        return sweep_instance(inst, remove=True)
    return []


def _make_instance(plan: Plan, created: list[str]) -> None:
    """New directories and the instance's files, recording what this run created in ``created``.
    A new config directory is made whole, with its main.cf and master.cf, in one rename."""
    config = plan.after.config_directory if plan.after is not None else None
    whole = None
    new_files = {os.path.basename(w.path): (w.after, w.mode) for w in plan.instance_writes if w.before is None and os.path.dirname(w.path) == config}
    for path, mode in plan.mkdirs:
        if path == config and new_files and not os.path.lexists(path):
            whole = (path, mode)
            continue
        try:
            os.mkdir(path, mode)
            created.append(path)
            os.chmod(path, mode)
        except FileExistsError:
            if not os.path.isdir(path):
                raise PostfixMultiError(f"{path} exists and is not a directory") from None
        except OSError as exc:
            raise PostfixMultiError(f"cannot create directory {path}: {exc.strerror}") from exc
    if whole is not None:
        _io.create_directory(whole[0], whole[1], new_files)
        created.append(whole[0])
    for write in plan.instance_writes:
        if whole is not None and os.path.basename(write.path) in new_files and os.path.dirname(write.path) == config:
            continue
        _io.write_text(write.path, write.after, mode=write.mode, before=write.before, reedit=write.reedit)
        if write.before is None:
            created.append(write.path)


def _rollback(plan: Plan) -> None:
    """Undo the registration of an instance whose set-permissions did not succeed."""
    write = plan.primary_write
    if write is not None and write.before is not None:
        # put back the parameters this run changed, keeping what another editor changed meanwhile
        old, new = MainCf.parse(write.before), MainCf.parse(write.after)
        names = old.changed_names(new)
        restore = {name: old.raw(name) or "" for name in names if old.has(name)}
        remove = [name for name in names if not old.has(name)]
        _io.write_text(
            write.path,
            write.before,
            before=write.after,
            reedit=lambda text: MainCf.parse(text).edit(set_values=restore, remove=remove).render(),
        )


def _is_special(mode: int) -> bool:
    return stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode)


class _Sweep:
    """One walk over a destroyed instance's directories that removes (or, in check mode, only
    predicts) what Postfix created, and lists everything else as left in place.

    Nothing is followed: a symbolic link is an entry like any other (left and listed), and a
    directory whose own path goes through a link is not entered at all.
    """

    def __init__(self, remove: bool, resolve: t.Callable[[str], str], gone: frozenset[str] = frozenset()) -> None:
        self.remove = remove
        self.resolve = resolve
        self.gone = gone
        self.leftovers: list[str] = []

    def keep(self, path: str) -> bool:
        self.leftovers.append(path)
        return False

    def unlink(self, path: str) -> bool:
        if self.remove:
            os.unlink(path)
        return True

    def rmdir(self, path: str) -> bool:
        if self.remove:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                return True
            except OSError:  # something arrived meanwhile
                return self.keep(path)
        return True

    def tree(self, top: str, removable: t.Callable[[str, int], bool]) -> bool:
        """Sweep below ``top`` (a real directory), then ``top`` itself when nothing stays; True when it goes."""
        gone = True
        for entry in sorted(os.listdir(top)):
            path = os.path.join(top, entry)
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                gone = self.tree(path, removable) and gone
            elif path in self.gone:
                continue  # taken by an earlier step of the run (check mode: it is still here)
            elif removable(entry, mode):
                gone = self.unlink(path) and gone
            else:
                gone = self.keep(path) and gone
        return self.rmdir(top) if gone else False

    def top(self, path: str, entry_gone: t.Callable[[str, str, int], bool]) -> None:
        """Sweep one of the instance's own directories, deciding each entry with ``entry_gone``."""
        if not os.path.lexists(path):
            return
        if self.resolve(path) != path or not stat.S_ISDIR(os.lstat(path).st_mode):
            self.keep(path)  # reached through a link (or not a directory): not ours to enter
            return
        gone = True
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            gone = entry_gone(entry, full, os.lstat(full).st_mode) and gone
        if gone:
            self.rmdir(path)

    # -- what Postfix creates in each directory
    def queue_entry(self, entry: str, path: str, mode: int) -> bool:
        if entry not in QUEUE_SUBDIRECTORIES or not stat.S_ISDIR(mode):
            return self.keep(path)
        # mail queues and logs (bounce, defer, trace) keep every regular file; pid files go
        allow_files = entry == "pid"
        return self.tree(path, lambda _name, m: _is_special(m) or (allow_files and stat.S_ISREG(m)))

    def data_entry(self, entry: str, path: str, mode: int) -> bool:
        if _DATA_FILE.match(entry) and stat.S_ISREG(mode):
            return self.unlink(path)
        return self.keep(path)

    def config_entry(self, entry: str, path: str, mode: int) -> bool:
        if entry in _CONFIG_FILES and stat.S_ISREG(mode):
            return self.unlink(path)
        if entry == ".tmp" and stat.S_ISDIR(mode):
            return self.tree(path, lambda _name, _m: False)
        return self.keep(path)


def sweep_instance(inst: Instance, remove: bool, resolve: t.Callable[[str], str] = os.path.realpath, gone: t.Collection[str] = ()) -> list[str]:
    """Remove (``remove``) or predict removing what Postfix created for a destroyed instance.

    Returns the paths left in place; the prediction and the removal are the same walk, so
    check mode reports exactly what the run leaves. Never deletes a message: the caller
    refuses to destroy an instance with mail in its queue, and only sockets, FIFOs, pid
    files, the data directory's lock and caches, main.cf/master.cf and empty directories go.
    ``gone``: files that an earlier step of the same run removes (the mail a move takes),
    predicted in check mode as already gone.
    """
    sweep = _Sweep(remove, resolve, frozenset(gone))
    sweep.top(inst.queue_directory, sweep.queue_entry)
    sweep.top(inst.data_directory, sweep.data_entry)
    sweep.top(inst.config_directory, sweep.config_entry)
    return sorted(set(sweep.leftovers))
