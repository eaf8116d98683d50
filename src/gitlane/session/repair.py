"""Damage to a session folder, and its recovery. Every state file gitlane
reads back is untrusted: a damaged one is recovered from the session's
snapshot ref (tree = staged content, parent = base) when possible, else it
is a clear error, and a damaged file is always kept aside, never deleted
(docs/DESIGN.md, "Session index").

The kinds of damage: an index that fails its checksum (truncated, garbled)
or names a shared index that git expired,
and a `base` that is missing, empty, not a full object id, or not a commit.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.errors import GitError, StateError
from gitlane.session import snapshot

if TYPE_CHECKING:
    from gitlane.session.index import SessionIndex

# How far back HEAD's history is searched for the commit an index without a
# base and without a snapshot is built on (nothing staged: its tree is its base's).
SEARCH_DEPTH = 200


def base_problem(si: SessionIndex) -> str | None:
    """What is wrong with the base file of an existing index, or None. Only
    the file's own form is checked here (no spawn): see base_is_commit."""
    if not os.path.exists(si.path):
        return None
    if not os.path.lexists(si.base_path):
        return "its base file is missing"
    if layout.mode(si.base_path) != 0o100000:
        return "its base file is not a regular file"
    if si.base() is None:
        text = (layout.read_text(si.base_path) or "").strip()
        return "its base file is empty" if not text else f"its base file holds '{layout.shown(text[:40])}', not an object id"
    return None


def base_is_commit(si: SessionIndex) -> bool:
    base = si.base()
    return base is not None and (base == si.git.repo.empty_tree() or si.git.is_commit(base))


def recover_index(si: SessionIndex, name: str) -> str:
    """A corrupt index: keep it aside, rebuild it from the snapshot (or from
    HEAD when nothing was staged). Returns a sentence saying what happened."""
    kept = files.set_aside(si.path, "corrupt")
    snap = snapshot.read(si.git, name)
    if snap is None:
        si.create()
        return f"its index was corrupt (kept as {kept}); it had no staged snapshot, so it was reset to HEAD"
    _restore(si, snap)
    return f"its index was corrupt (kept as {kept}); staged work was restored from {snapshot.ref_name(name)}"


def unreadable(exc: GitError) -> bool:
    """git could not read a session index whose own checksum is fine: it is
    split and names a shared index git has since expired (an index written
    before session indexes were kept whole, layout.session_config)."""
    return "sharedindex." in exc.stderr and "index file open failed" in exc.stderr


def index_missing(si: SessionIndex) -> bool:
    """The base is there but the index is gone: it was deleted, not never made."""
    return os.path.lexists(si.base_path) and not os.path.lexists(si.path)


def recover_missing_index(si: SessionIndex, name: str) -> str:
    snap = snapshot.read(si.git, name)
    if snap is None:
        si.create()
        return "its index was missing; it had no staged snapshot, so it was made again from HEAD"
    _restore(si, snap)
    return f"its index was missing; staged work was restored from {snapshot.ref_name(name)}"


def recover_base(si: SessionIndex, name: str, problem: str) -> str:
    """A damaged base under a good index. The snapshot knows the base; without
    one nothing was staged, so the index's tree is its base's tree: look for
    that commit in HEAD's history. Raises StateError when neither works: the
    index is then left exactly as it is."""
    snap = snapshot.read(si.git, name)
    tree = si.git.write_tree(si.path)
    if snap is not None:
        snap_tree, parent = snap
        if tree == snap_tree:
            si.set_base(parent or si.git.repo.empty_tree())
            return f"{problem}; it was restored from {snapshot.ref_name(name)}"
        kept = _keep_base(si)
        kept_index = files.set_aside(si.path, "damaged")
        _restore(si, snap)
        return (f"{problem} (kept as {kept}); staged work was restored from {snapshot.ref_name(name)}, "
                f"the index it replaced is kept as {kept_index}")
    found = _commit_with_tree(si, tree) if tree else None
    if found:
        kept = _keep_base(si)
        si.set_base(found)
        return f"{problem}{f' (kept as {kept})' if kept else ''}; nothing was staged, its base is {found[:10]} again"
    raise StateError(f"session {name}: {problem}, and its staged work has no snapshot to tell its base",
                     f"its index is untouched: `gitlane doctor --fix` keeps it aside (staged tree {tree or 'unknown'}) "
                     "and starts the session over from HEAD")


def start_over(si: SessionIndex, problem: str) -> str:
    """doctor --fix for a base nothing can tell: keep index and base aside,
    start from HEAD. The old index's tree stays readable from the kept file."""
    kept = files.set_aside(si.path, "damaged")
    _keep_base(si)
    si.create()
    return f"{problem}; the index was kept as {kept} and the session starts over from HEAD"


def _keep_base(si: SessionIndex) -> str:
    return files.set_aside(si.base_path, "damaged") if os.path.lexists(si.base_path) else ""


def _restore(si: SessionIndex, snap: tuple[str, str | None]) -> None:
    tree, base = snap
    tmp = si._tmp()
    si.git.read_tree(tmp, tree)
    si._commit(tmp, base or si.git.repo.empty_tree())


def _commit_with_tree(si: SessionIndex, tree: str) -> str | None:
    head = si.git.repo.head()
    if head is None:
        return si.git.repo.empty_tree() if tree == si.git.repo.empty_tree() else None
    try:
        out = si.git.run("log", f"-{SEARCH_DEPTH}", "--format=%H %T", "--end-of-options", head).out.decode()
    except GitError:
        return None
    for line in out.splitlines():
        commit, _, commit_tree = line.partition(" ")
        if commit_tree == tree:
            return commit
    return None
