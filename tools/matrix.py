# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/matrix - the table of what the test run ran on: release x connection.

The integration tests (tests/integration/conftest.py) and the Molecule scenarios (make molecule)
append one JSON line per test and kind of host to .build/matrix/*.jsonl:
{"suite", "test", "release", "connection" (chroot or ssh), "outcome" (passed, failed, skipped)};
the booted hosts' memory (resident, of the host's memory cgroup) at the end of each test goes to
.build/matrix/memory-*.jsonl.

  tools/matrix print [--require R1,R2,...]   the table (Debian release, Postfix and Python
                                             versions of the lab base, connection, systemd,
                                             passed, failed); rc=1 if a test failed, or if a
                                             required release has no passed test with both
                                             connections
  tools/matrix record --suite S --test T --release R --connection C --outcome O
  tools/matrix clear                         forget the previous run

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MATRIX_DIR = Path(os.environ.get("MAILOPS_MATRIX_DIR") or REPO / ".build" / "matrix")


def _lab():
    spec = importlib.util.spec_from_file_location("mailops_lab_matrix", REPO / "tools" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(prefix: str = "") -> list[dict]:
    out = []
    for path in sorted(MATRIX_DIR.glob(f"{prefix}*.jsonl")):
        if not prefix and path.name.startswith("memory-"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def versions(lab, release: str) -> tuple[str, str]:
    """Postfix and Python versions of the release's lab base (from its build record)."""
    try:
        info = json.loads((lab.base_dir(release) / "build.json").read_text())
        return info.get("postfix_version", "?"), info.get("python_version", "?")
    except (OSError, ValueError):
        return "?", "?"


def table(records: list[dict], memory: list[dict] | None = None) -> tuple[list[str], bool]:
    lab = _lab()
    rss: dict[str, list[int]] = {}
    for rec in memory or []:
        if rec.get("rss"):
            rss.setdefault(rec["release"], []).append(int(rec["rss"]))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for rec in records:
        key = (rec["release"], rec["connection"])
        counts.setdefault(key, {"passed": 0, "failed": 0, "skipped": 0})
        counts[key][rec["outcome"]] = counts[key].get(rec["outcome"], 0) + 1
    order = list(lab.RELEASES)
    header = ["Debian", "release", "Postfix", "Python", "connection", "systemd", "passed", "failed", "memory per host"]
    lines = [header]
    for release, connection in sorted(counts, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1])):
        postfix, python = versions(lab, release)
        number = lab.RELEASES.get(release, ("?",))[0]
        c = counts[(release, connection)]
        systemd = "yes" if connection == "ssh" else "no"
        used = rss.get(release) if connection == "ssh" else None
        mem = f"{sum(used) / len(used) / 2**20:.1f} MiB avg, {max(used) / 2**20:.1f} max ({len(used)} hosts)" if used else "-"
        lines.append([number, release, postfix, python, connection, systemd, str(c["passed"]), str(c["failed"]), mem])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    failed = any(c["failed"] for c in counts.values())
    return text, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/matrix")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("print")
    p.add_argument("--require", default="", help="releases that must have passed tests over chroot and ssh")
    p = sub.add_parser("record")
    for option in ("suite", "test", "release", "connection", "outcome"):
        p.add_argument(f"--{option}", required=True)
    sub.add_parser("clear")
    args = parser.parse_args(argv)
    if args.cmd == "clear":
        for path in MATRIX_DIR.glob("*.jsonl"):
            path.unlink()
        return 0
    if args.cmd == "record":
        MATRIX_DIR.mkdir(parents=True, exist_ok=True)
        rec = {k: getattr(args, k) for k in ("suite", "test", "release", "connection", "outcome")}
        with open(MATRIX_DIR / f"{args.suite}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        return 0
    records = rows()
    text, failed = table(records, rows("memory-"))
    print("test matrix (integration tests and Molecule scenarios, by kind of host):")
    print("\n".join("  " + line for line in text))
    missing = []
    for release in filter(None, args.require.split(",")):
        for connection in ("chroot", "ssh"):
            if not any(r["release"] == release and r["connection"] == connection and r["outcome"] == "passed" for r in records):
                missing.append(f"{release}/{connection}")
    if missing:
        print(f"matrix: no passed test on {', '.join(missing)}")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
