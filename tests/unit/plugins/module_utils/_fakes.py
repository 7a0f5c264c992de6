# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An in-memory host for planner tests: files, directories, running instances and queue counts.

This stands in for the file system only; everything Postfix-specific the planner decides is
checked against the real binaries in tests/integration.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

PROTO_MAIN = """# prototype main.cf
queue_directory = /var/spool/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
data_directory = /var/lib/postfix
#queue_directory = /var/spool/postfix
sendmail_path =
readme_directory =
inet_protocols = ipv4
"""
PROTO_MASTER = "smtp      inet  n       -       y       -       -       smtpd\n"

INITIALISED = """# primary
readme_directory = no
inet_interfaces = loopback-only
multi_instance_wrapper = ${command_directory}/postmulti -p --
multi_instance_enable = yes
"""


@dataclass
class FakeFacts:
    files: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # symbolic link -> absolute target
    gaps: dict[str, str] = field(default_factory=dict)  # queue directory -> why set-permissions must run again
    pending: dict[str, str] = field(default_factory=dict)  # config directory -> reloaded/restarted (an earlier run's marker)

    def __post_init__(self) -> None:
        for path in list(self.files):
            self._add_parents(path)

    def _add_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent not in ("/", ""):
            self.dirs.add(parent)
            parent = posixpath.dirname(parent)

    def write(self, path: str, text: str) -> None:
        self.files[path] = text
        self._add_parents(path)

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def is_dir(self, path: str) -> bool:
        return path in self.dirs or path == "/"

    def resolve(self, path: str) -> str:
        """Follow the fake links component by component, as realpath(3) does."""
        parts = [p for p in path.split("/") if p]
        current = "/"
        for _hop in range(40):
            if not parts:
                return current
            current = posixpath.join(current, parts.pop(0))
            if current in self.links:
                target = self.links[current]
                parts = [p for p in target.split("/") if p] + parts
                current = "/"
        raise AssertionError(f"link loop at {path}")

    def is_running(self, config_directory: str) -> bool:
        return config_directory in self.running

    def queue_counts(self, queue_directory: str) -> dict[str, int]:
        return self.queues.get(queue_directory, {})

    def incomplete(self, queue_directory: str, data_directory: str, mail_owner: str) -> str | None:
        return self.gaps.get(queue_directory)

    def reload_pending(self, config_directory: str, data_directory: str) -> str | None:
        return self.pending.get(config_directory)


def secondary_main(name: str | None, group: str | None = None, enabled: str | None = None, queue: str | None = None, data: str | None = None) -> str:
    lines = ["# secondary"]
    short = (name or "x").replace("postfix-", "")
    lines.append(f"queue_directory = {queue or '/var/spool/postfix-' + short}")
    lines.append(f"data_directory = {data or '/var/lib/postfix-' + short}")
    if name:
        lines.append(f"multi_instance_name = {name}")
    if group:
        lines.append(f"multi_instance_group = {group}")
    if enabled:
        lines.append(f"multi_instance_enable = {enabled}")
    return "\n".join(lines) + "\n"


def host(primary: str = INITIALISED, secondaries: list[tuple[str, str]] | None = None) -> FakeFacts:
    """A host with an initialised primary and the given (config_directory, main.cf text) secondaries listed."""
    facts = FakeFacts(dirs={"/etc", "/var", "/var/spool", "/var/spool/postfix", "/var/lib", "/var/lib/postfix"})
    listed = [d for d, dummy in secondaries or []]
    text = primary
    if listed:
        text += "multi_instance_directories = " + " ".join(listed) + "\n"
    facts.write("/etc/postfix/main.cf", text)
    facts.write("/etc/postfix/master.cf", PROTO_MASTER)
    facts.write("/etc/postfix/main.cf.proto", PROTO_MAIN)
    facts.write("/etc/postfix/master.cf.proto", PROTO_MASTER)
    for directory, main in secondaries or []:
        facts.write(f"{directory}/main.cf", main)
        facts.write(f"{directory}/master.cf", PROTO_MASTER)
    return facts
