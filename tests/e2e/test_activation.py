"""Issue 7: `gitlane activate` / `deactivate` in real shells, `gitlane prompt`,
and `git lane <cmd>`.

Each shell test runs a real `bash`, `sh` (and `zsh` or `fish` when installed)
in a temporary repository. `gitlane` is reached through a symlink in a
private bin directory, so the shim directory is not on PATH until activation
puts it there. The scripts print `key=value` lines that the tests parse.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, shim_env

POSIX_SHELLS = [
    pytest.param("bash"),
    pytest.param("sh"),
    pytest.param("zsh", marks=pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")),
]
NAME_RE = re.compile(r"[a-z]+-[a-z]+-[0-9a-f]{2}")


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """The hermetic environment with PATH = a bin dir holding `gitlane`, a
    directory with a space, a duplicate entry, then the system PATH without
    the shim."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "gitlane").symlink_to(SHIM / "gitlane")
    spaced = tmp_path / "dir with space"
    spaced.mkdir()
    system = [d for d in os.environ["PATH"].split(os.pathsep) if d and Path(d).resolve() != SHIM.resolve()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GITLANE_") or k in ("GITLANE_REAL_GIT", "GITLANE_LOCK_TIMEOUT")}
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    env["PATH"] = os.pathsep.join([str(bindir), str(spaced), *system, system[0]])
    return env


def run_shell(shell: str, script: str, cwd: Path, env: dict[str, str]) -> tuple[dict[str, str], subprocess.CompletedProcess]:
    path = shutil.which(shell)
    assert path, shell
    res = subprocess.run([path, "-c", script], cwd=cwd, capture_output=True, env={**env, "SHELL": path},
                         timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    facts = {}
    for line in res.stdout.decode().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key] = value
    return facts, res


def sessions_rows(lane: Lane) -> list[tuple]:
    db = lane.path / ".git" / "gitlane" / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT name, pid, label, ended FROM sessions ORDER BY started").fetchall()
    finally:
        conn.close()


def gitlane_json(lane: Lane, *args: str) -> object:
    """`gitlane ARGS --json` from outside any session."""
    res = subprocess.run([str(SHIM / "gitlane"), *args, "--json"], cwd=lane.path, capture_output=True,
                         env=shim_env(), check=True)
    return json.loads(res.stdout)


# --- activate / deactivate ------------------------------------------------------

@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_activate_twice_then_deactivate_restores_path_exactly(lane: Lane, shell_env: dict, shell: str) -> None:
    facts, _ = run_shell(shell, r'''
        orig=$PATH
        eval "$(gitlane activate s1)"
        echo "once=$PATH"
        eval "$(gitlane activate s1)"
        echo "twice=$PATH"
        echo "git=$(command -v git)"
        echo "session=$GITLANE_SESSION"
        eval "$(gitlane deactivate)"
        echo "after=$PATH"
        [ "$PATH" = "$orig" ] && echo "restored=yes" || echo "restored=no"
        echo "vars=${GITLANE_SESSION-unset} ${GITLANE_SESSION_PID-unset} ${GITLANE_PATH_ADDED-unset} ${__gitlane_s-unset}"
        echo "git_after=$(command -v git)"
    ''', lane.path, shell_env)
    orig = shell_env["PATH"]
    assert facts["once"] == f"{SHIM}:{orig}"
    assert facts["twice"] == facts["once"]
    assert facts["git"] == str(SHIM / "git")
    assert facts["session"] == "s1"
    assert facts["after"] == orig
    assert facts["restored"] == "yes"
    assert facts["vars"] == "unset unset unset unset"
    assert facts["git_after"] != str(SHIM / "git")


@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_activate_sets_pid_to_the_shell_and_registers_it(lane: Lane, shell_env: dict, shell: str) -> None:
    facts, _ = run_shell(shell, r'''
        eval "$(gitlane activate s1 --label 'fixing docs')"
        echo "self=$$"
        echo "envpid=$GITLANE_SESSION_PID"
        echo "exported=$(sh -c 'echo "$GITLANE_SESSION:$GITLANE_SESSION_PID"')"
        echo "sessions=$(gitlane sessions --json | tr -d '\n')"
    ''', lane.path, shell_env)
    self_pid = int(facts["self"])
    assert facts["envpid"] == facts["self"]
    assert facts["exported"] == f"s1:{self_pid}"
    [s1] = json.loads(facts["sessions"])
    assert (s1["name"], s1["state"], s1["pid"], s1["label"], s1["current"]) == (
        "s1", "live", self_pid, "fixing docs", True)
    assert sessions_rows(lane) == [("s1", self_pid, "fixing docs", None)]
    # the shell has exited: its session stops being live on its own
    assert [s["state"] for s in gitlane_json(lane, "sessions")] == ["dead"]  # type: ignore[union-attr]


@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_activation_code_preserves_exit_status(lane: Lane, shell_env: dict, shell: str) -> None:
    """What the code itself can keep: the status it sees when it starts. With
    the code captured first, that is the previous command's status in every
    shell. With `eval "$(gitlane activate)"` the shell decides what the code
    sees (bash sets `$?` from the command substitution, dash keeps the previous
    command's), so the probe learns that and the activation must match it."""
    facts, _ = run_shell(shell, r'''
        code=$(gitlane activate s1)
        (exit 7); eval "$code"; echo "captured=$?"
        false; eval "$code"; echo "captured_false=$?"
        true; eval "$code"; echo "captured_true=$?"
        false; eval "$(printf 'echo probe=$?')"
        false; eval "$(gitlane activate s1)"; echo "direct=$?"
        (exit 3); eval "$(gitlane deactivate)"; echo "deactivate_direct=$?"
        eval "$(gitlane activate s1)"
        code=$(gitlane deactivate)
        (exit 5); eval "$code"; echo "deactivate_captured=$?"
    ''', lane.path, shell_env)
    assert (facts["captured"], facts["captured_false"], facts["captured_true"]) == ("7", "1", "0")
    assert facts["deactivate_captured"] == "5"
    assert facts["probe"] in ("0", "1")
    assert facts["direct"] == facts["probe"]
    assert facts["deactivate_direct"] == ("3" if facts["probe"] == "1" else "0")
    if shell == "sh" and Path(os.path.realpath(shutil.which("sh") or "")).name == "dash":
        assert facts["direct"] == "1"  # dash: `false; eval "$(gitlane activate)"` keeps the 1
    if shell == "bash":
        assert facts["direct"] == "0"  # bash: the substitution's 0 is all the code can see


@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_deactivate_ends_session_and_releases_reservations_keeping_staged_work(
        lane: Lane, shell_env: dict, shell: str, owner_proc) -> None:
    facts, _ = run_shell(shell, r'''
        eval "$(gitlane activate s1)"
        echo "s1 work" > f.txt
        git add f.txt
        gitlane reserve 'docs/**' >/dev/null
        echo "reserved=$(gitlane status --json | tr -d '\n')"
        eval "$(gitlane deactivate)"
        echo "done=yes"
    ''', lane.path, shell_env)
    assert [r["pattern"] for r in json.loads(facts["reserved"])["reservations"]] == ["docs/**"]
    status = gitlane_json(lane, "status")
    [s1] = status["sessions"]  # type: ignore[index]
    assert (s1["state"], s1["staged"], s1["reservations"]) == ("ended", ["f.txt"], [])
    assert status["reservations"] == []  # type: ignore[index]
    [(name, _, _, ended)] = sessions_rows(lane)
    assert name == "s1" and ended is not None
    export = subprocess.run([str(SHIM / "gitlane"), "export", "s1"], cwd=lane.path, capture_output=True,
                            env=shim_env(), check=True).stdout
    assert b"+s1 work" in export
    p2 = owner_proc()  # an ended session's claims stop blocking
    lane.write("docs/x.md", "s2\n")
    lane.git("add", "f.txt", "docs/x.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"f.txt", "docs/x.md"}


@pytest.mark.parametrize("shell", ["bash"])
def test_activate_puts_shim_first_even_if_already_on_path_later(lane: Lane, shell_env: dict, shell: str) -> None:
    shell_env = {**shell_env, "PATH": shell_env["PATH"] + f":{SHIM}"}
    facts, _ = run_shell(shell, r'''
        orig=$PATH
        eval "$(gitlane activate s1)"
        echo "git=$(command -v git)"
        eval "$(gitlane deactivate)"
        [ "$PATH" = "$orig" ] && echo "restored=yes" || echo "restored=no"
    ''', lane.path, shell_env)
    assert facts["git"] == str(SHIM / "git")
    assert facts["restored"] == "yes"


@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_activate_without_name_generates_a_readable_one(lane: Lane, shell_env: dict, shell: str) -> None:
    facts, _ = run_shell(shell, r'''
        eval "$(gitlane activate)"
        echo "name=$GITLANE_SESSION"
    ''', lane.path, shell_env)
    assert NAME_RE.fullmatch(facts["name"]), facts
    assert [r[0] for r in sessions_rows(lane)] == [facts["name"]]


def test_activate_with_invalid_name_changes_nothing(lane: Lane, shell_env: dict) -> None:
    facts, res = run_shell("bash", r'''
        orig=$PATH
        eval "$(gitlane activate 'bad name')"
        echo "rc=$?"
        [ "$PATH" = "$orig" ] && echo "path=same" || echo "path=changed"
        echo "session=${GITLANE_SESSION-unset}"
    ''', lane.path, shell_env)
    assert (facts["path"], facts["session"]) == ("same", "unset")
    assert res.stderr.decode().startswith("gitlane: invalid session name 'bad name': it contains ' '\nhint: ")
    assert sessions_rows(lane) == []


def test_activate_outside_a_repository_still_activates(tmp_path: Path, shell_env: dict) -> None:
    outside = tmp_path / "nowhere"
    outside.mkdir()
    facts, _ = run_shell("bash", r'''
        eval "$(gitlane activate s1)"
        echo "session=$GITLANE_SESSION"
        echo "git=$(command -v git)"
        echo "version=$(git --version)"
    ''', outside, shell_env)
    assert (facts["session"], facts["git"]) == ("s1", str(SHIM / "git"))
    assert facts["version"].startswith("git version ")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_activate_twice_then_deactivate(lane: Lane, shell_env: dict) -> None:
    facts, _ = run_shell("fish", r'''
        set orig (string join : $PATH)
        gitlane activate s1 --shell fish | source
        gitlane activate s1 --shell fish | source
        echo "once="(string join : $PATH)
        echo "git="(command -v git)
        echo "self=$fish_pid"
        echo "envpid=$GITLANE_SESSION_PID"
        gitlane deactivate --shell fish | source
        echo "after="(string join : $PATH)
        set -q GITLANE_SESSION; and echo "session=set"; or echo "session=unset"
    ''', lane.path, shell_env)
    orig = ":".join(p for p in shell_env["PATH"].split(":") if p)
    assert facts["once"] == f"{SHIM}:{orig}"
    assert facts["git"] == str(SHIM / "git")
    assert facts["envpid"] == facts["self"]
    assert facts["after"] == orig
    assert facts["session"] == "unset"


# --- on a terminal ---------------------------------------------------------------

@pytest.mark.parametrize("argv, shell, expected", [
    (["activate"], "/bin/bash", 'eval "$(gitlane activate)"'),
    (["activate"], "/bin/sh", 'eval "$(gitlane activate)"'),
    (["deactivate"], "/bin/bash", 'eval "$(gitlane deactivate)"'),
    (["activate"], "/usr/bin/fish", "gitlane activate --shell fish | source"),
])
def test_on_a_terminal_activate_explains_what_to_eval(lane: Lane, argv: list[str], shell: str,
                                                     expected: str) -> None:
    master, slave = os.openpty()
    try:
        res = subprocess.run([str(SHIM / "gitlane"), *argv], cwd=lane.path, stdout=slave,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             env={**shim_env(), "SHELL": shell}, timeout=30)
        os.set_blocking(master, False)
        try:
            on_tty = os.read(master, 4096)
        except (BlockingIOError, OSError):
            on_tty = b""
    finally:
        os.close(slave)
        os.close(master)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert on_tty == b""  # no shell code is printed to a terminal
    assert err.startswith(f"gitlane {argv[0]} prints shell code; to ")
    assert f"\n\n    {expected}\n\n" in err
    assert sessions_rows(lane) == []  # explaining registers nothing


# --- prompt -------------------------------------------------------------------------

def _prompt(lane: Lane, *args: str, session: str | None = None, pid: int | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SHIM / "gitlane"), "prompt", *args], cwd=cwd or lane.path,
                          capture_output=True, env=shim_env(session, pid), timeout=30)


