# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Oracle side of the parity tests: the real postmulti in the ``oracle`` clone.

Module tests do the same thing with our modules in ``host`` and compare::

    expected = scenario_create(oracle, name="postfix-out", group="mta")
    host.module("postfix_multi_init")
    host.sequence("postfix_instance", name="postfix-out", group="mta")
    assert host.state() == expected

Every ``scenario_*`` helper starts from a fresh clone, runs the real commands of a
common case of postmulti(1)'s life cycle and returns ``oracle.state()``. The building
blocks (``postmulti``, ``init``, ``create``...) can be combined for other cases.
The tests at the end only check that the helpers reproduce the observed behaviour
(what real postmulti printed and left on Debian 12); they do not use the collection's modules.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import labhost

PRIMARY = "-               -               y         /etc/postfix"


def listing(name: str | None, group: str | None, enabled: bool, config_directory: str) -> str:
    """One ``postmulti -l`` line (format ``%-15s %-15s %-9s %s``)."""
    return f"{name or '-':<15} {group or '-':<15} {'y' if enabled else 'n':<9} {config_directory}"


# ----------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------
def age_configs(oracle: labhost.Host, seconds: float = 10) -> None:
    """Make every main.cf/master.cf look older than ``seconds``.

    Postfix re-reads (sleeping 2 s) a main.cf modified within the last second, so
    each postmulti call after an edit would cost 2 s. Only mtimes change, which
    state() never records. Used on the ORACLE only, never on the host under test.
    """
    old = time.time() - seconds
    paths = list(oracle.root.glob("etc/postfix*/ma*.cf"))
    paths += [oracle.path(d) / f for d in oracle._listed_dirs_from_main_cf() for f in ("main.cf", "master.cf")]  # pylint: disable=protected-access
    for path in paths:
        with contextlib.suppress(OSError):
            os.utime(path, (old, old), follow_symlinks=False)


def postmulti(oracle: labhost.Host, *args: str, check: bool = True):
    """Run the real ``postmulti args...`` with stderr on a tty (so diagnostics are kept)."""
    age_configs(oracle)
    return oracle.run_tty("postmulti", *args, check=check)


def init(oracle: labhost.Host) -> None:
    postmulti(oracle, "-e", "init")


def create(
    oracle: labhost.Host,
    name: str | None = None,
    group: str | None = None,
    config_directory: str | None = None,
    queue_directory: str | None = None,
    data_directory: str | None = None,
    first: bool = False,
    before_group: str | None = None,
    before: str | None = None,
) -> None:
    """``postmulti -e create`` with -I/-G, placement (-a / -g GROUP / -i INSTANCE) and dirs."""
    args = ["-e", "create"]
    if first:
        args.append("-a")
    if before_group:
        args += ["-g", before_group]
    if before:
        args += ["-i", before]
    if name:
        args += ["-I", name]
    if group:
        args += ["-G", group]
    for key, value in (("config_directory", config_directory), ("queue_directory", queue_directory), ("data_directory", data_directory)):
        if value:
            args.append(f"{key}={value}")
    postmulti(oracle, *args)


def enable(oracle: labhost.Host, instance: str) -> None:
    postmulti(oracle, "-e", "enable", "-i", instance)


def disable(oracle: labhost.Host, instance: str) -> None:
    postmulti(oracle, "-e", "disable", "-i", instance)


def assign(oracle: labhost.Host, instance: str, name: str | None = None, group: str | None = None) -> None:
    """``-e assign``; pass "-" to clear the name or group."""
    args = ["-e", "assign", "-i", instance]
    if name is not None:
        args += ["-I", name]
    if group is not None:
        args += ["-G", group]
    postmulti(oracle, *args)


def deport(oracle: labhost.Host, instance: str) -> None:
    postmulti(oracle, "-e", "deport", "-i", instance)


def import_(oracle: labhost.Host, config_directory: str, name: str | None = None, group: str | None = None) -> None:
    args = ["-e", "import"]
    if name:
        args += ["-I", name]
    if group:
        args += ["-G", group]
    postmulti(oracle, *args, f"config_directory={config_directory}")


def destroy(oracle: labhost.Host, instance: str) -> None:
    postmulti(oracle, "-e", "destroy", "-i", instance)


def state(oracle: labhost.Host) -> dict:
    age_configs(oracle)
    return oracle.state()


# The queue subdirectories postmulti's destroy removes (QUEUE_SUBDIRS in postmulti-script).
POSTMULTI_QUEUE_SUBDIRS = frozenset(labhost.QUEUE_SUBDIRS) | {"pid", "private", "public"}


