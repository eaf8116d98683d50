"""shared.main_index: after a session commit, `.git/index` (the index of
people without a session) follows HEAD for exactly the committed paths, as a
compare-and-swap under git's own index.lock: a path the person staged there
is never overwritten. A busy index.lock leaves the sync pending; complete()
finishes it later. Commits are made aside (commit-tree + update-ref), as a
session commit leaves .git/index behind.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitlane.git.verbs import Git
from gitlane.shared import main_index
from gitlane.testing.lane import Lane, real_git
from gitlane.testing.processes import age

from gitlane.testing.inproc import commit_aside, commit_plain, repo_at


def entries(lane: Lane) -> dict[str, str]:
    """{path: blob} of .git/index."""
    out = lane.plain("ls-files", "-s", "-z").stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b" ")[1].decode() for rec in out.split(b"\0") if rec}


def tree(lane: Lane, rev: str = "HEAD") -> dict[str, str]:
    out = lane.plain("ls-tree", "-r", "-z", rev).stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b" ")[2].split(b"\t")[0].decode()
            for rec in out.split(b"\0") if rec}


def blob(lane: Lane, text: str) -> str:
    return lane.plain("hash-object", "--stdin", input=text.encode()).stdout.decode().strip()


@pytest.fixture
def state_dir(lane: Lane) -> None:
    """The state folder exists whenever a session has committed."""
    (lane.path / ".git" / "gitlane").mkdir()


@pytest.fixture
def moved(lane: Lane, tmp_path: Path, state_dir: None) -> tuple[str, str]:
    """HEAD moved by a 'session' commit that changed a, added c and deleted d;
    .git/index is still at the old commit."""
    commit_plain(lane, "base", a="a v1\n", b="b v1\n", d="d v1\n")
    return commit_aside(lane, tmp_path, "session", {"a": "a v2\n", "c": "c new\n", "d": None})


def live_git(lane: Lane) -> subprocess.Popen:
    """A git running in the repository: its index.lock is live, whatever its age."""
    return subprocess.Popen([real_git(), "hash-object", "--stdin"], cwd=lane.path, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)


def pending_file(git: Git) -> Path:
    return Path(main_index.pending_path(git))


def test_sync_brings_the_committed_paths_into_git_index(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    assert entries(lane) == tree(lane, old)
    assert main_index.sync(git, old, new) is True
    assert entries(lane) == tree(lane, new)
    assert lane.plain("diff", "--cached", "--name-only", "HEAD").stdout == b""
    assert not pending_file(git).exists()
    assert not (lane.path / ".git" / "index.lock").exists()
    assert [p.name for p in (lane.path / ".git").iterdir() if p.name.startswith("index.gitlane")] == []


def test_a_path_the_person_staged_is_never_overwritten(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    lane.write("a", "the person's a\n")
    lane.plain("add", "a")                                   # staged in .git/index before the sync
    lane.write("b", "the person's b\n")
    lane.plain("add", "b")                                   # a path the commit did not touch
    assert main_index.sync(git, old, new) is True
    got = entries(lane)
    assert got["a"] == blob(lane, "the person's a\n")        # kept: not old's entry any more
    assert got["b"] == blob(lane, "the person's b\n")
    assert got["c"] == tree(lane, new)["c"] and "d" not in got


def test_the_stat_cache_of_untouched_paths_is_kept(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    before = lane.plain("ls-files", "--debug", "--", "b").stdout
    assert main_index.sync(git, old, new)
    assert lane.plain("ls-files", "--debug", "--", "b").stdout == before


def test_a_busy_index_lock_leaves_the_sync_pending_until_complete(lane: Lane, git: Git,
                                                                  moved: tuple[str, str]) -> None:
    old, new = moved
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")                                    # a person's git is writing .git/index
    holder = live_git(lane)
    before = (lane.path / ".git" / "index").read_bytes()
    assert main_index.sync(git, old, new, patience=0.05) is False
    assert (lane.path / ".git" / "index").read_bytes() == before
    assert lock.exists()                                     # never taken from its owner
    assert main_index.pending(git) == [(old, new)]
    assert main_index.complete(git) is False                 # still busy
    lock.unlink()                                            # that git finished
    holder.kill()
    holder.wait()
    assert main_index.complete(git) is True
    assert entries(lane) == tree(lane, new)
    assert main_index.pending(git) == [] and not pending_file(git).exists()


def test_pending_syncs_apply_oldest_first(lane: Lane, git: Git, tmp_path: Path, moved: tuple[str, str]) -> None:
    old, mid = moved
    _, new = commit_aside(lane, tmp_path, "second", {"a": "a v3\n", "e": "e new\n"})
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    holder = live_git(lane)
    assert main_index.sync(git, old, mid, patience=0.0) is False
    assert main_index.sync(git, mid, new, patience=0.0) is False
    assert main_index.pending(git) == [(old, mid), (mid, new)]
    lock.unlink()
    holder.kill()
    holder.wait()
    assert main_index.complete(git) is True
    assert entries(lane) == tree(lane, new)


def test_a_stale_index_lock_is_reclaimed_and_audited(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    age(lock)                                                # left by a git that died
    said: list[str] = []
    assert main_index.sync(git, old, new, said.append, patience=0.0) is True
    assert entries(lane) == tree(lane, new)
    assert len(said) == 1 and said[0].startswith(f"{lock} (0 bytes, ")
    assert not lock.exists()


def test_pending_file_damage_is_ignored(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    pending_file(git).parent.mkdir(parents=True, exist_ok=True)
    pending_file(git).write_text(f"garbage\n{old[:10]} {new}\n\n{'z' * 40} {new}\n--force HEAD\n{old} {new}\n")
    assert main_index.pending(git) == [(old, new)]
    assert main_index.complete(git) is True
    assert entries(lane) == tree(lane, new)                  # the one good line applied


def test_complete_true_means_nothing_is_left_pending_even_after_damage(lane: Lane, git: Git,
                                                                       moved: tuple[str, str]) -> None:
    old, new = moved
    pending_file(git).parent.mkdir(parents=True, exist_ok=True)
    pending_file(git).write_text(f"garbage\n{old} {new}\n")
    assert main_index.complete(git) is True
    assert main_index.pending(git) == []


def test_record_refuses_anything_but_object_ids(git: Git, lane: Lane, state_dir: None) -> None:
    head = lane.head()
    main_index.record(git, "HEAD", head)
    main_index.record(git, head, "--all")
    assert not pending_file(git).exists()
    main_index.record(git, head, head)
    assert main_index.pending(git) == [(head, head)]


def test_a_vanished_commit_is_nothing_to_bring_over(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, _ = moved
    before = (lane.path / ".git" / "index").read_bytes()
    assert main_index.sync(git, old, "f" * 40) is True       # no such commit: dropped, not retried
    assert (lane.path / ".git" / "index").read_bytes() == before
    assert main_index.pending(git) == []


def test_a_removed_git_index_stays_removed(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    old, new = moved
    (lane.path / ".git" / "index").unlink()
    assert main_index.sync(git, old, new) is True
    assert not (lane.path / ".git" / "index").exists()


def test_the_first_commit_on_an_unborn_branch(empty_lane: Lane, tmp_path: Path) -> None:
    repo = repo_at(empty_lane.path)
    git = Git(real_git(), repo, os.environ)
    os.makedirs(repo.state_dir(), exist_ok=True)
    empty_lane.write("f", "first\n")
    blob_id = empty_lane.plain("hash-object", "-w", "f").stdout.decode().strip()
    idx = str(tmp_path / "idx")
    empty_lane.plain("update-index", "--add", "--cacheinfo", f"100644,{blob_id},f", index=idx)
    t = empty_lane.plain("write-tree", index=idx).stdout.decode().strip()
    new = empty_lane.plain("commit-tree", t, "-m", "first").stdout.decode().strip()
    empty_lane.plain("update-ref", "HEAD", new)
    assert not (empty_lane.path / ".git" / "index").exists()
    assert main_index.sync(git, repo.empty_tree(), new) is True
    assert entries(empty_lane) == {"f": blob_id}


def test_an_intent_becomes_the_commit_found_on_head(lane: Lane, git: Git, moved: tuple[str, str]) -> None:
    """A shim killed after git's ref update leaves only its intent: complete()
    finds the commit whose first parent is the intent's old HEAD."""
    old, new = moved
    line = main_index.intend(git, old)
    assert main_index.pending(git) == [(old, None)]
    assert main_index.complete(git) is True
    assert entries(lane) == tree(lane, new)
    assert not pending_file(git).exists() and line == f"{old} -"


