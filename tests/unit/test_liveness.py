"""shared.liveness: is a session's owner alive? Fail closed: dead only when
provable (the pid is gone, a zombie, or reused: its create time differs).

A real process is followed through zombie to reaped; psutil's corner cases
(AccessDenied, races between opening and asking) cannot be staged for real,
so those are pytest-mock tables.
"""
from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from gitlane.shared import liveness
from gitlane.testing.lane import ROOT


# --- a real process ---------------------------------------------------------------

def test_is_alive_follows_a_real_process_through_zombie_to_reaped(owner_proc) -> None:
    p = owner_proc()
    ctime = liveness.create_time(p.pid)
    assert ctime == psutil.Process(p.pid).create_time()
    assert liveness.is_alive(p.pid, ctime) is True
    assert liveness.is_alive(p.pid, ctime + 5) is False  # same pid, other process: reuse
    p.kill()
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # wait for death without reaping
    assert psutil.Process(p.pid).status() == psutil.STATUS_ZOMBIE
    assert liveness.is_alive(p.pid, ctime) is False
    p.wait()
    assert liveness.is_alive(p.pid, ctime) is False


# --- psutil corner cases (pytest-mock) ------------------------------------------------

PID, CTIME = 4242, 1000.0


def _proc(mocker, *, ctime: float = CTIME, status: str = psutil.STATUS_SLEEPING,  # type: ignore[no-untyped-def]
          ctime_exc: Exception | None = None, status_exc: Exception | None = None):
    fake = mocker.Mock()
    fake.create_time.side_effect = ctime_exc
    fake.create_time.return_value = ctime
    fake.status.side_effect = status_exc
    fake.status.return_value = status
    return fake


@pytest.mark.parametrize("case, recorded, open_exc, kw, expected", [
    ("running", CTIME, None, {}, True),
    ("running, create time never recorded", None, None, {}, True),
    ("create time within tolerance", CTIME + 0.04, None, {}, True),
    ("pid reused: create time differs", CTIME + 3.0, None, {}, False),
    ("pid reused: reused process is older", CTIME - 60.0, None, {}, False),
    ("zombie", CTIME, None, {"status": psutil.STATUS_ZOMBIE}, False),
    ("ZombieProcess raised by status()", CTIME, None, {"status_exc": psutil.ZombieProcess(PID)}, False),
    ("NoSuchProcess when opening", CTIME, psutil.NoSuchProcess(PID), {}, False),
    ("NoSuchProcess from create_time()", CTIME, None, {"ctime_exc": psutil.NoSuchProcess(PID)}, False),
    ("AccessDenied when opening", CTIME, psutil.AccessDenied(PID), {}, True),
    ("AccessDenied from create_time()", CTIME, None, {"ctime_exc": psutil.AccessDenied(PID)}, True),
    ("AccessDenied from status()", CTIME, None, {"status_exc": psutil.AccessDenied(PID)}, True),
])
def test_is_alive_corner_cases(mocker, case: str, recorded: float | None, open_exc: Exception | None,
                               kw: dict, expected: bool) -> None:
    fake = _proc(mocker, **kw)
    process = mocker.patch.object(psutil, "Process", side_effect=open_exc, return_value=fake)
    assert liveness.is_alive(PID, recorded) is expected, case
    process.assert_called_once_with(PID)


@pytest.mark.parametrize("pid", [None, 0])
def test_is_alive_without_a_recorded_pid_is_alive_and_asks_nothing(mocker, pid: int | None) -> None:
    process = mocker.patch.object(psutil, "Process")
    assert liveness.is_alive(pid, CTIME) is True
    process.assert_not_called()


# --- the owner of a new session -------------------------------------------------------

def test_create_time_is_psutils_own(owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    assert liveness.create_time(p.pid) == psutil.Process(p.pid).create_time()
    assert liveness._proc_create_time(os.getpid()) == psutil.Process().create_time()
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert liveness.create_time(gone.pid) is None


def test_owner_is_gitlane_session_pid_when_set(owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    assert liveness.owner({"GITLANE_SESSION_PID": str(p.pid)}) == (p.pid, psutil.Process(p.pid).create_time())


@pytest.mark.parametrize("raw", ["", "0", "-3", "abc"])
def test_a_bad_session_pid_falls_back_to_the_ancestors(raw: str) -> None:
    pid, _ = liveness.owner({"GITLANE_SESSION_PID": raw})
    assert pid == os.getppid() or pid in {p.pid for p in psutil.Process().parents()}


def test_owner_is_the_nearest_ancestor_that_is_not_a_shell() -> None:
    """An agent runs `sh -c "env timeout 60 git ..."`: the agent owns the session."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r}); from gitlane.shared import liveness; "
            "import os, psutil; print(liveness.owner({})[0], psutil.Process(os.getppid()).name())")
    # `; exit` keeps the shell alive as the child's parent (no exec of the last command)
    res = subprocess.run(["sh", "-c", f"{sys.executable} -c \"{code}\"; exit $?"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    owner, parent = res.stdout.split()
    assert parent in liveness.SHELLS                          # there was a shell to skip ...
    assert int(owner) == os.getpid()                          # ... and the owner is this pytest
