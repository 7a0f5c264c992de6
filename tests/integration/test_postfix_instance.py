# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests of mailops.postfix_multi.postfix_instance: every life-cycle action against real postmulti.

Each action runs as ``check mode -> apply -> check mode -> apply`` and must report
changed = true, true, false, false; check mode must leave the host untouched and its diff
must name exactly the files the apply writes (and predict their text); after the apply the
host must look like the ``oracle`` clone after the real ``postmulti -e ...`` (``host.state()``
compares ``postconf -n``, so the random order in which postmulti 3.7.11 appends new main.cf
lines does not matter), and the real ``postmulti -l`` and ``postfix check`` must accept it.

To stay fast, one test runs a whole chain of actions in ONE ansible-playbook run
(:func:`run_steps`): between the steps the playbook waits at a "pause" task while the test
inspects the host, and the oracle replays the same chain with postmulti in a parallel thread.

The chain machinery (:class:`Step`, :func:`run_steps`, :func:`assert_postfix_accepts`) is also
used by test_postfix_multi_init.py, test_postfix_instance_errors.py and test_concurrency_adhoc.py.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import shutil
import time
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import labhost
import test_oracle_parity as op

PAUSE_DIR = "/tmp/lab-pause"  # inside the host: the pause tasks' marker files
PAUSE_TIMEOUT = 300  # seconds a pause task waits for the test before it gives up
CHANGED_TWICE = [True, True, False, False]  # check, apply, check, apply
# result keys whose check-mode value must equal the apply's
PREDICTED = ("action", "instance", "instances", "leftovers", "diff", "msg", "config_directory")


# ----------------------------------------------------------------------------
# assertions
# ----------------------------------------------------------------------------
def assert_postfix_accepts(host: labhost.Host, directories: t.Iterable[str] | None = None) -> None:
    """The real ``postmulti -l`` and ``postfix check`` accept the host (rc 0; their diagnostics shown on failure).

    ``directories``: run ``postfix -c DIR check`` for just these instances instead of ``postfix check``
    (which goes through the wrapper, ``postmulti -p check``, and costs ~0.7 s per instance).
    """
    commands = [("postmulti", "-l")]
    if directories is None:
        commands.append(("postfix", "check"))
    else:
        commands += [("postfix", "-c", d, "check") for d in directories]
    for argv in commands:
        proc = host.run_tty(*argv, check=False)
        assert proc.returncode == 0, f"{' '.join(argv)} rejects the result (rc={proc.returncode}):\n{proc.stdout}{proc.stderr}"
        assert "fatal" not in proc.stderr, f"{' '.join(argv)}:\n{proc.stderr}"


def touched_instances(state: dict, files: t.Iterable[str]) -> list[str]:
    """The primary plus every registered instance one of ``files`` belongs to."""
    registered = {line.split()[3] for line in state["postmulti_l"] if len(line.split()) == 4}
    dirs = ["/etc/postfix"]
    for path in files:
        directory = path.rsplit("/", 1)[0]
        if directory in registered and directory not in dirs:
            dirs.append(directory)
    return dirs


def state_diff(got: dict, want: dict) -> str:
    return "\n".join(
        difflib.unified_diff(
            json.dumps(want, indent=1, sort_keys=True).splitlines(),
            json.dumps(got, indent=1, sort_keys=True).splitlines(),
            "expected",
            "host",
            lineterm="",
        )
    )


def assert_same_state(got: dict, want: dict, what: str) -> None:
    assert got == want, f"{what}:\n{state_diff(got, want)}"


def config_stamps(host: labhost.Host) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime_ns, size) of every main.cf/master.cf of the host: a rewrite with equal content changes it."""
    stamps = {}
    paths = set(host.root.glob("etc/postfix*/ma*.cf"))
    paths |= {host.path(d) / f for d in host._listed_dirs_from_main_cf() for f in ("main.cf", "master.cf")}  # pylint: disable=protected-access
    for path in sorted(paths):
        try:
            st = path.stat()
        except OSError:
            continue
        stamps["/" + path.relative_to(host.root).as_posix()] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return stamps


def diff_files(result: dict) -> list[str]:
    """Files a module result's diff shows a change of (the pseudo-file ``instance`` left out)."""
    files = []
    for entry in result.get("diff") or []:
        header = entry.get("after_header")
        changed = entry.get("before") != entry.get("after") or entry.get("before_header") != header
        if header is None:
            assert not changed, f"diff entry without a header shows a change: {entry}"
        elif header != "instance" and changed:
            files.append(header)
    return sorted(files)


