# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults injected while the modules run on real lab hosts (issue 12).

Every fault must leave the old bytes or the new ones, never others; no temporary file; nothing
written outside the instance; and a re-run after the fault converges. The faults are real: kill -9
of every process of the host at points of a create, SIGTERM to the module, a full file system
(a small tmpfs), real ``postconf -e`` editing the same main.cf, the instance directory
swapped for a symbolic link while the module writes, and kill -9 of postfix_multi_host's
process on a booted host at points of a whole design's first converge.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import labhost
import pytest


# ----------------------------------------------------------------------------- helpers
def host_pids(host: labhost.Host, needle: str = "") -> list[int]:
    """Processes running inside the host: in its root (chroot hosts share this machine's PID space),
    or in the PID namespace of a booted host's systemd."""
    out = []
    leader = labhost.lab.leader_pid(host.name) if isinstance(host, labhost.BootedHost) else None
    namespace = os.readlink(f"/proc/{leader}/ns/pid") if leader else None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if namespace is not None:
                if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                    continue
            elif os.readlink(f"/proc/{entry}/root") != str(host.root):
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            out.append(int(entry))
    return out


def power_cut(host: labhost.Host) -> None:
    """kill -9 of every process of the host, as a power cut would stop them."""
    for pid in host_pids(host):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def in_background(target, *args) -> tuple[threading.Thread, list]:
    box: list = []
    thread = threading.Thread(target=lambda: box.append(target(*args)), daemon=True)
    thread.start()
    return thread, box


def wait_for_module(host: labhost.Host, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not host_pids(host, "python3"):  # pipelined: the module is the only python of the host
        if time.monotonic() > deadline:
            raise AssertionError(f"module {name} did not start")
        time.sleep(0.005)


def leftovers(host: labhost.Host) -> list[str]:
    """Temporary files or directories of any editor (ours, postconf's) in the config directories."""
    found = []
    for top in ("/etc", "/etc/postfix", "/etc/postfix-x", "/srv/small"):
        path = host.path(top)
        if path.is_dir():
            found += [str(p.relative_to(host.root)) for p in path.iterdir() if p.name.endswith(".tmp") or ".mailops-" in p.name]
    return sorted(found)


def complete(host: labhost.Host, directory: str, queue: str, data: str) -> None:
    """The instance is registered and has what postfix set-permissions gives it."""
    listed = host.run("postmulti", "-l").stdout
    assert directory in listed, listed
    assert host.path(f"{queue}/maildrop").is_dir() and host.path(f"{queue}/pid").is_dir()
    assert host.path(data).stat().st_uid == host.path("/var/lib/postfix").stat().st_uid
    host.run("postfix", "-c", directory, "check")


@pytest.fixture
def initialised(new_host) -> labhost.Host:
    host = new_host("fault")
    assert not host.module("postfix_multi_init").get("failed")
    return host


# ----------------------------------------------------------------------------- kill -9 and SIGTERM during a create
@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4, 0.8, 1.3, 2.0])
def test_power_cut_during_a_create_then_the_rerun_completes_it(initialised, delay: float) -> None:
    host = initialised
    thread, _box = in_background(lambda: host.module("postfix_instance", name="postfix-x", enabled=True))
    wait_for_module(host, "postfix_instance")
    time.sleep(delay)
    power_cut(host)
    thread.join(120)
    # either nothing happened, or the re-run completes it; nothing half-made blocks it
    again = host.module("postfix_instance", name="postfix-x", enabled=True)
    assert not again.get("failed"), again
    complete(host, "/etc/postfix-x", "/var/spool/postfix-x", "/var/lib/postfix-x")
    assert leftovers(host) == []
    assert host.module("postfix_instance", name="postfix-x", enabled=True)["changed"] is False


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.9])
def test_power_cut_during_a_destroy_then_the_rerun_completes_it(initialised, delay: float) -> None:
    host = initialised
    assert not host.module("postfix_instance", name="postfix-x", enabled=True).get("failed")
    host.run("postfix", "-c", "/etc/postfix-x", "start")
    thread, _box = in_background(lambda: host.module("postfix_instance", name="postfix-x", state="absent", force=True))
    wait_for_module(host, "postfix_instance")
    time.sleep(delay)
    power_cut(host)
    thread.join(120)
    again = host.module("postfix_instance", name="postfix-x", state="absent", force=True)
    assert not again.get("failed"), again
    assert "/etc/postfix-x" not in host.run("postmulti", "-l").stdout
    assert not host.path("/etc/postfix-x").exists()
    assert leftovers(host) == []
    assert host.module("postfix_instance", name="postfix-x", state="absent", force=True)["changed"] is False


