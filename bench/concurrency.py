#!/usr/bin/env python3
"""Commit throughput with many concurrent sessions: gitlane against the naive
flock recipe and plain git, in one invocation, modes interleaved.

    .venv/bin/python bench/concurrency.py [--sessions 6,16,32] [--files 1000,30000]
                                          [--commits M] [--rounds R] [--quick] [--keep]

For each repository size and session count, every round runs each mode once
(the order rotates from round to round, so drift in machine load hits all
modes alike) in a fresh copy of a seeded repository, and reports the median
commits kept per second next to what was kept, misattributed, lost and
failed, and the commit latency (p50, p99; for naive, the flock wait is
included). docs/DESIGN.md ("Performance budget") asks gitlane for at least
0.8 x the naive recipe's throughput with zero lost work, and a commit p99 of
at most 2 x naive's at 32 sessions.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gitlane.testing import torture  # noqa: E402

MODES = ("gitlane", "naive", "plain")
TARGET = 0.8
P99_TARGET = 2.0  # x naive's p99, at 32 sessions


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="6,16,32", help="comma-separated session counts")
    p.add_argument("--files", default="1000,30000", help="comma-separated repository sizes (seed files)")
    p.add_argument("--commits", type=int, default=6, help="commits per session (default 6)")
    p.add_argument("--rounds", type=int, default=1, help="runs per mode and session count (default 1)")
    p.add_argument("--modes", default=",".join(MODES), help="subset of gitlane,naive,plain")
    p.add_argument("--quick", action="store_true", help="3 commits per session, gitlane and naive only")
    p.add_argument("--keep", action="store_true", help="keep the repositories")
    args = p.parse_args(argv)
    if args.quick:
        args.commits, args.modes = 3, "gitlane,naive"
    args.counts = [int(n) for n in args.sessions.split(",") if n.strip()]
    args.sizes = [int(n.replace("k", "000")) for n in args.files.split(",") if n.strip()]
    args.mode_list = tuple(m for m in MODES if m in args.modes.split(","))
    return args


def rotate(modes: tuple[str, ...], k: int) -> list[str]:
    return list(modes[k % len(modes):] + modes[:k % len(modes)])


def measure(workdir: Path, template: Path, size: int, sessions: int, commits: int, rounds: int,
            modes: tuple[str, ...]) -> dict[str, list[torture.Result]]:
    shim = torture.default_shim()
    results: dict[str, list[torture.Result]] = {m: [] for m in modes}
    for k in range(rounds):
        for mode in rotate(modes, k + sessions):
            where = workdir / f"{size}-{sessions}-{k}-{mode}"
            results[mode].append(torture.run(mode, where, sessions, commits, shim, template=template))
            r = results[mode][-1]
            sys.stderr.write(f"  {size:>6} files {sessions:>3} sessions  {mode:<8} round {k + 1}: "
                             f"{r.rate:7.1f} commits/s ({r.elapsed:.1f}s, load {_load()})\n")
            for line in r.problems()[:5]:
                sys.stderr.write(f"      {line}\n")
            shutil.rmtree(where, ignore_errors=True)
    return results


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else 0.0


def latencies(runs: list[torture.Result]) -> list[float]:
    return [x for r in runs for x in r.latencies]


def row(size: int, sessions: int, mode: str, runs: list[torture.Result]) -> str:
    rate = statistics.median(r.rate for r in runs)
    expected = sum(r.expected for r in runs)
    kept, mis = sum(r.kept for r in runs), sum(r.misattributed for r in runs)
    lost, failed = sum(r.lost for r in runs), sum(r.failed for r in runs)
    fsck = "ok" if all(r.fsck_ok for r in runs) else "FAIL"
    lat = latencies(runs)
    return (f"{size:>6} | {sessions:>8} | {mode:<7} | {rate:9.1f} | {kept:>5}/{expected:<5} | {mis:>13} | "
            f"{lost:>5} | {failed:>6} | {pct(lat, 0.5):6.2f}s | {pct(lat, 0.99):6.2f}s | {fsck}")


def ratio_line(size: int, sessions: int, results: dict[str, list[torture.Result]]) -> str:
    lane = statistics.median(r.rate for r in results["gitlane"])
    naive = statistics.median(r.rate for r in results["naive"])
    ratio = lane / naive if naive else 0.0
    verdict = "meets" if ratio >= TARGET else "BELOW"
    p99 = pct(latencies(results["gitlane"]), 0.99) / (pct(latencies(results["naive"]), 0.99) or 1e-9)
    p99_verdict = ("meets" if p99 <= P99_TARGET else "ABOVE") + f" the {P99_TARGET} target" \
        if sessions == 32 else "no target"
    return (f"{size:>6} | {sessions:>8} | throughput gitlane/naive = {ratio:.2f} ({verdict} the {TARGET} target)"
            f" | p99 gitlane/naive = {p99:.2f} ({p99_verdict})")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="gitlane-bench-"))
    print(f"load avg at the start: {_load()} (nproc={os.cpu_count()})")
    table: dict[tuple[int, int], dict[str, list[torture.Result]]] = {}
    try:
        for size in args.sizes:
            template = workdir / f"template-{size}"
            real, env = torture.base_env(workdir / "home")
            torture.init_repo(template, real, env, size)
            for n in args.counts:
                table[size, n] = measure(workdir, template, size, n, args.commits, args.rounds, args.mode_list)
    finally:
        if args.keep:
            sys.stderr.write(f"repositories kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"commit throughput, {args.commits} commits per session, median of {args.rounds} round(s); "
          "latency = one `git commit`, lock wait included")
    print(" files | sessions | mode    | commits/s |  kept/total  | misattributed |  lost | failed |    p50  |"
          "    p99  | fsck")
    for (size, n), results in table.items():
        for mode in args.mode_list:
            print(row(size, n, mode, results[mode]))
    print()
    if "naive" in args.mode_list and "gitlane" in args.mode_list:
        for (size, n), results in table.items():
            print(ratio_line(size, n, results))
    print(f"load avg at the end: {_load()}")
    lossless = all(r.perfect for runs in table.values() for r in runs.get("gitlane", []))
    print("gitlane: " + ("no lost or misattributed work in any run" if lossless else "LOST OR MISATTRIBUTED WORK"))
    return 0 if lossless else 1


if __name__ == "__main__":
    sys.exit(main())
