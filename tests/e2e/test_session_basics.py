"""Sessions, the basics: a private index per session, built without a rehash,
seen by hooks, in linked worktrees, submodules and unborn branches; bad
session names refused; a GIT_INDEX_FILE from the caller always wins."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git, shim_env


def _porcelain(res: subprocess.CompletedProcess) -> list[str]:
    return res.stdout.decode().splitlines()


def _index_bytes(lane: Lane) -> bytes:
    return (lane.path / ".git" / "index").read_bytes()


# --- private staging ---------------------------------------------------------

def test_staging_in_s1_is_invisible_to_s2_and_git_index(lane: Lane) -> None:
    lane.write("gone", "to be removed\n")
    lane.plain("add", "gone")
    lane.plain("commit", "-q", "-m", "gone")
    before = _index_bytes(lane)
    lane.write("README", "hello again\n")
    lane.write("new", "new\n")
    lane.git("add", "README", "new", session="s1")
    lane.git("rm", "-q", "--cached", "gone", session="s1")

    s1 = lane.git("diff", "--cached", "--name-status", session="s1").stdout
    assert s1 == b"M\tREADME\nD\tgone\nA\tnew\n"
    assert lane.git("diff", "--cached", "--name-status", session="s2").stdout == b""
    s2 = _porcelain(lane.git("status", "--porcelain", session="s2"))
    # s1's claimed new file is hidden from s2 by its per-session excludes (docs/DESIGN.md, "View isolation")
    assert "?? new" not in s2 and [line for line in s2 if line[0] not in " ?"] == []
    assert _porcelain(lane.git("status", "--porcelain", session="s1")) == [
        "M  README", "D  gone", "A  new", "?? gone"]
    assert _index_bytes(lane) == before
    assert lane.plain("diff", "--cached", "--name-only").stdout == b""
    assert _porcelain(lane.git("status", "--porcelain")) == [" M README", "?? new"]


def test_peer_commit_is_not_shown_reversed(lane: Lane) -> None:
    lane.write("old", "old\n")
    lane.plain("add", "old")
    lane.plain("commit", "-q", "-m", "old")
    base = lane.head()
    assert lane.git("status", "--porcelain", session="s2").stdout == b""  # s2's index is on base
    lane.write("README", "changed by s1\n")
    lane.write("new", "new from s1\n")
    lane.git("add", "README", "new", session="s1")
    lane.git("rm", "-q", "old", session="s1")
    lane.git("commit", "-q", "-m", "s1 work", session="s1")

    assert lane.plain("rev-parse", "HEAD~1").stdout.decode().strip() == base
    for args in (["status", "--porcelain"], ["diff", "--cached", "--name-status"],
                 ["diff", "--name-status"]):
        assert lane.git(*args, session="s2").stdout == b"", args
    # and s2's next commit carries only its own change
    lane.write("mine", "s2\n")
    lane.git("add", "mine", session="s2")
    lane.git("commit", "-q", "-m", "s2 work", session="s2")
    assert lane.commit_files("HEAD") == {"mine"}
    assert lane.tree_files() == {"README": "changed by s1\n", "new": "new from s1\n", "mine": "s2\n"}


def test_git_index_follows_session_commits(lane: Lane) -> None:
    """Without a session, `git status` after a session's commit shows nothing
    staged in reverse (docs/DESIGN.md, "Hazards": .git/index is brought up to date)."""
    lane.write("README", "changed\n")
    lane.write("new", "new\n")
    lane.git("add", "README", "new", session="s1")
    lane.git("commit", "-q", "-m", "s1", session="s1")
    assert lane.plain("status", "--porcelain").stdout == b""


def test_session_index_lives_in_the_state_folder(lane: Lane) -> None:
    lane.git("status", session="s1")
    sdir = lane.path / ".git" / "gitlane" / "sessions" / "s1"
    assert (sdir / "index").is_file()
    assert (sdir / "base").read_text().strip() == lane.head()
    entries = lane.plain("ls-files", "-s", index=str(sdir / "index")).stdout
    assert entries == lane.plain("ls-files", "-s").stdout


# --- no rehash on a new session ----------------------------------------------

_PAST = 1_000_000_000  # 2001: far older than any index written by the test


def _stat_trick_repo(lane: Lane, names: list[str]) -> None:
    """Files with an old mtime, committed; git compares only mtime seconds
    and size, so a same-size rewrite with the mtime put back is invisible to
    a valid stat cache and seen only by rehashing."""
    lane.plain("config", "core.trustctime", "false")
    lane.plain("config", "core.checkStat", "minimal")
    for name in names:
        lane.write(name, "aaaa\n")
        os.utime(lane.path / name, (_PAST, _PAST))
    lane.plain("add", *names)
    lane.plain("commit", "-q", "-m", "files")


def _rewrite_same_stat(lane: Lane, name: str) -> None:
    lane.write(name, "bbbb\n")
    os.utime(lane.path / name, (_PAST, _PAST))


def test_new_session_keeps_the_stat_cache(lane: Lane, tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(20)]
    _stat_trick_repo(lane, names)
    _rewrite_same_stat(lane, "f7")
    # the trick works: git's own index hides the rewrite ...
    assert lane.plain("--no-optional-locks", "status", "--porcelain").stdout == b""
    # ... and an index rebuilt from HEAD without stat data rehashes and sees it
    fresh = str(tmp_path / "fresh-index")
    lane.plain("read-tree", "HEAD", index=fresh)
    assert lane.plain("--no-optional-locks", "status", "--porcelain", index=fresh).stdout == b" M f7\n"
    # a new session starts from the stat cache: no rehash, so nothing is seen
    assert lane.git("ls-files", "--debug", session="s1").stdout == lane.plain("ls-files", "--debug").stdout
    assert lane.git("status", "--porcelain", session="s2").stdout == b""


def test_new_session_does_not_hide_a_racy_change(lane: Lane) -> None:
    """An entry as new as the index is 'racy' and git rehashes it. The copy
    must keep the index mtime, or the change would be hidden (docs/DESIGN.md, "Session index")."""
    _stat_trick_repo(lane, ["f"])
    os.utime(lane.path / ".git" / "index", (_PAST, _PAST))
    _rewrite_same_stat(lane, "f")
    assert lane.plain("--no-optional-locks", "status", "--porcelain").stdout == b" M f\n"
    assert lane.git("status", "--porcelain", session="s1").stdout == b" M f\n"
    assert lane.git("diff", "--name-only", session="s2").stdout == b"f\n"


# --- hooks -------------------------------------------------------------------

def _hook(repo: Path, name: str, body: str) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / name).write_text("#!/bin/sh\n" + body)
    (hooks / name).chmod(0o755)


def test_hooks_see_the_session_index(lane: Lane, tmp_path: Path) -> None:
    out = tmp_path / "hook"
    _hook(lane.path, "pre-commit",
          f'echo "$GIT_INDEX_FILE" > "{out}.index"\ngit diff --cached --name-only > "{out}.staged"\n')
    lane.write("a", "a\n")
    lane.write("b", "b\n")
    lane.git("add", "a", session="s1")
    lane.git("add", "b", session="s2")
    lane.git("commit", "-q", "-m", "a", session="s1")
    seen = Path(f"{out}.index").read_text().strip()
    assert seen in (str(lane.session_index("s1")), f"{lane.session_index('s1')}.lock")
    assert Path(f"{out}.staged").read_text() == "a\n"
    assert lane.commit_files("HEAD") == {"a"}
    assert lane.staged("s2") == {"b"}


_LOCK_PROBE = """
import fcntl, os, sys
def free(name, how):
    fd = os.open(name, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
        return "free"
    except OSError:
        return "held"
print(free(sys.argv[1], fcntl.LOCK_EX), free(sys.argv[2], fcntl.LOCK_SH), sys.argv[3])
"""


@pytest.mark.parametrize("argv", [["commit", "--help"], ["add", "--help"], ["help", "commit"],
                                  ["--help", "commit"]])
def test_manual_is_shown_without_holding_locks(argv: list[str], lane: Lane, tmp_path: Path) -> None:
    """`git CMD --help` is `git help CMD`: a read. A manual left open must not
    hold the global lock, nor the session's lock exclusively (a reader may
    hold it shared)."""
    probe = tmp_path / "probe.py"
    probe.write_text(_LOCK_PROBE)
    state = lane.path / ".git" / "gitlane"
    lane.git("status", session="s1")
    viewer = f"{sys.executable} {probe} {state / 'global.lock'} {state / 'sessions' / 's1' / 'lock'}"
    res = lane.git("-c", "help.format=man", "-c", "man.viewer=probe", "-c", f"man.probe.cmd={viewer}",
                   *argv, session="s1")
    page = "git-" + [a for a in argv if not a.startswith("-") and a != "help"][0]
    assert res.stdout.decode() == f"free free {page}\n"


# --- linked worktrees and submodules -------------------------------------------

def test_linked_worktree_in_a_session(lane: Lane, tmp_path: Path) -> None:
    wt = Lane(tmp_path / "wt")
    lane.plain("worktree", "add", "-q", str(wt.path), "-b", "wtb")
    shared = (lane.path / ".git" / "worktrees" / "wt" / "index").read_bytes()
    wt.write("w", "in the worktree\n")
    wt.git("add", "w", session="s1")
    assert wt.staged("s1") == {"w"}
    assert wt.staged("s2") == set()
    assert lane.staged("s1") == set()  # same name, other worktree: another index
    assert (lane.path / ".git" / "gitlane" / "worktrees" / "wt" / "sessions" / "s1" / "index").is_file()
    assert (lane.path / ".git" / "worktrees" / "wt" / "index").read_bytes() == shared
    main = lane.head()
    wt.git("commit", "-q", "-m", "w", session="s1")
    assert wt.commit_files("HEAD") == {"w"}
    assert lane.plain("rev-parse", "wtb~1").stdout.decode().strip() == main
    assert lane.head() == main
    assert wt.git("status", "--porcelain", session="s2").stdout == b""


def test_worktree_of_a_bare_repository_in_a_session(lane: Lane, tmp_path: Path) -> None:
    """`clone --bare` + `worktree add`, a common layout for agents: core.bare
    in the common config does not make a linked worktree bare."""
    bare = tmp_path / "bare.git"
    lane.plain("clone", "-q", "--bare", str(lane.path), str(bare))
    wt = Lane(tmp_path / "bwt")
    subprocess.run([real_git(), "-C", str(bare), "worktree", "add", "-q", str(wt.path), "-b", "agent"],
                   check=True, env=shim_env(None))
    wt.write("x", "x\n")
    wt.git("add", "x", session="s1")
    assert wt.staged("s1") == {"x"}
    assert wt.plain("diff", "--cached", "--name-only").stdout == b""
    wt.git("commit", "-q", "-m", "x", session="s1")
    assert wt.commit_files("HEAD") == {"x"}
    assert wt.plain("status", "--porcelain").stdout == b""


@pytest.fixture
def with_submodule(lane: Lane, tmp_path: Path) -> Lane:
    src = Lane(tmp_path / "src")
    src.path.mkdir()
    src.plain("init", "-q")
    src.write("s", "sub\n")
    src.plain("add", "s")
    src.plain("commit", "-q", "-m", "sub")
    lane.plain("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(src.path), "sub")
    lane.plain("commit", "-q", "-m", "add sub")
    return Lane(lane.path / "sub")


def test_submodule_in_a_session(lane: Lane, with_submodule: Lane) -> None:
    sub = with_submodule
    own = (lane.path / ".git" / "modules" / "sub" / "index").read_bytes()
    sub.write("t", "t\n")
    sub.git("add", "t", session="s1")
    assert sub.staged("s1") == {"t"}
    assert sub.staged("s2") == set()
    assert lane.staged("s1") == set()
    assert lane.git("-C", "sub", "diff", "--cached", "--name-only", session="s1").stdout == b"t\n"
    assert (lane.path / ".git" / "modules" / "sub" / "index").read_bytes() == own
    assert (lane.path / ".git" / "modules" / "sub" / "gitlane" / "sessions" / "s1" / "index").is_file()
    sub.git("commit", "-q", "-m", "t", session="s1")
    assert sub.commit_files("HEAD") == {"t"}
    assert lane.plain("status", "--porcelain").stdout == b" M sub\n"
    assert lane.git("status", "--porcelain", session="s1").stdout == b" M sub\n"


def test_superproject_status_in_a_session_recurses(lane: Lane, with_submodule: Lane) -> None:
    with_submodule.write("s", "edited\n")
    plain = lane.plain("status", "--porcelain=v2").stdout
    assert lane.git("status", "--porcelain=v2", session="s1").stdout == plain
    assert b" .M S.M. " in plain


# --- unborn branches -------------------------------------------------------------

def test_first_commit_on_an_unborn_branch(empty_lane: Lane) -> None:
    lane = empty_lane
    lane.write("a", "a\n")
    lane.write("b", "b\n")
    assert _porcelain(lane.git("status", "--porcelain", session="s1")) == ["?? a", "?? b"]
    lane.git("add", "a", session="s1")
    assert lane.staged("s1") == {"a"}
    assert lane.staged("s2") == set()
    assert (lane.path / ".git" / "gitlane" / "sessions" / "s1" / "base").read_text().strip() \
        == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    lane.git("commit", "-q", "-m", "first", session="s1")
    assert lane.tree_files() == {"a": "a\n"}
    assert lane.plain("rev-list", "--count", "HEAD").stdout == b"1\n"
    assert _porcelain(lane.git("status", "--porcelain", session="s2")) == ["?? b"]
    lane.git("add", "b", session="s2")
    lane.git("commit", "-q", "-m", "second", session="s2")
    assert lane.commit_files("HEAD") == {"b"}
    assert lane.tree_files() == {"a": "a\n", "b": "b\n"}


def test_git_index_after_first_commit_on_an_unborn_branch(empty_lane: Lane) -> None:
    lane = empty_lane
    lane.write("a", "a\n")
    lane.git("add", "a", session="s1")
    lane.git("commit", "-q", "-m", "first", session="s1")
    assert lane.plain("status", "--porcelain").stdout == b""


# --- session names ----------------------------------------------------------------

BAD_NAMES = ["a/b", "..", ".", ".hidden", "-x", "../../etc", "a b", "a\x01b", "a\nb", "tab\there",
             "x" * 10_000, "x" * 129, "caf\u00e9", "a:b", "a\\b", "*"]


def _refused(lane: Lane, variable: str, name: str, argv: list[str]) -> None:
    env = shim_env(None)
    env[variable] = name
    res = subprocess.run([str(SHIM / "git"), *argv], cwd=lane.path, env=env, capture_output=True)
    assert res.returncode != 0, argv
    assert res.stdout == b""
    assert res.stderr.startswith(b"gitlane: invalid session name"), res.stderr
    assert len(res.stderr) < 1000


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n[:12]) for n in BAD_NAMES])
@pytest.mark.parametrize("variable", ["GITLANE_SESSION", "CLAUDE_CODE_SESSION_ID"])
def test_invalid_session_name_is_refused(name: str, variable: str, lane: Lane) -> None:
    lane.write("f", "f\n")
    _refused(lane, variable, name, ["add", "f"])
    assert not (lane.path / ".git" / "gitlane").exists()
    assert lane.plain("status", "--porcelain").stdout == b"?? f\n"


@pytest.mark.parametrize("argv", [["status"], ["commit", "--allow-empty", "-m", "x"], ["version"],
                                  ["-C", "/", "status"], ["frobnicate"]])
def test_invalid_session_name_is_refused_for_any_command(argv: list[str], lane: Lane) -> None:
    _refused(lane, "GITLANE_SESSION", "../escape", argv)
    assert not (lane.path / ".git" / "gitlane").exists()
    assert not (lane.path.parent / "escape").exists()
    assert lane.plain("rev-list", "--count", "HEAD").stdout == b"1\n"


def test_valid_session_names(lane: Lane) -> None:
    for i, name in enumerate(("a.b", "x@host+2", "A_b-c", "x" * 128, "9")):
        lane.write(f"f{i}", "f\n")
        lane.git("add", f"f{i}", session=name)
        assert lane.staged(name) == {f"f{i}"}, name
        assert lane.session_index(name).is_file()


def test_empty_session_variable_means_no_session(lane: Lane) -> None:
    lane.write("f", "f\n")
    lane.git("add", "f", env={"GITLANE_SESSION": "", "CLAUDE_CODE_SESSION_ID": ""})
    assert lane.plain("diff", "--cached", "--name-only").stdout == b"f\n"
    assert not (lane.path / ".git" / "gitlane").exists()


def test_claude_code_session_id_is_a_session(lane: Lane) -> None:
    lane.write("f", "f\n")
    lane.git("add", "f", env={"CLAUDE_CODE_SESSION_ID": "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"})
    assert lane.plain("diff", "--cached", "--name-only").stdout == b""
    assert lane.staged("0b1c2d3e-aaaa-bbbb-cccc-0123456789ab") == {"f"}


def test_gitlane_session_wins_over_claude_code(lane: Lane) -> None:
    lane.write("f", "f\n")
    lane.git("add", "f", session="mine", env={"CLAUDE_CODE_SESSION_ID": "claude"})
    assert lane.staged("mine") == {"f"}
    assert not (lane.path / ".git" / "gitlane" / "sessions" / "claude").exists()


def test_gitlane_disable_passes_through(lane: Lane) -> None:
    lane.write("f", "f\n")
    lane.git("add", "f", session="s1", env={"GITLANE_DISABLE": "1"})
    assert lane.plain("diff", "--cached", "--name-only").stdout == b"f\n"
    assert not (lane.path / ".git" / "gitlane").exists()


# --- GIT_INDEX_FILE from the caller ------------------------------------------------

def test_preset_git_index_file_is_never_overridden(lane: Lane, tmp_path: Path) -> None:
    custom = tmp_path / "custom-index"
    before = _index_bytes(lane)
    lane.write("f", "f\n")
    env = {"GIT_INDEX_FILE": str(custom)}
    lane.git("add", "f", session="s1", env=env)
    assert lane.plain("ls-files", index=str(custom)).stdout == b"f\n"  # only f: it started empty
    assert lane.git("diff", "--cached", "--name-only", "HEAD", session="s1", env=env).stdout \
        == b"README\nf\n"
    lane.git("commit", "-q", "-m", "from the custom index", session="s1", env=env)
    assert lane.tree_files() == {"f": "f\n"}
    assert _index_bytes(lane) == before
    assert not (lane.path / ".git" / "gitlane").exists()


def test_preset_relative_git_index_file(lane: Lane) -> None:
    """git resolves a relative GIT_INDEX_FILE itself; the shim must not touch it."""
    lane.write("f", "f\n")
    lane.git("add", "f", session="s1", env={"GIT_INDEX_FILE": ".git/other-index"})
    assert lane.plain("ls-files", index=str(lane.path / ".git" / "other-index")).stdout == b"f\n"
    assert not (lane.path / ".git" / "gitlane").exists()
