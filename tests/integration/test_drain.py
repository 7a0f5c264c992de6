# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decommission that moves the mail: postfix_instance state=absent move_mail_to=SIBLING on real Postfix.

playbooks/decommission.yml (postfix_multi_decommission_move_to) removes the source instance
postfix-old, which relays everything to ``relayhost = [127.0.0.1]:PORT`` where
nothing listens, so its mail is deferred; some of it is put on hold (postsuper -h). Once it is
stopped, one more message is submitted with sendmail (it stays in maildrop: postdrop(1) writes
it, no pickup(8) runs), and one of the deferred queue files is renamed into ``incoming``: a
message is in incoming only between cleanup(8) and the queue manager, which is not a moment a
test can catch on a running instance; incoming and deferred files have the same format (the
queue manager moves them from one to the other), so this is a real cleanup-made file in
incoming, but placed there by hand.

The sibling postfix-sib relays to the same port. After the move, the sibling holds every
message with its Message-ID (the held ones on hold), the source is gone, and once a sink
listens on the port (readme_smtp.py sink) and the held mail is released, every message arrives
exactly once.

The kill -9 sweep runs the move (plugins/module_utils/_host/_drain.py, copied into the host) in a
python3 process of the host that SIGKILLs itself after its k-th step (the ``step`` callback,
which exists for this test only), for every k until the move completes, then runs it again:
at every k, the sibling's maildrop and hold end up with exactly the source's message files.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import labhost
import pytest
from test_postfix_instance import wait_stopped

OLD, SIB = "/etc/postfix-old", "/etc/postfix-sib"
OLD_QUEUE, SIB_QUEUE = "/var/spool/postfix-old", "/var/spool/postfix-sib"
MOVED = ("incoming", "active", "deferred", "hold", "maildrop")
UTILS = labhost.REPO / "plugins" / "module_utils"
SINK = Path(__file__).resolve().with_name("readme_smtp.py")
LIB_IN_HOST = "/usr/local/lib/mailops-drain"
# The move in a process of the host, SIGKILLed after its k-th step (argv[1]; 0: never).
KILLER = """
import os, signal, sys
sys.path.insert(0, "/usr/local/lib/mailops-drain")
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _drain

kill_at = int(sys.argv[1])
steps = []

def step(name):
    steps.append(name)
    if len(steps) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

target = _drain.read_target("postconf", "postfix-sib", "/etc/postfix-sib", "/var/spool/postfix-sib")
owner = _drain.mail_owner_uid("postconf", "/etc/postfix-old")
mover = _drain.Mover("/var/spool/postfix-old", owner, target, "postfix-old", step=step)
mover.run(_drain.survey("/var/spool/postfix-old").messages)
print(len(steps))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance(host: labhost.Host, name: str, port: int, **extra: str) -> None:
    parameters = {
        "relayhost": f"[127.0.0.1]:{port}",
        "authorized_submit_users": "static:anyone",  # postmulti's new instances allow nobody (sendmail is the test's client)
        "minimal_backoff_time": "300s",  # deferred mail waits: only the test's flush retries it
        "maximal_backoff_time": "600s",
        "smtp_connect_timeout": "2s",
        **extra,
    }
    result = host.module("postfix_instance", name=name, enabled=True, parameters=parameters)
    assert result["changed"] and not result.get("failed"), result


def send(host: labhost.Host, config: str, message_id: str) -> None:
    text = f"From: sender@lab.example\nTo: user@remote.example\nSubject: {message_id}\nMessage-ID: <{message_id}>\n\nbody of {message_id}\n"
    host.run("sendmail", "-C", config, "-f", "sender@lab.example", "user@remote.example", input=text)


def queue(host: labhost.Host, config: str) -> list[dict]:
    """postqueue -j (postqueue(1) JSON OBJECT FORMAT): one object per queued message."""
    out = host.run("postqueue", "-c", config, "-j").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def message_id(host: labhost.Host, config: str, queue_id: str) -> str:
    headers = host.run("postcat", "-c", config, "-h", "-q", queue_id).stdout
    found = re.search(r"^Message-ID: <([^>]+)>", headers, re.MULTILINE | re.IGNORECASE)
    assert found, headers
    return found.group(1)


def ids_by_queue(host: labhost.Host, config: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in queue(host, config):
        out.setdefault(entry["queue_name"], []).append(message_id(host, config, entry["queue_id"]))
    return {name: sorted(ids) for name, ids in out.items()}


def settled(host: labhost.Host, count: int) -> dict[str, list[str]] | None:
    """The sibling's Message-IDs by queue once all ``count`` messages were picked up and tried (None before)."""
    got = ids_by_queue(host, SIB)
    if sum(len(v) for v in got.values()) == count and not {"maildrop", "incoming", "active"} & set(got):
        return got
    return None


