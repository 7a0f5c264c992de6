# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""master.cf entries that Postfix 3.7 accepts in master.cf but that stop the instance or a daemon.

Each is refused before anything is read or written (postfix_master: check_master_options, before
manage_master looks at the host; postfix_multi_host, postfix_drift_info and the multi_instance role:
check_master_items, when the design is read), in check mode too:

1. a unix, unix-dgram or pass service whose socket, ``private/NAME`` (private y or -) or
   ``public/NAME`` (private n) relative to the queue directory, does not fit in a UNIX-domain socket
   address: sun_path holds 108 bytes on Linux with the terminating NUL, and master(8) stops with
   ``fatal: unix-domain name too long`` (util/unix_listen.c, util/unix_dgram_listen.c);
2. ``-o name`` without ``=``: every daemon stops with ``fatal: invalid "-o name" option value:
   missing '=' after attribute name`` (master/single_server.c and the other skeletons);
3. the same entry (service name and type) twice in one list: the two items undo each other on
   every run;
4. unknown keys in a list item (``maxprocs``, ``comand``): the field would silently be left out;
5. control characters in any field (``smtpd\\r``).
"""

from __future__ import annotations

import os
import re
import socket
import typing as t

import pytest
import yaml
from _fakes import FakeFacts, host
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan import _configure, _converge
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import (
    MASTER_ITEM_KEYS,
    check_master_items,
    plan_master,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._drift import compare, declared_from
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._mastercf import MasterCf, MasterCfError, MasterEntry
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS

MASTER = "smtp      inet  n       -       y       -       -       smtpd\npickup    unix  n       -       y       60      1       pickup\n"
ROLE_SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "multi_instance", "meta", "argument_specs.yml")

# Linux <sys/un.h>: struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
SUN_PATH = 108


class DriftFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)


def opts(**kwargs: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"instance": "-", "service": "relay", "type": "unix", "command": "smtp", "state": "present", "validate": True}
    base.update(kwargs)
    return base


class _Untouchable:
    """LocalFacts that fails the test when manage_master gets as far as looking at the host."""

    def __init__(self) -> None:
        raise AssertionError("manage_master looked at the host before refusing the options")


def refused(options: dict[str, t.Any], *fragments: str) -> str:
    """The message postfix_master fails with, in check mode, before it looks at the host."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_configure, "LocalFacts", _Untouchable)
        with pytest.raises(PostfixMultiError) as caught:
            _configure.manage_master(options, check_mode=True, want_diff=False)
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


