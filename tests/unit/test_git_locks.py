"""shared.git_locks: a git `*.lock` is stale only when it outlived the grace
period and no git process runs in the repository; then it is reclaimed and
audited. A live one is waited for, bounded, naming the git that runs.

The "git process in the repository" is a real git (`hash-object --stdin`
waiting on a pipe we hold), never a mock of the process table.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from gitlane.errors import Fatal
from gitlane.git.repo import Repo
from gitlane.shared import git_locks
from gitlane.testing.lane import ROOT, Lane, real_git
from gitlane.testing.processes import age


class Audit(list):  # type: ignore[type-arg]
    def __call__(self, event: str, detail: str) -> None:
        self.append((event, detail))


@pytest.fixture
def audit() -> Audit:
    return Audit()


def live_git(cwd: Path) -> subprocess.Popen:
    """A git process whose cwd is `cwd`, alive until its stdin is closed."""
    p = subprocess.Popen([real_git(), "hash-object", "--stdin"], cwd=cwd, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


@pytest.fixture
def git_in_repo(lane: Lane) -> Iterator[subprocess.Popen]:
    p = live_git(lane.path)
    yield p
    p.kill()
    p.wait()


def lock_in(lane: Lane, rel: str, seconds: float | None = None) -> Path:
    p = lane.path / ".git" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    if seconds is not None:
        age(p, seconds)
    return p


# --- which locks a command needs ---------------------------------------------------------

def test_ref_locks_of_a_commit(repo: Repo) -> None:
    got = git_locks.ref_locks(repo, "commit")
    gd = repo.git_dir
    assert got == [os.path.join(gd, n) for n in ("HEAD.lock", "ORIG_HEAD.lock", "CHERRY_PICK_HEAD.lock",
                                                 "MERGE_HEAD.lock", "REVERT_HEAD.lock", "REBASE_HEAD.lock",
                                                 "AUTO_MERGE.lock")] + [
        os.path.join(repo.common_dir, "packed-refs.lock"), os.path.join(repo.common_dir, "refs", "heads", "main.lock")]


def test_ref_locks_of_a_stash_add_the_index_and_refs_stash(repo: Repo) -> None:
    got = git_locks.ref_locks(repo, "stash")
    assert os.path.join(repo.git_dir, "index.lock") in got
    assert got[-1] == os.path.join(repo.common_dir, "refs", "stash.lock")
    assert os.path.join(repo.git_dir, "index.lock") not in git_locks.ref_locks(repo, "merge")


def test_ref_locks_when_detached_name_no_branch(lane: Lane, repo: Repo) -> None:
    lane.plain("checkout", "-q", "--detach")
    assert not any("refs/heads" in p for p in git_locks.ref_locks(repo, "commit"))


# --- stale or live -------------------------------------------------------------------------

def test_a_missing_lock_is_gone(repo: Repo, lane: Lane, audit: Audit) -> None:
    assert git_locks.try_reclaim(repo, str(lane.path / ".git" / "HEAD.lock"), audit) is True
    assert audit == []


def test_an_old_lock_with_no_git_running_is_reclaimed_and_audited(repo: Repo, lane: Lane, audit: Audit,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    lock = lock_in(lane, "refs/heads/main.lock", 3600)
    lock.write_bytes(b"x" * 41)
    age(lock)
    assert git_locks.try_reclaim(repo, str(lock), audit) is True
    assert not lock.exists()
    ((event, detail),) = audit
    assert event == "reclaim"
    assert detail.startswith(f"{lock} (41 bytes, 3600.") and detail.endswith("s old, no git process alive in the repository)")
    assert capfd.readouterr().err == f"gitlane: removed stale lock {detail}\n"


def test_a_young_lock_is_left_alone(repo: Repo, lane: Lane, audit: Audit) -> None:
    lock = lock_in(lane, "HEAD.lock", 1.0)                  # a second old: inside the grace period
    assert git_locks.GRACE == 2.0
    assert git_locks.try_reclaim(repo, str(lock), audit, grace=3600.0) is False
    assert lock.exists() and audit == []
    assert git_locks.try_reclaim(repo, str(lock), audit, grace=0.5) is True


@pytest.mark.parametrize("where", ["top", "subdir", "git-dir"])
def test_an_old_lock_is_live_while_a_git_runs_in_the_repository(repo: Repo, lane: Lane, audit: Audit,
                                                                where: str) -> None:
    cwd = {"top": lane.path, "subdir": lane.path / "sub", "git-dir": lane.path / ".git"}[where]
    cwd.mkdir(exist_ok=True)
    lock = lock_in(lane, "HEAD.lock", 3600)
    p = live_git(cwd)
    try:
        assert [pid for pid, _ in git_locks.repo_git_processes(repo)] == [p.pid]
        assert git_locks.try_reclaim(repo, str(lock), audit) is False
        assert lock.exists() and audit == []
    finally:
        p.kill()
        p.wait()
    assert git_locks.try_reclaim(repo, str(lock), audit) is True


def test_a_git_elsewhere_does_not_count(repo: Repo, lane: Lane, tmp_path: Path, audit: Audit) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "repo-suffix").mkdir()              # a sibling whose name starts like the repo's
    p1, p2 = live_git(elsewhere), live_git(tmp_path / "repo-suffix")
    try:
        assert git_locks.repo_git_processes(repo) == []
    finally:
        for p in (p1, p2):
            p.kill()
            p.wait()


def test_our_own_ancestors_do_not_count(lane: Lane) -> None:
    """A hook or `!` alias that calls gitlane runs under a git of this
    repository: that git waits for us, it is no holder."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from gitlane.git import args; "
            "from gitlane.git.repo import discover; from gitlane.shared import git_locks; import os; "
            "print(git_locks.repo_git_processes(discover(args.split([]), os.environ, os.getcwd())))")
    lane.plain("config", "alias.probe", f"!{sys.executable} -c '{code}' {ROOT / 'src'}")
    res = lane.plain("probe")
    assert res.stdout == b"[]\n", res.stderr.decode()


