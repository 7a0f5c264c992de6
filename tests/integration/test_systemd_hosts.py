# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules on hosts like production: systemd as PID 1, Ansible over ssh, Debian 11, 12 and 13.

Each test boots fresh lab hosts (tools/lab clone --boot: systemd-nspawn --boot, sshd on the
host's own 127.0.N.1) and drives them only through Ansible's ssh connection; what the host's
systemd did is read inside the host (systemctl). The expectations come from the packaging each
release documents, not from the collection:

* Debian 11 and 12: ``postfix@.service`` runs ``postmulti -i %i``; the package's generator
  makes ``postfix.service`` want ``postfix@-`` and ``postfix@NAME`` for every listed instance.
* Debian 13 (README.Debian, "Multiple Postfix instances under systemd"): instance INST lives in
  ``/etc/postfix-INST`` and runs as ``postfix@INST.service``, enabled with ``systemctl enable``;
  the primary is ``postfix.service``.

After a reboot exactly the enabled instances must run, answer SMTP on their own addresses, and
no unit may have failed.
"""

from __future__ import annotations

import socket
import time

import labhost
import pytest

RELEASES = ["bullseye", "bookworm", "trixie"]


def banner(address: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, 25), timeout=3) as sock:
                return sock.recv(200).decode(errors="replace").strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def refused(address: str) -> bool:
    try:
        with socket.create_connection((address, 25), timeout=2):
            return False
    except OSError:
        return True


def running(host: labhost.BootedHost, directory: str) -> bool:
    return host.run("postfix", "-c", directory, "status", check=False).returncode == 0


def unit_of(host: labhost.Host, name: str) -> str:
    """The unit the release's packaging names for /etc/postfix-<name without postfix->."""
    short = name.removeprefix("postfix-")
    return f"postfix@{short}.service" if host.release == "trixie" else f"postfix@{name}.service"


def reboot(host: labhost.BootedHost) -> None:
    """Reboot through Ansible, as an operator would; the host must come back as a new boot."""
    before = host.boot_count()
    result = host.module("ansible.builtin.reboot", reboot_timeout=120)
    assert result.get("rebooted") is True, host.last_run.explain()
    assert host.boot_count() == before + 1
    assert host.system_state() == "running", host.failed_units()


def design(host: labhost.BootedHost) -> list[tuple[str, dict]]:
    """postfix-a and postfix-c listen on the host's 2nd and 3rd address; postfix-b is disabled."""
    return [
        ("postfix-a", {"inet_interfaces": host.addresses[1], "myhostname": f"a.{host.name}.lab.example", "master_service_disable": ""}),
        ("postfix-c", {"inet_interfaces": host.addresses[2], "myhostname": f"c.{host.name}.lab.example", "master_service_disable": ""}),
    ]


def build(host: labhost.BootedHost) -> None:
    assert host.module("postfix_multi_init")["changed"] is True
    for name, parameters in design(host):
        assert host.module("postfix_instance", name=name, enabled=True)["changed"] is True
        assert host.module("postfix_config", instance=name, parameters=parameters)["changed"] is True
    assert host.module("postfix_instance", name="postfix-b", enabled=False)["changed"] is True


@pytest.mark.parametrize("release", RELEASES)
def test_started_and_enabled_survive_a_reboot(new_booted, release: str) -> None:
    host = new_booted("sd", release=release)
    assert host.system_state() == "running"
    assert host.module("ansible.builtin.command", cmd="cat /etc/hostname")["stdout"] == host.name  # over ssh
    build(host)

    results = host.sequence("postfix_service", state="started", enabled=True)
    assert [r["changed"] for r in results] == [True, True, False, False], host.last_run.explain()
    assert all(r.get("backend") == "systemd" for r in results)
    assert not any(r.get("failed") for r in results)
    # check mode reported what the apply then did, unit by unit
    assert [b["verbs"] for b in results[0]["boot"]] == [b["verbs"] for b in results[1]["boot"]]
    assert [(b["instance"], b["starts_at_boot"]) for b in results[1]["boot"]] == [
        ("/etc/postfix", True),  # the primary (no multi_instance_name)
        ("postfix-a", True),
        ("postfix-c", True),
        ("postfix-b", False),
    ]
    started = [r for r in results[1]["results"] if r["action"] == "start"]
    assert [r["via"] for r in started] == ["systemd", "systemd"]
    assert [r["cmd"][-1] for r in started] == [unit_of(host, "postfix-a"), unit_of(host, "postfix-c")]

    for name in ("postfix-a", "postfix-c"):
        assert host.run("systemctl", "is-active", unit_of(host, name)).stdout.strip() == "active"
    b_unit = host.run("systemctl", "is-enabled", unit_of(host, "postfix-b"), check=False).stdout.strip()
    if release == "trixie":
        assert host.run("systemctl", "is-enabled", unit_of(host, "postfix-a")).stdout.strip() == "enabled"
        assert b_unit == "disabled"
    else:
        assert b_unit == "masked"  # the generator would pull it in: README of the role and module say so

    assert banner(host.addresses[1]).startswith(f"220 a.{host.name}.lab.example ESMTP")
    assert banner(host.addresses[2]).startswith(f"220 c.{host.name}.lab.example ESMTP")

    reboot(host)
    assert host.failed_units() == []
    assert [running(host, d) for d in ("/etc/postfix", "/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c")] == [True, True, False, True]
    assert banner(host.addresses[0]).startswith(f"220 {host.name}.lab.example ESMTP")
    assert banner(host.addresses[1]).startswith(f"220 a.{host.name}.lab.example ESMTP")
    assert banner(host.addresses[2]).startswith(f"220 c.{host.name}.lab.example ESMTP")

    # after the reboot everything is as declared: nothing to do, and read-only states never change anything
    for options in ({"state": "started", "enabled": True}, {"state": "checked"}, {"command": ["status"]}):
        result = host.module("postfix_service", **options)
        assert result["changed"] is False, (options, result)
        assert result["daemon_reload"] is False, (options, result)


@pytest.mark.parametrize("release", RELEASES)
def test_disabling_an_instance_keeps_it_down_after_a_reboot(new_booted, release: str) -> None:
    host = new_booted("sd", release=release)
    build(host)
    host.module("postfix_service", state="started", enabled=True)
    assert running(host, "/etc/postfix-a")

    # the operator's order: stop, disable, then say what starts at boot
    stop = host.module("postfix_service", name="postfix-a", state="stopped")
    assert stop["changed"] is True and not running(host, "/etc/postfix-a")
    assert host.module("postfix_instance", name="postfix-a", enabled=False)["changed"] is True
    results = host.sequence("postfix_service", enabled=True)
    assert [r["changed"] for r in results] == [True, True, False, False], host.last_run.explain()
    a = next(b for b in results[1]["boot"] if b["instance"] == "postfix-a")
    assert a["starts_at_boot"] is False and a["verbs"] == (["disable"] if release == "trixie" else ["mask"])

    reboot(host)
    assert host.failed_units() == []  # a disabled instance pulled in at boot would fail ("No matching instances")
    assert [running(host, d) for d in ("/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c")] == [False, False, True]
    assert refused(host.addresses[1])

    # and back: enabled again, started and kept at boot
    assert host.module("postfix_instance", name="postfix-a", enabled=True)["changed"] is True
    result = host.module("postfix_service", state="started", enabled=True)
    assert result["changed"] is True and not result.get("failed"), result
    reboot(host)
    assert host.failed_units() == []
    assert [running(host, d) for d in ("/etc/postfix-a", "/etc/postfix-b", "/etc/postfix-c")] == [True, False, True]


def test_debian13_unit_names_follow_the_directory(new_booted) -> None:
    """Debian 13's README: instance INST is /etc/postfix-INST and postfix@INST.service; another
    directory has no unit. A '-' in INST reaches the unit escaped, as systemd-escape writes it.
    (The other directory is not below /etc/postfix: a directory inside another instance's is refused.)"""
    host = new_booted("sd13", release="trixie")
    assert host.module("postfix_multi_init")["changed"] is True
    assert host.module("postfix_instance", name="postfix-out-2", enabled=True)["changed"] is True
    params = {"inet_interfaces": host.addresses[1], "myhostname": "out2.example", "master_service_disable": ""}
    assert host.module("postfix_config", instance="postfix-out-2", parameters=params)["changed"] is True
    elsewhere = host.module("postfix_instance", name="postfix-side", enabled=True, config_directory="/etc/side-postfix")
    assert elsewhere["changed"] is True, elsewhere
    params = {"inet_interfaces": host.addresses[2], "myhostname": "side.example", "master_service_disable": ""}
    assert host.module("postfix_config", instance="postfix-side", parameters=params)["changed"] is True

    result = host.module("postfix_service", state="started", enabled=True)
    assert not result.get("failed"), result
    by_name = {b["instance"]: b for b in result["boot"]}
    assert by_name["postfix-out-2"]["unit"] == "postfix@out\\x2d2.service"
    assert by_name["postfix-side"]["unit"] is None and by_name["postfix-side"]["starts_at_boot"] is False
    assert any("postfix-side" in w and "nothing starts it at boot" in w for w in result.get("warnings", []))
    assert host.run("systemctl", "is-enabled", "postfix@out\\x2d2.service").stdout.strip() == "enabled"
    assert banner(host.addresses[1]).startswith("220 out2.example")
    assert banner(host.addresses[2]).startswith("220 side.example")  # started with postfix -c, not by a unit

    reboot(host)
    assert host.failed_units() == []
    assert running(host, "/etc/postfix-out-2") and not running(host, "/etc/side-postfix")


@pytest.mark.parametrize("release", RELEASES)
def test_primary_restart_leaves_the_other_instances_running(new_booted, release: str) -> None:
    """Debian 13's postfix.service is the primary and every postfix@ unit is PartOf it: restarting
    or reloading the primary alone must not take the others down."""
    host = new_booted("sdp", release=release)
    build(host)
    host.module("postfix_service", state="started", enabled=True)
    pids = {d: host.run("cat", f"/var/spool/postfix-{d[-1]}/pid/master.pid").stdout.split() for d in ("/etc/postfix-a", "/etc/postfix-c")}
    for state in ("restarted", "reloaded"):
        result = host.module("postfix_service", name="-", state=state)
        assert result["changed"] is True and not result.get("failed"), result
    assert all(running(host, d) for d in ("/etc/postfix", "/etc/postfix-a", "/etc/postfix-c"))
    after = {d: host.run("cat", f"/var/spool/postfix-{d[-1]}/pid/master.pid").stdout.split() for d in pids}
    assert after == pids  # same masters: never restarted
    assert host.run("systemctl", "is-active", "postfix.service" if release == "trixie" else "postfix@-.service").stdout.strip() == "active"
    assert host.failed_units() == []


@pytest.mark.parametrize("release", RELEASES)
def test_lifecycle_over_ssh_matches_postmulti(new_booted, release: str) -> None:
    """The life cycle through the modules over ssh ends where the real postmulti ends on a twin host
    of the same release: created in a group, enabled, renamed, disabled."""
    import test_oracle_parity as op  # pylint: disable=import-outside-toplevel

    oracle, host = new_booted("oracle", release=release), new_booted("host", release=release)
    op.init(oracle)
    op.create(oracle, name="postfix-out", group="mta")
    op.enable(oracle, "postfix-out")
    op.assign(oracle, "postfix-out", name="postfix-relay", group="out")
    op.disable(oracle, "postfix-relay")
    expected = op.state(oracle)

    assert host.module("postfix_multi_init")["changed"] is True
    steps = [
        {"name": "postfix-out", "group": "mta"},
        {"name": "postfix-out", "enabled": True},
        {"config_directory": "/etc/postfix-out", "name": "postfix-relay", "group": "out"},
        {"name": "postfix-relay", "enabled": False},
    ]
    for args in steps:
        results = host.sequence("postfix_instance", **args)
        assert [r["changed"] for r in results] == [True, True, False, False], (args, host.last_run.explain())
    assert without_host_identity(host.state()) == without_host_identity(expected)


def without_host_identity(state: dict) -> dict:
    """The state less what the lab gives each booted host of its own: its primary's
    inet_interfaces and myhostname (see tools/lab clone --addresses)."""
    own = ("inet_interfaces = ", "myhostname = ")
    state["postconf_n"]["/etc/postfix"] = [line for line in state["postconf_n"]["/etc/postfix"] if not line.startswith(own)]
    return state


@pytest.mark.parametrize("release", RELEASES)
def test_without_a_terminal_the_reason_comes_from_the_log(new_booted, release: str) -> None:
    """Postfix writes why a command failed only to syslog when stderr is no terminal. On a host
    where no pseudo-terminal can be opened (devpts hidden), a refused value must still fail with
    Postfix's own reason, read from what it logged (journald here)."""
    host = new_booted("sdnotty", release=release)
    build(host)
    host.run("mount", "-t", "tmpfs", "-o", "size=1m", "nopts", "/dev/pts")  # no pseudo-terminal from now on
    try:
        assert host.run("python3", "-c", "import pty; pty.openpty()", check=False).returncode != 0
        result = host.module("postfix_config", instance="postfix-a", parameters={"inet_interfaces": "127.0.77.99"})
        assert result.get("failed") is True, result
        assert "no local interface found for 127.0.77.99" in result["msg"], result["msg"]
        assert "(no message)" not in result["msg"]
    finally:
        host.run("umount", "/dev/pts", check=False)


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_a_unit_that_fails_to_start_says_why(new_booted, release: str) -> None:
    """systemctl only says that a unit failed; the reason is what the instance's Postfix logged."""
    host = new_booted("sdfail", release=release)
    build(host)
    # a configuration Postfix refuses, written past validation as a hand edit would be
    written = host.module("postfix_config", instance="postfix-a", parameters={"inet_interfaces": "127.0.77.98"}, validate=False)
    assert written["changed"] is True, written
    result = host.module("postfix_service", name="postfix-a", state="started")
    assert result.get("failed") is True, result
    assert "no local interface found for 127.0.77.98" in result["msg"], result["msg"]


@pytest.mark.parametrize("release", RELEASES)
def test_an_instance_that_goes_away_leaves_no_unit_setting_behind(new_booted, release: str) -> None:
    """Destroyed, deported or renamed, an instance leaves systemd as real postmulti would: a later
    instance of the same name, made with postmulti as MULTI_INSTANCE_README does, starts."""
    host = new_booted("sdgone", release=release)
    module = "mailops.postfix_multi.postfix_multi_host"
    disabled = [{"name": "postfix-m", "enabled": False}, {"name": "postfix-r", "enabled": False}, {"name": "postfix-d", "enabled": False}]
    first = host.module(module, instances=disabled)
    assert first["changed"] is True and not first.get("failed"), first.get("msg")
    if release != "trixie":  # the generator pulls in every listed instance: a disabled one is masked
        assert host.run("systemctl", "is-enabled", "postfix@postfix-m.service", check=False).stdout.strip() == "masked"

    gone = [
        {"name": "postfix-m", "state": "absent"},
        {"name": "postfix-renamed", "config_directory": "/etc/postfix-r", "enabled": False},
        {"name": "postfix-d", "state": "deported"},
    ]
    results = host.sequence(module, module_args={"instances": gone})
    assert [r["changed"] for r in results] == [True, True, False, False], host.last_run.explain()
    masked = sorted(path.name for path in (host.root / "etc/systemd/system").glob("postfix@*.service") if path.is_symlink())
    # only the renamed instance, still disabled, is kept from starting at boot (under its new name)
    assert masked == ([] if release == "trixie" else ["postfix@postfix-renamed.service"])

    # MULTI_INSTANCE_README's way, by hand: the new postfix-m starts through its unit
    host.run("postmulti", "-I", "postfix-m", "-e", "create")
    host.run("postconf", "-c", "/etc/postfix-m", "-e", f"inet_interfaces = {host.addresses[1]}", "master_service_disable =")
    host.run("postmulti", "-i", "postfix-m", "-e", "enable")
    host.run("systemctl", "daemon-reload")
    started = host.run("systemctl", "start", unit_of(host, "postfix-m"), check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    assert running(host, "/etc/postfix-m")

    if release != "trixie":
        # a mask an earlier version left for a name no longer listed is drift, and the run removes it
        host.run("systemctl", "mask", "postfix@postfix-old.service")
        results = host.sequence(module, module_args={"instances": [{"name": "postfix-m"}, {"name": "postfix-renamed", "enabled": False}]})
        assert [r["changed"] for r in results] == [True, True, False, False], host.last_run.explain()
        assert any("postfix@postfix-old.service" in line for line in results[0]["drift"]), results[0]["drift"]
        assert host.run("systemctl", "is-enabled", "postfix@postfix-old.service", check=False).stdout.strip() != "masked"
        assert host.run("systemctl", "is-enabled", "postfix@postfix-renamed.service", check=False).stdout.strip() == "masked"
    assert host.failed_units() == []


@pytest.mark.parametrize("release", RELEASES)
def test_postfix_instance_releases_the_unit_of_what_it_destroys_deports_or_renames(new_booted, release: str) -> None:
    """The fine-grained module alone: what a design run made of the units (a mask on Debian 11/12, an
    enabled unit on Debian 13) goes with the instance, in check mode reported and left alone."""
    host = new_booted("sdrel", release=release)
    enabled = release == "trixie"  # Debian 13: enabled instances' units are enabled; 11/12: disabled ones masked
    addresses = dict(zip(("postfix-a", "postfix-b"), host.addresses[1:]))
    design = [{"name": name, "enabled": enabled, "parameters": {"inet_interfaces": address}} for name, address in addresses.items()]
    assert host.module("mailops.postfix_multi.postfix_multi_host", instances=design)["changed"] is True
    a, b = unit_of(host, "postfix-a"), unit_of(host, "postfix-b")
    expected = "enabled" if release == "trixie" else "masked"
    assert [host.run("systemctl", "is-enabled", unit, check=False).stdout.strip() for unit in (a, b)] == [expected, expected]

    gone = host.sequence("postfix_instance", name="postfix-a", state="absent", force=True)
    assert [r["changed"] for r in gone] == [True, True, False, False], host.last_run.explain()
    verb = "disable" if release == "trixie" else "unmask"
    assert gone[0]["units"] == gone[1]["units"] and gone[1]["units"][0].endswith(f"{verb} -- {a}"), gone[1]
    assert host.run("systemctl", "is-enabled", a, check=False).stdout.strip() not in ("masked", "enabled")

    if release != "trixie":  # Debian 13 names units after the directory: a rename keeps the unit
        renamed = host.module("postfix_instance", config_directory="/etc/postfix-b", name="postfix-bee")
        assert renamed["changed"] is True and [u.rsplit(" ", 3)[-3] for u in renamed["units"]] == ["unmask", "mask"], renamed
        assert host.run("systemctl", "is-enabled", b, check=False).stdout.strip() != "masked"
        assert host.run("systemctl", "is-enabled", "postfix@postfix-bee.service", check=False).stdout.strip() == "masked"
    deported = host.module("postfix_instance", config_directory="/etc/postfix-b", state="deported", force=True)
    assert deported["changed"] is True and deported.get("units"), deported
    masked = sorted(path.name for path in (host.root / "etc/systemd/system").glob("postfix@*.service") if path.is_symlink())
    assert masked == []
    assert host.failed_units() == []
