"""run.landing: the base moves only with our own commit (a table)."""
from __future__ import annotations

import pytest

from gitlane.run.landing import moves_base

E = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
O, N, P, Q = "o" * 40, "n" * 40, "p" * 40, "q" * 40


@pytest.mark.parametrize("commit, amend, status, old, new, new_parents, old_parents, want", [
    (True, False, 0, O, N, [O], None, True),          # our commit, on the old HEAD
    (True, False, 0, O, O, None, None, False),         # nothing happened
    (True, False, 1, O, N, [O], None, False),          # failed: HEAD is a person's, on the same parent
    (True, False, 256, O, N, [P], None, False),
    (True, False, -9, O, N, [O], None, False),         # killed: the next rebase merges it back in
    (True, False, 0, O, N, [P], None, False),          # HEAD moved again right after ours
    (True, False, 0, O, N, None, None, False),         # unreadable
    (True, False, 0, E, N, [], None, True),            # the first commit
    (True, False, 0, E, N, [P], None, False),
    (True, True, 0, O, N, [P], [P], True),             # amend: same parents as the amended commit
    (True, True, 0, O, N, [O], [P], False),
    (False, False, 0, O, N, [Q], None, True),          # reset, merge, checkout: git succeeded
    (False, False, 256, O, N, [Q], None, True),        # a rebase stopped at a conflict: HEAD and index moved
    (False, False, 9, O, N, [Q], None, False),         # killed: the old base, the next rebase heals
    (False, False, 1, O, N, [Q], None, False),         # killed by SIGHUP
])
def test_moves_base(commit: bool, amend: bool, status: int, old: str, new: str, new_parents, old_parents,
                    want: bool) -> None:
    assert moves_base(commit, amend, status, old, new, new_parents, old_parents, E) is want
