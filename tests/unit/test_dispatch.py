"""run.dispatch: the full path, in-process. The two ways out of the process
(proc.exec_ and proc.exit_like) are replaced by exceptions that carry what
would have happened; everything before them is real: the session, the
repository, the real git for staging and committing."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane.errors import Fatal
from gitlane.git import proc
from gitlane.run import dispatch
from gitlane.shared import locks
from gitlane.testing.lane import Lane, real_git


class Exec(Exception):
    def __init__(self, argv: list[str], env: dict[str, str], pass_fds: list[int]) -> None:
        self.argv, self.env, self.pass_fds = argv, env, pass_fds


class Exit(Exception):
    def __init__(self, status: int) -> None:
        self.code = os.waitstatus_to_exitcode(status)


@pytest.fixture
def run(lane: Lane, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    opened: list[int] = []

    def exec_(argv, env, pass_fds=()):  # type: ignore[no-untyped-def]
        opened.extend(pass_fds)
        raise Exec(list(argv), dict(env), list(pass_fds))

    def exit_like(status: int) -> None:
        raise Exit(status)
    monkeypatch.setattr(proc, "exec_", exec_)
    monkeypatch.setattr(proc, "exit_like", exit_like)
    monkeypatch.chdir(lane.path)

    def go(*argv: str, session: str | None = "s1", cwd: Path | None = None, **env: str) -> Exec | Exit:
        with monkeypatch.context() as m:
            m.delenv("GITLANE_SESSION", raising=False)
            if session is not None:
                m.setenv("GITLANE_SESSION", session)
                m.setenv("GITLANE_SESSION_PID", str(os.getpid()))
            for k, v in env.items():
                m.setenv(k, v)
            if cwd is not None:
                m.chdir(cwd)
            try:
                dispatch.dispatch(real_git(), list(argv))
            except (Exec, Exit) as out:
                return out
        raise AssertionError("dispatch neither exec'd nor exited")
    yield go
    for fd in opened:
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.parametrize("case", ["no-session", "query", "in-a-hook", "outside", "shell-alias"])
def test_what_passes_through_untouched(lane: Lane, run, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    lane.plain("config", "alias.sh", "!echo hi")
    argv, kw = {"no-session": (["status"], {"session": None}),
                "query": (["--exec-path"], {}),
                "in-a-hook": (["status"], {"GIT_INDEX_FILE": str(lane.path / ".git" / "index.lock")}),
                "outside": (["status"], {"cwd": tmp_path}),
                "shell-alias": (["sh"], {})}[case]
    out = run(*argv, **kw)
    assert isinstance(out, Exec) and out.argv == [real_git(), *argv] and out.pass_fds == []
    assert out.env.get("GIT_INDEX_FILE") == kw.get("GIT_INDEX_FILE")          # git's own index
    assert not (lane.path / ".git" / "gitlane" / "sessions" / "s1").exists()


def test_a_read_runs_on_the_session_index_holding_its_lock_shared(lane: Lane, run) -> None:  # type: ignore[no-untyped-def]
    out = run("log", "-1")
    sdir = lane.path / ".git" / "gitlane" / "sessions" / "s1"
    assert isinstance(out, Exec) and out.argv == [real_git(), "log", "-1"]
    assert out.env["GIT_INDEX_FILE"] == str(sdir / "index") and out.env["GIT_OPTIONAL_LOCKS"] == "0"
    (fd,) = out.pass_fds
    with pytest.raises(Fatal):                                  # a writer must wait for this reader
        locks.acquire(str(sdir / "lock"), "", "session s1's lock", lambda: 0.05)
    status = run("status")
    assert "GIT_OPTIONAL_LOCKS" not in status.env                # status may refresh the stat cache


def test_an_alias_is_classified_by_what_it_runs(lane: Lane, run) -> None:  # type: ignore[no-untyped-def]
    lane.plain("config", "alias.st", "status -s")
    out = run("st")
    assert isinstance(out, Exec) and out.argv == [real_git(), "st"]      # argv untouched: git expands it
    assert out.env["GIT_INDEX_FILE"].endswith("/sessions/s1/index")


def test_an_unknown_command_runs_with_the_session_index(lane: Lane, run) -> None:  # type: ignore[no-untyped-def]
    out = run("config", "x.y", "z")
    assert isinstance(out, Exec) and out.env["GIT_INDEX_FILE"].endswith("/sessions/s1/index")
    assert len(out.pass_fds) == 1


def test_an_invalid_session_name_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Fatal) as exc:
        run("status", session="../x")
    assert exc.value.code == 2


def test_add_then_commit_in_process(lane: Lane, run) -> None:  # type: ignore[no-untyped-def]
    lane.write("a.txt", "a\n")
    out = run("add", "a.txt")
    assert isinstance(out, Exit) and out.code == 0
    assert lane.staged("s1") == {"a.txt"}
    assert lane.plain("diff", "--cached", "--name-only").stdout == b""    # .git/index untouched
    out = run("commit", "-q", "-m", "a")
    assert isinstance(out, Exit) and out.code == 0
    assert lane.commit_files("HEAD") == {"a.txt"} and lane.staged("s1") == set()
    assert lane.plain("status", "--porcelain").stdout == b""              # .git/index followed HEAD


def test_a_peers_path_is_refused_by_the_staging_path(lane: Lane, run, owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="B", pid=p.pid)
    with pytest.raises(Fatal) as exc:
        run("add", "a.txt")
    assert exc.value.what.startswith("refusing to stage 1 path owned by another live session:\n"
                                     f"a.txt  staged by session B (pid {p.pid}, ")
    assert lane.staged("s1") == set()


@pytest.mark.parametrize("argv", [["ls-files", "-s"], ["hash-object", "-w", "README"]])
def test_a_git_of_the_same_session_never_waits_for_its_writer(lane: Lane, run, argv,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`git ls-files -s | git update-index --index-info`: the writer holds the
    session lock while it reads its stdin; its partner runs without the lock."""
    for fd in run("status").pass_fds:                            # the session exists
        os.close(fd)                                             # (its exec is simulated)
    sdir = lane.path / ".git" / "gitlane" / "sessions" / "s1"
    holder = locks.holder_line("s1", "git update-index --index-info")
    with locks.acquire(str(sdir / "lock"), holder, "session s1's lock", lambda: 0.05):
        out = run(*argv)
        assert isinstance(out, Exec) and out.argv == [real_git(), *argv] and out.pass_fds == []
        assert out.env["GIT_INDEX_FILE"] == str(sdir / "index")
    other = locks.holder_line("s2", "git update-index --index-info")
    with locks.acquire(str(sdir / "lock"), other, "session s1's lock", lambda: 0.05):
        monkeypatch.setenv("GITLANE_LOCK_TIMEOUT", "0.1")
        with pytest.raises(Fatal):                               # anyone else's writer: we wait
            run(*argv)
