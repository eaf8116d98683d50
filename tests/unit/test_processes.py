"""testing.processes: the harness the kill tests and benchmarks share. It
must be able to fail: a gate that never opens, a child that never prints,
a process that never goes are all reported, never waited for forever."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from gitlane.testing import processes
from gitlane.testing.lane import Lane, real_git


@pytest.mark.parametrize("argv, verb", [
    (["git", "commit", "-q"], "commit"),
    (["/usr/bin/git", "-C", "/top", "--git-dir=/top/.git", "--work-tree=/top", "write-tree"], "write-tree"),
    (["git", "-c", "a=b", "-C", "x", "status"], "status"),
    (["git", "--version"], "?"),
    (["git"], "?"),
])
def test_git_verb(argv: list[str], verb: str) -> None:
    assert processes.git_verb(argv) == verb


def test_running_reads_both_streams_and_its_exit(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    r = running([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                tmp_path, dict(os.environ))
    assert r.finish() == 3
    r.drain()
    assert (r.stdout, r.stderr) == ("out\n", "err\n")
    assert r.ended is not None and r.ended >= r.started
    assert not processes.kill_shim(r)                          # already ended: nothing killed


def test_wait_stderr_fails_when_the_child_ends_without_saying_it(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    r = running(["true"], tmp_path, dict(os.environ))
    with pytest.raises(AssertionError, match="without printing"):
        r.wait_stderr("never said", deadline=30)


def test_finish_kills_a_child_that_hangs(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    r = running(["sleep", "600"], tmp_path, dict(os.environ))
    with pytest.raises(AssertionError, match="did not finish"):
        r.finish(timeout=0.2)
    assert r.proc.returncode == -signal.SIGKILL


def test_kill_group_reaches_orphans(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    r = running(["sh", "-c", "sleep 600 & echo $! ; wait"], tmp_path, dict(os.environ))
    end = time.monotonic() + 30
    while not r.stdout:
        assert time.monotonic() < end
        time.sleep(0.005)
    orphan = psutil.Process(int(r.stdout))
    assert orphan in r.group()
    r.kill_group()
    processes.wait_gone([orphan], deadline=30)


def test_wait_gone_fails_for_a_process_that_stays(owner_proc) -> None:  # type: ignore[no-untyped-def]
    p = owner_proc()
    with pytest.raises(AssertionError, match="still running"):
        processes.wait_gone([psutil.Process(p.pid)], deadline=0.1)


def test_wait_for_file_fails_when_the_child_ends_first(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    r = running(["true"], tmp_path, dict(os.environ))
    r.finish()
    with pytest.raises(AssertionError, match="first"):
        processes.wait_for_file(tmp_path / "never", r, deadline=30)


def test_a_gate_holds_a_hook_until_released(lane: Lane, tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    gate = processes.Gate(tmp_path)
    gate.install(lane, "pre-commit")
    lane.write("f", "x\n")
    lane.plain("add", "f")
    gate.arm()
    r = running([real_git(), "commit", "-q", "-m", "gated"], lane.path, processes.plain_env())
    processes.wait_for_file(gate.ready, r)
    assert r.proc.poll() is None and lane.plain("log", "--format=%s").stdout == b"init\n"
    gate.release()
    assert r.finish() == 0 and lane.plain("log", "-1", "--format=%s").stdout == b"gated\n"
    gate.arm()
    lane.write("g", "y\n")
    lane.plain("add", "g")
    r = running([real_git(), "commit", "-q", "-m", "refused"], lane.path, processes.plain_env())
    processes.wait_for_file(gate.ready, r)
    gate.release("fail")
    assert r.finish() == 1


def test_age(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_text("")
    processes.age(p, 100)
    assert 99 < time.time() - p.stat().st_mtime < 200


def test_blob_and_tree_readers(lane: Lane) -> None:
    assert processes.tree_blobs(lane) == {"README": processes.blob_id(b"hello\n")}
    assert processes.index_blobs(lane, lane.path / ".git" / "index") == processes.tree_blobs(lane)
    assert processes.blob_in_index(lane, lane.path / ".git" / "index", "README") == b"hello\n"
    assert processes.blob_in_index(lane, lane.path / ".git" / "index", "missing") is None