# ----------------------------------------------------------------------------
# the chain runner
# ----------------------------------------------------------------------------
HostAction = t.Callable[[labhost.Host], object]


@dataclass
class Step:
    """One module call of a chain, run as check -> apply -> check -> apply (or check -> apply when it must fail).

    ``oracle``       the real postmulti commands with the same end state (run in the oracle clone);
                     None: no parity comparison for this step.
    ``files``        the files the check-mode diff must name (= the files the apply writes).
    ``fails``        regular expression: the step must FAIL (check mode and apply) with a matching msg
                     and leave the host byte-identical (state() and the stamps of every main.cf/master.cf,
                     compared once after both runs: nothing can undo what the check-mode run would have done).
    ``prepare``      done to the host AND the oracle before the step (e.g. a hand-made instance directory).
    ``prepare_host`` done to the host only before the step (e.g. start an instance), after ``prepare``.
    ``cleanup_host`` done to the host after the step was checked (e.g. stop what prepare_host started).
    ``verify``       extra checks on the host right after the step: verify(host, state).
    ``predicts``     the check-mode diff's text of each named file equals the file after the apply.
    """

    label: str
    args: dict
    module: str = "postfix_instance"
    oracle: HostAction | None = None
    files: tuple[str, ...] = ()
    fails: str | None = None
    prepare: HostAction | None = None
    prepare_host: HostAction | None = None
    cleanup_host: HostAction | None = None
    verify: t.Callable[[labhost.Host, dict], object] | None = None
    predicts: bool = True

    @property
    def modes(self) -> list[bool]:
        """check_mode of each task."""
        return [True, False] if self.fails else [True, False, True, False]


def _task(name: str, module: str, args: dict, check: bool) -> str:
    fqcn = module if "." in module else labhost.COLLECTION_PREFIX + module
    return (
        f"    - name: {json.dumps(name)}\n"
        f"      {fqcn}: {labhost.yaml_unsafe(args)}\n"
        f"      check_mode: {json.dumps(check)}\n"
        "      diff: true\n"
        "      ignore_errors: true\n"
    )


def _pause(marker: str) -> str:
    """A task that signals ``marker`` and waits until the test allows it to go on (or aborts the run)."""
    script = (
        f"mkdir -p {PAUSE_DIR}; touch {PAUSE_DIR}/{marker}.reached; i=0; "
        f"while [ ! -e {PAUSE_DIR}/{marker}.go ]; do "
        f"if [ -e {PAUSE_DIR}/abort ] || [ $i -gt {PAUSE_TIMEOUT * 20} ]; then echo aborted; exit 1; fi; "
        "i=$((i+1)); sleep 0.05; done"
    )
    return f"    - name: {json.dumps('pause ' + marker)}\n      ansible.builtin.raw: {json.dumps(script)}\n"


def _step_name(index: int, step: Step, task: int) -> str:
    return f"S{index:02d} {step.label}: task {task + 1} ({'check' if step.modes[task] else 'apply'})"


class _Pauses:
    """The test's side of the pause tasks."""

    def __init__(self, host: labhost.Host, play: Future):
        self.host = host
        self.play = play
        self.dir = host.path(PAUSE_DIR)
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)

    def wait(self, marker: str) -> None:
        deadline = time.monotonic() + PAUSE_TIMEOUT
        reached = self.dir / f"{marker}.reached"
        while not reached.exists():
            if self.play.done():
                self.play.result()  # re-raise a harness error
                run = self.host.last_run
                raise AssertionError(f"the playbook ended before pause {marker}\n{run.explain() if run else ''}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the playbook did not reach pause {marker} within {PAUSE_TIMEOUT} s")
            time.sleep(0.05)

    def go(self, marker: str) -> None:
        (self.dir / f"{marker}.go").touch()

    def abort(self) -> None:
        (self.dir / "abort").touch()


