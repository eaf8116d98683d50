"""guard.history: which commits a command takes off the branch (a table of
arguments), whose they are (the audit log), and the refusal."""
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

BR = "refs/heads/main"


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


def test_maker_is_the_last_record_that_made_the_commit(conn: db.Connection) -> None:
    made(conn, "commit", "A", "c1")
    made(conn, "reclaim", "Z", "c1")          # other events say nothing about who made it
    made(conn, "force", "Z", "c1")
    made(conn, "reset", "Z", "c1")            # a reset *to* c1 did not make it
    assert history.maker(conn, "c1") == "A"
    made(conn, "amend", "B", "c1")
    assert history.maker(conn, "c1") == "B"
    made(conn, "cherry-pick", "C", "c1")
    assert history.maker(conn, "c1") == "C"
    assert history.maker(conn, "c2") is None and history.maker(conn, None) is None


@pytest.mark.parametrize("argv, want", [
    ("reset --hard HEAD~1", "HEAD~1"),
    ("reset --soft HEAD~2", "HEAD~2"),
    ("reset HEAD~1", "HEAD~1"),
    ("reset --keep", None),
    ("reset -- f", None),
    ("commit --amend --no-edit", history.TIP),
    ("commit -m x", None),
    ("rebase -i HEAD~3", "HEAD~3"),
    ("rebase U", None),                         # replays every commit: nothing is lost
    ("rebase --onto X U", ("X", "U")),
    ("rebase --onto=X U", ("X", "U")),
    ("rebase -i --onto X U", "U"),
    ("rebase --root", None),
    ("rebase -i --root", history.ALL),
    ("rebase -i", "@{upstream}"),
    ("rebase", None),
    ("rebase --continue", None),
    ("rebase U other", None),
    ("update-ref HEAD X", "X"),
    ("update-ref -m why refs/heads/main X Y", "X"),
    ("update-ref refs/heads/other X", None),
    ("update-ref -d refs/heads/main", history.ALL),
    ("update-ref --stdin", None),
    ("checkout -B main HEAD~1", "HEAD~1"),
    ("checkout -B other HEAD~1", None),
    ("switch -C main X", "X"),
    ("switch --force-create main", None),
    ("merge X", None),
])
def test_rewrite(argv: str, want: str | None) -> None:
    inv = invocation(argv)
    assert history.rewrite(inv.command, inv.args, BR) == want


def test_rewrite_detached() -> None:
    assert history.rewrite("update-ref", ["refs/heads/main", "X"], None) is None
    assert history.rewrite("update-ref", ["HEAD", "X"], None) == "X"


def test_protected_is_everything_but_mine() -> None:
    commits = [("m", "aaa mine"), ("p", "bbb peer"), ("n", "ddd person")]
    makers = {"m": "A", "p": "B", "n": None}
    assert history.protected(commits, makers, "A") == [("bbb peer", "session B"), ("ddd person", "a person")]


def test_alone_nothing_is_refused(lane: Lane, a: Session, conn: db.Connection) -> None:
    history.check(a, invocation("commit --amend --no-edit"), conn)   # no peer: plain git
    history.check(a, invocation("reset --hard HEAD"), conn)


def test_refusal_names_each_commit() -> None:
    exc = history.refusal(invocation("reset --hard HEAD~2"), [("abc1234 B1", "session B"), ("def5678 P", "a person")])
    assert isinstance(exc, Fatal)
    assert "abc1234 B1 (session B)\ndef5678 P (a person)" in exc.what
    assert "git revert" in exc.hint and "GITLANE_FORCE=1" in exc.hint
