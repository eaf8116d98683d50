"""A session's shell window: which paths changed between the start and the
end of one shell tool call (Claude Code's Bash), and whose change each one is
(docs/DESIGN.md, "Attribution").

At the start, one `git status` gives the dirty set (worktree and index
against HEAD, untracked files one by one) and each dirty path is lstat'ed;
the fingerprint goes to the session folder with the window's start as the
filesystem's own clock stamps it (file times come from a coarse kernel
clock, so the window is measured with the same clock). At the end the scan
runs again: every path that became dirty during the window, or whose stat
changed, changed during it, whoever wrote it (a child process included).
When a peer's window overlapped ours, the file's ctime says whose window the
change fits (owner(), a pure function); a change fitting both is nobody's.

`hook(session, cwd, phase, tool)` is the whole entry point, so any agent's
shell-tool hooks can drive it. Stdlib only until there is something to
record: the start costs no sqlite.
"""
from __future__ import annotations

import os
import time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Sequence

    from gitlane.git.verbs import Git

from gitlane import files, layout

Stat = tuple  # (mtime_ns, ctime_ns, size, mode, ino); None for a missing path
KEEP_CLOSED = 32          # closed windows kept per session, for peers' overlap checks
KEEP_SECONDS = 3600


# --- pure decisions -------------------------------------------------------------

def changed(pre: Mapping[bytes, Stat | None], post: Mapping[bytes, Stat | None], start: int) -> list[bytes]:
    """Paths that changed during the window. A path dirty at both ends
    changed if its stat did; a path dirty only at the end changed if it is
    gone (it was there, clean, at the start) or its ctime is inside the window
    (otherwise it only looks new: HEAD moved under a stale index)."""
    out = []
    for path, st in post.items():
        if path in pre:
            if pre[path] != st:
                out.append(path)
        elif st is None or st[1] >= start:
            out.append(path)
    return sorted(out)


def owner(when: int | None, me: str, mine: tuple[int, int],
          peers: Sequence[tuple[str, int, int]]) -> str | None:
    """Whose change is it? `when` is the file's ctime (None: deleted). Without
    a peer window overlapping ours it is ours: we saw it change. Otherwise the
    one window it fits; none, or more than one, is nobody (None)."""
    overlapping = [(n, a, b) for n, a, b in peers if a <= mine[1] and b >= mine[0]]
    if not overlapping:
        return me
    if when is None:
        return None
    fits = [n for n, a, b in [(me, *mine), *overlapping] if a <= when <= b]
    return fits[0] if len(fits) == 1 else None


# --- scanning -------------------------------------------------------------------

_STATUS = ("status", "--porcelain=v2", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all")


def scan(git: Git, index: str | None) -> dict[bytes, Stat | None]:
    """{path: lstat fingerprint} of every path that differs from HEAD."""
    res = git.run(*_STATUS, index=index, check=False)
    top = git.repo.top
    return {p: fingerprint(os.path.join(top, os.fsdecode(p))) for p in parse_status(res.out)}


def parse_status(out: bytes) -> list[bytes]:
    """The paths of `status --porcelain=v2 -z` records (ignored ones excepted)."""
    tracked, untracked = parse_status_kinds(out)
    return tracked + untracked


def parse_status_kinds(out: bytes) -> tuple[list[bytes], list[bytes]]:
    """(tracked paths, untracked paths) of `status --porcelain=v2 -z` records."""
    fields = {b"1": 8, b"u": 10}
    tracked: list[bytes] = []
    untracked: list[bytes] = []
    for rec in out.split(b"\0"):
        kind = rec[:1]
        if kind == b"?":
            untracked.append(rec[2:])
        elif kind in fields:
            parts = rec.split(b" ", fields[kind])
            if len(parts) > fields[kind]:
                tracked.append(parts[fields[kind]])
    return tracked, untracked


def dirty(git: Git, index: str | None) -> tuple[list[bytes], list[bytes]]:
    """(tracked paths that differ from HEAD, untracked paths), by one status."""
    res = git.run(*_STATUS, index=index, check=False)
    return parse_status_kinds(res.out)


def fingerprint(path: str) -> Stat | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode, st.st_ino)


def fs_now(sdir: str) -> int:
    """Now, by the filesystem's clock (what it would stamp on a file)."""
    path = os.path.join(sdir, layout.WINDOW + ".clock")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, b".")
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)


# --- the window files -------------------------------------------------------------

def _encode(start: int, prints: Mapping[bytes, Stat | None]) -> bytes:
    rows = [b"%d" % start]
    for path, st in sorted(prints.items()):
        rows.append((b"-" if st is None else b" ".join(b"%d" % v for v in st)) + b"\t" + path)
    return b"\0".join(rows)


def _decode(data: bytes) -> tuple[int, dict[bytes, Stat | None]] | None:
    """Untrusted bytes back to (start, fingerprint); None if damaged."""
    rows = data.split(b"\0")
    if not rows or not rows[0].isdigit():
        return None
    prints: dict[bytes, Stat | None] = {}
    for row in rows[1:]:
        meta, tab, path = row.partition(b"\t")
        if not tab or not path:
            return None
        nums = meta.split(b" ")
        if meta == b"-":
            prints[path] = None
        elif len(nums) == 5 and all(n.isdigit() for n in nums):
            prints[path] = tuple(int(n) for n in nums)
        else:
            return None
    return int(rows[0]), prints


