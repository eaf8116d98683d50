"""shared.db: the state database file, its schema, transactions (BEGIN
IMMEDIATE, nesting joins the outer one), the audit log (newlines folded) and
the errors for a missing, unreadable or newer database. Real sqlite files."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from gitlane import layout
from gitlane.errors import StateError
from gitlane.shared import db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "gitlane"


def tables(conn: db.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_connect_creates_the_schema(folder: Path) -> None:
    conn = db.connect(str(folder))
    try:
        assert (folder / layout.DB).exists()
        assert tables(conn) == {"meta", "sessions", "claims", "reservations", "audit", "shared_state"}
        assert dict(conn.execute("SELECT key, value FROM meta")) == {"schema": "1", "generation": "0"}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
        assert not conn.in_transaction                 # autocommit outside db.tx
    finally:
        conn.close()
    assert db.path(str(folder)) == str(folder / layout.DB)


def test_connect_again_keeps_the_data(folder: Path) -> None:
    conn = db.connect(str(folder))
    conn.execute("UPDATE meta SET value = '7' WHERE key = 'generation'")
    conn.close()
    conn = db.connect(str(folder))
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0] == "7"
    finally:
        conn.close()


def test_create_false_refuses_a_missing_database(folder: Path) -> None:
    with pytest.raises(StateError) as exc:
        db.connect(str(folder), create=False)
    assert exc.value.what == f"the gitlane state database {folder / layout.DB} is missing"
    assert "gitlane doctor --repair" in exc.value.hint
    assert not folder.exists()


def test_a_database_that_existed_is_never_silently_recreated(folder: Path) -> None:
    """The generation file proves there was a database: recreating it empty
    would drop every live session's claims."""
    db.connect(str(folder)).close()
    for name in (layout.DB, layout.DB + "-wal", layout.DB + "-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / layout.GENERATION).write_text("3\n")
    with pytest.raises(StateError, match="is missing"):
        db.connect(str(folder))
    assert not (folder / layout.DB).exists()
    db.connect(str(folder), repairing=True).close()      # doctor --repair may
    assert (folder / layout.DB).exists()


def test_an_unreadable_database_is_a_state_error(folder: Path) -> None:
    folder.mkdir()
    (folder / layout.DB).write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(StateError) as exc:
        db.connect(str(folder))
    assert exc.value.what == f"gitlane state database {folder / layout.DB} is unreadable: file is not a database"
    assert exc.value.hint.startswith("run `gitlane doctor --repair` to rebuild it")
    assert exc.value.__cause__ is None and exc.value.__suppress_context__   # no sqlite traceback


def test_a_newer_schema_is_refused(folder: Path) -> None:
    db.connect(str(folder)).close()
    raw = sqlite3.connect(folder / layout.DB)
    raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    raw.commit()
    raw.close()
    with pytest.raises(StateError) as exc:
        db.connect(str(folder))
    assert exc.value.what == f"state database schema 99 is newer than this gitlane ({db.SCHEMA_VERSION})"


# --- transactions ---------------------------------------------------------------------

def count(conn: db.Connection) -> int:
    return conn.execute("SELECT count(*) FROM audit").fetchone()[0]


@pytest.fixture
def two(folder: Path):  # type: ignore[no-untyped-def]
    a, b = db.connect(str(folder)), db.connect(str(folder))
    yield a, b
    a.close()
    b.close()


def test_tx_commits_on_success_and_rolls_back_on_error(two) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    with db.tx(a) as conn:
        assert conn is a and a.in_transaction
        db.audit(a, "one", "s")
    assert not a.in_transaction and count(b) == 1
    with pytest.raises(KeyError):
        with db.tx(a):
            db.audit(a, "two", "s")
            raise KeyError("boom")
    assert not a.in_transaction and count(b) == 1


def test_nested_tx_joins_the_outer_one(two) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    with db.tx(a):
        with db.tx(a):
            db.audit(a, "inner", "s")
        assert a.in_transaction                     # the inner exit did not commit
        assert count(b) == 0                        # nothing visible outside yet
    assert count(b) == 1
    with pytest.raises(ValueError):
        with db.tx(a):
            db.audit(a, "outer", "s")
            try:
                with db.tx(a):
                    db.audit(a, "inner", "s")
                    raise ValueError("inner fails")
            finally:
                assert a.in_transaction             # still the outer's to end
    assert count(b) == 1                            # both writes rolled back together


def test_tx_takes_the_write_lock_up_front(two) -> None:  # type: ignore[no-untyped-def]
    """BEGIN IMMEDIATE: a second writer cannot even start while the first is
    open (check-then-claim cannot race), but readers still read (WAL)."""
    a, b = two
    b.execute("PRAGMA busy_timeout = 0")
    with db.tx(a):
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            b.execute("BEGIN IMMEDIATE")
        assert count(b) == 0
    b.execute("BEGIN IMMEDIATE")
    b.execute("ROLLBACK")


# --- the audit log ------------------------------------------------------------------------

def rows(conn: db.Connection) -> list[dict[str, object]]:
    cur = conn.execute("SELECT * FROM audit ORDER BY id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_audit_folds_newlines_in_argv_and_detail(folder: Path) -> None:
    conn = db.connect(str(folder))
    try:
        db.audit(conn, "commit", "s1", argv="commit -m 'two\nlines'\t x", detail="a\n\nb\r\nc",
                 paths=b"a\nb\0c", exit=0, commit_id="abc", duration=0.5)
        (rec,) = rows(conn)
        assert rec["argv"] == "commit -m 'two lines' x"
        assert rec["detail"] == "a b c"
        assert rec["paths"] == b"a\nb\0c"           # only text is folded
        assert (rec["event"], rec["session"], rec["pid"], rec["exit"], rec["commit_id"], rec["duration"]) == \
            ("commit", "s1", os.getpid(), 0, "abc", 0.5)
        assert rec["time"] > 0
    finally:
        conn.close()


def test_audit_takes_an_explicit_pid_and_no_session(folder: Path) -> None:
    conn = db.connect(str(folder))
    try:
        db.audit(conn, "reclaim", None, pid=4242, detail=None)
        (rec,) = rows(conn)
        assert (rec["session"], rec["pid"], rec["detail"]) == (None, 4242, None)
    finally:
        conn.close()


def test_state_file_is_beside_the_database(folder: Path) -> None:
    conn = db.connect(str(folder))
    try:
        assert db.state_file(conn, layout.GENERATION) == str(folder / layout.GENERATION)
    finally:
        conn.close()
    memory = sqlite3.connect(":memory:")
    try:
        assert db.state_file(memory, layout.GENERATION) is None
    finally:
        memory.close()


# --- a write command's one connection ----------------------------------------

def test_keep_open_reuses_one_connection_and_its_work_survives_an_exit_without_close(folder: Path) -> None:
    """The shim's write path calls keep_open(): every connect() gives the same
    connection, close() keeps it, and a process that leaves by os._exit
    without closing leaves its committed transactions for the next reader."""
    import subprocess
    import sys
    db.connect(str(folder)).close()  # the schema
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); from gitlane.shared import db\n"
            "db.keep_open()\n"
            "a = db.connect(sys.argv[2]); a.close(); b = db.connect(sys.argv[2])\n"
            "assert a is b, 'not reused'\n"
            "db.audit(b, 'probe', 's1', detail='kept')\n"
            "b.close()\n"
            "print(os.path.exists(sys.argv[2] + '/' + 'state.db-wal'), flush=True)\n"
            "os._exit(0)\n")
    src = str(Path(db.__file__).resolve().parents[2])
    res = subprocess.run([sys.executable, "-c", code, src, str(folder)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "True"  # close() did not checkpoint and remove the WAL
    conn = sqlite3.connect(str(folder / layout.DB))
    try:
        assert conn.execute("SELECT detail FROM audit WHERE event = 'probe'").fetchall() == [("kept",)]
    finally:
        conn.close()


def test_without_keep_open_connections_are_separate(folder: Path) -> None:
    a, b = db.connect(str(folder)), db.connect(str(folder))
    try:
        assert a is not b
    finally:
        a.close()
        b.close()


# --- one owner for the SQL -----------------------------------------------------------------

SQL_OWNERS = {"shared/db.py", "shared/claims.py", "shared/sessions.py"}


def test_sql_is_written_only_in_db_claims_and_sessions() -> None:
    """Every `conn.execute(...)` / `executemany(...)` of the package is in
    shared.db (schema, audit), shared.claims (ownership, attribution, merge
    markers) or shared.sessions: a rule about a table has one place to live."""
    import ast
    package = Path(db.__file__).resolve().parents[1]
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel in SQL_OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("execute", "executemany", "executescript"):
                found.append(f"{rel}:{node.lineno}")
    assert found == []


def test_audit_records_filter_newest_first(conn: db.Connection) -> None:
    db.audit(conn, "commit", "A", commit_id="c1")
    db.audit(conn, "reclaim", "B", detail="x")
    db.audit(conn, "commit", "B", commit_id="c2")
    events = [(r[1], r[3]) for r in db.audit_records(conn)]
    assert events == [("B", "commit"), ("B", "reclaim"), ("A", "commit")]
    assert [r[6] for r in db.audit_records(conn, event="commit")] == ["c2", "c1"]
    assert [r[3] for r in db.audit_records(conn, session="B", limit=1)] == ["commit"]
    assert db.audit_records(conn, since=time.time() + 60) == []
    assert db.AUDIT_COLUMNS[6] == "commit_id" and len(db.audit_records(conn)[0]) == len(db.AUDIT_COLUMNS)


def test_quick_check(conn: db.Connection) -> None:
    assert db.quick_check(conn) is True
