"""The posix-only fast path for in-step reads (docs/DESIGN.md, "Flows").

It may decline anything (the full path then decides), but when it takes a
command it must do exactly what the full path would: same git environment,
session lock held shared, nothing left to rebase or sync. These tests build
real states with real git and compare the fast plan with what the full path
execs, captured in-process at proc.exec_ (the one place that execs git).
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from gitlane import fastpath, layout
from gitlane.git import args as gitargs
from gitlane.git import proc
from gitlane.run import classify as commands
from gitlane.run import dispatch as shim
from gitlane.shared import locks
from gitlane.testing.lane import ROOT, Lane, real_git


class Exec(Exception):
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env


def _env(session: str | None = "s1", **extra: str) -> dict[bytes, bytes]:
    env = {k: v for k, v in os.environb.items() if not k.startswith((b"GITLANE_", b"CLAUDE_CODE_", b"GIT_"))}
    if session is not None:
        env[b"GITLANE_SESSION"] = session.encode()
        env[b"GITLANE_SESSION_PID"] = str(os.getpid()).encode()
    env.update({k.encode(): v.encode() for k, v in extra.items()})
    return env


def _fast(lane: Lane, *argv: str, cwd: Path | None = None, **extra: str) -> dict[bytes, bytes] | None:
    plan = fastpath.read_plan(list(argv), _env(**extra), str(cwd or lane.path))
    if plan is None:
        return None
    env, fd = plan
    os.close(fd)
    return env


def _full(lane: Lane, monkeypatch: pytest.MonkeyPatch, *argv: str, **extra: str) -> dict[bytes, bytes]:
    """What the full path execs for this read, run in-process."""
    def capture(argv: list[str], env: dict[str, str], pass_fds: object = ()) -> None:
        raise Exec(list(argv), dict(env))
    monkeypatch.setattr(proc, "exec_", capture)
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith(("GITLANE_", "CLAUDE_CODE_", "GIT_"))]:
            m.delenv(key)
        for k, v in _env(**extra).items():
            m.setenv(k.decode(), v.decode())
        m.chdir(lane.path)
        with pytest.raises(Exec) as caught:
            shim.dispatch(real_git(), list(argv))
    assert caught.value.argv == [real_git(), *argv]
    return {k.encode(): v.encode() for k, v in caught.value.env.items()}


@pytest.fixture
def ready(lane: Lane) -> Lane:
    """A session whose index is on HEAD, verified and isolation-synced."""
    lane.write("mine.txt", "m\n")
    settle(lane)
    lane.git("add", "mine.txt", session="s1")
    lane.git("status", session="s1")  # refreshes the stat cache: a new index version
    lane.git("status", session="s1")  # checksums that version
    return lane


def settle(lane: Lane) -> None:
    """Files an hour old: otherwise git sees them as racily clean and every
    `status` rewrites the index, a new version the fast path must decline
    until the full path has checksummed it."""
    old = time.time_ns() - 3600 * 10**9
    for p in lane.path.rglob("*"):
        if ".git" not in p.parts:
            os.utime(p, ns=(old, old))


@pytest.mark.parametrize("argv", [("status", "--porcelain"), ("diff", "--cached"), ("log", "-1")])
def test_in_step_read_matches_the_full_path(ready: Lane, monkeypatch: pytest.MonkeyPatch,
                                            argv: tuple[str, ...]) -> None:
    fast = _fast(ready, *argv)
    assert fast is not None, "an in-step read must take the fast path"
    assert fast == _full(ready, monkeypatch, *argv)
    assert fast[b"GIT_INDEX_FILE"] == bytes(ready.session_index("s1"))
    assert (b"GIT_OPTIONAL_LOCKS" in fast) == (argv[0] != "status")


def test_excludes_file_is_passed_like_the_full_path(ready: Lane, monkeypatch: pytest.MonkeyPatch,
                                                    owner_proc) -> None:
    peer = owner_proc()
    ready.write("theirs.txt", "t\n")
    ready.git("add", "theirs.txt", session="s2", pid=peer.pid)  # untracked here: excluded, not skip-worktree
    ready.git("status", session="s1")
    fast = _fast(ready, "status")
    assert fast is not None and fast[b"GIT_CONFIG_KEY_0"] == b"core.excludesFile"
    assert fast == _full(ready, monkeypatch, "status")
    assert "theirs.txt" not in ready.out("status", "--porcelain", "-uall", session="s1")


def test_packed_and_detached_heads_are_read(ready: Lane, monkeypatch: pytest.MonkeyPatch) -> None:
    ready.plain("pack-refs", "--all", "--prune")
    assert not [p for p in (ready.path / ".git/refs/heads").rglob("*") if p.is_file()]
    assert _fast(ready, "status") == _full(ready, monkeypatch, "status")
    ready.plain("checkout", "-q", "--detach")
    ready.git("status", session="s1")
    assert _fast(ready, "status") is not None


def test_declines_when_head_moved(ready: Lane) -> None:
    ready.write("other.txt", "o\n")
    ready.git("add", "other.txt", session="s2")
    ready.git("commit", "-q", "-m", "other", session="s2")
    assert _fast(ready, "status") is None
    # ...and the full path then rebases: s1 still has only its own change staged.
    assert ready.staged("s1") == {"mine.txt"}
    assert _fast(ready, "status") is not None


def test_declines_when_claims_changed_or_an_owner_died(ready: Lane, owner_proc) -> None:
    peer = owner_proc()
    ready.write("p.txt", "p\n")
    ready.git("add", "p.txt", session="s2", pid=peer.pid)  # bumps the generation
    assert _fast(ready, "status") is None
    ready.git("status", session="s1")
    assert _fast(ready, "status") is not None
    peer.kill()
    peer.wait()
    assert _fast(ready, "status") is None, "a dead owner's paths must be shown again by the full path"


def test_declines_an_index_not_yet_verified(ready: Lane) -> None:
    index = ready.session_index("s1")
    os.utime(index, ns=(0, index.stat().st_mtime_ns + 1))
    assert _fast(ready, "status") is None
    ready.git("status", session="s1")
    assert _fast(ready, "status") is not None


def test_declines_while_the_session_lock_is_held(ready: Lane) -> None:
    lock = ready.session_index("s1").parent / "lock"
    with locks.acquire(str(lock), "test", "s1's lock", lambda: 1.0):
        assert _fast(ready, "status") is None
    with locks.acquire(str(lock), "", "s1's lock", lambda: 1.0, shared=True):
        assert _fast(ready, "status") is not None, "readers share the lock"


@pytest.mark.parametrize("case", ["no-session", "bad-name", "GIT_DIR", "GIT_INDEX_FILE", "GIT_CONFIG_COUNT",
                                  "not-a-read", "option-first", "no-index-yet", "bare", "inside-git-dir"])
def test_declines_what_it_does_not_know(ready: Lane, case: str) -> None:
    argv, extra, cwd = ["status"], {}, ready.path
    if case == "no-session":
        assert fastpath.read_plan(argv, _env(None), str(cwd)) is None
        return
    if case == "bad-name":
        assert fastpath.read_plan(argv, _env("../x"), str(cwd)) is None
        return
    if case in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_CONFIG_COUNT"):
        extra = {case: "1" if case == "GIT_CONFIG_COUNT" else str(ready.path / ".git")}
    elif case == "not-a-read":
        argv = ["add", "mine.txt"]
    elif case == "option-first":
        argv = ["-C", ".", "status"]
    elif case == "no-index-yet":
        assert _fast(ready, "status", session="s9") is None
        return
    elif case == "bare":
        ready.plain("config", "core.bare", "true")
    elif case == "inside-git-dir":
        cwd = ready.path / ".git" / "refs"
    assert _fast(ready, *argv, cwd=cwd, **extra) is None


def test_gitfile_and_linked_worktree_fall_back(ready: Lane, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    ready.plain("worktree", "add", "-q", str(wt))
    assert fastpath.find_git_dir(str(wt)) is None
    assert fastpath.find_git_dir(str(ready.path / "sub" / "dir")) == str(ready.path / ".git")


def test_every_fast_read_is_a_builtin_read_whatever_its_arguments() -> None:
    assert layout.READ_COMMANDS <= gitargs.BUILTINS
    for command in layout.READ_COMMANDS:
        for args in ([], ["--hard"], ["-d", "x"], ["--", "."]):
            assert commands.classify(command, args, lambda p: True) == commands.READ


def test_children_get_default_sigpipe(ready: Lane, tmp_path: Path) -> None:
    """Python ignores SIGPIPE; an ignored signal survives exec. `yes | head`
    in an external diff tool would then print 'Broken pipe'."""
    tool = tmp_path / "difftool.sh"
    tool.write_text("#!/bin/sh\nyes | head -n 1 >/dev/null\necho tool-ran\n")
    tool.chmod(0o755)
    ready.write("mine.txt", "changed\n")
    for argv in (("diff",), ("-c", "x.y=1", "diff")):  # the fast path, then the full path
        res = ready.git(*argv, session="s1", env={"GIT_EXTERNAL_DIFF": str(tool)})
        assert b"tool-ran" in res.stdout
        assert b"Broken pipe" not in res.stderr, res.stderr


def test_prompt_fast_line_matches_the_full_prompt(ready: Lane) -> None:
    env = {k.decode(): v.decode() for k, v in _env().items()}
    full = subprocess.run([str(ROOT / ".venv/bin/python"), "-c",
                           "import sys; from gitlane.cli import prompt; sys.exit(prompt.fast(sys.argv[1:]))",
                           "--format", "<{session}{marker}>"],
                          cwd=ready.path, env=env, capture_output=True, check=True)
    fast = subprocess.run([str(ROOT / "shim/gitlane"), "prompt",
                           "--format", "<{session}{marker}>"],
                          cwd=ready.path, env=env, capture_output=True, check=True)
    assert fast.stdout == full.stdout == b"<s1*>\n"


def test_fast_path_imports_no_os(ready: Lane) -> None:
    """`os` alone costs ~1.1 ms under -I -S: the fast path must not import it."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import posix; from gitlane import fastpath; "
            "p = fastpath.read_plan(['status'], posix.environ, posix.getcwd()); "
            "print(p is not None, 'os' in sys.modules, '__future__' in sys.modules)")
    env = {k.decode(): v.decode() for k, v in _env().items()}
    py = ROOT / ".venv/bin/python"
    res = subprocess.run([str(py), "-I", "-S", "-c", code, str(Path(fastpath.__file__).parent.parent)],
                         cwd=ready.path, env=env, capture_output=True, check=True)
    assert res.stdout.split() == [b"True", b"False", b"False"]