def _oracle_chain(oracle: labhost.Host, steps: list[Step], states: list[Future]) -> None:
    index = 0
    try:
        for index, step in enumerate(steps):
            if step.prepare:
                step.prepare(oracle)
            if step.oracle:
                step.oracle(oracle)
                states[index].set_result(op.state(oracle))
            else:
                states[index].set_result(None)
    except BaseException as exc:
        for future in states[index:]:
            if not future.done():
                future.set_exception(exc)
        raise


def run_steps(
    host: labhost.Host,
    steps: list[Step],
    oracle: labhost.Host | None = None,
    setup: t.Sequence[tuple[str, dict]] = (),
    check_all: bool = True,
) -> list[list[dict]]:
    """Run ``steps`` on ``host`` in one ansible-playbook run; return each step's task results.

    ``setup`` tasks (module, args) run first, in apply mode, and must succeed. The oracle (if
    given) replays every step that has an ``oracle`` action, in a parallel thread; the host's
    state after the step must equal the oracle's. Check-mode purity, diffs, failures and the
    changed flags are asserted here too, so a test only adds what is special about it.

    After every successful step the real ``postmulti -l`` and ``postfix check`` must accept the
    host. ``check_all=False`` (for chains with many instances): ``postfix -c DIR check`` only for
    the primary and the instance the step wrote to, and the full ``postfix check`` after the last step.
    """
    tasks = [_task(f"setup {n}: {module}", module, args, False) for n, (module, args) in enumerate(setup)]
    tasks.append(_pause("start"))
    for index, step in enumerate(steps):
        for n, check in enumerate(step.modes):
            tasks.append(_task(_step_name(index, step, n), step.module, step.args, check))
            if n == 0 and not step.fails:  # a failing step is checked once, after both runs
                tasks.append(_pause(f"{index:02d}.checked"))
        tasks.append(_pause(f"{index:02d}.done"))
    yaml_text = "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(tasks)

    oracle_states: list[Future] = [Future() for dummy in steps]
    written: dict[int, dict[str, str | None]] = {}
    with ThreadPoolExecutor(2) as pool:
        oracle_done = pool.submit(_oracle_chain, oracle, steps, oracle_states) if oracle is not None else None
        play = pool.submit(host.playbook, yaml_text)
        pauses = _Pauses(host, play)
        current = "start"
        try:
            pauses.wait("start")

            def prepare(step: Step) -> tuple[dict, dict]:
                if step.prepare:
                    step.prepare(host)
                if step.prepare_host:
                    step.prepare_host(host)
                return host.state(), config_stamps(host)

            before, stamps = prepare(steps[0])
            pauses.go("start")
            for index, step in enumerate(steps):
                current = step.label
                if not step.fails:
                    pauses.wait(f"{index:02d}.checked")
                    assert_same_state(host.state(), before, f"{step.label}: check mode changed the host")
                    assert config_stamps(host) == stamps, f"{step.label}: check mode rewrote a configuration file"
                    pauses.go(f"{index:02d}.checked")
                pauses.wait(f"{index:02d}.done")
                after = host.state()
                if step.fails:
                    assert_same_state(after, before, f"{step.label}: the failed step changed the host")
                    assert config_stamps(host) == stamps, f"{step.label}: the failed step rewrote a configuration file"
                else:
                    full = check_all or index == len(steps) - 1
                    assert_postfix_accepts(host, None if full else touched_instances(after, step.files))
                    want = oracle_states[index].result(timeout=PAUSE_TIMEOUT) if oracle is not None and step.oracle else None
                    if want is not None:
                        assert_same_state(after, want, f"{step.label}: host differs from the oracle after the real postmulti")
                written[index] = {path: _read_or_none(host, path) for path in step.files}
                if step.verify:
                    step.verify(host, after)
                if step.cleanup_host:
                    step.cleanup_host(host)
                if index + 1 < len(steps):
                    following = steps[index + 1]
                    if step.cleanup_host or following.prepare or following.prepare_host:
                        before, stamps = prepare(following)
                    else:  # nothing happened since "after" (postmulti -l and postfix check change nothing)
                        before, stamps = after, config_stamps(host)
                pauses.go(f"{index:02d}.done")
        except AssertionError as exc:
            pauses.abort()
            with contextlib.suppress(BaseException):
                play.result()
            raise AssertionError(f"{exc}\n{_results_so_far(host, current)}") from exc
        except BaseException:
            pauses.abort()
            with contextlib.suppress(BaseException):
                play.result()
            raise
        play.result()
        if oracle_done is not None:
            oracle_done.result()
    run = host.last_run
    assert run is not None and run.rc == 0, f"the playbook failed\n{run.explain() if run else ''}"
    by_name: dict[str, dict] = {}
    for record in run.records:
        by_name[record["task"]] = record["result"]
        if record["task"].startswith("setup "):
            assert not record["result"]["failed"], f"{record['task']} failed: {record['result'].get('msg')}"
    out = []
    for index, step in enumerate(steps):
        results = [by_name[_step_name(index, step, n)] for n in range(len(step.modes))]
        _check_results(step, results, written.get(index, {}))
        out.append(results)
    return out


