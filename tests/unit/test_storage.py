"""shared.storage: a failure is said as what it is; only damage is repaired."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from gitlane.errors import ReadOnly
from gitlane.shared import db, storage


@pytest.mark.parametrize("name, err, full, ro, writable, want", [
    ("SQLITE_IOERR_SHMSIZE", None, True, False, True, storage.FULL),      # sqlite says only "disk I/O error"
    ("SQLITE_FULL", None, False, False, True, storage.FULL),
    ("", errno.ENOSPC, False, False, True, storage.FULL),
    ("", errno.EROFS, False, False, True, storage.READ_ONLY),
    ("SQLITE_READONLY", None, False, True, False, storage.READ_ONLY),
    ("SQLITE_READONLY", None, False, False, False, storage.DENIED),
    ("SQLITE_CANTOPEN", None, False, False, False, storage.DENIED),
    ("", errno.EACCES, False, False, True, storage.DENIED),
    ("SQLITE_BUSY", None, False, False, True, storage.BUSY),
    ("SQLITE_LOCKED", None, True, False, True, storage.BUSY),
    ("SQLITE_NOTADB", None, False, False, True, storage.DAMAGED),
    ("SQLITE_CORRUPT", None, True, False, True, storage.DAMAGED),
    ("SQLITE_IOERR_READ", None, False, False, True, storage.IO),           # not damage, not repaired either
])
def test_diagnose_table(name: str, err: int | None, full: bool, ro: bool, writable: bool, want: str) -> None:
    assert storage.diagnose(name, err, full, ro, writable) == want


def test_explain_read_only_is_a_read_only_error(tmp_path: Path) -> None:
    exc = storage.explain(OSError(errno.EROFS, "Read-only file system"), str(tmp_path / "state.db"))
    assert isinstance(exc, ReadOnly) and exc.kind == storage.READ_ONLY


def test_integrity_ok_tells_a_good_database_from_garbage(tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    db.connect(str(tmp_path), repairing=True).close()
    good = tmp_path / "state.db"
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database\n" * 200)
    assert db.integrity_ok(str(good)) and not db.integrity_ok(str(bad)) and not db.integrity_ok(str(tmp_path / "none"))


def test_failure_translates_only_state_failures() -> None:
    assert storage.failure(ValueError("x")) is None
    assert storage.failure(OSError(errno.ENOENT, "gone")) is None
    said = storage.failure(OSError(errno.ENOSPC, "No space left on device", "/tmp"))
    assert said is not None and said.kind == storage.FULL
