"""SIGKILL at known points: the shim or its git child killed while a hook
runs, after git's ref update, mid-rebase, and at each atomic write of the
shim. Real git, real processes, real temporary repositories
(gitlane.testing.processes).

After every kill the invariants of docs/DESIGN.md ("Invariants") are checked:
- the next command in any session proceeds within the lock timeout
  (GITLANE_LOCK_TIMEOUT=20 here);
- nothing staged is lost: still staged, or recoverable through
  `gitlane export NAME`;
- no commit is reverted: HEAD holds every earlier commit's files;
- no commit is misattributed: each holds one session's files only;
- `git fsck` is clean.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git
from gitlane.testing.processes import (RUN_TIMEOUT, Gate, audit, blob_id, blob_in_index, export, lane_env,
                                       run_in, stage, tree_blobs, wait_for_file, wait_gone)


def test_kill_shim_while_commit_hook_runs(pair, running, tmp_path: Path) -> None:
    """The shim dies; its git child lives on holding the locks we passed it.
    B's commit waits for it, the orphan's commit lands, and A's next command
    sees a consistent state."""
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "pre-commit")
    stage(lane, "A", a, {"a1": "A one\n"})
    stage(lane, "B", b, {"b1": "B one\n"})
    gate.arm()
    ca = running([str(SHIM / "git"), "commit", "-q", "-m", "A1"], lane.path, lane_env("A", a))
    wait_for_file(gate.ready, ca)
    orphans = ca.git_children()
    assert [p.cmdline()[1:2] for p in orphans] == [["commit"]]
    os.kill(ca.pid, signal.SIGKILL)
    assert ca.finish() == -signal.SIGKILL
    # B can still stage (session lock only) ...
    stage(lane, "B", b, {"b2": "B two\n"})
    # ... and its commit waits for the orphan, which holds the global lock
    cb = running([str(SHIM / "git"), "commit", "-q", "-m", "B1"], lane.path, lane_env("B", b))
    cb.wait_stderr("gitlane: waiting for the global lock, held by session A")
    assert cb.proc.poll() is None
    gate.release()
    wait_gone(orphans)
    assert cb.finish() == 0, cb.stderr
    assert lane.plain("log", "--format=%s").stdout == b"B1\nA1\ninit\n"
    assert lane.commit_files("HEAD~1") == {"a1"} and lane.commit_files("HEAD") == {"b1", "b2"}
    res = run_in(lane, "A", a, "status", "--porcelain")
    assert res.returncode == 0 and res.stdout == b"", res.stdout + res.stderr
    assert lane.staged("A") == set() and lane.staged("B") == set()
    stage(lane, "A", a, {"a2": "A two\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A2").returncode == 0
    assert lane.commit_files("HEAD") == {"a2"}
    assert lane.tree_files() == {"README": "hello\n", "a1": "A one\n", "a2": "A two\n", "b1": "B one\n",
                                 "b2": "B two\n"}
    lane.fsck()


@pytest.mark.parametrize("victims", ["git", "git+shim"])
@pytest.mark.parametrize("form", ["commit-a", "commit"])
def test_kill_git_while_commit_hook_runs(pair, running, tmp_path: Path, victims: str, form: str) -> None:
    """git dies in the pre-commit hook: the commit did not happen and A's
    staged work is still staged. `commit -a` holds the session's index.lock
    while hooks run (git hands them GIT_INDEX_FILE=index.lock): A's next
    commit reclaims it. A plain commit has released it already."""
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "pre-commit")
    stage(lane, "A", a, {"a1": "A one\n", "README": "A's README\n"})
    lane.write("README", "A's README, edited again\n")
    flags = ["-a"] if form == "commit-a" else []
    gate.arm()
    ca = running([str(SHIM / "git"), "commit", "-q", *flags, "-m", "A1"], lane.path, lane_env("A", a))
    wait_for_file(gate.ready, ca)
    (git,) = ca.git_children()
    if victims == "git+shim":
        os.kill(ca.pid, signal.SIGKILL)
    git.kill()
    assert ca.finish() == -signal.SIGKILL
    ca.kill_group()                      # the hook's shell, still blocked on the FIFO
    lock = lane.session_index("A").with_name("index.lock")
    assert lock.exists() is (form == "commit-a")
    assert lane.plain("log", "--format=%s").stdout == b"init\n"
    # staged work is still staged (raw index) and recoverable through export
    assert blob_in_index(lane, lane.session_index("A"), "a1") == b"A one\n"
    assert blob_in_index(lane, lane.session_index("A"), "README") == b"A's README\n"
    patch = export(lane, "A")
    assert b"+A one" in patch and b"+A's README\n" in patch
    # B proceeds at once (its own index; the global lock is free)
    stage(lane, "B", b, {"b1": "B one\n"})
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B1").returncode == 0
    # A's next command proceeds within the timeout, reclaiming the stale lock
    res = run_in(lane, "A", a, "commit", "-q", *flags, "-m", "A1 again")
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert not lock.exists()
    want_readme = "A's README, edited again\n" if form == "commit-a" else "A's README\n"
    assert lane.commit_files("HEAD") == {"a1", "README"}
    assert lane.tree_files() == {"README": want_readme, "a1": "A one\n", "b1": "B one\n"}
    reclaimed = [r["detail"].split(" (")[0] for r in audit(lane, "reclaim")]
    if form == "commit-a":
        assert f"gitlane: removed stale lock {lock} (" in err
        assert reclaimed == [str(lock)]
    else:
        assert "stale lock" not in err and reclaimed == []
    lane.fsck()


@pytest.mark.parametrize("form", ["commit", "commit-a"])
def test_kill_git_after_its_ref_update_does_not_revert(pair, running, tmp_path: Path, form: str) -> None:
    """git dies in the reference-transaction hook's `committed` call: the
    branch has moved, but git has not yet put its new index in place."""
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "reference-transaction", condition='[ "$1" = committed ]')
    lane.write("README", "A's README\n")
    if form == "commit":
        stage(lane, "A", a, {"README": "A's README\n"})
    flags = ["-a"] if form == "commit-a" else []
    gate.arm()
    ca = running([str(SHIM / "git"), "commit", "-q", *flags, "-m", "A: README"], lane.path, lane_env("A", a))
    wait_for_file(gate.ready, ca)
    (git,) = ca.git_children()
    git.kill()
    ca.finish()
    ca.kill_group()
    assert lane.plain("log", "--format=%s").stdout == b"A: README\ninit\n"    # the commit landed
    res = run_in(lane, "A", a, "status", "--porcelain")
    assert (res.returncode, res.stdout) == (0, b""), res.stdout.decode() + res.stderr.decode()
    stage(lane, "A", a, {"a1": "A one\n"})
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A: a1")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.commit_files("HEAD") == {"a1"}
    assert lane.tree_files() == {"README": "A's README\n", "a1": "A one\n"}
    lane.fsck()


def _rebase_setup(lane: Lane) -> str:
    for i in range(3):
        lane.write(f"base{i}", f"base {i}\n")
        lane.plain("add", f"base{i}")
        lane.plain("commit", "-q", "-m", f"base {i}")
    return lane.head()


def _gated_rebase(pair, running, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Session A's `rebase -x`, stopped at its first --exec: (HEAD before, the running shim, its gate)."""
    lane, a, _ = pair
    orig = _rebase_setup(lane)
    gate = Gate(tmp_path)
    gate.arm()
    r = running([str(SHIM / "git"), "rebase", "-q", "-f", f"--exec={gate.shell()}", "HEAD~2"], lane.path,
                lane_env("A", a))
    wait_for_file(gate.ready, r)
    return orig, r, gate


