"""Session branches (issue 17): `checkout -b`, `switch` move only the
session's own HEAD while a peer is live; commits land on the session's
branch; peers' files never change on disk; refusals change nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import Lane


def _commit(lane: Lane, who: str, path: str, text: str) -> str:
    lane.write(path, text)
    lane.git("add", path, session=who)
    lane.git("commit", "-q", "-m", f"{who}: {path}", session=who)
    return lane.plain("rev-parse", f"{_branch(lane, who)}").stdout.decode().strip()


def _branch(lane: Lane, who: str) -> str:
    return lane.out("rev-parse", "--abbrev-ref", "HEAD", session=who).strip()


def _subjects(lane: Lane, rev: str) -> list[str]:
    return lane.plain("log", "--format=%s", rev).stdout.decode().split("\n")[:-1]


@pytest.fixture
def bare(lane: Lane, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    lane.plain("init", "-q", "--bare", str(remote))
    lane.plain("remote", "add", "origin", str(remote))
    lane.plain("push", "-q", "origin", "main")
    return remote


def test_pull_request_flow_for_two_sessions_in_one_checkout(lane: Lane, bare: Path) -> None:
    base = lane.head()
    lane.git("status", session="bob")  # bob is live
    res = lane.git("checkout", "-b", "feat-a", session="alice")
    assert res.stderr.decode() == "Switched to a new branch 'feat-a'\n"
    assert _branch(lane, "alice") == "feat-a"
    assert _branch(lane, "bob") == "main"
    assert lane.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/main\n"
    a1 = _commit(lane, "alice", "a.txt", "alice 1\n")
    b1 = _commit(lane, "bob", "b.txt", "bob 1\n")
    a2 = _commit(lane, "alice", "a2.txt", "alice 2\n")
    assert _subjects(lane, "feat-a") == ["alice: a2.txt", "alice: a.txt", "init"]
    assert _subjects(lane, "main") == ["bob: b.txt", "init"]
    assert lane.plain("rev-parse", "feat-a~2").stdout.decode().strip() == base
    assert lane.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/main\n"
    assert (a1, a2) != (b1, b1)
    # each sees only its own work as changes: no peer's commit shows up
    assert lane.out("status", "--porcelain", session="alice") == ""
    assert lane.out("status", "--porcelain", session="bob") == ""
    assert lane.out("branch", "--show-current", session="alice") == "feat-a\n"
    lane.git("push", "-q", "-u", "origin", "HEAD", session="alice")
    remote = Lane(bare)
    assert remote.plain("rev-parse", "feat-a").stdout.decode().strip() == a2
    assert remote.plain("rev-parse", "main").stdout.decode().strip() == base
    assert lane.read("b.txt") == "bob 1\n"
    lane.git("checkout", "main", session="alice")
    assert _branch(lane, "alice") == "main"
    assert not (lane.path / "a.txt").exists() and not (lane.path / "a2.txt").exists()
    assert lane.read("b.txt") == "bob 1\n"
    assert lane.out("status", "--porcelain", session="alice") == ""
    assert lane.out("status", "--porcelain", session="bob") == ""
    assert not (lane.path / ".git/gitlane/sessions/alice/gitdir").exists()
    lane.fsck()


def _snapshot(lane: Lane) -> dict[str, bytes]:
    """Every file of the work tree (outside .git) with its bytes."""
    out = {}
    for root, dirs, names in os.walk(lane.path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for n in names:
            p = Path(root, n)
            out[str(p.relative_to(lane.path))] = p.read_bytes()
    return out


def _state(lane: Lane, who: str) -> tuple:  # type: ignore[type-arg]
    sdir = lane.path / ".git" / "gitlane" / "sessions" / who
    head = (sdir / "gitdir" / "HEAD").read_bytes() if (sdir / "gitdir" / "HEAD").exists() else None
    return (lane.session_index(who).read_bytes(), (sdir / "base").read_bytes(), head,
            lane.plain("for-each-ref").stdout, _snapshot(lane))


def test_a_branch_another_live_session_has_is_refused(lane: Lane) -> None:
    lane.git("status", session="bob")
    lane.git("checkout", "-q", "-b", "feat-a", session="alice")
    before = _state(lane, "bob")
    res = lane.git("switch", "feat-a", session="bob", check=False)
    assert res.returncode == 1
    assert "branch 'feat-a' is checked out by session alice" in res.stderr.decode()
    assert "git switch -c NEW feat-a" in res.stderr.decode()
    assert _state(lane, "bob") == before and _branch(lane, "bob") == "main"
    # the shared branch is everybody's: alice may come back to it while bob is on it
    lane.git("switch", "-q", "main", session="alice")
    assert _branch(lane, "alice") == _branch(lane, "bob") == "main"


def test_a_switch_that_would_change_a_peers_file_is_refused(lane: Lane) -> None:
    lane.git("checkout", "-q", "-b", "other", session="alice")  # alone: plain git, shared HEAD moves
    _commit(lane, "alice", "shared.txt", "other's version\n")
    lane.git("checkout", "-q", "main", session="alice")
    assert not (lane.path / "shared.txt").exists()
    lane.write("shared.txt", "bob's new file\n")          # bob's file, unattributed and untracked
    lane.write("README", "bob edits README\n")
    lane.git("add", "README", session="bob")               # bob's staged claim
    lane.plain("branch", "readme-b")
    lane.git("checkout", "-q", "readme-b", session="carol")  # carol's branch, carol is private now
    lane.git("status", session="alice")  # alice's view of bob's claim is current
    before = _state(lane, "alice")
    res = lane.git("checkout", "other", session="alice", check=False)
    assert res.returncode == 1, res.stderr.decode()
    assert "untracked working tree files would be overwritten" in res.stderr.decode()
    assert "shared.txt" in res.stderr.decode()
    assert _state(lane, "alice") == before
    assert lane.read("shared.txt") == "bob's new file\n"
    # a branch whose README differs: README is bob's staged path
    res = _refused_readme(lane)
    assert "it would change files other live sessions own:\n  README  staged by session bob" in res, res
    assert lane.read("README") == "bob edits README\n"
    assert _state(lane, "alice")[:3] == before[:3] and _branch(lane, "alice") == "main"


def _refused_readme(lane: Lane) -> str:
    """A branch whose README differs from main's, and alice switching to it."""
    blob = lane.plain("hash-object", "-w", "--stdin", input=b"readme on x\n").stdout.decode().strip()
    tree = lane.plain("mktree", input=f"100644 blob {blob}\tREADME\n".encode()).stdout.decode().strip()
    commit = lane.plain("commit-tree", "-p", "main", "-m", "x", tree).stdout.decode().strip()
    lane.plain("update-ref", "refs/heads/readme-x", commit)
    res = lane.git("checkout", "readme-x", session="alice", check=False)
    assert res.returncode == 1
    return res.stderr.decode()


