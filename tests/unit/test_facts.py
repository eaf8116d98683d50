"""guard.facts: the impure half of the guard. Which commands it looks at,
the paths a command would touch (computed with the real git: pathspec
matches, `clean -n`'s victims, a merge's incoming paths), and the refusal
itself for a session with live peers."""
from __future__ import annotations

import os
import subprocess
from typing import Callable

import pytest

from gitlane.errors import Fatal
from gitlane.guard import facts, policy
from gitlane.session import Session
from gitlane.shared import claims, db, sessions
from gitlane.testing.inproc import commit_plain, invocation
from gitlane.testing.lane import Lane


@pytest.mark.parametrize("argv, relevant", [
    ("stash", True), ("switch main", True), ("checkout -- .", True), ("restore .", True), ("clean -fd", True),
    ("merge x", True), ("cherry-pick x", True), ("revert x", True), ("rebase x", True), ("bisect start", True),
    ("reset --hard", True), ("reset --keep x", True), ("reset --merge", True),
    ("reset --soft HEAD~1", False), ("reset --mixed", False), ("reset -- a", False),
    ("add a", False), ("add --sparse a", True), ("rm a", False), ("rm --sparse a", True),
    ("update-index --no-skip-worktree a", True), ("update-index --add a", False),
    ("add --ignore-skip-worktree-bits a", True),
    ("commit -m x", False), ("status", False), ("tag v1", False),
])
def test_relevant(argv: str, relevant: bool) -> None:
    assert facts.relevant(invocation(argv)) is relevant


@pytest.fixture
def a(lane: Lane, make_session: Callable[..., Session]) -> Session:
    commit_plain(lane, "base", d__x="x\n", d__y="y\n", top="t\n", P="p\n")
    s = make_session("A")
    os.makedirs(s.dir, exist_ok=True)
    lane.plain("read-tree", "HEAD", index=s.index.path)
    return s


@pytest.fixture
def peer_b(lane: Lane, conn: db.Connection, owner_proc) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    p = owner_proc()
    sessions.register(conn, "B", {"GITLANE_SESSION_PID": str(p.pid)}, str(lane.path))
    claims.set_staged(conn, "", "B", [b"P", b"d/x", b"untracked/new.txt"])
    return p


def test_pathspec_paths_include_globs_and_literal_words(lane: Lane, a: Session) -> None:
    assert sorted(facts.affected(a, invocation("checkout -- d"), "pathspec", policy.View([]))) == [b"d", b"d/x", b"d/y"]
    got = facts.affected(a, invocation("restore :(glob)d/*"), "pathspec", policy.View([]))
    assert {p for p in got if not p.startswith(b":")} == {b"d/x", b"d/y"}      # what the glob matches
    assert facts.affected(a, invocation("stash push -- top"), "pathspec", policy.View([])) == [b"top"]
    assert facts.affected(a, invocation("stash"), "pathspec", policy.View([])) == []


def test_clean_paths_are_the_dry_runs_victims_and_claims_inside_folders(lane: Lane, a: Session) -> None:
    lane.write("junk.txt", "j\n")
    lane.write("untracked/new.txt", "B's\n")
    lane.write("untracked/other.txt", "o\n")
    view = policy.View([claims.Peer("B", 1, frozenset({b"untracked/new.txt", b"elsewhere/z"}))])
    got = facts.affected(a, invocation("clean -fd"), "clean", view)
    assert sorted(got) == [b"junk.txt", b"untracked/new.txt"]
    assert facts.affected(a, invocation("clean -f"), "clean", view) == [b"junk.txt"]    # no -d: no folders


def test_incoming_paths(lane: Lane, a: Session) -> None:
    base = lane.head()
    lane.plain("checkout", "-q", "-b", "side")
    side = commit_plain(lane, "side", side__one="1\n", P="p from side\n")
    lane.plain("checkout", "-q", "main")
    mine = commit_plain(lane, "main", mainonly="m\n")
    assert sorted(facts.affected(a, invocation("merge side"), "incoming", policy.View([]))) == [b"P", b"side/one"]
    assert sorted(facts.affected(a, invocation("rebase side"), "incoming", policy.View([]))) == \
        [b"P", b"mainonly", b"side/one"]
    assert sorted(facts.affected(a, invocation(f"cherry-pick {side}"), "incoming", policy.View([]))) == \
        [b"P", b"side/one"]
    assert sorted(facts.affected(a, invocation(f"cherry-pick {base}..{mine}"), "incoming", policy.View([]))) == \
        [b"mainonly"]
    assert facts.affected(a, invocation("rebase --continue"), "incoming", policy.View([])) == []


def test_check_refuses_a_peers_path_and_lets_mine_through(lane: Lane, a: Session, conn: db.Connection,
                                                          peer_b) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Fatal) as exc:
        facts.check(a, invocation("checkout -- d"), conn)
    assert exc.value.what == ("refusing `git checkout`: it would touch paths other live sessions own:\n"
                              f"d/x  owned by session B (pid {peer_b.pid})")
    facts.check(a, invocation("checkout -- top"), conn)
    with pytest.raises(Fatal, match="refusing `git stash push`"):
        facts.check(a, invocation("stash"), conn)
    facts.check(a, invocation("commit -m x"), conn)            # not the guard's business


def test_check_allows_everything_once_the_peer_is_dead(lane: Lane, a: Session, conn: db.Connection,
                                                       peer_b) -> None:  # type: ignore[no-untyped-def]
    peer_b.kill()
    peer_b.wait()
    facts.check(a, invocation("stash"), conn)
    facts.check(a, invocation("reset --hard"), conn)
    assert facts.build_view(a, conn).others == []
