"""Issue 19: `gitlane top`, in a real terminal (a pty, and tmux when it is
installed) and as a one-shot snapshot when stdout is a pipe. Every wait is on
what the screen shows or on the kernel's word that a process sleeps in
flock(2), bounded by a deadline, never a sleep."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, shim_env
from gitlane.testing.processes import wait_until_blocked_in_flock

GITLANE = str(SHIM / "gitlane")
DEADLINE = 60.0
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>78]")


def snapshot(lane: Lane) -> str:
    res = subprocess.run([GITLANE, "top"], cwd=lane.path, capture_output=True, text=True, env=shim_env(),
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert "\x1b[" not in res.stdout  # plain text when not a terminal
    return res.stdout


def two_sessions(lane: Lane, owner_proc) -> tuple[int, int]:
    a, b = owner_proc().pid, owner_proc().pid
    lane.write("a.txt", "a\n")
    lane.git("add", "a.txt", session="alpha", pid=a)
    lane.git("commit", "-q", "-m", "alpha's first", session="alpha", pid=a)
    lane.write("b.txt", "b\n")
    lane.git("add", "b.txt", session="beta", pid=b)
    subprocess.run([GITLANE, "reserve", "docs/**"], cwd=lane.path, env=shim_env("beta", b), check=True,
                   capture_output=True)
    return a, b


def test_snapshot_when_stdout_is_not_a_terminal(lane: Lane, owner_proc) -> None:
    a, b = two_sessions(lane, owner_proc)
    out = snapshot(lane)
    assert re.search(rf"^alpha\s+live\s+{a}\s", out, re.M), out
    assert re.search(rf"^beta\s+live\s+{b}\s", out, re.M), out
    assert "alpha's first" in out and "staged    b.txt" in out and "reserved  docs/**" in out
    assert " on main " in out or " on master " in out
    assert "locks: nobody holds or waits" in out


def test_refusal_feed_shows_a_hook_denial(lane: Lane, owner_proc) -> None:
    import json
    a, b = two_sessions(lane, owner_proc)
    payload = {"session_id": "gamma", "cwd": str(lane.path), "hook_event_name": "PreToolUse",
               "tool_name": "Edit", "tool_input": {"file_path": str(lane.path / "b.txt")}}
    res = subprocess.run([GITLANE, "hook", "pre-tool-use"], cwd=lane.path, input=json.dumps(payload), text=True,
                         capture_output=True, env=shim_env(), timeout=60)
    assert json.loads(res.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    out = snapshot(lane)
    assert "refusals and overrides" in out
    assert re.search(r"gamma\s+refuse\s+Edit b\.txt", out), out


def test_lock_wait_shows_holder_waiter_and_ages(lane: Lane, owner_proc) -> None:
    a, b = two_sessions(lane, owner_proc)
    lock = lane.path / ".git" / "gitlane" / "global.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from gitlane.shared import locks; "
         "l = locks.acquire(sys.argv[1], locks.holder_line('alpha', 'git commit -m held'), 'the lock', lambda: 60.0); "
         "print('held', flush=True); sys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        waiter = subprocess.Popen(["git", "commit", "-q", "-m", "beta waits"], cwd=lane.path,
                                  env=shim_env("beta", b), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until_blocked_in_flock(waiter.pid, waiter.pid)
        out = snapshot(lane)
        assert re.search(rf"global lock: held by alpha \(pid {holder.pid}, `git commit -m held`, for \d", out), out
        assert re.search(rf"waiting\s+beta \(pid {waiter.pid}, for \d", out), out
    finally:
        holder.communicate("")
    assert waiter.wait(timeout=60) == 0
    assert "beta waits" in lane.out("log", "-1", "--format=%s")


class Screen:
    """gitlane top on a pty of 140x40, its output read as it comes."""

    def __init__(self, lane: Lane) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        env = {**shim_env(), "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
        self.proc = subprocess.Popen([GITLANE, "top", "--interval", "30"], cwd=lane.path, env=env,
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def wait_for(self, text: str) -> None:
        end = time.monotonic() + DEADLINE
        while text.encode() not in ANSI.sub(b"", self.seen):
            left = end - time.monotonic()
            assert left > 0, f"never shown: {text!r}\n{ANSI.sub(b'', self.seen)[-3000:].decode(errors='replace')}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        self.seen = self.seen[-200000:]

    def mark(self) -> None:
        self.seen = b""

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            os.close(self.master)


def test_live_view_in_a_pty_redraws_on_change_takes_no_lock_and_quits_on_q(lane: Lane, owner_proc) -> None:
    a, b = two_sessions(lane, owner_proc)
    screen = Screen(lane)
    try:
        screen.wait_for("staged    b.txt")
        screen.wait_for("alpha's first")
        with open("/proc/locks") as f:
            assert not [ln for ln in f if f" {screen.proc.pid} " in ln]  # top holds no lock
        screen.mark()
        lane.write("c.txt", "c\n")
        lane.git("add", "c.txt", session="beta", pid=b)  # works while top looks (interval 30 s: a change redraws)
        screen.wait_for("staged    c.txt")
        lane.git("commit", "-q", "-m", "beta commits while watched", session="beta", pid=b)
        screen.wait_for("beta commits while watched")
        screen.press("q")
        assert screen.close() == 0
    finally:
        if screen.proc.poll() is None:
            screen.proc.kill()
            screen.proc.wait()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_live_view_in_tmux(lane: Lane, owner_proc, tmp_path: Path) -> None:
    a, b = two_sessions(lane, owner_proc)
    sock = str(tmp_path / "tmux.sock")
    env = shim_env()
    tmux = ["tmux", "-S", sock]
    command = f"cd '{lane.path}' && exec '{GITLANE}' top --interval 30"
    subprocess.run([*tmux, "-f", "/dev/null", "new-session", "-d", "-x", "140", "-y", "40", command], env=env,
                   check=True)

    def pane() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p"], env=env, capture_output=True, text=True).stdout

    def wait_for(text: str) -> str:
        end = time.monotonic() + DEADLINE
        while text not in (shown := pane()):
            assert time.monotonic() < end, f"never shown: {text!r}\n{shown}"
            time.sleep(0.02)  # polling the pane, bounded by the deadline (as processes.wait_until_* do)
        return shown

    try:
        shown = wait_for("staged    b.txt")
        assert re.search(rf"alpha\s+live\s+{a}", shown), shown
        lane.write("d.txt", "d\n")
        lane.git("add", "d.txt", session="alpha", pid=a)
        wait_for("staged    d.txt")
        subprocess.run([*tmux, "send-keys", "q"], env=env, check=True)
        end = time.monotonic() + DEADLINE
        while subprocess.run([*tmux, "has-session"], env=env, capture_output=True).returncode == 0:
            assert time.monotonic() < end, "top did not quit on q"
            time.sleep(0.02)
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, capture_output=True)
