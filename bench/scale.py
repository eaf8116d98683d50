#!/usr/bin/env python3
"""How gitlane's session index scales with repository size (docs/DESIGN.md: "Session index", "View isolation", "Performance budget").

For each size (files in a fresh repository):
  (i)   a new session's set-up plus its first `status` vs plain `git status`
        (target: at most 1.5x from 30k files up);
  (ii)  the lazy rebase: session s2 commits one file, then s1's next `status`
        (which rebases s1's index onto the new HEAD) vs plain `git status`;
  (iii) after touching every file once (os.utime to a new mtime): the first
        call of each, then repeated session `status` vs repeated plain `status`
        (target: within 1.2x after the first call, from 30k files up);
  (iv)  view-isolation sync: session "claimer" stages N modified files
        (N = 10, 100, 1000 claimed paths); then `status` in a third session
        ("viewer"), whose index must get skip-worktree bits on those paths:
        the first status after the claims, the status right after one claim
        changed (incremental sync), and the in-step status, vs plain
        `git status` (reported, no target yet).

Usage: .venv/bin/python bench/scale.py [--sizes 1000,30000,100000] [--quick] [--rounds N] [--json FILE]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

FIRST_STATUS_TARGET = 1.5      # (i), on the 30k repository
TOUCHED_TARGET = 1.2           # (iii), repeated calls
TARGET_SIZE = 30000
CLAIM_LEVELS = (10, 100, 1000)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bl.common_args(ap)
    ap.add_argument("--sizes", help="comma-separated repository sizes in files "
                                    "(default 1000,30000; --quick: 1000)")
    ap.add_argument("--only", help="comma-separated subset of tests to run: i,ii,iii,iv")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("k", "000")) for s in (args.sizes or ("1000" if args.quick else "1000,30000")).split(",")]
    only = set((args.only or "i,ii,iii,iv").split(","))
    report = bl.Report("gitlane bench: scaling with repository size", sys.argv)
    report.params.update(sizes=sizes, quick=args.quick, only=sorted(only))
    report.header()
    return bl.run_sizes(report, args, "scale", sizes, lambda size: default_rounds(size, args.quick),
                        lambda path, size, rounds, warmup: run_size(report, path, size, rounds, warmup, only))


def default_rounds(size: int, quick: bool) -> int:
    if quick:
        return 3
    if size <= 5000:
        return 30
    if size <= 40000:
        return 15
    return 7


def run_size(report: bl.Report, tmp: str, size: int, rounds: int, warmup: int, only: set[str]) -> None:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = bl.hermetic_env(home)
    git = bl.real_git()
    repo = os.path.join(tmp, "repo")
    t0 = time.perf_counter()
    bl.make_repo(repo, size, env, git)
    print(f"\n# {size} files: repository generated in {time.perf_counter() - t0:.1f}s ({repo})")
    ctx = Scale(report, env, git, repo, size, rounds, warmup)
    if "i" in only:
        ctx.first_status()
    if "ii" in only:
        ctx.lazy_rebase()
    if "iii" in only:
        ctx.touched()
    if "iv" in only:
        ctx.claims()


class Scale:
    def __init__(self, report: bl.Report, env: dict[str, str], git: str, repo: str,
                 size: int, rounds: int, warmup: int) -> None:
        self.report, self.env, self.git, self.repo = report, env, git, repo
        self.size, self.rounds, self.warmup = size, rounds, warmup
        self.sessions_dir = os.path.join(repo, ".git", "gitlane", "sessions")
        self.next_file = 100  # files below 100 are left for ad-hoc use
        self.mtime = time.time() - 3000

    # --- helpers ---------------------------------------------------------------
    def senv(self, name: str) -> dict[str, str]:
        return bl.session_env(self.env, name)

    def shim(self, name: str, *args: str) -> bytes:
        return bl.run([bl.SHIM_GIT, *args], self.senv(name), self.repo).stdout

    def plain(self, *args: str) -> bytes:
        return bl.run([self.git, *args], self.env, self.repo).stdout

    def take_files(self, n: int) -> list[str]:
        """n files nobody has used yet (wrapping around in small repositories)."""
        out = []
        for _ in range(n):
            out.append(bl.file_path(self.next_file % self.size))
            self.next_file += 1
        return out

    def modify(self, rel: str, text: str) -> None:
        # mtime in the past but new, so the change is seen by stat and is never racy
        self.mtime += 1
        bl.append(os.path.join(self.repo, rel), text, self.mtime)

    def plain_status(self) -> bl.Variant:
        return bl.Variant("plain git status", [self.git, "status"], self.env, self.repo)

    def section(self, title: str, **params: object) -> None:
        self.report.section(f"{title} [{self.size} files]", files=self.size, rounds=self.rounds, **params)

    # --- (i) -------------------------------------------------------------------
    def first_status(self) -> None:
        self.section("(i) new session: set-up + first status")
        # A steady session for reference (what every later status costs).
        self.shim("steady", "status")
        names = {}

        def fresh_env(r: int) -> dict[str, str]:
            names[r] = f"new-{r + 100}"
            return self.senv(names[r])

        def forget(r: int) -> None:  # untimed: drop the session folder again
            shutil.rmtree(os.path.join(self.sessions_dir, names[r]), ignore_errors=True)

        new = bl.Variant("session status, new session (creates index)", [bl.SHIM_GIT, "status"],
                         fresh_env, self.repo, after=forget)
        steady = bl.Variant("session status, existing session", [bl.SHIM_GIT, "status"],
                            self.senv("steady"), self.repo)
        plain = self.plain_status()
        bl.interleave([plain, new, steady], self.rounds, self.warmup)
        for v in (plain, new, steady):
            self.report.row(v.name, v.samples)
        target = FIRST_STATUS_TARGET if self.size >= TARGET_SIZE else None
        self.report.derived("new session first status / plain status",
                            bl.paired_median_ratio(new.samples, plain.samples), "x", target,
                            note="" if target else f"target {FIRST_STATUS_TARGET}x applies from {TARGET_SIZE} files")
        self.report.derived("set-up cost (new - existing session)",
                            bl.paired_median_diff_ms(new.samples, steady.samples), "ms")
        self.report.derived("existing session status / plain status",
                            bl.paired_median_ratio(steady.samples, plain.samples), "x")

    # --- (ii) ------------------------------------------------------------------
    def lazy_rebase(self) -> None:
        self.section("(ii) lazy rebase after another session commits")
        # s1 has its own staged change, so the 3-way merge has real work to keep.
        own = self.take_files(1)[0]
        self.modify(own, "s1's own change\n")
        self.shim("s1", "add", "--", own)
        self.shim("s2", "status")
        commit_ns: list[int] = []

        def s2_commits(r: int) -> None:  # untimed set-up of each round
            rel = self.take_files(1)[0]
            self.modify(rel, f"s2 change {r}\n")
            self.shim("s2", "add", "--", rel)
            t = time.perf_counter_ns()
            self.shim("s2", "commit", "-q", "-m", f"s2 commit {r}")
            if r >= 0:
                commit_ns.append(time.perf_counter_ns() - t)

        s1 = bl.Variant("s1 status (rebases onto s2's commit)", [bl.SHIM_GIT, "status"],
                        self.senv("s1"), self.repo)
        plain = self.plain_status()
        bl.interleave([plain, s1], self.rounds, self.warmup, round_setup=s2_commits)
        for v in (plain, s1):
            self.report.row(v.name, v.samples)
        self.report.row("(set-up) s2 commit of 1 file, via shim", commit_ns, "untimed by the ratio")
        self.report.derived("s1 status with rebase / plain status",
                            bl.paired_median_ratio(s1.samples, plain.samples), "x")
        self.report.derived("rebase status - plain status",
                            bl.paired_median_diff_ms(s1.samples, plain.samples), "ms")
        # Sanity: s1 still stages exactly its own change, and sees none of s2's as reverted.
        cached = self.shim("s1", "diff", "--cached", "--name-only").split()
        if cached != [own.encode()]:
            raise bl.BenchError(f"after the rebases s1's staged paths are {cached[:5]!r}, expected [{own!r}]")
        porcelain = self.plain("status", "--porcelain").decode()
        stray = [ln for ln in porcelain.splitlines() if ln[3:] != own]
        if stray:
            self.report.note(f"plain `git status` after session commits shows {len(stray)} unexpected "
                             f"entries, e.g. {stray[:3]} (.git/index not kept in sync?)")

    # --- (iii) -----------------------------------------------------------------
    def touched(self) -> None:
        self.section("(iii) after touching every file")
        self.shim("s1", "status")
        plain = self.plain_status()
        s1 = bl.Variant("s1 status, repeated", [bl.SHIM_GIT, "status"], self.senv("s1"), self.repo)
        t0 = time.perf_counter()
        new_mtime = time.time() - 1800
        for i in range(self.size):
            full = os.path.join(self.repo, bl.file_path(i))
            os.utime(full, (new_mtime, new_mtime))
        print(f"  (touched {self.size} files in {time.perf_counter() - t0:.2f}s)")
        first = [bl.Variant("plain git status, first call after touch", [self.git, "status"], self.env, self.repo),
                 bl.Variant("s1 status, first call after touch", [bl.SHIM_GIT, "status"], self.senv("s1"), self.repo)]
        bl.interleave(first, 1, 0)
        for v in first:
            self.report.row(v.name, v.samples)
        plain.name = "plain git status, repeated"
        bl.interleave([plain, s1], self.rounds, self.warmup)
        for v in (plain, s1):
            self.report.row(v.name, v.samples)
        target = TOUCHED_TARGET if self.size >= TARGET_SIZE else None
        self.report.derived("repeated: session status / plain status",
                            bl.paired_median_ratio(s1.samples, plain.samples), "x", target,
                            note="" if target else f"target {TOUCHED_TARGET}x applies from {TARGET_SIZE} files; "
                                                   "below that the fixed interpreter cost dominates")
        self.report.derived("repeated: session status - plain status",
                            bl.paired_median_diff_ms(s1.samples, plain.samples), "ms")

    # --- (iv) ------------------------------------------------------------------
    def claims(self) -> None:
        """View isolation: another session's claims become skip-worktree bits in
        this session's index, synced lazily when the claims generation changes.
        Per level N: the one-off status right after N new claims (a full flip),
        then rounds where the claimer toggles one extra claim before each round
        (so every round's first viewer status pays an incremental sync with N
        claims), then rounds with nothing changing (the in-step fast path)."""
        self.section("(iv) view isolation: status in a third session while another claims N paths",
                     levels=",".join(map(str, CLAIM_LEVELS)))
        self.shim("viewer", "status")
        self.shim("claimer", "status")
        toggle = self.take_files(1)[0]
        self.modify(toggle, "toggled claim\n")
        claimed: list[str] = []
        for level in CLAIM_LEVELS:
            want = min(level, self.size - 200)
            todo = self.take_files(max(0, want - len(claimed)))
            for rel in todo:
                self.modify(rel, "claimed\n")
            add_ns = []
            for i in range(0, len(todo), 500):
                t = time.perf_counter_ns()
                self.shim("claimer", "add", "--", *todo[i:i + 500])
                add_ns.append(time.perf_counter_ns() - t)
            claimed += todo
            n = len(claimed)
            first = bl.Variant(f"viewer status, first after {len(todo)} new claims",
                               [bl.SHIM_GIT, "status"], self.senv("viewer"), self.repo)
            bl.interleave([first], 1, 0)
            state = {"on": False}

            def flip(r: int) -> None:  # untimed: the claimer claims or releases one more path
                if state["on"]:
                    self.shim("claimer", "restore", "--staged", "--", toggle)
                else:
                    self.shim("claimer", "add", "--", toggle)
                state["on"] = not state["on"]

            plain = bl.Variant(f"plain git status ({n} modified)", [self.git, "status"], self.env, self.repo)
            synced = bl.Variant(f"viewer status, {n} claimed, claims changed", [bl.SHIM_GIT, "status"],
                                self.senv("viewer"), self.repo)
            bl.interleave([plain, synced], self.rounds, self.warmup, round_setup=flip)
            plain2 = bl.Variant(f"plain git status ({n} modified), again", [self.git, "status"],
                                self.env, self.repo)
            steady = bl.Variant(f"viewer status, {n} claimed, in step", [bl.SHIM_GIT, "status"],
                                self.senv("viewer"), self.repo)
            bl.interleave([plain2, steady], self.rounds, self.warmup)
            self.report.row(f"(set-up) claimer `git add` of {len(todo)} paths", add_ns,
                            f"{len(add_ns)} call(s) of up to 500 paths")
            self.report.row(first.name, first.samples, "one sample")
            for v in (plain, synced, plain2, steady):
                self.report.row(v.name, v.samples)
            self.report.derived(f"N={n}: sync cost (changed - in step)",
                                bl.median_ms(synced.samples) - bl.median_ms(steady.samples), "ms")
            self.report.derived(f"N={n}: in-step viewer - plain",
                                bl.paired_median_diff_ms(steady.samples, plain2.samples), "ms")
            self.report.derived(f"N={n}: in-step viewer / plain",
                                bl.paired_median_ratio(steady.samples, plain2.samples), "x")
            seen = self.shim("viewer", "status", "--porcelain").decode().splitlines()
            leaked = [ln for ln in seen if ln[3:] in set(claimed)]
            if leaked:
                self.report.note(f"N={n}: the viewer's status still lists {len(leaked)} of {n} claimed "
                                 f"paths (view isolation not hiding them), e.g. {leaked[:2]}")
            else:
                self.report.note(f"N={n}: view isolation hides all {n} claimed paths from the viewer's status")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
