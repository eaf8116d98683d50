"""Run git's own test scripts twice, with the real git and through the shim in a
lone session, and compare them case by case (ok / not ok per test number).

    .venv/bin/python tests/differential/git_suite.py [-j 2] [--no-session] [SCRIPT...]

Without SCRIPT names it runs SCRIPTS below. The source of the installed git
(`git --version`) is fetched with `apt-get source git` into the cache folder
(gitignored) and only `t/helper/test-tool` and the templates are built: the
scripts run the installed git through GIT_TEST_INSTALLED (t/test-lib.sh puts
that folder first on PATH and takes GIT_EXEC_PATH from `git --exec-path`).
In the session run that folder holds a `git` that counts its calls and execs
shim/git with GITLANE_SESSION set, so every `git` a test body runs goes through
gitlane; git's own children (GIT_EXEC_PATH first on their PATH) are real git,
as they are for a user. With --no-session that `git` execs the shim with no
session (the passthrough, which must match git in every case). Writes
report.json and report.md (report-plain.* with --no-session) in the cache.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("GITLANE_DIFF_CACHE", os.path.join(HERE, ".cache"))
SHIM = os.environ.get("GITLANE_DIFF_SHIM") or os.path.join(ROOT, "shim", "git")

# git's t/ scripts, by family: staging, commit, status, diff, reset, checkout,
# restore, stash, rm, mv, submodule, worktree, log, fsck, for-each-ref, hooks,
# trace, index formats, sparse checkout, merge/rebase/cherry-pick.
SCRIPTS = [
    "t0210-trace2-normal", "t1510-repo-setup",
    "t1091-sparse-checkout-builtin", "t1450-fsck", "t1700-split-index", "t1800-hook",
    "t2013-checkout-submodule", "t2014-checkout-switch", "t2018-checkout-branch",
    "t2022-checkout-paths", "t2060-switch", "t2070-restore", "t2071-restore-patch",
    "t2104-update-index-skip-worktree", "t2200-add-update", "t2201-add-update-typechange",
    "t2202-add-addremove", "t2203-add-intent", "t2204-add-ignored",
    "t2400-worktree-add", "t2401-worktree-prune", "t2402-worktree-list",
    "t3501-revert-cherry-pick", "t3600-rm", "t3700-add", "t3701-add-interactive",
    "t3903-stash", "t3904-stash-patch", "t3905-stash-include-untracked",
    "t4000-diff-format", "t4017-diff-retval", "t4035-diff-quiet", "t4202-log",
    "t6300-for-each-ref", "t7001-mv", "t7060-wtstatus", "t7063-status-untracked-cache",
    "t7064-wtstatus-pv2", "t7102-reset", "t7104-reset-hard", "t7105-reset-patch",
    "t7113-post-index-change-hook", "t7400-submodule-basic",
    "t7500-commit-template-squash-signoff", "t7501-commit-basic-functionality",
    "t7502-commit-porcelain", "t7503-pre-commit-and-pre-merge-commit-hooks",
    "t7504-commit-msg-hook", "t7505-prepare-commit-msg-hook", "t7508-status",
    "t7509-commit-authorship", "t7519-status-fsmonitor", "t7600-merge",
]
SCRIPT_TIMEOUT = 1200
_TAP = re.compile(r"^(ok|not ok) (\d+) - (.*?)(?: # (TODO|SKIP).*)?$")


def real_git() -> str:
    return os.environ.get("GITLANE_REAL_GIT") or shutil.which("git", path="/usr/bin:/bin") or "git"


def git_version() -> str:
    out = subprocess.run([real_git(), "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[2]


def source_dir() -> str:
    """git's source for the installed version, built enough to run t/."""
    version = git_version()
    src = os.path.join(CACHE, f"git-{version}")
    if not os.path.isdir(os.path.join(src, "t")):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(["apt-get", "source", "--download-only", "git"], cwd=CACHE, check=True)
        tarball = os.path.join(CACHE, f"git_{version}.orig.tar.xz")
        subprocess.run(["tar", "xf", tarball], cwd=CACHE, check=True)
    if not os.access(os.path.join(src, "t", "helper", "test-tool"), os.X_OK):
        subprocess.run(["make", "-j2", "NO_CURL=1", "NO_EXPAT=1", "NO_TCLTK=1", "NO_GETTEXT=1",
                        "NO_PYTHON=1", "NO_OPENSSL=1", "t/helper/test-tool", "GIT-BUILD-OPTIONS"],
                       cwd=src, check=True, stdout=subprocess.DEVNULL)
    if not os.path.isdir(os.path.join(src, "templates", "blt")):
        subprocess.run(["make", "-C", "templates"], cwd=src, check=True, stdout=subprocess.DEVNULL)
    return src


def session_bin(work: str) -> str:
    """A folder whose `git` counts its calls and execs the shim in a session."""
    folder = os.path.join(work, "bin")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "git")
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\n"
                 'case ${GITLANE_SESSION:-} in "") echo n >>"$GITLANE_DIFF_COUNT" ;; '
                 '*) echo s >>"$GITLANE_DIFF_COUNT" ;; esac\n'
                 f"exec '{SHIM}' \"$@\"\n")
    os.chmod(path, 0o755)
    return folder


