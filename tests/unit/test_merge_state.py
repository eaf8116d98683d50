"""run.merge_state: who owns a merge, cherry-pick, revert or rebase in
progress (the `shared_state` table), so that one session's MERGE_HEAD never
turns another's plain commit into a merge. Markers are real files in the
repository's git dir, left by a real conflicting merge where it matters."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from gitlane.errors import Fatal
from gitlane.run import merge_state
from gitlane.session import Session
from gitlane.shared import db, sessions
from gitlane.testing.inproc import commit_plain, invocation
from gitlane.testing.lane import Lane


@pytest.fixture
def a(make_session: Callable[..., Session]) -> Session:
    return make_session("A")


@pytest.fixture
def peer(conn: db.Connection) -> str:
    """A live peer session P (owned by this test process): peer rules apply."""
    sessions.register(conn, "P", {"GITLANE_SESSION_PID": str(os.getpid())}, "/")
    return "P"


def marker(lane: Lane, name: str) -> Path:
    p = lane.path / ".git" / name
    if name.startswith("rebase"):
        p.mkdir()
    else:
        p.write_text(lane.head() + "\n")
    return p


def owners(conn: db.Connection) -> dict[str, str]:
    return merge_state.owners(conn)


def test_a_real_conflicting_merge_is_recorded_as_ours(lane: Lane, a: Session, conn: db.Connection) -> None:
    commit_plain(lane, "base", f="base\n")
    lane.plain("checkout", "-q", "-b", "side")
    commit_plain(lane, "side", f="side\n")
    lane.plain("checkout", "-q", "main")
    commit_plain(lane, "main", f="main\n")
    inv = invocation("merge side")
    merge_state.claim(a, inv, conn)                 # before git runs: a kill leaves it owned
    assert owners(conn) == {"MERGE_HEAD": "A"}
    assert lane.plain("merge", "side", check=False).returncode == 1
    merge_state.record(a, conn)
    assert merge_state.present(a) == ["MERGE_HEAD"]
    assert [(w, s) for w, s, _ in merge_state.in_progress(conn, a.repo.git_dir)] == [("MERGE_HEAD", "A")]
    lane.plain("merge", "--abort")
    merge_state.record(a, conn)                     # gone: nobody's
    assert owners(conn) == {} and merge_state.in_progress(conn, a.repo.git_dir) == []


@pytest.mark.parametrize("command, markers", [
    ("merge x", ["MERGE_HEAD"]),
    ("pull", ["MERGE_HEAD", "rebase-merge", "rebase-apply"]),
    ("cherry-pick x", ["CHERRY_PICK_HEAD"]),
    ("revert x", ["REVERT_HEAD"]),
    ("rebase x", ["rebase-merge", "rebase-apply"]),
    ("am p.mbox", ["rebase-apply"]),
    ("commit -m x", []),
    ("stash", []),
])
def test_claim_names_the_markers_the_command_may_leave(a: Session, conn: db.Connection, command: str,
                                                       markers: list[str]) -> None:
    merge_state.claim(a, invocation(command), conn)
    assert sorted(owners(conn)) == sorted(markers)
    assert set(owners(conn).values()) <= {"A"}


def test_claim_leaves_a_marker_that_is_already_there(lane: Lane, a: Session, conn: db.Connection) -> None:
    marker(lane, "MERGE_HEAD")
    merge_state.claim(a, invocation("merge x"), conn)
    assert owners(conn) == {}


def test_check_refuses_another_sessions_state(lane: Lane, a: Session, conn: db.Connection,
                                              make_session: Callable[..., Session]) -> None:
    b = make_session("B")
    sessions.register(conn, "B", {"GITLANE_SESSION_PID": str(os.getpid())}, "/")
    marker(lane, "rebase-merge")
    merge_state.record(b, conn)
    with pytest.raises(Fatal) as exc:
        merge_state.check(a, invocation("commit -m x"), conn)
    assert exc.value.what == "cannot commit: rebase-merge from session B is in progress in the shared git dir"
    assert exc.value.hint.startswith("let session B finish (`git rebase --continue` or `--abort`),")
    merge_state.check(b, invocation("rebase --continue"), conn)      # its owner carries on


def test_check_refuses_state_nobody_in_gitlane_owns(lane: Lane, a: Session, conn: db.Connection, peer: str) -> None:
    marker(lane, "CHERRY_PICK_HEAD")                 # a person's cherry-pick, outside gitlane
    with pytest.raises(Fatal) as exc:
        merge_state.check(a, invocation("merge x"), conn)
    assert exc.value.what == ("cannot merge: CHERRY_PICK_HEAD from a process outside gitlane is in progress "
                              "in the shared git dir")
    assert "`git cherry-pick --continue`" in exc.value.hint


@pytest.mark.parametrize("command", ["tag v1", "branch topic", "stash list", "notes add -m x"])
def test_commands_that_never_build_on_the_index_are_not_checked(lane: Lane, a: Session, conn: db.Connection,
                                                               command: str) -> None:
    marker(lane, "MERGE_HEAD")
    merge_state.check(a, invocation(command), conn)


def test_force_lets_it_through_and_audits(lane: Lane, a: Session, conn: db.Connection, peer: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    marker(lane, "REVERT_HEAD")
    monkeypatch.setenv("GITLANE_FORCE", "1")
    merge_state.check(a, invocation("commit -m x"), conn)
    ((event, session, detail),) = conn.execute("SELECT event, session, detail FROM audit").fetchall()
    assert (event, session) == ("force", "A") and detail.startswith("cannot commit: REVERT_HEAD from")


def test_record_keeps_the_first_owner(lane: Lane, a: Session, conn: db.Connection,
                                      make_session: Callable[..., Session]) -> None:
    marker(lane, "MERGE_HEAD")
    merge_state.record(a, conn)
    merge_state.record(make_session("B"), conn)
    assert owners(conn) == {"MERGE_HEAD": "A"}
    os.unlink(lane.path / ".git" / "MERGE_HEAD")
    merge_state.record(a, conn)
    assert owners(conn) == {}


@pytest.mark.parametrize("name, verb", [("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"),
                                        ("REVERT_HEAD", "revert"), ("rebase-merge", "rebase"),
                                        ("rebase-apply", "rebase")])
def test_finish_verb(name: str, verb: str) -> None:
    assert merge_state._finish_verb(name) == verb


@pytest.mark.parametrize("name", ["MERGE_HEAD", "rebase-merge", "CHERRY_PICK_HEAD"])
def test_alone_state_left_by_plain_git_does_not_block(lane: Lane, a: Session, conn: db.Connection, name: str) -> None:
    """No live peer: the session is plain git, which would carry on."""
    marker(lane, name)
    merge_state.check(a, invocation("commit -m x"), conn)
    merge_state.check(a, invocation("checkout -b topic"), conn)
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone() == (0,)
