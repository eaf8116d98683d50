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

MAX_NAME = 128
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+")


def current(env: Mapping[str, str]) -> str | None:
    """GITLANE_SESSION, else CLAUDE_CODE_SESSION_ID, else no session."""
    name = env.get("GITLANE_SESSION") or env.get("CLAUDE_CODE_SESSION_ID")
    if not name:
        return None
    validate(name)
    return name


def validate(name: str) -> str:
    problem = _problem(name)
    if problem:
        shown = name[:40].encode("unicode_escape").decode("ascii") + ("…" if len(name) > 40 else "")
        raise Fatal(f"invalid session name '{shown}': {problem}",
                    "session names use letters, digits and . _ - @ + (at most "
                    f"{MAX_NAME}, not starting with '.' or '-'); "
                    "fix GITLANE_SESSION or pass a valid NAME", code=2)
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long"
    if name[0] in ".-":
        return f"it starts with '{name[0]}'"
    bad = sorted({ch for ch in name if ch not in _ALLOWED})
    if bad:
        return "it contains " + ", ".join(repr(ch) for ch in bad[:5])
    return None


def sessions_root(repo: Repo) -> str:
    """Session folders, per worktree (each worktree has its own HEAD)."""
    wt = repo.worktree_id
    root = repo.state_dir()
    return os.path.join(root, "sessions") if not wt else os.path.join(root, "worktrees", wt, "sessions")


def dir_for(repo: Repo, name: str) -> str:
    return os.path.join(sessions_root(repo), validate(name))
