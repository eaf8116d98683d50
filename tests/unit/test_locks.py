"""shared.locks: flock + lockf on one descriptor, waited for asleep in
flock(2) and bounded by SIGALRM (polled off the main thread).

No test here times a release with a sleep or a timer. Every wait is proven:
locks._block is wrapped (monkeypatch) to record that it was entered, the
waiting thread is seen asleep in flock(2) on its own descriptor
(/proc/<pid>/task/<tid>/syscall, testing.processes.blocked_in_flock), and
only then does the holder let go; the waiter must then get the lock from
inside _block. A waiter that never blocked fails the handshake.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from gitlane.errors import Fatal, ReadOnly
from gitlane.shared import locks
from gitlane.testing.lane import ROOT
from gitlane.testing.processes import RUN_TIMEOUT, blocked_in_flock, wait_until_blocked_in_flock


class Blocks:
    """What locks._block was asked and answered, thread by thread."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.calls: list[tuple[int, int, bool]] = []       # (native thread id, fd, shared)
        self.results: list[bool] = []
        self.lock = threading.Lock()

    def wait_result(self, want: bool, deadline: float = RUN_TIMEOUT) -> None:
        """Wait until _block has returned `want` at least once."""
        end = time.monotonic() + deadline
        while want not in self.results:
            assert time.monotonic() < end, f"_block never returned {want}: {self.results}"
            time.sleep(0.001)


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> Blocks:
    rec = Blocks()
    real = locks._block

    def wrapper(fd: int, shared: bool, seconds: float) -> bool:
        with rec.lock:
            rec.calls.append((threading.get_native_id(), fd, shared))
        rec.entered.set()
        got = real(fd, shared, seconds)
        with rec.lock:
            rec.results.append(got)
        return got
    monkeypatch.setattr(locks, "_block", wrapper)
    return rec


def release_once_blocked(blocks: Blocks, tid: int, release: Callable[[], None],
                         seen: dict[str, object]) -> threading.Thread:
    """A thread that lets go of the lock only once thread `tid` is inside
    _block and asleep in flock(2); what it saw goes into `seen`."""
    def run() -> None:
        try:
            assert blocks.entered.wait(RUN_TIMEOUT), "the waiter never entered _block"
            seen["in_flock"] = wait_until_blocked_in_flock(tid)
            seen["calls"] = list(blocks.calls)
        except BaseException as exc:  # reported by the test, after the waiter is free
            seen["error"] = exc
        finally:
            release()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "state" / "test.lock")


def timeout(seconds: float) -> Callable[[], float]:
    return lambda: seconds


# --- waiting, proven --------------------------------------------------------------------

def test_a_waiter_sleeps_in_flock_until_the_holder_lets_go(path: str, blocks: Blocks) -> None:
    holder = locks.acquire(path, locks.holder_line("H", "holding"), "test lock", timeout(1.0))
    seen: dict[str, object] = {}
    before = signal.getsignal(signal.SIGALRM)
    helper = release_once_blocked(blocks, threading.get_native_id(), holder.release, seen)
    with locks.acquire(path, locks.holder_line("W", "waiting"), "test lock", timeout(RUN_TIMEOUT)) as got:
        helper.join(RUN_TIMEOUT)
        assert "error" not in seen, seen["error"]
        tid, fd, shared = blocks.calls[0]
        assert (tid, shared) == (threading.get_native_id(), False)
        assert seen["in_flock"] == (fd, fcntl.LOCK_EX)          # asleep in flock(2) on its own fd
        assert fd == got.fd
        assert blocks.results[-1] is True                       # granted inside _block
        assert locks.read_holder(path)["session"] == "W"        # type: ignore[index]
        # and it holds both locks now: nobody else gets either
        assert locks.is_held(path)
        # no timer left armed (it would kill git mid-write after exec), no handler left behind
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is before


