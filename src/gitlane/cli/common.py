"""What every CLI command needs: the repository, the session, the database,
and output as aligned text or --json."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

from gitlane import session
from gitlane.errors import Fatal
from gitlane.git import args as gitargs
from gitlane.git import realgit
from gitlane.git.repo import Repo, discover
from gitlane.git.verbs import Git
from gitlane.shared import db


class Env:
    """The repository and session a CLI command works on."""

    def __init__(self, repo: Repo, git: Git, name: str | None) -> None:
        self.repo = repo
        self.git = git
        self.name = name
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = db.connect(self.repo.state_dir())
        return self._conn

    def need_session(self) -> str:
        if not self.name:
            raise Fatal("no session in this shell",
                        'open one with `eval "$(gitlane activate)"` or set GITLANE_SESSION')
        return self.name


def open_env(need_repo: bool = True) -> Env | None:
    repo = discover(gitargs.Split(), os.environ, os.getcwd())
    if repo is None:
        if need_repo:
            raise Fatal("not inside a git work tree", "cd into the repository you share with other sessions")
        return None
    return Env(repo, Git(realgit.find(), repo, os.environ), session.current(os.environ))


def maintenance(env: Env):  # type: ignore[no-untyped-def]
    """The maintenance lock: one `gitlane doctor --fix/--repair` or `gitlane gc`
    at a time per repository, so that two repairs never rebuild the database
    or prune a session folder under each other. Waits up to lane.lockTimeout."""
    from gitlane import layout
    from gitlane.shared import locks
    path = os.path.join(env.repo.state_dir(), layout.MAINTENANCE_LOCK)
    return locks.single_instance(path, "another `gitlane doctor --fix` or `gitlane gc` in this repository",
                                 lambda: locks.timeout(env.git))


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output for agents")


def emit_json(data: Any) -> int:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def decode_paths(blob: bytes | None) -> list[str]:
    return [os.fsdecode(p) for p in (blob or b"").split(b"\0") if p]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
