# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""Where each instance logs (the design's ``logging`` and ``primary_logging``).

A ``logging`` setting is not a new kind of state: it expands (``expand_design``) into the
ordinary main.cf parameters and master.cf entry that say where Postfix logs, before the design is
planned, so that drift, validation on a staging copy, check mode and diff treat it as any other
parameter or entry:

- ``to: syslog`` - ``maillog_file`` is removed (empty: "logging to syslogd(8)", postconf(5)) and
  ``syslog_name`` is set to the given name, or removed so that Postfix's default applies: the
  instance's ``multi_instance_name`` (postconf(5) syslog_name, MULTI_INSTANCE_README: every
  instance logs as ``postfix-NAME/smtpd`` and so on), ``postfix`` for the primary;
- ``to: file`` - ``maillog_file`` is set and the instance's master.cf has the ``postlog`` service
  (``postlog unix-dgram n - n - 1 postlogd``, as in Postfix's stock master.cf since 3.4): the
  instance's own postlogd(8), started by its master, appends to the file (MAILLOG_README). Lines
  carry the instance's ``syslog_name`` as in syslog.

Going back from a file to syslog removes ``maillog_file`` only. The ``postlog`` entry stays: it is
in Postfix's stock master.cf and nothing writes to it while ``maillog_file`` is empty (postlogd(8):
it logs "when the maillog_file configuration parameter specifies a non-empty value"). No log file
is ever removed.

The checks are Postfix's own, made before anything is read from the host: maillog_file must start
with one of ``maillog_file_prefixes`` (a plain prefix of the string, as maillog_client.c compares
it; default ``/var, /dev/stdout``), ``/dev/stdout`` needs ``postfix start-fg`` (postconf(5)
maillog_file), which no instance of a multi-instance host is started with; two instances writing
one file, or logging under one syslog_name, cannot be told apart.
"""

from __future__ import annotations

import posixpath
import re
import typing as t
from collections.abc import Mapping, Sequence

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError

TARGETS = ("syslog", "file")
LOGGING_OPTIONS: dict[str, t.Any] = {
    "to": {"type": "str", "choices": list(TARGETS), "required": True},
    "syslog_name": {"type": "str"},
    "file": {"type": "path"},
}
# The main.cf parameters a logging setting owns; the design must not also name them.
OWNED_PARAMETERS = ("maillog_file", "syslog_name")
# postconf(5): maillog_file_prefixes, postlog_service_name (defaults).
DEFAULT_PREFIXES = "/var, /dev/stdout"
DEFAULT_POSTLOG_SERVICE = "postlog"
# The syslog_name of an instance that does not set it (postconf(5): ${multi_instance_name?{$multi_instance_name}:{postfix}}).
PRIMARY_SYSLOG_NAME = "postfix"
_SYSLOG_NAME = re.compile(r"[^\s\x00-\x1f\x7f$]+")


def postlog_entry(service: str = DEFAULT_POSTLOG_SERVICE) -> dict[str, t.Any]:
    """The master.cf entry of postlogd(8), with every column as Postfix's stock master.cf has it."""
    return {
        "service": service,
        "type": "unix-dgram",
        "private": "n",
        "unprivileged": "-",
        "chroot": "n",
        "wakeup": "-",
        "maxproc": "1",
        "command": "postlogd",
    }


class Logging(t.NamedTuple):
    """One checked ``logging`` setting."""

    to: str
    syslog_name: str | None
    file: str | None


def _text(parameters: Mapping[str, t.Any], name: str) -> str | None:
    value = parameters.get(name)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value).strip()


