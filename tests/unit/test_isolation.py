"""session.isolation: in this session's index, skip-worktree on the tracked
paths other live sessions claim (seen with `git ls-files -v`: 'S'), an
excludes file for their untracked ones, and a stamp that keeps it in step
with the claims' generation and the owners' pids."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from gitlane import layout
from gitlane.session import Session, isolation, refresh
from gitlane.shared import claims, db, sessions
from gitlane.testing.inproc import commit_plain, ls_files_v
from gitlane.testing.lane import Lane


@pytest.fixture
def peer(lane: Lane, conn: db.Connection, owner_proc) -> Callable[..., subprocess.Popen]:  # type: ignore[no-untyped-def]
    """Register a live peer session owning `paths` (staged claims)."""
    def make(name: str, *paths: str) -> subprocess.Popen:
        p = owner_proc()
        sessions.register(conn, name, {"GITLANE_SESSION_PID": str(p.pid)}, str(lane.path))
        claims.set_staged(conn, "", name, [x.encode() for x in paths])
        return p
    return make


@pytest.fixture
def a(lane: Lane, make_session: Callable[..., Session]) -> Session:
    commit_plain(lane, "tracked", P="P v1\n", Q="Q v1\n", d__R="R v1\n")
    s = make_session("A")
    assert refresh.ensure(s, "", "status", reading=True)
    return s


def tags(lane: Lane, s: Session) -> dict[str, str]:
    return ls_files_v(lane, s.index.path)


def test_a_peers_tracked_claim_gets_the_skip_worktree_bit(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    p = peer("B", "P", "d/R")
    assert not isolation.in_step(a)
    isolation.sync(a)
    assert tags(lane, a) == {"P": "S", "Q": "H", "d/R": "S", "README": "H"}
    gen, pids, paths = layout.read_stamp(a.dir)
    assert (gen, pids, paths) == (layout.read_generation(a.repo.state_dir()), [p.pid], [b"P", b"d/R"])
    assert isolation.in_step(a) and isolation.isolated_paths(a) == [b"P", b"d/R"]
    # git itself now keeps A's whole-tree commands away from them
    lane.write("P", "B's unstaged edit\n")
    assert lane.plain("status", "--porcelain", index=a.index.path).stdout == b""


def test_my_own_claims_are_never_hidden_from_me(lane: Lane, a: Session, conn: db.Connection) -> None:
    claims.set_staged(conn, "", "A", [b"P"])
    isolation.sync(a)
    assert tags(lane, a)["P"] == "H"


def test_a_released_claim_shows_the_path_again(lane: Lane, a: Session, peer, conn: db.Connection) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P", "Q")
    isolation.sync(a)
    claims.set_staged(conn, "", "B", [b"Q"])
    assert not isolation.in_step(a)                                   # the generation moved
    isolation.sync(a)
    assert tags(lane, a) == {"P": "H", "Q": "S", "d/R": "H", "README": "H"}


def test_a_dead_owner_bumps_nothing_but_is_noticed(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    p = peer("B", "P")
    isolation.sync(a)
    assert tags(lane, a)["P"] == "S"
    p.kill()
    p.wait()
    assert not isolation.in_step(a)                                   # its pid is gone (kill 0)
    isolation.sync(a)
    assert tags(lane, a)["P"] == "H" and isolation.in_step(a)


def test_untracked_peer_paths_go_to_an_excludes_file(lane: Lane, a: Session, peer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "user-ignore"
    user.write_text("*.log\n")
    lane.plain("config", "core.excludesFile", str(user))
    peer("B", "P", "new.txt", "*star?.txt", "#hash", "dir/x ")
    isolation.sync(a)
    exclude = Path(a.path(layout.EXCLUDE))
    assert exclude.read_bytes() == (b"*.log\n# gitlane: files other live sessions claim\n"
                                    b"/\\#hash\n/\\*star\\?.txt\n/dir/x\\ \n/new.txt\n")
    assert tags(lane, a)["P"] == "S" and "new.txt" not in tags(lane, a)
    # git reads it through the session's environment: the peer's new files vanish from status
    for rel in ("new.txt", "*star?.txt", "#hash", "dir/x ", "mine.txt", "x.log"):
        lane.write(rel, "x\n")
    env = a.git_env({"PATH": os.environ["PATH"], "HOME": os.environ["HOME"]})
    out = subprocess.run([a.git.real, "status", "--porcelain", "-uall"], cwd=lane.path, env=env,
                         capture_output=True).stdout.decode()
    assert out == "?? mine.txt\n", out


def test_no_untracked_peer_paths_no_excludes_file(lane: Lane, a: Session, peer, conn: db.Connection) -> None:  # type: ignore[no-untyped-def]
    peer("B", "new.txt")
    isolation.sync(a)
    assert os.path.exists(a.path(layout.EXCLUDE))
    claims.set_staged(conn, "", "B", [])
    isolation.sync(a)
    assert not os.path.exists(a.path(layout.EXCLUDE))


def test_a_claimed_path_missing_from_the_index_does_not_spoil_the_rest(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    """update-index is all-or-nothing: _flip filters the paths it can set."""
    peer("B", "P")
    isolation.sync(a)
    lane.plain("update-index", "--force-remove", "P", index=a.index.path)
    lane.write("P", "P v1\n")
    isolation._flip(a, [b"P", b"Q"], True)
    assert tags(lane, a)["Q"] == "S"


def test_carry_moves_a_current_stamp_past_our_own_bump(lane: Lane, a: Session, peer, conn: db.Connection) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P")
    isolation.sync(a)
    change = claims.set_staged(conn, "", "A", [b"Q"])
    assert change is not None and not isolation.in_step(a)
    isolation.carry(a, change)
    assert isolation.in_step(a)                                       # our own change: still in step
    assert layout.read_stamp(a.dir)[2] == [b"P"]
    # a stamp that was not current is left for sync to redo
    claims.set_staged(conn, "", "B", [b"P", b"Q"])
    stale = claims.set_staged(conn, "", "A", [])
    isolation.carry(a, stale)
    assert not isolation.in_step(a)
    isolation.carry(a, None)                                          # nothing changed: nothing to do


def test_release_and_invalidate(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P", "Q")
    isolation.sync(a)
    isolation.release(a, [b"Q", b"not-hidden"])
    assert tags(lane, a) == {"P": "S", "Q": "H", "d/R": "H", "README": "H"}
    assert isolation.isolated_paths(a) == [b"P"] and isolation.in_step(a)
    isolation.invalidate(a)
    assert not os.path.exists(a.path(layout.STAMP)) and not isolation.in_step(a)


def test_sync_in_step_does_nothing(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P")
    isolation.sync(a)
    before = os.stat(a.index.path)
    spawned = a.git.spawned
    isolation.sync(a)
    assert a.git.spawned == spawned
    assert layout.verified_key(os.stat(a.index.path)) == layout.verified_key(before)


def test_sparse_checkout_is_warned_about(lane: Lane, a: Session, peer, capfd: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    lane.plain("config", "core.sparseCheckout", "true")
    peer("B", "P")
    isolation.sync(a)
    err = capfd.readouterr().err
    assert err.startswith("gitlane: core.sparseCheckout is true, which clears skip-worktree bits;\n")


@pytest.mark.parametrize("path, escaped", [
    (b"plain.txt", b"plain.txt"),
    (b"a*b?c[d]\\e", b"a\\*b\\?c\\[d]\\\\e"),
    (b"#not-a-comment", b"\\#not-a-comment"),
    (b"!not-negated", b"\\!not-negated"),
    (b"in#side!", b"in#side!"),
    (b"trailing ", b"trailing\\ "),
])
def test_escape(path: bytes, escaped: bytes) -> None:
    assert isolation._escape(path) == escaped


def test_escaped_paths_match_only_themselves(lane: Lane, tmp_path: Path) -> None:
    """git check-ignore agrees: each escaped line excludes exactly its path."""
    names = ["a*b", "a?b", "#h", "!n", "t ", "x[1]"]
    decoys = ["aXb", "azb", "x1", "t"]
    ignore = tmp_path / "ignore"
    ignore.write_bytes(b"".join(b"/" + isolation._escape(n.encode()) + b"\n" for n in names))
    out = lane.plain("-c", f"core.excludesFile={ignore}", "check-ignore", "--no-index", "-z", "--stdin",
                     check=False, input=b"\0".join(p.encode() for p in names + decoys) + b"\0").stdout
    assert sorted(p.decode() for p in out.split(b"\0") if p) == sorted(names)
