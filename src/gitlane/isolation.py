"""View isolation (DESIGN §5): in this session's index, set skip-worktree on
tracked paths that other live sessions claim. git itself then keeps `status`,
`diff`, `commit -a`, `add -A/-u/.`, `stash`, `checkout -- .`, `restore .`
and same-commit `reset --hard` away from them, even inside hooks the shim
never sees. Never assume-unchanged: with it stash and reset --hard destroy
the other session's edits.

Kept in step by a generation counter: an unchanged state costs one file read.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # no `typing` import on the hot path

from gitlane import fsutil

if TYPE_CHECKING:
    import sqlite3

    from gitlane.shim import Ctx

_STAMP = "isolated"


GENERATION_FILE = "generation"  # written by state.bump_generation()


def current_generation(ctx: "Ctx") -> str:
    return (fsutil.read_text(os.path.join(ctx.repo.state_dir(), GENERATION_FILE)) or "0").strip()


def _stamp(ctx: "Ctx") -> tuple[str, list[bytes]]:
    try:
        with open(os.path.join(ctx.sdir, _STAMP), "rb") as f:
            head, _, rest = f.read().partition(b"\n")
    except OSError:
        return "", []
    return head.decode().strip(), [p for p in rest.split(b"\0") if p]


def in_step(ctx: "Ctx") -> bool:
    return _stamp(ctx)[0] == current_generation(ctx)


def invalidate(ctx: "Ctx") -> None:
    """The index was rebuilt (bits dropped): sync again on the next command."""
    fsutil.remove(os.path.join(ctx.sdir, _STAMP))


def sync(ctx: "Ctx", conn: "sqlite3.Connection | None" = None) -> None:
    """Bring the bits in line with the claims. The caller holds the session lock."""
    gen = current_generation(ctx)
    old_gen, old = _stamp(ctx)
    if old_gen == gen:
        return
    from gitlane import state
    own = conn is None
    conn = conn or state.connect(ctx.repo.state_dir())
    try:
        want = set(others_claims(ctx, conn))
    finally:
        if own:
            conn.close()
    have = set(old)
    tracked = set(ctx.git.ls_files(ctx.index.path, sorted(want))) if want else set()
    _flip(ctx, sorted(tracked - have), "--skip-worktree")
    _flip(ctx, sorted(have - tracked), "--no-skip-worktree")
    _warn_sparse(ctx, bool(want))
    fsutil.write_atomic(os.path.join(ctx.sdir, _STAMP),
                        gen.encode() + b"\n" + b"\0".join(sorted(tracked)))


def others_claims(ctx: "Ctx", conn: "sqlite3.Connection") -> list[bytes]:
    from gitlane.ownership import alive_checker
    alive = alive_checker(conn)
    rows = conn.execute("SELECT path, session FROM claims WHERE wt = ? AND session != ?",
                        (ctx.repo.worktree_id, ctx.name)).fetchall()
    return [bytes(p) for p, s in rows if alive(s)]


def _flip(ctx: "Ctx", paths: list[bytes], flag: str) -> None:
    if not paths:
        return
    present = ctx.git.ls_files(ctx.index.path, paths) if flag == "--no-skip-worktree" else paths
    if present:  # update-index is all-or-nothing: pass only paths that are there
        ctx.git.run("update-index", "-z", flag, "--stdin", index=ctx.index.path,
                    input=b"\0".join(present) + b"\0")


def _warn_sparse(ctx: "Ctx", others: bool) -> None:
    if not others:
        return
    cfg = ctx.git.config("core.sparseCheckout")
    if cfg and cfg.lower() in ("true", "yes", "on", "1"):
        sys.stderr.write("gitlane: core.sparseCheckout is true, which clears skip-worktree bits;\n"
                         "hint: other sessions' edits are not hidden from this session's `git stash`, "
                         "`reset --hard` or `commit -a`; the guard still refuses those commands\n")
