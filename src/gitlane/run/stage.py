"""Staging: commands that change this session's index (and guarded commands
that change only the work tree), under the session lock.

Commands that write only the index run on a copy, kept only if every path it
stages is ours to stage (all or nothing: `add .`, `-A`, globs and magic).
`rm` and `mv` also change the work tree, so their paths are predicted first.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False

from gitlane import files
from gitlane.git import proc
from gitlane.run import classify
from gitlane.session import index as session_index
from gitlane.session import isolation, refresh, settled
from gitlane.shared import claims, db, git_locks, locks, sessions

if TYPE_CHECKING:
    from typing import NoReturn
    import sqlite3

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session


def connect(s: Session) -> sqlite3.Connection:
    """The database, with this session on record."""
    conn = db.connect(s.repo.state_dir())
    sessions.ensure(conn, s.name, s.dir, os.environ, s.repo.cwd)
    return conn


def clear_stale(s: Session, inv: Invocation, ref_locks: bool) -> None:
    """Under our locks, leftover git locks are either a live git outside
    gitlane (wait) or stale (reclaim, audited)."""
    paths = git_locks.ref_locks(s.repo, inv.command) if ref_locks else []
    if not any(os.path.exists(p) for p in paths):
        return

    def audit(event: str, detail: str) -> None:
        conn = connect(s)
        try:
            db.audit(conn, event, s.name, argv=inv.line, detail=detail)
        finally:
            conn.close()
    git_locks.clear(s.repo, paths, locks.timeout(s.git), audit)


def refresh_tolerant(s: Session) -> None:
    """Bring the index onto HEAD; a conflict is only warned about here (the
    commit path refuses it)."""
    try:
        refresh.update(s, reading=False)
    except session_index.Conflict as exc:
        refresh.warn_conflict_once(s, exc)


def isolate_and_guard(s: Session, inv: Invocation, conn: sqlite3.Connection | None = None) -> None:
    from gitlane.guard import facts
    own = conn is None
    if own and isolation.in_step(s) and not facts.relevant(inv):
        return
    conn = conn or connect(s)
    try:
        isolation.sync(s, conn)
        facts.check(s, inv, conn)
    finally:
        if own:
            conn.close()


def run(s: Session, inv: Invocation) -> int:
    from gitlane.shared import main_index
    main_index.catch_up(s.git)
    with refresh.session_lock(s, inv.holder(s.name)) as lock:
        clear_stale(s, inv, ref_locks=False)
        refresh_tolerant(s)
        isolate_and_guard(s, inv)
        _named_hidden_paths(s, inv)
        if classify.index_only(inv.command, inv.args):
            _stage_on_copy(s, inv, lock)
        _stage_in_place(s, inv, lock)


def _named_hidden_paths(s: Session, inv: Invocation) -> None:
    """`git add P` for a path a peer owns would meet view isolation first and
    get git's sparse-checkout or "ignored" message. Refuse it in our words,
    naming the owner; if the owner has died since, show the path again so git
    can stage it."""
    before, after = classify.positionals(inv.args)
    named = sorted({p for p in (_named_path(s, w) for w in before + after) if p is not None})
    if not named:
        return
    conn = connect(s)
    try:
        found = settled.unsettled(s, claims.find(conn, s.repo.worktree_id, s.name, named, claims.alive_checker(conn)))
    finally:
        conn.close()
    if found:
        action = "stage" if classify.index_only(inv.command, inv.args) else inv.command
        raise claims.refusal(action, found, "nothing was changed")
    hidden = set(isolation.isolated_paths(s)) & set(named)
    if hidden:
        isolation.release(s, sorted(hidden))


def _named_path(s: Session, word: str) -> bytes | None:
    """The top-relative path a pathspec word names literally, if it does."""
    named = classify.literal_path(word)
    if named is None:
        return None
    top, path = named
    return os.fsencode(os.path.normpath(path)) if top else s.repo.top_rel(path)


def guarded_other(s: Session, inv: Invocation) -> NoReturn:
    """clean, worktree-only restore/checkout and friends: under the session
    lock, after the guard."""
    with refresh.session_lock(s, inv.holder(s.name)) as lock:
        refresh_tolerant(s)
        isolate_and_guard(s, inv)
        status = proc.call(inv.real_argv(), s.git_env(os.environ), pass_fds=[lock.fd])
        session_index.stamp_verified(s.index.path)
    proc.exit_like(status)


def _stage_on_copy(s: Session, inv: Invocation, lock: locks.Lock) -> NoReturn:
    si = s.index
    tmp = s.path(f"index.stage.{os.getpid()}")
    files.copy_keep_stat(si.path, tmp)
    before = _version(tmp)
    try:
        status = proc.call(inv.real_argv(), s.git_env(os.environ, GIT_INDEX_FILE=tmp), pass_fds=[lock.fd])
        if _version(tmp) != before:  # git rewrote it: check, then keep
            claim_or_refuse(s, tmp, "stage", "nothing was staged")
            os.replace(tmp, si.path)
            session_index.stamp_verified(si.path)
    finally:
        files.remove(tmp)
    proc.exit_like(status)


def _version(index: str) -> tuple[int, bytes]:
    """(inode, trailing checksum) of an index file. The inode alone is not
    enough: when git replaces the index twice (`reset -p`: its `apply --cached`
    child, then itself) the second file can get the first's freed inode back."""
    with open(index, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 32))
        return os.fstat(fh.fileno()).st_ino, fh.read()


