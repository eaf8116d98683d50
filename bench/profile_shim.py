#!/usr/bin/env python3
"""Where does an in-session git command spend its time before git runs?

For a session `status`, a session `add`, the first `status` of a new session,
a `status` that must first rebase the session index (another session has just
committed) and a `status` right after another session's claims changed (view
isolation sync), in a temporary repository of --files files:
  1. `-X importtime`: the launcher's exact python command with -X importtime
     added; prints the total import time, the top modules by self time and
     gitlane's own modules (cumulative).
  2. cProfile (via _lsprof, so nothing is pre-imported): the hot path from
     `from gitlane.fastpath import main` to the exec of git (or the exit, for
     add), with every child git it spawns and how long each took.

Usage: .venv/bin/python bench/profile_shim.py [--files N] [--top N] [--repeat N] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import marshal
import os
import pstats
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_profile_child.py")
SESSION = "bench-profile"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=15, help="importtime runs to take the median of")
    ap.add_argument("--cases", help="comma-separated subset of status,add,commit,new,rebase,sync")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    report = bl.Report("gitlane bench: profile of the in-session hot path", sys.argv)
    report.header()
    results: dict[str, object] = {"machine": report.machine}
    try:
        with bl.TempRoot("gitlane-bench-profile-", keep=args.keep) as tmp:
            run(tmp.path, args, results)
    except bl.BenchError as exc:
        print(f"\nPROFILE ABORTED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print(f"\nresults saved to {args.json}")
    return 0


def run(tmp: str, args: argparse.Namespace, results: dict[str, object]) -> None:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = bl.hermetic_env(home)
    git = bl.real_git()
    repo = os.path.join(tmp, "repo")
    bl.make_repo(repo, args.files, env, git, commits=3)
    senv = bl.session_env(env, SESSION)
    bl.run([bl.SHIM_GIT, "status"], senv, repo)  # create the session first
    py, code, src, site = bl.shim_launch_parts()
    counter = [0]

    def modify() -> str:
        counter[0] += 1
        rel = bl.file_path(10 + counter[0] % args.files)
        bl.append(os.path.join(repo, rel), f"profile {counter[0]}\n")
        return rel

    def status():  # type: ignore[no-untyped-def]
        return ["status"], senv

    def add():  # type: ignore[no-untyped-def]
        return ["add", "--", modify()], senv

    def new_session():  # type: ignore[no-untyped-def]
        counter[0] += 1
        return ["status"], bl.session_env(env, f"new-{counter[0]}")

    def after_commit():  # type: ignore[no-untyped-def]
        rel = modify()
        other = bl.session_env(env, "other")
        bl.run([bl.SHIM_GIT, "add", "--", rel], other, repo)
        bl.run([bl.SHIM_GIT, "commit", "-q", "-m", f"other {counter[0]}"], other, repo)
        return ["status"], senv

    toggled = {"on": False, "path": bl.file_path(5)}
    bl.append(os.path.join(repo, toggled["path"]), "toggled claim\n")

    def claims_changed():  # type: ignore[no-untyped-def]
        other = bl.session_env(env, "claimer")
        verb = ["restore", "--staged"] if toggled["on"] else ["add"]
        bl.run([bl.SHIM_GIT, *verb, "--", toggled["path"]], other, repo)
        toggled["on"] = not toggled["on"]
        return ["status"], senv

    def commit():  # type: ignore[no-untyped-def]
        bl.run([bl.SHIM_GIT, "add", "--", modify()], senv, repo)
        return ["commit", "-q", "-m", f"profile {counter[0]}"], senv

    all_cases = {"status": ("status", status), "add": ("add", add), "commit": ("commit", commit),
                 "new": ("status in a new session (creates the index)", new_session),
                 "rebase": ("status after another session committed (rebases)", after_commit),
                 "sync": ("status after another session's claims changed (view-isolation sync)",
                          claims_changed)}
    wanted = [c.strip() for c in args.cases.split(",")] if args.cases else list(all_cases)
    unknown = [w for w in wanted if w not in all_cases]
    if unknown:
        raise bl.BenchError(f"unknown case(s) {unknown}; choose from {list(all_cases)}")

    print("\n## git children, unprofiled (GITLANE_REAL_GIT = a wrapper that logs argv and wall time;"
          " each child pays ~1 ms more for the wrapper's bash)")
    wrapper, log = os.path.join(tmp, "git-logged"), os.path.join(tmp, "git.log")
    with open(wrapper, "w", encoding="utf-8") as f:
        f.write(f"#!/bin/bash\nt0=$EPOCHREALTIME\n'{git}' \"$@\"\nrc=$?\nt1=$EPOCHREALTIME\n"
                f"printf '%s\\t%s\\0' \"$(( (${{t1/./}} - ${{t0/./}}) ))\" \"$*\" >> '{log}'\nexit $rc\n")
    os.chmod(wrapper, 0o755)
    for key in wanted:
        name, make = all_cases[key]
        cmd, cenv = make()
        if os.path.exists(log):
            os.remove(log)
        t0 = bl.time.perf_counter()
        bl.run([bl.SHIM_GIT, *cmd], dict(cenv, GITLANE_REAL_GIT=wrapper), repo)
        total = (bl.time.perf_counter() - t0) * 1000
        with open(log, "rb") as f:
            recs = [r.decode("utf-8", "replace").split("\t", 1) for r in f.read().split(b"\0") if r]
        kids = sum(int(us) for us, _ in recs) / 1000
        print(f"\n### session `{name}`: {total:.1f} ms in all, {len(recs)} git children {kids:.1f} ms, "
              f"the rest {total - kids:.1f} ms")
        for us, line in recs:
            words = [w for w in line.split(" ") if not w.startswith(("--git-dir=", "--work-tree="))]
            if words[:1] == ["-C"]:
                words = words[2:]
            print(f"    {int(us) / 1000:>7.2f} ms  git {' '.join(words)[:110]}")
        results[f"children {key}"] = {"total_ms": total, "children": recs}

    print("\n## -X importtime (launcher command + -X importtime)")
    for key in wanted:
        name, make = all_cases[key]
        runs = []
        for _ in range(args.repeat):
            cmd, cenv = make()
            res = subprocess.run([py, "-X", "importtime", "-I", "-S", "-c", code, src, site, git, *cmd],
                                 env=cenv, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if res.returncode != 0:
                raise bl.BenchError(bl.describe_failure(["git", *cmd], cenv, repo, res.returncode, res.stderr))
            runs.append(parse_importtime(res.stderr.decode("utf-8", "replace")))
        results[f"importtime {key}"] = show_importtime(name, runs, args.top)

    print("\n## cProfile of the hot path (from `from gitlane.fastpath import main` to exec/exit)")
    for key in wanted:
        name, make = all_cases[key]
        outs: list[str] = []
        for _ in range(4):  # the first run may compile .pyc files; keep the last
            out = os.path.join(tmp, f"prof-{key}-{len(outs)}")
            cmd, cenv = make()
            res = subprocess.run([py, "-I", "-S", CHILD, out, src, site, git, *cmd], env=cenv, cwd=repo,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if res.returncode != 0:
                raise bl.BenchError(bl.describe_failure(["git", *cmd], cenv, repo, res.returncode, res.stderr))
            outs.append(out)
        results[f"profile {key}"] = show_profile(name, outs[-1], args.top)


def parse_importtime(text: str) -> dict[str, tuple[int, int, int]]:
    """name -> (self us, cumulative us, depth)."""
    mods: dict[str, tuple[int, int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        selfus, cum, raw = line[len("import time:"):].split("|", 2)
        name = raw.strip()
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        mods[name] = (int(selfus), int(cum), depth)
    return mods


def show_importtime(name: str, runs: list[dict[str, tuple[int, int, int]]], top: int) -> dict:
    names = runs[-1].keys()
    med = {n: (statistics.median(r[n][0] for r in runs if n in r),
               statistics.median(r[n][1] for r in runs if n in r), runs[-1][n][2]) for n in names}
    total = sum(v[1] for v in med.values() if v[2] == 0)
    gl = {n: v for n, v in med.items() if n.startswith("gitlane")}
    stdlib_self = sum(v[0] for n, v in med.items() if not n.startswith("gitlane"))
    print(f"\n### session `{name}`: {len(med)} modules, all imports {total / 1000:.2f} ms "
          f"(median of {len(runs)} runs; stdlib self {stdlib_self / 1000:.2f} ms, "
          f"gitlane self {sum(v[0] for v in gl.values()) / 1000:.2f} ms)")
    print(f"  top by self time:{'':<28} {'self':>8} {'cumul':>8}")
    for n, v in sorted(med.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"    {n:<42} {v[0] / 1000:>6.2f}ms {v[1] / 1000:>6.2f}ms")
    print("  gitlane modules (cumulative includes what they pull in first):")
    for n, v in sorted(gl.items(), key=lambda kv: -kv[1][1]):
        print(f"    {n:<42} {v[0] / 1000:>6.2f}ms {v[1] / 1000:>6.2f}ms")
    return {"total_ms": total / 1000, "modules": {n: {"self_ms": v[0] / 1000, "cum_ms": v[1] / 1000,
                                                      "depth": v[2]} for n, v in med.items()}}


def show_profile(name: str, path: str, top: int) -> dict:
    with open(path + ".meta", "rb") as f:
        meta = marshal.load(f)
    stats = pstats.Stats(path)
    print(f"\n### session `{name}`: {meta['wall_ms']:.2f} ms from the profiler start to {meta['end'][0]} "
          f"(profiling inflates this)")
    spawned = sum(s["ms"] for s in meta["spawns"])
    print(f"  child processes: {len(meta['spawns'])}, {spawned:.2f} ms in total")
    for s in meta["spawns"]:
        shown = [a for a in s["argv"][1:] if not a.startswith(("--git-dir=", "--work-tree="))]
        if shown[:1] == ["-C"]:
            shown = shown[2:]
        print(f"    {s['ms']:>7.2f} ms  git {' '.join(shown)[:100]}")
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"func": f"{_short(file)}:{line}({func})", "ncalls": nc, "tottime_ms": tt * 1000,
                     "cumtime_ms": ct * 1000})
    print(f"  top by cumulative time:{'':<50} {'cumul':>8} {'self':>8} {'calls':>6}")
    for r in sorted(rows, key=lambda r: -r["cumtime_ms"])[:top]:
        print(f"    {r['func'][:70]:<70} {r['cumtime_ms']:>6.2f}ms {r['tottime_ms']:>6.2f}ms {r['ncalls']:>6}")
    print("  top by own time:")
    for r in sorted(rows, key=lambda r: -r["tottime_ms"])[:top]:
        print(f"    {r['func'][:70]:<70} {r['cumtime_ms']:>6.2f}ms {r['tottime_ms']:>6.2f}ms {r['ncalls']:>6}")
    print("  gitlane functions by cumulative time (module-level code excluded):")
    ours = [r for r in rows if r["func"].startswith("gitlane/") and "(<module>)" not in r["func"]]
    for r in sorted(ours, key=lambda r: -r["cumtime_ms"])[:top]:
        print(f"    {r['func'][:70]:<70} {r['cumtime_ms']:>6.2f}ms {r['tottime_ms']:>6.2f}ms {r['ncalls']:>6}")
    return {"wall_ms": meta["wall_ms"], "spawns": meta["spawns"],
            "top": sorted(rows, key=lambda r: -r["cumtime_ms"])[:50]}


def _short(file: str) -> str:
    for marker in ("/src/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
