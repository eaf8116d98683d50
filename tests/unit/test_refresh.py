"""session.refresh: keep the session index on HEAD lazily. in_step() is the
cheap test; ensure() creates, registers, rebases and syncs under the session
lock; update() rebuilds a damaged index first; a rebase conflict is a warning
(once) for readers and an error for writers; a stale `<index>.lock` is
provably stale under the session lock and is reclaimed, audited."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from gitlane import layout
from gitlane.errors import Fatal
from gitlane.session import Session, isolation, refresh, snapshot
from gitlane.session import index as session_index
from gitlane.shared import claims, db, locks, sessions
from gitlane.testing.inproc import commit_aside
from gitlane.testing.lane import Lane


@pytest.fixture
def a(make_session: Callable[..., Session]) -> Session:
    return make_session("A")


def rows(lane: Lane, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    conn = sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_ensure_makes_a_new_session_whole(lane: Lane, a: Session) -> None:
    assert not refresh.in_step(a)
    assert refresh.ensure(a, locks.holder_line("A", "git status"), "status", reading=True) is True
    assert a.index.exists() and a.index.base() == lane.head()
    assert rows(lane, "SELECT name, pid, ended FROM sessions") == [("A", os.getpid(), None)]
    assert sessions.read_owner(a.dir) == (os.getpid(), sessions.get(db.connect(a.repo.state_dir()), "A").ctime)
    assert layout.read_stamp(a.dir)[0] == layout.read_generation(a.repo.state_dir())
    assert (Path(a.dir) / layout.VERIFIED).read_text() == layout.verified_key(os.stat(a.index.path))
    assert refresh.in_step(a)                   # the next read takes the fast path


def test_in_step_notices_head_claims_and_new_index_versions(lane: Lane, a: Session, tmp_path: Path) -> None:
    refresh.ensure(a, "", "status", reading=True)
    commit_aside(lane, tmp_path, "peer", {"p": "p\n"})
    assert not refresh.in_step(a)                                   # HEAD moved
    refresh.ensure(a, "", "status", reading=True)
    assert refresh.in_step(a) and a.index.base() == lane.head()
    conn = db.connect(a.repo.state_dir())
    try:
        claims.bump(conn)
    finally:
        conn.close()
    assert not refresh.in_step(a)                                   # ownership changed
    refresh.ensure(a, "", "status", reading=True)
    lane.write("x", "x\n")
    lane.plain("add", "x", index=a.index.path)                      # a version nobody checked ...
    assert refresh.in_step(a)                                       # ... is checked on the spot
    data = bytearray(Path(a.index.path).read_bytes())
    data[-1] ^= 0xFF
    Path(a.index.path + ".x").write_bytes(bytes(data))
    os.replace(a.index.path + ".x", a.index.path)                   # a damaged new version
    assert not refresh.in_step(a)


def test_a_stale_session_index_lock_is_reclaimed_and_audited(lane: Lane, a: Session,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    refresh.ensure(a, "", "status", reading=True)
    lock = Path(a.index.path + ".lock")
    lock.write_bytes(b"x" * 10)
    with refresh.session_lock(a, locks.holder_line("A", "git commit -m x")):   # taking it exclusively clears it
        assert not lock.exists()
    err = capfd.readouterr().err
    assert err.startswith(f"gitlane: removed stale lock {lock} (10 bytes, ")
    assert err.rstrip().endswith("no git of session A running)")
    (rec,) = rows(lane, "SELECT event, session, argv, detail FROM audit WHERE event = 'reclaim'")
    assert rec[:3] == ("reclaim", "A", "commit -m x") and rec[3].startswith(f"{lock} (10 bytes")
    with refresh.session_lock(a, ""):
        refresh.drop_stale_index_lock(a, "status")                  # nothing left: nothing said
    assert capfd.readouterr().err == ""


def test_a_conflict_warns_a_reader_once_and_stops_a_writer(lane: Lane, a: Session, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    refresh.ensure(a, "", "status", reading=True)
    lane.write("README", "A's README\n")
    lane.plain("add", "README", index=a.index.path)
    base = a.index.base()
    _, head = commit_aside(lane, tmp_path, "peer", {"README": "peer's README\n"})
    with refresh.session_lock(a, ""):
        refresh.update(a, reading=True)
        refresh.update(a, reading=True)
    err = capfd.readouterr().err
    assert err.count("gitlane: session A's staged changes conflict with new commits on HEAD (README);") == 1
    assert (Path(a.dir) / layout.WARNED).read_text() == f"{base} {head}"
    assert a.index.base() == base                                   # left as it was
    with refresh.session_lock(a, ""):
        with pytest.raises(session_index.Conflict):
            refresh.update(a, reading=False)
    _, head2 = commit_aside(lane, tmp_path, "peer2", {"other": "o\n"})
    with refresh.session_lock(a, ""):
        refresh.update(a, reading=True)                             # a new HEAD: warned again
    assert "conflict with new commits on HEAD" in capfd.readouterr().err


def test_a_damaged_index_is_rebuilt_from_its_snapshot_before_anything_else(lane: Lane, a: Session,
                                                                            capfd: pytest.CaptureFixture[str]) -> None:
    refresh.ensure(a, "", "status", reading=True)
    lane.write("mine", "staged\n")
    lane.plain("add", "mine", index=a.index.path)
    snapshot.take(a.git, "A", a.index.path, a.index.base() or "", True)
    data = bytearray(Path(a.index.path).read_bytes())
    data[-1] ^= 0xFF                                                # checksum broken, header fine
    Path(a.index.path + ".x").write_bytes(bytes(data))
    os.replace(a.index.path + ".x", a.index.path)
    assert not session_index.looks_broken(a.index.path)
    with refresh.session_lock(a, ""):
        refresh.update(a, reading=False)
    assert "staged work was restored from refs/gitlane/sessions/A" in capfd.readouterr().err
    assert lane.plain("show", ":mine", index=a.index.path).stdout == b"staged\n"
    assert not os.path.exists(a.path(layout.STAMP))                 # bits were dropped: sync again


def test_moved_paths_under_isolation_invalidate_the_stamp(lane: Lane, a: Session, tmp_path: Path,
                                                          owner_proc) -> None:  # type: ignore[no-untyped-def]
    refresh.ensure(a, "", "status", reading=True)
    conn = db.connect(a.repo.state_dir())
    try:
        p = owner_proc()
        sessions.register(conn, "B", {"GITLANE_SESSION_PID": str(p.pid)}, str(lane.path))
        claims.set_staged(conn, "", "B", [b"README"])
    finally:
        conn.close()
    isolation.sync(a)
    assert isolation.isolated_paths(a) == [b"README"]
    commit_aside(lane, tmp_path, "peer", {"README": "new\n"})      # HEAD's new entry has no bit
    with refresh.session_lock(a, ""):
        refresh.update(a, reading=True)
    assert not os.path.exists(a.path(layout.STAMP))


def test_read_lock_fds_hold_the_session_lock_shared(lane: Lane, a: Session) -> None:
    refresh.ensure(a, "", "status", reading=True)
    (fd,) = refresh.read_lock_fds(a)
    try:
        (fd2,) = refresh.read_lock_fds(a)                           # readers share it
        os.close(fd2)
        with pytest.raises(Fatal, match="session A's lock"):        # a writer waits for them
            locks.acquire(a.lock_path, "", "session A's lock", lambda: 0.05)
    finally:
        os.close(fd)
    locks.acquire(a.lock_path, "", "session A's lock", lambda: 0.05).release()


def test_warn_conflict_once_survives_an_unwritable_stamp(lane: Lane, a: Session,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    os.makedirs(a.dir)
    os.mkdir(a.path(layout.WARNED))                                 # cannot be written as a file
    exc = session_index.Conflict("b" * 40, "h" * 40, [b"x"])
    refresh.warn_conflict_once(a, exc)
    assert "conflict with new commits on HEAD (x)" in capfd.readouterr().err
