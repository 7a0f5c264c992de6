# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/lab - throw-away Debian hosts (chroot or booted, overlayfs) for the integration tests.

Needs root (debootstrap, mount, chroot). Python 3 standard library only.

A *base root* is built once with debootstrap and cached outside the repository.
A *clone* is an overlayfs mount of that base (lowerdir) with a private upper/work
directory, plus a /proc mount; Ansible reaches it with the community.general.chroot
connection.

Layout
  cache (MAILOPS_LAB_CACHE, default /var/cache/mailops-lab):
    .lock-<suite>          flock serialising the builds of one release
    base-<suite>-<key>/    one finished base: root/ (the tree), build.json
    .tmp-<key>-<pid>/      a build in progress (renamed into place when complete,
                           removed by the next build if the builder died)
  lab dir (MAILOPS_LAB_DIR, default /run/mailops-lab):
    hosts/<name>/          one clone: root/ (mount point), upper/, work/, host.json

<key> is a hash of everything that shapes the base (suite, variant, packages,
debconf answers, recipe version), so editing the package list makes a new base.

host.json records what a clone set up: "mounts", and with clone --addresses K
(or "up") "subnet" N and "addresses" 127.0.N.1 .. 127.0.N.K, which the lab adds to
the loopback interface "lo" and removes again in destroy() (see _teardown()).