def _results_so_far(host: labhost.Host, label: str) -> str:
    """The module results of the step ``label`` (for failure messages)."""
    run = host.last_run
    if run is None:
        return ""
    lines = []
    for record in run.records:
        if f" {label}: " in record["task"]:
            result = {k: v for k, v in record["result"].items() if k not in ("diff", "invocation", "instances")}
            lines.append(f"{record['task']}: {json.dumps(result, sort_keys=True)[:3000]}")
    return "--- module results of this step\n" + "\n".join(lines)


def _read_or_none(host: labhost.Host, path: str) -> str | None:
    try:
        return host.read(path)
    except OSError:
        return None


def _check_results(step: Step, results: list[dict], written: dict[str, str | None]) -> None:
    msgs = [r.get("msg") for r in results]
    if step.fails:
        for result in results:
            assert result["failed"], f"{step.label}: expected a failure, got {result}"
            assert not result["changed"], f"{step.label}: a failed run reports changed"
            assert re.search(step.fails, result.get("msg") or ""), f"{step.label}: msg {result.get('msg')!r} does not match {step.fails!r}"
        return
    failed = [r for r in results if r["failed"]]
    assert not failed, f"{step.label}: failed: {msgs}\n{failed[0].get('exception', '')}"
    assert [r["changed"] for r in results] == CHANGED_TWICE, f"{step.label}: changed flags, msgs {msgs}"
    want = sorted(step.files)
    assert diff_files(results[0]) == want, f"{step.label}: the check-mode diff names {diff_files(results[0])}, not {want}"
    assert diff_files(results[1]) == want, f"{step.label}: the apply's diff names {diff_files(results[1])}, not {want}"
    assert diff_files(results[2]) == [] and diff_files(results[3]) == [], f"{step.label}: diff of a run without changes"
    # check mode reports what the apply then does: same action, instance record(s), diff, leftovers, message
    for check, apply in ((results[0], results[1]), (results[2], results[3])):
        for key in PREDICTED:
            assert check.get(key) == apply.get(key), f"{step.label}: check mode predicted {key}={check.get(key)!r}, the apply reports {apply.get(key)!r}"
    if step.predicts:
        for entry in results[0]["diff"]:
            path = entry.get("after_header")
            if path in written and written[path] is not None:
                assert entry["after"] == written[path], f"{step.label}: check mode predicted another {path}:\n" + "\n".join(
                    difflib.unified_diff(entry["after"].splitlines(), written[path].splitlines(), "predicted", "written", lineterm="")
                )


# ----------------------------------------------------------------------------
# helpers for the steps
# ----------------------------------------------------------------------------
def primary_n(state: dict) -> list[str]:
    return state["postconf_n"]["/etc/postfix"]


def listed(state: dict) -> list[tuple[str, str]]:
    """(name, config_directory) of the secondaries in postmulti -l order."""
    return [(line.split()[0], line.split()[3]) for line in state["postmulti_l"][1:]]


