"""Hermetic fixtures: real git, real temporary repositories, no user config.

Every test runs git through the installed shim (`shim/git`, made by
install.sh) exactly as users do, with HOME, system config and identity
pinned so results do not depend on the machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "shim"
sys.path.insert(0, str(ROOT / "src"))

from gitlane.testing import hermetic as sandbox  # noqa: E402
from gitlane.testing.lane import Lane  # noqa: E402
from gitlane.testing.processes import Started  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    if not (SHIM / "git").exists():
        raise pytest.UsageError("shim/git is missing: run ./install.sh --dev first")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` and `differential` tests run only when asked for: `-m slow` (or
    any -m naming it) or GITLANE_SLOW=1, likewise GITLANE_DIFFERENTIAL=1.
    Nothing in pyproject deselects them, so the default run
    (`.venv/bin/python -m pytest -q`) skips them here."""
    expr = config.getoption("markexpr", "") or ""
    for marker, env in (("slow", "GITLANE_SLOW"), ("differential", "GITLANE_DIFFERENTIAL")):
        if marker in expr or os.environ.get(env) == "1":
            continue
        skip = pytest.mark.skip(reason=f"{marker}: run with `-m {marker}` or {env}=1")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    env = sandbox.env(str(home), {k: v for k, v in os.environ.items() if k not in sandbox.KEEP})
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITLANE_LOCK_TIMEOUT", "60")


@pytest.fixture
def lane(tmp_path: Path) -> Lane:
    """A fresh repository with one commit, driven through the shim."""
    repo = tmp_path / "repo"
    repo.mkdir()
    lane = Lane(repo)
    lane.plain("init", "-q")
    (repo / "README").write_text("hello\n")
    lane.plain("add", "README")
    lane.plain("commit", "-q", "-m", "init")
    return lane


@pytest.fixture
def empty_lane(tmp_path: Path) -> Lane:
    """A repository with no commits (unborn branch)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    lane = Lane(repo)
    lane.plain("init", "-q")
    return lane


@pytest.fixture
def owner_proc():
    """Start a real process to own a session; yields a factory. Killed at teardown."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen(["sleep", "600"])
        procs.append(p)
        return p
    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def pair(lane: Lane, owner_proc) -> tuple[Lane, int, int]:  # type: ignore[no-untyped-def]
    """The lane and two live owner pids, for sessions A and B."""
    return lane, owner_proc().pid, owner_proc().pid


@pytest.fixture
def running() -> Iterator[Started]:
    """Start children through this (gitlane.testing.processes.Running); every
    one's process group is killed and reaped at teardown."""
    started = Started()
    yield started
    started.close()


@pytest.fixture(scope="session")
def shim_dir() -> Path:
    return SHIM


@pytest.fixture(scope="session")
def have_shutil_which() -> bool:
    return shutil.which("git") is not None
