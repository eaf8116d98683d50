"""shared.sessions: the sessions table and the owner file. Real owner
processes (`sleep`), a real state database."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from gitlane import layout
from gitlane.shared import claims, db, liveness, sessions


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[db.Connection]:
    c = db.connect(str(tmp_path / "gitlane"))
    yield c
    c.close()


def env_of(pid: int) -> dict[str, str]:
    return {"GITLANE_SESSION_PID": str(pid)}


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_register_records_the_owner_and_its_create_time(conn: db.Connection, owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    rec = sessions.register(conn, "s1", env_of(p.pid), "/work", label="alice")
    assert (rec.name, rec.pid, rec.ctime, rec.label, rec.cwd, rec.ended) == \
        ("s1", p.pid, liveness.create_time(p.pid), "alice", "/work", None)
    assert rec.live and rec.state == "live" and rec.started == rec.last_seen


def test_registering_again_only_refreshes_a_live_owner(conn: db.Connection, owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    first = sessions.register(conn, "s1", env_of(p.pid), "/a")
    again = sessions.register(conn, "s1", {}, "/b")         # no pid given, owner alive: same record
    assert (again.pid, again.cwd) == (p.pid, "/a")
    got = sessions.get(conn, "s1")
    assert got is not None and got.last_seen >= first.last_seen and got.cwd == "/a"


def test_a_new_owner_replaces_a_dead_one(conn: db.Connection, owner_proc) -> None:  # type: ignore[no-untyped-def]
    sessions.register(conn, "s1", env_of(dead_pid()), "/a", label="kept")
    p = owner_proc()
    rec = sessions.register(conn, "s1", env_of(p.pid), "/b")
    assert (rec.pid, rec.cwd, rec.label, rec.ended) == (p.pid, "/b", "kept", None)
    assert rec.live


def test_reviving_a_session_with_claims_bumps_the_generation(conn: db.Connection, owner_proc) -> None:  # type: ignore[no-untyped-def]
    sessions.register(conn, "quiet", env_of(owner_proc().pid), "/")
    before = claims.generation(conn)
    sessions.register(conn, "quiet", env_of(owner_proc().pid), "/")      # no claims: peers stay in step
    assert claims.generation(conn) == before
    claims.set_staged(conn, "", "busy", [b"p"])
    before = claims.generation(conn)
    sessions.register(conn, "busy", env_of(owner_proc().pid), "/")       # its claims block again
    assert claims.generation(conn) == before + 1


def test_register_with_an_explicit_pid(conn: db.Connection, owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    rec = sessions.register(conn, "s1", {}, "/", pid=p.pid)
    assert (rec.pid, rec.ctime) == (p.pid, liveness.create_time(p.pid))


def test_ensure_registers_once_and_writes_the_owner_file(conn: db.Connection, tmp_path: Path, owner_proc) -> None:  # type: ignore[no-untyped-def]
    sdir = tmp_path / "sdir"
    sdir.mkdir()
    p = owner_proc()
    rec = sessions.ensure(conn, "s1", str(sdir), env_of(p.pid), "/")
    assert sessions.read_owner(str(sdir)) == (p.pid, rec.ctime)
    (sdir / layout.OWNER).unlink()
    assert sessions.ensure(conn, "s1", str(sdir), env_of(owner_proc().pid), "/").pid == p.pid   # kept
    assert not (sdir / layout.OWNER).exists()
    sessions.end(conn, "s1")
    q = owner_proc()
    assert sessions.ensure(conn, "s1", str(sdir), env_of(q.pid), "/").pid == q.pid   # ended: registered anew
    assert sessions.read_owner(str(sdir)) == (q.pid, liveness.create_time(q.pid))


@pytest.mark.parametrize("text, want", [
    (None, None),
    ("", None),
    ("123 456.5\n", (123, 456.5)),
    ("123\n", (123, None)),
    (" 99.5\n", (None, None)),                        # no pid: the create time means nothing
    ("0 1.0\n", (None, 1.0)),
    ("-5 1.0\n", (None, 1.0)),
    ("12 soon\n", None),
    ("abc\n", (None, None)),
])
def test_read_owner(tmp_path: Path, text: str | None, want: tuple | None) -> None:  # type: ignore[type-arg]
    if text is not None:
        (tmp_path / layout.OWNER).write_text(text)
    assert sessions.read_owner(str(tmp_path)) == want


def test_owner_file_round_trip(tmp_path: Path, conn: db.Connection) -> None:
    rec = sessions.register(conn, "s1", env_of(os.getpid()), "/")
    sessions.write_owner(str(tmp_path), rec)
    assert sessions.read_owner(str(tmp_path)) == (os.getpid(), rec.ctime)
    sessions.write_owner(str(tmp_path / "missing" / "dir"), rec)      # cannot write: no error


def test_end_keeps_staged_claims_and_forget_drops_everything(conn: db.Connection) -> None:
    sessions.register(conn, "s1", env_of(os.getpid()), "/")
    claims.set_staged(conn, "", "s1", [b"staged"])
    claims.claim_edit(conn, "", "s1", b"edited", lambda _n: False)
    claims.reserve(conn, "s1", ["docs/**"], True, "", 60)
    sessions.end(conn, "s1")
    rec = sessions.get(conn, "s1")
    assert rec is not None and rec.ended is not None and rec.state == "ended" and not rec.live
    assert claims.by_session(conn) == {"s1": {"staged": [b"staged"]}}
    assert claims.reservations(conn) == []
    sessions.forget(conn, "s1")
    assert sessions.get(conn, "s1") is None and claims.by_session(conn) == {}


def test_restore_without_an_owner_is_ended(conn: db.Connection) -> None:
    sessions.restore(conn, "orphan", None, None, "")
    sessions.restore(conn, "owned", os.getpid(), liveness.create_time(os.getpid()), "lbl")
    got = {r.name: r for r in sessions.records(conn)}
    assert got["orphan"].state == "ended"
    assert got["owned"].state == "live" and got["owned"].label == "lbl"


def test_a_dead_owner_makes_a_dead_session(conn: db.Connection) -> None:
    sessions.register(conn, "s1", env_of(dead_pid()), "/")
    rec = sessions.get(conn, "s1")
    assert rec is not None and rec.state == "dead"


def test_records_are_in_start_order(conn: db.Connection) -> None:
    for name in ("b", "a", "c"):
        sessions.register(conn, name, env_of(os.getpid()), "/")
    assert [r.name for r in sessions.records(conn)] == ["b", "a", "c"]
