"""testing.hermetic: the one hermetic environment of tests, benchmarks and
the demo. Nothing of the outer environment that steers git or gitlane leaks
in, PATH has no shim folder, git reads only the config written to HOME, and
identity and dates are fixed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitlane.git import realgit
from gitlane.testing import hermetic
from gitlane.testing.lane import SHIM

OUTER = {
    "GIT_DIR": "/elsewhere/.git", "GIT_INDEX_FILE": "/tmp/idx", "GIT_WORK_TREE": "/w", "GIT_TRACE": "1",
    "GIT_CONFIG_PARAMETERS": "'core.bare'='true'", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name",
    "GIT_CONFIG_VALUE_0": "leak", "GIT_NAMESPACE": "ns", "GIT_ALTERNATE_OBJECT_DIRECTORIES": "/x",
    "GITLANE_SESSION": "outer", "GITLANE_SESSION_PID": "1", "GITLANE_REAL_GIT": "/shim/git",
    "GITLANE_FORCE": "1", "GITLANE_DISABLE": "1", "GITLANE_DEPTH": "3",
    "CLAUDE_CODE_SESSION_ID": "abc", "GITLANE_TRACE": "1", "GITLANE_LOCK_TIMEOUT": "9",
    "EDITOR": "vim", "SOME_TOOL": "kept",
}
# what hermetic sets itself
OWN = {"GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
       "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_EDITOR", "GIT_PAGER",
       "GIT_TERMINAL_PROMPT", "GITLANE_REAL_GIT"}


@pytest.fixture
def outer() -> dict[str, str]:
    return {**OUTER, "PATH": f"{SHIM}:{os.environ['PATH']}:{SHIM}"}


def test_nothing_that_steers_git_or_gitlane_leaks(tmp_path: Path, outer: dict[str, str]) -> None:
    env = hermetic.env(str(tmp_path / "home"), outer)
    leaked = {k for k in env if k.startswith(("GIT_", "GITLANE_", "CLAUDE_CODE_"))} - OWN - set(hermetic.KEEP)
    assert leaked == set()
    assert env["GITLANE_REAL_GIT"] != "/shim/git"
    assert (env["GITLANE_TRACE"], env["GITLANE_LOCK_TIMEOUT"]) == ("1", "9")      # kept for debugging
    assert (env["EDITOR"], env["SOME_TOOL"]) == ("vim", "kept")
    assert env["GIT_EDITOR"] == "false" and env["GIT_PAGER"] == "cat"


def test_path_has_no_shim_folder_and_the_real_git_is_real(tmp_path: Path, outer: dict[str, str]) -> None:
    env = hermetic.env(str(tmp_path / "home"), outer)
    folders = env["PATH"].split(os.pathsep)
    assert str(SHIM) not in folders and not any(realgit.is_shim_dir(d) for d in folders)
    real = env["GITLANE_REAL_GIT"]
    assert not realgit.is_shim_dir(os.path.dirname(real))
    assert subprocess.run([real, "--version"], capture_output=True, env=env).stdout.startswith(b"git version")


def test_git_reads_only_the_config_in_home(tmp_path: Path, outer: dict[str, str]) -> None:
    home = tmp_path / "home"
    env = hermetic.env(str(home), outer)
    assert env["HOME"] == str(home) and env["XDG_CONFIG_HOME"] == str(home / ".config")
    out = subprocess.run([env["GITLANE_REAL_GIT"], "config", "--list", "--show-origin"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    origins = {line.split("\t", 1)[0] for line in out.splitlines()}
    assert origins == {f"file:{home / '.gitconfig'}"}
    assert "init.defaultbranch=main" in out and "gc.auto=0" in out


def test_identity_and_dates_are_fixed(tmp_path: Path, outer: dict[str, str]) -> None:
    env = hermetic.env(str(tmp_path / "home"), outer)
    git = env["GITLANE_REAL_GIT"]
    subprocess.run([git, "init", "-q", str(tmp_path / "r")], env=env, check=True)
    subprocess.run([git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path / "r", env=env, check=True)
    log = subprocess.run([git, "log", "--format=%an <%ae> %ad|%cn <%ce> %cd|%D", "--date=raw"], cwd=tmp_path / "r",
                         env=env, capture_output=True, text=True, check=True).stdout
    assert log == (f"A U Thor <author@example.com> {hermetic.FIXED_DATE}|"
                   f"C O Mitter <committer@example.com> {hermetic.FIXED_DATE}|HEAD -> main\n")


def test_a_given_real_git_is_used(tmp_path: Path) -> None:
    assert hermetic.env(str(tmp_path / "home"), {"PATH": "/usr/bin"}, real="/opt/git")["GITLANE_REAL_GIT"] == "/opt/git"


def test_session_env_puts_the_shim_first(tmp_path: Path) -> None:
    base = hermetic.env(str(tmp_path / "home"), {"PATH": "/usr/bin:/bin"})
    env = hermetic.session_env(base, str(SHIM), "s1")
    assert env["PATH"].split(os.pathsep)[0] == str(SHIM)
    assert (env["GITLANE_SESSION"], env["GITLANE_SESSION_PID"]) == ("s1", str(os.getpid()))
    assert hermetic.session_env(base, str(SHIM), "s2", pid=42)["GITLANE_SESSION_PID"] == "42"
    assert "GITLANE_SESSION" not in base                     # the base is left alone


def test_the_suites_own_environment_is_hermetic() -> None:
    """tests/conftest.py's autouse fixture: what every test runs in (even
    when pytest itself runs inside a session, as CI does)."""
    assert not {k for k in os.environ if k.startswith(("GIT_", "GITLANE_", "CLAUDE_CODE_"))} - OWN - set(hermetic.KEEP)
    assert not any(realgit.is_shim_dir(d) for d in os.environ["PATH"].split(os.pathsep))
    assert os.environ["GITLANE_LOCK_TIMEOUT"] == "60"


@pytest.mark.parametrize("key, inherited", [
    ("GIT_DIR", True), ("GITLANE_SESSION", True), ("CLAUDE_CODE_SESSION_ID", True), ("GITLANE_TRACE", False),
    ("GITLANE_LOCK_TIMEOUT", False), ("GITHUB_TOKEN", False), ("PATH", False),
])
def test_inherited(key: str, inherited: bool) -> None:
    assert hermetic.inherited(key) is inherited
