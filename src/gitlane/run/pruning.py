"""gc, prune and repack: every session's staged work stays reachable while
they run, without a ref that outlives them (session.snapshot).

In a session the running session's own index is git's current index
(GIT_INDEX_FILE), which git's reachability walk already counts; every other
session folder that stages something gets its snapshot ref for the length of
the command. shim/git sends these commands here without a session too.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False

from gitlane.git import proc

if TYPE_CHECKING:
    from typing import Mapping, NoReturn, Sequence

    from gitlane.git.verbs import Git

PRUNING = frozenset(("gc", "prune", "repack"))


def run(git: Git, argv: Sequence[str], env: Mapping[str, str], skip: str | None = None,
        pass_fds: Sequence[int] = ()) -> NoReturn:
    from gitlane.session import snapshot
    written = snapshot.protect_all(git, skip)
    if skip is not None:
        written += snapshot.protect_shared_index(git)
    try:
        status = proc.call(argv, env, pass_fds)
    finally:
        snapshot.unprotect(git, written)
    proc.exit_like(status)


def main() -> None:
    """shim/git without a session, for an argv naming gc, prune or repack."""
    from gitlane.errors import guarded
    sys.exit(guarded(_outside, sys.argv[1], sys.argv[2:]))


def _outside(real: str, argv: list[str]) -> int:
    from gitlane import layout
    from gitlane.git import args as gitargs
    from gitlane.git.repo import discover
    from gitlane.git.verbs import Git
    env = dict(os.environ)
    split = gitargs.split(argv)
    repo = None
    if split.command in PRUNING and "GIT_INDEX_FILE" not in env:
        try:
            repo = discover(split, env, os.getcwd())
        except OSError:
            repo = None
    if repo is None or not os.path.isdir(layout.state_dir(repo.common_dir)):
        proc.exec_([real, *argv], env)
    run(Git(real, repo, env), [real, *argv], env)
