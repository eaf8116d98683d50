"""Why gitlane's state could not be read or written, told as what it is: a
full disk, a read-only file system, a permission, a busy database, or real
damage. Only real damage is worth `gitlane doctor --repair`; the others
leave the database intact, and rebuilding it would throw good state away
(docs/DESIGN.md, "Hazards").

`diagnose` is the decision, a pure function of the facts; `explain` gathers
the facts (statvfs, access) for one failure and returns the error to raise.
"""
from __future__ import annotations

import errno
import os

from gitlane.errors import ReadOnly, StateError

FULL, READ_ONLY, DENIED, BUSY, DAMAGED, IO = "full", "read-only", "denied", "busy", "damaged", "io"

_BY_ERRNO = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EFBIG: FULL, errno.EROFS: READ_ONLY,
             errno.EACCES: DENIED, errno.EPERM: DENIED}
# sqlite result codes by name (Python >= 3.11 names each error); extended
# codes (SQLITE_IOERR_WRITE, ...) are matched by their primary prefix.
_BY_SQLITE = (("SQLITE_FULL", FULL), ("SQLITE_READONLY", READ_ONLY), ("SQLITE_PERM", DENIED),
              ("SQLITE_AUTH", DENIED), ("SQLITE_BUSY", BUSY), ("SQLITE_LOCKED", BUSY),
              ("SQLITE_CORRUPT", DAMAGED), ("SQLITE_NOTADB", DAMAGED), ("SQLITE_FORMAT", DAMAGED))


def diagnose(sqlite_name: str, os_errno: int | None, disk_full: bool, fs_read_only: bool, writable: bool) -> str:
    """The kind of failure. The file system's own state wins over sqlite's
    word for it: on a full disk sqlite often says only "disk I/O error"."""
    kind = _BY_ERRNO.get(os_errno or 0)
    if kind:
        return kind
    for prefix, named in _BY_SQLITE:
        if sqlite_name.startswith(prefix):
            if named in (BUSY, DAMAGED):
                return named
            kind = named
            break
    if fs_read_only:
        return READ_ONLY
    if disk_full:
        return FULL
    if not writable:
        return DENIED
    return kind or IO


def facts(path: str) -> tuple[bool, bool, bool]:
    """(disk full, read-only file system, writable by us) for path's folder."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    try:
        st = os.statvfs(folder)
        full = st.f_bavail * st.f_frsize < 64 * 1024 or (st.f_files > 0 and st.f_favail == 0)
        read_only = bool(st.f_flag & os.ST_RDONLY)
    except OSError:
        full = read_only = False
    writable = os.access(folder, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))
    return full, read_only, writable


def explain(exc: BaseException, path: str) -> StateError:
    """The error to raise for a failed read or write of gitlane state at path."""
    kind = diagnose(getattr(exc, "sqlite_errorname", "") or "", getattr(exc, "errno", None), *facts(path))
    detail = getattr(exc, "strerror", None) or str(exc)
    if kind == FULL:
        err = StateError(f"cannot write gitlane state at {path}: the file system is full ({detail})",
                         "free some space, then retry; the state database is intact (nothing to repair)")
    elif kind in (READ_ONLY, DENIED):
        err = ReadOnly(path, "read-only file system" if kind == READ_ONLY else f"permission denied ({detail})")
    elif kind == BUSY:
        err = StateError(f"the gitlane state database {path} is busy: another process holds a write "
                         f"transaction ({detail})",
                         "retry; if it stays busy, stop the process that holds it (`fuser` names it); nothing was changed")
    elif kind == DAMAGED:
        err = StateError(f"gitlane state database {path} is unreadable: {detail}",
                         "run `gitlane doctor --repair` to rebuild it from the session folders "
                         "(staged work lives in the session indexes and is kept)")
    else:
        err = StateError(f"cannot use gitlane state at {path}: {detail}",
                         "check the disk (`dmesg`), then retry; `gitlane doctor` says whether the database is damaged")
    err.kind = kind
    return err


_opened: list[str] = []


def note_opened(path: str) -> None:
    """The state database this process uses (shared.db.connect), for errors
    met after connect."""
    _opened.append(path)


def failure(exc: BaseException) -> "StateError | None":
    """A full disk, a read-only file system, a refused permission, or a busy
    or damaged database met anywhere (errors.guarded's `translate`)."""
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return explain(exc, exc.filename if isinstance(exc.filename, str) else os.getcwd())
    if type(exc).__module__ in ("sqlite3", "_sqlite3"):
        return explain(exc, _opened[-1] if _opened else "the state database")
    return None