def test_alone_a_switch_is_plain_git_and_moves_the_shared_head(lane: Lane) -> None:
    res = lane.git("checkout", "-b", "solo", session="alice")
    plain = Lane(lane.path)
    assert res.stderr == b"Switched to a new branch 'solo'\n" and res.returncode == 0
    assert plain.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/solo\n"
    assert not (lane.path / ".git/gitlane/sessions/alice/gitdir").exists()
    _commit(lane, "alice", "s.txt", "solo\n")
    assert _subjects(lane, "solo")[0] == "alice: s.txt"
    # a peer arriving later starts on the shared HEAD's branch, as git would show it
    assert _branch(lane, "bob") == "solo"
    # now alice is not alone: her switch back moves only her HEAD
    lane.git("checkout", "-q", "main", session="alice")
    assert _branch(lane, "alice") == "main" and _branch(lane, "bob") == "solo"
    assert plain.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/solo\n"
    assert not (lane.path / "s.txt").exists()  # alice's own commit: hers to take off the disk
    assert lane.out("status", "--porcelain", session="alice") == ""
    assert lane.out("status", "--porcelain", session="bob") == ""


def test_a_switch_that_would_remove_a_file_a_live_peer_committed_is_refused(lane: Lane) -> None:
    lane.plain("branch", "old")
    lane.git("status", session="alice")
    _commit(lane, "bob", "b.txt", "bob's commit\n")
    res = lane.git("switch", "old", session="alice", check=False)
    assert res.returncode == 1
    assert "b.txt  committed by session bob in " in res.stderr.decode(), res.stderr.decode()
    assert lane.read("b.txt") == "bob's commit\n" and _branch(lane, "alice") == "main"
    lane.git("switch", "-q", "-c", "mine", session="alice")  # a branch from here always works
    assert _branch(lane, "alice") == "mine"