def test_prompt_marks_staged_work(lane: Lane, owner_proc, tmp_path: Path) -> None:
    p1 = owner_proc()
    assert _prompt(lane, session="s1", pid=p1.pid).stdout == b"[s1]\n"
    lane.write("f.txt", "x\n")
    lane.git("add", "f.txt", session="s1", pid=p1.pid)
    res = _prompt(lane, session="s1", pid=p1.pid)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"[s1*]\n", b"")
    assert _prompt(lane, "--format", "<{session}{marker}>", session="s1", pid=p1.pid).stdout == b"<s1*>\n"
    assert _prompt(lane, "--format={session}", session="s1", pid=p1.pid).stdout == b"s1\n"
    assert _prompt(lane, session="s2", pid=p1.pid).stdout == b"[s2]\n"  # a peer's work is not ours
    lane.git("commit", "-q", "-m", "f", session="s1", pid=p1.pid)
    assert _prompt(lane, session="s1", pid=p1.pid).stdout == b"[s1]\n"
    lane.git("add", "f.txt", session="s1", pid=p1.pid)  # nothing changed: still nothing staged
    assert _prompt(lane, session="s1", pid=p1.pid).stdout == b"[s1]\n"


def test_prompt_without_session_or_outside_repo(lane: Lane, tmp_path: Path) -> None:
    res = _prompt(lane)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    outside = tmp_path / "nowhere"
    outside.mkdir()
    res = _prompt(lane, session="s1", cwd=outside)
    assert (res.returncode, res.stdout, res.stderr) == (0, b"[s1]\n", b"")
    assert not (lane.path / ".git" / "gitlane").exists()  # a prompt writes nothing