def accepted(options: dict[str, t.Any]) -> None:
    """postfix_master gets as far as reading the host (the options passed), and plans the entry."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_configure, "LocalFacts", _Untouchable)
        with pytest.raises(AssertionError, match="looked at the host"):
            _configure.manage_master(options, check_mode=True, want_diff=False)
    assert plan_master(MasterCf.parse(MASTER), options).changed


# --------------------------------------------------------------------------- 1. socket path length


@pytest.mark.parametrize("kind", ["unix", "unix-dgram", "pass"])
@pytest.mark.parametrize(("private", "directory"), [("y", "private"), ("-", "private"), ("n", "public")])
def test_a_socket_name_must_fit_in_sun_path(tmp_path: t.Any, kind: str, private: str, directory: str) -> None:
    # the longest name master(8) can create: unix_listen() and unix_dgram_listen() refuse
    # strlen(path) >= sizeof(sun_path), the name and its NUL must fit; then one byte more
    longest = "s" * (SUN_PATH - 1 - len(directory) - 1)
    (tmp_path / directory).mkdir()
    cwd = os.getcwd()
    os.chdir(tmp_path)  # master(8) runs in the queue directory and binds the relative path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if kind == "unix-dgram" else socket.SOCK_STREAM) as sock:
            sock.bind(f"{directory}/{longest}")
    finally:
        os.chdir(cwd)

    accepted(opts(service=longest, type=kind, private=private))
    assert not MasterEntry(longest, kind, private, command=("smtp",)).problems()

    entry = MasterEntry(longest + "x", kind, private, command=("smtp",))
    [problem] = entry.problems()
    for fragment in (f"{longest}x/{kind}", f"{directory}/NAME", f"{SUN_PATH} bytes", "unix-domain name too long", "at most 99 bytes", "100 with private n"):
        assert fragment in problem, problem
    with pytest.raises(MasterCfError, match="too long"):
        MasterCf.parse(MASTER).set(entry)
    with pytest.raises(PostfixMultiError, match="unix-domain name too long"):
        plan_master(MasterCf.parse(MASTER), opts(service=longest + "x", type=kind, private=private))
    if private != "-":  # a given private field is checked before the host is read
        refused(opts(service=longest + "x", type=kind, private=private), "unix-domain name too long")


def test_the_default_private_field_counts_for_the_socket_name() -> None:
    name = "s" * 100  # public/NAME fits (107 bytes), private/NAME (108) does not
    assert not MasterEntry(name, "unix", "n", command=("smtp",)).problems()
    for private in ("y", "-"):
        assert "unix-domain name too long" in MasterEntry(name, "unix", private, command=("smtp",)).problems()[0]
    # an existing public entry keeps its private field when the options do not give it
    current = MasterCf.parse(MASTER + f"{name} unix n - n - - smtp\n")
    assert not plan_master(current, opts(service=name, maxproc="3")).entry.problems()  # type: ignore[union-attr]
    with pytest.raises(PostfixMultiError, match="too long"):
        plan_master(current, opts(service=name, private="y"))


@pytest.mark.parametrize("kind", ["inet", "fifo"])
def test_inet_and_fifo_services_have_no_socket_name(kind: str) -> None:
    name = "s" * 120
    assert not any("too long" in problem for problem in MasterEntry(name, kind, "n", command=("smtp",)).problems())


# --------------------------------------------------------------------------- 2. -o values


@pytest.mark.parametrize(
    ("command", "value", "error"),
    [
        ("smtpd -o foo", "foo", "missing '=' after attribute name"),
        ("smtpd -o foo -o bar=1", "foo", "missing '=' after attribute name"),
        ("smtpd -ofix", "fix", "missing '=' after attribute name"),
        ("smtpd -v -o syslog_name", "syslog_name", "missing '=' after attribute name"),
        ("smtpd -o =yes", "=yes", "missing attribute name"),
    ],
)
def test_an_option_value_must_be_name_equals_value(command: str, value: str, error: str) -> None:
    # the daemon's own words: msg_fatal("invalid \"-o %s\" option value: %s", optarg, err)
    refused(opts(command=command), "relay/unix", f'fatal: invalid "-o {value}" option value: {error}', "give -o name=value")
    refused(opts(command=command.split(" ")), "relay/unix", f'invalid "-o {value}" option value')
    with pytest.raises(PostfixMultiError, match="option value"):
        plan_master(MasterCf.parse(MASTER), opts(command=command))


def test_an_option_without_its_value_is_refused() -> None:
    refused(opts(command="smtpd -o"), "relay/unix", "-o at the end has no value")


def test_a_braced_option_value_must_be_name_equals_value_too() -> None:
    refused(opts(command="smtpd -o { foo }"), "relay/unix: command 'smtpd -o { foo }': missing '=' after attribute name")


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("smtpd -o foo=", ("smtpd", "-o", "foo=")),
        ("smtpd -o { foo = value with blanks }", ("smtpd", "-o", "foo=value with blanks")),
        ("smtpd -o foo=$ref", ("smtpd", "-o", "foo=$ref")),
        ("smtpd -o foo=${ref}x -v", ("smtpd", "-o", "foo=${ref}x", "-v")),
        # after the first argument that is no option, -o belongs to the program's own arguments
        ("pipe flags=R user=x argv=/usr/bin/prog -o foo", ("pipe", "flags=R", "user=x", "argv=/usr/bin/prog", "-o", "foo")),
    ],
)
def test_good_option_values_are_accepted(command: str, argv: tuple[str, ...]) -> None:
    accepted(opts(command=command))
    assert plan_master(MasterCf.parse(MASTER), opts(command=command)).entry.command == argv  # type: ignore[union-attr]


def test_an_existing_entry_with_a_bad_option_is_not_rewritten_unchanged() -> None:
    # an edit of another field would write the entry back: it says what is wrong with its command
    current = MasterCf.parse(MASTER + "relay unix - - n - - smtp -o foo\n")
    with pytest.raises(PostfixMultiError, match='invalid "-o foo" option value'):
        plan_master(current, opts(command=None, maxproc="5"))
    assert not plan_master(current, opts(command=None, state="absent")).entry


# --------------------------------------------------------------------------- 3. duplicates, 4. unknown keys


def test_the_same_entry_twice_in_a_list_is_refused() -> None:
    items = [
        {"service": "smtp", "type": "inet", "private": "n", "command": "smtpd"},
        {"service": "smtp", "type": "unix", "command": "smtp"},  # another entry: the type differs
        {"service": "smtp", "type": "inet", "private": "n", "command": "smtpd -v"},
    ]
    # applied one after the other, the second undoes the first: each run would change the file
    once = MasterCf.parse(MASTER)
    for item in (items[0], items[2], items[0]):
        step = plan_master(once, item)
        assert step.changed or item is items[0]
        once = step.after
    with pytest.raises(PostfixMultiError) as caught:
        check_master_items("postfix_multi_instances[0] (postfix-a)", items)
    assert caught.value.msg.startswith("postfix_multi_instances[0] (postfix-a).master[2]: entry smtp/inet is also master[0]")
    assert "declare each service name and type once" in caught.value.msg
    assert len(check_master_items("x", items[:2])) == 2
    with pytest.raises(PostfixMultiError, match=r"master\[1\]: entry smtp/inet is also master\[0\]"):
        declared_from([{"name": "postfix-a", "master": [items[0], dict(items[2], state="absent")]}])
    with pytest.raises(PostfixMultiError, match=r"the primary instance.master\[1\]: entry postlog/unix-dgram is also master\[0\]"):
        postlog = {"service": "postlog", "type": "unix-dgram", "private": "n", "chroot": "n", "maxproc": "1", "command": "postlogd"}
        compare(DriftFacts(files=dict(host().files)), [], primary_master=[postlog, postlog])


@pytest.mark.parametrize("key", ["maxprocs", "comand", "instance", "validate"])
def test_unknown_keys_of_an_item_are_refused(key: str) -> None:
    item = {"service": "relay", "type": "unix", "command": "smtp", key: "3"}
    with pytest.raises(PostfixMultiError) as caught:
        check_master_items("postfix_multi_instances[1] (postfix-b)", [{"service": "smtp", "type": "inet", "private": "n"}, item])
    assert caught.value.msg == (
        f"postfix_multi_instances[1] (postfix-b).master[1] (relay/unix): unknown key(s) {key}; "
        "a master.cf entry takes service, type, private, unprivileged, chroot, wakeup, maxproc, command, state"
    )


def test_an_unknown_key_without_a_value_is_refused_too() -> None:
    with pytest.raises(PostfixMultiError, match=r"unknown key\(s\) maxprocs;"):
        check_master_items("x", [{"service": "relay", "type": "unix", "maxprocs": None}])


def test_postfix_multi_host_and_drift_info_refuse_unknown_keys_before_reading_the_host() -> None:
    design = {"instances": [{"name": "postfix-a", "master": [{"service": "relay", "type": "unix", "maxprocs": 3, "comand": "smtp"}]}]}
    for spec in (_converge.HOST, _converge.DRIFT):
        # what AnsibleModule passes on: the module's specification keeps unknown keys of the items
        result = ArgumentSpecValidator(spec.spec["argument_spec"]).validate(design)
        assert not result.error_messages
        [item] = result.validated_parameters["instances"][0]["master"]
        assert item["maxprocs"] == 3
    with pytest.raises(PostfixMultiError, match=r"postfix_multi_instances\[0\] \(postfix-a\).master\[0\] \(relay/unix\): unknown key\(s\) maxprocs, comand"):
        compare(_NoHost(), design["instances"])


class _NoHost(DriftFacts):
    def defaults(self) -> dict[str, str]:
        raise AssertionError("the design was not refused before the host was read")


def test_the_role_specification_takes_the_same_keys() -> None:
    with open(ROLE_SPECS, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    instance = spec["argument_specs"]["main"]["options"]["postfix_multi_instances"]["options"]
    assert tuple(instance["master"]["options"]) == MASTER_ITEM_KEYS
    errors = ArgumentSpecValidator(spec["argument_specs"]["main"]["options"]).validate(
        {"postfix_multi_instances": [{"name": "postfix-a", "master": [{"service": "relay", "type": "unix", "maxprocs": 3}]}]},
        validate_role_argument_spec=True,
    )
    assert any("maxprocs" in error for error in errors.error_messages)


def test_items_keep_their_fields_without_nulls() -> None:
    # AnsibleModule (the role's specification) fills every omitted field with None: the current value is kept
    items = [dict.fromkeys(MASTER_ITEM_KEYS, None) | {"service": "smtp", "type": "inet", "maxproc": 5}]
    assert check_master_items("x", items) == [{"service": "smtp", "type": "inet", "maxproc": 5}]
    assert declared_from([{"name": "postfix-a", "master": items}])[0].master == [{"service": "smtp", "type": "inet", "maxproc": 5}]
    with pytest.raises(PostfixMultiError, match=r"master\[0\] needs a service and a type"):
        check_master_items("x", [{"service": "smtp"}])
    with pytest.raises(PostfixMultiError, match=r"master\[0\] \(smtp/inet\): state must be one of present, absent"):
        check_master_items("x", [{"service": "smtp", "type": "inet", "state": "gone"}])
    with pytest.raises(PostfixMultiError, match=r"x.master\[0\]: .*invalid process_limit field"):
        check_master_items("x", [{"service": "smtp", "type": "inet", "maxproc": "many"}])


# --------------------------------------------------------------------------- 5. control characters


@pytest.mark.parametrize(
    ("options", "field", "code"),
    [
        ({"command": "smtpd\r"}, "command", "U+000D"),
        ({"command": ["smtpd", "-o syslog_name=x\r"]}, "command", "U+000D"),
        ({"command": "smtpd\t-v"}, "command", "U+0009"),
        ({"command": "smtpd -o {x = a\x0bb}"}, "command", "U+000B"),
        ({"command": "smtpd\x00"}, "command", "U+0000"),
        ({"command": "smtpd -o x=\x7f"}, "command", "U+007F"),
        ({"command": "smtpd -o x=\x85"}, "command", "U+0085"),
        ({"private": "n\r"}, "private", "U+000D"),
        ({"unprivileged": "\ty"}, "unprivileged", "U+0009"),
        ({"chroot": "y\x0c"}, "chroot", "U+000C"),
        ({"wakeup": "60\r"}, "wakeup", "U+000D"),
        ({"maxproc": "1\n"}, "maxproc", "U+000A"),
        ({"service": "relay\r"}, "service", "U+000D"),
        ({"type": "unix\r"}, "type", "U+000D"),
    ],
)
def test_control_characters_are_refused_in_every_field(options: dict[str, t.Any], field: str, code: str) -> None:
    message = refused(opts(**options), f"{field} ", code, "control character", "remove them")
    assert "relay" in message
    refused(opts(**{"state": "absent", **options}), code)
    item = {key: value for key, value in opts(**options).items() if key in MASTER_ITEM_KEYS}
    with pytest.raises(PostfixMultiError, match=re.escape(code)):
        check_master_items("x", [item])


@pytest.mark.parametrize(
    "entry",
    [
        MasterEntry("relay\r", "unix", command=("smtp",)),
        MasterEntry("relay", "unix", "n\r", command=("smtp",)),
        MasterEntry("relay", "unix", maxproc="1\x00", command=("smtp",)),
        MasterEntry("relay", "unix", command=("smtp\r",)),
        MasterEntry("relay", "unix", command=("smtp", "-o", "x=\x01")),
    ],
)
def test_entries_with_control_characters_are_not_written(entry: MasterEntry) -> None:
    assert any("control character" in problem for problem in entry.problems())
    with pytest.raises(MasterCfError, match="control character"):
        MasterCf.parse(MASTER).set(entry)
