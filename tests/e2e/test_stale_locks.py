"""Stale and live git locks: a lock left by a killed git is reclaimed (and
audited) by the next command; a lock a live git holds is waited for and
never stolen, however old it looks; `gitlane doctor` reports and fixes them."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git
from gitlane.testing.processes import (Gate, age, audit, blob_in_index, gitlane, lane_env, plain_env, run_in,
                                       stage, wait_for_file)


def _session_index_lock(lane: Lane, full: bool) -> Path:
    lock = lane.session_index("A").with_name("index.lock")
    if full:
        shutil.copyfile(lane.session_index("A"), lock)
    else:
        lock.write_bytes(b"")
    return lock


@pytest.mark.parametrize("which", ["session-index-0-byte", "session-index-full", "branch-ref", "HEAD"])
def test_stale_lock_reclaimed_by_next_commit(pair, which: str) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    if which.startswith("session-index"):
        lock = _session_index_lock(lane, which.endswith("full"))
    else:
        lock = lane.path / ".git" / ("HEAD.lock" if which == "HEAD" else "refs/heads/main.lock")
        lock.write_bytes(b"")
    size = lock.stat().st_size
    assert (size > 0) is (which == "session-index-full")
    age(lock)
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A1")
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert f"gitlane: removed stale lock {lock} ({size} bytes, " in err
    assert not lock.exists()
    assert lane.commit_files("HEAD") == {"a1"}
    (rec,) = audit(lane, "reclaim")
    assert rec["session"] == "A" and rec["detail"].startswith(f"{lock} ({size} bytes, ")
    lane.fsck()


@pytest.mark.parametrize("peer_change", ["unstage", "stage"])
def test_stale_session_index_lock_does_not_break_reads(pair, peer_change: str) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    if peer_change == "unstage":
        stage(lane, "B", b, {"README": "B's README\n"})
    assert run_in(lane, "A", a, "status").returncode == 0   # A's view is in step with B's claims
    lock = _session_index_lock(lane, False)                  # as a SIGKILLed `git commit` of A leaves it
    age(lock)
    if peer_change == "unstage":
        assert run_in(lane, "B", b, "restore", "--staged", "README").returncode == 0
    else:
        stage(lane, "B", b, {"README": "B's README\n"})
    for args in (["status", "--porcelain"], ["log", "--format=%s"]):
        res = run_in(lane, "A", a, *args)
        assert res.returncode == 0, res.stderr.decode()
    assert run_in(lane, "A", a, "diff", "--cached", "--name-only").stdout == b"a1\n"


def test_fresh_lock_of_a_dead_tool_reclaimed_after_grace(pair) -> None:
    """A lock just left by a git outside gitlane that died: no git process is
    alive, so it is reclaimed once the grace period has passed."""
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    lock = lane.path / ".git" / "refs" / "heads" / "main.lock"
    lock.write_bytes(b"")
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A1")
    assert res.returncode == 0, res.stderr.decode()
    assert not lock.exists() and lane.commit_files("HEAD") == {"a1"}
    assert len(audit(lane, "reclaim")) == 1


def test_stale_locks_all_at_once(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    locks = [_session_index_lock(lane, True), lane.path / ".git" / "HEAD.lock",
             lane.path / ".git" / "refs" / "heads" / "main.lock"]
    for lock in locks[1:]:
        lock.write_bytes(b"")
    for lock in locks:
        age(lock)
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A1")
    assert res.returncode == 0, res.stderr.decode()
    assert not any(lock.exists() for lock in locks)
    assert sorted(r["detail"].split(" (")[0] for r in audit(lane, "reclaim")) == sorted(map(str, locks))


def test_stale_shared_index_lock_reclaimed_by_next_commit(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    age(lock)
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A1")
    assert res.returncode == 0, res.stderr.decode()
    assert "was not updated" not in res.stderr.decode()
    assert not lock.exists()
    assert lane.plain("status", "--porcelain").stdout == b""   # .git/index knows a1
    assert len(audit(lane, "reclaim")) == 1


def test_live_ref_lock_holder_is_waited_for_never_stolen(pair, running, tmp_path: Path) -> None:
    """A real git without a session holds HEAD.lock and the branch lock while
    its reference-transaction hook blocks. The locks are made to look old:
    only the live process tells them from stale ones."""
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "reference-transaction", condition='[ "$1" = prepared ]')
    lane.write("plain.txt", "plain\n")
    lane.plain("add", "plain.txt")
    gate.arm()
    slow = running([real_git(), "commit", "-q", "-m", "plain, slow"], lane.path, plain_env())
    wait_for_file(gate.ready, slow)
    locks = [lane.path / ".git" / "HEAD.lock", lane.path / ".git" / "refs" / "heads" / "main.lock"]
    assert all(lock.exists() for lock in locks)
    for lock in locks:
        age(lock)
    stage(lane, "A", a, {"a1": "A one\n"})
    ca = running([str(SHIM / "git"), "commit", "-q", "-m", "A1"], lane.path, lane_env("A", a))
    ca.wait_stderr(f"gitlane: waiting for HEAD.lock, held while pid {slow.pid} runs `{real_git()} commit -q -m")
    assert ca.proc.poll() is None and all(lock.exists() for lock in locks)
    # doctor sees a live holder too, and --fix leaves its locks alone
    doc = gitlane(lane, "doctor", "--fix")
    assert all(lock.exists() for lock in locks)
    assert f"belongs to a running git: pid {slow.pid}" in doc.stdout.decode(), doc.stdout.decode()
    gate.release()
    assert slow.finish() == 0, slow.stderr
    assert ca.finish() == 0, ca.stderr
    assert "removed stale lock" not in ca.stderr
    assert lane.plain("log", "--format=%s").stdout == b"A1\nplain, slow\ninit\n"
    assert lane.commit_files("HEAD") == {"a1"} and lane.commit_files("HEAD~1") == {"plain.txt"}
    assert audit(lane, "reclaim") == []
    lane.fsck()


def test_doctor_reports_stale_locks_and_fix_removes_them(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    locks = [lane.path / ".git" / "index.lock", lane.path / ".git" / "refs" / "heads" / "main.lock",
             _session_index_lock(lane, False)]
    for lock in locks:
        lock.touch()
        age(lock)
    res = gitlane(lane, "doctor")
    out = res.stdout.decode()
    assert res.returncode == 1, out
    for lock in locks:  # 3600 s old, and a slow machine may have taken a few seconds since
        assert re.search(rf"WARN  stale lock {re.escape(str(lock))} \(360\ds old, no git process running here\)\n"
                         r"      hint: gitlane doctor --fix removes it\n", out), out
    assert out.endswith(f"{len(locks)} problems left\n")
    assert all(lock.exists() for lock in locks)
    for lock in locks:
        age(lock)
    res = gitlane(lane, "doctor", "--fix")
    out = res.stdout.decode()
    assert res.returncode == 0, out
    for lock in locks:
        assert re.search(rf"WARN  stale lock {re.escape(str(lock))} \(360\ds old, no git process running here\)"
                         r"  \[fixed\]\n", out), out
    assert out.endswith("0 problems left\n")
    assert not any(lock.exists() for lock in locks)
    details = sorted(re.sub(r"\(360\ds old\)$", "(3600s old)", r["detail"]) for r in audit(lane, "reclaim"))
    assert details == sorted(f"doctor removed {lock} (3600s old)" for lock in locks)
    assert blob_in_index(lane, lane.session_index("A"), "a1") == b"A one\n"


# --- a git started outside the work tree still holds its locks ------------------------------------

def _hold_ref_transaction(lane: Lane, how: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real git, started as `how` says, holding refs/heads/main.lock in an
    open `update-ref --stdin` transaction; returns (process, lock)."""
    import os
    import subprocess
    import time
    env, cwd, argv = plain_env(), tmp_path, [real_git()]
    if how == "--git-dir":
        argv += [f"--git-dir={lane.path / '.git'}"]
    elif how == "-C":
        argv += ["-C", str(lane.path)]
    elif how == "GIT_DIR":
        env["GIT_DIR"] = str(lane.path / ".git")
    elif how == "worktree":
        lane.plain("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
        cwd = tmp_path / "wt"
    proc = subprocess.Popen([*argv, "update-ref", "--stdin"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = lane.head()
    proc.stdin.write(f"start\nupdate refs/heads/main {head} {head}\nprepare\n".encode())
    proc.stdin.flush()
    assert proc.stdout.readline() == b"start: ok\n"
    assert proc.stdout.readline() == b"prepare: ok\n"      # the lock is taken once prepare answers
    lock = lane.path / ".git" / "refs" / "heads" / "main.lock"
    assert lock.exists()
    if how != "-C":                                          # git chdirs for -C itself
        assert os.path.realpath(proc_cwd(proc.pid)) == os.path.realpath(cwd)
    age(lock)
    return proc, lock


def proc_cwd(pid: int) -> str:
    import os
    return os.readlink(f"/proc/{pid}/cwd")


@pytest.mark.parametrize("how", ["--git-dir", "-C", "GIT_DIR", "worktree"])
def test_lock_of_a_git_started_elsewhere_is_waited_for_never_deleted(pair, how: str, tmp_path: Path) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    holder, lock = _hold_ref_transaction(lane, how, tmp_path)
    try:
        res = run_in(lane, "A", a, "commit", "-q", "-m", "A", GITLANE_LOCK_TIMEOUT="1")
        err = res.stderr.decode()
        assert res.returncode == 1, err
        assert "removed stale lock" not in err and lock.exists(), err
        assert re.search(rf"gitlane: timed out after 1s waiting for \S+\.lock \(held while pid {holder.pid} "
                         rf"runs `{re.escape(real_git())}", err), err
        doc = gitlane(lane, "doctor", "--fix").stdout.decode()
        assert lock.exists() and f"belongs to a running git: pid {holder.pid}" in doc, doc
        out, _ = holder.communicate(b"commit\n", timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert holder.returncode == 0 and out == b"commit: ok\n"
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.commit_files("HEAD") == {"a1"} and audit(lane, "reclaim") == []
    lane.fsck()


def test_doctor_on_a_brand_new_lock_says_why_it_leaves_it(pair) -> None:
    lane, a, b = pair
    lock = lane.path / ".git" / "index.lock"
    lock.touch()
    out = gitlane(lane, "doctor", "--fix").stdout.decode()
    assert f"info  lock {lock} is " in out and "s old and no git process runs here: a git may be starting" in out, out
    assert "pid \n" not in out and "pid  " not in out and lock.exists()


@pytest.mark.parametrize("first", [["commit", "-q", "-m", "A1"], ["clean", "-n", "--", "a2"], ["add", "a2"]])
def test_stale_session_index_lock_cleared_before_isolation_sync(pair, first: list[str]) -> None:
    """A peer's claim changed, so the first command must re-sync A's view
    (update-index on A's index) before anything else: the leftover lock of
    A's killed git must be gone by then."""
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A one\n"})
    assert run_in(lane, "A", a, "status").returncode == 0
    lock = _session_index_lock(lane, False)
    age(lock)
    stage(lane, "B", b, {"README": "B's README\n"})         # A's view is now out of step
    lane.write("a2", "A two\n")
    res = run_in(lane, "A", a, *first)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert f"gitlane: removed stale lock {lock} (0 bytes, " in err and "File exists" not in err, err
    assert not lock.exists()
    if first[0] == "commit":
        assert lane.commit_files("HEAD") == {"a1"}
    assert lane.staged("B") == {"README"}
