"""shared.locks."""
from __future__ import annotations

from pathlib import Path

import pytest


def test_waiting_for_a_lock_leaves_no_timer_or_handler_behind(tmp_path: Path) -> None:
    """locks._block bounds its sleep in flock with SIGALRM. A timer left
    armed would survive exec and kill git mid-write; a handler left behind
    would turn a later alarm into an exception."""
    import signal
    import threading

    from gitlane.shared import locks
    from gitlane.errors import Fatal
    path = str(tmp_path / "lock")
    holder = locks.acquire(path, "holder", "test lock", lambda: 1.0)
    threading.Timer(0.2, holder.release).start()
    before = signal.getsignal(signal.SIGALRM)
    with locks.acquire(path, "waiter", "test lock", lambda: 5.0):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is before
    holder2 = locks.acquire(path, "holder", "test lock", lambda: 1.0)
    try:
        with pytest.raises(Fatal):
            locks.acquire(path, "waiter", "test lock", lambda: 0.2)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is before
    finally:
        holder2.release()


def test_waiting_for_a_lock_off_the_main_thread(tmp_path: Path) -> None:
    """Signals are main-thread only: a waiter in another thread polls instead."""
    import threading

    from gitlane.shared import locks
    path = str(tmp_path / "lock")
    holder = locks.acquire(path, "holder", "test lock", lambda: 1.0)
    got: list[bool] = []

    def wait() -> None:
        with locks.acquire(path, "waiter", "test lock", lambda: 5.0):
            got.append(True)
    waiter = threading.Thread(target=wait)
    waiter.start()
    threading.Timer(0.2, holder.release).start()  # the waiter is usually asleep by then
    waiter.join(10)
    assert got == [True]