def chroot_copies(host: labhost.Host, queue_directory: str) -> list[str]:
    """The entries of ``queue_directory`` besides Postfix's queue subdirectories (paths inside the host),
    after checking that they hold nothing but directories and copies of the host's own files.

    They are Debian's chroot setup, /usr/lib/postfix/configure-instance.sh: it copies etc/localtime,
    etc/services, etc/resolv.conf, etc/hosts, etc/host.conf and etc/nsswitch.conf into the queue
    directory and makes usr/lib/sasl2. Debian 11 and 12 run it only when an instance starts through
    the init script or postfix@.service (ExecStartPre); Debian 13's post-install runs it after every
    create-missing and set-permissions, so "postmulti -e create" (postfix set-permissions), "postfix
    check" and "postfix start" leave it behind. postmulti's destroy rmdirs only the queue
    subdirectories ("please verify contents and remove by hand"), and so the queue directory stays.
    """
    top = host.path(queue_directory)
    if not top.is_dir():
        return []
    kept = []
    for entry in sorted(top.iterdir()):
        if entry.name in POSTMULTI_QUEUE_SUBDIRS:
            continue
        for path in [entry, *sorted(entry.rglob("*"))]:
            inside = "/" + path.relative_to(host.root).as_posix()
            assert not path.is_symlink() and (path.is_dir() or path.is_file()), f"{inside} is neither a directory nor a regular file"
            if path.is_file():
                system = "/" + path.relative_to(top).as_posix()
                # compared inside the host: its /etc/localtime is a symbolic link with an absolute target
                assert host.run("cmp", "-s", inside, system, check=False).returncode == 0, f"{inside} is not a copy of {system}"
        kept.append(f"{queue_directory}/{entry.name}")
    return kept


# ----------------------------------------------------------------------------
# scenarios (postmulti(1) life cycle); each returns oracle.state()
# ----------------------------------------------------------------------------
def scenario_init(oracle: labhost.Host) -> dict:
    """fresh primary, ``-e init``."""
    init(oracle)
    return state(oracle)


def scenario_create(oracle: labhost.Host, name: str = "postfix-out", group: str | None = "mta") -> dict:
    """init, then ``-e create -I NAME [-G GROUP]``."""
    init(oracle)
    create(oracle, name=name, group=group)
    return state(oracle)


NAMELESS_DIRS = {
    "config_directory": "/etc/postfix-nameless",
    "queue_directory": "/var/spool/postfix-nameless",
    "data_directory": "/var/lib/postfix-nameless",
}


def scenario_create_nameless(oracle: labhost.Host, dirs: dict | None = None) -> dict:
    """init, then a nameless create with explicit directories (no -I/-G)."""
    init(oracle)
    create(oracle, **(dirs or NAMELESS_DIRS))
    return state(oracle)


def scenario_create_explicit_dirs(oracle: labhost.Host, name: str = "postfix-explicit", group: str | None = "mta", base: str = "/srv/explicit") -> dict:
    """init, then a named create with config/queue/data directories under ``base``."""
    init(oracle)
    create(oracle, name=name, group=group, config_directory=f"{base}/etc", queue_directory=f"{base}/spool", data_directory=f"{base}/lib")
    return state(oracle)


def setup_abc(oracle: labhost.Host) -> None:
    """init + postfix-a (group x), postfix-b (group y), postfix-c (group y): the list a, b, c."""
    init(oracle)
    create(oracle, name="postfix-a", group="x")
    create(oracle, name="postfix-b", group="y")
    create(oracle, name="postfix-c", group="y")


def scenario_placement(oracle: labhost.Host, placement: str, anchor: str | None = None, name: str = "postfix-d", prepared: bool = False) -> dict:
    """after setup_abc(), create NAME with placement
    ``first`` (-a), ``group`` (-g ANCHOR), ``instance`` (-i ANCHOR) or ``last`` (no option).
    prepared=True: setup_abc() was already done (e.g. oracle forked from a prepared clone)."""
    if not prepared:
        setup_abc(oracle)
    if placement == "first":
        create(oracle, name=name, first=True)
    elif placement == "group":
        create(oracle, name=name, before_group=anchor)
    elif placement == "instance":
        create(oracle, name=name, before=anchor)
    elif placement == "last":
        create(oracle, name=name)
    else:
        raise ValueError(f"unknown placement {placement!r}")
    return state(oracle)


def scenario_enable(oracle: labhost.Host, name: str = "postfix-out") -> dict:
    """create NAME, ``-e enable``."""
    init(oracle)
    create(oracle, name=name, group="mta")
    enable(oracle, name)
    return state(oracle)


def scenario_enable_disable(oracle: labhost.Host, name: str = "postfix-out") -> dict:
    """create NAME, enable, disable (leaves ``multi_instance_enable = no``)."""
    init(oracle)
    create(oracle, name=name, group="mta")
    enable(oracle, name)
    disable(oracle, name)
    return state(oracle)


def scenario_assign(oracle: labhost.Host, name: str | None = "postfix-new", group: str | None = "grp", instance: str = "postfix-out") -> dict:
    """create postfix-out (mta), then ``-e assign -i INSTANCE [-I NAME] [-G GROUP]``."""
    init(oracle)
    create(oracle, name="postfix-out", group="mta")
    assign(oracle, instance, name=name, group=group)
    return state(oracle)


def scenario_deport(oracle: labhost.Host, name: str = "postfix-out") -> dict:
    """create NAME (disabled, never started), ``-e deport``."""
    init(oracle)
    create(oracle, name=name, group="mta")
    deport(oracle, name)
    return state(oracle)


