"""The shared state database: sessions, claims, reservations, audit.

sqlite3 in WAL mode under the common git dir. Every change is one
transaction (BEGIN IMMEDIATE, so check-then-claim cannot race). The session
folders stay the source of truth for staged work: `gitlane doctor --repair`
rebuilds this file from them.
"""
from __future__ import annotations

import os
import time
try:
    # The sqlite3 package adds only datetime adapters we never use, and
    # importing them costs ~1.6 ms on every write path; the C module is the
    # whole DB-API (connect, the exception classes).
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - Pythons that build it differently
    import sqlite3  # type: ignore[no-redef]

from gitlane.errors import Fatal
from gitlane.isolation import GENERATION_FILE

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY, pid INTEGER, ctime REAL, label TEXT,
    started REAL NOT NULL, last_seen REAL NOT NULL, cwd TEXT, ended REAL);
CREATE TABLE IF NOT EXISTS claims (
    wt TEXT NOT NULL, path BLOB NOT NULL, session TEXT NOT NULL,
    kind TEXT NOT NULL, since REAL NOT NULL, PRIMARY KEY (wt, path));
CREATE INDEX IF NOT EXISTS claims_by_session ON claims (session);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY, session TEXT NOT NULL, pattern TEXT NOT NULL,
    exclusive INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, session TEXT, pid INTEGER,
    event TEXT NOT NULL, argv TEXT, exit INTEGER, commit_id TEXT,
    paths TEXT, duration REAL, detail TEXT);
CREATE INDEX IF NOT EXISTS audit_by_commit ON audit (commit_id);
CREATE TABLE IF NOT EXISTS shared_state (
    what TEXT PRIMARY KEY, session TEXT NOT NULL, since REAL NOT NULL);
"""


def db_path(state_dir: str) -> str:
    return os.path.join(state_dir, "state.db")


def connect(state_dir: str, create: bool = True, repairing: bool = False) -> sqlite3.Connection:
    path = db_path(state_dir)
    existed = os.path.exists(os.path.join(state_dir, GENERATION_FILE))
    if not os.path.exists(path) and (existed or not create) and not repairing:
        # Recreating it empty would silently drop every live session's claims.
        raise Fatal(f"the gitlane state database {path} is missing",
                    "`gitlane doctor --repair` rebuilds it from the session folders "
                    "(staged work lives in the session indexes and is kept)")
    try:
        os.makedirs(state_dir, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise Fatal(f"gitlane state database {path} is unreadable: {exc}",
                    "run `gitlane doctor --repair` to rebuild it from the session folders "
                    "(staged work lives in the session indexes and is kept)") from None
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    row = None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.OperationalError:
        pass
    if row and int(row[0]) == SCHEMA_VERSION:
        return
    if row and int(row[0]) > SCHEMA_VERSION:
        raise Fatal(f"state database schema {row[0]} is newer than this gitlane ({SCHEMA_VERSION})",
                    "upgrade gitlane, or move the database aside with `gitlane doctor --repair`")
    with tx(conn):
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")


class tx:  # noqa: N801 - used as `with state.tx(conn):`
    """One write transaction, taken up front (BEGIN IMMEDIATE) so that a
    check-then-claim cannot race and readers-then-writers cannot deadlock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def bump_generation(conn: sqlite3.Connection) -> None:
    """Ownership changed. The new value is also written to a plain file, so
    the hot path learns "nothing changed" with one read and no sqlite."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    value = generation(conn)
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    if path:
        from gitlane.fsutil import write_atomic
        try:
            write_atomic(os.path.join(os.path.dirname(path), GENERATION_FILE), b"%d\n" % value, durable=False)
        except OSError:
            pass  # readers then see an old value and sync once more than needed




def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def audit(conn: sqlite3.Connection, event: str, session: str | None, **fields: object) -> None:
    pid = fields.pop("pid", os.getpid())
    cols = ["time", "session", "pid", "event"] + list(fields)
    vals = [time.time(), session, pid, event] + list(fields.values())
    conn.execute(f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)