def test_kill_git_mid_rebase(pair, running, tmp_path: Path) -> None:
    """git dies during `rebase -x`: the shim records the rebase as A's, B's
    commit is refused at once naming it, A aborts, and B then commits."""
    lane, a, b = pair
    orig, r, _ = _gated_rebase(pair, running, tmp_path)
    rebase_git = [p for p in r.git_children() if p.cmdline()[1:2] == ["rebase"]]
    assert len(rebase_git) == 1
    rebase_git[0].kill()
    r.finish()
    r.kill_group()
    assert (lane.path / ".git" / "rebase-merge").is_dir()
    stage(lane, "B", b, {"b1": "B one\n"})
    res = run_in(lane, "B", b, "commit", "-q", "-m", "B1")
    assert res.returncode == 1
    assert res.stderr.decode().startswith("gitlane: cannot commit: rebase-merge from session A is in progress")
    assert lane.staged("B") == {"b1"}
    res = run_in(lane, "A", a, "rebase", "--abort")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.head() == orig and not (lane.path / ".git" / "rebase-merge").exists()
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B1").returncode == 0
    assert lane.plain("rev-parse", "HEAD~1").stdout.decode().strip() == orig
    assert lane.commit_files("HEAD") == {"b1"}
    lane.fsck()


def test_kill_shim_mid_rebase_then_abort(pair, running, tmp_path: Path) -> None:
    lane, a, b = pair
    orig, r, gate = _gated_rebase(pair, running, tmp_path)
    orphans = r.git_children()
    os.kill(r.pid, signal.SIGKILL)
    r.finish()
    gate.release("fail")                 # the exec fails: the orphaned rebase stops, as after a crash
    wait_gone(orphans)
    assert (lane.path / ".git" / "rebase-merge").is_dir()
    res = run_in(lane, "A", a, "rebase", "--abort")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.head() == orig
    lane.fsck()


