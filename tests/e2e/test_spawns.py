"""How many git processes one invocation starts. Every spawn costs 1-3 ms,
so these budgets fail on a regression (docs/DESIGN.md, "Performance budget")."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitlane.testing.lane import ROOT, Lane, real_git, shim_env
from gitlane.testing.processes import edit_tool


def _spawns(lane: Lane, tmp_path: Path, *args: str) -> list[str]:
    """Every git the shim starts for this command, its own calls and the
    user's command alike: GITLANE_REAL_GIT is a wrapper that logs, then
    execs the real git. (GIT_TRACE would not do: gitlane scrubs it from its
    own calls.) git's own children (hooks, maintenance) are not counted."""
    log = tmp_path / "spawned"
    wrapper = tmp_path / "git-logged"
    if not wrapper.exists():
        wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nexec '{real_git()}' \"$@\"\n")
        wrapper.chmod(0o755)
    log.unlink(missing_ok=True)
    lane.git(*args, session="s1", env={"GITLANE_REAL_GIT": str(wrapper)})
    return [_verb(line) for line in log.read_text().splitlines()]


def _verb(line: str) -> str:
    """`git <verb> ...` without gitlane's global options (-c, -C, --git-dir,
    --work-tree) in front."""
    words = line.split(" ")
    while words and (words[0].startswith(("--git-dir=", "--work-tree=")) or words[0] in ("-C", "-c")):
        words = words[2:] if words[0] in ("-C", "-c") else words[1:]
    return "git " + " ".join(words)


def _verbs(spawned: list[str]) -> list[str]:
    return [" ".join(s.split(" ")[:2]) for s in spawned]


def test_read_commands_exec_git_and_nothing_else(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")  # creates the session index
    for args in (("status", "--porcelain"), ("diff", "--cached"), ("log", "-1")):
        assert _spawns(lane, tmp_path, *args) == ["git " + " ".join(args)]


def test_add_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")
    lane.write("a.txt", "a\n")
    spawned = _spawns(lane, tmp_path, "add", "a.txt")
    # add itself and the staged set; alone, no snapshot ref (gc walks the
    # session index while it runs alone: docs/DESIGN.md, "Verified git facts")
    assert _verbs(spawned) == ["git add", "git diff-index"], spawned


def test_add_beside_a_peer_writes_the_snapshot(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")
    lane.write("a.txt", "a\n")
    lane.git("status", session="s2")                       # a live peer (this test process owns it)
    spawned = _spawns(lane, tmp_path, "add", "a.txt")
    # add itself, the staged set, and the snapshot ref (write-tree, hash-object)
    assert _verbs(spawned) == ["git add", "git diff-index", "git write-tree", "git hash-object"], spawned


def test_commit_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="s1")
    spawned = _spawns(lane, tmp_path, "commit", "-q", "-m", "a")
    # commit; did it land on the old HEAD (log -1: tree and parents, run.landing);
    # the paths it changed (one diff-tree serves claims and the
    # .git/index sync); the sync's compare (diff-index) and swap (update-index).
    # The staged set comes from the add's record, not from a diff-index.
    assert _verbs(spawned) == ["git commit", "git log", "git diff-tree", "git diff-index", "git update-index"], spawned


def test_commit_all_alone_predicts_nothing(lane: Lane, tmp_path: Path) -> None:
    """With no other session claiming or reserving anything, `commit -a`
    cannot sweep a peer's path: no predicting `add -u` on a copy."""
    lane.git("status", session="s1")
    lane.write("README", "changed\n")
    spawned = _spawns(lane, tmp_path, "commit", "-q", "-a", "-m", "a")
    assert _verbs(spawned) == ["git commit", "git log", "git diff-tree", "git diff-index", "git update-index"], spawned


def test_commit_all_beside_a_claiming_peer_still_predicts(lane: Lane, tmp_path: Path) -> None:
    lane.write("peer.txt", "p\n")
    lane.git("add", "peer.txt", session="s2")
    lane.git("status", session="s1")
    edit_tool(lane, "s1", "README", "changed\n")       # s1's own change (its edit tool)
    spawned = _spawns(lane, tmp_path, "commit", "-q", "-a", "-m", "a")
    assert "git add" in _verbs(spawned), spawned                     # the sweep replayed on a copy


def test_commit_after_a_peer_commit_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    """HEAD moved since our add: the rebase copies HEAD's entries without
    asking git what we stage (we know it), before and under the global lock."""
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="s1")
    lane.write("b.txt", "b\n")
    lane.git("add", "b.txt", session="s2")
    lane.git("commit", "-q", "-m", "b", session="s2")
    spawned = _spawns(lane, tmp_path, "commit", "-q", "-m", "a")
    # the rebase (diff-tree, update-index: the staged set is known); with a
    # peer live, what is not ours is hidden from the commit's hooks (status:
    # isolation.hide_during); then the commit as above
    assert _verbs(spawned) == ["git diff-tree", "git update-index", "git status",
                               "git commit", "git log", "git diff-tree", "git diff-index", "git update-index"], spawned


def test_lazy_rebase_spawn_budget(lane: Lane, tmp_path: Path) -> None:
    lane.git("status", session="s1")
    lane.write("b.txt", "b\n")
    lane.git("add", "b.txt", session="s2")
    lane.git("commit", "-q", "-m", "b", session="s2")
    spawned = _spawns(lane, tmp_path, "status", "--porcelain")
    # diff-tree, update-index, then status itself: a new index stages nothing,
    # so no overlap check
    assert _verbs(spawned) == ["git diff-tree", "git update-index", "git status"], spawned


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
