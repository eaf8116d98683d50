"""Session branches (issue 17): `checkout -b`, `switch` move only the
session's own HEAD while a peer is live; commits land on the session's
branch; peers' files never change on disk; refusals change nothing."""
from __future__ import annotations

import os
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
