"""How many git processes one invocation starts. Every spawn costs 1-3 ms,
so these budgets fail on a regression (issue 8)."""
from __future__ import annotations

from pathlib import Path

from lanetest import Lane


def _spawns(lane: Lane, tmp_path: Path, *args: str) -> list[str]:
    trace = tmp_path / "trace"
    trace.unlink(missing_ok=True)
    lane.git(*args, session="s1", env={"GIT_TRACE": str(trace)})
    return [line.split("built-in: ", 1)[1] for line in trace.read_text().splitlines() if "built-in: " in line]


def test_read_commands_exec_git_and_nothing_else(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")  # creates the session index
    for args in (("status", "--porcelain"), ("diff", "--cached"), ("log", "-1")):
        assert _spawns(lane, tmp_path, *args) == ["git " + " ".join(args)]


def test_add_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")
    lane.write("a.txt", "a\n")
    spawned = _spawns(lane, tmp_path, "add", "a.txt")
    # add itself, the staged set, and the snapshot ref (write-tree, hash-object)
    assert len(spawned) <= 4, spawned


def test_commit_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="s1")
    spawned = _spawns(lane, tmp_path, "commit", "-q", "-m", "a")
    # check, commit (+ git's own maintenance --auto), changed entries, .git/index sync
    assert len(spawned) <= 6, spawned


def test_lazy_rebase_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")
    lane.write("b.txt", "b\n")
    lane.git("add", "b.txt", session="s2")
    lane.git("commit", "-q", "-m", "b", session="s2")
    spawned = _spawns(lane, tmp_path, "status", "--porcelain")
    # diff-tree, the staged-overlap check, update-index, then status itself
    assert len(spawned) <= 4, spawned