HAND_MAIN_CF = """\
# hand-made instance, never touched by postmulti
compatibility_level = 3.7
queue_directory = /var/spool/postfix-hand
data_directory = /var/lib/postfix-hand
multi_instance_name = postfix-handmade
authorized_submit_users =
master_service_disable = inet
"""


def destroyed_queue(host: labhost.Host, queue_directory: str) -> list[str]:
    """What a destroy left of ``queue_directory``: nothing, or just Debian's chroot copies in it
    (op.chroot_copies: Debian 13 makes them for every instance). Returns those as the module lists them."""
    kept = op.chroot_copies(host, queue_directory)
    if kept:
        assert sorted(entry.name for entry in host.path(queue_directory).iterdir()) == [path.rsplit("/", 1)[1] for path in kept]
    else:
        assert not host.path(queue_directory).exists(), f"{queue_directory} left behind"
    return kept


def make_handmade(host: labhost.Host) -> None:
    """/etc/postfix-hand with its own main.cf and master.cf, and an empty queue directory."""
    conf = host.path("/etc/postfix-hand")
    conf.mkdir(mode=0o755)
    (conf / "main.cf").write_text(HAND_MAIN_CF)
    shutil.copyfile(host.path("/etc/postfix/master.cf.proto"), conf / "master.cf")
    for path in (conf / "main.cf", conf / "master.cf"):
        path.chmod(0o644)
    # postmulti's import runs "postfix set-permissions", which chdirs into the queue directory first
    spool = host.path("/var/spool/postfix-hand")
    spool.mkdir(mode=0o755)
    spool.chmod(0o755)


# ----------------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------------
def test_lifecycle_chain(oracle, new_host):
    """create (name+group) -> enable -> disable -> assign name+group by config_directory -> clear group ->
    group on the primary -> deport -> import the deported instance -> destroy it (never started) ->
    import a hand-made directory with a rename; each step equals the real postmulti's end state."""
    op.init(oracle)
    host = new_host("host", source=oracle)  # the same start: a primary after the real "postmulti -e init"

    def deported(_host, state):
        assert "alternate_config_directories = /etc/postfix-out" in primary_n(state)
        assert listed(state) == []
        assert _host.path("/etc/postfix-out/main.cf").exists()

    chroot_left: list[str] = []

    def destroyed(_host, state):
        for path in ("/etc/postfix-out", "/var/lib/postfix-out"):
            assert not _host.path(path).exists(), f"{path} left behind"
        chroot_left.extend(destroyed_queue(_host, "/var/spool/postfix-out"))

    steps = [
        Step(
            "create postfix-out in group mta",
            {"name": "postfix-out", "group": "mta"},
            oracle=lambda o: op.create(o, name="postfix-out", group="mta"),
            files=("/etc/postfix-out/main.cf", "/etc/postfix-out/master.cf", "/etc/postfix/main.cf"),
        ),
        Step(
            "enable",
            {"name": "postfix-out", "enabled": True},
            oracle=lambda o: op.enable(o, "postfix-out"),
            files=("/etc/postfix-out/main.cf",),
        ),
        Step(
            "disable",
            {"name": "postfix-out", "enabled": False},
            oracle=lambda o: op.disable(o, "postfix-out"),
            files=("/etc/postfix-out/main.cf",),
        ),
        Step(
            "assign name and group by config_directory",
            {"config_directory": "/etc/postfix-out", "name": "postfix-new", "group": "grp"},
            oracle=lambda o: op.assign(o, "postfix-out", name="postfix-new", group="grp"),
            files=("/etc/postfix-out/main.cf",),
        ),
        Step(
            "clear the group (group='')",
            {"config_directory": "/etc/postfix-out", "group": ""},
            oracle=lambda o: op.assign(o, "postfix-new", group="-"),  # writes "multi_instance_group ="
            files=("/etc/postfix-out/main.cf",),
        ),
        Step(
            "group of the primary via config_directory=/etc/postfix",
            {"config_directory": "/etc/postfix", "group": "prim"},
            oracle=lambda o: op.assign(o, "-", group="prim"),
            files=("/etc/postfix/main.cf",),
        ),
        Step(
            "deport",
            {"name": "postfix-new", "state": "deported"},
            oracle=lambda o: op.deport(o, "postfix-new"),
            files=("/etc/postfix/main.cf",),
            verify=deported,
        ),
        Step(
            "import the deported instance",
            {"config_directory": "/etc/postfix-out"},
            oracle=lambda o: op.import_(o, "/etc/postfix-out"),
            files=("/etc/postfix/main.cf",),
        ),
        Step(
            "destroy (disabled, never started)",
            {"name": "postfix-new", "state": "absent"},
            oracle=lambda o: op.destroy(o, "postfix-new"),
            files=("/etc/postfix/main.cf",),
            verify=destroyed,
        ),
        Step(
            "import a hand-made directory and rename it",
            {"config_directory": "/etc/postfix-hand", "name": "postfix-hand", "group": "imp"},
            prepare=make_handmade,
            oracle=lambda o: op.import_(o, "/etc/postfix-hand", name="postfix-hand", group="imp"),
            files=("/etc/postfix-hand/main.cf", "/etc/postfix/main.cf"),
        ),
    ]
    results = run_steps(host, steps, oracle=oracle)
    created = results[0][1]
    assert created["action"] == "create"
    assert created["instance"] == {
        "name": "postfix-out",
        "group": "mta",
        "enabled": False,
        "primary": False,
        "config_directory": "/etc/postfix-out",
        "queue_directory": "/var/spool/postfix-out",
        "data_directory": "/var/lib/postfix-out",
        "state": "present",
    }
    assert [i["config_directory"] for i in created["instances"]] == ["/etc/postfix", "/etc/postfix-out"]
    assert [r["action"] for r in results[6]] == ["deport", "deport", "none", "none"]
    assert results[6][1]["instance"]["state"] == "deported"
    assert [r["action"] for r in results[7]] == ["import", "import", "none", "none"]
    assert [r["action"] for r in results[8]] == ["destroy", "destroy", "none", "none"]
    assert results[8][0]["leftovers"] == chroot_left and results[8][1]["leftovers"] == chroot_left
    imported = results[9][1]["instance"]
    assert (imported["name"], imported["group"], imported["queue_directory"]) == ("postfix-hand", "imp", "/var/spool/postfix-hand")


