# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time listing (registry load) and planning for hosts with 10, 100 and 500 instances.

Runs in-process on a synthetic tree of real main.cf files under a temporary directory (the
primary's config directory is pointed there), so the numbers include file reads and parsing
but no Postfix command. Prints a Markdown table; asserts nothing about speed.

    .venv/bin/python benchmarks/bench_registry.py [--sizes 10,100,500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import pwd
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = REPO / ".build" / "collections" / "ansible_collections" / "mailops" / "postfix_multi"
if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(REPO, LINK)
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts  # noqa: E402
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._planner import Desired, Planner  # noqa: E402
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Registry  # noqa: E402

PROTO = "/etc/postfix/main.cf.proto"


def make_queue(queue: Path, data: Path) -> None:
    """What ``postfix set-permissions`` leaves: the queues, and the data directory owned by postfix."""
    for sub in ("maildrop", "pid", "public", "private", "incoming", "active", "deferred", "hold"):
        (queue / sub).mkdir(parents=True)
    data.mkdir(parents=True)
    try:
        owner = pwd.getpwnam("postfix")
    except KeyError:
        return
    os.chown(data, owner.pw_uid, owner.pw_gid)


def build_tree(root: Path, count: int) -> dict[str, str]:
    """A primary plus ``count`` secondaries, each with a realistic main.cf, below ``root``."""
    etc = root / "etc"
    primary = etc / "postfix"
    primary.mkdir(parents=True)
    proto = Path(PROTO).read_text() if Path(PROTO).exists() else "# proto\ninet_protocols = ipv4\n"
    (primary / "main.cf.proto").write_text(proto)
    (primary / "master.cf.proto").write_text("smtp inet n - y - - smtpd\n")
    (primary / "master.cf").write_text("smtp inet n - y - - smtpd\n")
    dirs = []
    for index in range(count):
        directory = etc / f"postfix-i{index}"
        directory.mkdir()
        body = proto + (
            f"queue_directory = {root}/spool/postfix-i{index}\n"
            f"data_directory = {root}/lib/postfix-i{index}\n"
            f"multi_instance_name = postfix-i{index}\n"
            f"multi_instance_group = g{index % 5}\n"
            f"multi_instance_enable = {'yes' if index % 2 else 'no'}\n"
        )
        (directory / "main.cf").write_text(body)
        (directory / "master.cf").write_text("smtp inet n - y - - smtpd\n")
        make_queue(root / "spool" / f"postfix-i{index}", root / "lib" / f"postfix-i{index}")
        dirs.append(str(directory))
    (primary / "main.cf").write_text(
        f"multi_instance_wrapper = ${{command_directory}}/postmulti -p --\nmulti_instance_enable = yes\nmulti_instance_directories = {' '.join(dirs)}\n"
    )
    defaults = dict(FALLBACK_DEFAULTS)
    defaults.update(
        config_directory=str(primary),
        meta_directory=str(primary),
        queue_directory=str(root / "spool" / "postfix"),
        data_directory=str(root / "lib" / "postfix"),
    )
    return defaults


def measure(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for dummy in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 1024 / 1024


def run_size(size: int, repeat: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        defaults = build_tree(Path(tmp), size)
        target = f"{tmp}/etc/postfix-i{size // 2}"
        group = f"g{(size // 2) % 5}"

        def listing() -> None:
            facts = LocalFacts()
            reg = Registry.load(defaults, facts.read_text)
            [inst.to_dict() for inst in reg.instances]

        def plan_create() -> None:
            facts = LocalFacts()
            reg = Registry.load(defaults, facts.read_text)
            desired = Desired(
                name="postfix-new",
                config_directory=f"{tmp}/etc/postfix-new",
                queue_directory=f"{tmp}/spool/new",
                data_directory=f"{tmp}/lib/new",
                before_group="g3",
            )
            Planner(reg, facts).plan(desired)

        def plan_noop() -> None:
            facts = LocalFacts()
            reg = Registry.load(defaults, facts.read_text)
            assert not Planner(reg, facts).plan(Desired(config_directory=target, group=group)).changed

        t_list = measure(listing, repeat)[0]
        t_create, peak = measure(plan_create, repeat)
        t_noop = measure(plan_noop, repeat)[0]
    return [str(size), f"{t_list * 1000:.1f}", f"{t_create * 1000:.1f}", f"{t_noop * 1000:.1f}", f"{peak:.1f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| instances | list (load registry) ms | plan create ms | plan no-op update ms | peak MiB (plan create) |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        row = run_size(size, args.repeat)
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
