"""Keep staged work reachable and recoverable: a ref per session,
refs/gitlane/sessions/<name>, at a commit whose tree is the session index
and whose parent is its base.

Staged blobs that live only in a session index are invisible to `git gc` and
`git prune` run outside the session (they walk refs, reflogs, the worktrees'
own indexes and the *current* index, which is GIT_INDEX_FILE), so without
this `gc --prune=now` would delete them. The same commit lets a truncated or
corrupt index be rebuilt with its staged content intact.

Alone (no other live session) a session writes no ref: it would show in
`log --all`, `for-each-ref`, `fsck` and `cat-file --batch-all-objects`, where
plain git shows nothing. Its staged work is still safe: a gc, prune or repack
run in the session has the session index as its current index, and one run
through the shim from anywhere else gets a ref for every session with staged
work for just as long as it runs (protect_all, run.pruning).
"""
from __future__ import annotations

import os
import time
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.session import index as session_index

if TYPE_CHECKING:
    from gitlane.git.verbs import Git

PREFIX = "refs/gitlane/sessions/"


def ref_name(name: str) -> str:
    return PREFIX + name


def ref_path(git: "Git", name: str) -> str:
    return os.path.join(git.repo.common_dir, *ref_name(name).split("/"))


def take(git: "Git", name: str, index: str, base: str, staged: bool, alone: bool = False) -> None:
    """Point the session's ref at (tree of index, parent base), or drop it when
    nothing is staged or the session is alone. The caller holds the session
    lock, the only writer of this ref, so a plain atomic loose-ref write is
    enough."""
    if not staged or alone:
        drop(git, name)
        return
    tree = git.write_tree(index)
    if tree is None:
        return  # unmerged entries: keep the previous snapshot
    _write(git, name, tree, base)


def _exists(git: "Git", name: str) -> bool:
    return os.path.exists(ref_path(git, name)) or _packed(git, name)


def _write(git: "Git", name: str, tree: str, base: str) -> str:
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
    return commit


def protect_all(git: "Git", skip: str | None = None) -> list[tuple[str, str]]:
    """Before a gc, prune or repack: a ref for every session folder (in every
    worktree) whose index stages something and has no ref, except `skip`
    (the running session's folder: its index is git's current index).
    Returns (name, commit) of the refs written, for unprotect()."""
    written: list[tuple[str, str]] = []
    for sdir in _session_dirs(git):
        if sdir == skip:
            continue
        name = os.path.basename(sdir)
        index = os.path.join(sdir, layout.INDEX)
        if layout.name_problem(name) or not os.path.isfile(index) or _exists(git, name):
            continue
        base = layout.read_base(sdir)
        base_tree = git.resolve_tree(base) if base else git.repo.empty_tree()
        empty = session_index.tree_without_writing(git, index)
        if empty is not None and empty == base_tree:
            continue  # stages nothing, and write-tree would store the empty tree
        tree = _tree_of_peer_index(git, index)
        if tree is None or tree == base_tree:
            continue
        written.append((name, _write(git, name, tree, base or git.repo.empty_tree())))
    return written


def _tree_of_peer_index(git: "Git", index: str) -> str | None:
    """The tree another session's index stages, computed on a copy: write-tree
    rewrites the index it reads (it stores the cache-tree) and dies on a held
    `<index>.lock`, and that index is not ours to touch without its lock."""
    copy = os.path.join(git.repo.state_dir(), f"{layout.INDEX}.peer-{os.getpid()}")
    try:
        files.copy_keep_stat(index, copy)
    except OSError:
        return None
    try:
        return git.write_tree(copy)
    finally:
        files.remove(copy)


def protect_shared_index(git: "Git") -> list[tuple[str, str]]:
    """In a session git walks the session index instead of this worktree's
    .git/index (revision.c skips the current worktree's index file): what a
    person staged there gets a ref, INDEX_REF, for as long as the gc runs."""
    index = os.path.join(git.repo.git_dir, "index")
    if not os.path.isfile(index):
        return []
    tree = git.write_tree(index)
    head = git.resolve_commit("HEAD")
    if tree is None or tree == (git.resolve_tree(head) if head else git.repo.empty_tree()):
        return []
    stamp = f"{int(time.time())} +0000"
    body = (f"tree {tree}\n" + (f"parent {head}\n" if head else "")
            + f"author gitlane <gitlane@localhost> {stamp}\ncommitter gitlane <gitlane@localhost> {stamp}\n\n"
            + "gitlane: what .git/index stages, kept through a gc\n")
    commit = git.write_object("commit", body.encode())
    git.run("update-ref", INDEX_REF, commit)
    return [(INDEX_REF, commit)]


INDEX_REF = "refs/gitlane/index"


def unprotect(git: "Git", written: list[tuple[str, str]]) -> None:
    """Drop the refs protect_all wrote, unless their session rewrote them since."""
    for name, commit in written:
        if name == INDEX_REF:
            git.delete_ref(INDEX_REF)
        elif git.resolve_commit(ref_name(name)) == commit:
            drop(git, name)


def _session_dirs(git: "Git") -> list[str]:
    common = git.repo.common_dir
    roots = [layout.sessions_root(common, "")]
    wt_root = os.path.join(layout.state_dir(common), layout.WORKTREES)
    try:
        roots += [layout.sessions_root(common, wt) for wt in sorted(os.listdir(wt_root))]
    except OSError:
        pass
    found = []
    for root in roots:
        try:
            found += [os.path.join(root, n) for n in sorted(os.listdir(root))]
        except OSError:
            continue
    return found


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
