"""Claims follow reality: a staged claim whose content is already in HEAD
(a person's plain commit, or a peer's, absorbed it) stops blocking at the
next check, with no command of its owner needed (docs/DESIGN.md,
"Ownership"). The owner's own next command drops the claim for good when its
index is rebased onto that HEAD."""
from __future__ import annotations

import os

from gitlane import layout
from gitlane.errors import GitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

    from gitlane.session import Session
    from gitlane.shared.claims import Owner


def unsettled(s: Session, found: Sequence[tuple[bytes, Owner]]) -> list[tuple[bytes, Owner]]:
    """`found` without the staged claims whose owner's index entry equals
    HEAD's: one git call per owner met, only when something would block."""
    from gitlane.shared.claims import STAGED
    staged: dict[str, list[bytes]] = {}
    for path, owner in found:
        if owner.kind == STAGED:
            staged.setdefault(owner.session, []).append(path)
    if not staged:
        return list(found)
    head = s.repo.head() or s.repo.empty_tree()
    still: dict[str, set[bytes]] = {}
    for name, paths in staged.items():
        still[name] = set(paths)
        if layout.name_problem(name):
            continue  # a name we cannot trust to build a path from: keep blocking
        sdir = layout.session_dir(s.repo.common_dir, s.repo.worktree_id, name)
        index = os.path.join(sdir, layout.INDEX)
        if not os.path.isfile(index) or _busy(sdir):
            continue
        try:
            still[name] = set(s.git.changed_paths(index, head, limit=paths))
        except GitError:
            pass
    return [(p, o) for p, o in found if o.kind != STAGED or p in still.get(o.session, ())]


def _busy(sdir: str) -> bool:
    """The owner holds its session lock exclusively: it is mid-command, and
    its claims may already name an index it has not yet renamed into place
    (a claim set before the rename would look settled against the old
    index). Keep blocking then (tests/e2e/test_torture.py, the overlap race)."""
    from gitlane.shared import locks
    return locks.is_held(os.path.join(sdir, layout.LOCK))