def test_create_variants_and_placement(oracle, new_host):
    """Creates with explicit directories (nameless; trailing slashes), enabled=true, and every placement
    option, on top of postfix-a (group x), postfix-b (y), postfix-c (y) made by the real postmulti."""
    op.setup_abc(oracle)
    host = new_host("host", source=oracle)

    def order(*names):
        def check(_host, state):
            assert [name for name, dummy in listed(state)] == list(names)

        return check

    def nameless(_host, state):
        assert listed(state)[-1] == ("-", "/etc/postfix-nameless")
        assert not any(line.startswith(("multi_instance_name", "multi_instance_group")) for line in state["postconf_n"]["/etc/postfix-nameless"])

    def stripped(_host, state):
        assert "multi_instance_directories = /etc/postfix-a /etc/postfix-b /etc/postfix-c /etc/postfix-nameless /srv/explicit/etc" in primary_n(state)
        assert "queue_directory = /srv/explicit/spool" in state["postconf_n"]["/srv/explicit/etc"]
        assert "data_directory = /srv/explicit/lib" in state["postconf_n"]["/srv/explicit/etc"]

    def new_files(directory):
        return (f"{directory}/main.cf", f"{directory}/master.cf", "/etc/postfix/main.cf")

    steps = [
        Step(
            "nameless with explicit directories",
            dict(op.NAMELESS_DIRS),
            oracle=lambda o: op.create(o, **op.NAMELESS_DIRS),
            files=new_files("/etc/postfix-nameless"),
            verify=nameless,
        ),
        Step(
            "explicit directories with trailing slashes",
            {
                "name": "postfix-explicit",
                "group": "mta",
                "config_directory": "/srv/explicit/etc/",
                "queue_directory": "/srv/explicit/spool//",
                "data_directory": "/srv/explicit/lib/",
            },
            # postmulti strips the trailing slashes of create arguments too
            oracle=lambda o: op.create(
                o,
                name="postfix-explicit",
                group="mta",
                config_directory="/srv/explicit/etc/",
                queue_directory="/srv/explicit/spool//",
                data_directory="/srv/explicit/lib/",
            ),
            files=new_files("/srv/explicit/etc"),
            verify=stripped,
        ),
        Step(
            "create enabled",
            {"name": "postfix-en", "enabled": True},
            # our module writes multi_instance_enable into the new main.cf at once; postmulti appends it
            # with a second command. state() compares postconf -n, so the line's place does not matter.
            oracle=lambda o: (op.create(o, name="postfix-en"), op.enable(o, "postfix-en")),
            files=new_files("/etc/postfix-en"),
        ),
        Step(
            "position=first (postmulti -a)",
            {"name": "postfix-first", "position": "first"},
            oracle=lambda o: op.create(o, name="postfix-first", first=True),
            files=new_files("/etc/postfix-first"),
            verify=order("postfix-first", "postfix-a", "postfix-b", "postfix-c", "-", "postfix-explicit", "postfix-en"),
        ),
        Step(
            "before=<name> (postmulti -i)",
            {"name": "postfix-bb", "before": "postfix-b"},
            oracle=lambda o: op.create(o, name="postfix-bb", before="postfix-b"),
            files=new_files("/etc/postfix-bb"),
            verify=order("postfix-first", "postfix-a", "postfix-bb", "postfix-b", "postfix-c", "-", "postfix-explicit", "postfix-en"),
        ),
        Step(
            "before_group (postmulti -g)",
            {"name": "postfix-gy", "group": "y", "before_group": "y"},
            oracle=lambda o: op.create(o, name="postfix-gy", group="y", before_group="y"),
            files=new_files("/etc/postfix-gy"),
            verify=order("postfix-first", "postfix-a", "postfix-bb", "postfix-gy", "postfix-b", "postfix-c", "-", "postfix-explicit", "postfix-en"),
        ),
        Step(
            "default placement appends",
            {"name": "postfix-last"},
            oracle=lambda o: op.create(o, name="postfix-last"),
            files=new_files("/etc/postfix-last"),
            verify=order(
                "postfix-first",
                "postfix-a",
                "postfix-bb",
                "postfix-gy",
                "postfix-b",
                "postfix-c",
                "-",
                "postfix-explicit",
                "postfix-en",
                "postfix-last",
            ),
        ),
    ]
    results = run_steps(host, steps, oracle=oracle, check_all=False)
    assert results[0][1]["instance"]["name"] is None
    explicit = results[1][1]["instance"]
    assert (explicit["config_directory"], explicit["queue_directory"], explicit["data_directory"]) == (
        "/srv/explicit/etc",
        "/srv/explicit/spool",
        "/srv/explicit/lib",
    )
    assert results[2][1]["instance"]["enabled"] is True
    # a placement option on an existing instance changes nothing and says so
    assert "placement options apply only when an instance is added" in results[3][3]["msg"]


