"""View isolation: in this session's index, set skip-worktree on tracked
paths that other live sessions claim. git itself then keeps `status`,
`diff`, `commit -a`, `add -A/-u/.`, `stash`, `checkout -- .`, `restore .`
and same-commit `reset --hard` away from them, even inside hooks the shim
never sees. Never assume-unchanged: with it stash and reset --hard destroy
the other session's edits (docs/DESIGN.md, "View isolation").

Kept in step by the generation counter (shared.claims): an unchanged state
costs one file read (layout.isolation_in_step).
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.shared import claims

if TYPE_CHECKING:
    import sqlite3

    from gitlane.session import Session


def isolated_paths(s: Session) -> list[bytes]:
    return layout.read_stamp(s.dir)[2]


def in_step(s: Session) -> bool:
    return layout.isolation_in_step(s.repo.state_dir(), s.dir)


def carry(s: Session, change: claims.Change | None) -> None:
    """Our own claims changed: carry our stamp past the bump if it was
    current. Our view is the others' claims, which our change leaves alone,
    so this session stays on the fast path after its own add and commit."""
    if change is None:
        return
    gen, pids, paths = layout.read_stamp(s.dir)
    if gen == str(change.before):
        _write_stamp(s, str(change.after), set(pids), set(paths))


def invalidate(s: Session) -> None:
    """The index was rebuilt (bits dropped): sync again on the next command."""
    files.remove(s.path(layout.STAMP))


def sync(s: Session, conn: sqlite3.Connection | None = None) -> None:
    """Bring the bits in line with the claims. The caller holds the session lock."""
    if in_step(s):
        return
    gen = layout.read_generation(s.repo.state_dir())
    old = isolated_paths(s)
    from gitlane.shared import db
    own = conn is None
    conn = conn or db.connect(s.repo.state_dir())
    try:
        want, pids = claims.hidden_from(conn, s.repo.worktree_id, s.name)
        from gitlane.session import head
        want |= head.foreign_paths(s, conn)  # peers' commits on other branches, on disk
    finally:
        if own:
            conn.close()
    have = set(old)
    tracked = set(s.git.ls_files(s.index.path, sorted(want - have))) | (want & have) if want else set()
    _flip(s, sorted(tracked - have), True)
    _flip(s, sorted(have - tracked), False)
    _write_excludes(s, sorted(want - tracked))
    _warn_sparse(s, bool(want))
    _write_stamp(s, gen, pids, tracked)


def _write_excludes(s: Session, untracked: list[bytes]) -> None:
    """Peers' claimed files that are untracked here cannot carry a
    skip-worktree bit; an excludes file of our own hides them from `status`,
    `add .` and `stash -u` (not from `clean -x` or `stash -a`: the guard
    covers those). git reads one core.excludesFile, so ours starts with the
    user's own."""
    path = s.path(layout.EXCLUDE)
    if not untracked:
        files.remove(path)
        return
    lines = [_user_excludes(s), b"# gitlane: files other live sessions claim"]
    lines += [b"/" + _escape(p) for p in untracked]
    files.write_atomic(path, b"\n".join(lines) + b"\n", durable=False)


def _user_excludes(s: Session) -> bytes:
    name = s.git.config_path("core.excludesFile")
    if not name:
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


def _write_stamp(s: Session, gen: str, pids: set[int], paths: set[bytes]) -> None:
    files.write_atomic(s.path(layout.STAMP), layout.format_stamp(gen, pids, paths), durable=False)


def release(s: Session, paths: list[bytes]) -> None:
    """Show these paths again in our index (their owner died, or they are ours now)."""
    gen, pids, old = layout.read_stamp(s.dir)
    drop = set(paths) & set(old)
    if drop:
        _flip(s, sorted(drop), False)
        _write_stamp(s, gen, set(pids), set(old) - drop)


def _flip(s: Session, paths: list[bytes], on: bool) -> None:
    """update-index is all-or-nothing: try every path at once, and only if
    one is missing from the index pay for an ls-files to filter them."""
    if not paths or s.git.set_skip_worktree(s.index.path, paths, on):
        return
    present = s.git.ls_files(s.index.path, paths)
    if present and not s.git.set_skip_worktree(s.index.path, present, on):
        from gitlane.errors import GitError
        raise GitError(("update-index", "--skip-worktree" if on else "--no-skip-worktree"), 1, b"")


def _warn_sparse(s: Session, others: bool) -> None:
    if not others:
        return
    if layout.git_bool(s.repo.config("core").get("sparsecheckout")):
        sys.stderr.write("gitlane: core.sparseCheckout is true, which clears skip-worktree bits;\n"
                         "hint: other sessions' edits are not hidden from this session's `git stash`, "
                         "`reset --hard` or `commit -a`; the guard still refuses those commands\n")
