"""Keep `.git/index` (the index of people and tools without a session)
coherent with HEAD after a session commit.

A session commits from its own index, so `.git/index` still holds the old
versions of the paths it committed; a person's next plain commit would
revert them. After each session commit we bring exactly those paths up to
date in `.git/index`, as a compare-and-swap: under git's own `index.lock`
(created the way git creates it, so no git can write `.git/index` meanwhile),
a path is updated only where `.git/index` still holds the old commit's
entry. Anything a person staged there is never overwritten.

A sync that cannot happen now (the lock is busy, the shim is killed) is
never dropped: an intent is written to the pending file before git runs,
and completed by the first of the follower (forked before git, it wakes when
the shim ends, however it ends, and retries for a while), the next session
command, or `gitlane doctor --fix`, and only then removed.
"""
from __future__ import annotations

import errno
import os
import sys
import time

from gitlane import files, layout
from gitlane.errors import GitError
from gitlane.git.verbs import Git

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

PATIENCE = 0.5          # how long a session command waits for a busy .git/index.lock
RETRY_FOR = 60.0        # how long the background retry keeps trying
INTENT = "-"            # a pending line "OLD -": a commit from OLD is under way (new unknown yet)


def pending_path(git: Git) -> str:
    return os.path.join(git.repo.state_dir(), layout.MAIN_INDEX_PENDING)


class _PendingLock:
    """flock(2) on a side file: every change to the pending file (appends and
    rewrites) is serialised, so no line is ever lost between a read and a
    rewrite. Held for microseconds, never by a git child."""

    def __init__(self, git: Git) -> None:
        self.path = os.path.join(git.repo.state_dir(), layout.MAIN_INDEX_PENDING_LOCK)
        self.fd = -1

    def __enter__(self) -> "_PendingLock":
        import fcntl
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _append(git: Git, line: str) -> None:
    with _PendingLock(git):
        fd = os.open(pending_path(git), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)


def record(git: Git, old: str, new: str) -> None:
    """Remember that .git/index must follow HEAD from old to new."""
    if layout.is_object_id(old) and layout.is_object_id(new):
        _append(git, f"{old} {new}")


def intend(git: Git, old: str) -> str | None:
    """Before a command that may commit runs: "a commit from `old` is under
    way". Written first, so that a shim killed right after git's ref update
    still leaves the sync to do (docs/DESIGN.md, "Invariants", 10); settle()
    replaces it, or complete() finds the commit itself."""
    if not layout.is_object_id(old):
        return None
    line = f"{old} {INTENT}"
    _append(git, line)
    return line


def settle(git: Git, intent: str | None, old: str, new: str | None,
           audit: Callable[[str], None] | None = None, patience: float = PATIENCE,
           entries: dict[bytes, bytes] | None = None) -> bool:
    """After git returned: the intent becomes the sync old -> new (when HEAD
    moved with this command) or goes; then complete everything pending.
    `entries`, when given, is git.diff_tree_entries(old, new), already known
    to the caller: one diff-tree fewer."""
    line = f"{old} {new}" if new and new != old and layout.is_object_id(new) else None
    try:
        if intent is not None:
            _replace(git, intent, line)
        elif line is not None:
            _append(git, line)
        known = {(old, new): entries} if new and entries is not None else None
        return complete(git, audit, patience, known=known)
    finally:
        release_follower()  # it wakes now: nothing to do, or the retry


def _replace(git: Git, old_line: str, new_line: str | None) -> None:
    with _PendingLock(git):
        lines = (files.read_text(pending_path(git)) or "").splitlines()
        if old_line in lines:
            i = lines.index(old_line)
            lines[i:i + 1] = [new_line] if new_line else []
        elif new_line:
            lines.append(new_line)  # complete() found our commit already: applying twice is harmless
        _write_lines(git, lines)


def _write_lines(git: Git, lines: list[str]) -> None:
    path = pending_path(git)
    if lines:
        files.write_atomic(path, "".join(f"{ln}\n" for ln in lines).encode(), durable=False)
    else:
        files.remove(path)


def pending(git: Git) -> list[tuple[str, str | None]]:
    """The valid pending lines: (old, new), or (old, None) for an intent."""
    return [pair for pair in (_parse(line) for line in (files.read_text(pending_path(git)) or "").splitlines())
            if pair is not None]


def _parse(line: str) -> tuple[str, str | None] | None:
    old, _, new = line.strip().partition(" ")
    if not layout.is_object_id(old):
        return None
    if new == INTENT:
        return old, None
    return (old, new) if layout.is_object_id(new) else None  # anything else is damage: dropped


def catch_up(git: Git) -> None:
    """At the start of any session command that writes: finish what an
    earlier command (of any session) left pending. One stat when nothing is."""
    if os.path.exists(pending_path(git)):
        try:
            complete(git, patience=0.0)
        except (OSError, GitError):
            pass  # never fail a command over it: doctor reports what is left


