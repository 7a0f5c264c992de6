# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration-test harness: throw-away Debian hosts (tools/lab clones) driven by real Ansible.

Fixtures (tests/integration/conftest.py) hand out :class:`Host` objects:

``host``    a fresh clone, where the collection's modules run (through Ansible).
``oracle``  another fresh clone, where tests run the real ``postmulti``/``postconf``.

The Host API (keep it small):

``host.root``                        Path of the clone's root on this machine.
``host.path(p)``                     Path of ``p`` (absolute inside the host) on this machine.
``host.read(p)``                     text of the file ``p`` inside the host.
``host.run(*argv, check=True)``      ``chroot ROOT argv...`` -> CompletedProcess (text, stdout and stderr captured).
``host.run_tty(*argv, check=True)``  the same with stderr on a pseudo-terminal: Postfix 3.7.11
                                     ``postmulti``/``postfix`` print their diagnostics only when stderr
                                     is a tty (otherwise syslog only). ``stderr`` holds the text, ``\\n`` line ends.
``host.module(name, check=False, diff=True, **args)``
                                     run ONE module through ansible-playbook + chroot connection, return
                                     its result dict (failed results are returned, not raised). ``name``
                                     without a dot means ``mailops.postfix_multi.<name>``.
``host.sequence(name, **args)``      check mode -> apply -> check mode -> apply in ONE ansible run;
                                     returns the 4 result dicts.
``host.playbook(yaml_text, aliases=None, forks=None)``
                                     run a playbook against this host (inventory group ``lab``; ``aliases``
                                     = several inventory names for the same root, e.g. to test 8 parallel
                                     runs with forks) -> ``(rc, records)``; a record is
                                     ``{"host", "task", "action", "status", "result"}``.
``host.state()``                     comparable snapshot (see :meth:`Host.state`).
``host.changed_paths()``             paths the clone changed relative to the base root.
``host.last_run``                    :class:`AnsibleRun` of the latest Ansible call (stdout, timings).

Example::

    def test_create(host, oracle):
        oracle.run("postmulti", "-e", "init")
        oracle.run("postmulti", "-e", "create", "-I", "postfix-out", "-G", "mta")
        host.module("postfix_multi_init")
        results = host.sequence("postfix_instance", name="postfix-out", group="mta")
        assert [r["changed"] for r in results] == [True, True, False, False]
        assert host.state() == oracle.state()

Module arguments whose names clash with ``check``/``diff`` go in ``module_args={...}``.
Strings passed as module arguments arrive literally (no Jinja templating, no type guessing).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import itertools
import json
import os
import pty
import re
import stat
import subprocess
import sys
import sysconfig
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_TOOL = REPO / "tools" / "lab"  # the command; its implementation is tools/lab.py
CALLBACK_DIR = Path(__file__).resolve().parent / "lab_callback"
COLLECTION_PREFIX = "mailops.postfix_multi."
ANSIBLE_TIMEOUT = int(os.environ.get("MAILOPS_LAB_ANSIBLE_TIMEOUT", "600"))

# Postfix's directories that state() lists (globs relative to the host root).
STATE_GLOBS = ("etc/postfix*", "var/spool/postfix*", "var/lib/postfix*")
# Queue subdirectories whose *contents* state() summarises as a count: queue file
# names are queue IDs (time/inode based) and the hashed subdirectories (deferred/A)
# derive from them, so they differ from run to run.
QUEUE_SUBDIRS = ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "maildrop", "saved", "trace")
# changed_paths() ignores what running Ansible/Python itself leaves in a host.
CHANGED_IGNORE = re.compile(r"^(root/\.ansible(/|$)|tmp/|.*/__pycache__(/|$))")


