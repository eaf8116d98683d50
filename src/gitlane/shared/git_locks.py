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
    return "held while " + ", ".join(f"pid {pid} runs `{cmd[:60]}`" for pid, cmd in holders[:3]) + " runs"


def _reclaim(path: str, st: os.stat_result, age: float, audit: Callable[[str, str], None]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    detail = f"{path} ({st.st_size} bytes, {age:.1f}s old, no git process alive in the repository)"
    sys.stderr.write(f"gitlane: removed stale lock {detail}\n")
    audit("reclaim", detail)


def repo_git_processes(repo: "Repo") -> list[tuple[int, str]]:
    """git processes whose cwd is inside this repository (excluding our own
    ancestors, which may be a git running a hook that called us)."""
    import psutil
    mine = {os.getpid()} | {p.pid for p in _ancestors()}
    top, gdir = repo.top.rstrip("/") + "/", repo.git_dir.rstrip("/") + "/"
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd", "cmdline"]):
        info = proc.info
        name = info.get("name") or ""
        if info["pid"] in mine or not (name == "git" or name.startswith("git-")):
            continue
        cwd = (info.get("cwd") or "") + "/"
        if cwd.startswith(top) or cwd.startswith(gdir):
            found.append((info["pid"], " ".join(info.get("cmdline") or [name])))
    return found


def _ancestors() -> list:  # type: ignore[type-arg]
    import psutil
    try:
        return psutil.Process().parents()
    except psutil.Error:
        return []
