# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docsite's fleet examples, run as a reader would run them, on three lab hosts.

Everything comes from the documentation, read at test time:

* the inventory of the walk-through (docs/docsite/rst/guide_walkthrough.rst, the code blocks captioned
  ``inventory/hosts.yml``, ``inventory/group_vars/postfix_multi.yml`` and
  ``inventory/host_vars/mtaN.example.com.yml``), written to a directory ``inventory/`` as they are, except
  where the lab forces a change: each host gets the lab's connection variables, and the documentation
  addresses (192.0.2.0/24) of host N become host N's own lab addresses, in the order they are written;
* the ``$ ansible-playbook ...`` commands of the walk-through's fleet section and of the pages of the
  rollout, status and decommission playbooks (docs/docsite/rst/playbook_*.rst), run in that directory's
  parent with the harness's Ansible;
* the status page's sample report (the block captioned ``postfix-multi-status.md``), compared with the one
  the status playbook writes;
* the examples of the multi_instance role (roles/multi_instance/meta/argument_specs.yml), run as a playbook.

Order, on one fleet: the walk-through's check run (changes nothing) and rollout (every host converges and
passes the health gate; a second run changes nothing), the rollout page's commands, the status page's
command (its report is the documented one), the decommission page's command (postfix-out is gone from
every host), and the role's example (postfix-out is created again and passes the role's probes).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import labhost
import pytest
import yaml
from test_readme_walkthrough import code_blocks

lab = labhost.lab
DOCS = labhost.REPO / "docs" / "docsite" / "rst"
WALKTHROUGH = DOCS / "guide_walkthrough.rst"
ROLE_SPEC = labhost.REPO / "roles" / "multi_instance" / "meta" / "argument_specs.yml"
FLEET_SECTION = "A fleet: declare the design, roll it out"
DOC_HOSTS = ["mta1.example.com", "mta2.example.com", "mta3.example.com"]
DOC_ADDRESS = re.compile(r"\b192\.0\.2\.\d{1,3}\b")
LAB_ADDRESS = re.compile(r"\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
GATE = "Plan, validate, apply and probe the design"


def section(text: str, title: str) -> str:
    """The text of the rst section with this title, up to the next section of the same level."""
    lines = text.splitlines()
    start = lines.index(title)
    underline = lines[start + 1][0]
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1][:1] == underline and set(lines[i + 1]) == {underline} and lines[i].strip()),
        len(lines),
    )
    return "\n".join(lines[start:end])


def captioned(text: str) -> dict[str, str]:
    return {caption: body for caption, body in code_blocks(text) if caption}


def commands(text: str) -> list[list[str]]:
    """The ``$ ansible-playbook`` lines of the console blocks of an rst text, split as a shell would."""
    found = []
    for _caption, body in code_blocks(text):
        for line in body.replace("\\\n", " ").splitlines():
            if line.startswith("$ ansible-playbook "):
                found.append(shlex.split(line[2:]))
    return found


def documented_addresses(addresses: dict[str, list[str]]) -> dict[str, str]:
    """Lab address -> the walk-through's address it stands for (each host_vars file's addresses, in order)."""
    blocks = captioned(section(WALKTHROUGH.read_text(), FLEET_SECTION))
    found: dict[str, str] = {}
    for doc_host, lab_addresses in addresses.items():
        found.update(zip(lab_addresses, dict.fromkeys(DOC_ADDRESS.findall(blocks[f"inventory/host_vars/{doc_host}.yml"]))))
    return found


def table_cells(markdown: str) -> list[list[str]]:
    """The lines of a Markdown text with a table's cells stripped of their padding (and its rule made one dash)."""
    rows = []
    for line in markdown.strip().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        rows.append(["-" if cell and set(cell) == {"-"} else cell for cell in cells])
    return rows


