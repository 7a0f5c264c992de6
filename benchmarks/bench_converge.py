# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One round trip per host: the rollout playbook against a naive playbook and ``ansible -m ping``.

Run through benchmarks/converge (as root). On booted lab hosts (systemd as PID 1, Ansible over
ssh), HOSTS hosts x INSTANCES instances x PARAMETERS main.cf parameters (+1 master.cf entry each),
all measured in this one run, side by side:

  naive       a playbook of the kind users write: ``command: postmulti -e init``, ``postmulti -I
              NAME -e create`` per instance, one ``postconf -e`` per parameter, ``postconf -X``,
              ``postconf -M``, ``postmulti -e enable`` and ``postmulti -i NAME -p status || ... start`` per
              instance (on its own fresh hosts)
  rollout     playbooks/rollout.yml: the multi_instance role, one postfix_multi_host call per host,
              health gate included (on fresh hosts)
  start floor what Postfix itself needs to start the instances: every instance stopped, then
              ``postmulti -p start`` on every host at the same time (wall time of the slowest host)
  unit floor  the same start as the rollout makes it on these systemd hosts: ``systemctl start`` of
              every ``postfix@`` unit at once, Debian's ``configure-instance.sh`` (its ExecStartPre,
              which readies each instance's chroot) included
  checked     the unit floor plus what Postfix runs for every new instance besides starting it:
              ``postfix check`` (the configuration check before an instance is enabled) and ``postfix
              set-permissions`` (which ``postmulti -e create`` runs), instance after instance
  ping        ``ansible -m ping`` against the same hosts: the floor of one round trip per host

for the first converge and the floors (medians of --repeat runs) and the no-op re-run (medians of
--noop-repeat runs of ping and the rollout, taken in turn so that they share the machine's load: a
no-op takes about a second, and a single run of it varies by 10-20%), then the no-op re-run on 3, 10 and 30 hosts with the same forks (the
curve), and the same with Mitogen for Ansible where a release of it loads into this ansible-core.
For the first converge and the floors it also prints the CPU seconds used meanwhile by the hosts
(their cgroups) and by the commands the benchmark waited for: when these come close to the
machine's CPUs times the wall time, the run kept every CPU busy, and its wall time follows the
work it needs, not its round trips.
Prints a Markdown table with the ratios; asserts nothing.

    benchmarks/converge [--hosts 3] [--instances 8] [--parameters 10] [--scale 3,10,30] [--forks 10] [--repeat 3] [--noop-repeat 9]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_rollout  # noqa: E402  (same directory)

REPO = bench_rollout.REPO
GROUP = bench_rollout.GROUP
PREFIX = "bcv-"
# postfix check and set-permissions of every instance, one after the other (as postmulti runs them)
PER_INSTANCE = "for d in {directories}; do postfix -c $d check && postfix -c $d set-permissions || exit 1; done"
SCALE_PREFIX = "bcs-"

NAIVE = f"""- name: Naive multi-instance Postfix, one command per step
  hosts: {GROUP}
  gather_facts: false
  tasks:
    - name: Turn on multi-instance support
      ansible.builtin.command: postmulti -e init
      changed_when: true
    - name: Create the instances
      ansible.builtin.command: postmulti -I {{{{ item.name }}}} -G {{{{ item.group }}}} -e create
      args:
        creates: /etc/{{{{ item.name }}}}/main.cf
      loop: "{{{{ postfix_multi_instances }}}}"
    - name: Set the primary's main.cf parameters
      ansible.builtin.command: postconf -e "{{{{ item.key }}}}={{{{ item.value }}}}"
      loop: "{{{{ postfix_multi_primary_parameters | dict2items }}}}"
      changed_when: true
    - name: Let the primary listen
      ansible.builtin.command: postconf -X master_service_disable
      changed_when: true
    - name: Set the instances' main.cf parameters
      ansible.builtin.command: postconf -c /etc/{{{{ item.0.name }}}} -e "{{{{ item.1.key }}}}={{{{ item.1.value }}}}"
      loop: "{{{{ naive_parameters }}}}"
      changed_when: true
    - name: Let the instances listen
      ansible.builtin.command: postconf -c /etc/{{{{ item.name }}}} -X master_service_disable
      loop: "{{{{ postfix_multi_instances }}}}"
      changed_when: true
    - name: Add the master.cf entry
      ansible.builtin.command: postconf -c /etc/{{{{ item.name }}}} -M "2525/inet=2525 inet n - y - - smtpd -o syslog_name=bench/2525"
      loop: "{{{{ postfix_multi_instances }}}}"
      changed_when: true
    - name: Enable the instances
      ansible.builtin.command: postmulti -i {{{{ item.name }}}} -e enable
      loop: "{{{{ postfix_multi_instances }}}}"
      changed_when: true
    - name: Start the primary
      ansible.builtin.shell: postmulti -i - -p status || postmulti -i - -p start
      changed_when: true
    - name: Start the instances
      ansible.builtin.shell: postmulti -i {{{{ item.name }}}} -p status || postmulti -i {{{{ item.name }}}} -p start
      loop: "{{{{ postfix_multi_instances }}}}"
      changed_when: true
"""


