"""git.alias: the command git will really run. Aliases chain, keys are
case-insensitive, a built-in is never overridden (and costs no spawn), `!`
aliases and loops are passed through. Real `git config` in a real repository;
each answer is checked against git's own alias expansion trace where git
would run the alias."""
from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest

from gitlane.git import alias
from gitlane.git.verbs import Git
from gitlane.testing.lane import Lane, real_git


def configure(lane: Lane, **aliases: str) -> None:
    for key, value in aliases.items():
        lane.plain("config", f"alias.{key}", value)


def test_a_builtin_is_never_looked_up(git: Git, lane: Lane) -> None:
    configure(lane, status="log")                     # git ignores this, and so do we
    assert alias.resolve(git, [], "status", ["-s"]) == ("status", ["-s"])
    assert git.spawned == 0


@pytest.mark.parametrize("aliases, word, args, want", [
    ({"co": "checkout"}, "co", ["main"], ("checkout", ["main"])),
    ({"ci": "commit -v --no-edit"}, "ci", ["-m", "x"], ("commit", ["-v", "--no-edit", "-m", "x"])),
    ({"co": "checkout"}, "CO", [], ("checkout", [])),                 # keys are case-insensitive
    ({"a": "b -1", "b": "c -2", "c": "log -3"}, "a", ["x"], ("log", ["-3", "-2", "-1", "x"])),   # chains
    ({"q": "'commit' \"-m\" 'two words'"}, "q", [], ("commit", ["-m", "two words"])),
    ({"g": "-c core.abbrev=7 log"}, "g", [], ("log", [])),           # its global options are git's
    ({"sh": "!echo hi"}, "sh", [], (None, [])),                       # a shell: passed through
    ({"loop": "loop2", "loop2": "loop"}, "loop", [], (None, [])),
    ({"self": "SELF"}, "self", [], (None, [])),
    ({"bad": "commit 'unclosed"}, "bad", [], (None, [])),
    ({"opt": "--version"}, "opt", [], ("version", [])),
    ({"q2": "-C"}, "q2", [], (None, [])),                             # a query: nothing runs
], ids=lambda v: v if isinstance(v, str) else None)
def test_resolve(git: Git, lane: Lane, aliases: dict[str, str], word: str, args: list[str],
                 want: tuple[str | None, list[str]]) -> None:
    configure(lane, **aliases)
    assert alias.resolve(git, [], word, args) == want


def test_an_unknown_word_is_left_for_git(git: Git) -> None:
    assert alias.resolve(git, [], "frobnicate", ["--now"]) == ("frobnicate", ["--now"])


def test_a_long_chain_is_given_up(git: Git, lane: Lane) -> None:
    configure(lane, **{f"a{i}": f"a{i + 1}" for i in range(30)})
    assert alias.resolve(git, [], "a0", []) == (None, [])


def test_aliases_given_with_dash_c(git: Git) -> None:
    opts = alias.config_options(["-c", "alias.st=status -s", "-C", "somewhere"])
    assert alias.resolve(git, opts, "st", ["-b"]) == ("status", ["-s", "-b"])


@pytest.mark.parametrize("options, picked", [
    ([], []),
    (["-C", "d", "-p"], []),
    (["-c", "a=b", "-C", "d", "-c", "x=y"], ["-c", "a=b", "-c", "x=y"]),
    (["--config-env=alias.x=ENV", "--config-env", "a.b=V"], ["--config-env=alias.x=ENV", "--config-env", "a.b=V"]),
    (["-c"], []),
])
def test_config_options(options: list[str], picked: list[str]) -> None:
    assert alias.config_options(options) == picked


@pytest.mark.parametrize("aliases, word", [
    ({"ci": "commit -v --no-edit"}, "ci"),
    ({"a": "b -1", "b": "c -2", "c": "log -3"}, "a"),
    ({"q": "'log' \"-n\" '1'"}, "q"),
])
def test_resolve_agrees_with_git(git: Git, lane: Lane, aliases: dict[str, str], word: str) -> None:
    configure(lane, **aliases)
    res = subprocess.run([real_git(), word, "--dry-run"], cwd=lane.path, capture_output=True,
                         env={**os.environ, "GIT_TRACE": "1"}, stdin=subprocess.DEVNULL)
    ran = re.findall(r"trace: built-in: git (.*)$", res.stderr.decode(), re.M)
    assert ran, res.stderr.decode()
    command, args = alias.resolve(git, [], word, ["--dry-run"])
    assert shlex.split(ran[0]) == [command, *args]