def documented_inventory(workdir: Path, names: list[str]) -> Path:
    """inventory/ of the walk-through in workdir; DOC_HOSTS[i] is lab host names[i]."""
    blocks = captioned(section(WALKTHROUGH.read_text(), FLEET_SECTION))
    files = {caption: body for caption, body in blocks.items() if caption.startswith("inventory/")}
    expected = {"inventory/hosts.yml", "inventory/group_vars/postfix_multi.yml", *(f"inventory/host_vars/{h}.yml" for h in DOC_HOSTS)}
    assert set(files) == expected, f"{WALKTHROUGH}: the fleet section's inventory files are {sorted(files)}"

    hosts = yaml.safe_load(files.pop("inventory/hosts.yml"))
    assert list(hosts["postfix_multi"]["hosts"]) == DOC_HOSTS, hosts
    metas = {name: json.loads((lab.host_dir(name) / "host.json").read_text()) for name in names}
    for doc_host, name in zip(DOC_HOSTS, names):
        # the lab's connection to host N; nothing else is added
        hosts["postfix_multi"]["hosts"][doc_host] = dict(lab.connection_vars(metas[name]))
        var_file = f"inventory/host_vars/{doc_host}.yml"
        text = files[var_file]
        documented = DOC_ADDRESS.findall(text)
        assert documented, f"{var_file} has no address"
        mapping = dict(zip(dict.fromkeys(documented), metas[name]["addresses"]))
        files[var_file] = DOC_ADDRESS.sub(lambda m, mapping=mapping: mapping[m.group(0)], text)
    files["inventory/hosts.yml"] = yaml.safe_dump(hosts, sort_keys=False)
    for caption, body in files.items():
        path = workdir / caption
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return workdir / "inventory"


def ansible_playbook(workdir: Path, argv: list[str], label: str) -> labhost.AnsibleRun:
    """Run a documented ansible-playbook command in workdir (which holds inventory/) with the harness's Ansible."""
    assert argv[0] == "ansible-playbook", argv
    logs = workdir.parent / "runs" / label
    logs.mkdir(parents=True, exist_ok=True)
    results = logs / "results.jsonl"
    full = [labhost.ansible_bin("ansible-playbook"), *argv[1:]]
    run = labhost.AnsibleRun(workdir=logs, argv=full)
    # as a shell starts it there: the status playbook's default report path is in $PWD
    env = {**labhost.ansible_env(logs / "ansible-home", results), "PWD": str(workdir)}
    started = time.monotonic()
    proc = subprocess.run(
        full,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=labhost.ANSIBLE_TIMEOUT,
        check=False,
    )
    run.seconds = time.monotonic() - started
    run.rc, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    (logs / "stdout.txt").write_text(proc.stdout)
    if results.exists():
        run.records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return run


def listed(host: labhost.Host) -> list[str]:
    return [line.split()[0] for line in host.run("postmulti", "-l").stdout.splitlines()]


def gate_results(run: labhost.AnsibleRun) -> dict[str, dict]:
    return {r["host"]: r for r in run.records if r["task"].endswith(GATE)}


@pytest.fixture(scope="module")
def fleet(lab_base, tmp_path_factory):
    """Three fresh lab hosts and, in a working directory, the walk-through's inventory for them."""
    tmp = tmp_path_factory.mktemp("docs")
    prefix = f"docs{os.getpid()}-"
    names = lab.up(3, prefix, owner_pid=os.getpid())
    workdir = tmp / "work"
    workdir.mkdir()
    hosts = [labhost.Host(name, lab.host_dir(name) / "root", tmp / name) for name in names]
    try:
        documented_inventory(workdir, names)
        yield workdir, dict(zip(DOC_HOSTS, hosts))
    finally:
        for host in hosts:
            host.run("postmulti", "-p", "stop", check=False)
        lab.down(prefix)