def test_clear_gives_up_on_a_live_lock_naming_the_git(repo: Repo, lane: Lane, git_in_repo,  # type: ignore[no-untyped-def]
                                                     audit: Audit) -> None:
    lock = lock_in(lane, "HEAD.lock", 3600)
    with pytest.raises(Fatal) as exc:
        git_locks.clear(repo, [str(lock)], 0.2, audit)
    want = f"held while pid {git_in_repo.pid} runs `{real_git()} hash-object --stdin`"
    assert exc.value.what.startswith(f"timed out after 0.2s waiting for {lock} ({want}")
    assert exc.value.hint.startswith("nothing was changed")
    assert lock.exists() and audit == []


class Stderr:
    """sys.stderr for one test: calls `on_line` with each line written."""

    def __init__(self, on_line) -> None:  # type: ignore[no-untyped-def]
        self.text, self.on_line = "", on_line

    def write(self, text: str) -> int:
        self.text += text
        self.on_line(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_clear_says_who_it_waits_for_then_reclaims_once_that_git_is_gone(repo: Repo, lane: Lane, git_in_repo,  # type: ignore[no-untyped-def]
                                                                       audit: Audit,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After a second of waiting the holder is named; the git ends (here:
    as soon as it is named), and the old lock it left is then reclaimed."""
    lock = lock_in(lane, "HEAD.lock", 3600)

    def on_line(text: str) -> None:
        if text.startswith("gitlane: waiting for"):
            git_in_repo.kill()
            git_in_repo.wait()
    err = Stderr(on_line)
    monkeypatch.setattr(sys, "stderr", err)
    git_locks.clear(repo, [str(lock)], 60.0, audit)
    want = f"held while pid {git_in_repo.pid} runs `{real_git()} hash-object --stdin`"
    assert err.text.startswith(f"gitlane: waiting for HEAD.lock, {want}")
    assert not lock.exists() and [e for e, _ in audit] == ["reclaim"]


def test_the_holder_is_named_in_one_sentence() -> None:
    assert git_locks._describe([(5, "git commit -q")]) == "held while pid 5 runs `git commit -q`"


def test_describe_without_a_known_holder() -> None:
    assert git_locks._describe([]) == "a git process may still be writing it"


def test_clear_returns_once_the_holder_removes_its_lock(repo: Repo, lane: Lane, audit: Audit,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A live lock is waited for, and the wait ends as soon as the file
    goes: removed by its owner, not by us."""
    holder = live_git(lane.path)                # alive: never stale, however long the wait
    lock = lock_in(lane, "HEAD.lock")
    checks: list[bool] = []
    waiting = threading.Event()
    real = git_locks.try_reclaim

    def counted(*args, **kw):  # type: ignore[no-untyped-def]
        got = real(*args, **kw)
        checks.append(got)
        if not got:
            waiting.set()
        return got
    monkeypatch.setattr(git_locks, "try_reclaim", counted)

    def owner() -> None:
        assert waiting.wait(60)
        lock.unlink()
    t = threading.Thread(target=owner)
    t.start()
    try:
        git_locks.clear(repo, [str(lock)], 60.0, audit)
    finally:
        t.join()
        holder.kill()
        holder.wait()
    assert checks[0] is False and checks[-1] is True
    assert audit == []                                   # nothing was reclaimed: it went by itself


def test_clear_skips_absent_locks_and_reclaims_stale_ones(repo: Repo, lane: Lane, audit: Audit) -> None:
    stale = [lock_in(lane, "HEAD.lock", 3600), lock_in(lane, "ORIG_HEAD.lock", 3600)]
    paths = git_locks.ref_locks(repo, "commit")
    git_locks.clear(repo, paths, 5.0, audit)
    assert not any(p.exists() for p in stale)
    assert sorted(d.split(" (")[0] for _, d in audit) == sorted(map(str, stale))


# --- belongs: which git processes work on this repository --------------------------------------

_ROOTS = ["/r/", "/r/.git/", "/wt/"]


@pytest.mark.parametrize("cwd, argv, env, want", [
    ("/r/src", ["git", "commit"], {}, True),
    ("/elsewhere", ["git", "commit"], {}, False),
    ("/elsewhere", ["git", "--git-dir=/r/.git", "update-ref", "--stdin"], {}, True),
    ("/elsewhere", ["git", "--git-dir", "/r/.git", "update-ref", "--stdin"], {}, True),
    ("/", ["git", "-C", "r", "-C", "src", "status"], {}, True),
    ("/", ["git", "-C", "elsewhere", "status"], {}, False),
    ("/elsewhere", ["git", "--work-tree=/r", "status"], {}, True),
    ("/elsewhere", ["git", "update-ref", "--stdin"], {"GIT_DIR": "/r/.git"}, True),
    ("/", ["git", "log"], {"GIT_DIR": "r/.git"}, True),                 # relative to its cwd
    ("/elsewhere", ["git", "log"], {"GIT_COMMON_DIR": "/r/.git"}, True),
    ("/wt/deep", ["git", "commit"], {}, True),                           # a linked worktree
    ("/elsewhere", ["git", "log", "-C", "/r"], {}, False),              # the command's own -C
    ("/elsewhere", ["git", "-c", "x.y=-C", "log"], {}, False),
    ("/rr", ["git", "log"], {}, False),                                  # a prefix is not a folder
])
def test_belongs_table(cwd: str, argv: list[str], env: dict[str, str], want: bool) -> None:
    assert git_locks.belongs(cwd, argv, env, _ROOTS) is want


def test_repo_roots_include_linked_worktrees(lane, repo: Repo, tmp_path: Path) -> None:
    lane.plain("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    roots = git_locks.repo_roots(repo)
    assert os.path.realpath(tmp_path / "wt") + "/" in roots
    assert os.path.realpath(lane.path) + "/" in roots