def test_back_and_forth_and_detached_head_survives_gc(lane: Lane) -> None:
    lane.git("status", session="bob")
    b1 = _commit(lane, "bob", "b.txt", "bob 1\n")
    lane.git("switch", "-q", "-c", "feat", session="alice")
    _commit(lane, "alice", "f.txt", "feat 1\n")
    for _ in range(2):
        lane.git("switch", "-q", "main", session="alice")
        assert not (lane.path / "f.txt").exists() and lane.read("b.txt") == "bob 1\n"
        lane.git("switch", "-q", "-", session="alice")
        assert _branch(lane, "alice") == "feat" and lane.read("f.txt") == "feat 1\n"
        assert lane.out("status", "--porcelain", session="alice") == ""
    lane.git("checkout", "-q", "--detach", session="alice")
    assert _branch(lane, "alice") == "HEAD"
    lost = _commit(lane, "alice", "d.txt", "detached work\n")
    lost = lane.out("rev-parse", "HEAD", session="alice").strip()
    lane.plain("gc", "-q", "--prune=now")
    lane.plain("worktree", "prune")
    assert lane.plain("cat-file", "-t", lost).stdout == b"commit\n"
    assert lane.out("rev-parse", "HEAD", session="alice").strip() == lost
    assert _branch(lane, "bob") == "main" and lane.plain("rev-parse", "main").stdout.decode().strip() == b1
    lane.git("switch", "-q", "main", session="alice")
    assert not (lane.path / "d.txt").exists()
    assert lane.plain("for-each-ref", "refs/gitlane/heads/").stdout == b""
    lane.fsck()


def test_hooks_of_a_session_commit_see_the_sessions_branch(lane: Lane) -> None:
    hook = lane.path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\ngit rev-parse --abbrev-ref HEAD > \"$(git rev-parse --show-toplevel)/.git/seen\"\n")
    hook.chmod(0o755)
    lane.git("status", session="bob")
    lane.git("checkout", "-q", "-b", "feat-h", session="alice")
    _commit(lane, "alice", "h.txt", "h\n")
    assert (lane.path / ".git" / "seen").read_text() == "feat-h\n"
    _commit(lane, "bob", "hb.txt", "hb\n")
    assert (lane.path / ".git" / "seen").read_text() == "main\n"


# --- SIGKILL mid-switch: the next command finishes it, nothing is lost ------------------

KILL_AT = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
point = sys.argv[2]
_replace = os.replace
def replace(src, dst, *args, **kw):
    name, _, when = point.partition("@")
    hit = os.fspath(dst).endswith(name)
    if hit and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = _replace(src, dst, *args, **kw)
    if hit and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
os.replace = replace
from gitlane.git import verbs
def killing(method):
    real = getattr(verbs.Git, method)
    def wrapped(self, *a, **kw):
        if point == method + "@after":
            real(self, *a, **kw)
        os.kill(os.getpid(), signal.SIGKILL)
    return wrapped
for method in ("checkout_index", "set_head"):
    if point.startswith(method + "@"):
        setattr(verbs.Git, method, killing(method))
