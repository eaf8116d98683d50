"""Session records: who owns a session, and which sessions are live."""
from __future__ import annotations

import os
import time
TYPE_CHECKING = False  # `typing` costs ~10 ms to import: annotations only

from gitlane import liveness, state

if TYPE_CHECKING:
    import sqlite3
    from typing import Mapping
    from gitlane.shim import Ctx


class Session:
    __slots__ = ("name", "pid", "ctime", "label", "started", "last_seen", "cwd", "ended")

    def __init__(self, row: sqlite3.Row | tuple) -> None:
        (self.name, self.pid, self.ctime, self.label, self.started,
         self.last_seen, self.cwd, self.ended) = row

    @property
    def live(self) -> bool:
        return self.ended is None and liveness.is_alive(self.pid, self.ctime)


def on_created(ctx: "Ctx", conn: sqlite3.Connection) -> None:
    """A session index was just made: make sure the session is on record."""
    write_owner(ctx.sdir, register(conn, ctx.name, os.environ, ctx.repo.cwd))


def write_owner(sdir: str, sess: Session) -> None:
    """The owner also lives in the session folder, so that `doctor --repair`
    can rebuild a lost database with liveness intact."""
    from gitlane.fsutil import write_atomic
    try:
        write_atomic(os.path.join(sdir, "owner"), f"{sess.pid or ''} {sess.ctime or ''}\n".encode(), durable=False)
    except OSError:
        pass


def read_owner(sdir: str) -> tuple[int | None, float | None] | None:
    from gitlane.fsutil import read_text
    text = read_text(os.path.join(sdir, "owner"))
    if not text:
        return None
    pid, _, ctime = text.strip().partition(" ")
    return (int(pid) if pid.isdigit() else None), (float(ctime) if ctime else None)


def register(conn: sqlite3.Connection, name: str, env: Mapping[str, str], cwd: str,
             label: str | None = None, pid: int | None = None) -> Session:
    """Insert or refresh the session. A new owner replaces one that is dead."""
    now = time.time()
    current = get(conn, name)
    if current is not None and current.ended is None and pid is None \
            and not env.get("GITLANE_SESSION_PID") and current.live:
        with state.tx(conn):
            conn.execute("UPDATE sessions SET last_seen = ? WHERE name = ?", (now, name))
        return current
    if pid is None:
        pid, ctime = liveness.owner(env)
    else:
        ctime = liveness.create_time(pid)
    with state.tx(conn):
        conn.execute(
            "INSERT INTO sessions (name, pid, ctime, label, started, last_seen, cwd, ended) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET "
            "pid = excluded.pid, ctime = excluded.ctime, last_seen = excluded.last_seen, "
            "cwd = excluded.cwd, ended = NULL, label = COALESCE(excluded.label, label)",
            (name, pid, ctime, label, now, now, cwd))
        # A new owner revives the session's old claims: peers must sync. A
        # session with no claims changes nobody's view, so their fast path
        # stays in step (a new session per agent would otherwise cost every
        # peer a sync).
        if conn.execute("SELECT 1 FROM claims WHERE session = ? LIMIT 1", (name,)).fetchone():
            state.bump_generation(conn)
    found = get(conn, name)
    assert found is not None
    return found


def get(conn: sqlite3.Connection, name: str) -> Session | None:
    row = conn.execute("SELECT name, pid, ctime, label, started, last_seen, cwd, ended "
                       "FROM sessions WHERE name = ?", (name,)).fetchone()
    return Session(row) if row else None


def all_sessions(conn: sqlite3.Connection) -> list[Session]:
    rows = conn.execute("SELECT name, pid, ctime, label, started, last_seen, cwd, ended "
                        "FROM sessions ORDER BY started").fetchall()
    return [Session(r) for r in rows]


def end(conn: sqlite3.Connection, name: str) -> None:
    with state.tx(conn):
        conn.execute("UPDATE sessions SET ended = ? WHERE name = ?", (time.time(), name))
        conn.execute("DELETE FROM reservations WHERE session = ?", (name,))
        conn.execute("DELETE FROM claims WHERE session = ? AND kind = 'edit'", (name,))
        state.bump_generation(conn)
