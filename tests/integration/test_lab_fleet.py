# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/lab fleets: clones with loopback addresses of their own (up/down, inventory, teardown)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import labhost
import pytest

lab = labhost.lab


def _on_lo() -> set[str]:
    return lab.lo_addresses()


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(labhost.LAB_TOOL), *argv], capture_output=True, text=True, check=False)


def _banner(address: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, 25), timeout=2) as sock:
                return sock.recv(200).decode(errors="replace")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def prefix(lab_base):
    name = f"lf{os.getpid()}x"
    yield name
    lab.down(name)


def test_up_gives_each_host_its_own_block_and_down_removes_it(prefix, tmp_path):
    inventory = tmp_path / "inventory.yml"
    made = _cli("up", "2", "--prefix", prefix, "--addresses", "3", "--inventory", str(inventory), "--group", "fleet")
    assert made.returncode == 0, made.stderr
    names = [f"{prefix}1", f"{prefix}2"]
    assert lab.fleet_names(prefix) == names
    metas = [json.loads((lab.host_dir(n) / "host.json").read_text()) for n in names]
    blocks = [m["subnet"] for m in metas]
    assert len(set(blocks)) == 2 and 0 not in blocks
    for meta in metas:
        n = meta["subnet"]
        assert meta["addresses"] == [f"127.0.{n}.1", f"127.0.{n}.2", f"127.0.{n}.3"]
        assert set(meta["addresses"]) <= _on_lo()
        # the primary listens on the host's first address, never loopback-only
        main_cf = (lab.host_dir(meta["name"]) / "root/etc/postfix/main.cf").read_text()
        assert f"\ninet_interfaces = 127.0.{n}.1\n" in main_cf
        assert "loopback-only" not in main_cf
        assert f"\nmyhostname = {meta['name']}.lab.example\n" in main_cf
        # no DNS query leaves the machine: the host's and the primary's chroot jail's resolver is 127.0.0.1
        for resolv in ("etc/resolv.conf", "var/spool/postfix/etc/resolv.conf"):
            text = (lab.host_dir(meta["name"]) / "root" / resolv).read_text()
            assert [line for line in text.splitlines() if line.startswith("nameserver")] == ["nameserver 127.0.0.1"]

    text = inventory.read_text()
    assert "    fleet:\n" in text
    for meta in metas:
        assert f"lab_addresses: {json.dumps(meta['addresses'])}" in text
    assert _cli("inventory", "--prefix", prefix, "--group", "fleet").stdout == text

    # up again keeps what exists
    again = _cli("up", "2", "--prefix", prefix, "--addresses", "3")
    assert again.returncode == 0 and "exists: kept" in again.stderr
    assert [json.loads((lab.host_dir(n) / "host.json").read_text())["subnet"] for n in names] == blocks

    gone = _cli("down", "--prefix", prefix)
    assert gone.returncode == 0, gone.stderr
    assert lab.fleet_names(prefix) == []
    assert not any(a in _on_lo() for m in metas for a in m["addresses"])


def test_a_started_primary_binds_only_its_own_address(prefix):
    first, second = lab.up(2, prefix, addresses=2, owner_pid=os.getpid())
    one, two = (json.loads((lab.host_dir(n) / "host.json").read_text()) for n in (first, second))
    root = lab.host_dir(first) / "root"
    subprocess.run(["chroot", str(root), "postfix", "start"], env=lab.chroot_env(), capture_output=True, check=True)
    try:
        assert _banner(one["addresses"][0]).startswith(f"220 {first}.lab.example ESMTP")
        listening = subprocess.run(["ss", "-Hltn", "sport = :25"], capture_output=True, text=True, check=True).stdout
        assert f"{one['addresses'][0]}:25" in listening
        for other in one["addresses"][1:] + two["addresses"]:
            assert f"{other}:25" not in listening
    finally:
        lab.destroy(first)  # kills the master, removes the addresses
    assert lab.pids_inside(root) == []
    assert not set(one["addresses"]) & _on_lo()
    assert set(two["addresses"]) <= _on_lo()


def test_clone_refuses_bad_address_counts(lab_base):
    with pytest.raises(lab.LabError, match="between 0 and 254"):
        lab.clone(f"lf{os.getpid()}bad", addresses=255)
    assert not lab.host_dir(f"lf{os.getpid()}bad").exists()


def _nspawn_pids(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115, PTH123
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"systemd-nspawn") and f"--machine={name}".encode() in cmdline:
            found.append(int(entry))
    return found


def test_booted_fleet_ssh_reboot_and_down(prefix, tmp_path):
    """up --boot: systemd as PID 1 in each host, sshd on its first address, a reboot from inside
    boots it again, and down leaves no process, cgroup or address behind."""
    inventory = tmp_path / "inventory.yml"
    made = _cli("up", "2", "--prefix", prefix, "--addresses", "2", "--boot", "--release", "bullseye,trixie", "--inventory", str(inventory))
    assert made.returncode == 0, made.stderr
    names = [f"{prefix}1", f"{prefix}2"]
    metas = [json.loads((lab.host_dir(n) / "host.json").read_text()) for n in names]
    assert [m["release"] for m in metas] == ["bullseye", "trixie"] and all(m["boot"] for m in metas)
    text = inventory.read_text()
    assert text.count('ansible_connection: "ssh"') == 2 and "lab_booted: true" in text
    for meta in metas:
        # systemd is PID 1 inside, and the host is its own machine
        assert subprocess.run(lab.exec_argv(meta["name"], ["cat", "/proc/1/comm"]), capture_output=True, text=True, check=True).stdout == "systemd\n"
        assert subprocess.run(lab.exec_argv(meta["name"], ["hostname"]), capture_output=True, text=True, check=True).stdout == meta["name"] + "\n"
        with socket.create_connection((meta["addresses"][0], 22), timeout=5) as sock:
            assert sock.recv(4) == b"SSH-"
        assert _banner(meta["addresses"][0]).startswith(f"220 {meta['name']}.lab.example ESMTP")  # Debian's units started it
        assert (lab.memory_bytes(meta["name"]) or 0) > 0
    listed = _cli("list").stdout
    assert f"{names[1]}\ttrixie\tmounted" in listed and "booted" in listed

    first = metas[0]["name"]
    boots = json.loads((lab.host_dir(first) / "boot.json").read_text())["boots"]
    subprocess.run(lab.exec_argv(first, ["systemctl", "reboot"]), capture_output=True, check=False)
    deadline = time.monotonic() + 60
    while json.loads((lab.host_dir(first) / "boot.json").read_text()).get("boots") == boots and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.wait_booted(first, metas[0]["addresses"][0]) in ("running", "degraded")
    assert json.loads((lab.host_dir(first) / "boot.json").read_text())["boots"] == boots + 1

    gone = _cli("down", "--prefix", prefix)
    assert gone.returncode == 0, gone.stderr
    assert lab.fleet_names(prefix) == []
    for meta in metas:
        assert _nspawn_pids(meta["name"]) == []
        assert not any(d.exists() for d in lab._cgroup_dirs(meta["name"]))  # noqa: SLF001
        assert not set(meta["addresses"]) & _on_lo()
