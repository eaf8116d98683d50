"""guard.history: a session amends only a commit it made itself (the audit
log's `commit`/`amend` records say who made which commit)."""
from __future__ import annotations

import os

from typing import Callable

import pytest

from gitlane.errors import Fatal
from gitlane.guard import history
from gitlane.session import Session
from gitlane.shared import db, sessions
from gitlane.testing.inproc import invocation
from gitlane.testing.lane import Lane


@pytest.fixture
def a(make_session: Callable[..., Session]) -> Session:
    return make_session("A")


@pytest.fixture
def peer(conn: db.Connection) -> str:
    """A live peer session P (owned by this test process): peer rules apply."""
    sessions.register(conn, "P", {"GITLANE_SESSION_PID": str(os.getpid())}, "/")
    return "P"


def made(conn: db.Connection, event: str, session: str, commit: str | None) -> None:
    db.audit(conn, event, session, commit_id=commit)


def test_maker_is_the_last_commit_or_amend_record(conn: db.Connection) -> None:
    made(conn, "commit", "A", "c1")
    made(conn, "reclaim", "Z", "c1")          # other events say nothing about who made it
    made(conn, "force", "Z", "c1")
    assert history.maker(conn, "c1") == "A"
    made(conn, "amend", "B", "c1")
    assert history.maker(conn, "c1") == "B"
    assert history.maker(conn, "c2") is None and history.maker(conn, None) is None


def test_amending_my_own_commit(lane: Lane, a: Session, conn: db.Connection) -> None:
    made(conn, "commit", "A", lane.head())
    history.check_amend(a, invocation("commit --amend --no-edit"), conn)


@pytest.mark.parametrize("maker, who", [("B", "session B"), (None, "someone outside this session")])
def test_amending_someone_elses_commit_is_refused(lane: Lane, a: Session, conn: db.Connection, peer: str,
                                                  maker: str | None, who: str) -> None:
    if maker:
        made(conn, "commit", maker, lane.head())
    with pytest.raises(Fatal) as exc:
        history.check_amend(a, invocation("commit --amend"), conn)
    assert exc.value.what == f"refusing to amend HEAD ({lane.head()[:10]}): it was made by {who}, not by session A"
    assert exc.value.hint.endswith("GITLANE_FORCE=1 overrides for one command (audited)")


def test_force_amends_anyway_audited(lane: Lane, a: Session, conn: db.Connection, peer: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLANE_FORCE", "1")
    history.check_amend(a, invocation("commit --amend"), conn)
    assert conn.execute("SELECT event, session, argv FROM audit").fetchall() == [("force", "A", "commit --amend")]


@pytest.mark.parametrize("maker", ["B", None])
def test_alone_any_commit_may_be_amended(lane: Lane, a: Session, conn: db.Connection, maker: str | None) -> None:
    """No live peer: plain git, whoever made HEAD (a dead session, a person)."""
    if maker:
        made(conn, "commit", maker, lane.head())
        sessions.register(conn, maker, {"GITLANE_SESSION_PID": "999999999"}, "/")   # dead owner
    history.check_amend(a, invocation("commit --amend"), conn)
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE event = 'force'").fetchone() == (0,)
