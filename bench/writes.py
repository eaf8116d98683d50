#!/usr/bin/env python3
"""What a write costs in a session, against the real git doing the same write
(docs/DESIGN.md, "Performance budget"; issue 18).

For each size, two identical repositories (one copied from the other, mtimes
kept): the real git works in one with `.git/index`, a gitlane session in the
other through `shim/git`. Every round runs each variant once, the order
rotating, and each case is a paired median of gitlane / real git:

  add          `git add f` (f modified before each round, untimed)
  add+commit   `git add f` then `git commit -q -m x`, timed together
  commit -am   `git commit -q -a -m x` (a tracked file modified before)

Targets: add <= 2.5x at 1k files, <= 1.3x at 30k; add+commit and commit -am
<= 3x at 1k, <= 1.4x at 30k.

Usage: .venv/bin/python bench/writes.py [--sizes 1000,30000] [--quick] [--rounds N] [--json FILE]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

TARGETS = {  # case: {size: target ratio}
    "add": {1000: 2.5, 30000: 1.3},
    "add+commit": {1000: 3.0, 30000: 1.4},
    "commit -am": {1000: 3.0, 30000: 1.4},
}
CASES = tuple(TARGETS)


class Steps:
    """One variant: a few commands timed together; `before` runs untimed."""

    def __init__(self, name: str, steps, env, cwd: str, before=None) -> None:  # type: ignore[no-untyped-def]
        self.name, self.steps, self.env, self.cwd, self.before = name, steps, env, cwd, before
        self.samples: list[int] = []
        self.cpu: list[int] = []  # ns of user + system time of the whole process tree, per round

    def once(self, r: int) -> int:
        if self.before:
            self.before(r)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter_ns()
        for argv in self.steps:
            res = subprocess.run(argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if res.returncode != 0:
                raise bl.BenchError(f"[{self.name}] " + bl.describe_failure(argv, self.env, self.cwd,
                                                                             res.returncode, res.stderr))
        dt = time.perf_counter_ns() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = int(((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) * 1e9)
        return dt


def interleave(variants: list[Steps], rounds: int, warmup: int) -> None:
    k = len(variants)
    for r in range(-warmup, rounds):
        shift = r % k
        for v in variants[shift:] + variants[:shift]:
            dt = v.once(r)
            if r >= 0:
                v.samples.append(dt)
                v.cpu.append(v.last_cpu)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bl.common_args(ap)
    ap.add_argument("--sizes", help="comma-separated repository sizes (default 1000,30000; --quick: 1000)")
    ap.add_argument("--cases", help="subset of: add, add+commit, commit-am")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("k", "000")) for s in (args.sizes or ("1000" if args.quick else "1000,30000")).split(",")]
    cases = [c.replace("commit-am", "commit -am") for c in args.cases.split(",")] if args.cases else list(CASES)
    report = bl.Report("gitlane bench: writes against the real git", sys.argv)
    report.params.update(sizes=sizes, cases=cases, quick=args.quick)
    report.header()
    return bl.run_sizes(report, args, "writes", sizes, lambda size: 3 if args.quick else (15 if size <= 5000 else 9),
                        lambda path, size, rounds, warmup: run_size(report, path, size, rounds, warmup, cases))


def run_size(report: bl.Report, tmp: str, size: int, rounds: int, warmup: int, cases: list[str]) -> None:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = bl.hermetic_env(home)
    git = bl.real_git()
    plain_repo, lane_repo = os.path.join(tmp, "plain"), os.path.join(tmp, "lane")
    bl.make_repo(plain_repo, size, env, git)
    shutil.copytree(plain_repo, lane_repo, symlinks=True)  # copy2: mtimes kept, no rehash
    bl.run([git, "status", "--porcelain"], env, cwd=lane_repo)
    lane_env = bl.session_env(env, "w1")
    bl.run([bl.SHIM_GIT, "status", "--porcelain"], lane_env, cwd=lane_repo)  # create the session index
    past = time.time() - 3600
    for case in cases:
        target_file = bl.file_path(size // 2 + CASES.index(case))

        def touch(repo: str, f: str = target_file):  # type: ignore[no-untyped-def]
            return lambda r: bl.append(os.path.join(repo, f), f"round {r}\n", past)
        if case == "add":
            steps = lambda g: [[g, "add", target_file]]  # noqa: E731
        elif case == "add+commit":
            steps = lambda g: [[g, "add", target_file], [g, "commit", "-q", "-m", "x"]]  # noqa: E731
        else:
            steps = lambda g: [[g, "commit", "-q", "-a", "-m", "x"]]  # noqa: E731
        real = Steps(f"real git {case}", steps(git), env, plain_repo, touch(plain_repo))
        lane = Steps(f"gitlane {case} (session)", steps(bl.SHIM_GIT), lane_env, lane_repo, touch(lane_repo))
        report.section(f"{case}, {size} files", rounds=rounds, warmup=warmup, load=_load())
        interleave([real, lane], rounds, warmup)
        report.row(real.name, real.samples)
        report.row(lane.name, lane.samples)
        report.row(f"  cpu (user+sys): {real.name}", real.cpu)
        report.row(f"  cpu (user+sys): {lane.name}", lane.cpu)
        target = TARGETS[case].get(size)
        report.derived(f"{case} {size} files: gitlane / real (paired median)",
                       bl.paired_median_ratio(lane.samples, real.samples), "x", target)
        report.derived(f"{case} {size} files: gitlane - real", bl.paired_median_diff_ms(lane.samples, real.samples),
                       "ms")
        report.derived(f"{case} {size} files: cpu gitlane / real (less load-sensitive)",
                       bl.paired_median_ratio(lane.cpu, [max(c, 1) for c in real.cpu]), "x")
        if case == "add":  # leave nothing staged for the next case
            bl.run([git, "commit", "-q", "-m", "settle"], env, cwd=plain_repo)
            bl.run([bl.SHIM_GIT, "commit", "-q", "-m", "settle"], lane_env, cwd=lane_repo)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
