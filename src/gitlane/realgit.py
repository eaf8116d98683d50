"""Find the real git: GITLANE_REAL_GIT, else PATH without gitlane shims.

The sh launcher does the same walk for the hot path; this copy serves the CLI.
A directory is ours if it holds a .gitlane-shim marker, or is (samefile) the
directory of a running gitlane launcher.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False  # `typing` costs ~10 ms to import: annotations only
if TYPE_CHECKING:
    from typing import Mapping

from gitlane.errors import Fatal


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
    return os.path.exists(os.path.join(d, ".gitlane-shim"))