def start_instance(directory: str):
    def start(host: labhost.Host) -> None:
        host.run_tty("postfix", "-c", directory, "start")
        assert host.run("postfix", "-c", directory, "status", check=False).returncode == 0
        assert instance_processes(host, directory), f"no process of {directory} found"  # so wait_stopped() means something

    return start


def stop_instance(directory: str):
    def stop(host: labhost.Host) -> None:
        if host.run("postfix", "-c", directory, "status", check=False).returncode == 0:
            host.run_tty("postfix", "-c", directory, "stop")
        wait_stopped(host, directory)

    return stop


def wait_stopped(host: labhost.Host, directory: str, timeout: float = 20) -> None:
    """Wait until no process of the host runs with MAIL_CONFIG=directory (postfix stop only signals the master)."""
    deadline = time.monotonic() + timeout
    while instance_processes(host, directory):
        assert time.monotonic() < deadline, f"instance {directory} still runs: {instance_processes(host, directory)}"
        time.sleep(0.1)


def instance_processes(host: labhost.Host, directory: str) -> list[int]:
    """Processes in the host whose environment says MAIL_CONFIG=directory (the master and its children)."""
    found = []
    want = f"MAIL_CONFIG={directory}".encode()
    for pid in labhost.lab.pids_inside(host.root):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if want in fh.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            continue
    return found