def _load_lab():
    loader = importlib.machinery.SourceFileLoader("mailops_lab", str(LAB_TOOL.with_suffix(".py")))
    spec = importlib.util.spec_from_loader("mailops_lab", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mailops_lab", module)
    loader.exec_module(module)
    return module


lab = _load_lab()
LabError = lab.LabError

# (release, connection) of every Host made since the conftest cleared it (the test matrix).
SEEN: set[tuple[str, str]] = set()


class HarnessError(AssertionError):
    """The harness itself could not do what was asked (never a module result)."""


class CommandError(subprocess.CalledProcessError):
    """A command in a host failed; str() shows its output."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


# ----------------------------------------------------------------------------
# Ansible environment
# ----------------------------------------------------------------------------
def ansible_bin(name: str) -> str:
    """An ansible executable of the venv running the tests (next to sys.executable)."""
    path = Path(sys.executable).parent / name
    if not os.access(path, os.X_OK):
        raise HarnessError(f"{path} not found: install ansible-core and the 'ansible' package in the test venv")
    return str(path)


def collections_path() -> str:
    """The repo's collection link tree, then the site-packages holding community.general."""
    ours = REPO / ".build" / "collections"
    if not (ours / "ansible_collections" / "mailops" / "postfix_multi").exists():
        raise HarnessError(f"{ours} lacks mailops/postfix_multi (tests/conftest.py creates it)")
    candidates = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path]
    for cand in candidates:
        if cand and (Path(cand) / "ansible_collections" / "community" / "general" / "plugins" / "connection" / "chroot.py").exists():
            return f"{ours}:{cand}"
    raise HarnessError("community.general not found in the test venv: pip install 'ansible>=12,<13'")


def ansible_env(home: Path, results_file: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "ansible.cfg"
    if not cfg.exists():
        cfg.write_text("# empty: the harness configures Ansible through the environment\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(cfg),  # never pick up an ansible.cfg from the cwd or the repo
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_COLLECTIONS_PATH=collections_path(),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_GATHERING="explicit",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR),
        ANSIBLE_CALLBACKS_ENABLED="lab_results",
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="True",
        LAB_RESULTS_FILE=str(results_file),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


# ----------------------------------------------------------------------------
# YAML emission: module arguments arrive literally (no templating)
# ----------------------------------------------------------------------------
def _yaml_str(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif unicodedata.category(ch)[0] == "C" or code == 0xFEFF:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


TEMPLATE_MARKERS = ("{{", "{%", "{#")


def yaml_unsafe(value) -> str:
    """Flow-style YAML for value: strings stay literal strings.

    Strings with Jinja markers are tagged !unsafe. Others are NOT: ansible-core 2.19
    re-resolves a tagged scalar as if it were plain, so ``!unsafe "false"`` would
    arrive as the boolean False (and ``!unsafe "1"`` as an int).
    """
    if isinstance(value, str):
        return ("!unsafe " if any(m in value for m in TEMPLATE_MARKERS) else "") + _yaml_str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml_str(str(k))}: {yaml_unsafe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_unsafe(v) for v in value) + "]"
    if isinstance(value, Path):
        return yaml_unsafe(str(value))
    raise TypeError(f"cannot pass {type(value).__name__} as a module argument")


def _fqcn(name: str) -> str:
    return name if "." in name else COLLECTION_PREFIX + name


def _task(module: str, args: dict, title: str, check: bool, diff: bool) -> str:
    return (
        f"    - name: {json.dumps(title)}\n"
        f"      {_fqcn(module)}: {yaml_unsafe(args)}\n"
        f"      check_mode: {json.dumps(check)}\n"
        f"      diff: {json.dumps(diff)}\n"
        "      ignore_errors: true\n"
        "      ignore_unreachable: true\n"
    )


def _play(tasks: list[str]) -> str:
    return "- hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(tasks)


# ----------------------------------------------------------------------------
# running playbooks
# ----------------------------------------------------------------------------
@dataclass
class AnsibleRun:
    """One ansible-playbook invocation (kept on Host.last_run for debugging)."""

    workdir: Path
    argv: list[str]
    rc: int = -1
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    records: list[dict] = field(default_factory=list)

    def explain(self) -> str:
        return (
            f"ansible-playbook rc={self.rc} in {self.seconds:.1f}s (files in {self.workdir})\n"
            f"--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-6000:]}"
        )


_run_ids = itertools.count(1)


def run_playbook(workdir: Path, inventory: dict[str, Path | dict], yaml_text: str, forks: int | None = None, extra_args: list[str] | None = None) -> AnsibleRun:
    """Run yaml_text against inventory {alias: root, or alias: host variables}; every alias is
    in group ``lab``. A root is reached with the chroot connection; host variables say how
    (a booted host's are its ssh connection, see :meth:`Host.inventory_vars`).

    Works for several clones at once (pass aliases of different Hosts' roots).
    Returns the AnsibleRun whose ``records`` are the per-task results.
    """
    run_dir = workdir / f"run-{os.getpid()}-{next(_run_ids)}"
    run_dir.mkdir(parents=True)
    hosts = {
        alias: (
            dict(target)
            if isinstance(target, dict)
            else {
                "ansible_connection": "community.general.chroot",
                "ansible_host": str(target),
                "ansible_python_interpreter": "/usr/bin/python3",
            }
        )
        for alias, target in inventory.items()
    }
    (run_dir / "inventory.yml").write_text(json.dumps({"all": {"children": {"lab": {"hosts": hosts}}}}, indent=2) + "\n")
    (run_dir / "playbook.yml").write_text(yaml_text)
    results = run_dir / "results.jsonl"
    argv = [ansible_bin("ansible-playbook"), "-i", str(run_dir / "inventory.yml"), str(run_dir / "playbook.yml")]
    if forks:
        argv += ["--forks", str(forks)]
    argv += extra_args or []
    run = AnsibleRun(workdir=run_dir, argv=argv)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=run_dir,
            env=ansible_env(workdir / "ansible-home", results),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ANSIBLE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"ansible-playbook timed out after {ANSIBLE_TIMEOUT}s: {argv}\n{exc.stdout}\n{exc.stderr}") from None
    run.seconds = time.monotonic() - started
    run.rc, run.stdout, run.stderr = proc.returncode, proc.stdout, proc.stderr
    (run_dir / "stdout.txt").write_text(proc.stdout)
    (run_dir / "stderr.txt").write_text(proc.stderr)
    if results.exists():
        run.records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return run


