#!/usr/bin/env python3
"""What a Claude Code Bash call costs in gitlane's hooks (docs/DESIGN.md: "Attribution", "Performance budget").

For each size (files in a fresh repository, with one live session whose
index is in step): the two hooks of one Bash tool call (`gitlane hook
pre-tool-use` then `gitlane hook post-tool-use`, real Claude Code JSON on
stdin, run back to back by one `sh -c`, as Claude Code runs hook commands)
vs one plain `git status`. Nothing changes between the two hooks (the common
case: a Bash call that only reads). Targets: at most 1.5x plain `git status`
at 30k files, at most 60 ms at 1k.

Usage: .venv/bin/python bench/hooks.py [--sizes 1000,30000] [--quick] [--rounds N] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

RATIO_TARGET = 1.5     # at 30k files
SMALL_TARGET_MS = 60   # at 1k files
SID = "5d2c9e1a-7b3f-4c8d-9e0a-1b2c3d4e5f60"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bl.common_args(ap)
    ap.add_argument("--sizes", help="comma-separated repository sizes (default 1000,30000; --quick: 1000)")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("k", "000")) for s in (args.sizes or ("1000" if args.quick else "1000,30000")).split(",")]
    report = bl.Report("gitlane bench: the hooks of one Bash tool call", sys.argv)
    report.params.update(sizes=sizes, quick=args.quick)
    report.header()
    return bl.run_sizes(report, args, "hooks", sizes, lambda size: 3 if args.quick else (30 if size <= 5000 else 15),
                        lambda path, size, rounds, warmup: run_size(report, path, size, rounds, warmup))


def payload(repo: str, event: str) -> str:
    data = {"session_id": SID, "transcript_path": f"/tmp/{SID}.jsonl", "cwd": repo,
            "permission_mode": "default", "hook_event_name": event, "tool_name": "Bash",
            "tool_input": {"command": "ls", "description": "list files"}, "tool_use_id": "toolu_01bench"}
    if event == "PostToolUse":
        data["tool_response"] = {"stdout": "", "stderr": "", "interrupted": False, "isImage": False}
    return json.dumps(data)


def run_size(report: bl.Report, tmp: str, size: int, rounds: int, warmup: int) -> None:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = bl.hermetic_env(home)
    git = bl.real_git()
    repo = os.path.join(tmp, "repo")
    t0 = time.perf_counter()
    bl.make_repo(repo, size, env, git)
    print(f"\n# {size} files: repository generated in {time.perf_counter() - t0:.1f}s ({repo})")
    senv = bl.session_env(env, SID)
    bl.run([bl.SHIM_GIT, "status"], senv, repo)           # the session and its index exist, in step
    for event in ("PreToolUse", "PostToolUse"):
        with open(os.path.join(tmp, event + ".json"), "w", encoding="utf-8") as f:
            f.write(payload(repo, event))
    pre, post = (os.path.join(tmp, e + ".json") for e in ("PreToolUse", "PostToolUse"))
    both = (f"'{bl.SHIM_GITLANE}' hook pre-tool-use < '{pre}' && "
            f"'{bl.SHIM_GITLANE}' hook post-tool-use < '{post}'")
    hooks = bl.Variant("Bash call: pre + post hooks", ["sh", "-c", both], env, repo)
    plain = bl.Variant("plain git status", [git, "status"], env, repo)
    floor = bl.Variant("sh -c true (harness floor)", ["sh", "-c", "true"], env, repo)
    report.section(f"Bash call hooks [{size} files]", files=size, rounds=rounds)
    bl.interleave([hooks, plain, floor], rounds, warmup)
    for v in (hooks, plain, floor):
        report.row(v.name, v.samples)
    ratio = bl.paired_median_ratio(hooks.samples, plain.samples)
    report.derived("hooks / plain status", ratio, "x", RATIO_TARGET if size >= 30000 else None)
    report.derived("hooks, median", bl.median_ms(hooks.samples), "ms", SMALL_TARGET_MS if size <= 1000 else None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