def test_reads_right_after_add_and_commit_take_the_fast_path(ready: Lane) -> None:
    """Write paths stamp the index version git just wrote under our lock, so
    an agent's add → status → commit → status loop never hashes the index."""
    ready.write("mine.txt", "again\n")
    settle(ready)
    ready.git("add", "mine.txt", session="s1")
    assert _fast(ready, "status") is not None
    ready.git("commit", "-q", "-m", "mine", session="s1")
    assert _fast(ready, "status") is not None


def test_a_damaged_index_is_still_caught_after_a_stamp(ready: Lane) -> None:
    index = ready.session_index("s1")
    data = bytearray(index.read_bytes())
    data[-1] ^= 0xFF  # the checksum trailer
    index.write_bytes(bytes(data))
    assert _fast(ready, "status") is None
    res = ready.git("status", "--porcelain", session="s1")
    assert b"its index was corrupt" in res.stderr


def test_own_bump_never_skips_a_peers_claim(ready: Lane, owner_proc) -> None:
    """s1's stamp is carried past its own bump only if it was current: a peer's
    claim made in between must still reach s1's view."""
    peer = owner_proc()
    ready.write("README", "peer's edit\n")
    ready.git("add", "README", session="s2", pid=peer.pid)  # bumps; s1 not yet synced
    ready.write("mine.txt", "more\n")
    ready.git("add", "mine.txt", session="s1")              # bumps again
    out = ready.out("status", "--porcelain", session="s1")
    assert "README" not in out and "mine.txt" in out


