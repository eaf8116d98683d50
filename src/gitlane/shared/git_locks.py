"""Stale git lock files: tell them from live ones, and reclaim the dead.

A git `*.lock` file holds no pid, and git closes it while a hook or the
editor runs, so the file alone proves nothing (docs/DESIGN.md, "Git locks"). We call one stale
only when (1) it outlived a short grace period, (2) no gitlane lock that could
cover its writer is held (our flocks are passed to every git child, so a live
child of ours keeps them held), and (3) no git process is running in this
repository. Otherwise it is live: we wait, bounded, naming the holder.
"""
from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False

from gitlane.errors import Fatal

if TYPE_CHECKING:
    from typing import Callable
    from gitlane.git.repo import Repo

GRACE = 2.0


def ref_locks(repo: "Repo", command: str) -> list[str]:
    """The lock files a ref-moving command will need."""
    names = ["HEAD.lock", "ORIG_HEAD.lock", "CHERRY_PICK_HEAD.lock", "MERGE_HEAD.lock", "REVERT_HEAD.lock",
             "REBASE_HEAD.lock", "AUTO_MERGE.lock"]
    if command == "stash":
        names.append("index.lock")
    paths = [os.path.join(repo.git_dir, n) for n in names]
    paths.append(os.path.join(repo.common_dir, "packed-refs.lock"))
    branch = repo.head_ref()
    if branch:
        paths.append(os.path.join(repo.common_dir, *branch.split("/")) + ".lock")
    if command == "stash":
        paths.append(os.path.join(repo.common_dir, "refs", "stash.lock"))
    return paths


def clear(repo: "Repo", paths: list[str], timeout: float, audit: Callable[[str, str], None],
          grace: float = GRACE) -> None:
    """Wait for live locks, reclaim dead ones; Fatal after `timeout`."""
    for path in paths:
        if os.path.exists(path):
            _settle(repo, path, timeout, audit, grace)


def _settle(repo: "Repo", path: str, timeout: float, audit: Callable[[str, str], None], grace: float) -> None:
    start = time.monotonic()
    delay, noticed = 0.005, False
    while True:
        if try_reclaim(repo, path, audit, grace):
            return
        waited = time.monotonic() - start
        if waited >= timeout:
            raise Fatal(f"timed out after {timeout:g}s waiting for {path} ({_describe(repo_git_processes(repo))})",
                        "nothing was changed; if that process is stuck, stop it, then retry")
        if not noticed and waited >= 1.0:
            sys.stderr.write(f"gitlane: waiting for {os.path.basename(path)}, {_describe(repo_git_processes(repo))}\n")
            noticed = True
        time.sleep(delay)
        delay = min(delay * 1.6, 0.1)


def try_reclaim(repo: "Repo", path: str, audit: Callable[[str, str], None], grace: float = GRACE) -> bool:
    """True when path is gone, or was provably stale and is now removed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    age = time.time() - st.st_mtime
    if age < grace or repo_git_processes(repo):
        return False
    _reclaim(path, st, age, audit)
    return True


def _describe(holders: list | None) -> str:  # type: ignore[type-arg]
    if not holders:
        return "a git process may still be writing it"
    return "held while " + ", ".join(f"pid {pid} runs `{cmd[:60]}`" for pid, cmd in holders[:3])


def _reclaim(path: str, st: os.stat_result, age: float, audit: Callable[[str, str], None]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    detail = f"{path} ({st.st_size} bytes, {age:.1f}s old, no git process alive in the repository)"
    sys.stderr.write(f"gitlane: removed stale lock {detail}\n")
    audit("reclaim", detail)


def repo_git_processes(repo: "Repo") -> list[tuple[int, str]]:
    """Every live git process of this repository, however it was started: its
    cwd, `-C`, `--git-dir`/`--work-tree`, GIT_DIR/GIT_COMMON_DIR/GIT_WORK_TREE
    in its environment, or a linked worktree of the same repository (our own
    ancestors excluded: a git running the hook that called us). A git we may
    not inspect counts as a holder: in doubt we wait, never delete."""
    import psutil
    mine = {os.getpid()} | {p.pid for p in _ancestors()}
    roots = repo_roots(repo)
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd", "cmdline"]):
        info = proc.info
        name = info.get("name") or ""
        if info["pid"] in mine or not (name == "git" or name.startswith("git-")):
            continue
        argv = info.get("cmdline") or [name]
        try:
            env = proc.environ()
        except psutil.NoSuchProcess:
            continue
        except psutil.Error:
            env = None
        if info.get("cwd") is None or env is None or belongs(info["cwd"], argv, env, roots):
            found.append((info["pid"], " ".join(argv)))
    return found


_REPO_VARS = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE")


def belongs(cwd: str, argv: list[str], env: "dict[str, str]", roots: list[str]) -> bool:
    """Does a git process with this cwd, argv and environment work on the
    repository whose folders are `roots` (real paths)? Pure: tested by table."""
    here = cwd
    places = [cwd]
    words = argv[1:]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-C" and i + 1 < len(words):
            here = os.path.join(here, words[i + 1])
            places.append(here)
            i += 2
            continue
        if word in ("--git-dir", "--work-tree") and i + 1 < len(words):
            places.append(os.path.join(here, words[i + 1]))
            i += 2
            continue
        if word.startswith(("--git-dir=", "--work-tree=")):
            places.append(os.path.join(here, word.split("=", 1)[1]))
        elif word == "-c" or word == "--config-env":
            i += 1
        elif not word.startswith("-"):
            break  # the command: the rest are its arguments
        i += 1
    places += [os.path.join(cwd, env[k]) for k in _REPO_VARS if env.get(k)]
    for place in places:
        real = os.path.realpath(place).rstrip("/") + "/"
        if any(real.startswith(root) for root in roots):
            return True
    return False


def repo_roots(repo: "Repo") -> list[str]:
    """The real paths (with a trailing /) under which a git works on this
    repository: its work tree, git dirs, and every linked worktree's top."""
    roots = {repo.top, repo.git_dir, repo.common_dir}
    wts = os.path.join(repo.common_dir, "worktrees")
    try:
        names = os.listdir(wts)
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(wts, name, "gitdir"), encoding="utf-8", errors="replace") as f:
                dotgit = f.read().strip()
        except OSError:
            continue
        if dotgit:
            roots.add(os.path.dirname(dotgit))
        roots.add(os.path.join(wts, name))
    return sorted(os.path.realpath(r).rstrip("/") + "/" for r in roots if r)


def _ancestors() -> list:  # type: ignore[type-arg]
    import psutil
    try:
        return psutil.Process().parents()
    except psutil.Error:
        return []
