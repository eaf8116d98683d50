"""Which session this process belongs to, and where its state lives.

Session names come from the environment and end up in file names, so they are
untrusted input: a strict alphabet, no leading dot, bounded length.
"""
from __future__ import annotations

import os
# typing costs ~10 ms to import under -I -S: annotations only, never at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

from gitlane.errors import Fatal
from gitlane.repo import Repo

from gitlane.fastpath import MAX_NAME, name_problem


def current(env: Mapping[str, str]) -> str | None:
    """GITLANE_SESSION, else CLAUDE_CODE_SESSION_ID, else no session."""
    name = env.get("GITLANE_SESSION") or env.get("CLAUDE_CODE_SESSION_ID")
    if not name:
        return None
    validate(name)
    return name


def validate(name: str) -> str:
    problem = name_problem(name)
    if problem:
        shown = name[:40].encode("unicode_escape").decode("ascii") + ("…" if len(name) > 40 else "")
        raise Fatal(f"invalid session name '{shown}': {problem}",
                    "session names use letters, digits and . _ - @ + (at most "
                    f"{MAX_NAME}, not starting with '.' or '-'); "
                    "fix GITLANE_SESSION or pass a valid NAME", code=2)
    return name


def sessions_root(repo: Repo) -> str:
    """Session folders, per worktree (each worktree has its own HEAD)."""
    wt = repo.worktree_id
    root = repo.state_dir()
    return os.path.join(root, "sessions") if not wt else os.path.join(root, "worktrees", wt, "sessions")


def dir_for(repo: Repo, name: str) -> str:
    return os.path.join(sessions_root(repo), validate(name))
