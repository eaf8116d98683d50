"""Keep `.git/index` (the index of people and tools without a session)
coherent after a session commit: bring the committed paths up to date in it.

Only paths whose `.git/index` entry still equals the old HEAD are touched, so
anything a human staged there is never overwritten. git's own index.lock
guards the write; if it is busy we skip and say so, never failing the commit.
"""
from __future__ import annotations

import os
import sys
import time

from gitlane.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable
from gitlane.git import Git

def sync(git: Git, old: str, entries: dict[bytes, bytes],
         audit: "Callable[[str], None] | None" = None) -> None:
    paths = list(entries)
    shared = os.path.join(git.repo.git_dir, "index")
    first_commit = old == git.repo.empty_tree()
    if not paths or not (os.path.exists(shared) or first_commit):
        return  # no .git/index after the first commit: someone removed it on purpose
    if not _wait_unlocked(shared + ".lock") and not _reclaim_if_stale(git, shared + ".lock", audit):
        _skip("it is locked by another git process")
        return
    diff = git.run("diff-index", "--cached", "-z", "--name-only", "--no-renames", old, "--",
                   *_decoded(paths), index=shared, check=False)
    if diff.rc != 0:
        _skip(diff.err.decode("utf-8", "replace").strip())
        return
    human = {p for p in diff.out.split(b"\0") if p}
    todo = [p for p in paths if p not in human]
    if not todo:
        return
    try:
        git.update_entries(shared, {p: entries[p] for p in todo})
    except Fatal as exc:
        _skip(exc.what)


def _wait_unlocked(lock: str, patience: float = 0.5) -> bool:
    """A background `git status` holds .git/index.lock for milliseconds: give
    it a moment before giving up on this sync."""
    deadline = time.monotonic() + patience
    while os.path.exists(lock):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _reclaim_if_stale(git: Git, lock: str, audit: "Callable[[str], None] | None") -> bool:
    """A .git/index.lock left by a git that died (a background `status` that
    was killed) is removed like any other provably stale lock."""
    from gitlane import stale
    return stale.try_reclaim(git.repo, lock, lambda _event, detail: audit(detail) if audit else None)


def _decoded(paths: list[bytes]) -> list[str]:
    return [os.fsdecode(p) for p in paths]


def _skip(why: str) -> None:
    sys.stderr.write(f"gitlane: .git/index was not updated for this commit ({why});\n"
                     "hint: the commit is safe; without a session, `git status` may show those paths as changed until `git reset -q -- PATH`\n")