def _stage_in_place(s: Session, inv: Invocation, lock: locks.Lock) -> NoReturn:
    """rm, mv and friends also change the work tree, so they cannot run on a
    copy: predict their paths first, then run them for real."""
    predicted = _predict(s, inv)
    if predicted:
        conn = connect(s)
        try:
            found = settled.unsettled(s, claims.find(conn, s.repo.worktree_id, s.name, predicted,
                                                     claims.alive_checker(conn)))
        finally:
            conn.close()
        if found:
            raise claims.refusal(inv.command, found, "nothing was changed")
    status = proc.call(inv.real_argv(), s.git_env(os.environ), pass_fds=[lock.fd])
    session_index.stamp_verified(s.index.path)
    claim_or_refuse(s, s.index.path, None, "")
    proc.exit_like(status)


def _predict(s: Session, inv: Invocation) -> list[bytes]:
    """The paths rm/mv would change: everything tracked under their arguments
    (and for mv, the destinations)."""
    before, after = classify.positionals(inv.args)
    words = before + after
    if inv.command == "mv" and len(words) >= 2:
        dest = words[-1]
        sources = s.git.ls_files(s.index.path, [s.repo.top_rel(w) for w in words[:-1]])
        into_dir = os.path.isdir(os.path.join(s.repo.cwd, dest))
        targets = [s.repo.top_rel(os.path.join(dest, os.path.basename(w)) if into_dir else dest)
                   for w in words[:-1]]
        return sources + targets
    if inv.command == "rm" and words:
        return s.git.ls_files(s.index.path, [s.repo.top_rel(w) for w in words])
    return []


def claim_or_refuse(s: Session, index: str, action: str | None, nothing: str) -> None:
    """In one transaction: refuse if any path `index` stages is owned by another
    live session (when action is given), else record exactly those claims."""
    from gitlane.session import snapshot
    base = s.index.base() or s.repo.empty_tree()
    staged = s.git.changed_paths(index, base)
    conn = connect(s)
    try:
        with db.tx(conn):
            if action is not None:
                found = settled.unsettled(s, claims.find(conn, s.repo.worktree_id, s.name, staged,
                                                         claims.alive_checker(conn)))
                if found:
                    raise claims.refusal(action, found, nothing)
            isolation.carry(s, claims.set_staged(conn, s.repo.worktree_id, s.name, staged))
        alone = not sessions.peer_live(conn, s.name)
    finally:
        conn.close()
    snapshot.take(s.git, s.name, index, base, bool(staged), alone)
    session_index.remember_staged(s.index, index, base, staged)  # after write-tree, which rewrites it
    s.note_staged(len(staged))