def naive_vars(design: dict) -> dict:
    """The naive playbook's loop over (instance, parameter) pairs."""
    pairs = [[{"name": inst["name"]}, {"key": key, "value": value}] for inst in design["postfix_multi_instances"] for key, value in inst["parameters"].items()]
    return {"naive_parameters": pairs}


def ansible_env(workdir: Path, strategy: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(workdir / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=f"{REPO / '.build' / 'collections'}:{bench_rollout.sysconfig.get_paths()['purelib']}",
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
    )
    if strategy is not None:
        env.update(ANSIBLE_STRATEGY_PLUGINS=str(strategy), ANSIBLE_STRATEGY="mitogen_linear")
    return env


def timed(workdir: Path, argv: list[str], forks: int, strategy: Path | None = None) -> float:
    """Wall seconds of one ansible(-playbook) run; fails the benchmark when the run fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "ansible.cfg").write_text("# empty: configured through the environment\n")
    env = ansible_env(workdir, strategy)
    env["ANSIBLE_FORKS"] = str(forks)
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    (workdir / "stdout.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed (rc={proc.returncode}); output in {workdir / 'stdout.txt'}:\n{(proc.stdout + proc.stderr)[-2500:]}")
    return seconds


class Bench:
    def __init__(self, work: Path, forks: int) -> None:
        self.work = work
        self.forks = forks
        self.bin = Path(sys.executable).parent
        self.runs = 0

    def playbook(self, label: str, inventory: Path, extra: list[Path], playbook: str, strategy: Path | None = None) -> float:
        self.runs += 1
        argv = [str(self.bin / "ansible-playbook"), "-i", str(inventory)]
        for path in extra:
            argv += ["-e", f"@{path}"]
        return timed(self.work / f"{self.runs:03d}-{label}", [*argv, playbook], self.forks, strategy)

    def ping(self, inventory: Path, strategy: Path | None = None) -> float:
        self.runs += 1
        argv = [str(self.bin / "ansible"), "-i", str(inventory), GROUP, "-m", "ansible.builtin.ping"]
        return timed(self.work / f"{self.runs:03d}-ping", argv, self.forks, strategy)


def fleet(lab, prefix: str, count: int, addresses: int, work: Path) -> tuple[list[str], Path]:
    names = lab.up(count, prefix, addresses=addresses, boot=True)
    inventory = work / f"inventory-{prefix}{count}.yml"
    inventory.write_text(lab.inventory_yaml(names, group=GROUP))
    return names, inventory


def on_hosts(lab, names: list[str], *argv: str) -> float:
    """Run ARGV in every host at the same time; wall seconds until the last one finished."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        results = list(pool.map(lambda name: subprocess.run(lab.exec_argv(name, list(argv)), capture_output=True, text=True, check=False), names))
    seconds = time.monotonic() - started
    failed = [r for r in results if r.returncode != 0]
    if failed:
        raise RuntimeError(f"{' '.join(argv)} failed: {failed[0].stdout}{failed[0].stderr}")
    return seconds


def cpu_now(lab, names: list[str]) -> tuple[float, float]:
    """CPU seconds used so far by the hosts (their cgroups: modules, systemd, the units it started)
    and by the commands this benchmark ran and waited for (ansible-playbook, its workers and ssh;
    the nsenter'd floor commands, which run outside the hosts' cgroups)."""
    hosts = sum(lab.cpu_seconds(name) or 0.0 for name in names)
    mine = os.times()
    return hosts, mine.children_user + mine.children_system


def metered(lab, names: list[str], step) -> tuple[float, float]:
    """(wall seconds, CPU seconds of hosts and benchmark together) of STEP()."""
    hosts0, here0 = cpu_now(lab, names)
    seconds = step()
    hosts1, here1 = cpu_now(lab, names)
    return seconds, (hosts1 - hosts0) + (here1 - here0)


def mitogen_strategy(work: Path) -> tuple[Path | None, str]:
    """Install the newest Mitogen for Ansible into a scratch directory; its strategy plugins, or why not."""
    target = work / "mitogen"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target), "mitogen"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None, f"Mitogen: not measured, pip could not install it: {proc.stderr.strip()[-300:]}"
    version = next((p.name.removesuffix(".dist-info").split("-", 1)[1] for p in target.glob("mitogen-*.dist-info")), "?")
    return target / "ansible_mitogen" / "plugins" / "strategy", f"Mitogen {version}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--parameters", type=int, default=10)
    parser.add_argument("--scale", default="3,10,30", help="host counts for the no-op curve ('' to skip it)")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--noop-repeat", type=int, default=9, help="runs of ping and of the no-op rollout, in turn")
    parser.add_argument("--no-mitogen", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/converge must run as root (tools/lab)")
    lab = bench_rollout.load_lab()
    work = Path(tempfile.mkdtemp(prefix="bench-converge-"))
    design = bench_rollout.design(args.instances, args.parameters)
    design_file = work / "design.json"
    design_file.write_text(json.dumps(design, indent=1))
    naive_file = work / "naive-vars.json"
    naive_file.write_text(json.dumps(naive_vars(design)))
    (work / "naive.yml").write_text(NAIVE)
    bench = Bench(work, args.forks)
    rollout = "mailops.postfix_multi.rollout"
    addresses = args.instances + 1
    out: list[str] = []

    def say(line: str = "") -> None:
        out.append(line)
        print(line, flush=True)

    say(
        f"One round trip per host: {args.hosts} booted hosts (systemd, ssh, pipelining) x {args.instances} instances x "
        f"{args.parameters} parameters (+1 master.cf entry each), forks {args.forks}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, {args.repeat} runs each ({args.noop_repeat} for the no-op and ping; medians)"
    )
    try:
        # -- first converge: naive and rollout, each on fresh hosts; the start floor
        lab.down(PREFIX)
        names, inventory = fleet(lab, PREFIX, args.hosts, addresses, work)
        naive_first, naive_cpu = metered(lab, names, lambda: bench.playbook("naive-first", inventory, [design_file, naive_file], str(work / "naive.yml")))
        naive_noop = [bench.playbook("naive-noop", inventory, [design_file, naive_file], str(work / "naive.yml")) for _round in range(args.repeat)]
        lab.down(PREFIX)
        names, inventory = fleet(lab, PREFIX, args.hosts, addresses, work)
        role_first, role_cpu = metered(lab, names, lambda: bench.playbook("rollout-first", inventory, [design_file], rollout))
        floors, floor_cpu = [], []
        for _round in range(args.repeat):
            on_hosts(lab, names, "postmulti", "-p", "stop")
            seconds, cpu = metered(lab, names, lambda: on_hosts(lab, names, "postmulti", "-p", "start"))
            floors.append(seconds)
            floor_cpu.append(cpu)
        # what Postfix itself runs for each new instance besides starting it, and what a safe
        # converge cannot leave out: postmulti -e create runs "postfix set-permissions", and the
        # configuration is checked ("postfix check") before the instance is enabled
        # the same start as the rollout makes it on a systemd host: every instance's postfix@ unit at once,
        # Debian's ExecStartPre (configure-instance.sh, which readies each instance's chroot) included
        units = ["postfix@-.service", *(f"postfix@postfix-b{i}.service" for i in range(1, args.instances + 1))]
        unit_floors, unit_cpu = [], []
        for _round in range(args.repeat):
            # the floor above left the masters running outside their units: stop them, then the units
            listed = " ".join(units)
            on_hosts(lab, names, "sh", "-c", f"postmulti -p stop >/dev/null 2>&1; systemctl stop {listed}; systemctl reset-failed {listed}; true")
            seconds, cpu = metered(lab, names, lambda: on_hosts(lab, names, "systemctl", "start", *units))
            unit_floors.append(seconds)
            unit_cpu.append(cpu)
        directories = [f"/etc/postfix-b{i}" for i in range(1, args.instances + 1)]
        checks, check_cpu = [], []
        for _round in range(args.repeat):
            seconds, cpu = metered(lab, names, lambda: on_hosts(lab, names, "sh", "-c", PER_INSTANCE.format(directories=" ".join(directories))))
            checks.append(seconds)
            check_cpu.append(cpu)
        ping, noop = [], []
        for _round in range(args.noop_repeat):
            ping.append(bench.ping(inventory))
            noop.append(bench.playbook("rollout-noop", inventory, [design_file], rollout))
        strategy, mitogen = (None, "Mitogen: not measured (--no-mitogen)") if args.no_mitogen else mitogen_strategy(work)
        mito_ping: list[float] = []
        mito_noop: list[float] = []
        if strategy is not None:
            try:
                for _round in range(args.repeat):
                    mito_ping.append(bench.ping(inventory, strategy))
                    mito_noop.append(bench.playbook("rollout-noop-mitogen", inventory, [design_file], rollout, strategy))
            except RuntimeError as exc:
                mitogen += f": does not run with this ansible-core ({str(exc).splitlines()[-1][:200]})"
                mito_ping, mito_noop = [], []
        lab.down(PREFIX)

        say()
        cpus = os.cpu_count() or 1
        say("| run | wall s | CPU s | ratio |")
        say("|---|---:|---:|---|")
        say(f"| first converge, naive playbook | {naive_first:.1f} | {naive_cpu:.1f} | |")
        say(
            f"| first converge, rollout (role + health gate) | {role_first:.1f} | {role_cpu:.1f} | "
            f"naive / rollout = **{naive_first / role_first:.1f}x** (target >= 6x) |"
        )
        say(
            f"| start floor: `postmulti -p start` of {args.instances + 1} instances on every host at once | {median(floors):.1f} | "
            f"{median(floor_cpu):.1f} | rollout / floor = **{role_first / median(floors):.1f}x** (target <= 1.5x) |"
        )
        say(
            f"| unit start floor: `systemctl start` of the {args.instances + 1} `postfix@` units on every host at once "
            f"(as the rollout starts them; Debian's configure-instance.sh included) | {median(unit_floors):.1f} | {median(unit_cpu):.1f} | "
            f"rollout / this floor = **{role_first / median(unit_floors):.1f}x** |"
        )
        work_floor = median(unit_floors) + median(checks)
        work_cpu = median(unit_cpu) + median(check_cpu)
        say(
            f"| unit start floor + `postfix check` and `postfix set-permissions` of the {args.instances} new instances on every host at once | "
            f"{work_floor:.1f} | {work_cpu:.1f} | rollout / this floor = **{role_first / work_floor:.1f}x** (Postfix's own work for a checked first "
            f"converge); CPU: rollout / this floor = {role_cpu / work_cpu:.2f}x |"
        )
        say(f"| no-op, naive playbook | {median(naive_noop):.1f} | | |")
        say(f"| no-op, `ansible -m ping` | {median(ping):.2f} | | |")
        say(
            f"| no-op, rollout (role + health gate) | {median(noop):.2f} | | naive / rollout = **{median(naive_noop) / median(noop):.1f}x** "
            f"(target >= 30x); rollout / ping = **{median(noop) / median(ping):.2f}x** (target <= 1.3x) |"
        )
        if mito_noop:
            say(f"| no-op, `ansible -m ping`, {mitogen} | {median(mito_ping):.2f} | | |")
            say(f"| no-op, rollout, {mitogen} | {median(mito_noop):.2f} | | rollout / ping = {median(mito_noop) / median(mito_ping):.2f}x |")
        else:
            say(f"| {mitogen} | | | |")
        say()
        say(
            f"CPU s: what the lab hosts (their cgroups: modules, systemd, the units it started, Postfix) and this machine's "
            f"commands (ansible-playbook, its workers, ssh, the floors' commands) used during the run, on {cpus} CPUs; "
            f"`postmulti -p start`'s masters leave after daemonizing, so that floor's CPU is a lower bound. A run whose CPU s "
            f"come close to {cpus} x its wall s kept every CPU busy: its wall time follows the work it needs, not its round trips."
        )

        # -- the no-op curve: the same forks for 3, 10, 30 hosts
        counts = [int(n) for n in args.scale.split(",") if n.strip()]
        if counts:
            say()
            say(f"No-op re-run against the number of hosts (forks {args.forks}; converged first, untimed):")
            say()
            say("| hosts | ping s | rollout no-op s | rollout / ping | rollout s per host | waves of forks |")
            say("|---:|---:|---:|---:|---:|---:|")
            lab.down(SCALE_PREFIX)
            for count in counts:
                _names, scale_inventory = fleet(lab, SCALE_PREFIX, count, addresses, work)
                bench.playbook(f"scale-{count}-first", scale_inventory, [design_file], rollout)
                pings, noops = [], []
                for _round in range(args.noop_repeat):
                    pings.append(bench.ping(scale_inventory))
                    noops.append(bench.playbook(f"scale-{count}-noop", scale_inventory, [design_file], rollout))
                waves = -(-count // args.forks)
                say(f"| {count} | {median(pings):.2f} | {median(noops):.2f} | {median(noops) / median(pings):.2f} | {median(noops) / count:.3f} | {waves} |")
            lab.down(SCALE_PREFIX)
    finally:
        lab.down(PREFIX)
        lab.down(SCALE_PREFIX)
    print()
    print("\n".join(out))
    print(f"\n(runs kept in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