Listen addresses: the clones share this machine's network namespace, so every
Postfix started in any clone listens on the machine's addresses. A clone made
with addresses gets its own block 127.0.N.0/24 (N = 1..254, never 127.0.0.x,
allocated under a lock so that concurrent runs get different blocks), and its
primary main.cf gets "inet_interfaces = 127.0.N.1" (and "myhostname =
NAME.lab.example"): a primary left at Debian's "inet_interfaces = loopback-only"
would bind every address on lo, other clones' included. Instances created in
the clone must likewise bind only addresses of the clone's own block. Its
resolv.conf names 127.0.0.1 as nameserver, so that Postfix's lookups of SMTP
clients' names do not leave the machine.

Fleets: "up COUNT --prefix P" makes clones P1..PCOUNT with addresses and writes
an inventory whose hosts carry "lab_addresses"; "down --prefix P" destroys them.

tools/lab (bash) runs this file; tests/integration/labhost.py imports it as a module.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# ----------------------------------------------------------------------------
# Recipe of the base root. Changing anything here changes the cache key.
# ----------------------------------------------------------------------------
RECIPE_VERSION = 2
# The Debian releases a lab host can run (MAILOPS_LAB_RELEASE picks the default):
# codename -> (Debian version, Postfix series it ships).
RELEASES = {"bullseye": ("11", "3.5"), "bookworm": ("12", "3.7"), "trixie": ("13", "3.10")}
DEFAULT_RELEASE = "bookworm"
VARIANT = "minbase"
# systemd, systemd-sysv and openssh-server make the same base bootable (boot=True hosts:
# systemd-nspawn --boot, reached over ssh); chroot clones never start them. dbus serves
# systemd-logind, which the ssh sessions' PAM stack registers with. postfix-pcre, -lmdb and -cdb
# are Debian's dynamically loaded table types (postconf -m lists them once installed), so that
# every type the collection's postfix_map builds is built on a real host.
PACKAGES = (
    "postfix",
    "postfix-pcre",
    "postfix-lmdb",
    "postfix-cdb",
    "python3",
    "systemd",
    "systemd-sysv",
    "openssh-server",
    "dbus",
    "libpam-systemd",
)
DEBCONF = (
    "postfix postfix/main_mailer_type select Local only",
    "postfix postfix/mailname string lab.example",
)
# main.cf settings applied after the package install. In a chroot Debian's
# postinst writes "inet_protocols =" (empty), which disables all networking.
MAIN_CF = (
    "inet_protocols = ipv4",
    "myhostname = lab.example",
    "mydestination = $myhostname, localhost.localdomain, localhost",
)
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULT_CACHE = "/var/cache/mailops-lab"
# The suite whose archive URI the machine's apt sources name (the same archive serves the others).
MACHINE_SUITE = "bookworm"
# Loopback blocks 127.0.N.0/24 handed to clones made with addresses; 127.0.0.x stays free
# for whatever else runs on this machine (the integration tests listen on 127.0.0.1-3).
SUBNETS = range(1, 255)
MAX_ADDRESSES = 254
DEFAULT_FLEET_ADDRESSES = 9
DEFAULT_LAB_DIR = "/run/mailops-lab"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class LabError(Exception):
    """A lab operation failed; the message says what and why."""


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def cache_dir() -> Path:
    return Path(os.environ.get("MAILOPS_LAB_CACHE") or DEFAULT_CACHE)


def lab_dir() -> Path:
    return Path(os.environ.get("MAILOPS_LAB_DIR") or DEFAULT_LAB_DIR)


def hosts_dir() -> Path:
    return lab_dir() / "hosts"


def default_release() -> str:
    """The release of hosts made without one: MAILOPS_LAB_RELEASE, else bookworm."""
    return check_release(os.environ.get("MAILOPS_LAB_RELEASE") or DEFAULT_RELEASE)


def check_release(release: str | None) -> str:
    if release is None:
        return default_release()
    if release not in RELEASES:
        raise LabError(f"unknown release {release!r}: one of {', '.join(RELEASES)}")
    return release


def recipe(release: str | None = None) -> dict:
    return {
        "recipe_version": RECIPE_VERSION,
        "suite": check_release(release),
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "debconf": list(DEBCONF),
        "main_cf": list(MAIN_CF),
        "arch": os.uname().machine,
    }


def base_key(release: str | None = None) -> str:
    blob = json.dumps(recipe(release), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def base_dir(release: str | None = None) -> Path:
    release = check_release(release)
    return cache_dir() / f"base-{release}-{base_key(release)}"


def base_root(release: str | None = None) -> Path:
    """Root tree of the base of a release for the current recipe (may not exist yet)."""
    return base_dir(release) / "root"


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("tools/lab must run as root (it uses debootstrap, mount and chroot)")


def log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _die_with_parent() -> None:  # preexec_fn: the child gets SIGKILL when we die
    try:
        import ctypes  # pylint: disable=import-outside-toplevel

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run(argv: list[str], pgid_file: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run a command, raise LabError with its output when it fails.

    The command gets its own process group, killed as a whole if we are
    interrupted; with pgid_file the group id is also recorded there so that a
    later build can kill what a SIGKILLed build left running.
    """
    kw.setdefault("stdin", subprocess.DEVNULL)
    if pgid_file is not None:  # build steps only (preexec_fn is not thread-safe)
        kw["preexec_fn"] = _die_with_parent
    with subprocess.Popen(argv, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw) as proc:
        if pgid_file is not None:
            with open(pgid_file, "a", encoding="utf-8") as fh:
                fh.write(f"{proc.pid}\n")
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            _killpg(proc.pid)
            raise
    if proc.returncode != 0:
        raise LabError(f"command failed (rc={proc.returncode}): {' '.join(argv)}\n--- stdout\n{stdout[-4000:]}\n--- stderr\n{stderr[-4000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def chroot_env(extra: dict | None = None) -> dict:
    env = {
        "PATH": CHROOT_PATH,
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "DEBIAN_FRONTEND": "noninteractive",
        "DEBCONF_NONINTERACTIVE_SEEN": "true",
    }
    if extra:
        env.update(extra)
    return env


def mirror_uri() -> str:
    """The Debian archive URI this machine's apt uses (never hard-coded); it serves
    every release of RELEASES."""
    override = os.environ.get("MAILOPS_LAB_MIRROR")
    if override:
        return override
    deb822 = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in deb822:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _sep, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            suites = fields.get("suites", "").split()
            if "deb" in fields.get("types", "").split() and MACHINE_SUITE in suites and fields.get("uris"):
                return fields["uris"].split()[0]
    legacy = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]
    for path in legacy:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == MACHINE_SUITE:
                return words[1]
    raise LabError(f"no 'deb ... {MACHINE_SUITE}' source found in /etc/apt; set MAILOPS_LAB_MIRROR")


# ----------------------------------------------------------------------------
# mounts and processes
# ----------------------------------------------------------------------------
def _unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below path (our mount namespace), deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = _unescape_mount(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(set(found), key=lambda p: (p.count("/"), len(p)), reverse=True)


def pids_inside(path: Path, cwd: bool = False) -> list[int]:
    """Processes whose root directory (chroot) - or with cwd=True also whose
    working directory - is at or below path."""
    prefix = str(path).rstrip("/")
    found = []
    links = ("root", "cwd") if cwd else ("root",)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for link in links:
            try:
                target = os.readlink(f"/proc/{entry}/{link}")
            except OSError:
                continue
            if target == prefix or target.startswith(prefix + "/"):
                found.append(int(entry))
                break
    return found


def kill_inside(path: Path, grace: float = 2.0, cwd: bool = False) -> list[int]:
    """SIGTERM, then SIGKILL, every process living in the tree. Returns the pids."""
    victims = pids_inside(path, cwd)
    if not victims:
        return []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids_inside(path, cwd):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pids_inside(path, cwd):
            time.sleep(0.05)
        if not pids_inside(path, cwd):
            break
    return victims


def umount_all(path: Path) -> None:
    """Unmount everything at or below path; kill what keeps a mount busy."""
    for attempt in range(3):
        points = mounts_under(path)
        if not points:
            return
        for point in points:
            proc = subprocess.run(["umount", point], capture_output=True, text=True, check=False)
            if proc.returncode != 0 and attempt == 0:
                kill_inside(path)
                subprocess.run(["umount", point], capture_output=True, check=False)
    for point in mounts_under(path):  # still busy: detach lazily
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    left = mounts_under(path)
    if left:
        raise LabError(f"cannot unmount {left}")


def remove_tree(path: Path) -> None:
    """rm -rf, but never through a mount point."""
    if not path.exists() and not path.is_symlink():
        return
    left = mounts_under(path)
    if left:
        raise LabError(f"refusing to remove {path}: still mounted: {left}")
    run(["rm", "-rf", "--one-file-system", "--", str(path)])


# ----------------------------------------------------------------------------
# build
# ----------------------------------------------------------------------------
def _chroot(root: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run(["chroot", str(root), *argv], env=chroot_env(env), pgid_file=root.parent / ".pgids")


def _build_into(root: Path, mirror: str, release: str) -> dict:
    timings = {}
    t0 = time.monotonic()
    log(f"debootstrap --variant={VARIANT} {release} (mirror from apt sources)")
    pgids = root.parent / ".pgids"
    run(["debootstrap", f"--variant={VARIANT}", release, str(root), mirror], env={**os.environ, "LC_ALL": "C"}, pgid_file=pgids)
    timings["debootstrap"] = round(time.monotonic() - t0, 1)

    # nothing may start a service inside the lab roots, ever
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# tools/lab: never start services in a lab root\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc/apt/sources.list").write_text(f"deb {mirror} {release} main\n")
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    (root / "etc/hostname").write_text("lab\n")
    with tempfile.NamedTemporaryFile("w", dir=root / "tmp", delete=False, suffix=".preseed") as fh:
        fh.write("\n".join(DEBCONF) + "\n")
    seed = "/tmp/" + Path(fh.name).name

    t0 = time.monotonic()
    # /proc only while installing, inside a private mount namespace so that a
    # killed build cannot leave the mount behind.
    script = (
        'set -e; mount -t proc proc "$ROOT/proc"; trap \'umount "$ROOT/proc"\' EXIT; '
        'chroot "$ROOT" debconf-set-selections "$SEED"; '
        'chroot "$ROOT" apt-get update -q; '
        'chroot "$ROOT" apt-get install -y -q --no-install-recommends "$@"; '
        'chroot "$ROOT" apt-get clean'
    )
    run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *PACKAGES],
        env=chroot_env({"ROOT": str(root), "SEED": seed}),
        pgid_file=pgids,
    )
    timings["apt_install"] = round(time.monotonic() - t0, 1)
    os.unlink(root / seed.lstrip("/"))
    remove_tree(root / "var/lib/apt/lists")
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)

    _chroot(root, "postconf", "-e", *MAIN_CF)
    # What Debian's postfix@.service ExecStartPre does for the primary: copy
    # resolver/NSS files into the queue's chroot jail so "postfix start" works.
    # (Debian 11 and 12; Debian 13's units run "postfix start", which copies them itself.)
    template = next((d / "postfix@.service" for d in (root / "lib/systemd/system", root / "usr/lib/systemd/system") if (d / "postfix@.service").exists()), None)
    if template is not None and "configure-instance.sh" in template.read_text():
        _chroot(root, "/usr/lib/postfix/configure-instance.sh", "-")
    _chroot(root, "postfix", "check")
    _chroot(root, "postmulti", "-l")
    version = _chroot(root, "postconf", "-h", "mail_version").stdout.strip()
    python = _chroot(root, "python3", "-c", "import sys; print(sys.version.split()[0])").stdout.strip()
    # main.cf was just written; give it an old mtime so the first postconf in a
    # clone does not wait for the "file changed within the last second" guard.
    old = time.time() - 3600
    for path in (root / "etc/postfix").glob("*.cf"):
        os.utime(path, (old, old))
    return {"timings": timings, "postfix_version": version, "python_version": python}


def _kill_recorded(build_dir: Path) -> None:
    """Kill what a dead build left running: processes in the process groups it
    recorded in .pgids that still refer to build_dir (cmdline, root or cwd), so a
    recycled group id never hits an unrelated process."""
    try:
        pgids = {int(x) for x in (build_dir / ".pgids").read_text().split()}
    except (OSError, ValueError):
        return
    mark = str(build_dir)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getpgid(pid) not in pgids:
                continue
            refs = [Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
            refs += [os.readlink(f"/proc/{pid}/{link}") for link in ("root", "cwd")]
        except OSError:
            continue
        if any(mark in ref for ref in refs):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)


def build(force: bool = False, release: str | None = None) -> Path:
    """Build the base root of a release for the current recipe unless it is cached."""
    require_root()
    release = check_release(release)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = base_dir(release)
    # one lock per release: the releases build in parallel, each at most once
    with open(cache / f".lock-{release}", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_dir() and not force:
            log(f"base is cached: {final / 'root'}")
            return final / "root"
        # leftovers of builds that died (we hold the lock: nobody else builds)
        for stale in cache.glob(f".tmp-{base_key(release)}-*"):
            log(f"removing unfinished build {stale}")
            _kill_recorded(stale)
            kill_inside(stale, cwd=True)
            umount_all(stale)
            remove_tree(stale)
        started = time.monotonic()
        tmp = cache / f".tmp-{base_key(release)}-{os.getpid()}"
        tmp.mkdir()
        try:
            info = _build_into(tmp / "root", mirror_uri(), release)
            info.update(
                recipe=recipe(release),
                key=base_key(release),
                release=release,
                seconds=round(time.monotonic() - started, 1),
                built=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            )
            (tmp / "build.json").write_text(json.dumps(info, indent=2) + "\n")
            (tmp / ".pgids").unlink(missing_ok=True)
            if final.exists():  # --force: move the old one out of the way first
                old = cache / f".tmp-old-{os.getpid()}"
                final.rename(old)
                remove_tree(old)
            tmp.rename(final)  # atomic: a base dir is either complete or absent
        except BaseException:
            _kill_recorded(tmp)
            kill_inside(tmp, cwd=True)
            umount_all(tmp)
            remove_tree(tmp)
            raise
        log(f"built {final} in {info['seconds']} s ({info['timings']}, postfix {info['postfix_version']})")
        prune()
    return final / "root"


def prune() -> list[Path]:
    """Remove cached bases of other recipes that no clone uses any more."""
    used = {str(Path(meta.get("lowerdir", "")).parent) for meta in _all_meta()}
    current = {base_dir(release) for release in RELEASES}
    removed = []
    for other in cache_dir().glob("base-*"):
        if other not in current and str(other) not in used:
            remove_tree(other)
            removed.append(other)
    return removed


# ----------------------------------------------------------------------------
# clones
# ----------------------------------------------------------------------------
def host_dir(name: str) -> Path:
    if not NAME_RE.match(name):
        raise LabError(f"bad host name {name!r} (letters, digits, '_', '.', '-'; at most 63)")
    return hosts_dir() / name


def _meta_path(name: str) -> Path:
    return host_dir(name) / "host.json"


def _all_meta() -> list[dict]:
    result = []
    if hosts_dir().is_dir():
        for entry in sorted(hosts_dir().iterdir()):
            try:
                result.append(json.loads((entry / "host.json").read_text()))
            except (OSError, ValueError):
                result.append({"name": entry.name, "root": str(entry / "root"), "broken": True})
    return result


def clone(name: str, owner_pid: int | None = None, source: str | None = None, addresses: int = 0, release: str | None = None, boot: bool = False) -> Path:
    """Mount a fresh copy-on-write clone of the base of ``release``; return its root path.

    With source=OTHER the clone starts as a copy of clone OTHER instead (its
    overlay upper directory is copied; OTHER should be quiescent meanwhile).

    With addresses=K (1..254) the clone gets its own loopback block: the
    addresses 127.0.N.1 .. 127.0.N.K are added to "lo" (removed by destroy),
    recorded in host.json, and its primary main.cf listens on 127.0.N.1 only.

    With boot=True (needs addresses) the clone is a booted host: systemd-nspawn
    --boot runs it with systemd as PID 1 and sshd on its first address (see boot()),
    instead of the /proc and devpts mounts of a chroot clone.
    """
    if not 0 <= addresses <= MAX_ADDRESSES:
        raise LabError(f"addresses must be between 0 and {MAX_ADDRESSES}, not {addresses}")
    if boot and not addresses:
        raise LabError("a booted host needs addresses of its own (sshd listens on the first)")
    require_root()
    release = check_release(release)
    lower = base_root(release)
    src_upper = None
    if source is not None:
        try:
            src_meta = json.loads(_meta_path(source).read_text())
        except (OSError, ValueError):
            raise LabError(f"no such host to copy: {source!r}") from None
        lower = Path(src_meta["lowerdir"])
        release = src_meta.get("release") or DEFAULT_RELEASE
        src_upper = host_dir(source) / "upper"
    if not lower.is_dir():
        raise LabError(f"no base root at {lower}: run 'tools/lab build --release {release}' first")
    hdir = host_dir(name)
    hosts_dir().mkdir(parents=True, exist_ok=True)
    try:
        hdir.mkdir()
    except FileExistsError:
        raise LabError(f"host {name!r} already exists ({hdir}); destroy it first") from None
    root, upper, work = hdir / "root", hdir / "upper", hdir / "work"
    meta = {
        "name": name,
        "root": str(root),
        "lowerdir": str(lower),
        "base_key": lower.parent.name.rsplit("-", 1)[-1],
        "source": source,
        "created": time.time(),
        "owner_pid": owner_pid,
        "mounts": [],
        "subnet": None,
        "addresses": [],
        "release": release,
        "boot": boot,
    }
    try:
        for d in (root, upper, work):
            d.mkdir()
        _write_meta(name, meta)
        if src_upper is not None:
            # cp -a keeps owners, modes, xattrs (overlay opaque dirs) and whiteouts (0/0 char devices)
            run(["cp", "-a", "--", f"{src_upper}/.", str(upper)])
        run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(root)])
        meta["mounts"].append(str(root))
        if boot:
            _write_meta(name, meta)
            _add_addresses(name, meta, addresses)
            _prepare_boot(name, meta)
            boot_host(name)
            return root
        # /proc: ps-style tools, python's platform probes, postfix status checks
        run(["mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(root / "proc")])
        meta["mounts"].append(str(root / "proc"))
        # a private devpts: pseudo-terminals for commands whose diagnostics need one
        # (Postfix 3.7 prints errors only when stderr is a tty; the modules give it one)
        run(["mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts", str(root / "dev" / "pts")])
        meta["mounts"].append(str(root / "dev" / "pts"))
        run(["mount", "--bind", str(root / "dev" / "pts" / "ptmx"), str(root / "dev" / "ptmx")])
        meta["mounts"].append(str(root / "dev" / "ptmx"))
        _write_meta(name, meta)
        if addresses:
            _add_addresses(name, meta, addresses)
    except BaseException:
        _teardown(hdir)
        raise
    return root


def _write_meta(name: str, meta: dict) -> None:
    path = _meta_path(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.rename(path)


def _teardown(hdir: Path) -> None:
    _stop_booted(hdir)
    kill_inside(hdir / "root")
    try:
        meta = json.loads((hdir / "host.json").read_text())
    except (OSError, ValueError):
        meta = {}
    _del_addresses(meta.get("addresses") or [])
    _remove_cgroups(hdir.name)
    umount_all(hdir)
    remove_tree(hdir)


# ----------------------------------------------------------------------------
# booted hosts: systemd as PID 1 (systemd-nspawn --boot), reached over ssh
# ----------------------------------------------------------------------------
# A booted host is a clone (overlay root, own loopback block) that systemd-nspawn
# boots with systemd as PID 1 in its own PID, mount, UTS and IPC namespaces. It
# shares this machine's network namespace, so everything in it listens only on
# its own block: sshd on 127.0.N.1:22, Postfix as for every fleet clone.
#
# A supervisor process (this file, hidden command "_supervise NAME") runs nspawn
# and starts it again when the host reboots (nspawn exits with 133 then); it is
# placed in the host's own cgroups first (name=systemd, unified, memory), which
# nspawn --keep-unit --register=no then hands to the host's systemd. Its pid and
# nspawn's are in boot.json; "destroy"/"down" stop both (SIGTERM: nspawn asks the
# host's systemd to shut down; SIGKILL after BOOT_STOP_GRACE seconds).
NSPAWN_REBOOT_RC = 133
BOOT_TIMEOUT = 60.0
BOOT_STOP_GRACE = 10.0
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_GROUP = "mailops-lab"
SSH_PORT = 22
SSHD_CONFIG = """\
# tools/lab: sshd of a booted lab host listens on the host's own first address only
ListenAddress {address}:{port}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""


def ssh_key() -> Path:
    """The lab's private key (generated once; its .pub is authorised on every booted host)."""
    key = lab_dir() / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        tmp = key.parent / f".id-{os.getpid()}"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mailops-lab", "-f", str(tmp)])
        os.rename(f"{tmp}.pub", f"{key}.pub")
        os.rename(tmp, key)
    return key


def _cgroup_dirs(name: str) -> list[Path]:
    """The host's cgroups: its own in the name=systemd and unified hierarchies (nspawn hands
    them to the host's systemd) and in the memory controller (what the host uses)."""
    dirs = []
    for hierarchy in ("systemd", "unified"):
        if (CGROUP_ROOT / hierarchy / "cgroup.procs").exists():
            dirs.append(CGROUP_ROOT / hierarchy / CGROUP_GROUP / name)
    if (CGROUP_ROOT / "memory" / "cgroup.procs").exists():
        dirs.append(CGROUP_ROOT / "memory" / CGROUP_GROUP / name)
    return dirs


def _remove_cgroups(name: str) -> None:
    """rmdir the host's cgroups, deepest first (systemd in the host made sub-groups)."""
    for top in _cgroup_dirs(name):
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda item: item[0].count("/"), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


def _prepare_boot(name: str, meta: dict) -> None:
    """What a booted clone needs before its first boot: hostname, sshd on its first
    address, the lab key authorised for root, no getty on a console nobody reads."""
    root = Path(meta["root"])
    (root / "etc/hostname").write_text(f"{name}\n")
    conf = root / "etc/ssh/sshd_config.d/mailops-lab.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(SSHD_CONFIG.format(address=meta["addresses"][0], port=SSH_PORT))
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(f"{ssh_key()}.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    # each host its own ssh host keys and machine id, as separate machines have
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    run(["ssh-keygen", "-A", "-f", str(root)])
    (root / "etc/machine-id").write_text("")
    for unit in ("console-getty.service", "getty@tty1.service"):
        mask = root / "etc/systemd/system" / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")


def _boot_state(name: str) -> dict:
    try:
        return json.loads((host_dir(name) / "boot.json").read_text())
    except (OSError, ValueError):
        return {}


def _write_boot_state(name: str, state: dict) -> None:
    path = host_dir(name) / "boot.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.rename(path)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def nspawn_argv(meta: dict) -> list[str]:
    return [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--quiet",
        f"--directory={meta['root']}",
        f"--machine={meta['name']}",
        "--resolv-conf=off",  # keep the clone's own resolver (127.0.0.1: nothing leaves the lab)
        "--timezone=off",
        "--link-journal=no",
        "--console=read-only",
    ]


def supervise(name: str) -> int:
    """Run the host's nspawn until it ends without asking for a reboot (the hidden command
    ``_supervise NAME``, started detached by boot_host())."""
    meta = json.loads(_meta_path(name).read_text())
    for group in _cgroup_dirs(name):
        group.mkdir(parents=True, exist_ok=True)
        (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # nspawn: orderly shutdown of the host's systemd

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    boots = 0
    rc = 0
    while not stopping:
        boots += 1
        child = subprocess.Popen(nspawn_argv(meta), stdin=subprocess.DEVNULL)
        _write_boot_state(name, {"supervisor": os.getpid(), "nspawn": child.pid, "boots": boots, "started": time.time()})
        rc = child.wait()
        print(f"lab: {name}: systemd-nspawn exited with {rc} (boot {boots})", flush=True)
        if rc != NSPAWN_REBOOT_RC:
            break
    with contextlib.suppress(OSError):  # the host may be torn down already
        _write_boot_state(name, {"supervisor": None, "nspawn": None, "boots": boots, "exit": rc})
    return 0 if rc in (0, NSPAWN_REBOOT_RC) else rc


# Each booted host's systemd takes several inotify instances of root's; the kernel's default of 128
# stops about the 18th host from booting ("the host stopped while booting").
INOTIFY_INSTANCES = 8192


def _raise_inotify_limit() -> None:
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    try:
        if int(path.read_text()) < INOTIFY_INSTANCES:
            path.write_text(f"{INOTIFY_INSTANCES}\n")
    except (OSError, ValueError) as exc:
        log(f"cannot raise fs.inotify.max_user_instances ({exc}); many booted hosts may not boot")


def boot_host(name: str, timeout: float = BOOT_TIMEOUT) -> None:
    """Start the supervisor of a booted clone and wait until its systemd reports
    running (or degraded: the caller decides whether that is a failure) and sshd answers."""
    _raise_inotify_limit()
    hdir = host_dir(name)
    meta = json.loads(_meta_path(name).read_text())
    if _alive(_boot_state(name).get("supervisor")):
        raise LabError(f"{name} is already booted")
    console = open(hdir / "console.log", "ab")  # noqa: SIM115  the supervisor keeps it
    with console:
        supervisor = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, str(Path(__file__).resolve()), "_supervise", name],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    # recorded at once, so that a teardown from now on finds and stops it
    _write_boot_state(name, {"supervisor": supervisor.pid, "nspawn": None, "boots": 0})
    wait_booted(name, meta["addresses"][0], timeout)


def leader_pid(name: str) -> int | None:
    """PID (on this machine) of the host's PID 1, or None when it is not booted."""
    nspawn = _boot_state(name).get("nspawn")
    if not _alive(nspawn):
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(nspawn) and fields.get("NSpid", "").split()[-1:] == ["1"]:
            return int(entry)
    return None


def exec_argv(name: str, argv: list[str]) -> list[str]:
    """argv run inside the booted host's namespaces (nsenter), as root, without ssh."""
    pid = leader_pid(name)
    if pid is None:
        raise LabError(f"{name} is not booted")
    # --wd without a directory: PID 1's working directory (/), inside the new root
    return ["nsenter", f"--target={pid}", "--mount", "--uts", "--ipc", "--pid", "--root", "--wd", "--", *argv]


def wait_booted(name: str, address: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait for the host's systemd to finish starting up and for sshd to answer; return the
    system state (running, degraded)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        if not _alive(_boot_state(name).get("supervisor")):
            raise LabError(f"{name}: the host stopped while booting; see {host_dir(name) / 'console.log'}")
        if leader_pid(name) is not None:
            proc = subprocess.run(exec_argv(name, ["systemctl", "is-system-running"]), capture_output=True, text=True, check=False)
            state = proc.stdout.strip()
            if state in ("running", "degraded") and _port_open(address, SSH_PORT):
                return state
        time.sleep(0.1)
    raise LabError(f"{name} did not boot within {timeout:.0f} s (system state {state or 'unknown'}); see {host_dir(name) / 'console.log'}")


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH")
    except OSError:
        return False


def _stop_booted(hdir: Path, grace: float = BOOT_STOP_GRACE) -> None:
    """Stop a booted host's supervisor and nspawn (orderly first); no-op for chroot clones."""
    try:
        state = json.loads((hdir / "boot.json").read_text())
    except (OSError, ValueError):
        return
    pids = [pid for pid in (state.get("supervisor"), state.get("nspawn")) if _alive(pid)]
    if not pids:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pids[0], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)


def memory_bytes(name: str) -> int | None:
    """Resident memory of everything the booted host runs (its memory cgroup's rss)."""
    for group in _cgroup_dirs(name):
        stat_file = group / "memory.stat"
        if group.parent.parent.name == "memory" and stat_file.exists():
            values = dict(line.split() for line in stat_file.read_text().splitlines())
            return int(values.get("total_rss", values.get("rss", 0)))
    return None


def cpu_seconds(name: str) -> float | None:
    """CPU time (user and system) used so far by everything the booted host runs: its processes,
    its systemd and the units it started (the unified hierarchy's cpu.stat usage_usec)."""
    for group in _cgroup_dirs(name):
        stat_file = group / "cpu.stat"
        if stat_file.exists():
            for line in stat_file.read_text().splitlines():
                key, _sep, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    return None


# ----------------------------------------------------------------------------
# listen addresses (loopback blocks)
# ----------------------------------------------------------------------------
def lo_addresses() -> set[str]:
    """IPv4 addresses configured on the loopback interface."""
    out = run(["ip", "-o", "-4", "addr", "show", "dev", "lo"]).stdout
    return set(re.findall(r"\sinet\s+([0-9.]+)/", out))


def _add_addresses(name: str, meta: dict, count: int) -> None:
    """Allocate a free block 127.0.N.0/24 for the clone, add 127.0.N.1..count to lo,
    and make its primary listen on 127.0.N.1 only. host.json records the block
    before any address is added, so a failure half-way is still torn down."""
    lab_dir().mkdir(parents=True, exist_ok=True)
    with open(lab_dir() / ".addresses.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        taken = {m.get("subnet") for m in _all_meta() if m.get("name") != name}
        on_lo = lo_addresses()
        for subnet in SUBNETS:
            if subnet not in taken and not any(a.startswith(f"127.0.{subnet}.") for a in on_lo):
                break
        else:
            raise LabError("no free loopback block 127.0.N.0/24 left (N = 1..254): destroy some clones")
        meta["subnet"] = subnet
        meta["addresses"] = [f"127.0.{subnet}.{i}" for i in range(1, count + 1)]
        _write_meta(name, meta)
        for address in meta["addresses"]:
            run(["ip", "addr", "add", f"{address}/32", "dev", "lo"])
    root = Path(meta["root"])
    # Postfix looks up every SMTP client's name (smtpd) and, in a clone, would ask the machine's
    # nameserver: a fleet clone's resolver is the loopback address instead (nothing answers there),
    # so that its SMTP traffic never leaves 127.0.0.0/8. The primary's chroot jail has its own copy.
    for resolv in (root / "etc/resolv.conf", root / "var/spool/postfix/etc/resolv.conf"):
        if resolv.parent.is_dir():
            resolv.unlink(missing_ok=True)
            resolv.write_text("# tools/lab: fleet hosts resolve nothing (no traffic off 127.0.0.0/8)\nnameserver 127.0.0.1\n")
    settings = (f"inet_interfaces = {meta['addresses'][0]}", f"myhostname = {name}.lab.example")
    run(["chroot", str(root), "postconf", "-e", *settings], env=chroot_env())
    # as in build(): an old mtime spares the next postconf its "file just changed" wait
    old = time.time() - 3600
    os.utime(root / "etc/postfix/main.cf", (old, old))


def _del_addresses(addresses: list[str]) -> None:
    if not addresses:
        return
    present = lo_addresses()
    for address in addresses:
        if address in present:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True, check=False)


def destroy(name: str) -> bool:
    """Kill, unmount and delete a clone. Returns False if it did not exist."""
    require_root()
    hdir = host_dir(name)
    if not hdir.exists():
        return False
    _teardown(hdir)
    return True


def destroy_all() -> list[str]:
    names = [meta["name"] for meta in _all_meta()]
    for name in names:
        destroy(name)
    return names


def gc() -> list[str]:
    """Destroy clones whose owner process (clone --owner PID) is gone."""
    gone = []
    for meta in _all_meta():
        pid = meta.get("owner_pid")
        if pid and not Path(f"/proc/{pid}").exists():
            destroy(meta["name"])
            gone.append(meta["name"])
    return gone


def hosts() -> list[dict]:
    """Existing clones: name, root, mounted, base_key, owner_pid, created."""
    result = []
    for meta in _all_meta():
        meta["mounted"] = bool(mounts_under(Path(meta["root"])))
        result.append(meta)
    return result


def inventory_yaml(names: list[str] | None = None, group: str = "lab") -> str:
    """YAML inventory of existing clones in group ``group``; clones with addresses
    get the host variable ``lab_addresses`` (their loopback addresses, in order)."""
    if not NAME_RE.match(group):
        raise LabError(f"bad group name {group!r}")
    lines = ["# generated by tools/lab inventory", "all:", "  children:", f"    {group}:", "      hosts:"]
    selected = [m for m in hosts() if names is None or m["name"] in names]
    if not selected:
        lines[-1] = "      hosts: {}"
    for meta in selected:
        lines.append(f"        {meta['name']}:")
        lines += [f"          {key}: {json.dumps(value)}" for key, value in connection_vars(meta).items()]
        lines.append(f"          lab_release: {json.dumps(meta.get('release') or DEFAULT_RELEASE)}")
        lines.append(f"          lab_booted: {json.dumps(bool(meta.get('boot')))}")
        if meta.get("addresses"):
            lines.append(f"          lab_addresses: {json.dumps(meta['addresses'])}")
    return "\n".join(lines) + "\n"


def connection_vars(meta: dict) -> dict:
    """How Ansible reaches a clone: the chroot connection, or ssh for a booted host."""
    if meta.get("boot"):
        return {
            "ansible_connection": "ssh",
            "ansible_host": meta["addresses"][0],
            "ansible_port": SSH_PORT,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(ssh_key()),
            # every boot of a lab host is a new machine to ssh: nothing to remember or check
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    return {
        "ansible_connection": "community.general.chroot",
        "ansible_host": meta["root"],
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def fleet_names(prefix: str) -> list[str]:
    """Existing clones named PREFIX<number>, in number order."""
    pattern = re.compile(re.escape(prefix) + r"([0-9]+)$")
    found = [(int(m.group(1)), meta["name"]) for meta in _all_meta() if (m := pattern.match(meta["name"]))]
    return [name for _num, name in sorted(found)]


def up(
    count: int,
    prefix: str,
    addresses: int = DEFAULT_FLEET_ADDRESSES,
    owner_pid: int | None = None,
    releases: list[str] | None = None,
    boot: bool = False,
) -> list[str]:
    """Clones PREFIX1..PREFIXcount, each with its own loopback block (building the
    bases first if needed); host i runs releases[(i-1) % len(releases)]. With boot=True
    they are booted hosts (systemd, sshd). Clones that already exist are kept as they
    are. If making one fails, the hosts this call made are destroyed again."""
    if count < 1:
        raise LabError("up: COUNT must be at least 1")
    if addresses < 1:
        raise LabError("up: a fleet host needs at least one address")
    releases = [check_release(r) for r in (releases or [default_release()])]
    host_dir(f"{prefix}{count}")  # validates the names
    _build_parallel(sorted(set(releases)))
    names: list[str] = []
    made: list[str] = []
    try:
        for i in range(1, count + 1):
            name = f"{prefix}{i}"
            release = releases[(i - 1) % len(releases)]
            if host_dir(name).exists():
                meta = json.loads(_meta_path(name).read_text())
                if not meta.get("addresses"):
                    raise LabError(f"host {name!r} exists without addresses; destroy it first")
                if meta.get("boot") and not _alive(_boot_state(name).get("supervisor")):
                    boot_host(name)
                log(f"{name} exists: kept ({', '.join(meta['addresses'][:1])} ...)")
            else:
                started = time.monotonic()
                clone(name, owner_pid=owner_pid, addresses=addresses, release=release, boot=boot)
                made.append(name)
                meta = json.loads(_meta_path(name).read_text())
                how = f"booted in {time.monotonic() - started:.1f} s, ssh root@{meta['addresses'][0]}" if boot else "chroot"
                log(f"{name}: {release}, {meta['addresses'][0]} ... ({addresses} addresses), {how}")
            names.append(name)
    except BaseException:
        for name in reversed(made):
            destroy(name)
        raise
    return names


def _build_parallel(releases: list[str]) -> None:
    """Build the missing bases of several releases at once (each build waits on the network)."""
    missing = [r for r in releases if not base_dir(r).is_dir()]
    if len(missing) <= 1:
        for release in releases:
            build(release=release)
        return
    # one process per build (build() runs its steps with a preexec_fn, which threads must not)
    procs = {r: subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "build", "--release", r], stdin=subprocess.DEVNULL) for r in missing}
    failed = [r for r, proc in procs.items() if proc.wait() != 0]
    if failed:
        raise LabError(f"building the base of {', '.join(failed)} failed (see above)")


def down(prefix: str) -> list[str]:
    """Destroy the clones PREFIX<number>."""
    names = fleet_names(prefix)
    for name in names:
        destroy(name)
    return names


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------
HELP = """\
Throw-away Debian hosts for integration tests: a debootstrap base root per release
(bullseye = Debian 11, bookworm = 12, trixie = 13) with postfix, python3, systemd
and sshd, cloned with overlayfs. A clone is either a chroot (Ansible's
community.general.chroot connection, nothing started) or a booted host (--boot:
systemd-nspawn --boot, systemd as PID 1, Ansible over ssh to its first address).

MUST RUN AS ROOT (debootstrap, mount, chroot, systemd-nspawn).

commands:
  build [--force] [--release R]
                       build the cached base root of R once (no-op when cached)
  build-all [--release R1,R2,...]
                       build the bases of several releases at once (default: all)
  base [--release R]   print the base root path; rc=1 if it is not built
  clone NAME [--owner PID] [--from OTHER] [--addresses K] [--release R] [--boot]
                       mount a fresh clone (of the base, or a copy of clone
                       OTHER in its current state), print its root path;
                       with --addresses K it gets 127.0.N.1..K on lo (its own
                       block N) and its primary listens on 127.0.N.1 only;
                       with --boot (needs --addresses) it is booted, sshd on
                       127.0.N.1:22, root's key is the lab's (see inventory)
  start NAME...        boot booted hosts again (after a poweroff inside them)
  exec NAME [ARGV...]  run a command inside a booted host (nsenter), as root
  destroy NAME...      stop a booted host, kill processes inside, unmount,
                       remove its addresses, delete
  destroy --all        destroy every clone
  gc                   destroy clones whose --owner process has exited
  list                 list clones (name, release, mounted, root, addresses;
                       booted or not, and the memory a booted host uses)
  inventory [NAME...] [--prefix P] [--group G]
                       print an Ansible YAML inventory of existing clones
                       (group G, default lab; host vars lab_addresses,
                       lab_release, lab_booted; ssh settings for booted hosts)
  up COUNT [--prefix P] [--addresses K] [--inventory FILE] [--group G]
     [--release R1,R2,...] [--boot]
                       a fleet: build the bases if needed, then clones
                       P1..PCOUNT (host i gets release R((i-1) mod n); default
                       prefix "lab", K = 9 addresses each; existing ones are
                       kept); print (or write to FILE) their inventory; a
                       failure removes the hosts this call made
  down [--prefix P]    destroy the fleet's clones P<number> (default prefix "lab")

A reboot inside a booted host (systemctl reboot, Ansible's reboot module) boots
it again; the host keeps its files. Memory: about 10 MiB per booted host with
its primary Postfix running ("list" shows it).

environment:
  MAILOPS_LAB_RELEASE  release of clones made without --release (default bookworm)
  MAILOPS_LAB_CACHE    base cache (default /var/cache/mailops-lab)
  MAILOPS_LAB_DIR      clones (default /run/mailops-lab; clones in hosts/NAME,
                       the lab's ssh key in ssh/)
  MAILOPS_LAB_MIRROR   Debian mirror (default: the bookworm URI in /etc/apt sources)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/lab", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")
    p = sub.add_parser("build", help="build the cached base root")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p.add_argument("--release", default=None, choices=list(RELEASES), help="Debian release (default: MAILOPS_LAB_RELEASE or bookworm)")
    p = sub.add_parser("build-all", help="build the bases of several releases at once")
    p.add_argument("--release", default=",".join(RELEASES), help=f"comma-separated releases (default {','.join(RELEASES)})")
    p = sub.add_parser("base", help="print the base root path")
    p.add_argument("--release", default=None, choices=list(RELEASES))
    p = sub.add_parser("clone", help="mount a fresh clone")
    p.add_argument("name")
    p.add_argument("--owner", type=int, default=None, help="pid whose exit makes the clone garbage (see gc)")
    p.add_argument("--from", dest="source", default=None, metavar="OTHER", help="start as a copy of clone OTHER")
    p.add_argument("--addresses", type=int, default=0, metavar="K", help="give the clone K loopback addresses of its own")
    p.add_argument("--release", default=None, choices=list(RELEASES))
    p.add_argument("--boot", action="store_true", help="boot it with systemd as PID 1 and sshd (needs --addresses)")
    p = sub.add_parser("start", help="boot booted hosts again after a power-off")
    p.add_argument("names", nargs="+")
    p = sub.add_parser("exec", help="run a command inside a booted host (nsenter)")
    p.add_argument("name")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("_supervise")
    p.add_argument("name")
    p = sub.add_parser("destroy", help="destroy clones")
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    sub.add_parser("gc", help="destroy clones whose owner exited")
    sub.add_parser("list", help="list clones")
    p = sub.add_parser("inventory", help="print an Ansible inventory")
    p.add_argument("names", nargs="*")
    p.add_argument("--prefix", default=None, help="only the fleet clones P<number>")
    p.add_argument("--group", default="lab", help="inventory group (default lab)")
    p = sub.add_parser("up", help="make a fleet of clones with addresses")
    p.add_argument("count", type=int)
    p.add_argument("--prefix", default="lab")
    p.add_argument("--addresses", type=int, default=DEFAULT_FLEET_ADDRESSES, metavar="K")
    p.add_argument("--owner", type=int, default=None, help="pid whose exit makes the clones garbage (see gc)")
    p.add_argument("--inventory", default=None, metavar="FILE", help="write the inventory here instead of printing it")
    p.add_argument("--group", default="lab", help="inventory group (default lab)")
    p.add_argument("--release", default=None, help="release(s), comma-separated, given to the hosts in turn (default: MAILOPS_LAB_RELEASE or bookworm)")
    p.add_argument("--boot", action="store_true", help="booted hosts: systemd as PID 1, reached over ssh")
    p = sub.add_parser("down", help="destroy a fleet")
    p.add_argument("--prefix", default="lab")
    args = parser.parse_args(argv)
    if not args.cmd:
        parser.print_help()
        return 2
    try:
        require_root()
        if args.cmd == "build":
            # SIGTERM/SIGHUP -> SystemExit, so the unfinished build is cleaned up
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
            t0 = time.monotonic()
            root = build(force=args.force, release=args.release)
            log(f"build: {time.monotonic() - t0:.1f} s")
            print(root)
        elif args.cmd == "build-all":
            t0 = time.monotonic()
            releases = [check_release(r) for r in args.release.split(",") if r]
            _build_parallel(releases)
            for release in releases:
                print(base_root(release))
            log(f"build-all: {time.monotonic() - t0:.1f} s")
        elif args.cmd == "base":
            if not base_root(args.release).is_dir():
                log(f"not built: {base_root(args.release)}")
                return 1
            print(base_root(args.release))
        elif args.cmd == "clone":
            print(clone(args.name, owner_pid=args.owner, source=args.source, addresses=args.addresses, release=args.release, boot=args.boot))
        elif args.cmd == "_supervise":
            return supervise(args.name)
        elif args.cmd == "start":
            for name in args.names:
                boot_host(name)
        elif args.cmd == "exec":
            return subprocess.run(exec_argv(args.name, args.argv or ["sh"]), check=False).returncode
        elif args.cmd == "destroy":
            if args.all == bool(args.names):
                parser.error("destroy: give NAME... or --all")
            for name in destroy_all() if args.all else args.names:
                if not args.all and not destroy(name):
                    log(f"no such host: {name}")
        elif args.cmd == "gc":
            for name in gc():
                log(f"destroyed {name}")
        elif args.cmd == "list":
            for meta in hosts():
                state = "broken" if meta.get("broken") else ("mounted" if meta["mounted"] else "unmounted")
                extra = f"\t{meta['addresses'][0]}-{meta['addresses'][-1].rsplit('.', 1)[1]}" if meta.get("addresses") else ""
                if meta.get("boot"):
                    mem = memory_bytes(meta["name"])
                    booted = "booted" if leader_pid(meta["name"]) else "powered off"
                    extra += f"\t{booted}" + (f", {mem / 2**20:.1f} MiB" if mem is not None else "")
                print(f"{meta['name']}\t{meta.get('release') or DEFAULT_RELEASE}\t{state}\t{meta['root']}{extra}")
        elif args.cmd == "inventory":
            names = (args.names or []) + (fleet_names(args.prefix) if args.prefix else [])
            sys.stdout.write(inventory_yaml(names if (args.names or args.prefix) else None, group=args.group))
        elif args.cmd == "up":
            releases = args.release.split(",") if args.release else None
            made = up(args.count, args.prefix, addresses=args.addresses, owner_pid=args.owner, releases=releases, boot=args.boot)
            text = inventory_yaml(made, group=args.group)
            if args.inventory:
                target = Path(args.inventory)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                log(f"inventory written to {target}")
            else:
                sys.stdout.write(text)
        elif args.cmd == "down":
            for name in down(args.prefix):
                log(f"destroyed {name}")
    except LabError as exc:
        print(f"tools/lab: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EPERM:
            print(f"tools/lab: error: {exc} (are you root?)", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