def test_documented_fleet_examples(fleet):
    workdir, hosts = fleet
    addresses = {doc: json.loads((lab.host_dir(h.name) / "host.json").read_text())["addresses"] for doc, h in hosts.items()}

    # the walk-through: check mode first (nothing changes), then for real
    check, real = commands(section(WALKTHROUGH.read_text(), FLEET_SECTION))
    assert "--check" in check and "--check" not in real
    before = {doc: host.state() for doc, host in hosts.items()}
    looked = ansible_playbook(workdir, check, "walkthrough-check")
    assert looked.rc == 0, looked.explain()
    assert {doc: host.state() for doc, host in hosts.items()} == before
    assert {r["host"] for r in looked.records} == set(DOC_HOSTS)

    rolled = ansible_playbook(workdir, real, "walkthrough-rollout")
    assert rolled.rc == 0, rolled.explain()
    gates = gate_results(rolled)
    assert set(gates) == set(DOC_HOSTS), rolled.explain()
    for doc, host in hosts.items():
        assert gates[doc]["status"] == "changed"
        health = gates[doc]["result"]["health"]
        assert health["passed"] is True, health
        probed = {i["name"]: sorted((p["host"], p["port"], p["passed"]) for p in i["probes"]) for i in health["instances"]}
        # each host's instances answer on that host's own addresses (from its host_vars), nowhere else
        assert probed == {None: [(addresses[doc][0], 25, True)], "postfix-out": [(addresses[doc][1], 25, True)]}, probed
        assert listed(host) == ["-", "postfix-out"]
        assert f"\nmyhostname = out.{doc}\n" in host.read("/etc/postfix-out/main.cf")

    again = ansible_playbook(workdir, real, "walkthrough-again")
    assert again.rc == 0, again.explain()
    assert not [r for r in again.records if r["status"] == "changed"], again.explain()

    # the rollout playbook's page: on the converged fleet, every command passes and changes nothing
    rollout_page = commands((DOCS / "playbook_rollout.rst").read_text())
    assert len(rollout_page) == 2
    for n, argv in enumerate(rollout_page):
        run = ansible_playbook(workdir, argv, f"rollout-page-{n}")
        assert run.rc == 0, run.explain()
        assert {h for h, r in gate_results(run).items() if r["result"]["health"]["passed"]} == set(DOC_HOSTS)
        assert not [r for r in run.records if r["status"] == "changed"], run.explain()

    # the status page: its command writes the report the page shows
    status_text = (DOCS / "playbook_status.rst").read_text()
    (status,) = commands(status_text)
    shown = ansible_playbook(workdir, status, "status")
    assert shown.rc == 0, shown.explain()
    report = (workdir / "postfix-multi-status.md").read_text()
    # the listeners column shows the lab's addresses where the page shows the walk-through's (which pad differently)
    documented = documented_addresses(addresses)
    report = LAB_ADDRESS.sub(lambda m: documented.get(m.group(0), m.group(0)), report)
    assert table_cells(report) == table_cells(captioned(status_text)["postfix-multi-status.md"]), report
    assert (workdir / "postfix-multi-status.html").exists()

    # the decommission page: postfix-out goes from every host
    (decommission,) = commands((DOCS / "playbook_decommission.rst").read_text())
    gone = ansible_playbook(workdir, decommission, "decommission")
    assert gone.rc == 0, gone.explain()
    for host in hosts.values():
        assert listed(host) == ["-"]
        assert not host.path("/etc/postfix-out").exists()

    # the role's example: postfix-out again, on each host's own address, probed by the role
    (workdir / "role-example.yml").write_text(yaml.safe_load(ROLE_SPEC.read_text())["argument_specs"]["main"]["examples"])
    converged = ansible_playbook(workdir, ["ansible-playbook", "-i", "inventory", "role-example.yml"], "role-example")
    assert converged.rc == 0, converged.explain()
    gates = gate_results(converged)
    assert set(gates) == set(DOC_HOSTS)
    for doc, host in hosts.items():
        assert gates[doc]["status"] == "changed"
        assert gates[doc]["result"]["health"]["passed"] is True
        assert listed(host) == ["-", "postfix-out"]
        assert f"\ninet_interfaces = {addresses[doc][1]}\n" in host.read("/etc/postfix-out/main.cf")
    assert "health passed" in converged.stdout, converged.explain()