# --- SIGKILL at each atomic step of the shim ---------------------------------------------
# The shim runs as usual, except that it SIGKILLs itself at the first atomic
# write whose target matches a pattern: just after creating the temporary
# file (mid-write), or right before or right after the rename: a crash at a
# known point between two of its steps.

KILL_AT = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
_open, _replace, pattern, when = os.open, os.replace, sys.argv[2], sys.argv[3]
def open_(path, flags, *args, **kw):
    fd = _open(path, flags, *args, **kw)
    if when == "mid-write" and pattern in os.fspath(path) and flags & os.O_CREAT and flags & os.O_TRUNC:
        os.kill(os.getpid(), signal.SIGKILL)
    return fd
os.open = open_
def replace(src, dst, *args, **kw):
    hit = pattern in os.fspath(dst) and when != "mid-write"
    if hit and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = _replace(src, dst, *args, **kw)
    if hit:
        os.kill(os.getpid(), signal.SIGKILL)
    return result
os.replace = replace
from gitlane.run.dispatch import main
sys.argv = ["git", *sys.argv[4:]]
main()
"""
RENAMES = ["sessions/A/index", "sessions/A/base", "gitlane/generation", "refs/gitlane/sessions/A",
           "sessions/A/isolated", "sessions/A/staged", "sessions/A/owner"]


def run_killed_at(lane: Lane, session: str, pid: int, pattern: str, when: str, *args: str) -> subprocess.CompletedProcess:
    env = lane_env(session, pid)
    return subprocess.run([str(SHIM.parent / ".venv" / "bin" / "python"), "-c", KILL_AT, str(SHIM.parent / "src"),
                           pattern, when, real_git(), *args], cwd=lane.path, capture_output=True, env=env,
                          timeout=RUN_TIMEOUT)


def _kill_cases() -> list:  # type: ignore[type-arg]
    cases = []
    for command in ("first-add", "add", "commit"):
        for pattern in RENAMES:
            for when in ("mid-write", "before", "after"):
                cases.append(pytest.param(command, pattern, when, marks=[],
                                          id=f"{command}-{pattern}-{when}"))
    return cases


@pytest.mark.parametrize("command,pattern,when", _kill_cases())
def test_sigkill_at_each_atomic_step(pair, command: str, pattern: str, when: str) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})            # a peer with staged work, for view isolation
    if command != "first-add":
        stage(lane, "A", a, {"a1": "A one\n"})
    lane.write("a2", "A two\n")
    args = ["commit", "-q", "-m", "A"] if command == "commit" else ["add", "a1" if command == "first-add" else "a2"]
    if command == "first-add":
        lane.write("a1", "A one\n")
    res = run_killed_at(lane, "A", a, pattern, when, *args)
    assert res.returncode in (0, -signal.SIGKILL), res.stderr.decode()
    # the repository is sound, gc works, and the next command in either session proceeds
    lane.fsck()
    gc = lane.plain("gc", "-q", "--prune=now", check=False)
    assert gc.returncode == 0, gc.stderr.decode()
    assert lane.plain("log", "--all", "--format=%s", check=False).returncode == 0
    for s, pid in (("A", a), ("B", b)):
        res2 = run_in(lane, s, pid, "status", "--porcelain")
        assert res2.returncode == 0, f"{s}: {res2.stderr.decode()}"
    refs = set(lane.plain("for-each-ref", "--format=%(refname)", "refs/gitlane/").stdout.decode().split())
    assert refs <= {"refs/gitlane/sessions/A", "refs/gitlane/sessions/B"}, refs
    # nothing acknowledged is lost: B's work untouched; A's a1 committed or still staged
    assert blob_in_index(lane, lane.session_index("B"), "b1") == b"B staged\n"
    if command == "commit":
        head = tree_blobs(lane)
        assert head.get("a1") == blob_id(b"A one\n") or \
            blob_in_index(lane, lane.session_index("A"), "a1") == b"A one\n"
    # A carries on: stage what it meant to, commit, and everything is in HEAD
    assert run_in(lane, "A", a, "add", "a1", "a2").returncode == 0
    res2 = run_in(lane, "A", a, "commit", "-q", "-m", "A again")
    assert res2.returncode == 0 or b"nothing to commit" in res2.stdout + res2.stderr, res2.stderr.decode()
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B").returncode == 0
    files = lane.tree_files()
    assert (files["a1"], files["a2"], files["b1"]) == ("A one\n", "A two\n", "B staged\n")
    assert lane.commit_files("HEAD") == {"b1"}
    lane.fsck()
