"""A command run in a session with the user's own GIT_INDEX_FILE.

git uses that index and leaves the current one alone, even when the command
moves HEAD (`GIT_INDEX_FILE=other git commit`): plain git's .git/index keeps
its entries and now differs from the new HEAD. The session index is that
current index, but it is rebased whenever HEAD moves under it, which would
take HEAD's new entries in. So, while the session is alone, a HEAD that such
a command moved becomes the session index's base with the index unchanged,
as plain git leaves it (README, "Alone, a session is plain git"). With a live
peer, or when the session lock is busy (a hook of this session's own
command), the next command rebases as usual.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from gitlane.git.args import Split

from gitlane import layout
from gitlane.git import proc


def is_gits_own(index: str, cwd: str) -> bool:
    """An index git itself names for its children (hooks of a commit): a
    `.lock` file, a partial commit's `next-index-*`, a repository's own
    `index`, or anything in a gitlane state folder. Those run as plain git,
    untouched."""
    path = os.path.abspath(os.path.join(cwd, index))
    name = os.path.basename(path)
    return name == "index" or name.endswith(".lock") or name.startswith("next-index") or \
        f"{os.sep}{layout.STATE_DIR}{os.sep}" in path


def run(real: str, argv: list[str], split: "Split", name: str, cwd: str) -> "NoReturn":
    from gitlane import session as sessions
    from gitlane.git.repo import discover
    from gitlane.git.verbs import Git
    from gitlane.session import Session
    env = os.environ
    repo = discover(split, env, cwd)
    if repo is None:
        proc.exec_([real, *argv], env)
    explicit = split.git_dir is not None or split.work_tree is not None or "GIT_DIR" in env or "GIT_WORK_TREE" in env
    repo = sessions.own_repo(repo, name, explicit)
    s = Session(name, repo, Git(real, repo, env))
    before = repo.head()
    if before is None or not s.index.exists() or s.index.base() != before:
        proc.exec_([real, *argv], env)  # not in step with HEAD: the next command rebases
    status = proc.call([real, *argv], env)
    after = repo.head()
    if after is not None and after != before:
        _keep_index(s, before, after)
    proc.exit_like(status)


def _keep_index(s, before: str, after: str) -> None:  # type: ignore[no-untyped-def]
    from gitlane.errors import StateError
    from gitlane.shared import db, locks, sessions
    try:
        lock = locks.acquire(s.lock_path, locks.holder_line(s.name, "own index"), f"session {s.name}'s lock",
                             lambda: 0.0, yield_to=lambda holder: True)
    except (locks.Yielded, OSError, StateError):
        return
    try:
        if s.index.base() != before:
            return
        conn = db.connect(s.repo.state_dir())
        try:
            if sessions.peer_live(conn, s.name):
                return
        finally:
            conn.close()
        s.index.set_base(after)
    finally:
        lock.release()