def scenario_destroy(oracle: labhost.Host, name: str = "postfix-out") -> dict:
    """create NAME (disabled, never started), ``-e destroy``: everything removed."""
    init(oracle)
    create(oracle, name=name, group="mta")
    destroy(oracle, name)
    return state(oracle)


# ----------------------------------------------------------------------------
# checks of the helpers against the observed behaviour (oracle only)
# ----------------------------------------------------------------------------
def test_scenario_init(oracle):
    fresh = oracle.state()
    got = scenario_init(oracle)
    assert got["postmulti_l"] == [PRIMARY]
    added = set(got["postconf_n"]["/etc/postfix"]) - set(fresh["postconf_n"]["/etc/postfix"])
    assert added == {"multi_instance_enable = yes", "multi_instance_wrapper = ${command_directory}/postmulti -p --"}
    assert got["files"] == fresh["files"]


def test_scenario_create(oracle):
    got = scenario_create(oracle)
    assert got["postmulti_l"] == [PRIMARY, listing("postfix-out", "mta", False, "/etc/postfix-out")]
    assert "multi_instance_group = mta" in got["postconf_n"]["/etc/postfix-out"]
    assert "var/spool/postfix-out/hold postfix root 0700 d" in got["files"]


def test_scenario_create_nameless(oracle):
    got = scenario_create_nameless(oracle)
    assert got["postmulti_l"][1] == listing(None, None, False, "/etc/postfix-nameless")
    assert not any(line.startswith(("multi_instance_name", "multi_instance_group")) for line in got["postconf_n"]["/etc/postfix-nameless"])


def test_scenario_create_explicit_dirs(oracle):
    got = scenario_create_explicit_dirs(oracle)
    assert got["postmulti_l"][1] == listing("postfix-explicit", "mta", False, "/srv/explicit/etc")
    assert "srv/explicit/lib postfix root 0700 d" in got["files"]
    assert "srv/explicit/spool/maildrop postfix postdrop 0730 d" in got["files"]


def test_scenario_placement(oracle, new_host):
    def order(result):
        return [line.split()[0] for line in result["postmulti_l"][1:]]

    setup_abc(oracle)
    forks = [new_host(f"o{i}", source=oracle) for i in range(3)]
    cases = [
        (oracle, ("group", "y"), ["postfix-a", "postfix-d", "postfix-b", "postfix-c"]),
        (forks[0], ("first",), ["postfix-d", "postfix-a", "postfix-b", "postfix-c"]),
        (forks[1], ("instance", "c"), ["postfix-a", "postfix-b", "postfix-d", "postfix-c"]),
        (forks[2], ("last",), ["postfix-a", "postfix-b", "postfix-c", "postfix-d"]),
    ]
    # independent clones: run the (mostly sleeping) postmulti calls side by side
    with ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(lambda case: scenario_placement(case[0], *case[1], prepared=True), cases))
    assert [order(r) for r in results] == [case[2] for case in cases]


def test_scenario_enable_disable(oracle):
    got = scenario_enable_disable(oracle)
    assert got["postmulti_l"][1] == listing("postfix-out", "mta", False, "/etc/postfix-out")
    assert "multi_instance_enable = no" in got["postconf_n"]["/etc/postfix-out"]


def test_scenario_assign(oracle):
    got = scenario_assign(oracle)
    assert got["postmulti_l"][1] == listing("postfix-new", "grp", False, "/etc/postfix-out")


def test_scenario_deport(oracle):
    got = scenario_deport(oracle)
    assert got["postmulti_l"] == [PRIMARY]
    primary = got["postconf_n"]["/etc/postfix"]
    assert "alternate_config_directories = /etc/postfix-out" in primary
    assert "multi_instance_directories =" in primary
    assert "etc/postfix-out/main.cf root root 0644 f" in got["files"]


def test_scenario_destroy(oracle, new_host):
    got = scenario_destroy(oracle)
    inited = scenario_init(new_host("o2"))
    assert got["postmulti_l"] == [PRIMARY]
    queue = "var/spool/postfix-out"
    in_queue = [line for line in got["files"] if line.split()[0] == queue or line.startswith(queue + "/")]
    assert [line for line in got["files"] if line not in in_queue] == inited["files"]
    # the queue directory is gone too, unless Debian's chroot copies (and nothing else) keep it
    kept = chroot_copies(oracle, "/" + queue)
    assert sorted({line.split()[0].split("/")[3] for line in in_queue if line.startswith(queue + "/")}) == [k.rsplit("/", 1)[1] for k in kept]
    assert bool(in_queue) == bool(kept)
    assert "multi_instance_directories =" in got["postconf_n"]["/etc/postfix"]


def test_error_text_is_captured(oracle):
    init(oracle)
    create(oracle, name="postfix-out")
    dup = postmulti(oracle, "-e", "create", "-I", "postfix-out", check=False)
    assert dup.returncode == 1
    assert "postmulti: fatal: new config_directory=/etc/postfix-out is already in use by instance /etc/postfix-out" in dup.stderr