def run_script(src: str, script: str, mode: str, work: str) -> dict:
    out_dir = os.path.join(work, mode)
    os.makedirs(out_dir, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITLANE_", "GIT_")) and k != "CLAUDE_CODE_SESSION_ID"}
    env["TEST_OUTPUT_DIRECTORY_OVERRIDE"] = out_dir
    env["GITLANE_REAL_GIT"] = real_git()
    count = os.path.join(out_dir, script + ".calls")
    if mode == "real":
        env["GIT_TEST_INSTALLED"] = os.path.dirname(real_git())
    else:
        env["GIT_TEST_INSTALLED"] = os.path.join(work, "bin")  # session_bin(work), made once
        env["GITLANE_DIFF_COUNT"] = count
    if mode == "session":
        env["GITLANE_SESSION"] = "difftest"
        env["GITLANE_SESSION_PID"] = str(os.getpid())
        env["GITLANE_LOCK_TIMEOUT"] = "5"
    started = time.time()
    try:
        done = subprocess.run(["sh", script + ".sh", f"--root={out_dir}/trash"], cwd=os.path.join(src, "t"),
                              env=env, capture_output=True, text=True, errors="replace",
                              timeout=SCRIPT_TIMEOUT, stdin=subprocess.DEVNULL)
        stdout, rc = done.stdout, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, rc = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""), "timeout"
    cases = {}
    for line in stdout.splitlines():
        m = _TAP.match(line)
        if m:
            state = m.group(1) if not m.group(4) else f"{m.group(1)} # {m.group(4)}"
            cases[m.group(2)] = [state, m.group(3)]
    calls = {"s": 0, "n": 0}
    if os.path.exists(count):
        with open(count) as fh:
            for word in fh.read().split():
                calls[word] = calls.get(word, 0) + 1
    return {"rc": rc, "cases": cases, "seconds": round(time.time() - started, 1),
            "calls_in_session": calls["s"], "calls_without": calls["n"]}


def compare(real: dict, lane: dict) -> list[dict]:
    diffs = []
    for num in sorted(set(real["cases"]) | set(lane["cases"]), key=int):
        a = real["cases"].get(num, ["missing", ""])
        b = lane["cases"].get(num, ["missing", ""])
        if a[0] != b[0]:
            diffs.append({"test": int(num), "title": a[1] or b[1], "real": a[0], "session": b[0]})
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scripts", nargs="*")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--report", help="report path without .json/.md (default: cache/report, "
                    "cache/report-plain with --no-session)")
    ap.add_argument("--keep", action="store_true", help="keep the trash folders (printed)")
    ap.add_argument("--no-session", action="store_true",
                    help="run the shim without a session (the passthrough: must match git exactly)")
    opts = ap.parse_args(argv)
    other = "plain" if opts.no_session else "session"
    opts.report = opts.report or os.path.join(CACHE, "report-plain" if opts.no_session else "report")
    scripts = [s.removesuffix(".sh") for s in opts.scripts] or SCRIPTS
    src = source_dir()
    work = tempfile.mkdtemp(prefix="gitlane-diff-")
    session_bin(work)  # once: rewriting it while a script runs it fails (ETXTBSY)
    results: dict[str, dict] = {}
    with concurrent.futures.ThreadPoolExecutor(opts.jobs) as pool:
        futs = {pool.submit(run_script, src, s, mode, work): (s, mode)
                for s in scripts for mode in ("real", other)}
        for fut in concurrent.futures.as_completed(futs):
            s, mode = futs[fut]
            results.setdefault(s, {})[mode] = fut.result()
    report = {"git": git_version(), "mode": other, "scripts": {}}
    total_cases = total_diff = 0
    what = "the shim without a session" if opts.no_session else "a lone gitlane session"
    lines = [f"# git {report['git']} test suite: real git vs {what}", "",
             f"| script | cases | differing | shim calls ({'without' if opts.no_session else 'in'} session) "
             f"| real s | {other} s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    detail: list[str] = []
    for s in scripts:
        r = results[s]
        r["session"] = r.pop(other)  # the report's key for the shim's run, whatever the mode
        diffs = compare(r["real"], r["session"])
        report["scripts"][s] = {**r, "differing": diffs}
        total_cases += len(r["real"]["cases"])
        total_diff += len(diffs)
        calls = r["session"]["calls_without" if opts.no_session else "calls_in_session"]
        lines.append(f"| {s} | {len(r['real']['cases'])} | {len(diffs)} | {calls} "
                     f"| {r['real']['seconds']} | {r['session']['seconds']} |")
        for d in diffs:
            detail.append(f"- {s} #{d['test']} {d['title']}: real `{d['real']}`, {other} `{d['session']}`")
    lines += ["", f"**Total: {total_diff} differing of {total_cases} cases in {len(scripts)} scripts.**", ""]
    lines += detail
    report["total_cases"], report["total_differing"] = total_cases, total_diff
    os.makedirs(os.path.dirname(opts.report), exist_ok=True)
    with open(opts.report + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    with open(opts.report + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines[: len(scripts) + 6]))
    if opts.keep:
        print(f"trash folders kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if total_diff else 0


if __name__ == "__main__":
    sys.exit(main())