def test_an_intent_with_no_commit_goes_once_the_command_is_over(lane: Lane, git: Git, state_dir: None) -> None:
    head = lane.head()
    before = (lane.path / ".git" / "index").read_bytes()
    main_index.intend(git, head)                             # the commit failed: HEAD never moved
    assert main_index.complete(git) is True
    assert (lane.path / ".git" / "index").read_bytes() == before
    assert main_index.pending(git) == []


def test_settle_replaces_exactly_its_own_intent(lane: Lane, git: Git, tmp_path: Path,
                                                moved: tuple[str, str]) -> None:
    old, new = moved
    other = main_index.intend(git, "e" * 40)                 # another session's commit, under way
    mine = main_index.intend(git, old)
    lock = lane.path / ".git" / "index.lock"
    lock.write_bytes(b"")
    holder = live_git(lane)
    try:
        assert main_index.settle(git, mine, old, new, patience=0.0) is False
        assert main_index.pending(git) == [("e" * 40, None), (old, new)]
    finally:
        lock.unlink()
        holder.kill()
        holder.wait()
    assert other is not None
    assert main_index.complete(git) is True                  # the other's intent: no commit, lock free
    assert entries(lane) == tree(lane, new)


def test_stale_names_what_a_session_commit_replaced_and_repair_fixes_it(lane: Lane, git: Git,
                                                                       moved: tuple[str, str]) -> None:
    old, new = moved
    lane.write("b", "the person's b\n")
    lane.plain("add", "b")                                   # staged by the person: never listed
    found = main_index.stale(git, lambda c: "A" if c == new else None)
    assert sorted(found) == [b"a", b"c", b"d"]
    assert main_index.stale(git, lambda c: None) == {}       # a person's commit: not ours to fix
    assert main_index.repair(git, found) is True
    got = entries(lane)
    assert got["a"] == tree(lane, new)["a"] and got["c"] == tree(lane, new)["c"] and "d" not in got
    assert got["b"] == blob(lane, "the person's b\n")