def sync(git: Git, old: str, new: str, audit: Callable[[str], None] | None = None,
         patience: float = PATIENCE, entries: dict[bytes, bytes] | None = None) -> bool:
    """After a session commit old -> new: record it, then complete every
    pending sync if .git/index.lock can be had within `patience`. False when
    something is left pending (the caller starts the background retry).
    `entries`, when given, is git.diff_tree_entries(old, new), already known
    to the caller: one diff-tree fewer."""
    record(git, old, new)
    return complete(git, audit, patience, known={(old, new): entries} if entries is not None else None)


def complete(git: Git, audit: Callable[[str], None] | None = None, patience: float = 0.0,
             known: dict[tuple[str, str], dict[bytes, bytes]] | None = None) -> bool:
    """Apply every pending sync, oldest first, under one hold of
    .git/index.lock. An intent whose commit is on HEAD's first-parent chain
    is applied as that commit; one whose command is over (the global lock is
    free) and made no commit is dropped. True when nothing is left pending."""
    lines = (files.read_text(pending_path(git)) or "").splitlines()
    if not lines:
        return True
    todo: list[tuple[str, str]] = []
    done: list[str] = []
    for line in lines:
        pair = _parse(line)
        if pair is None:
            done.append(line)
        elif pair[1] is not None:
            todo.append((pair[0], pair[1]))
            done.append(line)
        else:
            child = _child_on_head(git, pair[0])
            if child is not None:
                todo.append((pair[0], child))
                done.append(line)
            elif not _command_running(git):
                done.append(line)
    if todo:
        shared = os.path.join(git.repo.git_dir, "index")
        lock = _take_lock(git, shared + ".lock", patience, audit)
        if lock is None:
            return False
        try:
            for old, new in todo:
                _apply(git, shared, old, new, (known or {}).get((old, new)))
        finally:
            files.remove(lock)
    _drop(git, done)
    return not pending(git)


def _drop(git: Git, done: list[str]) -> None:
    """Remove exactly the lines handled, keeping any appended since."""
    with _PendingLock(git):
        lines = (files.read_text(pending_path(git)) or "").splitlines()
        for line in done:
            if line in lines:
                lines.remove(line)
        _write_lines(git, lines)


def _child_on_head(git: Git, old: str) -> str | None:
    """The commit on HEAD's first-parent chain whose first parent is old."""
    try:
        out = git.run("rev-list", "--first-parent", "--parents", "HEAD", f"^{old}", check=False).out
    except GitError:
        return None
    last = out.decode().split("\n")
    rows = [r.split() for r in last if r.strip()]
    if rows and len(rows[-1]) >= 2 and rows[-1][1] == old:
        return rows[-1][0]
    return None


def _command_running(git: Git) -> bool:
    """A ref-moving command holds the global lock (its git child and hooks too,
    through the inherited fd) for as long as it runs."""
    from gitlane.shared import locks
    return locks.is_held(os.path.join(git.repo.state_dir(), layout.GLOBAL_LOCK))


def _apply(git: Git, shared: str, old: str, new: str, entries: dict[bytes, bytes] | None = None) -> None:
    """One compare-and-swap: paths whose .git/index entry is still old's."""
    first_commit = old == git.repo.empty_tree()
    if not os.path.exists(shared) and not first_commit:
        return  # no .git/index: someone removed it on purpose
    if entries is None:
        try:
            entries = git.diff_tree_entries(old, new)
        except GitError:
            return  # a commit that no longer exists: nothing left to bring over
    if not entries:
        return
    try:
        person = set(git.changed_paths(shared, old, limit=list(entries))) if os.path.exists(shared) else set()
    except GitError:
        return
    todo = {p: line for p, line in entries.items() if p not in person}
    if not todo:
        return
    # Write a copy beside .git/index (a split index finds its shared index
    # there), then rename it into place while we hold index.lock.
    tmp = os.path.join(git.repo.git_dir, f"index.gitlane.{os.getpid()}")
    try:
        if os.path.exists(shared):
            files.copy_keep_stat(shared, tmp)
        git.update_entries(tmp, todo)
        os.replace(tmp, shared)
    finally:
        files.remove(tmp)