from gitlane.run.dispatch import main
sys.argv = ["git", *sys.argv[3:]]
main()
"""
KILL_POINTS = ["sessions/A/switch@after", "checkout_index@after", "set_head@before", "set_head@after",
               "sessions/A/index@before", "sessions/A/base@after"]


def _killed_at(lane: Lane, pid: int, point: str, *args: str) -> subprocess.CompletedProcess:
    from gitlane.testing.lane import SHIM, real_git
    from gitlane.testing.processes import RUN_TIMEOUT, lane_env
    return subprocess.run([str(SHIM.parent / ".venv" / "bin" / "python"), "-c", KILL_AT, str(SHIM.parent / "src"),
                           point, real_git(), *args], cwd=lane.path, capture_output=True,
                          env=lane_env("A", pid), timeout=RUN_TIMEOUT)


@pytest.mark.parametrize("direction", ["to-feat", "to-main"])
@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_mid_switch_is_finished_by_the_next_command(pair, point: str, direction: str) -> None:
    from gitlane.testing.processes import run_in
    lane, a, b = pair
    run_in(lane, "B", b, "status")
    lane.git("checkout", "-q", "-b", "feat", session="A", pid=a)
    for rel, text in (("f.txt", "feat file\n"), ("README", "README on feat\n")):
        lane.write(rel, text)
        lane.git("add", rel, session="A", pid=a)
    lane.git("commit", "-q", "-m", "A on feat", session="A", pid=a)
    lane.write("b.txt", "B's staged file\n")           # B's work, untouched whatever happens
    run_in(lane, "B", b, "add", "b.txt")
    lane.write("own.txt", "A's untracked file\n")
    if direction == "to-feat":
        lane.git("checkout", "-q", "main", session="A", pid=a)
        args, want, files = ("checkout", "feat"), "feat", {"f.txt": "feat file\n", "README": "README on feat\n"}
    else:
        args, want, files = ("switch", "main"), "main", {"f.txt": None, "README": lane.plain(
            "show", "main:README").stdout.decode()}
    res = _killed_at(lane, a, point, *args)
    assert res.returncode == -signal.SIGKILL, res.stderr.decode()
    after = run_in(lane, "A", a, "status", "--porcelain")
    assert after.returncode == 0, after.stderr.decode()
    assert after.stdout == b"?? own.txt\n", after.stdout.decode()
    assert run_in(lane, "A", a, "rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip() == want
    for rel, text in files.items():
        assert (lane.read(rel) if (lane.path / rel).exists() else None) == text, rel
    assert lane.read("b.txt") == "B's staged file\n" and lane.read("own.txt") == "A's untracked file\n"
    assert run_in(lane, "B", b, "rev-parse", "--abbrev-ref", "HEAD").stdout == b"main\n"
    assert lane.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/main\n"
    sdir = lane.path / ".git" / "gitlane" / "sessions" / "A"
    assert not (sdir / "switch").exists() and not (sdir / "index.before-switch").exists()
    lane.fsck()


def _cli(lane: Lane, *args: str, session: str | None = None) -> subprocess.CompletedProcess:
    from gitlane.testing.lane import SHIM, shim_env
    return subprocess.run([str(SHIM / "gitlane"), *args], cwd=lane.path, capture_output=True,
                          env=shim_env(session), check=True)


def test_status_lists_branches_and_an_ended_sessions_unmerged_branch(lane: Lane) -> None:
    import json
    lane.git("status", session="bob")
    lane.git("checkout", "-q", "-b", "feat-a", session="alice")
    _commit(lane, "alice", "a.txt", "alice\n")
    got = {s["name"]: s["branch"] for s in json.loads(_cli(lane, "sessions", "--json").stdout)}
    assert got == {"alice": "feat-a", "bob": "main"}
    table = _cli(lane, "status").stdout.decode().splitlines()
    assert table[0].split()[:3] == ["SESSION", "STATE", "BRANCH"]
    assert sorted(line.split()[:3] for line in table[1:3]) == [["alice", "live", "feat-a"], ["bob", "live", "main"]]
    # alice ends: her file goes back to main's version (main has none), her branch stays and is listed
    _end(lane, "alice")
    assert not (lane.path / "a.txt").exists()
    assert not (lane.path / ".git/gitlane/sessions/alice/gitdir").exists()
    assert lane.plain("rev-parse", "feat-a:a.txt").returncode == 0
    got = {s["name"]: s["branch"] for s in json.loads(_cli(lane, "sessions", "--json").stdout)}
    assert got == {"alice": "feat-a (unmerged)", "bob": "main"}
    assert lane.out("status", "--porcelain", session="bob") == ""
    lane.git("merge", "-q", "--no-edit", "feat-a", session="bob")
    got = {s["name"]: s["branch"] for s in json.loads(_cli(lane, "sessions", "--json").stdout)}
    assert got == {"alice": None, "bob": "main"}
    assert lane.read("a.txt") == "alice\n"
    lane.fsck()


def _end(lane: Lane, who: str) -> None:
    """What Claude Code's SessionEnd hook does for a session."""
    from gitlane.testing.lane import SHIM, shim_env
    payload = json.dumps({"session_id": who, "cwd": str(lane.path), "hook_event_name": "SessionEnd"})
    res = subprocess.run([str(SHIM / "gitlane"), "hook", "session-end"], cwd=lane.path, input=payload.encode(),
                         capture_output=True, env=shim_env(None))
    assert res.returncode == 0, res.stderr.decode()