# --- git lane -------------------------------------------------------------------------

def test_git_lane_runs_gitlane_commands_in_an_activated_shell(lane: Lane, shell_env: dict) -> None:
    facts, _ = run_shell("bash", r'''
        eval "$(gitlane activate s1)"
        echo "self=$$"
        echo "git=$(command -v git)"
        echo "sessions=$(git lane sessions --json | tr -d '\n')"
        echo "f" > f.txt
        git add f.txt
        echo "who=$(git lane who f.txt)"
        echo "reserve=$(git lane reserve 'docs/**')"
        echo "help=$(git lane sessions -h | head -n 1)"
    ''', lane.path, shell_env)
    assert facts["git"] == str(SHIM / "git")
    [s1] = json.loads(facts["sessions"])
    assert (s1["name"], s1["state"], s1["pid"], s1["current"]) == ("s1", "live", int(facts["self"]), True)
    assert re.fullmatch(rf"f\.txt: staged by session s1 \(pid {facts['self']}, for \d+s\)", facts["who"])
    assert facts["reserve"] == "reserved docs/** for session s1 (exclusive, 30m)"
    assert facts["help"] == "usage: gitlane sessions [-h] [--json]"  # `--help` is git's: it opens `git help lane`


@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_deactivate_only_prints_until_the_shell_evaluates_it(lane: Lane, shell_env: dict, shell: str) -> None:
    facts, _ = run_shell(shell, r'''
        eval "$(gitlane activate s1)"
        git status >/dev/null
        code=$(gitlane deactivate)
        gitlane deactivate | cat >/dev/null
        echo "before=$(gitlane status --json | tr -d '\n')"
        eval "$code"
        echo "session=${GITLANE_SESSION-unset}"
    ''', lane.path, shell_env)
    [s1] = json.loads(facts["before"])["sessions"]
    assert s1["name"] == "s1" and s1["state"] == "live"       # looking at the code ended nothing
    assert facts["session"] == "unset"
    [(name, _, _, ended)] = sessions_rows(lane)
    assert name == "s1" and ended is not None                  # evaluating it did
