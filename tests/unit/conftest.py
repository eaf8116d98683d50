"""In-process fixtures for the unit tests: the package's own objects (Repo,
Git, Session, a state database) over a real repository made by the `lane`
fixture (gitlane.testing.inproc). git is always the real one; nothing here
mocks it."""
from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest

from gitlane.git.repo import Repo
from gitlane.git.verbs import Git
from gitlane.session import Session
from gitlane.shared import db
from gitlane.testing.inproc import repo_at
from gitlane.testing.lane import Lane, real_git


@pytest.fixture
def repo(lane: Lane) -> Repo:
    return repo_at(lane.path)


@pytest.fixture
def git(repo: Repo) -> Git:
    return Git(real_git(), repo, os.environ)


@pytest.fixture
def conn(repo: Repo) -> Iterator[db.Connection]:
    """The lane's state database (created)."""
    c = db.connect(repo.state_dir())
    yield c
    c.close()


@pytest.fixture
def make_session(git: Git, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Session]:
    """Session(name) over the lane, owned by `pid` (this process by default):
    what refresh.ensure would register comes from GITLANE_SESSION_PID."""
    def make(name: str, pid: int | None = None) -> Session:
        monkeypatch.setenv("GITLANE_SESSION_PID", str(pid or os.getpid()))
        return Session(name, git.repo, git)
    return make
