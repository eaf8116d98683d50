"""run.commit: the ref-moving pipeline, in-process on a real repository
(everything but the final exit_like). The real `git commit` runs under the
global and session locks (a hook checks with flock(1)); the new HEAD becomes
the base only when git finished; a rebase conflict is refused naming the
commit; a commit of a peer's path is refused before git runs; afterwards
claims, audit, snapshot and .git/index follow."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from gitlane import layout
from gitlane.errors import Fatal
from gitlane.run import classify, commit, stage
from gitlane.session import Session, isolation, refresh, snapshot
from gitlane.session import index as session_index
from gitlane.shared import claims, db, sessions
from gitlane.testing.inproc import commit_aside, commit_plain, invocation
from gitlane.testing.lane import Lane

FLOCK = shutil.which("flock")


@pytest.fixture
def a(lane: Lane, make_session: Callable[..., Session], monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.chdir(lane.path)            # the user's git runs where the user is, as in run.dispatch
    commit_plain(lane, "base", P="p\n", Q="q\n")
    s = make_session("A")
    refresh.ensure(s, "", "status", reading=True)
    return s


def add(lane: Lane, s: Session, **files: str) -> None:
    """`git add` in session s, claims recorded as stage.run would."""
    for rel, text in files.items():
        lane.write(rel, text)
    lane.plain("add", "--", *files, index=s.index.path)
    stage.claim_or_refuse(s, s.index.path, None, "")


def run_commit(s: Session, argv: str) -> tuple[str, str, int]:
    """commit.run without its exit: the same steps, in the same order."""
    inv = invocation(argv)
    with refresh.session_lock(s, inv.holder(s.name)) as slock:
        conn = stage.connect(s)
        try:
            stage.refresh_tolerant(s)
            stage.isolate_and_guard(s, inv, conn)
            if inv.command == "commit":
                commit._check_commit(s, inv, conn)
            old, new, status, intent = commit._run_locked(s, inv, conn, slock)
            commit._after(s, inv, conn, old, new, status, time.time(), intent)
        finally:
            conn.close()
    return old, new, status


def hook(lane: Lane, name: str, body: str) -> None:
    p = lane.path / ".git" / "hooks" / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)


@pytest.mark.skipif(FLOCK is None, reason="flock(1) is not installed")
def test_git_runs_holding_the_global_and_the_session_lock(lane: Lane, a: Session, tmp_path: Path) -> None:
    out = tmp_path / "held"
    glock = commit.global_lock_path(a)
    hook(lane, "pre-commit", f"{FLOCK} -n '{glock}' true; g=$?; {FLOCK} -n '{a.lock_path}' true; "
                             f"echo $g $? > '{out}'\n")
    add(lane, a, P="A's P\n")
    old, new, status = run_commit(a, "commit -q -m A")
    assert status == 0 and out.read_text() == "1 1\n"        # both busy while git ran
    assert glock == os.path.join(a.repo.state_dir(), layout.GLOBAL_LOCK)
    subprocess.run([FLOCK, "-n", glock, "true"], check=True)   # and free again after


def test_a_commit_moves_the_base_and_does_the_bookkeeping(lane: Lane, a: Session, conn: db.Connection) -> None:
    add(lane, a, P="A's P\n", new="new\n")
    assert snapshot.read(a.git, "A") is None                  # alone: no snapshot ref
    old, new, status = run_commit(a, "commit -q -m A")
    assert status == 0 and old != new == lane.head()
    assert a.index.base() == new
    assert lane.commit_files("HEAD") == {"P", "new"}
    assert claims.by_session(conn) == {}
    ((event, argv, commit_id, paths, exit_),) = conn.execute(
        "SELECT event, argv, commit_id, paths, exit FROM audit WHERE event = 'commit'").fetchall()
    assert (event, argv, commit_id, bytes(paths), exit_) == ("commit", "commit -q -m A", new, b"P\0new", 0)
    assert snapshot.read(a.git, "A") is None
    assert Path(a.path(layout.STAGED_COUNT)).read_text() == "0\n"
    assert lane.plain("status", "--porcelain").stdout == b""  # .git/index followed
    assert isolation.in_step(a)


def test_a_failed_commit_keeps_the_base_and_the_claims(lane: Lane, a: Session, conn: db.Connection,
                                                       owner_proc) -> None:  # type: ignore[no-untyped-def]
    sessions.register(conn, "Z", {"GITLANE_SESSION_PID": str(owner_proc().pid)}, str(lane.path))  # a live peer
    hook(lane, "pre-commit", "exit 1\n")
    add(lane, a, P="A's P\n")
    base = a.index.base()
    old, new, status = run_commit(a, "commit -q -m A")
    assert os.waitstatus_to_exitcode(status) == 1 and old == new == base == lane.head()
    assert a.index.base() == base
    assert claims.by_session(conn) == {"A": {"staged": [b"P"]}}
    assert snapshot.read(a.git, "A") is not None
    (exit_,) = conn.execute("SELECT exit FROM audit WHERE event = 'commit'").fetchone()
    assert exit_ == 1


def test_only_the_named_paths_are_committed_the_rest_stays_staged(lane: Lane, a: Session,
                                                                  conn: db.Connection) -> None:
    add(lane, a, P="A's P\n", Q="A's Q\n")
    _, new, status = run_commit(a, "commit -q -m onlyP P")
    assert status == 0 and lane.commit_files(new) == {"P"}
    assert claims.by_session(conn) == {"A": {"staged": [b"Q"]}}
    assert Path(a.path(layout.STAGED_COUNT)).read_text() == "1\n"


def test_a_rebase_conflict_is_refused_naming_the_commit(lane: Lane, a: Session, tmp_path: Path) -> None:
    add(lane, a, P="A's P\n")
    base = a.index.base() or ""
    _, head = commit_aside(lane, tmp_path, "peer changes P", {"P": "peer's P\n"})
    before = session_index.verified(a.index.path), lane.plain("ls-files", "-s", index=a.index.path).stdout
    with pytest.raises(Fatal) as exc:
        run_commit(a, "commit -q -m A")
    assert exc.value.what.splitlines() == [
        f"cannot commit: your staged changes conflict with commits made since your index was based on {base[:10]}:",
        f"P  changed by {head[:7]} peer changes P"]
    assert exc.value.hint.startswith("nothing was changed: your index and working tree are as they were.")
    assert lane.head() == head and a.index.base() == base
    assert (session_index.verified(a.index.path), lane.plain("ls-files", "-s", index=a.index.path).stdout) == before


def test_committing_a_peers_path_is_refused_before_git_runs(lane: Lane, a: Session, conn: db.Connection,
                                                            owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    sessions.register(conn, "B", {"GITLANE_SESSION_PID": str(p.pid)}, str(lane.path))
    claims.set_staged(conn, "", "B", [b"Q"])
    lane.write("Q", "B's unstaged edit of its claimed Q\n")
    add(lane, a, P="A's P\n")
    head = lane.head()
    with pytest.raises(Fatal) as exc:
        run_commit(a, "commit -q -a -m A")
    assert exc.value.what.startswith("refusing to commit -a: it would sweep 1 path owned by another live session:\n"
                                     f"Q  staged by session B (pid {p.pid}, ")
    assert lane.head() == head
    run_commit(a, "commit -q -m A")                          # without -a it is A's own work only
    assert lane.commit_files("HEAD") == {"P"}


@pytest.mark.parametrize("argv, want", [
    ("commit -m x", {b"P"}),
    ("commit -a -m x", {b"P", b"Q"}),
    ("commit -m x -- Q", {b"P", b"Q"}),
    ("commit -m x -i Q", {b"P", b"Q"}),
])
def test_would_commit(lane: Lane, a: Session, argv: str, want: set[bytes]) -> None:
    add(lane, a, P="A's P\n")
    lane.write("Q", "unstaged Q\n")
    before = lane.plain("ls-files", "-s", index=a.index.path).stdout
    got = commit._would_commit(a, classify.commit_args(invocation(argv).args))
    assert set(got) == want
    assert lane.plain("ls-files", "-s", index=a.index.path).stdout == before     # predicted on a copy
    assert [n for n in os.listdir(a.dir) if n.startswith("index.predict")] == []


@pytest.mark.parametrize("word", ["--amend", "--amen", "--am"])
def test_an_abbreviated_amend_of_someone_elses_commit_is_refused(lane: Lane, a: Session, word: str,
                                                                 make_session: Callable[..., Session]) -> None:
    """git takes any unambiguous prefix of a long option (`--amen`, `--am`
    are --amend), so the history guard must too: the base commit was made by
    a person, and while a peer is live amending it is refused before git runs."""
    b = make_session("B")
    refresh.ensure(b, "", "status", reading=True)          # a live peer (this process owns it)
    head = lane.head()
    with pytest.raises(Fatal) as exc:
        run_commit(a, f"commit -q {word} --no-edit")
    assert f"{head[:7]} base (a person)" in exc.value.what
    assert lane.head() == head
