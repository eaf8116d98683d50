"""How many git processes one invocation starts. Every spawn costs 1-3 ms,
so these budgets fail on a regression (docs/DESIGN.md, "Performance budget")."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitlane.testing.lane import ROOT, Lane, real_git, shim_env


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


# --- what a new session costs its peers and itself ----------------------------

def _generation(lane: Lane) -> str:
    return (lane.path / ".git/gitlane/generation").read_text().strip()


def test_a_new_session_without_claims_leaves_peers_in_step(lane: Lane) -> None:
    """Registering bumps the generation only when the session has claims to
    revive: otherwise every new agent would knock every peer off the fast path."""
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="s1")
    before = _generation(lane)
    lane.git("status", session="s2")
    lane.git("status", session="s3")
    assert _generation(lane) == before
    assert "s2" in lane.out("lane", "sessions", session="s1")


def test_a_new_session_index_is_linked_then_never_written_through(lane: Lane) -> None:
    """Linked, not copied (3 MB at 30k files); git's lock-and-rename writes
    then give each name its own file."""
    shared = lane.path / ".git" / "index"
    before = shared.read_bytes()
    lane.git("status", session="s1")
    lane.write("README", "changed\n")
    lane.git("add", "README", session="s1")
    assert shared.read_bytes() == before
    assert lane.session_index("s1").stat().st_ino != shared.stat().st_ino


def test_new_session_path_imports_neither_psutil_nor_hashlib(lane: Lane) -> None:
    """psutil costs ~16 ms and hashlib ~2.3 ms to import: a new session with
    GITLANE_SESSION_PID set needs neither."""
    code = ("import sys, runpy; sys.argv = ['git', sys.argv[1], 'status'];"
            "import gitlane.run.dispatch as s\n"
            "try:\n    s.main()\nexcept BaseException:\n    pass\n")
    probe = ("import atexit, sys, os\n"
             "real_exec = os.execve\n"
             "def fake(path, argv, env):\n"
             "    print(sorted(m for m in ('psutil', 'hashlib') if m in sys.modules)); sys.stdout.flush(); os._exit(0)\n"
             "os.execve = fake\n" + code)
    env = shim_env("s1")
    res = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); " + probe,
                          str(ROOT / "src"), real_git()],
                         cwd=lane.path, env=env, capture_output=True)
    assert res.stdout.strip() == b"[]", res.stderr.decode()
    assert lane.session_index("s1").exists()
