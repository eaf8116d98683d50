#!/usr/bin/env python3
"""Per-invocation overhead of the gitlane shim (docs/DESIGN.md ("Performance budget")).

  (a) passthrough: `shim/git rev-parse HEAD` with no session vs the real git
      (target: at most 1.5 ms extra);
  (b) in a session: `status --porcelain`, `diff --cached`, `log -1` through
      the shim vs the real git on the same session index (overhead = shim -
      real, target: at most 1.3 x the interpreter floor);
  (c) the interpreter floor: `<shim python> -I -S -c pass`;
  (d) `shim/gitlane prompt` vs the floor (target: at most 1.3 x floor), "n/a"
      while the command does not exist or fails.

Usage: .venv/bin/python bench/overhead.py [--quick] [--rounds N] [--files N] [--json FILE]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

PASSTHROUGH_TARGET_MS = 1.5
FLOOR_MULTIPLE_TARGET = 1.3
SESSION = "bench-overhead"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bl.common_args(ap)
    ap.add_argument("--files", type=int, default=300, help="files in the temporary repository (default 300)")
    args = ap.parse_args(argv)
    rounds = args.rounds or (8 if args.quick else 60)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)

    report = bl.Report("gitlane bench: shim overhead", sys.argv)
    report.params.update(rounds=rounds, warmup=warmup, files=args.files, quick=args.quick)
    report.header()
    try:
        with bl.TempRoot("gitlane-bench-overhead-", keep=args.keep) as tmp:
            measure(report, tmp.path, args.files, rounds, warmup)
    except bl.BenchError as exc:
        print(f"\nBENCHMARK ABORTED: {exc}", file=sys.stderr)
        report.note(f"aborted: {exc}")
        report.save(args.json)
        return 1
    report.footer()
    report.save(args.json)
    return 0


def measure(report: bl.Report, tmp: str, nfiles: int, rounds: int, warmup: int) -> None:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = bl.hermetic_env(home)
    git = bl.real_git()
    py = bl.shim_python()
    repo = os.path.join(tmp, "repo")
    bl.make_repo(repo, nfiles, env, git, commits=5)

    senv = bl.session_env(env, SESSION)
    # Create the session and give it one staged change, so `diff --cached` has
    # something to print and the session index differs from .git/index.
    bl.run([bl.SHIM_GIT, "status", "--porcelain"], senv, repo)
    sindex = os.path.join(repo, ".git", "gitlane", "sessions", SESSION, "index")
    if not os.path.exists(sindex):
        raise bl.BenchError(f"a session `git status` did not create {sindex}")
    staged = os.path.join(repo, bl.file_path(7))
    bl.append(staged, "staged by the session\n")
    bl.run([bl.SHIM_GIT, "add", "--", bl.file_path(7)], senv, repo)
    bl.run([bl.SHIM_GIT, "status", "--porcelain"], senv, repo)  # settle the stat cache
    # The real git, by hand, on the very same index: the only difference is the shim.
    renv = dict(env)
    renv["GIT_INDEX_FILE"] = sindex

    # Sanity: the shim must print exactly what the real git prints.
    for cmd in (["status", "--porcelain"], ["diff", "--cached"], ["log", "-1"]):
        a = bl.run([bl.SHIM_GIT, *cmd], senv, repo).stdout
        b = bl.run([git, *cmd], renv, repo).stdout
        if a != b:
            report_mismatch = f"`git {' '.join(cmd)}` output differs between shim and real git on the session index"
            raise bl.BenchError(report_mismatch + f"\n  shim: {a[:300]!r}\n  real: {b[:300]!r}")
    if b"staged by the session" not in bl.run([bl.SHIM_GIT, "diff", "--cached"], senv, repo).stdout:
        raise bl.BenchError("the session's `git diff --cached` does not show the change it staged")

    # --- (a) passthrough -------------------------------------------------------
    report.section("(a) passthrough, no session", files=nfiles, rounds=rounds)
    pt = [
        bl.Variant("real git rev-parse HEAD", [git, "rev-parse", "HEAD"], env, repo),
        bl.Variant("shim/git rev-parse HEAD (no session)", [bl.SHIM_GIT, "rev-parse", "HEAD"], env, repo),
        bl.Variant("sh -c : (shell start-up, for reference)", ["/bin/sh", "-c", ":"], env, repo),
    ]
    bl.interleave(pt, rounds, warmup)
    for v in pt:
        report.row(v.name, v.samples)
    extra = bl.paired_median_diff_ms(pt[1].samples, pt[0].samples)
    report.derived("passthrough extra (shim - real)", extra, "ms", PASSTHROUGH_TARGET_MS)

    # --- (b) + (c) in a session, and the floor ---------------------------------
    report.section("(b) in a session vs real git, (c) interpreter floor", files=nfiles, rounds=rounds)
    py_code, src, site = bl.shim_launch_parts()[1:]
    floor = bl.Variant("floor: python -I -S -c pass", [py, "-I", "-S", "-c", "pass"], env, repo)
    # The in-step read imports only this; gitlane.shim loads when it declines.
    imp = bl.Variant("import gitlane.fastpath only",
                     [py, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                      "sys.path.append(sys.argv[2]); import gitlane.fastpath", src, site], env, repo)
    cmds = [("status", ["status", "--porcelain"]), ("diff --cached", ["diff", "--cached"]),
            ("log -1", ["log", "-1"])]
    pairs = []
    variants = [floor, imp]
    for label, cmd in cmds:
        real_v = bl.Variant(f"real git {label}", [git, *cmd], renv, repo)
        shim_v = bl.Variant(f"shim/git {label} (session)", [bl.SHIM_GIT, *cmd], senv, repo)
        pairs.append((label, shim_v, real_v))
        variants += [real_v, shim_v]
    bl.interleave(variants, rounds, warmup)
    report.row(floor.name, floor.samples)
    report.row(imp.name, imp.samples)
    for _, shim_v, real_v in pairs:
        report.row(real_v.name, real_v.samples)
        report.row(shim_v.name, shim_v.samples)
    floor_ms = bl.median_ms(floor.samples)
    report.derived("import gitlane.fastpath - floor", bl.paired_median_diff_ms(imp.samples, floor.samples), "ms")
    floor_min = min(floor.samples)
    for label, shim_v, real_v in pairs:
        over = bl.paired_median_diff_ms(shim_v.samples, real_v.samples)
        report.derived(f"{label}: overhead (shim - real)", over, "ms")
        report.derived(f"{label}: overhead / floor", over / floor_ms, "x", FLOOR_MULTIPLE_TARGET)
        report.derived(f"{label}: overhead / floor, from minimums",
                       (min(shim_v.samples) - min(real_v.samples)) / floor_min, "x",
                       note="less sensitive to other load")

    # --- (d) prompt ----------------------------------------------------------------
    report.section("(d) gitlane prompt vs floor", rounds=rounds)
    probe = subprocess.run([bl.SHIM_GITLANE, "prompt"], env=senv, cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if probe.returncode != 0:
        why = probe.stderr.decode("utf-8", "replace").strip().splitlines()
        report.row("shim/gitlane prompt (session)", None,
                   f"exit {probe.returncode}: {why[0] if why else 'no message'}")
        report.derived("prompt / floor", None, "x", FLOOR_MULTIPLE_TARGET)
        return
    floor2 = bl.Variant("floor: python -I -S -c pass", [py, "-I", "-S", "-c", "pass"], env, repo)
    prompt = bl.Variant("shim/gitlane prompt (session)", [bl.SHIM_GITLANE, "prompt"], senv, repo)
    bl.interleave([floor2, prompt], rounds, warmup)
    report.row(floor2.name, floor2.samples)
    report.row(prompt.name, prompt.samples)
    report.derived("prompt / floor", bl.paired_median_ratio(prompt.samples, floor2.samples), "x",
                   FLOOR_MULTIPLE_TARGET)
    report.derived("prompt / floor, from minimums", min(prompt.samples) / min(floor2.samples), "x",
                   note="less sensitive to other load")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