def check_logging(where: str, spec: t.Any, parameters: Mapping[str, t.Any] | None = None, absent: Sequence[str] = ()) -> Logging | None:
    """One instance's ``logging`` checked without reading anything (None: not declared).

    ``parameters``/``absent`` are the instance's declared main.cf parameters: they must leave the
    parameters a logging setting owns to it, and they give the maillog_file_prefixes to obey."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise PostfixMultiError(f"{where}: logging must be a mapping such as {{to: syslog}} or {{to: file, file: /var/log/postfix-out.log}}")
    unknown = sorted(str(key) for key, value in spec.items() if key not in LOGGING_OPTIONS and value is not None)
    if unknown:
        raise PostfixMultiError(f"{where}: logging has no option {', '.join(unknown)} (it takes to, syslog_name and file)")
    to = spec.get("to")
    if to not in TARGETS:
        raise PostfixMultiError(f"{where}: logging.to must be syslog or file, not {to!r}")
    parameters = parameters or {}
    named = sorted(name for name in OWNED_PARAMETERS if name in parameters or name in absent)
    if named:
        raise PostfixMultiError(
            f"{where}: {' and '.join(named)} {'is' if len(named) == 1 else 'are'} set by logging; "
            "remove it from parameters and absent_parameters (logging.syslog_name and logging.file say it)"
        )
    syslog_name = spec.get("syslog_name")
    if syslog_name is not None and (not isinstance(syslog_name, str) or not _SYSLOG_NAME.fullmatch(syslog_name)):
        raise PostfixMultiError(
            f"{where}: logging.syslog_name {syslog_name!r} must be one word without spaces, control characters or '$' "
            "(it starts every log line, as in postfix-out/smtpd); omit it for the instance's name"
        )
    path = spec.get("file")
    if to == "syslog":
        if path is not None:
            raise PostfixMultiError(f"{where}: logging.file is for to: file; with to: syslog remove it")
        return Logging(to, syslog_name, None)
    if not isinstance(path, str) or not path:
        raise PostfixMultiError(f"{where}: logging to: file needs logging.file, the log file's absolute path (such as /var/log/postfix-out.log)")
    if not path.startswith("/") or posixpath.normpath(path) != path or path.endswith("/"):
        raise PostfixMultiError(f"{where}: logging.file {path!r} must be an absolute, normalised file path (such as /var/log/postfix-out.log)")
    if path == "/dev/stdout":
        raise PostfixMultiError(
            f"{where}: logging.file /dev/stdout works only with 'postfix start-fg' (postconf(5) maillog_file), "
            "which instances of a multi-instance host are not started with; name a file under /var/log"
        )
    if re.search(r"[\s$,]", path):
        raise PostfixMultiError(f"{where}: logging.file {path!r} must not contain whitespace, ',' or '$'")
    prefixes_text = _text(parameters, "maillog_file_prefixes")
    prefixes = [item for item in re.split(r"[\s,]+", prefixes_text if prefixes_text is not None else DEFAULT_PREFIXES) if item]
    if not any(path.startswith(prefix) for prefix in prefixes):
        raise PostfixMultiError(
            f"{where}: logging.file {path} does not start with any of maillog_file_prefixes ({', '.join(prefixes) or 'empty'}), "
            "so Postfix would refuse it; put the file under one of them, or declare maillog_file_prefixes in the instance's parameters"
        )
    return Logging(to, syslog_name, path)


def _expand(setting: Logging, parameters: Mapping[str, t.Any], absent: Sequence[str]) -> tuple[dict[str, t.Any], list[str], dict[str, t.Any] | None]:
    """The parameters, absent parameters and master.cf entry one logging setting stands for."""
    params = dict(parameters)
    gone = list(absent)
    if setting.syslog_name is not None:
        params["syslog_name"] = setting.syslog_name
    else:
        gone.append("syslog_name")
    if setting.to == "file":
        params["maillog_file"] = setting.file
        return params, gone, postlog_entry(_text(parameters, "postlog_service_name") or DEFAULT_POSTLOG_SERVICE)
    gone.append("maillog_file")
    return params, gone, None


def _has_entry(master: Sequence[Mapping[str, t.Any]], service: str, kind: str) -> bool:
    return any(entry.get("service") == service and entry.get("type") == kind for entry in master)


def expand_design(
    instances: Sequence[Mapping[str, t.Any]],
    primary_parameters: Mapping[str, t.Any] | None = None,
    primary_absent_parameters: Sequence[str] = (),
    primary_logging: Mapping[str, t.Any] | None = None,
    host_files: Mapping[str, str] | None = None,
) -> dict[str, t.Any]:
    """The design with every ``logging`` turned into parameters and master.cf entries (pure).

    Returns ``instances`` (each without ``logging``), ``primary_parameters``,
    ``primary_absent_parameters``, ``primary_master`` (entries the primary's master.cf needs) and
    ``log_files`` (instance label -> file, for the check that their directories exist). Raises on
    a setting Postfix would refuse, or one that two instances would share. ``host_files`` (label
    -> file): what instances of the host write now where the design leaves that as it is; a
    declared file may not be one of them."""
    out: list[dict[str, t.Any]] = []
    names: dict[str, str] = {}  # syslog_name -> the instance logging under it
    files: dict[str, str] = {}  # maillog_file -> the instance writing it
    declared_names: set[str] = set()
    declared_files: set[str] = set()
    log_files: dict[str, str] = {}

    def claim(label: str, setting: Logging | None, parameters: Mapping[str, t.Any], default_name: str) -> None:
        if setting is not None:
            name, path = setting.syslog_name or default_name, setting.file
        else:  # an instance without logging counts with what its parameters say, if anything
            name, path = _text(parameters, "syslog_name") or default_name, _text(parameters, "maillog_file")
        if name in names and (setting is not None or name in declared_names):
            raise PostfixMultiError(
                f"{label} and {names[name]} would both log as {name}, so their lines could not be told apart; give one of them another logging.syslog_name"
            )
        names.setdefault(name, label)
        if setting is not None:
            declared_names.add(name)
        if path:
            if path in files and (setting is not None or path in declared_files):
                raise PostfixMultiError(f"{label} and {files[path]} would both write {path}; give each instance its own logging.file")
            files.setdefault(path, label)
            if setting is not None:
                declared_files.add(path)
                log_files[label] = path

    for label, path in (host_files or {}).items():
        files.setdefault(path, label)
    primary_parameters = dict(primary_parameters or {})
    primary_absent = list(primary_absent_parameters)
    primary_setting = check_logging("primary_logging", primary_logging, primary_parameters, primary_absent)
    primary_master: list[dict[str, t.Any]] = []
    claim("the primary instance", primary_setting, primary_parameters, PRIMARY_SYSLOG_NAME)
    if primary_setting is not None:
        primary_parameters, primary_absent, postlog = _expand(primary_setting, primary_parameters, primary_absent)
        if postlog is not None:
            primary_master.append(postlog)

    for index, entry in enumerate(instances):
        item = dict(entry)
        spec = item.pop("logging", None)
        name = item.get("name")
        where = f"postfix_multi_instances[{index}] ({name})"
        parameters = dict(item.get("parameters") or {})
        absent = list(item.get("absent_parameters") or [])
        present = (item.get("state") or "present") == "present"
        setting = check_logging(where, spec, parameters, absent) if present else None
        if present and isinstance(name, str):
            claim(name, setting, parameters, name)
        if setting is not None:
            parameters, absent, postlog = _expand(setting, parameters, absent)
            item["parameters"], item["absent_parameters"] = parameters, absent
            master = list(item.get("master") or [])
            if postlog is not None and not _has_entry(master, postlog["service"], postlog["type"]):
                # an entry the design declares itself (as gathered returns it) stays as declared
                item["master"] = master + [postlog]
        out.append(item)
    return {
        "instances": out,
        "primary_parameters": primary_parameters,
        "primary_absent_parameters": primary_absent,
        "primary_master": primary_master,
        "log_files": log_files,
    }


def missing_log_directories(log_files: Mapping[str, str], is_directory: t.Callable[[str], bool]) -> None:
    """Raise when a log file's directory does not exist: postlogd(8) creates the file, not its
    directory, and this collection writes nothing outside an instance's own directories."""
    missing = [f"{label}: {posixpath.dirname(path)}" for label, path in log_files.items() if not is_directory(posixpath.dirname(path) or "/")]
    if missing:
        raise PostfixMultiError(
            "the directory of a log file does not exist, so postlogd could not create the file (nothing was changed); create it first: " + "; ".join(missing)
        )
