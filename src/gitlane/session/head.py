"""A session's own HEAD: the private git dir a session gets when it switches
branches while a peer is live (docs/DESIGN.md, "Session branches").

`<session folder>/gitdir/` holds `HEAD` and `commondir` (the relative path
to the repository's git dir). git treats such a folder like a linked
worktree's git dir: refs, objects and config stay shared, HEAD (and its
reflog, MERGE_HEAD, ORIG_HEAD) is the session's own. It is not registered
under `.git/worktrees/`, so `git worktree prune` and `git gc` never see it.
The session's git commands run with GIT_DIR=<it> and GIT_WORK_TREE=<top>.
"""
from __future__ import annotations

import os
import shutil
TYPE_CHECKING = False

from gitlane import files, layout

if TYPE_CHECKING:
    import sqlite3

    from gitlane.git.repo import Repo
    from gitlane.git.verbs import Git
    from gitlane.session import Session
    from gitlane.shared import claims

# Detached HEADs of sessions are kept reachable for gc by a ref of their own.
DETACHED_PREFIX = "refs/gitlane/heads/"


def private_dir(sdir: str) -> str:
    return os.path.join(sdir, layout.GITDIR)


def has_private(sdir: str) -> bool:
    return layout.is_file(os.path.join(private_dir(sdir), "HEAD"))


def create(repo: Repo, sdir: str) -> str:
    """The private git dir, its HEAD a copy of the work tree's HEAD. The
    HEAD file is written last: until it exists, the folder is not used."""
    d = private_dir(sdir)
    os.makedirs(d, exist_ok=True)
    rel = os.path.relpath(repo.common_dir, d)
    files.write_atomic(os.path.join(d, "commondir"), rel.encode() + b"\n")
    head = files.read_text(os.path.join(repo.wt_git_dir, "HEAD")) or ""
    files.write_atomic(os.path.join(d, "HEAD"), head.encode())
    return d


def remove(sdir: str) -> None:
    """HEAD first: a folder without HEAD is never used, so a crash half-way
    leaves nothing that matters."""
    d = private_dir(sdir)
    files.remove(os.path.join(d, "HEAD"))
    shutil.rmtree(d, ignore_errors=True)


def read(sdir: str) -> str | None:
    """The raw content of the private HEAD ('ref: refs/heads/x' or an id)."""
    text = files.read_text(os.path.join(private_dir(sdir), "HEAD"))
    return text.strip() if text else None


def branch_of(repo: Repo, sdir: str) -> str | None:
    """The short name of the branch this session is on; None when detached."""
    text = read(sdir) if has_private(sdir) else (files.read_text(os.path.join(repo.wt_git_dir, "HEAD")) or "").strip()
    if text and text.startswith("ref: refs/heads/"):
        return text[len("ref: refs/heads/"):]
    return None


def describe(repo: Repo, sdir: str) -> str:
    """What `gitlane status` shows in its BRANCH column."""
    name = branch_of(repo, sdir)
    if name is not None:
        return name
    text = read(sdir) if has_private(sdir) else (files.read_text(os.path.join(repo.wt_git_dir, "HEAD")) or "").strip()
    return f"({text[:10]})" if text and layout.is_object_id(text) else "-"


def shared_commit(repo: Repo) -> str:
    return repo.shared_head() or repo.empty_tree()


def record_branch_files(s: "Session", conn: "sqlite3.Connection", held: set[bytes], head: str) -> "claims.Change | None":
    """Of the files at this session's version (`held`), those the shared
    HEAD has differently stay the session's branch files (claims.BRANCH)."""
    from gitlane.shared import claims
    shared = shared_commit(s.repo)
    differ = set(s.git.diff_tree_entries(shared, head)) if shared != head else set()
    return claims.set_branch(conn, s.repo.worktree_id, s.name, held & differ)


def foreign_paths(s: "Session", conn: "sqlite3.Connection") -> set[bytes]:
    """Files on disk that are not this session's version and not its own
    work: for a session on its own HEAD, what differs from the shared HEAD
    (peers committed it there) except its branch files and claims. View
    isolation hides them, as it hides peers' claims."""
    if not s.repo.private:
        return set()
    own = s.index.head()
    shared = shared_commit(s.repo)
    if own == shared:
        return set()
    from gitlane.shared import claims
    mine = claims.own_paths(conn, s.repo.worktree_id, s.name)
    return set(s.git.diff_tree_entries(own, shared)) - mine


def any_private(repo: Repo) -> bool:
    """Does any session of this work tree have its own HEAD? (one listdir)"""
    root = layout.sessions_root(repo.common_dir, repo.worktree_id)
    try:
        names = os.listdir(root)
    except OSError:
        return False
    return any(layout.is_file(os.path.join(root, n, layout.GITDIR, "HEAD")) for n in names)


def detached_ref(name: str) -> str:
    return DETACHED_PREFIX + name


def keep_reachable(git: "Git", name: str, sdir: str) -> None:
    """A detached private HEAD protects nothing from `gc --prune=now` (git
    walks only registered worktrees' HEADs): a ref of the session's keeps
    its commit, and commits made on it, reachable until it is on a branch."""
    text = read(sdir) if has_private(sdir) else None
    if text and layout.is_object_id(text):
        git.run("update-ref", "--no-deref", detached_ref(name), text)
    elif os.path.exists(os.path.join(git.repo.common_dir, *detached_ref(name).split("/"))) or \
            (" " + detached_ref(name)) in (files.read_text(os.path.join(git.repo.common_dir, "packed-refs")) or ""):
        git.delete_ref(detached_ref(name))
