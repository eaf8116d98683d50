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

from gitlane import fastpath, fsutil

if TYPE_CHECKING:
    import sqlite3

    from gitlane.shim import Ctx

_STAMP = fastpath.STAMP_FILE
GENERATION_FILE = fastpath.GENERATION_FILE


def current_generation(ctx: "Ctx") -> str:
    return fastpath.current_generation(ctx.repo.state_dir())


def _stamp(ctx: "Ctx") -> tuple[str, list[int], list[bytes]]:
    return fastpath.read_stamp(ctx.sdir)


def isolated_paths(ctx: "Ctx") -> list[bytes]:
    return _stamp(ctx)[2]


def in_step(ctx: "Ctx") -> bool:
    """Nothing to do: see fastpath.isolation_in_step."""
    return fastpath.isolation_in_step(ctx.repo.state_dir(), ctx.sdir)


def bump_own(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    """Our own claims changed (inside the caller's transaction): bump the
    generation for the peers, and carry our stamp along if it was current.
    Our view is the others' claims, which our change leaves alone, so this
    session stays on the fast path after its own add and commit."""
    from gitlane import state
    before = str(state.generation(conn))
    state.bump_generation(conn)
    gen, pids, paths = _stamp(ctx)
    if gen == before:
        _write_stamp(ctx, str(state.generation(conn)), set(pids), set(paths))


def invalidate(ctx: "Ctx") -> None:
    """The index was rebuilt (bits dropped): sync again on the next command."""
    fsutil.remove(os.path.join(ctx.sdir, _STAMP))


def sync(ctx: "Ctx", conn: "sqlite3.Connection | None" = None) -> None:
    """Bring the bits in line with the claims. The caller holds the session lock."""
    if in_step(ctx):
        return
    gen = current_generation(ctx)
    _, _, old = _stamp(ctx)
    from gitlane import state
    own = conn is None
    conn = conn or state.connect(ctx.repo.state_dir())
    try:
        want, pids = others_claims(ctx, conn)
    finally:
        if own:
            conn.close()
    have = set(old)
    tracked = set(ctx.git.ls_files(ctx.index.path, sorted(want - have))) | (want & have) if want else set()
    _flip(ctx, sorted(tracked - have), "--skip-worktree")
    _flip(ctx, sorted(have - tracked), "--no-skip-worktree")
    _write_excludes(ctx, sorted(want - tracked))
    _warn_sparse(ctx, bool(want))
    _write_stamp(ctx, gen, pids, tracked)


def excludes_path(ctx: "Ctx") -> str:
    return os.path.join(ctx.sdir, "exclude")


def _write_excludes(ctx: "Ctx", untracked: list[bytes]) -> None:
    """Peers' claimed files that are untracked here cannot carry a
    skip-worktree bit; an excludes file of our own hides them from `status`,
    `add .` and `stash -u` (not from `clean -x` or `stash -a`: the guard
    covers those). git reads one core.excludesFile, so ours starts with the
    user's own."""
    path = excludes_path(ctx)
    if not untracked:
        fsutil.remove(path)
        return
    lines = [_user_excludes(ctx), b"# gitlane: files other live sessions claim"]
    lines += [b"/" + _escape(p) for p in untracked]
    fsutil.write_atomic(path, b"\n".join(lines) + b"\n", durable=False)


def _user_excludes(ctx: "Ctx") -> bytes:
    configured = ctx.git.run("config", "--path", "--get", "core.excludesFile", check=False).out.strip()
    if configured:
        name = os.fsdecode(configured)
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        name = os.path.join(xdg, "git", "ignore")
    try:
        with open(name, "rb") as f:
            return f.read().rstrip(b"\n")
    except OSError:
        return b""


def _escape(path: bytes) -> bytes:
    out = bytearray()
    for i, ch in enumerate(path):
        if ch in b"*?[\\" or (i == 0 and ch in b"#!"):
            out += b"\\"
        out.append(ch)
    if out.endswith(b" "):
        out[-1:] = b"\\ "
    return bytes(out)


def config_env(ctx: "Ctx", env: dict[str, str]) -> None:
    """Point git at this session's excludes file, if it has one."""
    path = excludes_path(ctx)
    if not os.path.exists(path):
        return
    count = env.get("GIT_CONFIG_COUNT", "0")
    n = int(count) if count.isdigit() else 0
    env[f"GIT_CONFIG_KEY_{n}"] = "core.excludesFile"
    env[f"GIT_CONFIG_VALUE_{n}"] = path
    env["GIT_CONFIG_COUNT"] = str(n + 1)


def _write_stamp(ctx: "Ctx", gen: str, pids: set[int], paths: set[bytes]) -> None:
    fsutil.write_atomic(os.path.join(ctx.sdir, _STAMP), gen.encode() + b"\n"
                        + " ".join(str(p) for p in sorted(pids)).encode() + b"\n" + b"\0".join(sorted(paths)),
                        durable=False)


def release(ctx: "Ctx", paths: list[bytes]) -> None:
    """Show these paths again in our index (their owner died, or they are ours now)."""
    gen, pids, old = _stamp(ctx)
    drop = set(paths) & set(old)
    if drop:
        _flip(ctx, sorted(drop), "--no-skip-worktree")
        _write_stamp(ctx, gen, set(pids), set(old) - drop)


def others_claims(ctx: "Ctx", conn: "sqlite3.Connection") -> tuple[set[bytes], set[int]]:
    """Paths other running sessions claim here, and their owner pids.

    Liveness here is kill(0), not psutil: hiding a path of an owner whose pid
    was reused errs on the safe side, and the ownership checks that refuse
    work still use the full (pid, create time) test."""
    owners = {n: pid for n, pid in conn.execute("SELECT name, pid FROM sessions WHERE ended IS NULL")}
    rows = conn.execute("SELECT path, session FROM claims WHERE wt = ? AND session != ?",
                        (ctx.repo.worktree_id, ctx.name)).fetchall()
    live = [(bytes(p), s) for p, s in rows if s in owners and (not owners[s] or fastpath.pid_exists(owners[s]))]
    return {p for p, _ in live}, {owners[s] for _, s in live if owners[s]}


def _flip(ctx: "Ctx", paths: list[bytes], flag: str) -> None:
    """update-index is all-or-nothing: try every path at once, and only if
    one is missing from the index pay for an ls-files to filter them."""
    if not paths:
        return
    res = ctx.git.run("update-index", "-z", flag, "--stdin", index=ctx.index.path,
                      input=b"\0".join(paths) + b"\0", check=False)
    if res.rc != 0:
        present = ctx.git.ls_files(ctx.index.path, paths)
        if present:
            ctx.git.run("update-index", "-z", flag, "--stdin", index=ctx.index.path,
                        input=b"\0".join(present) + b"\0")


def _warn_sparse(ctx: "Ctx", others: bool) -> None:
    if not others:
        return
    from gitlane.repo import config_values
    if config_values(ctx.repo.common_dir, "core").get("sparsecheckout") in ("true", "yes", "on", "1"):
        sys.stderr.write("gitlane: core.sparseCheckout is true, which clears skip-worktree bits;\n"
                         "hint: other sessions' edits are not hidden from this session's `git stash`, "
                         "`reset --hard` or `commit -a`; the guard still refuses those commands\n")
