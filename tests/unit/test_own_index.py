"""run.own_index: which GIT_INDEX_FILE is git's own (a hook's: run as plain
git, untouched) and which is the user's (a HEAD it moves keeps the lone
session index as plain git keeps its current index; tests/e2e/test_lone_session.py)."""
from __future__ import annotations

import pytest

from gitlane.run import own_index


@pytest.mark.parametrize("index, gits", [
    (".git/another_index", False),
    ("/tmp/elsewhere/idx", False),
    ("../other.index", False),
    (".git/index", True),                                    # a no-session commit's hooks
    (".git/index.lock", True),                               # a commit's pre-commit hook
    (".git/next-index-1234.lock", True),                     # a partial commit's hooks
    (".git/gitlane/sessions/A/index", True),                 # this session's post-commit hook
    ("/r/.git/gitlane/worktrees/w/sessions/A/index.stage.9", True),
])
def test_is_gits_own(index: str, gits: bool) -> None:
    assert own_index.is_gits_own(index, "/r") is gits