@pytest.mark.parametrize("delay", [0.05, 0.5, 1.2])
def test_sigterm_during_a_create_rolls_back_or_completes(initialised, delay: float) -> None:
    """SIGTERM (a cancelled job, timeout) unwinds like SIGINT: what was registered is rolled back,
    and the re-run converges."""
    host = initialised
    thread, box = in_background(lambda: host.module("postfix_instance", name="postfix-x", enabled=True))
    wait_for_module(host, "postfix_instance")
    time.sleep(delay)
    for pid in host_pids(host, "python3"):
        os.kill(pid, signal.SIGTERM)
    thread.join(120)
    listed = host.run("postmulti", "-l").stdout
    if box and box[0].get("failed") and "/etc/postfix-x" in listed:  # interrupted: never registered half-made
        complete(host, "/etc/postfix-x", "/var/spool/postfix-x", "/var/lib/postfix-x")
    assert leftovers(host) == []
    again = host.module("postfix_instance", name="postfix-x", enabled=True)
    assert not again.get("failed"), again
    complete(host, "/etc/postfix-x", "/var/spool/postfix-x", "/var/lib/postfix-x")
    assert host.module("postfix_instance", name="postfix-x", enabled=True)["changed"] is False


# ----------------------------------------------------------------------------- a full file system
def test_a_full_file_system_half_way_through_a_create(initialised) -> None:
    """No space for master.cf after main.cf was written: the run fails clearly and undoes what it
    made; once there is space again, the re-run creates the instance."""
    host = initialised
    small = host.path("/srv/small")
    small.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "small", str(small)], check=True)
    try:
        main_size = host.path("/etc/postfix/main.cf.proto").stat().st_size
        free = -(-main_size // 4096) * 4096 + 4096  # main.cf fits, master.cf does not
        filler = small / "filler"
        with open(filler, "wb") as handle:
            handle.write(b"x" * (512 * 1024 - free))
        args = {"name": "postfix-x", "config_directory": "/srv/small/postfix-x", "enabled": True}
        failed = host.module("postfix_instance", **args)
        assert failed.get("failed") is True, failed
        assert "No space left on device" in failed["msg"], failed["msg"]
        assert sorted(p.name for p in small.iterdir()) == ["filler"]
        assert not host.path("/var/spool/postfix-x").exists() and not host.path("/var/lib/postfix-x").exists()
        assert "/srv/small/postfix-x" not in host.run("postmulti", "-l").stdout
        filler.unlink()
        again = host.module("postfix_instance", **args)
        assert not again.get("failed") and again["changed"] is True, again
        complete(host, "/srv/small/postfix-x", "/var/spool/postfix-x", "/var/lib/postfix-x")
        assert leftovers(host) == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


# ----------------------------------------------------------------------------- concurrent postconf -e
def test_concurrent_postconf_edits_are_never_lost(initialised) -> None:
    """postconf -e (an operator, another tool) and this collection edit the same main.cf files at
    the same time: every edit of both sides is there afterwards."""
    host = initialised
    assert not host.module("postfix_instance", name="postfix-x", enabled=True).get("failed")
    stop = threading.Event()
    done: list[str] = []

    def operator() -> None:
        n = 0
        while not stop.is_set() and n < 400:
            for directory in ("/etc/postfix", "/etc/postfix-x"):
                host.run("postconf", "-c", directory, "-e", f"operator_edit_{n} = {n}")
            done.append(f"operator_edit_{n}")
            n += 1

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    try:
        tasks = [
            {"mailops.postfix_multi.postfix_config": {"instance": "postfix-x", "parameters": {f"module_edit_{k}": str(k)}, "validate": False}}
            for k in range(15)
        ]
        tasks += [{"mailops.postfix_multi.postfix_instance": {"name": f"postfix-y{k}"}} for k in range(3)]
        from test_discovery_service import play

        results = play(host, *tasks)
    finally:
        stop.set()
        thread.join(120)
    assert all(not r.get("failed") and r["changed"] for r in results), [r.get("msg") for r in results]
    assert len(done) > 20, "the operator made too few edits to race with"
    # (read from the files: postconf -n leaves out parameters Postfix does not use)
    for directory in ("/etc/postfix", "/etc/postfix-x"):
        text = host.read(f"{directory}/main.cf")
        lost = [name for name in done if f"\n{name} = " not in text]
        assert lost == [], f"{directory}: postconf -e edits lost: {lost[:5]}"
    text_x = host.read("/etc/postfix-x/main.cf")
    assert all(f"\nmodule_edit_{k} = {k}\n" in text_x for k in range(15))
    listed = host.run("postmulti", "-l").stdout
    assert all(f"postfix-y{k}" in listed for k in range(3)), listed
    assert leftovers(host) == []


# ----------------------------------------------------------------------------- symlink races
def test_config_directory_swapped_for_a_symlink_while_writing(initialised) -> None:
    """The instance directory becomes a link to a directory outside the instance every few ms: an
    edit lands in the instance or fails cleanly; nothing is written through the link; no temporary
    file is left."""
    host = initialised
    assert not host.module("postfix_instance", name="postfix-x", enabled=True).get("failed")
    outside = host.path("/srv/outside")
    outside.mkdir(parents=True)
    decoy = "# not an instance: never to be written\n"
    (outside / "main.cf").write_text(decoy)
    (outside / "master.cf").write_text(decoy)
    real, link, parked = host.path("/etc/postfix-x"), host.path("/etc/postfix-x.link"), host.path("/etc/postfix-x.real")
    link.symlink_to("/srv/outside")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(real, parked)
            os.rename(link, real)  # /etc/postfix-x is now the link
            time.sleep(0.005)
            os.rename(real, link)
            os.rename(parked, real)
            time.sleep(0.005)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        from test_discovery_service import play

        results = play(
            host,
            *[
                {"mailops.postfix_multi.postfix_config": {"instance": "/etc/postfix-x", "parameters": {f"race_{k}": str(k)}, "validate": False}}
                for k in range(12)
            ],
        )
    finally:
        stop.set()
        thread.join(30)
    assert real.is_dir() and not real.is_symlink()
    assert (outside / "main.cf").read_text() == decoy and (outside / "master.cf").read_text() == decoy
    assert sorted(p.name for p in outside.iterdir()) == ["main.cf", "master.cf"]
    text = host.read("/etc/postfix-x/main.cf")
    for k, result in enumerate(results):
        if not result.get("failed"):
            assert f"\nrace_{k} = {k}\n" in text, result
    assert leftovers(host) == []


# ----------------------------------------------------------------------------- bytes that are not UTF-8
def test_main_cf_with_bytes_that_are_not_utf8(initialised) -> None:
    """Postfix accepts any bytes in a value. Validating and editing another parameter works and keeps
    them byte for byte; a refused value says which file and parameter."""
    host = initialised
    assert not host.module("postfix_instance", name="postfix-x", enabled=True).get("failed")
    path = host.path("/etc/postfix-x/main.cf")
    latin1 = b"smtpd_banner = $myhostname ESMTP caf\xe9 \xff\n"
    path.write_bytes(path.read_bytes() + latin1)
    results = host.sequence("postfix_config", instance="postfix-x", parameters={"myhostname": "x.example"})
    assert not any(r.get("failed") for r in results), [r.get("msg") for r in results]
    assert [r["changed"] for r in results] == [True, True, False, False]
    data = path.read_bytes()
    assert latin1 in data and b"\nmyhostname = x.example\n" in data
    refused = host.module("postfix_config", instance="postfix-x", parameters={"inet_interfaces": "192.0.2.77"})
    assert refused.get("failed") is True
    assert "/etc/postfix-x" in refused["msg"] and "inet_interfaces" in refused["msg"], refused["msg"]
    assert latin1 in path.read_bytes()


# ----------------------------------------------------------------------------- kill -9 of a whole-design run
def whole_design(host: labhost.BootedHost) -> dict:
    """MULTI_INSTANCE_README's two new instances (labhost.readme_design), postfix-out with a regexp
    table and a master.cf service besides, probed by the health gate."""
    args = labhost.readme_design(host)
    out = args["instances"][0]
    out["master"] = [{"service": "2525", "type": "inet", "private": False, "command": "smtpd"}]
    out["maps"] = [{"name": "helo_checks", "type": "regexp", "entries": [{"key": "/^localhost$/", "value": "REJECT"}]}]
    return {**args, "probe": True, "probe_timeout": 60}


def _listed(host: labhost.Host, directory: str) -> bool:
    return directory in host.read("/etc/postfix/main.cf").partition("multi_instance_directories")[2]


# points of the first converge, seen from outside the module as they happen
KILL_POINTS = {
    "started": lambda host: True,
    "first-create": lambda host: host.path("/etc/postfix-out/main.cf").exists(),
    "first-registered": lambda host: _listed(host, "/etc/postfix-out"),  # set-permissions comes next
    "second-registered": lambda host: _listed(host, "/etc/postfix-null"),
    "table-built": lambda host: host.path("/etc/postfix-out/helo_checks").exists(),
    "instances-starting": lambda host: host.path("/var/spool/postfix-out/pid/master.pid").exists(),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_of_a_whole_design_run_then_the_rerun_converges(new_booted, point: str) -> None:
    """The first converge of a booted host (postfix_multi_host over ssh) loses its module process
    to kill -9 at a point of its work: init, creates, table builds, unit starts. Whatever it had
    done, the next run completes the design and passes its health gate; the one after changes
    nothing; every instance is what Postfix itself says is complete (postfix check silent), no
    editor's temporary file, quick-start or reload-pending marker is left, and no unit failed."""
    host = new_booted("killhost")
    args = whole_design(host)
    thread, box = in_background(lambda: host.module("postfix_multi_host", module_args=args))
    wait_for_module(host, "postfix_multi_host")
    deadline = time.monotonic() + 120
    while not KILL_POINTS[point](host):
        assert time.monotonic() < deadline and thread.is_alive(), f"the run never got to {point}"
        time.sleep(0.005)
    for pid in host_pids(host, "python3"):
        os.kill(pid, signal.SIGKILL)
    thread.join(180)
    assert box and (box[0].get("unreachable") or box[0].get("failed")), box  # the run was cut off

    again = host.module("postfix_multi_host", module_args=args)
    assert not again.get("failed"), again.get("msg")
    assert again["health"]["passed"] is True, again["health"]
    final = host.module("postfix_multi_host", module_args=args)
    assert final["changed"] is False and final["health"]["passed"] is True, final.get("drift")

    assert [line.split()[0] for line in host.run("postmulti", "-l").stdout.splitlines()] == ["-", "postfix-out", "postfix-null"]
    for directory, queue, data in (
        ("/etc/postfix", "/var/spool/postfix", "/var/lib/postfix"),
        ("/etc/postfix-out", "/var/spool/postfix-out", "/var/lib/postfix-out"),
        ("/etc/postfix-null", "/var/spool/postfix-null", "/var/lib/postfix-null"),
    ):
        checked = host.run("postfix", "-c", directory, "check", check=False)
        assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), (directory, checked.stdout + checked.stderr)
        assert host.run("postfix", "-c", directory, "status", check=False).returncode == 0, directory
        assert not host.path(f"{queue}/quick-start").exists(), queue
        assert not host.path(f"{data}/postfix_multi-reload-pending").exists(), data
        strays = [p.name for p in host.path(directory).iterdir() if p.name.endswith(".tmp") or ".mailops-" in p.name]
        assert strays == [], (directory, strays)
    assert "REJECT" in host.read("/etc/postfix-out/helo_checks")
    with socket.create_connection((host.addresses[1], 2525), timeout=10) as sock:
        assert sock.recv(512).decode(errors="replace").startswith(f"220 out.{host.name}.lab.example")
    assert host.failed_units() == []


def helo_reply(host: labhost.BootedHost, port: int = 2525) -> str:
    """What postfix-out's smtpd answers to HELO localhost (its helo_checks decide, at once)."""
    with socket.create_connection((host.addresses[1], port), timeout=10) as sock:
        handle = sock.makefile("rwb")
        handle.readline()
        handle.write(b"HELO localhost\r\n")
        handle.flush()
        reply = handle.readline().decode(errors="replace")
        handle.write(b"QUIT\r\n")
        handle.flush()
        return reply


@pytest.mark.parametrize(("change", "release"), [("table", None), ("table-and-parameter", None), ("table", "bullseye"), ("table", "trixie")])
def test_kill_9_after_a_change_is_written_then_the_rerun_brings_it_into_service(new_booted, change: str, release: str | None) -> None:
    """A run that changes the running postfix-out (its regexp table; or the table and a main.cf
    parameter) loses its module process to kill -9 right after the new table is on disk, before the
    reload. smtpd(8) reads a regexp table when it starts, and an idle smtpd keeps serving with the
    old one: the next run - the files are as declared by now - must still reload the instance, so
    that what answers is the new rule (Postfix 3.7, and 3.5 and 3.10 on Debian 11 and 13)."""
    host = new_booted("killchange", release=release)
    args = whole_design(host)
    out = args["instances"][0]
    out["parameters"].update(smtpd_helo_restrictions="check_helo_access regexp:/etc/postfix-out/helo_checks", smtpd_delay_reject="no")
    out["maps"][0]["entries"] = [{"key": "/^localhost$/", "value": "REJECT old rule"}]
    assert host.module("postfix_multi_host", module_args=args)["changed"] is True
    assert "old rule" in helo_reply(host)  # and this smtpd stays, idle, for the next connection

    out["maps"][0]["entries"] = [{"key": "/^localhost$/", "value": "REJECT new rule"}]
    if change == "table-and-parameter":
        out["parameters"]["smtpd_banner"] = "$myhostname ESMTP changed"
    thread, box = in_background(lambda: host.module("postfix_multi_host", module_args=args))
    wait_for_module(host, "postfix_multi_host")
    deadline = time.monotonic() + 120
    while "new rule" not in host.read("/etc/postfix-out/helo_checks"):
        assert time.monotonic() < deadline and thread.is_alive(), "the run never wrote the table"
        time.sleep(0.002)
    for pid in host_pids(host, "python3"):
        os.kill(pid, signal.SIGKILL)
    thread.join(180)
    assert box and (box[0].get("unreachable") or box[0].get("failed")), box

    again = host.module("postfix_multi_host", module_args=args)
    assert not again.get("failed") and again["health"]["passed"] is True, again.get("msg")
    assert host.module("postfix_multi_host", module_args=args)["changed"] is False
    assert "new rule" in helo_reply(host)
    assert not host.path("/var/lib/postfix-out/postfix_multi-reload-pending").exists()
