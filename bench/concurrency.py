#!/usr/bin/env python3
"""Commit throughput with many concurrent sessions: gitlane against the naive
flock recipe and plain git, in one invocation, modes interleaved.

    .venv/bin/python bench/concurrency.py [--sessions 2,6,16,32] [--commits M]
                                          [--rounds R] [--quick] [--keep]

For each session count, every round runs each mode once (the order rotates
from round to round, so drift in machine load hits all modes alike) in a
fresh repository, and reports the median commits kept per second next to
what was kept, misattributed and lost. docs/DESIGN.md ("Performance budget") asks gitlane for at least
0.8 x the naive recipe's throughput, with zero lost work.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gitlane import torture  # noqa: E402

MODES = ("gitlane", "naive", "plain")
TARGET = 0.8


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="2,6,16,32", help="comma-separated session counts")
    p.add_argument("--commits", type=int, default=10, help="commits per session (default 10)")
    p.add_argument("--rounds", type=int, default=1, help="runs per mode and session count (default 1)")
    p.add_argument("--quick", action="store_true", help="sessions 2,6 and 4 commits each")
    p.add_argument("--keep", action="store_true", help="keep the repositories")
    args = p.parse_args(argv)
    if args.quick:
        args.sessions, args.commits = "2,6", 4
    args.counts = [int(n) for n in args.sessions.split(",") if n.strip()]
    return args


def rotate(modes: tuple[str, ...], k: int) -> list[str]:
    return list(modes[k % len(modes):] + modes[:k % len(modes)])


def measure(workdir: Path, sessions: int, commits: int, rounds: int) -> dict[str, list[torture.Result]]:
    shim = torture.default_shim()
    results: dict[str, list[torture.Result]] = {m: [] for m in MODES}
    for k in range(rounds):
        for mode in rotate(MODES, k + sessions):
            where = workdir / f"{sessions}-{k}-{mode}"
            results[mode].append(torture.run(mode, where, sessions, commits, shim))
            r = results[mode][-1]
            sys.stderr.write(f"  {sessions:>3} sessions  {mode:<8} round {k + 1}: {r.rate:7.1f} commits/s "
                             f"({r.elapsed:.1f}s)\n")
    return results


def row(sessions: int, mode: str, runs: list[torture.Result]) -> str:
    rate = statistics.median(r.rate for r in runs)
    expected = sum(r.expected for r in runs)
    kept, mis = sum(r.kept for r in runs), sum(r.misattributed for r in runs)
    lost, failed = sum(r.lost for r in runs), sum(r.failed for r in runs)
    fsck = "ok" if all(r.fsck_ok for r in runs) else "FAIL"
    return (f"{sessions:>8} | {mode:<7} | {rate:9.1f} | {kept:>5}/{expected:<5} | {mis:>13} | "
            f"{lost:>10} | {failed:>6} | {fsck}")


def ratio_line(sessions: int, results: dict[str, list[torture.Result]]) -> str:
    lane = statistics.median(r.rate for r in results["gitlane"])
    naive = statistics.median(r.rate for r in results["naive"])
    ratio = lane / naive if naive else 0.0
    verdict = "meets" if ratio >= TARGET else "BELOW"
    return f"{sessions:>8} | gitlane/naive = {ratio:.2f} ({verdict} the {TARGET} target)"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="gitlane-bench-"))
    try:
        table = {n: measure(workdir, n, args.commits, args.rounds) for n in args.counts}
    finally:
        if args.keep:
            sys.stderr.write(f"repositories kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"commit throughput, {args.commits} commits per session, median of {args.rounds} round(s)")
    print("sessions | mode    | commits/s |  kept/total  | misattributed | files lost | failed | fsck")
    for n, results in table.items():
        for mode in MODES:
            print(row(n, mode, results[mode]))
    print()
    for n, results in table.items():
        print(ratio_line(n, results))
    lossless = all(r.perfect for runs in table.values() for r in runs["gitlane"])
    print("gitlane: " + ("no lost or misattributed work in any run" if lossless else "LOST OR MISATTRIBUTED WORK"))
    return 0 if lossless else 1


if __name__ == "__main__":
    sys.exit(main())