# --- a session's own HEAD (issue 17) ------------------------------------------------

@pytest.fixture
def branched(ready: Lane, owner_proc) -> Lane:
    """s1 on its own branch (a private git dir) while a peer is live."""
    peer = owner_proc()
    ready.git("status", session="s2", pid=peer.pid)
    ready.git("checkout", "-q", "-b", "feat", session="s1")
    ready.git("status", session="s1")
    ready.git("status", session="s1")
    return ready


def test_a_private_head_is_read_and_passed_like_the_full_path(branched: Lane, monkeypatch: pytest.MonkeyPatch) -> None:
    gitdir = branched.path / ".git" / "gitlane" / "sessions" / "s1" / "gitdir"
    assert (gitdir / "HEAD").read_text() == "ref: refs/heads/feat\n"
    fast = _fast(branched, "status")
    assert fast is not None, "an in-step read on a private HEAD must take the fast path"
    assert fast == _full(branched, monkeypatch, "status")
    assert fast[b"GIT_DIR"] == bytes(gitdir) and fast[b"GIT_WORK_TREE"] == bytes(branched.path)
    sub = branched.path / "sub"
    sub.mkdir()
    assert _fast(branched, "status", cwd=sub) == fast
    # a session without its own HEAD gets neither variable
    branched.git("status", session="s3")
    branched.git("status", session="s3")
    plain = fastpath.read_plan(["status"], _env("s3"), str(branched.path))
    assert plain is not None and b"GIT_DIR" not in plain[0]
    os.close(plain[1])


