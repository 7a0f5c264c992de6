# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time playbooks/rollout.yml on a lab fleet: first converge, then the no-op re-run.

Run through benchmarks/rollout (as root). For each pipelining setting it makes a fresh fleet
(tools/lab up: HOSTS hosts, each with INSTANCES instances of PARAMETERS main.cf parameters and
one master.cf entry), then measures:

  converge     mailops.postfix_multi.rollout on the fresh fleet (all hosts in one batch)
  baseline     a playbook that gathers nothing and runs one ``ping`` per host and instance
  no-op        the same rollout again
  role no-op   only the multi_instance role (no pre-flight, no health gate)

The last three run in turn, --repeat rounds, so that they share the machine's load; the table gives
medians and the median of the per-round ratios no-op / baseline (the machine may be busy with
other work: compare ratios, not seconds, across runs).

and finally, with pipelining on, converges the fleet with --scale-parameters parameters per
instance and repeats the no-op runs, to show that a no-op run does not grow with the number of
parameters. Module invocations are counted per host from the task results (each loop item that
ran on the host counts; controller-side actions such as set_fact, assert and debug do not).
Prints a Markdown table; asserts nothing.

    benchmarks/rollout [--hosts 3] [--instances 8] [--parameters 10] [--scale-parameters 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CALLBACK_DIR = REPO / "tests" / "integration" / "lab_callback"
PREFIX = "bench-"
GROUP = "bench"
# Actions that run on the controller only: no module is sent to the host.
CONTROLLER_ACTIONS = {
    "add_host",
    "assert",
    "debug",
    "fail",
    "group_by",
    "include_role",
    "include_tasks",
    "include_vars",
    "import_role",
    "import_tasks",
    "meta",
    "set_fact",
    "set_stats",
    "validate_argument_spec",
}
# Parameters the benchmark design sets (after inet_interfaces, myhostname and smtpd_banner), with values
# close to the defaults so that every instance stays valid.
FILLER = [
    ("maximal_queue_lifetime", "4d"),
    ("bounce_queue_lifetime", "4d"),
    ("delay_warning_time", "4h"),
    ("message_size_limit", "20480000"),
    ("smtpd_helo_required", "yes"),
    ("disable_vrfy_command", "yes"),
    ("smtpd_timeout", "300s"),
    ("smtp_connect_timeout", "30s"),
    ("smtp_helo_timeout", "300s"),
    ("smtpd_client_connection_count_limit", "50"),
    ("smtpd_client_connection_rate_limit", "0"),
    ("smtpd_client_message_rate_limit", "0"),
    ("smtpd_recipient_limit", "1000"),
    ("smtpd_error_sleep_time", "1s"),
    ("smtpd_soft_error_limit", "10"),
    ("smtpd_hard_error_limit", "20"),
    ("smtpd_junk_command_limit", "100"),
    ("smtpd_history_flush_threshold", "100"),
    ("smtp_mx_address_limit", "5"),
    ("smtp_mx_session_limit", "2"),
    ("smtp_rset_timeout", "20s"),
    ("smtp_quit_timeout", "300s"),
    ("smtp_data_init_timeout", "120s"),
    ("smtp_data_xfer_timeout", "180s"),
    ("smtp_data_done_timeout", "600s"),
    ("queue_run_delay", "300s"),
    ("minimal_backoff_time", "300s"),
    ("maximal_backoff_time", "4000s"),
    ("qmgr_message_active_limit", "20000"),
    ("qmgr_message_recipient_limit", "20000"),
    ("default_destination_concurrency_limit", "20"),
    ("default_destination_recipient_limit", "50"),
    ("initial_destination_concurrency", "5"),
    ("header_size_limit", "102400"),
    ("line_length_limit", "2048"),
    ("duplicate_filter_limit", "1000"),
    ("hopcount_limit", "50"),
    ("in_flow_delay", "1s"),
    ("ipc_timeout", "3600s"),
    ("ipc_idle", "5s"),
]


def load_lab():
    spec = importlib.util.spec_from_file_location("mailops_lab", REPO / "tools" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def design(instances: int, parameters: int) -> dict:
    """The benchmark design: the primary and INSTANCES instances, each on an address of its own."""
    if parameters < 3 or parameters - 3 > len(FILLER):
        raise SystemExit(f"--parameters must be between 3 and {len(FILLER) + 3}")
    declared = []
    for i in range(1, instances + 1):
        params = {
            "inet_interfaces": f"{{{{ lab_addresses[{i}] }}}}",
            "myhostname": f"b{i}.{{{{ inventory_hostname }}}}.lab.example",
            "smtpd_banner": "$myhostname ESMTP benchmark",
        }
        params.update(FILLER[: parameters - 3])
        declared.append(
            {
                "name": f"postfix-b{i}",
                "group": "bench",
                "parameters": params,
                "absent_parameters": ["master_service_disable"],
                "master": [{"service": "2525", "type": "inet", "private": False, "chroot": True, "command": "smtpd -o syslog_name=bench/2525"}],
            }
        )
    return {
        "postfix_multi_hosts": GROUP,
        "postfix_multi_rollout_serial": "100%",
        "postfix_multi_primary_parameters": {"inet_interfaces": "{{ lab_addresses[0] }}", "myhostname": "{{ inventory_hostname }}.lab.example"},
        "postfix_multi_primary_absent_parameters": ["master_service_disable"],
        "postfix_multi_instances": declared,
    }


PING = f"""- name: Baseline - one ping per host and instance
  hosts: {GROUP}
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
      loop: "{{{{ postfix_multi_instances }}}}"
      loop_control:
        label: "{{{{ item.name }}}}"
"""

ROLE = f"""- name: The role alone
  hosts: {GROUP}
  gather_facts: false
  roles:
    - role: mailops.postfix_multi.multi_instance
"""


def invocations(records: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in records:
        counts.setdefault(rec["host"], 0)
        if rec["action"].rsplit(".", 1)[-1] in CONTROLLER_ACTIONS or rec["status"] == "skipped":
            continue
        items = rec["result"].get("results")
        if isinstance(items, list):
            counts[rec["host"]] += sum(1 for item in items if not item.get("skipped"))
        else:
            counts[rec["host"]] += 1
    return counts


def run(workdir: Path, inventory: Path, design_file: Path, playbook: str, pipelining: bool) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.jsonl"
    results.unlink(missing_ok=True)
    purelib = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(workdir / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=f"{REPO / '.build' / 'collections'}:{purelib}",
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_PIPELINING=str(pipelining),
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_FORKS="10",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR),
        ANSIBLE_CALLBACKS_ENABLED="lab_results,ansible.posix.profile_tasks",
        LAB_RESULTS_FILE=str(results),
    )
    (workdir / "ansible.cfg").write_text("# empty: configured through the environment\n")
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-e", f"@{design_file}", playbook]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    (workdir / "stdout.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{playbook} failed (rc={proc.returncode}); output in {workdir / 'stdout.txt'}:\n{proc.stdout[-3000:]}")
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {
        "seconds": seconds,
        "calls": invocations(records),
        "changed": sum(1 for r in records if r["status"] == "changed"),
    }


def row(label: str, pipelining: bool, results: list[dict], baseline: list[dict] | None = None) -> str:
    seconds = statistics.median(r["seconds"] for r in results)
    calls = sorted({n for r in results for n in r["calls"].values()})
    per_host = str(calls[0]) if len(calls) == 1 else f"{calls[0]}-{calls[-1]}"
    runs = f" (median of {len(results)})" if len(results) > 1 else ""
    ratio = f"{statistics.median(r['seconds'] / b['seconds'] for r, b in zip(results, baseline)):.2f}" if baseline else ""
    return f"| {label} | {'on' if pipelining else 'off'} | {seconds:.1f}{runs} | {ratio} | {per_host} | {results[-1]['changed']} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--parameters", type=int, default=10)
    parser.add_argument("--scale-parameters", type=int, default=40, help="parameters per instance for the growth check (0: skip it)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each no-op measurement (median)")
    parser.add_argument("--keep", action="store_true", help="keep the fleet and the work directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/rollout must run as root (tools/lab)")
    if args.instances + 1 > 254:
        raise SystemExit("at most 253 instances (one lab address each, plus the primary's)")
    lab = load_lab()
    work = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    lines = [
        f"Rollout benchmark: {args.hosts} hosts x {args.instances} instances x {args.parameters} parameters (+1 master.cf entry each), "
        f"ansible-core via {sys.executable}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "",
        "| run | pipelining | wall s | x baseline | module invocations per host | changed results |",
        "|---|---|---|---|---|---|",
    ]
    try:
        for pipelining in (True, False):
            lab.down(PREFIX)
            names = lab.up(args.hosts, PREFIX, addresses=args.instances + 1)
            inventory = work / "inventory.yml"
            inventory.write_text(lab.inventory_yaml(names, group=GROUP))
            design_file = work / f"design-{args.parameters}.yml"
            design_file.write_text(json.dumps(design(args.instances, args.parameters), indent=1))
            (work / "ping.yml").write_text(PING)
            (work / "role.yml").write_text(ROLE)
            tag = "on" if pipelining else "off"
            first = run(work / f"converge-{tag}", inventory, design_file, "mailops.postfix_multi.rollout", pipelining)
            base, noop, role = [], [], []
            for i in range(args.repeat):
                base.append(run(work / f"ping-{tag}-{i}", inventory, design_file, str(work / "ping.yml"), pipelining))
                noop.append(run(work / f"noop-{tag}-{i}", inventory, design_file, "mailops.postfix_multi.rollout", pipelining))
                role.append(run(work / f"role-{tag}-{i}", inventory, design_file, str(work / "role.yml"), pipelining))
            lines.append(row("baseline: ping per host and instance", pipelining, base))
            lines.append(row(f"rollout, first converge ({args.parameters} parameters)", pipelining, [first]))
            lines.append(row(f"rollout, no-op re-run ({args.parameters} parameters)", pipelining, noop, base))
            lines.append(row(f"role alone, no-op ({args.parameters} parameters)", pipelining, role, base))
            print("\n".join(lines[-4:]), flush=True)
            if pipelining and args.scale_parameters:
                big = work / f"design-{args.scale_parameters}.yml"
                big.write_text(json.dumps(design(args.instances, args.scale_parameters), indent=1))
                grown = run(work / "converge-big", inventory, big, "mailops.postfix_multi.rollout", pipelining)
                base, noop, role = [], [], []
                for i in range(args.repeat):
                    base.append(run(work / f"ping-big-{i}", inventory, big, str(work / "ping.yml"), pipelining))
                    noop.append(run(work / f"noop-big-{i}", inventory, big, "mailops.postfix_multi.rollout", pipelining))
                    role.append(run(work / f"role-big-{i}", inventory, big, str(work / "role.yml"), pipelining))
                lines.append(row(f"rollout, converge to {args.scale_parameters} parameters", pipelining, [grown]))
                lines.append(row("baseline again", pipelining, base))
                lines.append(row(f"rollout, no-op re-run ({args.scale_parameters} parameters)", pipelining, noop, base))
                lines.append(row(f"role alone, no-op ({args.scale_parameters} parameters)", pipelining, role, base))
                print("\n".join(lines[-4:]), flush=True)
            if not args.keep:
                for name in names:
                    subprocess.run(["chroot", str(lab.host_dir(name) / "root"), "postmulti", "-p", "stop"], capture_output=True, check=False)
                lab.down(PREFIX)
    finally:
        if not args.keep:
            lab.down(PREFIX)
    print()
    print("\n".join(lines))
    print(f"\n(work directory: {work}{'' if args.keep else ', runs kept for reading'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
