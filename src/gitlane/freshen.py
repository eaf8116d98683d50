"""Keep the session index on HEAD, lazily: one stat-and-read on the fast path,
the session lock and a 3-way rebase only when HEAD has moved."""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # no `typing` import on the hot path

from gitlane import fsutil, locks, sindex
from gitlane.errors import Fatal, ReadOnly

if TYPE_CHECKING:
    from gitlane.shim import Ctx


def ensure(ctx: "Ctx", reading: bool) -> bool:
    """True when the session index exists (rebased if it could be). A read-only
    command in a repository whose state folder cannot be written returns False
    so that it can still run."""
    from gitlane import isolation
    if not ctx.index.stale() and isolation.in_step(ctx) and sindex.verified(ctx.index.path):
        return True
    try:
        with locks.acquire(ctx.lock_path(), ctx.holder(), f"session {ctx.name}'s lock",
                           lambda: lock_timeout(ctx)):
            drop_stale_index_lock(ctx)
            update(ctx, reading)
            isolation.sync(ctx)
            # update() verified the index it found; every version since was
            # written by git under our lock. Stamp it so that the next read
            # takes the fast path (fastpath.in_step) without hashing again.
            sindex.stamp_verified(ctx.index.path)
    except (ReadOnly, PermissionError) as exc:
        if reading:
            return False
        if isinstance(exc, ReadOnly):
            raise
        raise ReadOnly(ctx.repo.state_dir(), exc.strerror or "permission denied") from None
    return True


def drop_stale_index_lock(ctx: "Ctx") -> None:
    """Under the session lock held exclusively, no git of this session runs
    (every one holds the lock, shared or exclusive, through its inherited fd),
    so a leftover `<index>.lock` is provably stale: a git that was SIGKILLed."""
    lock = ctx.index.path + ".lock"
    try:
        st = os.lstat(lock)
    except FileNotFoundError:
        return
    fsutil.remove(lock)
    import time
    detail = f"{lock} ({st.st_size} bytes, {time.time() - st.st_mtime:.1f}s old, no git of session {ctx.name} running)"
    sys.stderr.write(f"gitlane: removed stale lock {detail}\n")
    try:
        from gitlane import state
        conn = state.connect(ctx.repo.state_dir())
        try:
            with state.tx(conn):
                state.audit(conn, "reclaim", ctx.name, argv=" ".join(ctx.argv), detail=detail)
        finally:
            conn.close()
    except Fatal:
        pass


def read_lock_fds(ctx: "Ctx") -> list[int]:
    """The session lock, shared, as fds to hand to git: held by readers for as
    long as their git runs. A read-only repository simply gets no lock."""
    try:
        return [locks.acquire(ctx.lock_path(), "", f"session {ctx.name}'s lock",
                              lambda: lock_timeout(ctx), shared=True).fd]
    except (OSError, ReadOnly):
        return []


def update(ctx: "Ctx", reading: bool) -> None:
    """Create or rebase under the session lock (the caller holds it). A
    corrupt index is rebuilt from the session's snapshot ref, then we retry."""
    si = ctx.index
    # git 2.39 does not verify the index checksum when reading, so damage
    # behind a good header would be committed: writers pay for a full check.
    if sindex.looks_broken(si.path) or not sindex.verified(si.path):
        _recover(ctx)
    try:
        _update(ctx, reading)
    except Fatal:
        if not sindex.is_corrupt(si.path):
            raise
        _recover(ctx)
        _update(ctx, reading)


def _recover(ctx: "Ctx") -> None:
    from gitlane import isolation
    sys.stderr.write(f"gitlane: session {ctx.name}: {sindex.recover(ctx.index, ctx.name)}\n")
    isolation.invalidate(ctx)


def _update(ctx: "Ctx", reading: bool) -> None:
    si = ctx.index
    if not si.exists():
        _create(ctx)
        return
    try:
        moved = si.rebase()
        if moved:
            from gitlane import isolation
            if set(moved) & set(isolation.isolated_paths(ctx)):
                isolation.invalidate(ctx)  # new entries carry no skip-worktree bit
    except sindex.Conflict as exc:
        if not reading:
            raise
        _warn_once(ctx, exc)
    except sindex.Unmerged:
        pass  # an unfinished merge of this session: leave it for the user


def _create(ctx: "Ctx") -> None:
    """A new session: its index, its record, its view. sqlite's import and
    open are most of the cost, so one connection serves both, opened while
    git checks the new index (sindex.create's `meanwhile`)."""
    from gitlane import isolation, registry, state
    conns = []

    def register() -> None:
        conns.append(state.connect(ctx.repo.state_dir()))
        registry.on_created(ctx, conns[0])
    try:
        ctx.index.create(meanwhile=register)
        isolation.invalidate(ctx)
        isolation.sync(ctx, conns[0])
    finally:
        for conn in conns:
            conn.close()


def _warn_once(ctx: "Ctx", exc: sindex.Conflict) -> None:
    stamp = os.path.join(ctx.sdir, "warned")
    key = f"{exc.base} {exc.head}"
    if (fsutil.read_text(stamp) or "").strip() == key:
        return
    paths = ", ".join(os.fsdecode(p) for p in exc.paths[:5])
    sys.stderr.write(f"gitlane: session {ctx.name}'s staged changes conflict with new commits on HEAD ({paths});\n"
                     "hint: your index is left as it was; commit will refuse until you unstage or resolve\n")
    try:
        fsutil.write_atomic(stamp, key.encode(), durable=False)
    except OSError:
        pass


def lock_timeout(ctx: "Ctx") -> float:
    """`lane.lockTimeout` (seconds), asked of git only once we have to wait."""
    raw = os.environ.get("GITLANE_LOCK_TIMEOUT") or ctx.git.config("lane.lockTimeout")
    try:
        return max(0.0, float(raw)) if raw else locks.DEFAULT_TIMEOUT
    except ValueError:
        return locks.DEFAULT_TIMEOUT