def stale(git: Git, made_by: Callable[[str], str | None], limit: int = 200) -> dict[bytes, bytes]:
    """Paths where .git/index still holds what a session commit replaced:
    the entry differs from HEAD, the last commit on HEAD that changed the
    path was a session's, and the entry is that commit's parent's version
    (absent, if the commit added it). A path the person staged is anything
    else, and never listed. {path: the index-info line of HEAD's entry}."""
    shared = os.path.join(git.repo.git_dir, "index")
    if not os.path.exists(shared) or git.repo.head() is None:
        return {}
    out = git.run("diff-index", "--cached", "--raw", "-z", "--no-renames", "HEAD", index=shared, check=False).out
    fields = out.split(b"\0")
    found: dict[bytes, bytes] = {}
    for meta, path in list(zip(fields[0::2], fields[1::2]))[:limit]:
        if not meta.startswith(b":"):
            continue
        head_mode, index_mode, head_sha, index_sha, _ = meta[1:].split(b" ")
        last = git.run("log", "-1", "--format=%H", "HEAD", "--", os.fsdecode(path), check=False).out.decode().strip()
        if not layout.is_object_id(last) or made_by(last) is None:
            continue
        before = git.run("rev-parse", "-q", "--verify", f"{last}^:{os.fsdecode(path)}", check=False)
        parent_sha = before.out.strip() if before.rc == 0 else None
        if parent_sha != (index_sha if index_mode != b"000000" else None):
            continue  # not the replaced version: the person staged it
        mode = b"0" if head_mode == b"000000" else head_mode
        found[path] = mode + b" " + head_sha + b"\t" + path
    return found


def repair(git: Git, entries: dict[bytes, bytes], patience: float = 5.0) -> bool:
    """Bring those paths of .git/index to HEAD, as a compare-and-swap under
    index.lock: a path whose entry changed since stale() read it is left."""
    shared = os.path.join(git.repo.git_dir, "index")
    lock = _take_lock(git, shared + ".lock", patience, None)
    if lock is None:
        return False
    tmp = os.path.join(git.repo.git_dir, f"index.gitlane.{os.getpid()}")
    try:
        still = {p: line for p, line in stale(git, lambda _c: "", limit=len(entries) + 200).items()
                 if p in entries and line == entries[p]} if entries else {}
        if still:
            files.copy_keep_stat(shared, tmp)
            git.update_entries(tmp, still)
            os.replace(tmp, shared)
    finally:
        files.remove(tmp)
        files.remove(lock)
    return True


def _take_lock(git: Git, lock: str, patience: float, audit: Callable[[str], None] | None) -> str | None:
    """Create .git/index.lock the way git does (O_EXCL). A background
    `git status` holds it for milliseconds: wait up to `patience`; a lock
    left by a git that died is reclaimed like any provably stale lock."""
    from gitlane.shared import git_locks
    deadline = time.monotonic() + patience
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            os.close(fd)
            return lock
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC):
                return None
            raise
        if git_locks.try_reclaim(git.repo, lock, lambda _event, detail: audit(detail) if audit else None):
            continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def follow(git: Git) -> int | None:
    """Fork a follower before git runs: it sleeps until this process ends
    (however it ends: SIGKILL included, the pipe closes), then completes
    what is pending, retrying for a while if .git/index.lock is busy. The
    returned fd is the pipe's write end, kept open (not inherited by git) for
    as long as this process lives. A fork costs no interpreter start."""
    try:
        r, w = os.pipe()
        pid = os.fork()
    except OSError:
        return None  # the next session command or `gitlane doctor --fix` completes it
    if pid == 0:
        try:
            _follower(git, r)
        finally:
            os._exit(0)  # never run the parent's finalizers (its sqlite handles) here
    os.close(r)
    _followers.append(w)
    return w


_followers: list[int] = []


def release_follower() -> None:
    """Close our end of the followers' pipes: they wake and finish up."""
    while _followers:
        try:
            os.close(_followers.pop())
        except OSError:
            pass


def _follower(git: Git, r: int) -> None:
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = {0, 1, 2, r}
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else [str(i) for i in range(3, 1024)]:
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)  # the parent's locks stay the parent's
            except OSError:
                pass
    while True:
        try:
            if not os.read(r, 1):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _retry(git)


def _retry(git: Git) -> None:
    """Bounded and single-instance (locks.single_instance: held by this
    process alone, it never needs to be inherited by a git child)."""
    if complete(git, patience=0.0):
        return
    from gitlane.shared import locks
    lock = locks.single_instance(os.path.join(git.repo.state_dir(), layout.MAIN_INDEX_RETRY_LOCK),
                                 "the .git/index retry", None)
    if lock is None:
        return  # another retry is already on it
    try:
        deadline = time.monotonic() + RETRY_FOR
        delay = 0.02
        while time.monotonic() < deadline:
            if complete(git, patience=0.0):
                return
            time.sleep(delay)  # a bounded back-off while a person's git holds .git/index.lock
            delay = min(delay * 1.5, 1.0)
    finally:
        lock.release()


def skipped_notice() -> None:
    sys.stderr.write("gitlane: .git/index is busy; it will follow this commit as soon as it is free\n"
                     "hint: the commit is safe; `gitlane doctor --fix` completes it now\n")