def test_torture_four_sessions_on_branches_and_two_on_main_commit_at_once(lane: Lane, owner_proc) -> None:
    import threading
    from gitlane.testing.processes import run_in
    base = lane.head()
    on_branch, on_main, rounds = ["s1", "s2", "s3", "s4"], ["m1", "m2"], 3
    pids = {n: owner_proc().pid for n in on_branch + on_main}
    for n, pid in pids.items():
        assert run_in(lane, n, pid, "status").returncode == 0  # all six live before anyone switches
    start = threading.Barrier(len(pids))
    errors: list[str] = []

    def work(name: str) -> None:
        def git(*args: str) -> None:
            res = run_in(lane, name, pids[name], *args)
            if res.returncode != 0:
                errors.append(f"{name}: git {' '.join(args)}: {res.stderr.decode()}")
        start.wait()
        if name in on_branch:
            git("checkout", "-q", "-b", f"br-{name}")
        for k in range(rounds):
            lane.write(f"{name}/{k}.txt", f"{name} {k}\n")
            git("add", f"{name}/{k}.txt")
            git("commit", "-q", "-m", f"{name} {k}")
    threads = [threading.Thread(target=work, args=(n,)) for n in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], "\n".join(errors)
    want_main = {f"{n}/{k}.txt" for n in on_main for k in range(rounds)}
    for n in on_branch:
        # a branch starts wherever main was when its session created it
        fork = lane.plain("merge-base", "main", f"br-{n}").stdout.decode().strip()
        assert lane.plain("merge-base", "--is-ancestor", base, fork).returncode == 0
        subjects = sorted(_subjects(lane, f"main..br-{n}"))
        assert subjects == [f"{n} {k}" for k in range(rounds)], (n, subjects)
        assert lane.plain("rev-list", "--count", f"{fork}..br-{n}").stdout == f"{rounds}\n".encode()
        files = set(lane.tree_files(f"br-{n}")) - set(lane.tree_files(fork))
        assert set(lane.tree_files(fork)) - set(lane.tree_files(base)) <= want_main
        assert files == {f"{n}/{k}.txt" for k in range(rounds)}, (n, files)
        assert run_in(lane, n, pids[n], "rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip() == f"br-{n}"
    assert sorted(_subjects(lane, f"{base}..main")) == sorted(f"{n} {k}" for n in on_main for k in range(rounds))
    assert set(lane.tree_files("main")) - set(lane.tree_files(base)) == want_main
    assert lane.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/main\n"
    for n, pid in pids.items():
        res = run_in(lane, n, pid, "status", "--porcelain")
        assert res.returncode == 0 and res.stdout == b"", (n, res.stdout.decode(), res.stderr.decode())
    for n in on_branch + on_main:
        for k in range(rounds):
            assert lane.read(f"{n}/{k}.txt") == f"{n} {k}\n"  # every session's files are on disk
    lane.fsck()


def test_a_branch_a_live_session_is_on_cannot_be_deleted_under_it(lane: Lane) -> None:
    lane.git("status", session="bob")
    lane.git("checkout", "-q", "-b", "feat-a", session="alice")
    res = lane.git("branch", "-D", "feat-a", session="bob", check=False)
    assert res.returncode == 1 and "'feat-a' is checked out by session alice" in res.stderr.decode()
    assert lane.plain("rev-parse", "--verify", "-q", "refs/heads/feat-a").returncode == 0
    lane.git("switch", "-q", "-", session="alice")
    lane.git("branch", "-q", "-D", "feat-a", session="bob")


def test_staged_work_is_carried_through_a_switch_or_refused_with_gits_message(lane: Lane) -> None:
    lane.git("status", session="bob")
    lane.git("checkout", "-q", "-b", "feat", session="alice")
    _commit(lane, "alice", "f.txt", "feat\n")
    lane.write("y.txt", "staged on feat\n")
    lane.git("add", "y.txt", session="alice")
    lane.git("switch", "-q", "main", session="alice")
    assert lane.staged("alice") == {"y.txt"} and not (lane.path / "f.txt").exists()
    lane.git("switch", "-q", "feat", session="alice")
    assert lane.staged("alice") == {"y.txt"} and lane.read("f.txt") == "feat\n"
    lane.write("f.txt", "unstaged edit\n")
    before = lane.session_index("alice").read_bytes()
    res = lane.git("switch", "main", session="alice", check=False)
    assert res.returncode == 1
    assert res.stderr.decode() == ("error: Your local changes to the following files would be overwritten by "
                                   "checkout:\n\tf.txt\nPlease commit your changes or stash them before you "
                                   "switch branches.\nAborting\n")
    assert lane.read("f.txt") == "unstaged edit\n" and lane.session_index("alice").read_bytes() == before
    lane.git("commit", "-q", "-am", "both", session="alice")
    assert lane.tree_files("feat")["f.txt"] == "unstaged edit\n" and lane.tree_files("feat")["y.txt"] == \
        "staged on feat\n"
    assert "y.txt" not in lane.tree_files("main")


def test_a_peer_commit_while_the_switch_waits_for_the_lock_is_not_reverted(pair, running, tmp_path: Path) -> None:
    """B commits while A's `checkout -b` waits for the global lock: A's new
    branch starts at B's commit and A's index stages nothing of it."""
    from gitlane.testing.lane import SHIM
    from gitlane.testing.processes import Gate, lane_env, run_in, stage, wait_for_file, wait_until_blocked_in_flock
    lane, a, b = pair
    run_in(lane, "A", a, "status")
    gate = Gate(tmp_path)
    gate.install(lane, "pre-commit")
    stage(lane, "B", b, {"b.txt": "B's commit\n"})
    gate.arm()
    cb = running([str(SHIM / "git"), "commit", "-q", "-m", "B"], lane.path, lane_env("B", b))
    wait_for_file(gate.ready, cb)                      # B holds the global lock, inside its hook
    ca = running([str(SHIM / "git"), "checkout", "-q", "-b", "feat"], lane.path, lane_env("A", a))
    wait_until_blocked_in_flock(ca.proc.pid, ca.proc.pid)
    gate.release()
    assert cb.finish() == 0, cb.stderr
    assert ca.finish() == 0, ca.stderr
    assert lane.plain("rev-parse", "feat").stdout == lane.plain("rev-parse", "main").stdout
    assert lane.staged("A") == set()
    assert run_in(lane, "A", a, "status", "--porcelain").stdout == b""
    stage(lane, "A", a, {"a.txt": "A\n"})
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.tree_files("feat")["b.txt"] == "B's commit\n"
