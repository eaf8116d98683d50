"""No commit is ever undone (docs/DESIGN.md, "Invariants", 10): a failed
commit does not move the session's base, and while a peer is live a session
rewrites history only over its own commits (guard.history). Real git, real
processes; the person is the real git without a session."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from gitlane.testing.lane import SHIM, Lane, real_git
from gitlane.testing.processes import (RUN_TIMEOUT, Gate, audit, git_verb, gitlane, lane_env, plain_env, run_in,
                                       stage, wait_for_file, wait_gone, edit_tool)


def log(lane: Lane) -> list[str]:
    return lane.plain("log", "--format=%s").stdout.decode().split()


@pytest.mark.parametrize("form", [[], ["-a"], ["b"]], ids=["commit", "commit -a", "commit PATH"])
def test_a_failed_commit_keeps_the_base_and_the_retry_keeps_the_persons_commit(pair, running, tmp_path: Path,
                                                                              form: list[str]) -> None:
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "pre-commit", condition='[ -n "$GITLANE_HOOK_GATE" ]')
    stage(lane, "B", b, {"b": "bob\n"})
    stage(lane, "A", a, {"a": "alice\n"})                # a peer commit: bob's index is rebased,
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0  # its cache tree invalid
    if form == ["-a"]:
        edit_tool(lane, "B", "README", "bob's README\n")  # bob's (his edit tool), swept by -a: git
                                                           # rewrites the index first
    gate.arm()
    cb = running([str(SHIM / "git"), "commit", "-q", "-m", "B1", *form], lane.path,
                 lane_env("B", b, GITLANE_HOOK_GATE="1"))
    wait_for_file(gate.ready, cb)
    lane.write("h", "the person's h\n")                   # meanwhile a person commits
    lane.plain("add", "h")
    lane.plain("commit", "-q", "-m", "person")
    gate.release()
    assert cb.finish() != 0                                # cannot lock ref 'HEAD'
    assert "cannot lock ref" in cb.stderr, cb.stderr
    assert "b" in lane.staged("B")                         # bob's work is still staged, on the new HEAD
    res = run_in(lane, "B", b, "commit", "-q", "-m", "B1", *form)
    assert res.returncode == 0, res.stderr
    assert log(lane) == ["B1", "person", "A1", "init"]
    readme = "bob's README\n" if form == ["-a"] else "hello\n"
    assert lane.commit_files("HEAD") == ({"b", "README"} if form == ["-a"] else {"b"})
    assert lane.tree_files() == {"README": readme, "h": "the person's h\n", "b": "bob\n", "a": "alice\n"}
    lane.fsck()


def bob_commits(lane: Lane, b: int) -> str:
    stage(lane, "B", b, {"b": "bob\n"})
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B1").returncode == 0
    return lane.head()


REWRITES = [
    ["reset", "--hard", "HEAD~1"],
    ["reset", "--keep", "HEAD~1"],
    ["reset", "HEAD~1"],
    ["reset", "--mixed", "HEAD~1"],
    ["reset", "--soft", "HEAD~1"],
    ["update-ref", "refs/heads/master", "HEAD~1"],
    ["update-ref", "HEAD", "HEAD~1"],
    ["checkout", "-B", "master", "HEAD~1"],
    ["switch", "-C", "master", "HEAD~1"],
]


@pytest.mark.parametrize("argv", REWRITES, ids=[" ".join(r) for r in REWRITES])
def test_moving_the_branch_back_over_a_live_peers_commit_is_refused(pair, argv: list[str]) -> None:
    lane, a, b = pair
    lane.plain("branch", "-M", "master")
    stage(lane, "A", a, {})
    bobs = bob_commits(lane, b)
    res = run_in(lane, "A", a, *argv)
    assert res.returncode != 0, res.stdout + res.stderr
    err = res.stderr.decode()
    if argv[0] not in ("checkout", "switch"):             # those are refused as branch switches
        assert f"{bobs[:7]} B1 (session B)" in err, err
        assert "git revert" in err
    assert lane.head() == bobs and lane.read("b") == "bob\n"
    assert lane.staged("A") == set()                       # never turned into alice's staged work
    assert lane.plain("status", "--porcelain", "--", "b").stdout == b""
    assert log(lane) == ["B1", "init"]
    lane.fsck()


def test_rebase_interactive_dropping_a_peers_commit_is_refused(pair, tmp_path: Path) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a": "alice\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    bobs = bob_commits(lane, b)
    editor = tmp_path / "drop.sh"
    editor.write_text("#!/bin/sh\nsed -i '/B1/d' \"$1\"\n")
    editor.chmod(0o755)
    res = run_in(lane, "A", a, "rebase", "-i", "HEAD~2", GIT_SEQUENCE_EDITOR=str(editor))
    assert res.returncode != 0, res.stderr
    assert f"{bobs[:7]} B1 (session B)" in res.stderr.decode(), res.stderr
    assert lane.head() == bobs and log(lane) == ["B1", "A1", "init"]
    assert not (lane.path / ".git" / "rebase-merge").exists()
    lane.fsck()


@pytest.mark.parametrize("argv", REWRITES[:5], ids=[" ".join(r) for r in REWRITES[:5]])
def test_rewriting_my_own_commits_is_plain_git(pair, argv: list[str]) -> None:
    lane, a, b = pair
    lane.plain("branch", "-M", "master")
    bob_commits(lane, b)
    base = lane.head()
    stage(lane, "A", a, {"a": "alice\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    res = run_in(lane, "A", a, *argv)
    assert res.returncode == 0, res.stderr
    assert lane.head() == base and lane.read("b") == "bob\n"


def test_a_forced_rewrite_is_audited(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {})
    bobs = bob_commits(lane, b)
    res = run_in(lane, "A", a, "reset", "--soft", "HEAD~1", GITLANE_FORCE="1")
    assert res.returncode == 0, res.stderr
    assert lane.head() != bobs
    assert any("B1" in (r.get("detail") or "") for r in audit(lane, "force"))


def test_alone_a_rewrite_is_plain_git(lane: Lane, owner_proc) -> None:
    b = owner_proc()
    stage(lane, "B", b.pid, {"b": "bob\n"})
    assert run_in(lane, "B", b.pid, "commit", "-q", "-m", "B1").returncode == 0
    b.kill()
    b.wait()
    a = owner_proc().pid
    res = run_in(lane, "A", a, "reset", "--hard", "HEAD~1")
    assert res.returncode == 0, res.stderr
    assert log(lane) == ["init"]


def test_amending_a_peers_commit_is_refused_and_my_own_is_plain_git(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {})
    bobs = bob_commits(lane, b)
    res = run_in(lane, "A", a, "commit", "--amend", "-q", "-m", "mine now")
    assert res.returncode != 0 and f"{bobs[:7]} B1 (session B)" in res.stderr.decode(), res.stderr
    assert lane.head() == bobs
    stage(lane, "A", a, {"a": "alice\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    assert run_in(lane, "A", a, "commit", "--amend", "-q", "-m", "A1 again").returncode == 0
    assert lane.plain("log", "-1", "--format=%s").stdout == b"A1 again\n"


def test_a_persons_commit_is_protected(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {})
    stage(lane, "B", b, {})
    lane.write("p", "the person's p\n")
    lane.plain("add", "p")
    lane.plain("commit", "-q", "-m", "person")
    res = run_in(lane, "A", a, "reset", "--hard", "HEAD~1")
    assert res.returncode != 0 and "person (a person)" in res.stderr.decode(), res.stderr
    assert lane.read("p") == "the person's p\n" and log(lane) == ["person", "init"]


def test_rebase_onto_dropping_a_peers_commit_is_refused(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {})
    bobs = bob_commits(lane, b)
    stage(lane, "A", a, {"a": "alice\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    res = run_in(lane, "A", a, "rebase", "-q", "--onto", "HEAD~2", "HEAD~1")   # would drop B1
    assert res.returncode != 0 and f"{bobs[:7]} B1 (session B)" in res.stderr.decode(), res.stderr
    assert log(lane) == ["A1", "B1", "init"]


# --- .git/index follows every session commit ---------------------------------------

def pending_lines(lane: Lane) -> list[str]:
    p = lane.path / ".git" / "gitlane" / "main-index.pending"
    return p.read_text().splitlines() if p.exists() else []


def wait_until(cond, what: str, deadline: float = RUN_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    """A condition wait (bounded), never a timed sleep."""
    end = time.monotonic() + deadline
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def person_commits_and_keeps(lane: Lane, want: dict[str, str]) -> None:
    """What the person sees, then their plain `git add x && git commit`."""
    assert lane.plain("status", "--porcelain", "--untracked-files=no").stdout == b""
    lane.write("x", "the person's x\n")
    lane.plain("add", "x")
    lane.plain("commit", "-q", "-m", "person")
    assert lane.commit_files("HEAD") == {"x"}
    files = lane.tree_files()
    for path, text in want.items():
        assert files.get(path) == text, (path, files.get(path))
    assert lane.plain("status", "--porcelain", "--untracked-files=no").stdout == b""
    lane.fsck()


def shim_children(r) -> list[psutil.Process]:  # type: ignore[no-untyped-def]
    return psutil.Process(r.pid).children()


@pytest.mark.parametrize("follower", ["lives", "killed too"])
def test_a_shim_killed_right_after_its_commit_leaves_git_index_coherent(pair, running, tmp_path: Path,
                                                                      follower: str) -> None:
    lane, a, b = pair
    gate = Gate(tmp_path)
    gate.install(lane, "post-commit", condition='[ -n "$GITLANE_HOOK_GATE" ]')
    stage(lane, "A", a, {"s1": "A's new file\n", "README": "A's README\n"})
    old = lane.head()
    gate.arm()
    ca = running([str(SHIM / "git"), "commit", "-q", "-m", "A1"], lane.path, lane_env("A", a, GITLANE_HOOK_GATE="1"))
    wait_for_file(gate.ready, ca)                          # git updated HEAD; its post-commit hook runs
    assert lane.plain("log", "-1", "--format=%s").stdout == b"A1\n"
    assert pending_lines(lane) == [f"{old} -"]             # written before git commit ran
    kids = [p for p in shim_children(ca) if git_verb(p.cmdline()) != "commit"]
    assert len(kids) == 1                                  # the follower, forked before git
    os.kill(ca.pid, signal.SIGKILL)
    if follower == "killed too":
        kids[0].kill()
    assert ca.finish() == -signal.SIGKILL
    if follower == "killed too":
        wait_gone(kids)
        assert pending_lines(lane) == [f"{old} -"]
        report = gitlane(lane, "doctor")
        assert ".git/index has not yet followed 1 session commit(s)" in report.stdout.decode(), report.stdout
        stage(lane, "B", b, {"b": "B's b\n"})              # the next command of any session completes it
    wait_until(lambda: pending_lines(lane) == [], "the pending sync")
    gate.release()
    person_commits_and_keeps(lane, {"s1": "A's new file\n", "README": "A's README\n"})
    assert lane.plain("log", "--format=%s").stdout == b"person\nA1\ninit\n"


def test_a_busy_git_index_lock_during_session_commits(pair, tmp_path: Path) -> None:
    """index.lock held (by a live git of the repository) while sessions
    commit: every sync is left pending, then completed once it is free."""
    lane, a, b = pair
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    holder = subprocess.Popen([real_git(), "hash-object", "--stdin"], cwd=lane.path, stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    try:
        want = {}
        for i in range(3):
            for name, pid in (("A", a), ("B", b)):
                files = {f"{name}{i}": f"{name} {i}\n"}
                stage(lane, name, pid, files)
                res = run_in(lane, name, pid, "commit", "-q", "-m", f"{name}{i}")
                assert res.returncode == 0, res.stderr
                assert b".git/index is busy" in res.stderr
                want.update(files)
        assert len(pending_lines(lane)) == 6
    finally:
        lock.unlink()                                     # that git is done
        holder.kill()
        holder.wait()
    wait_until(lambda: pending_lines(lane) == [], "the pending syncs")
    person_commits_and_keeps(lane, want)


@pytest.mark.slow
def test_a_status_poller_while_three_sessions_commit(lane: Lane, owner_proc, running) -> None:
    owners = {n: owner_proc().pid for n in ("A", "B", "C")}
    poller = running(["sh", "-c", f"while :; do '{real_git()}' status --porcelain >/dev/null 2>&1; done"],
                     lane.path, plain_env())
    script = ("for i in $(seq 1 20); do echo \"$S $i\" > \"$S.$i\"; git add \"$S.$i\" && "
              "git commit -q -m \"$S $i\" || exit 1; done")
    workers = [running(["sh", "-c", script], lane.path, lane_env(n, pid, S=n)) for n, pid in owners.items()]
    for w in workers:
        assert w.finish(timeout=600) == 0, w.stderr
    poller.kill_group()
    poller.proc.wait()
    wait_until(lambda: pending_lines(lane) == [], "the pending syncs")
    want = {f"{n}.{i}": f"{n} {i}\n" for n in owners for i in range(1, 21)}
    person_commits_and_keeps(lane, want)
    assert len(lane.plain("log", "--format=%s").stdout.splitlines()) == 62


def test_doctor_finds_and_fixes_a_stale_git_index(pair) -> None:
    """Planted by hand: .git/index put back to before two session commits
    (one added s1 and changed README, one deleted gone); the person staged p
    meanwhile. doctor names exactly the session paths, --fix brings them to
    HEAD and keeps the person's p; a plain commit then reverts nothing."""
    lane, a, b = pair
    lane.write("gone", "to be deleted\n")
    lane.plain("add", "gone")
    lane.plain("commit", "-q", "-m", "gone")
    before = (lane.path / ".git" / "index").read_bytes()
    stage(lane, "A", a, {"s1": "A's s1\n", "README": "A's README\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    assert run_in(lane, "B", b, "rm", "-q", "gone").returncode == 0
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B1").returncode == 0
    (lane.path / ".git" / "index").write_bytes(before)      # the damage
    lane.write("p", "the person's p\n")
    lane.plain("add", "p")
    status = lane.plain("status", "--porcelain").stdout.decode()
    assert "D  s1" in status and "?? s1" in status          # what a person would see
    res = gitlane(lane, "doctor")
    out = res.stdout.decode()
    assert res.returncode == 1
    assert ".git/index is behind HEAD on 3 path(s) sessions committed: README, gone, s1" in out, out
    res = gitlane(lane, "doctor", "--fix")
    assert "[fixed]" in res.stdout.decode() and res.returncode == 0, res.stdout
    assert lane.plain("status", "--porcelain").stdout == b"A  p\n"
    lane.plain("commit", "-q", "-m", "person")
    assert lane.commit_files("HEAD") == {"p"}
    assert lane.tree_files() == {"README": "A's README\n", "s1": "A's s1\n", "p": "the person's p\n"}
    assert gitlane(lane, "doctor").returncode == 0
    lane.fsck()


def test_a_claim_whose_content_a_person_committed_stops_blocking(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {})
    stage(lane, "B", b, {"p": "bob's p\n"})
    res = run_in(lane, "A", a, "add", "p")
    assert res.returncode != 0 and b"staged by session B" in res.stderr  # its claim blocks
    lane.plain("add", "p")                                   # a person commits B's staged p
    lane.plain("commit", "-q", "-m", "person took p")
    lane.write("p", "alice's p\n")
    res = run_in(lane, "A", a, "add", "p")                   # no command of B's in between
    assert res.returncode == 0, res.stderr
    assert lane.staged("B") == set()                         # B's index follows HEAD on its next command
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A1").returncode == 0
    assert lane.tree_files()["p"] == "alice's p\n" and lane.commit_files("HEAD") == {"p"}
    assert lane.plain("log", "--format=%s").stdout == b"A1\nperson took p\ninit\n"
