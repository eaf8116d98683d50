"""Session records: who owns a session, and which sessions are live.

The `sessions` table is this module's. A session's owner is also written to
its folder (layout.OWNER), so that `doctor --repair` can rebuild a lost
database with liveness intact.
"""
from __future__ import annotations

import os
import time

from gitlane import files, layout
from gitlane.shared import claims, db, liveness

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Mapping

_COLUMNS = "name, pid, ctime, label, started, last_seen, cwd, ended"


class Record:
    __slots__ = ("name", "pid", "ctime", "label", "started", "last_seen", "cwd", "ended")

    def __init__(self, row: tuple) -> None:  # type: ignore[type-arg]
        (self.name, self.pid, self.ctime, self.label, self.started,
         self.last_seen, self.cwd, self.ended) = row

    @property
    def live(self) -> bool:
        return self.ended is None and liveness.is_alive(self.pid, self.ctime)

    @property
    def state(self) -> str:
        return "ended" if self.ended else ("live" if self.live else "dead")


def write_owner(sdir: str, rec: Record) -> None:
    try:
        files.write_atomic(os.path.join(sdir, layout.OWNER),
                           f"{rec.pid or ''} {rec.ctime or ''}\n".encode(), durable=False)
    except OSError:
        pass


def read_owner(sdir: str) -> tuple[int | None, float | None] | None:
    text = files.read_text(os.path.join(sdir, layout.OWNER))
    if not text:
        return None
    pid, _, ctime = text.strip().partition(" ")
    try:
        return (int(pid) if pid.isdigit() and int(pid) > 0 else None), (float(ctime) if ctime else None)
    except ValueError:
        return None


def register(conn: sqlite3.Connection, name: str, env: Mapping[str, str], cwd: str,
             label: str | None = None, pid: int | None = None) -> Record:
    """Insert or refresh the session. A new owner replaces one that is dead."""
    now = time.time()
    current = get(conn, name)
    if current is not None and current.ended is None and pid is None \
            and not env.get("GITLANE_SESSION_PID") and current.live:
        with db.tx(conn):
            conn.execute("UPDATE sessions SET last_seen = ? WHERE name = ?", (now, name))
        return current
    if pid is None:
        pid, ctime = liveness.owner(env)
    else:
        ctime = liveness.create_time(pid)
    with db.tx(conn):
        conn.execute(
            f"INSERT INTO sessions ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT(name) DO UPDATE SET "
            "pid = excluded.pid, ctime = excluded.ctime, last_seen = excluded.last_seen, "
            "cwd = excluded.cwd, ended = NULL, label = COALESCE(excluded.label, label)",
            (name, pid, ctime, label, now, now, cwd))
        # A new owner revives the session's old claims: peers must sync. A
        # session with no claims changes nobody's view, so their fast path
        # stays in step (a new session per agent would otherwise cost every
        # peer a sync).
        if claims.has_claims(conn, name):
            claims.bump(conn)
    found = get(conn, name)
    assert found is not None
    return found


def ensure(conn: sqlite3.Connection, name: str, sdir: str, env: Mapping[str, str], cwd: str,
           label: str | None = None) -> Record:
    """The session's record, registering it (and writing its owner file) if
    it has none or has ended."""
    current = get(conn, name)
    if current is not None and current.ended is None:
        _seen(conn, current)
        return current
    rec = register(conn, name, env, cwd, label)
    write_owner(sdir, rec)
    return rec


def get(conn: sqlite3.Connection, name: str) -> Record | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM sessions WHERE name = ?", (name,)).fetchone()
    return Record(row) if row else None


def records(conn: sqlite3.Connection) -> list[Record]:
    return [Record(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM sessions ORDER BY started").fetchall()]


def end(conn: sqlite3.Connection, name: str) -> None:
    with db.tx(conn):
        conn.execute("UPDATE sessions SET ended = ? WHERE name = ?", (time.time(), name))
        claims.end_session(conn, name)


def forget(conn: sqlite3.Connection, name: str) -> None:
    """`gitlane gc`: the record and everything it owned."""
    with db.tx(conn):
        claims.forget_session(conn, name)
        conn.execute("DELETE FROM sessions WHERE name = ?", (name,))


def restore(conn: sqlite3.Connection, name: str, pid: int | None, ctime: float | None, label: str) -> None:
    """`doctor --repair`/`--fix`: a record rebuilt from a session folder.
    Without a recorded owner it cannot be proven live: it is marked ended."""
    now = time.time()
    with db.tx(conn):
        conn.execute(f"INSERT OR REPLACE INTO sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                     (name, pid, ctime, label, now, now, None if pid else now))


SEEN_EVERY = 30.0  # seconds: last_seen is kept to about this, for one write at most this often


def _seen(conn: sqlite3.Connection, rec: Record) -> None:
    """Note that the session just ran a command (`last_seen`)."""
    now = time.time()
    if now - rec.last_seen >= SEEN_EVERY:
        with db.tx(conn):
            conn.execute("UPDATE sessions SET last_seen = ? WHERE name = ?", (now, rec.name))
        rec.last_seen = now


def peer_live(conn: sqlite3.Connection, me: str) -> bool:
    """Is any session other than `me` live? Peer rules apply only then
    (README, "Alone, a session is plain git")."""
    rows = conn.execute("SELECT pid, ctime FROM sessions WHERE name != ? AND ended IS NULL", (me,)).fetchall()
    return any(liveness.is_alive(pid, ctime) for pid, ctime in rows)