def test_a_timed_out_wait_slept_in_flock_and_leaves_no_timer(path: str, blocks: Blocks,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import _signal
    timers: list[tuple[int, float]] = []
    real_setitimer = _signal.setitimer

    def setitimer(which: int, seconds: float, *rest: float) -> tuple[float, float]:
        timers.append((which, seconds))
        return real_setitimer(which, seconds, *rest)
    monkeypatch.setattr(_signal, "setitimer", setitimer)
    holder = locks.acquire(path, locks.holder_line("H", "git commit -m x"), "test lock", timeout(1.0))
    before = signal.getsignal(signal.SIGALRM)
    try:
        start = time.monotonic()
        with pytest.raises(Fatal) as exc:
            locks.acquire(path, "waiter", "test lock", timeout(0.2))
        waited = time.monotonic() - start
    finally:
        holder.release()
    assert blocks.calls and blocks.results and not any(blocks.results)   # woken, never granted
    # each sleep in flock was bounded by an armed ITIMER_REAL, disarmed after
    assert timers and timers[0][0] == signal.ITIMER_REAL and 0 < timers[0][1] <= 0.2
    assert timers[1::2] == [(signal.ITIMER_REAL, 0)] * (len(timers) // 2) and len(timers) % 2 == 0
    assert 0.2 <= waited < RUN_TIMEOUT
    assert exc.value.code == 75
    assert exc.value.what.startswith(f"timed out after 0.2s waiting for test lock, held by session H (pid {os.getpid()}, "
                                     "`git commit -m x`, for ")
    assert exc.value.hint.startswith("nothing was changed; retry when it finishes")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before
    assert locks.read_holder(path)["session"] == "H"              # type: ignore[index]


def test_a_waiter_off_the_main_thread_polls_until_the_holder_lets_go(path: str, blocks: Blocks) -> None:
    """Signals are main-thread only: there _block cannot bound a sleep in
    flock, so it polls (returns False) and acquire() retries."""
    holder = locks.acquire(path, "holder", "test lock", timeout(1.0))
    got: list[bool] = []
    before = signal.getsignal(signal.SIGALRM)

    def wait() -> None:
        with locks.acquire(path, locks.holder_line("W", "x"), "test lock", timeout(RUN_TIMEOUT)):
            got.append(True)
    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    try:
        assert blocks.entered.wait(RUN_TIMEOUT)
        blocks.wait_result(False)                   # it went round the poll at least once ...
        assert got == [] and locks.is_held(path)    # ... and is still waiting for a held lock
        assert blocks.calls[0][0] == waiter.native_id
    finally:
        holder.release()
    waiter.join(RUN_TIMEOUT)
    assert got == [True]
    assert True not in blocks.results               # granted by acquire()'s own retry, not _block
    assert signal.getsignal(signal.SIGALRM) is before


HOLD = """
import sys
sys.path.insert(0, sys.argv[1])
from gitlane.shared import locks
lock = locks.acquire(sys.argv[2], locks.holder_line("other", "git commit -q"), "test lock", lambda: 5.0)
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def holder_process(path: str) -> Iterator[subprocess.Popen]:
    """Another process holding the lock until a line arrives on its stdin."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(ROOT / "src"), path], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline() == "held\n"
    yield p
    p.kill()
    p.wait()


def test_waiting_for_another_process_says_who_holds_the_lock(path: str, blocks: Blocks, holder_process,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(locks, "NOTICE_AFTER", 0.0)       # say it at once
    seen: dict[str, object] = {}

    def release() -> None:
        holder_process.stdin.write("go\n")
        holder_process.stdin.flush()
    helper = release_once_blocked(blocks, threading.get_native_id(), release, seen)
    with locks.acquire(path, "me", "test lock", timeout(RUN_TIMEOUT)) as got:
        helper.join(RUN_TIMEOUT)
        assert "error" not in seen, seen["error"]
        assert seen["in_flock"] == (got.fd, fcntl.LOCK_EX)
        assert blocks.results[-1] is True
    assert holder_process.wait(RUN_TIMEOUT) == 0
    err = capfd.readouterr().err
    assert err.startswith(f"gitlane: waiting for test lock, held by session other (pid {holder_process.pid}, "
                          "`git commit -q`, for "), err
    assert err.count("gitlane: waiting for") == 1


FASTENERS = """
import sys, fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
ok = lock.acquire(blocking=False)
print("held" if ok else "busy", flush=True)
if ok:
    sys.stdin.readline()
"""


def test_a_fasteners_holder_excludes_us_and_we_it(path: str, blocks: Blocks) -> None:
    """fasteners takes only the record lock (lockf): there is no flock to
    sleep on, so _block gets the flock, fails the lockf and returns False
    until the record lock is free."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", FASTENERS, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == "held\n"
        got: list[int] = []

        def wait() -> None:
            with locks.acquire(path, "me", "test lock", timeout(RUN_TIMEOUT)) as lock:
                got.append(lock.fd)
                done.wait(RUN_TIMEOUT)
        done = threading.Event()
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        blocks.wait_result(False)
        assert got == []
        assert not locks.is_held(path)          # no flock is held: only the record lock excludes us
        p.stdin.write("go\n")                   # type: ignore[union-attr]
        p.stdin.flush()                         # type: ignore[union-attr]
        assert p.wait(RUN_TIMEOUT) == 0
        end = time.monotonic() + RUN_TIMEOUT
        while not got:
            assert time.monotonic() < end and waiter.is_alive()
            time.sleep(0.001)
        # while we hold it, fasteners in another process is refused
        q = subprocess.run([sys.executable, "-c", FASTENERS, path], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
        assert q.stdout == "busy\n", q.stderr
        done.set()
        waiter.join(RUN_TIMEOUT)
    finally:
        p.kill()
        p.wait()


def _fasteners_try(path: str) -> str:
    """Another process's fasteners attempt, without waiting: "held" or "busy"."""
    q = subprocess.run([sys.executable, "-c", FASTENERS, path], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    return q.stdout


def test_single_instance_excludes_other_processes_and_is_not_inherited(path: str) -> None:
    """single_instance is fasteners' record lock: another process is refused
    while we hold it, and a child we started while holding it does not keep
    it (unlike locks.acquire, whose flock a git child keeps)."""
    from gitlane.git import proc
    solo = locks.single_instance(path, "test work", None)
    assert solo is not None
    child = proc.start([shutil.which("sleep") or "/bin/sleep", "600"], os.environ)  # started as git is
    try:
        assert _fasteners_try(path) == "busy\n"
        solo.release()
        assert os.waitpid(child.pid, os.WNOHANG) == (0, 0)   # our child still runs ...
        assert _fasteners_try(path) == "held\n"             # ... and holds nothing
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_single_instance_says_it_waits_and_times_out(path: str, capfd: pytest.CaptureFixture[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", FASTENERS, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == "held\n"
        assert locks.single_instance(path, "test work", None) is None   # no wait asked for
        with pytest.raises(Fatal) as exc:
            locks.single_instance(path, "test work", timeout(0.0))
        assert exc.value.code == 75
        assert exc.value.what == "timed out after 0s waiting for test work"
        assert capfd.readouterr().err == "gitlane: waiting for test work\n"
    finally:
        p.kill()
        p.wait()
    with locks.single_instance(path, "test work", timeout(0.0)) as solo:      # free again: taken at once
        assert solo is not None
        assert _fasteners_try(path) == "busy\n"
    assert _fasteners_try(path) == "held\n"
    assert capfd.readouterr().err == ""


# --- what a lock is ------------------------------------------------------------------------

def test_a_passed_descriptor_keeps_the_lock_until_the_child_exits(path: str, blocks: Blocks) -> None:
    """pass_fds: git holds our lock for as long as it runs, even after we
    let go (or are killed), and the kernel drops it when the child dies."""
    lock = locks.acquire(path, "me", "test lock", timeout(1.0))
    child = subprocess.Popen(["sleep", "600"], pass_fds=[lock.fd])
    try:
        lock.release()
        assert lock.fd == -1
        assert locks.is_held(path)
        with pytest.raises(Fatal):
            locks.acquire(path, "other", "test lock", timeout(0.1))
        assert blocks.calls                     # it did wait, asleep in flock
    finally:
        child.kill()
        child.wait()
    assert not locks.is_held(path)
    locks.acquire(path, "other", "test lock", timeout(1.0)).release()


def test_a_dead_holder_never_leaves_a_stale_lock(path: str, blocks: Blocks, holder_process) -> None:  # type: ignore[no-untyped-def]
    assert locks.is_held(path)
    holder_process.kill()
    holder_process.wait()
    assert os.path.exists(path)                 # the file stays (never unlinked) ...
    assert not locks.is_held(path)              # ... but nothing holds it
    with locks.acquire(path, "me", "test lock", timeout(1.0)):
        pass
    assert blocks.calls == []                   # taken at once, no wait


def test_shared_holders_coexist_and_exclude_a_writer(path: str, blocks: Blocks) -> None:
    writer = locks.acquire(path, locks.holder_line("last-writer", "commit"), "test lock", timeout(1.0))
    writer.release()
    r1 = locks.acquire(path, "ignored", "test lock", timeout(1.0), shared=True)
    r2 = locks.acquire(path, "ignored", "test lock", timeout(1.0), shared=True)
    assert blocks.calls == []                   # readers never wait for readers
    assert locks.read_holder(path)["session"] == "last-writer"   # type: ignore[index]
    with pytest.raises(Fatal):
        locks.acquire(path, "w", "test lock", timeout(0.1))
    assert blocks.calls and blocks.calls[-1][2] is False
    r1.release()
    r2.release()
    with locks.acquire(path, locks.holder_line("next", "x"), "test lock", timeout(1.0)):
        assert locks.read_holder(path)["session"] == "next"     # type: ignore[index]


def test_a_reader_waits_for_a_writer(path: str, blocks: Blocks) -> None:
    writer = locks.acquire(path, "w", "test lock", timeout(1.0))
    seen: dict[str, object] = {}
    helper = release_once_blocked(blocks, threading.get_native_id(), writer.release, seen)
    with locks.acquire(path, "r", "test lock", timeout(RUN_TIMEOUT), shared=True) as got:
        helper.join(RUN_TIMEOUT)
        assert "error" not in seen, seen["error"]
        assert seen["in_flock"] == (got.fd, fcntl.LOCK_SH)
        assert blocks.calls[0][2] is True


def test_holder_line_is_one_line_and_replaced_by_each_writer(path: str) -> None:
    with locks.acquire(path, locks.holder_line("s1", "git commit -m 'a\nb'"), "test lock", timeout(1.0)):
        pass
    with locks.acquire(path, locks.holder_line("s2", "git add x"), "test lock", timeout(1.0)):
        with open(path, "rb") as f:
            data = f.read()
    assert data.count(b"\n") == 1 and b"s1" not in data
    info = locks.read_holder(path)
    assert info is not None and (info["pid"], info["session"], info["command"]) == (str(os.getpid()), "s2", "git add x")
    line = locks.holder_line("s1", "x" * 500)
    assert line.split("\t")[3] == "x" * 200


@pytest.mark.parametrize("content, described", [
    (None, "an unknown process"),
    (b"", "an unknown process"),
    (b"garbage\n", "an unknown process"),
    (b"42\ts1\tnot-a-time\tgit commit\n", "session s1 (pid 42, `git commit`, for ?)"),
])
def test_describe_holder(tmp_path: Path, content: bytes | None, described: str) -> None:
    p = tmp_path / "lock"
    if content is not None:
        p.write_bytes(content)
    assert locks.describe_holder(str(p)) == described


def test_describe_holder_gives_the_age(tmp_path: Path) -> None:
    p = tmp_path / "lock"
    p.write_text(f"42\ts1\t{time.time() - 90:.3f}\tgit commit\n")
    text = locks.describe_holder(str(p))
    assert text.startswith("session s1 (pid 42, `git commit`, for 9") and text.endswith("s)")


def test_is_held(path: str, tmp_path: Path) -> None:
    assert not locks.is_held(str(tmp_path / "missing"))
    with locks.acquire(path, "me", "test lock", timeout(1.0)):
        assert locks.is_held(path)
    assert not locks.is_held(path)


def test_a_lock_in_an_unwritable_place_is_read_only() -> None:
    probe = "/sys/gitlane-unit-test.lock"
    try:
        os.close(os.open(probe, os.O_RDWR | os.O_CREAT))
    except OSError:
        pass
    else:
        os.unlink(probe)
        pytest.skip("/sys is writable here")
    with pytest.raises(ReadOnly) as exc:
        locks.acquire(probe, "me", "test lock", timeout(1.0))
    assert exc.value.what.startswith(f"cannot write gitlane state at {probe}: ")


# --- the timeout setting ------------------------------------------------------------------

@pytest.mark.parametrize("env, config, want", [
    ("5", None, 5.0),
    ("0.5", "9", 0.5),                          # the environment wins
    ("-3", None, 0.0),
    ("soon", None, locks.DEFAULT_TIMEOUT),
    (None, "7", 7.0),
    (None, "never", locks.DEFAULT_TIMEOUT),
    (None, None, locks.DEFAULT_TIMEOUT),
])
def test_timeout(git, lane, monkeypatch: pytest.MonkeyPatch, env: str | None, config: str | None,  # type: ignore[no-untyped-def]
                 want: float) -> None:
    monkeypatch.delenv("GITLANE_LOCK_TIMEOUT", raising=False)
    if env is not None:
        monkeypatch.setenv("GITLANE_LOCK_TIMEOUT", env)
    if config is not None:
        lane.plain("config", "lane.lockTimeout", config)
    assert locks.timeout(git) == want


def test_timeout_is_asked_for_only_when_we_must_wait(path: str) -> None:
    asked: list[int] = []

    def ask() -> float:
        asked.append(1)
        return 0.05
    with locks.acquire(path, "me", "test lock", ask):
        assert asked == []
        with pytest.raises(Fatal):
            locks.acquire(path, "other", "test lock", ask)
    assert asked == [1]


def test_blocked_in_flock_tells_a_sleeping_thread_from_a_running_one(tmp_path: Path) -> None:
    """The harness itself can fail: a thread in flock is seen, one in sleep() is not."""
    p = tmp_path / "f"
    a = os.open(p, os.O_RDWR | os.O_CREAT)
    b = os.open(p, os.O_RDWR)
    fcntl.flock(a, fcntl.LOCK_EX)
    tids: list[int] = []
    stop = threading.Event()

    def in_flock() -> None:
        tids.append(threading.get_native_id())
        fcntl.flock(b, fcntl.LOCK_SH)

    def in_wait() -> None:
        tids.append(threading.get_native_id())
        stop.wait(RUN_TIMEOUT)
    t1 = threading.Thread(target=in_flock, daemon=True)
    t1.start()
    t2 = threading.Thread(target=in_wait, daemon=True)
    t2.start()
    try:
        assert wait_until_blocked_in_flock(t1.native_id) == (b, fcntl.LOCK_SH)
        assert blocked_in_flock(t2.native_id) is None
        assert blocked_in_flock(threading.get_native_id()) is None       # running: reading /proc
    finally:
        os.close(a)
        stop.set()
        t1.join(RUN_TIMEOUT)
        t2.join(RUN_TIMEOUT)
        os.close(b)