# ----------------------------------------------------------------------------
# the host
# ----------------------------------------------------------------------------
def _names(path: Path) -> dict[int, str]:
    names = {}
    try:
        for line in path.read_text().splitlines():
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                names.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return names


_TYPE = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFSOCK: "s", stat.S_IFIFO: "p", stat.S_IFCHR: "c", stat.S_IFBLK: "b"}


class Host:
    """One throw-away Debian host (a tools/lab clone). See the module docstring."""

    connection = "chroot"

    def __init__(self, name: str, root: Path, workdir: Path):
        self.name = name
        self.root = Path(root)
        self.workdir = Path(workdir)
        self.last_run: AnsibleRun | None = None
        meta = json.loads((self.root.parent / "host.json").read_text())
        self.release: str = meta.get("release") or lab.DEFAULT_RELEASE
        self.addresses: list[str] = meta.get("addresses") or []
        SEEN.add((self.release, self.connection))

    def inventory_vars(self) -> Path | dict:
        """How Ansible reaches this host (run_playbook's inventory value)."""
        return self.root

    def __repr__(self) -> str:
        return f"Host({self.name!r}, root={str(self.root)!r})"

    # -- files -----------------------------------------------------------
    def path(self, p: str | os.PathLike) -> Path:
        """This machine's path of ``p`` (an absolute path inside the host)."""
        rel = os.path.normpath("/" + os.fspath(p)).lstrip("/")
        return self.root / rel

    def read(self, p: str | os.PathLike) -> str:
        return self.path(p).read_text()

    # -- commands --------------------------------------------------------
    def _argv(self, argv) -> list[str]:
        if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
            argv = argv[0]
        if not argv:
            raise HarnessError("run() needs a command")
        return ["chroot", str(self.root), *[os.fspath(a) for a in argv]]

    def run(self, *argv, check: bool = True, env: dict | None = None, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:  # noqa: A002
        """``chroot ROOT argv...`` with a clean environment (PATH, HOME, LANG; plus ``env``)."""
        full = self._argv(argv)
        proc = subprocess.run(
            full,
            env=lab.chroot_env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandError(proc.returncode, full, proc.stdout, proc.stderr)
        return proc

    def run_tty(self, *argv, check: bool = True, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Like run(), but stderr is a pseudo-terminal (stdout stays a pipe)."""
        full = self._argv(argv)
        master, slave = pty.openpty()
        chunks: list[bytes] = []

        def reader() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave end closed
                    return
                if not data:
                    return
                chunks.append(data)

        thread = threading.Thread(target=reader, daemon=True)
        try:
            proc = subprocess.Popen(full, env=lab.chroot_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            slave = -1
            thread.start()
            try:
                out = proc.communicate(timeout=timeout)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                out = proc.communicate()[0]
                raise
            thread.join(timeout=10)
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
        err = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
        result = subprocess.CompletedProcess(full, proc.returncode, out.decode(errors="replace"), err)
        if check and proc.returncode != 0:
            raise CommandError(proc.returncode, full, result.stdout, result.stderr)
        return result

    # -- ansible ---------------------------------------------------------
    def playbook(
        self, yaml_text: str, aliases: list[str] | None = None, forks: int | None = None, extra_args: list[str] | None = None
    ) -> tuple[int, list[dict]]:
        """Run a playbook (hosts: all / lab) against this host, under each alias."""
        inventory = {alias: self.inventory_vars() for alias in (aliases or [self.name])}
        if forks is None:
            forks = max(5, len(inventory))
        self.last_run = run_playbook(self.workdir / "ansible", inventory, yaml_text, forks=forks, extra_args=extra_args)
        return self.last_run.rc, self.last_run.records

    def _results(self, yaml_text: str, expected: int) -> list[dict]:
        self.playbook(yaml_text)
        run = self.last_run
        results = [rec["result"] for rec in run.records]
        if len(results) != expected:
            raise HarnessError(f"expected {expected} task result(s), got {len(results)}\n{run.explain()}")
        return results

    def module(self, module: str, /, check: bool = False, diff: bool = True, module_args: dict | None = None, **args) -> dict:
        """Run one module on this host; return its result dict (also when it failed)."""
        args = {**args, **(module_args or {})}
        title = f"{module} ({'check' if check else 'apply'})"
        return self._results(_play([_task(module, args, title, check, diff)]), 1)[0]

    def sequence(self, module: str, /, diff: bool = True, module_args: dict | None = None, **args) -> list[dict]:
        """check mode -> apply -> check mode -> apply, in one Ansible run; the 4 result dicts."""
        args = {**args, **(module_args or {})}
        steps = [(1, True), (2, False), (3, True), (4, False)]
        tasks = [_task(module, args, f"step {n}: {module} ({'check' if check else 'apply'})", check, diff) for n, check in steps]
        return self._results(_play(tasks), 4)

    # -- snapshots -------------------------------------------------------
    def _settle(self) -> None:
        """Wait until every main.cf/master.cf is >= 2 s old (once), instead of letting
        each postconf process sleep 2 s ("file just changed" guard of Postfix's
        dict_load_file: it re-reads unless mtime < start_time - 1)."""
        newest = 0.0
        for pattern in ("etc/postfix*/main.cf", "etc/postfix*/master.cf"):
            for path in self.root.glob(pattern):
                with contextlib.suppress(OSError):
                    newest = max(newest, path.stat().st_mtime)
        for conf in self._listed_dirs_from_main_cf():
            for fname in ("main.cf", "master.cf"):
                with contextlib.suppress(OSError):
                    newest = max(newest, self.path(conf + "/" + fname).stat().st_mtime)
        wait = int(newest) + 2.02 - time.time()
        if wait > 0:
            time.sleep(wait)

    def _listed_dirs_from_main_cf(self) -> list[str]:
        try:
            text = self.read("/etc/postfix/main.cf")
        except OSError:
            return []
        value = None
        for match in re.finditer(r"^multi_instance_directories[ \t]*=(.*(?:\n[ \t]+.*)*)", text, re.M):
            value = match.group(1)
        return [d for d in re.split(r"[\s,]+", value or "") if d.startswith("/")]

    def state(self) -> dict:
        """A snapshot to compare hosts with (host.state() == oracle.state()).

        Keys:
          ``postmulti_l``  lines of ``postmulti -l`` (if it fails: one line ``<rc=N> <message>``)
          ``postconf_n``   {config_directory: lines of ``postconf -c DIR -n``} for the primary and every
                           listed instance (failure: ``<rc=N> <stderr>``); parameters are sorted by
                           postconf, so main.cf line order (3.7.11 appends new parameters in random
                           order) and comments are NOT compared
          ``postconf_warnings``  {config_directory: stderr lines} where postconf -n warned
          ``master_cf_sha256``   {config_directory: sha256 of master.cf bytes or None}
          ``files``        sorted ``"path owner group mode type"`` lines (path relative to the root,
                           owner/group names from the HOST's /etc/passwd and /etc/group, mode as 4
                           octal digits, type f d l s p c b; symlinks end in `` -> target``) for
                           /etc/postfix*, /var/spool/postfix*, /var/lib/postfix* and every listed
                           instance's config/queue/data directory elsewhere.
        Excluded from ``files`` because they legitimately differ between runs:
          * timestamps, sizes, inode numbers, file contents (never recorded);
          * entries BELOW the queue subdirectories (incoming active deferred defer bounce trace
            hold corrupt maildrop saved flush): queue file names are queue IDs and hashed
            subdirectories derive from them; replaced by one ``<dir>/* <N> files`` line when N > 0.
        """
        self._settle()
        listing = self.run("postmulti", "-l", check=False)
        if listing.returncode == 0:
            lines = listing.stdout.splitlines()
            dirs = [line.split(None, 3)[3] for line in lines if len(line.split(None, 3)) == 4]
        else:
            why = self.run_tty("postmulti", "-l", check=False).stderr.strip()
            lines = [f"<rc={listing.returncode}> {why}"]
            dirs = ["/etc/postfix", *self._listed_dirs_from_main_cf()]
        if "/etc/postfix" not in dirs:
            dirs.insert(0, "/etc/postfix")
        postconf, warnings, master, trees, queues = {}, {}, {}, set(), set()
        for conf in dict.fromkeys(dirs):
            proc = self.run("postconf", "-c", conf, "-n", check=False)
            out = proc.stdout.splitlines() if proc.returncode == 0 else [f"<rc={proc.returncode}> {proc.stderr.strip()}"]
            postconf[conf] = out
            if proc.returncode == 0 and proc.stderr.strip():
                warnings[conf] = proc.stderr.strip().splitlines()
            try:
                master[conf] = hashlib.sha256(self.path(conf + "/master.cf").read_bytes()).hexdigest()
            except OSError:
                master[conf] = None
            trees.add(conf)
            for line in out:
                key, _sep, value = line.partition(" = ")
                if key in ("queue_directory", "data_directory") and value.startswith("/") and "$" not in value:
                    trees.add(value)
                    if key == "queue_directory":
                        queues.add(value)
        return {
            "postmulti_l": lines,
            "postconf_n": postconf,
            "postconf_warnings": warnings,
            "master_cf_sha256": master,
            "files": self._files(trees, queues),
        }

    def _files(self, extra_trees: set[str], queue_dirs: set[str]) -> list[str]:
        users, groups = _names(self.path("/etc/passwd")), _names(self.path("/etc/group"))
        starts = {p for g in STATE_GLOBS for p in self.root.glob(g)}
        starts |= {self.path(t) for t in extra_trees}
        seen: set[Path] = set()
        out: list[str] = []

        def entry(path: Path, st: os.stat_result) -> str:
            rel = path.relative_to(self.root).as_posix()
            kind = _TYPE.get(stat.S_IFMT(st.st_mode), "?")
            text = f"{rel} {users.get(st.st_uid, st.st_uid)} {groups.get(st.st_gid, st.st_gid)} {stat.S_IMODE(st.st_mode):04o} {kind}"
            if kind == "l":
                text += " -> " + os.readlink(path)
            return text

        def walk(path: Path, queue_root: bool) -> None:
            if path in seen:
                return
            seen.add(path)
            try:
                st = path.lstat()
            except OSError:
                return
            out.append(entry(path, st))
            if not stat.S_ISDIR(st.st_mode):
                return
            for child in sorted(path.iterdir()):
                if queue_root and child.name in QUEUE_SUBDIRS and child.is_dir() and not child.is_symlink():
                    seen.add(child)
                    out.append(entry(child, child.lstat()))
                    count = sum(len(files) for _top, _dirs, files in os.walk(child))
                    if count:
                        out.append(f"{child.relative_to(self.root).as_posix()}/* {count} files")
                    continue
                walk(child, False)

        queue_roots = {self.path(q) for q in queue_dirs} | set(self.root.glob("var/spool/postfix*"))
        for start in sorted(starts):
            walk(start, start in queue_roots)
        return sorted(out)

    def changed_paths(self) -> list[str]:
        """Paths (relative to the root) this clone changed compared with the base root,
        read from the overlay's upper directory; deletions end in `` (deleted)``.
        Directories only copied up because of their contents are left out. Ignores
        /root/.ansible, /tmp and __pycache__ (left by Ansible/Python)."""
        upper = self.root.parent / "upper"
        lower = Path(json.loads((self.root.parent / "host.json").read_text())["lowerdir"])
        out = []
        for dirpath, dirnames, filenames in os.walk(upper):
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                rel = full.relative_to(upper).as_posix()
                if CHANGED_IGNORE.match(rel + ("/" if name in dirnames else "")):
                    continue
                st = full.lstat()
                if stat.S_ISDIR(st.st_mode):
                    # directories copied up only because something below changed are not news
                    try:
                        old = (lower / rel).lstat()
                    except OSError:
                        old = None
                    if old and stat.S_ISDIR(old.st_mode) and (old.st_mode, old.st_uid, old.st_gid) == (st.st_mode, st.st_uid, st.st_gid):
                        continue
                deleted = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
                out.append(rel + (" (deleted)" if deleted else ""))
        return sorted(out)


class BootedHost(Host):
    """A booted lab host: systemd is PID 1, Ansible comes over ssh, ``run()`` enters its
    namespaces (nsenter) as root, and ``reboot()`` restarts it the way the host itself would."""

    connection = "ssh"

    def inventory_vars(self) -> dict:
        meta = json.loads((self.root.parent / "host.json").read_text())
        return lab.connection_vars(meta)

    def _argv(self, argv) -> list[str]:
        if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
            argv = argv[0]
        if not argv:
            raise HarnessError("run() needs a command")
        return lab.exec_argv(self.name, [os.fspath(a) for a in argv])

    def system_state(self) -> str:
        """``systemctl is-system-running --wait``: running, degraded, ..."""
        return self.run("systemctl", "is-system-running", "--wait", check=False, timeout=90).stdout.strip()

    def failed_units(self) -> list[str]:
        return self.run("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager").stdout.split("\n")[:-1]

    def boot_count(self) -> int:
        return int(json.loads((self.root.parent / "boot.json").read_text()).get("boots", 0))


def readme_design(host: BootedHost, hostname: str = "out") -> dict:
    """A whole host design of MULTI_INSTANCE_README's shape, for postfix_multi_host: postfix-out
    listening on the host's second address, postfix-null a null client (no listener); the primary
    on its first address."""
    return {
        "instances": [
            {
                "name": "postfix-out",
                "group": "mta",
                "parameters": {"inet_interfaces": host.addresses[1], "myhostname": f"{hostname}.{host.name}.lab.example"},
                "absent_parameters": ["master_service_disable"],
            },
            # master_service_disable = inet is postmulti's own setting; declared, it stays with state=replaced
            {"name": "postfix-null", "group": "null", "parameters": {"myhostname": f"null.{host.name}.lab.example", "master_service_disable": "inet"}},
        ],
        "primary_parameters": {"inet_interfaces": host.addresses[0]},
    }


# ----------------------------------------------------------------------------
# a host without Postfix, and a package archive it can install from
# ----------------------------------------------------------------------------
# Debian's package names, and what python3-apt (which ansible.builtin.apt installs first) needs
# besides what the base root already holds.
POSTFIX_DEBS = ["postfix", "postfix-pcre", "postfix-lmdb", "postfix-cdb"]
APT_MODULE_DEBS = ["python3-apt", "python-apt-common", "distro-info-data"]
REPO_IN_HOST = "/srv/lab-archive"


def download_debs(packages: list[str], directory: Path, release: str) -> list[Path]:
    """``apt-get download`` PACKAGES (``name`` or ``name=version``) of RELEASE into DIRECTORY, from
    the archive the lab roots come from (tools/lab's mirror, suite RELEASE, main), with an apt
    configuration of its own: this machine's sources, pins and installed packages play no part."""
    apt = directory / "apt"
    for sub in ("lists/partial", "archives/partial", "empty"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "status").write_text("")  # nothing installed: each package's candidate is the suite's own
    sources = apt / "sources.list"
    sources.write_text(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {lab.mirror_uri()} {release} main\n")
    options = [
        f"Dir::State::Lists={apt / 'lists'}",
        f"Dir::State::status={apt / 'status'}",
        f"Dir::Etc::SourceList={sources}",
        f"Dir::Etc::SourceParts={apt / 'empty'}",
        f"Dir::Etc::PreferencesParts={apt / 'empty'}",
        f"Dir::Cache={apt}",
        "Dir::Cache::pkgcache=",
        "Dir::Cache::srcpkgcache=",
        "APT::Sandbox::User=root",
    ]
    argv = ["apt-get", "-q", *(word for option in options for word in ("-o", option))]
    update = subprocess.run([*argv, "update"], capture_output=True, text=True, check=False)
    if update.returncode != 0:
        raise HarnessError(f"apt-get update ({release}) failed (rc={update.returncode}): {update.stdout}{update.stderr}")
    proc = subprocess.run([*argv, "download", *packages], cwd=directory, capture_output=True, text=True, check=False)
    debs = sorted(directory.glob("*.deb"))
    if proc.returncode != 0 or len(debs) < len(packages):
        raise HarnessError(f"apt-get download {' '.join(packages)} ({release}) failed (rc={proc.returncode}): {proc.stdout}{proc.stderr}")
    return debs


def packages_index(debs: list[Path]) -> str:
    """A flat archive's Packages file for DEBS (what dpkg-scanpackages writes: the control
    fields, Filename, Size and SHA256), so that apt installs them from a file: source."""
    stanzas = []
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout.rstrip("\n")
        digest = hashlib.sha256(deb.read_bytes()).hexdigest()
        stanzas.append(f"{control}\nFilename: ./{deb.name}\nSize: {deb.stat().st_size}\nSHA256: {digest}\n")
    return "\n".join(stanzas)


def remove_postfix(host: Host, workdir: Path) -> list[str]:
    """Make HOST a host without Postfix, as a fresh installation is: its Postfix packages purged
    (the postfix user and /etc/postfix go with them), apt's only source a file: archive with the
    same versions of them and python3-apt of its release (downloaded on this machine from the
    mirror the lab root was built from), and the lab's policy-rc.d gone, so that the packages'
    maintainer scripts start and stop services as they do on any host. Returns the archive's packages."""
    versions = host.run("dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *POSTFIX_DEBS).stdout.split()
    debs = download_debs([*versions, *APT_MODULE_DEBS], workdir, host.release)
    host.run("systemctl", "stop", "postfix.service", check=False)
    host.run("dpkg", "--purge", *POSTFIX_DEBS, env={"DEBIAN_FRONTEND": "noninteractive"})
    host.run("rm", "-f", "/usr/sbin/policy-rc.d")
    target = host.path(REPO_IN_HOST)
    target.mkdir(parents=True)
    for deb in debs:
        (target / deb.name).write_bytes(deb.read_bytes())
    (target / "Packages").write_text(packages_index(debs))
    host.path("/etc/apt/sources.list").write_text(f"deb [trusted=yes] file:{REPO_IN_HOST} ./\n")
    return [deb.name for deb in debs]


# ----------------------------------------------------------------------------
# creating and destroying hosts (used by the fixtures)
# ----------------------------------------------------------------------------
_host_ids = itertools.count(1)


def ensure_base() -> Path:
    """Build the base root unless cached (fails loudly: not root, no network...)."""
    if os.geteuid() != 0:
        raise HarnessError("the integration tests must run as root (chroot, mount, overlayfs)")
    return lab.build()


def new_host(role: str, workdir: Path, source: Host | None = None) -> Host:
    """A fresh clone of the base, or (source=...) a copy of another host as it is now."""
    name = f"it{os.getpid()}-{next(_host_ids)}-{role}"
    root = lab.clone(name, owner_pid=os.getpid(), source=source.name if source else None)
    return Host(name, root, Path(workdir) / name)


def new_booted_host(role: str, workdir: Path, release: str, addresses: int = 4) -> BootedHost:
    """A fresh booted host of ``release`` (systemd as PID 1, sshd on its first address)."""
    lab.build(release=release)
    name = f"it{os.getpid()}-{next(_host_ids)}-{role}"
    root = lab.clone(name, owner_pid=os.getpid(), addresses=addresses, release=release, boot=True)
    return BootedHost(name, root, Path(workdir) / name)


def destroy_host(host: Host) -> None:
    lab.destroy(host.name)
    left = lab.mounts_under(host.root.parent)
    if left:
        raise HarnessError(f"mounts left behind by {host}: {left}")
