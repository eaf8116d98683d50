"""Find the real git: GITLANE_REAL_GIT, else the first `git` on PATH outside
gitlane's shim folders (a folder holding a `.gitlane-shim` marker).

shim/git does the same walk in sh (it must not start Python without a
session); tests/unit/test_realgit.py holds the two equal. Tests, benchmarks
and the demo all call find().
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

from gitlane.errors import Fatal

MARKER = ".gitlane-shim"


def find(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    explicit = env.get("GITLANE_REAL_GIT")
    if explicit:
        return explicit
    for d in env.get("PATH", "").split(os.pathsep):
        d = d or "."
        cand = os.path.join(d, "git")
        if os.path.isfile(cand) and os.access(cand, os.X_OK) and not is_shim_dir(d):
            return cand
    raise Fatal("no real git found on PATH (after skipping gitlane shims)",
                "install git, or set GITLANE_REAL_GIT=/path/to/git", code=127)


def is_shim_dir(d: str) -> bool:
    return os.path.exists(os.path.join(d or ".", MARKER))


def path_without_shims(path: str) -> str:
    """PATH with every gitlane shim folder removed."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if not is_shim_dir(d))