def test_destroy_started_instances_and_leftovers(oracle, new_host):
    """destroy force=true of an enabled RUNNING instance; destroy of an instance that was started once
    (its sockets, pid and lock files go too: the only leftovers are Debian 13's chroot copies, see
    op.chroot_copies); destroy keeps a foreign file in the config directory and lists it. The oracle's
    instances were never started, so the real postmulti removes them as completely as it can: the host
    must end up identical all the same."""
    op.init(oracle)
    op.create(oracle, name="postfix-a")
    op.enable(oracle, "postfix-a")
    op.create(oracle, name="postfix-b")
    op.create(oracle, name="postfix-c")
    host = new_host("host", source=oracle)

    def started_once(h: labhost.Host) -> None:
        start_instance("/etc/postfix-b")(h)
        stop_instance("/etc/postfix-b")(h)
        assert h.path("/var/lib/postfix-b/master.lock").exists()  # what postmulti's destroy would leave behind

    def foreign(h: labhost.Host) -> None:
        h.path("/etc/postfix-c/transport").write_text("example.org smtp:[127.0.0.1]\n")

    chroot_left: dict[str, list[str]] = {}

    def gone(directory, queue, data, kept=()):
        def check(h: labhost.Host, _state):
            assert not instance_processes(h, directory), "the destroyed instance still runs"
            for path in (directory, data):
                if path not in kept:
                    assert not h.path(path).exists(), f"{path} left behind"
            chroot_left[directory] = destroyed_queue(h, queue)

        return check

    steps = [
        Step(
            "force-destroy an enabled running instance",
            {"name": "postfix-a", "state": "absent", "force": True},
            prepare_host=start_instance("/etc/postfix-a"),
            # postmulti cannot destroy an enabled or running instance: disable, then destroy (never started there)
            oracle=lambda o: (op.disable(o, "postfix-a"), op.destroy(o, "postfix-a")),
            files=("/etc/postfix-a/main.cf", "/etc/postfix/main.cf"),  # disabled first, then removed
            verify=gone("/etc/postfix-a", "/var/spool/postfix-a", "/var/lib/postfix-a"),
            cleanup_host=stop_instance("/etc/postfix-a"),
        ),
        Step(
            "destroy an instance that was started once",
            {"name": "postfix-b", "state": "absent"},
            prepare_host=started_once,
            oracle=lambda o: op.destroy(o, "postfix-b"),
            files=("/etc/postfix/main.cf",),
            verify=gone("/etc/postfix-b", "/var/spool/postfix-b", "/var/lib/postfix-b"),
        ),
        Step(
            "destroy keeps a foreign file in the config directory",
            {"name": "postfix-c", "state": "absent"},
            prepare=foreign,  # postmulti's destroy leaves the directory and the file as well
            oracle=lambda o: op.destroy(o, "postfix-c"),
            files=("/etc/postfix/main.cf",),
            verify=gone("/etc/postfix-c", "/var/spool/postfix-c", "/var/lib/postfix-c", kept=("/etc/postfix-c",)),
        ),
    ]
    try:
        results = run_steps(host, steps, oracle=oracle)
    finally:
        for name in ("a", "b"):
            with contextlib.suppress(Exception):
                stop_instance(f"/etc/postfix-{name}")(host)
    for n, directory in enumerate(("/etc/postfix-a", "/etc/postfix-b")):
        assert results[n][1]["leftovers"] == chroot_left[directory], f"{steps[n].label}: leftovers {results[n][1]['leftovers']}"
    assert results[0][1]["instance"]["state"] == "absent"
    assert results[2][0]["leftovers"] == results[2][1]["leftovers"] == sorted(["/etc/postfix-c/transport", *chroot_left["/etc/postfix-c"]])
    assert any("/etc/postfix-c/transport" in w for w in results[2][1].get("warnings", []))
    assert host.read("/etc/postfix-c/transport") == "example.org smtp:[127.0.0.1]\n"
