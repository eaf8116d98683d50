"""Keep staged work reachable and recoverable: a ref per session,
refs/gitlane/sessions/<name>, at a commit whose tree is the session index
and whose parent is its base.

Staged blobs that live only in a session index are invisible to `git gc` and
`git prune` (they walk refs, reflogs and the worktrees' own indexes), so
without this `gc --prune=now` would delete them. The same commit lets a
truncated or corrupt index be rebuilt with its staged content intact.
"""
from __future__ import annotations

import os
import time
TYPE_CHECKING = False

from gitlane import files

if TYPE_CHECKING:
    from gitlane.git.verbs import Git

PREFIX = "refs/gitlane/sessions/"


def ref_name(name: str) -> str:
    return PREFIX + name


def ref_path(git: "Git", name: str) -> str:
    return os.path.join(git.repo.common_dir, *ref_name(name).split("/"))


def take(git: "Git", name: str, index: str, base: str, staged: bool) -> None:
    """Point the session's ref at (tree of index, parent base), or drop it when
    nothing is staged. The caller holds the session lock, the only writer of
    this ref, so a plain atomic loose-ref write is enough."""
    if not staged:
        drop(git, name)
        return
    tree = git.write_tree(index)
    if tree is None:
        return  # unmerged entries: keep the previous snapshot
    empty = base == git.repo.empty_tree()
    stamp = f"{int(time.time())} +0000"
    body = (f"tree {tree}\n" + ("" if empty else f"parent {base}\n")
            + f"author gitlane <gitlane@localhost> {stamp}\ncommitter gitlane <gitlane@localhost> {stamp}\n\n"
            + f"gitlane: staged work of session {name}\n")
    commit = git.write_object("commit", body.encode())
    path = ref_path(git, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # git reads every file under refs/ as a ref: the temporary file must not
    # live there, or a crash mid-write leaves a broken "ref" behind.
    # Not fsynced, like git's own loose refs and objects (core.fsync's default).
    files.write_atomic(path, commit.encode() + b"\n", durable=False, tmp_dir=os.path.join(git.repo.state_dir()))


def drop(git: "Git", name: str) -> None:
    """We are the ref's only writer (session lock): a loose ref is just a file.
    Only a packed copy (after `git pack-refs`) needs git to remove it."""
    if _packed(git, name):
        git.delete_ref(ref_name(name))
    else:
        files.remove(ref_path(git, name))


def _packed(git: "Git", name: str) -> bool:
    text = files.read_text(os.path.join(git.repo.common_dir, "packed-refs")) or ""
    return (" " + ref_name(name)) in text


def read(git: "Git", name: str) -> tuple[str, str | None] | None:
    """(tree, base) of the session's snapshot, if it has one."""
    commit = git.resolve_commit(ref_name(name))
    if commit is None:
        return None
    tree, parents = git.tree_and_parents(commit)
    return tree, (parents[0] if parents else None)
