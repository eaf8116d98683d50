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
never dropped: it is first written to the pending file, completed by the
first of a bounded background retry, the next session command, or
`gitlane doctor --fix`, and only then removed.
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


def pending_path(git: Git) -> str:
    return os.path.join(git.repo.state_dir(), layout.MAIN_INDEX_PENDING)


def record(git: Git, old: str, new: str) -> None:
    """Remember that .git/index must follow HEAD from old to new. Appends are
    atomic for lines this short (O_APPEND), so concurrent sessions interleave
    whole lines."""
    if not (layout.is_object_id(old) and layout.is_object_id(new)):
        return
    fd = os.open(pending_path(git), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, f"{old} {new}\n".encode())
    finally:
        os.close(fd)


def pending(git: Git) -> list[tuple[str, str]]:
    text = files.read_text(pending_path(git)) or ""
    pairs = []
    for line in text.splitlines():
        old, _, new = line.strip().partition(" ")
        if layout.is_object_id(old) and layout.is_object_id(new):
            pairs.append((old, new))  # anything else is damage: dropped on the next rewrite
    return pairs


def sync(git: Git, old: str, new: str, audit: Callable[[str], None] | None = None,
         patience: float = PATIENCE) -> bool:
    """After a session commit old -> new: record it, then complete every
    pending sync if .git/index.lock can be had within `patience`. False when
    something is left pending (the caller starts the background retry)."""
    record(git, old, new)
    return complete(git, audit, patience)


def complete(git: Git, audit: Callable[[str], None] | None = None, patience: float = 0.0) -> bool:
    """Apply every pending sync, oldest first, under one hold of
    .git/index.lock. True when nothing is left pending."""
    todo = pending(git)
    if not todo:
        _drop_pending(git, 0)
        return True
    shared = os.path.join(git.repo.git_dir, "index")
    lock = _take_lock(git, shared + ".lock", patience, audit)
    if lock is None:
        return False
    try:
        for old, new in todo:
            _apply(git, shared, old, new)
        _drop_pending(git, len(todo))
    finally:
        files.remove(lock)
    return True


def _apply(git: Git, shared: str, old: str, new: str) -> None:
    """One compare-and-swap: paths whose .git/index entry is still old's."""
    first_commit = old == git.repo.empty_tree()
    if not os.path.exists(shared) and not first_commit:
        return  # no .git/index: someone removed it on purpose
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


def _drop_pending(git: Git, done: int) -> None:
    """Remove the first `done` pending lines, keeping any appended since."""
    path = pending_path(git)
    text = files.read_text(path)
    if text is None:
        return
    lines = text.splitlines(keepends=True)[done:]
    if lines:
        files.write_atomic(path, "".join(lines).encode(), durable=False)
    else:
        files.remove(path)


def retry_in_background(git: Git) -> None:
    """Start a detached process that keeps trying for RETRY_FOR seconds.
    Only one runs at a time (a fasteners lock, held by that process alone:
    it never needs to be inherited by a git child)."""
    import subprocess
    code = ("import sys; sys.path[:0] = sys.argv[1].split(':'); from gitlane.shared import main_index; "
            "main_index.retry_main(*sys.argv[2:])")
    try:
        subprocess.Popen([sys.executable, "-I", "-S", "-c", code, os.pathsep.join(p for p in sys.path if p), git.real, git.repo.git_dir,
                          git.repo.common_dir, git.repo.top],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True, env=git.base_env)
    except OSError:
        pass  # the next session command or `gitlane doctor --fix` completes it


def retry_main(real: str, git_dir: str, common_dir: str, top: str) -> None:
    """The background retry: bounded, single-instance, silent."""
    from gitlane.git.repo import Repo
    from gitlane.shared import locks
    git = Git(real, Repo(git_dir, common_dir, top, top), os.environ)
    lock = locks.single_instance(os.path.join(git.repo.state_dir(), layout.MAIN_INDEX_RETRY_LOCK),
                                 "the .git/index retry", None)
    if lock is None:
        return  # another retry is already on it
    try:
        deadline = time.monotonic() + RETRY_FOR
        delay = 0.05
        while time.monotonic() < deadline:
            if complete(git, patience=0.0):
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    finally:
        lock.release()


def skipped_notice() -> None:
    sys.stderr.write("gitlane: .git/index is busy; it will follow this commit as soon as it is free\n"
                     "hint: the commit is safe; `gitlane doctor --fix` completes it now\n")
