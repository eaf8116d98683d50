"""The shared state database: its file, its schema, transactions, the audit log.

sqlite3 in WAL mode under the state folder. Every change is one transaction
(BEGIN IMMEDIATE, so check-then-claim cannot race). What the tables mean is
owned elsewhere: shared.claims (claims, reservations, the generation),
shared.sessions (sessions), run.merge_state (shared_state). The session
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

from gitlane import layout
from gitlane.errors import StateError

DatabaseError = sqlite3.DatabaseError
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

Connection = sqlite3.Connection


class _Kept(sqlite3.Connection):
    """A connection of a process that leaves by os._exit: close() keeps it.
    The last connection to close checkpoints the WAL into the database and
    fsyncs it (10-20 ms per command on a busy disk); a connection that
    never closes leaves its committed transactions in the WAL, where the
    next connection finds them: sqlite's own crash recovery."""

    def close(self) -> None:
        pass


_kept: dict[str, sqlite3.Connection] = {}
_keep = False


def keep_open() -> None:
    """Called by the shim's full path, which ends in os._exit or exec: one
    connection per database for the whole process, reused by every
    connect(), never closed (docs/DESIGN.md, "Performance budget")."""
    global _keep
    _keep = True


def path(state_dir: str) -> str:
    return os.path.join(state_dir, layout.DB)


def connect(state_dir: str, create: bool = True, repairing: bool = False) -> sqlite3.Connection:
    db = path(state_dir)
    from gitlane import files
    files.refuse_links(os.path.dirname(state_dir), state_dir)
    existed = os.path.exists(os.path.join(state_dir, layout.GENERATION))
    if not os.path.exists(db) and (existed or not create) and not repairing:
        # Recreating it empty would silently drop every live session's claims.
        raise StateError(f"the gitlane state database {db} is missing",
                         "`gitlane doctor --repair` rebuilds it from the session folders "
                         "(staged work lives in the session indexes and is kept)")
    kept = _kept.get(db) if _keep else None
    if kept is not None and not kept.in_transaction:
        return kept
    from gitlane.shared import storage
    storage.note_opened(db)
    try:
        os.makedirs(state_dir, exist_ok=True)
        wait = busy_timeout()
        conn = sqlite3.connect(db, timeout=wait, isolation_level=None,
                               factory=_Kept if _keep else sqlite3.Connection)
        conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn)
        if _keep:
            _kept[db] = conn
    except (sqlite3.DatabaseError, OSError) as exc:
        # A full disk or a read-only mount is not damage (shared.storage).
        raise storage.explain(exc, db) from None
    return conn


def busy_timeout() -> float:
    """How long to wait for another process's write transaction: 30 s, or
    GITLANE_LOCK_TIMEOUT when that is shorter (no git config here: this runs
    before git is asked anything)."""
    try:
        return min(30.0, max(0.0, float(os.environ.get("GITLANE_LOCK_TIMEOUT", "30"))))
    except ValueError:
        return 30.0



def _migrate(conn: sqlite3.Connection) -> None:
    row = None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.OperationalError:
        pass
    if row and int(row[0]) == SCHEMA_VERSION:
        return
    if row and int(row[0]) > SCHEMA_VERSION:
        raise StateError(f"state database schema {row[0]} is newer than this gitlane ({SCHEMA_VERSION})",
                         "upgrade gitlane, or move the database aside with `gitlane doctor --repair`")
    with tx(conn):
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")


class tx:  # noqa: N801 - used as `with db.tx(conn):`
    """One write transaction, taken up front (BEGIN IMMEDIATE) so that a
    check-then-claim cannot race and readers-then-writers cannot deadlock.
    Nested use joins the outer transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def audit(conn: sqlite3.Connection, event: str, session: str | None, **fields: object) -> None:
    """One audit record (inside the caller's transaction, or its own).
    Newlines in the command or detail are folded so `gitlane log` stays a table."""
    pid = fields.pop("pid", os.getpid())
    for key in ("argv", "detail"):
        if isinstance(fields.get(key), str):
            fields[key] = " ".join(str(fields[key]).split())
    cols = ["time", "session", "pid", "event"] + list(fields)
    vals = [time.time(), session, pid, event] + list(fields.values())
    with tx(conn):
        conn.execute(f"INSERT INTO audit ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)


def committers(conn: sqlite3.Connection, commits: "set[str]") -> dict[str, str]:
    """{commit: the session that made it}, from the audit log."""
    out: dict[str, str] = {}
    for commit in commits:
        row = conn.execute("SELECT session FROM audit WHERE commit_id = ? AND session IS NOT NULL "
                           "ORDER BY id DESC LIMIT 1", (commit,)).fetchone()
        if row:
            out[commit] = row[0]
    return out


AUDIT_COLUMNS = ("time", "session", "pid", "event", "argv", "exit", "commit_id", "paths", "duration", "detail")


def audit_records(conn: sqlite3.Connection, session: str | None = None, event: str | None = None,
                  since: float | None = None, limit: int = 50) -> list[tuple]:  # type: ignore[type-arg]
    """The newest audit records first (AUDIT_COLUMNS), filtered (`gitlane log`)."""
    where, params = ["1 = 1"], []  # type: ignore[var-annotated]
    for column, value in (("session = ?", session), ("time >= ?", since)):
        if value is not None:
            where.append(column)
            params.append(value)
    if event is not None:  # an event and its kinds: `force` also finds `force-release`
        where.append("(event = ? OR substr(event, 1, ?) = ?)")
        params += [event, len(event) + 1, event + "-"]
    return conn.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit WHERE {' AND '.join(where)} "
                        "ORDER BY id DESC LIMIT ?", (*params, max(1, limit))).fetchall()


def connect_readonly(uri: str) -> sqlite3.Connection:
    """A read-only connection (`gitlane top`): it takes no write lock, and a
    reader that closes last leaves the -wal file for the next writer."""
    conn = sqlite3.connect(uri, uri=True, timeout=2, isolation_level=None)
    conn.execute("PRAGMA query_only = 1")
    return conn


def recent_commits(conn: sqlite3.Connection, limit: int) -> list[tuple[str, str, float]]:
    """(session, commit, time) of the newest audit rows naming a commit, newest first."""
    return conn.execute("SELECT session, commit_id, time FROM audit WHERE commit_id IS NOT NULL "
                        "AND session IS NOT NULL ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def recent_refusals(conn: sqlite3.Connection, events: tuple[str, ...], limit: int) -> list[tuple]:
    """(time, session, event, argv, detail) of the newest refusals, newest first."""
    marks = ", ".join("?" * len(events))
    return conn.execute(f"SELECT time, session, event, argv, detail FROM audit WHERE event IN ({marks}) "
                        "OR event LIKE 'refus%' ORDER BY id DESC LIMIT ?", (*events, limit)).fetchall()


def quick_check(conn: sqlite3.Connection) -> bool:
    """sqlite's own consistency check (`gitlane doctor`)."""
    return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def state_file(conn: sqlite3.Connection, name: str) -> str | None:
    """A file beside the database (the generation file)."""
    db = conn.execute("PRAGMA database_list").fetchone()[2]
    return os.path.join(os.path.dirname(db), name) if db else None


def integrity_ok(db_path: str) -> bool:
    """Does the database open read-only and pass PRAGMA integrity_check? Then
    it is not damaged, whatever made a command fail, and `doctor --repair`
    must not rebuild it."""
    if not os.path.isfile(db_path):
        return False
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.Error:
        return False
