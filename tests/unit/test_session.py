"""session: names are untrusted input (layout.name_problem is the rule),
current() reads them from the environment, and git_env() gives the user's
command its index and excludes file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane import layout, session
from gitlane.errors import Fatal
from gitlane.testing.lane import Lane


def test_nul_in_session_name_is_refused() -> None:
    # a NUL cannot travel through the environment or argv: check the validator
    with pytest.raises(Fatal) as exc:
        session.validate("a\0b")
    assert exc.value.what == "invalid session name 'a\\x00b': it contains '\\x00'"
    assert exc.value.code == 2


@pytest.mark.parametrize("env, want", [
    ({}, None),
    ({"GITLANE_SESSION": ""}, None),
    ({"GITLANE_SESSION": "s1"}, "s1"),
    ({"CLAUDE_CODE_SESSION_ID": "7f3c1e52-9a4b"}, "7f3c1e52-9a4b"),
    ({"GITLANE_SESSION": "s1", "CLAUDE_CODE_SESSION_ID": "c"}, "s1"),
    ({"GITLANE_SESSION": "", "CLAUDE_CODE_SESSION_ID": "c"}, "c"),
])
def test_current(env: dict[str, str], want: str | None) -> None:
    assert session.current(env) == want


@pytest.mark.parametrize("name", ["a/b", "../../etc", "x" * 200, "-rf", "a.lock"])
def test_an_invalid_name_is_refused_with_exit_2(name: str) -> None:
    with pytest.raises(Fatal) as exc:
        session.current({"GITLANE_SESSION": name})
    assert exc.value.code == 2 and exc.value.what.startswith("invalid session name '")
    assert len(exc.value.what) < 120                     # long names are shown cut short
    assert exc.value.hint.startswith("session names use letters, digits and . _ - @ +")


def test_a_long_name_is_shown_cut_short() -> None:
    with pytest.raises(Fatal) as exc:
        session.validate("y" * 300)
    assert exc.value.what == f"invalid session name '{'y' * 40}…': it is 300 characters long"


def test_a_session_lives_in_its_folder(make_session, lane: Lane) -> None:  # type: ignore[no-untyped-def]
    s = make_session("s1")
    sdir = lane.path / ".git" / "gitlane" / "sessions" / "s1"
    assert (s.dir, s.index.path, s.lock_path, s.path("x")) == (str(sdir), str(sdir / "index"), str(sdir / "lock"),
                                                                str(sdir / "x"))
    assert session.dir_for(s.repo, "s1") == str(sdir)
    with pytest.raises(Fatal):
        session.Session("../x", s.repo, s.git)
    with pytest.raises(Fatal):
        session.dir_for(s.repo, "a/b")


def test_git_env_gives_the_index_and_our_excludes_after_the_users_config(make_session) -> None:  # type: ignore[no-untyped-def]
    s = make_session("s1")
    base = {"PATH": "/bin", "GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "1",
            "GIT_CONFIG_KEY_1": "c.d", "GIT_CONFIG_VALUE_1": "2"}
    env = s.git_env(base, GIT_OPTIONAL_LOCKS="0")
    assert env["GIT_INDEX_FILE"] == s.index.path and env["GIT_OPTIONAL_LOCKS"] == "0"
    assert env["GIT_CONFIG_COUNT"] == "2"                  # no excludes file yet: nothing added
    os.makedirs(s.dir)
    Path(s.path(layout.EXCLUDE)).write_text("/x\n")
    env = s.git_env(base)
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_2"], env["GIT_CONFIG_VALUE_2"]) == \
        ("3", "core.excludesFile", s.path(layout.EXCLUDE))
    assert env["GIT_CONFIG_KEY_0"] == "a.b" and base["GIT_CONFIG_COUNT"] == "2"
    assert s.git_env({"GIT_CONFIG_COUNT": "junk"})["GIT_CONFIG_KEY_0"] == "core.excludesFile"


def test_note_staged_is_what_the_prompt_reads(make_session) -> None:  # type: ignore[no-untyped-def]
    s = make_session("s1")
    s.note_staged(3)                                       # no folder yet: quietly nothing
    assert not os.path.exists(s.path(layout.STAGED_COUNT))
    os.makedirs(s.dir)
    s.note_staged(3)
    assert Path(s.path(layout.STAGED_COUNT)).read_text() == "3\n"
