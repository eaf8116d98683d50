"""Keep the session index on HEAD, lazily: one stat-and-read on the fast path,
the session lock and a rebase only when HEAD has moved."""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.errors import GitError, ReadOnly, StateError
from gitlane.session import index as session_index
from gitlane.session import isolation, repair
from gitlane.shared import locks

if TYPE_CHECKING:
    from typing import Callable

    from gitlane.session import Session


def in_step(s: Session) -> bool:
    return not s.index.stale() and isolation.in_step(s) and session_index.verified(s.index.path)


def ensure(s: Session, holder: str, command: str, reading: bool,
           yield_to: Callable[[dict[str, str] | None], bool] | None = None) -> bool:
    """True when the session index exists (rebased if it could be). A read-only
    command in a repository whose state folder cannot be written returns False
    so that it can still run."""
    if in_step(s):
        return True
    try:
        with session_lock(s, holder, yield_to=yield_to):
            update(s, reading)
            isolation.sync(s)
            # update() verified the index it found; every version since was
            # written by git under our lock. Stamp it so that the next read
            # takes the fast path without hashing again.
            session_index.stamp_verified(s.index.path)
    except (ReadOnly, PermissionError) as exc:
        if reading:
            return False
        if isinstance(exc, ReadOnly):
            raise
        raise ReadOnly(s.repo.state_dir(), exc.strerror or "permission denied") from None
    return True


def session_lock(s: Session, holder: str, shared: bool = False,
                 yield_to: Callable[[dict[str, str] | None], bool] | None = None) -> locks.Lock:
    """The session lock. Taken exclusively, it first clears a leftover
    `<index>.lock` (provably stale then: drop_stale_index_lock), so nothing
    that runs under it, isolation sync included, meets a killed git's lock."""
    lock = locks.acquire(s.lock_path, holder, f"session {s.name}'s lock", lambda: locks.timeout(s.git),
                         shared=shared, yield_to=yield_to)
    if not shared:
        try:
            drop_stale_index_lock(s, holder.split("\t")[-1].removeprefix("git "))
        except BaseException:
            lock.release()
            raise
    return lock


def drop_stale_index_lock(s: Session, command: str) -> None:
    """Under the session lock held exclusively, no git of this session runs
    (every one holds the lock, shared or exclusive, through its inherited fd),
    so a leftover `<index>.lock` is provably stale: a git that was SIGKILLed."""
    lock = s.index.path + ".lock"
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        return
    files.remove(lock)
    import time
    detail = f"{lock} ({st.st_size} bytes, {time.time() - st.st_mtime:.1f}s old, no git of session {s.name} running)"
    sys.stderr.write(f"gitlane: removed stale lock {detail}\n")
    try:
        from gitlane.shared import db
        conn = db.connect(s.repo.state_dir())
        try:
            db.audit(conn, "reclaim", s.name, argv=command, detail=detail)
        finally:
            conn.close()
    except StateError:
        pass


def read_lock_fds(s: Session, yield_to: Callable[[dict[str, str] | None], bool] | None = None) -> list[int]:
    """The session lock, shared, as fds to hand to git: held by readers for as
    long as their git runs. A read-only repository simply gets no lock."""
    try:
        return [session_lock(s, "", shared=True, yield_to=yield_to).fd]
    except (OSError, ReadOnly):
        return []


def update(s: Session, reading: bool) -> None:
    """Create or rebase under the session lock (the caller holds it). A
    corrupt index is rebuilt from the session's snapshot, then we retry."""
    si = s.index
    # git 2.39 does not verify the index checksum when reading, so damage
    # behind a good header would be committed: writers pay for a full check.
    if session_index.looks_broken(si.path) or not session_index.verified(si.path):
        _say(s, repair.recover_index(si, s.name))
    if repair.index_missing(si):
        _say(s, repair.recover_missing_index(si, s.name))
    problem = repair.base_problem(si)
    if problem:
        _say(s, repair.recover_base(si, s.name, problem))
    try:
        _update(s, reading)
    except GitError as exc:
        if session_index.is_corrupt(si.path) or repair.unreadable(exc):
            _say(s, repair.recover_index(si, s.name))
        elif not repair.base_is_commit(si):
            _say(s, repair.recover_base(si, s.name, f"its base {si.base()} is not a commit"))
        else:
            raise
        _update(s, reading)


def _say(s: Session, what: str) -> None:
    sys.stderr.write(f"gitlane: session {s.name}: {what}\n")
    isolation.invalidate(s)


def _update(s: Session, reading: bool) -> None:
    si = s.index
    if not si.exists():
        _create(s)
        return
    try:
        moved = si.rebase()
        if moved and set(moved) & set(isolation.isolated_paths(s)):
            isolation.invalidate(s)  # new entries carry no skip-worktree bit
    except session_index.Conflict as exc:
        if not reading:
            raise
        warn_conflict_once(s, exc)
    except session_index.Unmerged:
        pass  # an unfinished merge of this session: leave it for the user


def _create(s: Session) -> None:
    """A new session: its index, its record, its view. sqlite's import and
    open are most of the cost, so one connection serves both, opened while
    git checks the new index (SessionIndex.create's `meanwhile`)."""
    from gitlane.shared import db, sessions
    conns = []

    def register() -> None:
        conns.append(db.connect(s.repo.state_dir()))
        sessions.write_owner(s.dir, sessions.register(conns[0], s.name, os.environ, s.repo.cwd))
    # A peer appears: sessions that staged while alone wrote no snapshot ref
    # (session.snapshot); from the moment this session is registered their
    # staged work needs one, so it is written first (a kill in between loses
    # nothing: tests/e2e/test_kills.py).
    from gitlane.session import snapshot
    snapshot.protect_all(s.git, skip=s.dir)
    def alone() -> bool:
        """What .git/index stages is a lone session's, as it is plain git's:
        not while a peer is live (nobody's then), nor while .git/index still
        has to follow a session's commit (it would stage that commit's undoing)."""
        from gitlane.shared import main_index
        return not sessions.peer_live(conns[0], s.name) and not main_index.pending(s.git)
    try:
        adopted = s.index.create(meanwhile=register, adopt=alone)
        if adopted:
            from gitlane.shared import claims
            claims.set_staged(conns[0], s.repo.worktree_id, s.name, adopted)
        isolation.invalidate(s)
        isolation.sync(s, conns[0])
    finally:
        for conn in conns:
            conn.close()


def warn_conflict_once(s: Session, exc: session_index.Conflict) -> None:
    stamp = s.path(layout.WARNED)
    key = f"{exc.base} {exc.head}"
    if (files.read_text(stamp) or "").strip() == key:
        return
    paths = ", ".join(os.fsdecode(p) for p in exc.paths[:5])
    sys.stderr.write(f"gitlane: session {s.name}'s staged changes conflict with new commits on HEAD ({paths});\n"
                     "hint: your index is left as it was; commit will refuse until you unstage or resolve\n")
    try:
        files.write_atomic(stamp, key.encode(), durable=False)
    except OSError:
        pass
