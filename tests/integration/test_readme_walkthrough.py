# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix's MULTI_INSTANCE_README walk-through, built with the multi_instance role, mail sent through it.

The design and the playbook are the ones the guide documents
(docs/docsite/rst/guide_readme_walkthrough.rst, the code blocks captioned
``host_vars/mta1.example.com.yml`` and ``border-mta.yml``), read from the guide and changed only
where the lab forces it (:func:`lab_walkthrough`; the guide lists the same changes):

* the README's 127.0.0.1 (postfix-in's listener and XCLIENT client, the filter, postfix-out's
  re-injection listener) is the host's second lab address: lab hosts share this machine's network
  namespace, so 127.0.0.1:10025/10026 would clash with tests running in parallel;
* ``[mailhub.example.com]`` is port 2525 of the host's third lab address, where a small SMTP sink
  (readme_smtp.py) stands in for the internal mail hub; postfix-out relays there too (the
  README's postfix-out delivers to the inside network by DNS, and the lab resolves nothing). Not
  port 25: postfix-out's ``inet_interfaces = loopback-only`` makes every address of ``lo`` its
  own, and Postfix refuses to relay to its own address on port 25 ("loops back to myself");
* ``default_database_type = hash`` (the README: "use hash, ... when cdb is not available"; the
  lab's Postfix has no cdb support);
* the lab base's ``default_transport = error`` and ``relay_transport = error`` (which keep a lab
  host's mail from leaving it) are removed from the primary.

The content filter is readme_smtp.py too, a real SMTP proxy on the README's port 10025 that adds
its own Received: header and re-injects into postfix-out's port 10026.

One test, in the README's order where the role allows it: ``--check --diff`` on the fresh host
(nothing changes), the role for real, the operator's view (``postmulti -l``, ``postconf -n`` and
``postconf -M`` of each instance, every instance running), the null client's test message
(lookup tables, generic rewriting, relay to the mail hub), a message from "the Internet" into
postfix-in (XCLIENT, as the README tests it) that must arrive at the mail hub with the Received:
headers of postfix-in, the filter, postfix-out and the hub in that order, a relay attempt that
postfix-in refuses, and the role again (nothing changes).
"""

from __future__ import annotations

import copy
import email
import email.message
import json
import os
import re
import secrets
import shutil
import smtplib
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import labhost
import pytest
import yaml

lab = labhost.lab
KEEP = os.environ.get("MAILOPS_LAB_KEEP") == "1"
GUIDE = labhost.REPO / "docs" / "docsite" / "rst" / "guide_readme_walkthrough.rst"
DESIGN_CAPTION = "host_vars/mta1.example.com.yml"
PLAY_CAPTION = "border-mta.yml"
SERVERS = Path(__file__).resolve().with_name("readme_smtp.py")
SERVERS_IN_HOST = "/usr/local/lib/readme_smtp.py"
SPOOL = "/var/lib/mailhub"  # where the mail hub stores what it receives (inside the host)
MAILHUB = "mailhub.example.com"
MAILHUB_PORT = 2525  # not 25: see lab_walkthrough
FILTER = "filter.mta1.example.com"
INTERNET_CLIENT = ("client.example.net", "192.0.2.10")  # who postfix-in is told (XCLIENT) it talks to
DELIVERY_TIMEOUT = 30


# ----------------------------------------------------------------------------
# the guide's code blocks
# ----------------------------------------------------------------------------
def code_blocks(text: str) -> list[tuple[str, str]]:
    """(caption, content) of every ``.. code-block::`` of an rst text (caption '' when none)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block::", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        caption = ""
        while i < len(lines) and re.match(r"^\s+:[\w-]+:", lines[i]):
            option = re.match(r"^\s+:caption:\s*(.*)$", lines[i])
            caption = option.group(1).strip() if option else caption
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append((caption, textwrap.dedent("\n".join(body)).strip("\n") + "\n"))
    return blocks


def documented(caption: str) -> object:
    """The YAML of the guide's code block with this caption."""
    found = [body for cap, body in code_blocks(GUIDE.read_text()) if cap == caption]
    assert len(found) == 1, f"{GUIDE} must have exactly one code block captioned {caption!r}, found {len(found)}"
    return yaml.safe_load(found[0])


def instance(design: dict, name: str) -> dict:
    return next(item for item in design["postfix_multi_instances"] if item["name"] == name)


def substitute(value: object, old: str, new: str) -> object:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [substitute(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, old, new) for k, v in value.items()}
    return value


def lab_walkthrough(addresses: list[str]) -> tuple[dict, list]:
    """The guide's design and play with the lab's changes (see the module docstring); addresses[0]
    stays the lab primary's, [1] is the README's 127.0.0.1, [2] the mail hub."""
    readme_loopback, mailhub = addresses[1], addresses[2]
    design = documented(DESIGN_CAPTION)
    play = documented(PLAY_CAPTION)
    assert isinstance(design, dict) and isinstance(play, list)
    design = substitute(substitute(design, "127.0.0.1", readme_loopback), f"[{MAILHUB}]", f"[{mailhub}]:{MAILHUB_PORT}")
    assert isinstance(design, dict)
    # nothing may listen on 127.0.0.x, which every lab host (and the machine) shares
    assert "127.0.0." not in json.dumps(design), "the guide's design uses a 127.0.0.x address other than 127.0.0.1"
    design["postfix_multi_primary_parameters"]["default_database_type"] = "hash"
    design["postfix_multi_primary_absent_parameters"] = ["default_transport", "relay_transport"]
    instance(design, "postfix-out")["parameters"]["relayhost"] = f"[{mailhub}]:{MAILHUB_PORT}"
    play = copy.deepcopy(play)
    play[0]["hosts"] = "lab"
    play[0]["vars"] = design
    play[0]["post_tasks"] = [SHOW]
    return design, play


# ----------------------------------------------------------------------------
# what the operator sees
# ----------------------------------------------------------------------------
# the operator's next task reads what the role leaves (appended to the guide's play, which has none)
SHOW = {"name": "Show postfix_multi_result", "ansible.builtin.debug": {"var": "postfix_multi_result"}}


def result(records: list[dict]) -> dict:
    shown = [r for r in records if r["task"].endswith(SHOW["name"])]
    assert shown, "the play did not show postfix_multi_result"
    return shown[-1]["result"]["postfix_multi_result"]


def main_cf(host: labhost.Host, config_directory: str) -> dict[str, str]:
    """``postconf -n`` as {name: value}."""
    settings = {}
    for line in host.run("postconf", "-c", config_directory, "-n").stdout.splitlines():
        name, _sep, value = line.partition(" =")
        settings[name] = value.strip()
    return settings


def as_postfix(value: object) -> str:
    """A design value as postconf -n prints it (what postfix_config writes)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def master_cf(host: labhost.Host, config_directory: str) -> dict[tuple[str, str], list[str]]:
    """``postconf -M`` as {(service, type): [private, unprivileged, chroot, wakeup, maxproc, command...]}."""
    entries = {}
    for line in host.run("postconf", "-c", config_directory, "-M").stdout.splitlines():
        fields = line.split()
        entries[(fields[0], fields[1])] = fields[2:]
    return entries


def running(host: labhost.Host, config_directory: str) -> bool:
    return host.run("postfix", "-c", config_directory, "status", check=False).returncode == 0


def queues(host: labhost.Host) -> str:
    """Every instance's mail queue and the servers' logs, for failure messages."""
    out = []
    for directory in ("/etc/postfix", "/etc/postfix-out", "/etc/postfix-in"):
        out.append(f"--- postqueue -c {directory} -p\n" + host.run("postqueue", "-c", directory, "-p", check=False).stdout)
    for role in ("filter", "sink"):
        log = host.path(f"/var/log/readme-{role}.log")
        out.append(f"--- {role} log\n" + (log.read_text()[-4000:] if log.exists() else "(none)"))
    return "\n".join(out)


# ----------------------------------------------------------------------------
# the content filter, the mail hub, and mail
# ----------------------------------------------------------------------------
def start_server(host: labhost.Host, servers: list[subprocess.Popen], role: str, listen: str, *args: str) -> None:
    """readme_smtp.py ROLE inside the host (the README's content filter is a daemon of the host too)."""
    if not host.path(SERVERS_IN_HOST).exists():
        shutil.copyfile(SERVERS, host.path(SERVERS_IN_HOST))
    with open(host.path(f"/var/log/readme-{role}.log"), "ab") as log:
        servers.append(
            subprocess.Popen(
                ["chroot", str(host.root), "python3", SERVERS_IN_HOST, role, "--listen", listen, *args],
                env=lab.chroot_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        )
    address, _colon, port = listen.rpartition(":")
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((address, int(port)), timeout=1) as sock:
                if sock.recv(4) == b"220 ":
                    sock.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        assert servers[-1].poll() is None and time.monotonic() < deadline, f"{role} did not start on {listen}\n{queues(host)}"
        time.sleep(0.1)


def delivered(host: labhost.Host, token: str) -> tuple[dict, email.message.Message]:
    """The message containing TOKEN that reached the mail hub: (its record, the parsed message)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline:
        for path in sorted(host.path(SPOOL).glob("*.json")):
            record = json.loads(path.read_text())
            if token in record["message"]:
                return record, email.message_from_string(record["message"])
        time.sleep(0.2)
    raise AssertionError(f"no message with {token} reached the mail hub within {DELIVERY_TIMEOUT} s\n{queues(host)}")


def received(message: email.message.Message) -> list[str]:
    """The Received: headers, newest first, unfolded."""
    return [" ".join(str(value).split()) for value in message.get_all("Received") or []]


def received_by(headers: list[str]) -> list[str]:
    return [m.group(1) if (m := re.search(r"\bby (\S+)", header)) else "?" for header in headers]


def internet_session(listen: str, xclient_host: str) -> smtplib.SMTP:
    """An SMTP session with postfix-in that, through XCLIENT, comes from a client on the Internet
    (the README's "Manual testing can start with ..."): connect from the authorized XCLIENT host,
    then impersonate INTERNET_CLIENT."""
    smtp = smtplib.SMTP(listen, 25, local_hostname=INTERNET_CLIENT[0], source_address=(xclient_host, 0), timeout=30)
    smtp.ehlo()
    assert smtp.has_extn("xclient"), f"postfix-in offers no XCLIENT to {xclient_host}: {smtp.ehlo_resp!r}"
    code, text = smtp.docmd("XCLIENT", f"NAME={INTERNET_CLIENT[0]} ADDR={INTERNET_CLIENT[1]}")
    assert code == 220, (code, text)
    smtp.ehlo(INTERNET_CLIENT[0])
    return smtp


# ----------------------------------------------------------------------------
# the host
# ----------------------------------------------------------------------------
@pytest.fixture
def border_mta(lab_base, tmp_path):
    """A fresh lab host with 3 loopback addresses of its own, and the list of servers started in it."""
    name = f"readme{os.getpid()}"
    root = lab.clone(name, owner_pid=os.getpid(), addresses=3)
    host = labhost.Host(name, root, tmp_path / name)
    servers: list[subprocess.Popen] = []
    try:
        yield host, servers
    finally:
        for proc in servers:
            proc.terminate()
        for proc in servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if KEEP:
            print(f"\nMAILOPS_LAB_KEEP: kept {name} at {root}")
        else:
            host.run("postmulti", "-p", "stop", check=False)
            for directory in ("/etc/postfix-in", "/etc/postfix-out"):
                host.run("postfix", "-c", directory, "stop", check=False)
            lab.destroy(name)


def converge(host: labhost.Host, play: list, check: bool = False) -> tuple[int, list[dict]]:
    return host.playbook(json.dumps(play), extra_args=["--check", "--diff"] if check else ["--diff"])


def test_guide_steps_are_the_tested_design():
    """Every design excerpt in the guide's steps is part of the complete design that the lab test runs."""
    design = documented(DESIGN_CAPTION)
    assert isinstance(design, dict)
    excerpts = 0
    for caption, body in code_blocks(GUIDE.read_text()):
        data = yaml.safe_load(body) if caption != PLAY_CAPTION and body.lstrip().startswith(("postfix_multi_", "mta1_", "- name: postfix-")) else None
        if caption == DESIGN_CAPTION or data is None:
            continue
        excerpts += 1
        items = data if isinstance(data, list) else data.get("postfix_multi_instances", [])
        for item in items:
            whole = instance(design, item["name"])
            for key, value in item.items():
                if key == "parameters":
                    assert value.items() <= whole["parameters"].items(), f"{item['name']}: {value} is not in the design"
                elif key == "master":
                    assert all(entry in whole["master"] for entry in value), f"{item['name']}: {value} is not in the design"
                else:
                    assert whole[key] == value, f"{item['name']}: {key}"
        if isinstance(data, dict):
            for key, value in data.items():
                if key == "postfix_multi_instances":
                    continue
                if isinstance(value, dict):
                    assert value.items() <= design[key].items(), f"{key}: {value} is not in the design"
                else:
                    assert design[key] == value, key
    assert excerpts >= 4, f"expected the guide's steps to show the design step by step, found {excerpts} excerpts"
    # the role alone builds the README's example: the playbook has no tasks of its own
    play = documented(PLAY_CAPTION)
    assert isinstance(play, list) and set(play[0]) == {"name", "hosts", "roles"}, play[0]


def test_readme_walkthrough(border_mta):
    host, servers = border_mta
    design, play = lab_walkthrough(host.addresses)
    out, inn = instance(design, "postfix-out"), instance(design, "postfix-in")
    readme_loopback = host.addresses[1]
    mailhub_address = host.addresses[2]

    # --check --diff on the fresh host: reports everything, changes nothing
    before = host.changed_paths()
    rc, records = converge(host, play, check=True)
    assert rc == 0, host.last_run.explain()
    preview = result(records)
    assert preview["changed"] is True and preview["in_sync"] is False
    expected = [
        "turn on multi-instance management",
        "create instance postfix-out (group mta, enabled) with main.cf ",
        "create instance postfix-in (group mta, enabled) with main.cf ",
        "change main.cf of the primary instance: ",
        "build lookup tables of the primary instance: generic, virtual",
        "start the primary instance",
        "start postfix-out",
        "start postfix-in",
    ]
    assert [next((e for e in expected if d.startswith(e)), d) for d in preview["drift"]] == expected, preview["drift"]
    assert preview["drift"][1].endswith(f" and master.cf smtp/inet, {readme_loopback}:10026/inet"), preview["drift"][1]
    assert host.changed_paths() == before, "check mode changed the host"

    # the role for real
    rc, records = converge(host, play)
    assert rc == 0, host.last_run.explain()
    assert result(records)["changed"] is True

    # postmulti -l: the null client, then the mta group in start order, all enabled
    listing = [line.split() for line in host.run("postmulti", "-l").stdout.splitlines()]
    assert listing == [
        ["-", "-", "y", "/etc/postfix"],
        ["postfix-out", "mta", "y", "/etc/postfix-out"],
        ["postfix-in", "mta", "y", "/etc/postfix-in"],
    ]
    assert all(running(host, d) for d in ("/etc/postfix", "/etc/postfix-out", "/etc/postfix-in"))

    # postconf -n of each instance: what the README lists
    primary = main_cf(host, "/etc/postfix")
    for name, value in design["postfix_multi_primary_parameters"].items():
        assert primary.get(name) == as_postfix(value), f"/etc/postfix: {name} = {primary.get(name)!r}"
    assert not {"default_transport", "relay_transport"} & primary.keys()
    assert primary["multi_instance_wrapper"] == "${command_directory}/postmulti -p --"
    assert primary["multi_instance_enable"] == "yes"
    assert primary["multi_instance_directories"] == "/etc/postfix-out /etc/postfix-in"
    for item in (out, inn):
        settings = main_cf(host, f"/etc/{item['name']}")
        for name, value in item["parameters"].items():
            assert settings.get(name) == as_postfix(value), f"{item['name']}: {name} = {settings.get(name)!r}"
        assert settings["multi_instance_name"] == item["name"]
        assert settings["multi_instance_group"] == "mta"
        assert settings["multi_instance_enable"] == "yes"
        assert settings["queue_directory"] == f"/var/spool/{item['name']}"
        assert settings["data_directory"] == f"/var/lib/{item['name']}"
        assert settings["master_service_disable"] == ""  # "master_service_disable =", as the README sets it

    # postconf -M: postfix-out's "smtp inet" entry replaced by the re-injection listener
    out_master = master_cf(host, "/etc/postfix-out")
    assert ("smtp", "inet") not in out_master
    assert out_master[(f"{readme_loopback}:10026", "inet")] == ["n", "-", "n", "-", "-", "smtpd"]
    assert master_cf(host, "/etc/postfix-in")[("smtp", "inet")] == ["n", "-", "y", "-", "-", "smtpd"]

    # the mail hub, then the content filter between postfix-in and postfix-out
    start_server(host, servers, "sink", f"{mailhub_address}:{MAILHUB_PORT}", "--name", MAILHUB, "--spool", SPOOL)
    filter_listen = re.fullmatch(r"smtp:\[(.+)\]:(\d+)", inn["parameters"]["default_transport"])
    assert filter_listen, inn["parameters"]["default_transport"]
    start_server(host, servers, "filter", ":".join(filter_listen.groups()), "--name", FILTER, "--relay", f"{readme_loopback}:10026")

    # the null client's test (README: sendmail -i -f root -t), through virtual and generic
    token = secrets.token_hex(8)
    host.run("sendmail", "-i", "-f", "root", "-t", input=f"From: root\nTo: root\nSubject: test {token}\n\ntesting\n")
    record, message = delivered(host, token)
    assert record["mail_from"] == "mtaadmin+root=mta1@example.com"  # generic
    assert record["rcpt_to"] == ["mtaadmin@example.com"]  # virtual
    assert (message["From"], message["To"]) == ("mtaadmin+root=mta1@example.com", "mtaadmin+root=mta1@example.com")
    headers = received(message)
    assert received_by(headers) == [MAILHUB, "mta1.example.com"], headers
    assert headers[0].startswith("from mta1.example.com (["), headers
    assert headers[1].startswith("by mta1.example.com (Postfix, from userid 0) id "), headers

    # mail from the Internet into postfix-in: filter, postfix-out, mail hub
    token = secrets.token_hex(8)
    text = f"From: <sender@example.net>\r\nTo: <user@example.com>\r\nSubject: walk-through {token}\r\nMessage-ID: <{token}@example.net>\r\n\r\nhello\r\n"
    with internet_session(inn["parameters"]["inet_interfaces"], inn["parameters"]["smtpd_authorized_xclient_hosts"]) as smtp:
        assert smtp.sendmail("sender@example.net", ["user@example.com"], text) == {}
        # and postfix-in is no open relay
        smtp.mail("sender@example.net")
        code, reply = smtp.rcpt("someone@example.org")
        assert (code, b"Relay access denied" in reply) == (454, True), (code, reply)
    record, message = delivered(host, token)
    assert (record["mail_from"], record["rcpt_to"], record["helo"]) == ("sender@example.net", ["user@example.com"], out["parameters"]["myhostname"])
    headers = received(message)
    assert received_by(headers) == [MAILHUB, out["parameters"]["myhostname"], FILTER, inn["parameters"]["myhostname"]], headers
    hub, postfix_out, content_filter, postfix_in = headers
    client = f"from {INTERNET_CLIENT[0]} ({INTERNET_CLIENT[0]} [{INTERNET_CLIENT[1]}])"
    assert postfix_in.startswith(f"{client} by {inn['parameters']['myhostname']} (Postfix) with ESMTP id "), postfix_in
    assert "for <user@example.com>" in postfix_in
    assert content_filter.startswith(f"from {inn['parameters']['myhostname']} (["), content_filter
    assert postfix_out.startswith(f"from {FILTER} (unknown [{readme_loopback}]) by {out['parameters']['myhostname']} (Postfix) with ESMTP id "), postfix_out
    assert hub.startswith(f"from {out['parameters']['myhostname']} (["), hub
    assert message["Subject"] == f"walk-through {token}"
    # XFORWARD (logging only, so not in the headers): postfix-in passed the Internet client on to the filter
    # (smtp_send_xforward_command = yes), and postfix-out accepted it from the filter (smtpd_authorized_xforward_hosts)
    log = host.path("/var/log/readme-filter.log").read_text()
    assert f"XFORWARD NAME={INTERNET_CLIENT[0]} ADDR={INTERNET_CLIENT[1]} " in log, log
    assert re.search(rf"next hop >>> XFORWARD NAME={INTERNET_CLIENT[0]} ADDR={re.escape(INTERNET_CLIENT[1])} .* <<< 250 ", log), log

    # the role again: nothing to do
    rc, records = converge(host, play)
    assert rc == 0, host.last_run.explain()
    again = result(records)
    assert (again["changed"], again["in_sync"], again["drift"]) == (False, True, ["in sync"]), again
    assert not any(again.get(key) for key in ("restarted", "reloaded", "started")), again
    assert not [r["task"] for r in records if r["status"] == "changed"]