def test_declines_when_the_private_head_moved_or_a_switch_is_unfinished(branched: Lane) -> None:
    branched.write("f.txt", "f\n")
    branched.git("add", "f.txt", session="s1")
    branched.git("commit", "-q", "-m", "f", session="s1")
    assert _fast(branched, "status") is not None  # our own commit keeps us in step
    branched.plain("update-ref", "refs/heads/feat", "HEAD")  # someone else moved our branch
    assert _fast(branched, "status") is None
    branched.git("status", session="s1")
    assert _fast(branched, "status") is not None
    journal = branched.path / ".git" / "gitlane" / "sessions" / "s1" / layout.SWITCH
    journal.write_text("{}")
    assert _fast(branched, "status") is None
    journal.unlink()


def test_prompt_shows_the_sessions_branch(branched: Lane) -> None:
    env = {k.decode(): v.decode() for k, v in _env().items()}
    for cmd in ([str(ROOT / "shim/gitlane"), "prompt", "--format", "{session}@{branch}"],
                [str(ROOT / ".venv/bin/python"), "-c",
                 "import sys; from gitlane.cli import prompt; sys.exit(prompt.fast(sys.argv[1:]))",
                 "--format", "{session}@{branch}"]):
        res = subprocess.run(cmd, cwd=branched.path, env=env, capture_output=True, check=True)
        assert res.stdout == b"s1@feat\n"
    env2 = {**env, "GITLANE_SESSION": "s2"}
    res = subprocess.run([str(ROOT / "shim/gitlane"), "prompt", "--format", "{branch}"], cwd=branched.path,
                         env=env2, capture_output=True, check=True)
    assert res.stdout == b"main\n"