def wait_for(what: str, predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def files_in(host: labhost.Host, top: str, queues: tuple[str, ...] = MOVED) -> list[Path]:
    out = []
    for name in queues:
        root = host.path(f"{top}/{name}")
        if root.is_dir():
            out += [p for p in root.rglob("*") if p.is_file()]
    return out


def stop(host: labhost.Host, config: str) -> None:
    """postfix stop, then wait until no process of the instance is left (it only signals the master)."""
    if host.run("postfix", "-c", config, "status", check=False).returncode == 0:
        host.run_tty("postfix", "-c", config, "stop")
    wait_stopped(host, config)


@pytest.fixture
def lab(new_host):
    """A host with postfix-old (deferring everything) and postfix-sib, both running; stopped at the end."""
    host = new_host("host")
    port = free_port()
    assert host.module("postfix_multi_init")["changed"] is True
    instance(host, "postfix-sib", port)
    instance(host, "postfix-old", port)
    for config in (SIB, OLD):
        host.run_tty("postfix", "-c", config, "start")
    try:
        yield host, port
    finally:
        for config in (OLD, SIB):
            with contextlib.suppress(Exception):
                stop(host, config)


def fill_source(host: labhost.Host, deferred: int, held: int) -> dict[str, list[str]]:
    """postfix-old with ``held`` messages on hold, ``deferred`` deferred, one (cleanup-made) in incoming and
    one in maildrop, stopped; returns the Message-IDs by queue."""
    held_ids = [f"held-{n}@lab.example" for n in range(held)]
    for mid in held_ids:
        send(host, OLD, mid)
    wait_for("the held messages to be deferred", lambda: len([e for e in queue(host, OLD) if e["queue_name"] == "deferred"]) == held)
    host.run("postsuper", "-c", OLD, "-h", "ALL")
    deferred_ids = [f"deferred-{n}@lab.example" for n in range(deferred + 1)]
    for mid in deferred_ids:
        send(host, OLD, mid)
    wait_for("the messages to be deferred", lambda: len([e for e in queue(host, OLD) if e["queue_name"] == "deferred"]) == deferred + 1)
    stop(host, OLD)
    # one deferred message into incoming (see the module docstring), one new one into maildrop
    entry = next(e for e in queue(host, OLD) if e["queue_name"] == "deferred" and message_id(host, OLD, e["queue_id"]) == deferred_ids[-1])
    (path,) = list(host.path(f"{OLD_QUEUE}/deferred").rglob(entry["queue_id"]))
    path.rename(host.path(f"{OLD_QUEUE}/incoming/{entry['queue_id']}"))
    send(host, OLD, "maildrop-0@lab.example")
    assert len(files_in(host, OLD_QUEUE, ("maildrop",))) == 1
    return {"hold": sorted(held_ids), "deferred": sorted(deferred_ids[:-1]), "incoming": [deferred_ids[-1]], "maildrop": ["maildrop-0@lab.example"]}


DECOMMISSION = """
- name: Decommission postfix-old
  ansible.builtin.import_playbook: mailops.postfix_multi.decommission
"""
DESTROY_TASK = "Destroy the instance"


def decommission(host: labhost.Host, *options: str) -> dict | None:
    """playbooks/decommission.yml with postfix_multi_decommission_move_to=postfix-sib; the destroy task's result."""
    extra = ["-e", "postfix_multi_hosts=all", "-e", "postfix_multi_decommission_instance=postfix-old", "-e", "postfix_multi_decommission_move_to=postfix-sib"]
    rc, records = host.playbook(DECOMMISSION, extra_args=[*extra, *options])
    assert rc == 0, host.last_run.explain()
    destroyed = [r["result"] for r in records if DESTROY_TASK in r["task"] and r["status"] != "skipped"]
    assert len(destroyed) <= 1, records
    return destroyed[0] if destroyed else None


def test_decommission_moves_deferred_held_incoming_and_maildrop_mail(lab, tmp_path):
    host, port = lab
    deferred, held = 3, 2
    ids = fill_source(host, deferred, held)
    assert ids_by_queue(host, OLD) == ids  # postqueue -j sees the source as the test built it

    check, first = (decommission(host, *mode) for mode in (["--check"], []))
    assert check["changed"] is True, check
    assert check["moved_mail"]["count"] == deferred + 1 + 1 + held
    assert {q: len(v) for q, v in check["moved_mail"]["queue_ids"].items()} == {"incoming": 1, "active": 0, "deferred": deferred, "hold": held, "maildrop": 1}
    assert check["moved_mail"]["kept"] == {}

    assert first["changed"] is True and first["action"] == "destroy", first
    assert first["moved_mail"]["count"] == deferred + 1 + 1 + held
    # check mode predicted what the run left: not the mail the move took first (nor its defer logs)
    assert check["leftovers"] == first["leftovers"], (check["leftovers"], first["leftovers"])
    assert not any("/deferred/" in path or "/hold/" in path or "/defer/" in path for path in first["leftovers"]), first["leftovers"]
    assert sorted(len(v) for v in first["moved_mail"]["files"].values()) == sorted([1, deferred, held, 1])
    # run again: the host has no postfix-old any more, and no host of the play has: the run says so and fails
    again = decommission_run(host, "postfix_multi_decommission_instance=postfix-old", "postfix_multi_decommission_move_to=postfix-sib", "--check")
    assert again.rc != 0 and "matches no instance on any of the 1 host(s)" in again.stdout, again.explain()
    assert not [r for r in again.records if DESTROY_TASK in r["task"] and r["status"] != "skipped"], again.explain()
    assert "postfix-old" not in host.run("postmulti", "-l").stdout
    assert not host.path(OLD_QUEUE).exists() and not host.path(OLD).exists()
    assert not host.path(f"{SIB_QUEUE}/mailops-move").exists()

    # the sibling holds every message: the held ones on hold, the rest requeued (pickup, cleanup, then deferred)
    wait_for("pickup to take the maildrop files", lambda: not files_in(host, SIB_QUEUE, ("maildrop",)))
    in_sibling = wait_for("the requeued mail to be deferred in the sibling", lambda: settled(host, deferred + 2 + held))
    assert in_sibling == {"hold": ids["hold"], "deferred": sorted(ids["deferred"] + ids["incoming"] + ids["maildrop"])}

    # the destination answers: every message arrives exactly once
    spool = tmp_path / "sink"
    sink = subprocess.Popen(
        [sys.executable, str(SINK), "sink", "--listen", f"127.0.0.1:{port}", "--name", "sink.example", "--spool", str(spool)], stderr=subprocess.DEVNULL
    )
    try:
        wait_for("the sink to listen", lambda: _listening(port), 10)
        host.run("postsuper", "-c", SIB, "-H", "ALL")
        host.run("postqueue", "-c", SIB, "-f")
        wait_for("the sibling's queue to empty", lambda: not queue(host, SIB), 90)
        time.sleep(1)
    finally:
        sink.terminate()
        sink.wait(10)
    arrived = Counter()
    for path in spool.glob("*.json"):
        found = re.search(r"^Message-ID: <([^>]+)>", json.loads(path.read_text())["message"], re.MULTILINE | re.IGNORECASE)
        assert found
        arrived[found.group(1)] += 1
    assert arrived == Counter(mid for mids in ids.values() for mid in mids)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def test_corrupt_mail_is_never_moved_or_deleted(lab):
    host, _port = lab
    send(host, OLD, "one@lab.example")
    wait_for("the message to be deferred", lambda: queue(host, OLD))
    stop(host, OLD)
    corrupt = host.path(f"{OLD_QUEUE}/corrupt/4D2A1C")
    corrupt.write_bytes(b"S\x05a@b.c")  # a truncated queue file, set aside
    result = host.module("postfix_instance", name="postfix-old", state="absent", force=True, move_mail_to="postfix-sib")
    assert result.get("failed") and "corrupt" in result["msg"] and "Nothing was changed" in result["msg"], result
    assert corrupt.read_bytes() == b"S\x05a@b.c"
    assert len(queue(host, OLD)) == 1
    assert "postfix-old" in host.run("postmulti", "-l").stdout
    # deport moves the rest and keeps the corrupt file where it is
    result = host.module("postfix_instance", name="postfix-old", state="deported", force=True, move_mail_to="postfix-sib")
    assert result["changed"] and result["moved_mail"]["count"] == 1, result
    assert list(result["moved_mail"]["kept"]) == ["in the corrupt queue"]
    assert corrupt.read_bytes() == b"S\x05a@b.c"


def test_kill_9_sweep_over_the_move(lab):
    host, _port = lab
    ids = fill_source(host, deferred=1, held=1)
    stop(host, SIB)  # its pickup must not take the files: the sweep compares the sibling's files with the source's
    host.run("postconf", "-c", SIB, "-e", "enable_long_queue_ids = yes")  # and the long queue ID format
    lib = host.path(LIB_IN_HOST) / "ansible_collections/mailops/postfix_multi/plugins/module_utils"
    lib.mkdir(parents=True)
    for package in list(lib.parents)[:4]:
        (package / "__init__.py").touch()
    (lib / "__init__.py").touch()
    for package in ("_core", "_postfix", "_host"):  # the layers _drain imports from, as the module would ship them
        shutil.copytree(UTILS / package, lib / package, ignore=shutil.ignore_patterns("__pycache__"))
    host.path("/usr/local/lib/drain-kill.py").write_text(KILLER)
    snapshot = f"{OLD_QUEUE}.snapshot"
    host.run("mkdir", snapshot)
    for name in (*MOVED, "defer"):
        host.run("cp", "-a", f"{OLD_QUEUE}/{name}", f"{snapshot}/{name}")

    def restore() -> None:
        for path in files_in(host, SIB_QUEUE, ("maildrop", "hold")):
            path.unlink()
        for name in (*MOVED, "defer"):
            host.run("rm", "-rf", f"{OLD_QUEUE}/{name}")
            host.run("cp", "-a", f"{snapshot}/{name}", f"{OLD_QUEUE}/{name}")

    expected = Counter(p.read_bytes() for p in files_in(host, OLD_QUEUE))
    assert sum(expected.values()) == 4

    k = 0
    while True:
        k += 1
        killed = host.run("python3", "/usr/local/lib/drain-kill.py", str(k), check=False)
        if killed.returncode == 0:
            assert int(killed.stdout) == k - 1 == 4 * 5  # five steps per message, each one killed once
            break
        assert killed.returncode in (-9, 137), killed
        host.run("python3", "/usr/local/lib/drain-kill.py", "0")  # the re-run
        got = Counter(p.read_bytes() for p in files_in(host, SIB_QUEUE, ("maildrop", "hold")))
        assert got == expected, f"killed after step {k}: lost {expected - got}, doubled {got - expected}"
        assert not files_in(host, OLD_QUEUE), f"killed after step {k}: left in the source"
        assert not host.path(f"{SIB_QUEUE}/mailops-move").exists()
        held = files_in(host, SIB_QUEUE, ("hold",))
        time_part, z, inode = held[0].name.rpartition("z")  # a long queue ID: time, "z", inode (mail_queue.h)
        assert len(held) == 1 and z and len(time_part) >= 10 and inode
        assert "Renamed" not in host.run_tty("postsuper", "-c", SIB, "-S", "hold").stderr  # its name matches its inode
        restore()

    # a move killed half-way is finished by the module itself, and the mail arrives in the sibling
    restore()
    assert host.run("python3", "/usr/local/lib/drain-kill.py", "8", check=False).returncode in (-9, 137)
    host.run("rm", "-rf", snapshot)
    host.run_tty("postfix", "-c", SIB, "start")
    result = host.module("postfix_instance", name="postfix-old", state="absent", force=True, move_mail_to="postfix-sib")
    assert result["changed"] and result["action"] == "destroy", result
    in_sibling = wait_for("the requeued mail in the sibling", lambda: settled(host, 4))
    assert in_sibling == {"hold": ids["hold"], "deferred": sorted(ids["deferred"] + ids["incoming"] + ids["maildrop"])}


def test_the_design_removes_an_instance_and_moves_its_mail_in_one_call(lab):
    """postfix_multi_host (the role's one call): an instance declared absent with move_mail_to."""
    host, _port = lab
    ids = fill_source(host, deferred=2, held=1)
    missing = [{"name": "postfix-sib"}, {"name": "postfix-old", "state": "absent", "move_mail_to": "postfix-gone"}]
    refused = host.module("postfix_multi_host", instances=missing)
    assert refused.get("failed") and "postfix-gone" in refused["msg"] and "Nothing was changed" in refused["msg"], refused
    assert "postfix-old" in host.run("postmulti", "-l").stdout and len(files_in(host, OLD_QUEUE)) == 5

    design = [{"name": "postfix-sib"}, {"name": "postfix-old", "state": "absent", "move_mail_to": "postfix-sib"}]
    check, apply, check_again, apply_again = host.sequence("postfix_multi_host", instances=design)
    assert [r["changed"] for r in (check, apply, check_again, apply_again)] == [True, True, False, False], (check, apply)
    for result in (check, apply):
        moved = result["instances"]["postfix-old"]["moved_mail"]
        assert moved["count"] == 5 and moved["to"] == SIB, moved
    assert "postfix-old" not in host.run("postmulti", "-l").stdout
    assert not host.path(OLD_QUEUE).exists()
    in_sibling = wait_for("the requeued mail in the sibling", lambda: settled(host, 5))
    assert in_sibling == {"hold": ids["hold"], "deferred": sorted(ids["deferred"] + ids["incoming"] + ids["maildrop"])}


# --------------------------------------------------------------------------- refusals before any change
# playbooks/decommission.yml checks its request (the instance, the move target, the numbers) and refuses mail that
# no flush delivers (held, corrupt, saved) before it touches the host; a run whose instance no host has fails.
STOP_SMTP_TASK = "Stop accepting mail over SMTP"


def decommission_run(host: labhost.Host, *extra: str) -> labhost.AnsibleRun:
    """playbooks/decommission.yml against the host with these -e values (no defaults); the whole run."""
    argv = ["-e", "postfix_multi_hosts=all"]
    for value in extra:
        argv += [value] if value.startswith("--") else ["-e", value]
    host.playbook(DECOMMISSION, extra_args=argv)
    return host.last_run


def assert_untouched(host: labhost.Host, run: labhost.AnsibleRun, main_cf: str) -> None:
    """The run failed and changed nothing: no task changed or reached the destroy, postfix-old's main.cf is main_cf."""
    assert run.rc != 0, run.explain()
    assert not [r for r in run.records if r["status"] == "changed"], run.explain()
    assert not [r for r in run.records if DESTROY_TASK in r["task"] and r["status"] != "skipped"], run.explain()
    assert not [r for r in run.records if "starting at boot" in r["task"]], run.explain()
    assert host.read(f"{OLD}/main.cf") == main_cf
    assert "postfix-old" in host.run("postmulti", "-l").stdout


def test_decommission_checks_the_request_before_any_change(lab):
    """A move target the host lacks (or the instance itself), and a timeout or poll that is no positive whole
    number, fail the host before anything is changed, with a message naming the variable."""
    host, _port = lab
    send(host, OLD, "one@lab.example")
    wait_for("the message to be deferred", lambda: queue(host, OLD))
    host.run("postconf", "-c", OLD, "-X", "master_service_disable")  # in main.cf only (no reload): what the playbook turns off
    main_cf = host.read(f"{OLD}/main.cf")

    for target in ("postfix-typo", "typo", "postfix-old", "old", "/etc/postfix-old/"):
        run = decommission_run(host, "postfix_multi_decommission_instance=postfix-old", f"postfix_multi_decommission_move_to={target}")
        assert_untouched(host, run, main_cf)
        assert f"postfix_multi_decommission_move_to={target}" in run.stdout and "Nothing was changed" in run.stdout, run.explain()

    for variable, value in (("poll", "0"), ("poll", "abc"), ("poll", "-5"), ("timeout", "abc"), ("timeout", "0"), ("timeout", "1.5")):
        run = decommission_run(host, "postfix_multi_decommission_instance=postfix-old", f"postfix_multi_decommission_{variable}={value}")
        assert_untouched(host, run, main_cf)
        assert f"postfix_multi_decommission_{variable}={value}" in run.stdout and "positive whole number" in run.stdout, run.explain()
        assert f'"msg": "Not a positive whole number of seconds: postfix_multi_decommission_{variable}={value} (' in run.stdout, run.explain()
        assert 'greater than 0). Nothing was changed."' in run.stdout, run.explain()
    run = decommission_run(host, "postfix_multi_decommission_instance=postfix-old", '{"postfix_multi_decommission_poll": true}')
    assert_untouched(host, run, main_cf)
    assert "postfix_multi_decommission_poll=True" in run.stdout, run.explain()
    assert len(queue(host, OLD)) == 1


def test_decommission_refuses_held_mail_when_waiting(lab):
    """Held mail never leaves by a flush: waiting for it is refused before SMTP is turned off; a move takes it
    (to the sibling's hold queue; here in check mode, the target given as a directory with a trailing slash)."""
    host, _port = lab
    send(host, OLD, "held@lab.example")
    wait_for("the message to be deferred", lambda: queue(host, OLD))
    host.run("postsuper", "-c", OLD, "-h", "ALL")
    host.run("postconf", "-c", OLD, "-X", "master_service_disable")  # in main.cf only (no reload): what the playbook turns off
    main_cf = host.read(f"{OLD}/main.cf")

    run = decommission_run(host, "postfix_multi_decommission_instance=postfix-old", "postfix_multi_decommission_timeout=4", "postfix_multi_decommission_poll=2")
    assert_untouched(host, run, main_cf)
    assert "holds 1 message(s) in its hold queue" in run.stdout and f"postsuper -c {OLD} -H ALL" in run.stdout, run.explain()
    assert "postfix_multi_decommission_move_to" in run.stdout and "Nothing was changed" in run.stdout, run.explain()

    check = decommission_run(host, "postfix_multi_decommission_instance=old", f"postfix_multi_decommission_move_to={SIB}/", "--check")
    assert check.rc == 0, check.explain()
    (destroy,) = [r["result"] for r in check.records if DESTROY_TASK in r["task"]]
    assert destroy["changed"] and destroy["moved_mail"]["to"] == SIB and destroy["moved_mail"]["count"] == 1, destroy
    assert [e["queue_name"] for e in queue(host, OLD)] == ["hold"]


def test_decommission_matches_the_instance_as_postmulti_does(lab):
    """The instance is matched as postmulti -i matches (name, name without postfix-, config directory, trailing
    slash or not); the primary is refused however it is written; an instance no host has fails the run."""
    host, _port = lab
    for spelling in ("old", "/etc/postfix-old/", OLD):
        run = decommission_run(host, f"postfix_multi_decommission_instance={spelling}", "--check")
        assert run.rc == 0, run.explain()
        (destroy,) = [r for r in run.records if DESTROY_TASK in r["task"]]
        assert destroy["status"] == "changed" and destroy["result"]["action"] == "destroy", run.explain()

    for spelling in ("-", "/etc/postfix", "/etc/postfix/", "/etc/postfix//"):
        run = decommission_run(host, f"postfix_multi_decommission_instance={spelling}")
        assert run.rc != 0, run.explain()
        assert "the primary instance cannot be decommissioned" in run.stdout, run.explain()
        assert not [r for r in run.records if r["status"] == "changed"], run.explain()

    for spelling in ("postfix-typo", "out", "/etc/postfix-out/"):
        run = decommission_run(host, f"postfix_multi_decommission_instance={spelling}")
        assert run.rc != 0, run.explain()
        assert f"postfix_multi_decommission_instance={spelling} matches no instance on any of the 1 host(s)" in run.stdout, run.explain()
        assert "postfix-old" in run.stdout and "postfix-sib" in run.stdout  # what the host has
        assert not [r for r in run.records if r["status"] == "changed"], run.explain()
    assert [line.split()[0] for line in host.run("postmulti", "-l").stdout.splitlines()] == ["-", "postfix-sib", "postfix-old"]


STATUS = """
- name: Report the instances
  ansible.builtin.import_playbook: mailops.postfix_multi.status
"""


def test_status_shows_an_instance_postmulti_refuses_as_an_error_row(lab, tmp_path):
    """playbooks/status.yml: a secondary whose main.cf postmulti refuses (postmulti -l fails) is left out of the
    instance list by postfix_instance_info and reported in its problems: the table gets an ERROR row for it,
    and the host counts as ignored in the recap; the play still succeeds."""
    host, _port = lab
    with host.path(f"{SIB}/main.cf").open("a") as fh:
        fh.write("multi_instance_enable = yes # on\n")
    report = tmp_path / "report"
    host.playbook(STATUS, extra_args=["-e", "postfix_multi_hosts=all", "-e", f"postfix_multi_status_report={report}"])
    run = host.last_run
    assert run.rc == 0, run.explain()
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in report.with_suffix(".md").read_text().splitlines() if line.startswith("| ")]
    mine = [row for row in rows if row[0] == host.name]
    assert [row[1] for row in mine[:2]] == ["/etc/postfix", "postfix-old"], rows
    (error,) = mine[2:]
    assert error[1].startswith("ERROR: ") and SIB in error[1], rows
    assert error[2:] == [""] * (len(error) - 2)
    assert "ERROR: " in run.stdout and re.search(rf"{re.escape(host.name)}\s*:.* ignored=1", run.stdout), run.explain()
