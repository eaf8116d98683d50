"""The package's own objects in-process over a real repository (a Lane):
Repo, Invocation, and commits made the way a session makes them. For unit
tests (tests/unit) and benchmarks; git is always the real one."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from gitlane.git import args as gitargs
from gitlane.git.repo import Repo, discover
from gitlane.run import classify
from gitlane.run.invocation import Invocation
from gitlane.testing.lane import Lane, real_git


def repo_at(path: Path, cwd: Path | None = None) -> Repo:
    found = discover(gitargs.split([]), os.environ, str(cwd or path))
    assert found is not None, f"no repository at {path}"
    return found


def invocation(argv: str | list[str], cwd: str | None = None) -> Invocation:
    """The Invocation run.dispatch would build for `git ARGV` (built-ins only)."""
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    split = gitargs.split(words)
    assert split.command is not None
    base = cwd or os.getcwd()
    kind = classify.classify(split.command, split.args, lambda p: os.path.lexists(os.path.join(base, p)))
    return Invocation(real_git(), words, split, split.command, split.args, kind)


def ls_files_v(lane: Lane, index: Path | str) -> dict[str, str]:
    """{path: tag} from `git ls-files -v` on an index: 'H' cached, 'S' skip-worktree."""
    out = lane.plain("ls-files", "-v", "-z", index=str(index)).stdout
    return {rec[2:].decode(): rec[:1].decode() for rec in out.split(b"\0") if rec}


def commit_plain(lane: Lane, msg: str, **files: str) -> str:
    """Commit files with the real git through .git/index; return the commit."""
    for rel, text in files.items():
        lane.write(rel.replace("__", "/"), text)
    lane.plain("add", "--", *(rel.replace("__", "/") for rel in files))
    lane.plain("commit", "-q", "-m", msg)
    return lane.head()


def commit_aside(lane: Lane, tmp: Path, msg: str, files: dict[str, str | None]) -> tuple[str, str]:
    """Commit on HEAD without touching .git/index or the work tree, as a
    session commit does: (old HEAD, new HEAD). A None value deletes the path."""
    old = lane.head()
    index = str(tmp / f"aside-{msg.replace(' ', '-')}")
    lane.plain("read-tree", old, index=index)
    for rel, text in files.items():
        if text is None:
            lane.plain("update-index", "--force-remove", "--", rel, index=index)
            continue
        blob = lane.plain("hash-object", "-w", "--stdin", input=text.encode()).stdout.decode().strip()
        lane.plain("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", index=index)
    tree = lane.plain("write-tree", index=index).stdout.decode().strip()
    new = lane.plain("commit-tree", tree, "-p", old, "-m", msg).stdout.decode().strip()
    lane.plain("update-ref", "HEAD", new, old)
    os.unlink(index)
    return old, new