def open_window(git: Git, sdir: str, index: str | None) -> None:
    os.makedirs(sdir, exist_ok=True)
    start = fs_now(sdir)
    prints = scan(git, index)
    files.write_atomic(os.path.join(sdir, layout.WINDOW), _encode(start, prints), durable=False)


def take_open(sdir: str) -> tuple[int, dict[bytes, Stat | None]] | None:
    """The open window (start, fingerprint), which this call closes."""
    path = os.path.join(sdir, layout.WINDOW)
    data = layout.read_bytes(path)
    files.remove(path)
    return _decode(data) if data is not None else None


def closed_windows(sdir: str) -> list[tuple[int, int]]:
    out = []
    for line in (layout.read_text(os.path.join(sdir, layout.WINDOWS)) or "").splitlines():
        a, _, b = line.partition(" ")
        if a.isdigit() and b.isdigit():
            out.append((int(a), int(b)))
    return out


def _record_closed(sdir: str, start: int, end: int) -> None:
    horizon = (time.time() - KEEP_SECONDS) * 1e9
    kept = [w for w in closed_windows(sdir) if w[1] >= horizon][-(KEEP_CLOSED - 1):] + [(start, end)]
    files.write_atomic(os.path.join(sdir, layout.WINDOWS),
                       "".join(f"{a} {b}\n" for a, b in kept).encode(), durable=False)


def peer_windows(root: str, me: str, mine: tuple[int, int]) -> list[tuple[str, int, int]]:
    """Other sessions' windows (open ones end 'now') that overlap ours; open
    windows of provably dead owners are left out."""
    try:
        names = [n for n in os.listdir(root) if n != me and layout.name_problem(n) is None]
    except OSError:
        return []
    found = []
    for name in names:
        sdir = os.path.join(root, name)
        spans = [(a, b) for a, b in closed_windows(sdir) if a <= mine[1] and b >= mine[0]]
        opened = layout.read_bytes(os.path.join(sdir, layout.WINDOW))
        head = opened.split(b"\0", 1)[0] if opened else b""
        if head.isdigit() and int(head) <= mine[1] and _owner_alive(sdir):
            spans.append((int(head), mine[1]))
        found += [(name, a, b) for a, b in spans]
    return found


def _owner_alive(sdir: str) -> bool:
    from gitlane.shared import liveness, sessions
    owner_ = sessions.read_owner(sdir)
    return owner_ is None or owner_[0] is None or liveness.is_alive(*owner_)


def close_window(git: Git, sdir: str, root: str, me: str, index: str | None) -> tuple[list[bytes], list[bytes]]:
    """(paths this session changed during its window, paths of the window
    start that are clean again). Nothing when no window was open."""
    opened = take_open(sdir)
    if opened is None:
        return [], []
    start, pre = opened
    post = scan(git, index)
    end = fs_now(sdir)
    _record_closed(sdir, start, end)
    moved = changed(pre, post, start)
    peers = peer_windows(root, me, (start, end)) if moved else []
    ours = [p for p in moved if owner(None if post[p] is None else post[p][1], me, (start, end), peers) == me]
    return ours, sorted(set(pre) - set(post))


# --- the hook ---------------------------------------------------------------------------

def hook(session: str, cwd: str, phase: str, tool: str, env: Mapping[str, str] | None = None) -> list[bytes]:
    """One shell tool call's start ("pre") or end ("post") for `session`,
    whose working directory is cwd (`tool` is the agent's name for its shell
    tool: the caller has decided it is one). Returns the paths attributed (post)."""
    from gitlane.git import args as gitargs
    from gitlane.git import realgit
    from gitlane.git.repo import discover
    from gitlane.git.verbs import Git
    environ = os.environ if env is None else env
    repo = discover(gitargs.Split(), environ, cwd)
    if repo is None:
        return []
    git = Git(realgit.find(), repo, environ)
    root = layout.sessions_root(repo.common_dir, repo.worktree_id)
    sdir = layout.session_dir(repo.common_dir, repo.worktree_id, session)
    index = os.path.join(sdir, layout.INDEX)
    index_or_none = index if os.path.exists(index) else None
    if phase == "pre":
        if os.path.exists(os.path.join(sdir, layout.WINDOW)):  # no "post" came: close it first
            _attribute(git, sdir, session, *close_window(git, sdir, root, session, index_or_none))
        open_window(git, sdir, index_or_none)
        return []
    return _attribute(git, sdir, session, *close_window(git, sdir, root, session, index_or_none))


def _attribute(git: Git, sdir: str, me: str, ours: list[bytes], clean: list[bytes]) -> list[bytes]:
    if not ours and not clean:
        return []
    from gitlane.shared import claims, db, sessions
    conn = db.connect(git.repo.state_dir())
    try:
        sessions.ensure(conn, me, sdir, os.environ, git.repo.cwd, label="claude-code")
        wt = git.repo.worktree_id
        taken = claims.attribute(conn, wt, me, ours, claims.BASH, claims.alive_checker(conn)) if ours else []
        if clean:
            claims.drop_edits(conn, wt, me, clean)
        return taken
    finally:
        conn.close()
