"""Real processes for tests and benchmarks: children started in their own
process group and killed at known points, hooks that block on a FIFO until
released, and the small readers that check what survived (blobs in an
index, in a tree, in `gitlane export`).

Moved here from the reliability suite so that tests (tests/e2e/test_kills.py
and friends, tests/unit/test_locks.py) and benchmarks share one harness.
Everything is real: real git, real signals, real files; nothing here mocks.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Sequence

import psutil

from gitlane.testing.lane import SHIM, Lane, shim_env

LOCK_TIMEOUT = "20"
RUN_TIMEOUT = 60.0          # a hung command fails the test instead of hanging it
OLD = 3600.0                # "older than the grace period" (shared.git_locks.GRACE is 2 s)


# --- environments ----------------------------------------------------------------

def plain_env() -> dict[str, str]:
    """This environment with every GITLANE_ variable removed: no session."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")}


def lane_env(session: str | None = None, pid: int | None = None, **extra: str) -> dict[str, str]:
    """The shim first on PATH, as `session` owned by `pid`, with a lock
    timeout short enough that a stuck lock fails a test instead of hanging it."""
    return shim_env(session, pid, {"GITLANE_LOCK_TIMEOUT": LOCK_TIMEOUT, **extra})


# --- children --------------------------------------------------------------------

class Running:
    """A child started in its own process group, its output read by threads
    (so that an orphaned grandchild holding the pipes cannot block us)."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.ended: float | None = None
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err), daemon=True)]
        self._threads.append(threading.Thread(target=self._reap, daemon=True))
        for t in self._threads:
            t.start()

    def _reap(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()

    @staticmethod
    def _pump(stream, sink: list[bytes]) -> None:  # type: ignore[no-untyped-def]
        for line in iter(stream.readline, b""):
            sink.append(line)
        stream.close()

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode(errors="replace")

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode(errors="replace")

    def wait_stderr(self, text: str, deadline: float = RUN_TIMEOUT) -> None:
        end = time.monotonic() + deadline
        while text not in self.stderr:
            assert self.proc.poll() is None or text in self.stderr, \
                f"{self.argv} ended (rc {self.proc.returncode}) without printing {text!r}: {self.stderr}"
            assert time.monotonic() < end, f"{self.argv} did not print {text!r} in {deadline}s: {self.stderr}"
            time.sleep(0.01)

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        """Wait for the child (not its orphans); the pipes are drained when
        every holder is gone."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            self.proc.wait()
            raise AssertionError(f"{self.argv} did not finish in {timeout}s: {self.stderr}") from None

    def drain(self, timeout: float = RUN_TIMEOUT) -> None:
        for t in self._threads:
            t.join(timeout)
            assert not t.is_alive(), f"something still holds the output pipes of {self.argv}"

    def git_children(self) -> list[psutil.Process]:
        try:
            kids = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [k for k in kids if proc_name(k) == "git"]

    def group(self) -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == self.pid:
                    found.append(p)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    def kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Started:
    """Start children through this; kill and reap every one's process group
    with close() (the `running` fixture of tests/conftest.py)."""

    def __init__(self) -> None:
        self.children: list[Running] = []

    def __call__(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> Running:
        r = Running(argv, cwd, env)
        self.children.append(r)
        return r

    def close(self) -> None:
        for r in self.children:
            r.kill_group()
            r.proc.wait()


def git_verb(argv: list[str]) -> str:
    """`commit` for [git, commit, -q], `write-tree` for the shim's own
    [git, -C, top, --git-dir=.., --work-tree=.., write-tree]."""
    skip = False
    for word in argv[1:]:
        if skip:
            skip = False
        elif word in ("-C", "-c"):
            skip = True
        elif not word.startswith("-"):
            return word
    return "?"


def kill_shim(r: Running) -> bool:
    """SIGKILL the shim unless it has already ended (and been reaped)."""
    if r.ended is not None or r.proc.returncode is not None:
        return False
    try:
        os.kill(r.pid, signal.SIGKILL)     # a zombie not yet reaped: harmless
    except ProcessLookupError:
        return False
    return True


def direct_child(pid: int) -> int | None:
    """A child of pid that is a git process, cheaply (/proc/PID/task/PID/children)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except (OSError, ValueError):
        return None
    for kid in kids:
        argv = cmdline(kid)
        if argv and os.path.basename(argv[0]) == "git":
            return kid
    return None


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [w.decode(errors="replace") for w in f.read().split(b"\0") if w]
    except OSError:
        return []


def proc_name(p: psutil.Process) -> str:
    try:
        return p.name()
    except psutil.Error:
        return ""


def wait_gone(procs: Sequence[psutil.Process], deadline: float = RUN_TIMEOUT) -> None:
    gone, alive = psutil.wait_procs(list(procs), timeout=deadline)
    for p in alive:
        p.kill()
    assert not alive, f"still running after {deadline}s: {alive}"


def wait_for_file(path: Path, r: Running, deadline: float = RUN_TIMEOUT) -> None:
    end = time.monotonic() + deadline
    while not path.exists():
        assert r.proc.poll() is None, f"{r.argv} ended (rc {r.proc.returncode}) first: {r.stderr}"
        assert time.monotonic() < end, f"{path} never appeared: {r.stderr}"
        time.sleep(0.005)


# --- a thread asleep in flock(2) ---------------------------------------------------

# flock's syscall number, for reading /proc/<pid>/task/<tid>/syscall.
_FLOCK_NR = {"x86_64": 73, "aarch64": 32, "riscv64": 32, "i686": 143, "i386": 143}


def blocked_in_flock(tid: int, pid: int | None = None) -> tuple[int, int] | None:
    """(fd, operation) when thread `tid` of process `pid` (this one by
    default) sleeps in flock(2) right now; None when it does not (running, or
    in another call). Read from /proc: the kernel's own word, no guessing
    from timing."""
    base = f"/proc/{pid or os.getpid()}/task/{tid}"
    try:
        with open(f"{base}/syscall") as f:
            fields = f.read().split()
    except OSError:
        fields = []
    nr = _FLOCK_NR.get(platform.machine())
    if fields and fields[0].isdigit() and nr is not None:
        return (int(fields[1], 16), int(fields[2], 16)) if int(fields[0]) == nr else None
    try:  # no syscall file (or an unknown machine): the wait channel tells
        with open(f"{base}/wchan") as f:
            wchan = f.read().strip()
    except OSError:
        return None
    return (-1, -1) if "lock" in wchan and "inode" in wchan else None


def wait_until_blocked_in_flock(tid: int, pid: int | None = None, deadline: float = RUN_TIMEOUT) -> tuple[int, int]:
    """Wait until thread `tid` sleeps in flock(2); fail after `deadline`."""
    end = time.monotonic() + deadline
    while True:
        found = blocked_in_flock(tid, pid)
        if found is not None:
            return found
        assert time.monotonic() < end, f"thread {tid} never blocked in flock(2)"
        time.sleep(0.002)


# --- the gitlane CLI and git through the shim -----------------------------------------

def gitlane(lane: Lane, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SHIM / "gitlane"), *args], cwd=lane.path, capture_output=True,
                          env=env or lane_env(), timeout=RUN_TIMEOUT)


def audit(lane: Lane, event: str) -> list[dict]:  # type: ignore[type-arg]
    res = gitlane(lane, "log", "--json", "-n", "1000", "--event", event)
    assert res.returncode == 0, res.stderr.decode()
    return json.loads(res.stdout)


def run_in(lane: Lane, session: str, pid: int, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SHIM / "git"), *args], cwd=lane.path, capture_output=True,
                          env=lane_env(session, pid, **extra), timeout=RUN_TIMEOUT)


def stage(lane: Lane, session: str, pid: int, files: dict[str, str]) -> None:
    """Write files and `git add` them in `session`; fail on any error."""
    for rel, text in files.items():
        lane.write(rel, text)
    res = run_in(lane, session, pid, "add", "--", *files)
    assert res.returncode == 0, res.stderr.decode()


def export(lane: Lane, session: str) -> bytes:
    res = gitlane(lane, "export", session)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


# --- blobs and trees ----------------------------------------------------------------

def blob_in_index(lane: Lane, index: Path, path: str) -> bytes | None:
    res = lane.plain("show", f":{path}", index=str(index), check=False)
    return res.stdout if res.returncode == 0 else None


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_blobs(lane: Lane, rev: str = "HEAD") -> dict[str, str]:
    """{path: blob id} of every file in rev, in one git call."""
    out = lane.plain("ls-tree", "-r", "-z", "--full-tree", rev).stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b" ")[2].split(b"\t")[0].decode()
            for rec in out.split(b"\0") if rec}


def index_blobs(lane: Lane, index: Path) -> dict[str, str]:
    out = lane.plain("ls-files", "-s", "-z", index=str(index), check=False).stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b" ")[1].decode() for rec in out.split(b"\0") if rec}


# --- hooks that stop at a known point -------------------------------------------------

class Gate:
    """A hook that blocks once, on a FIFO, so a kill lands at a known point."""

    def __init__(self, tmp: Path, name: str = "gate") -> None:
        self.fifo = tmp / f"{name}.fifo"
        self.ready = tmp / f"{name}.ready"
        self.once = tmp / f"{name}.once"
        os.mkfifo(self.fifo)

    def shell(self, fail_word: str = "fail") -> str:
        """sh code: the first run blocks until released; `release(fail_word)` makes it fail."""
        return (f"if rm '{self.once}' 2>/dev/null; then : > '{self.ready}'; read word < '{self.fifo}'; "
                f"[ \"$word\" != {fail_word} ] || exit 1; fi")

    def install(self, lane: Lane, hook: str, condition: str = "") -> None:
        path = lane.path / ".git" / "hooks" / hook
        body = self.shell()
        if condition:
            body = f"if {condition}; then {body}; fi"
        path.write_text(f"#!/bin/sh\n{body}\nexit 0\n")
        path.chmod(0o755)

    def arm(self) -> None:
        self.ready.unlink(missing_ok=True)
        self.once.write_text("")

    def release(self, word: str = "go") -> None:
        fd = os.open(self.fifo, os.O_WRONLY)   # the hook is already blocked reading
        try:
            os.write(fd, word.encode() + b"\n")
        finally:
            os.close(fd)


def age(path: Path, seconds: float = OLD) -> None:
    """Make path look `seconds` old (mtime and atime)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


# --- Claude Code's tools, as its hooks see them ------------------------------------------

def claude_hook(lane: Lane, event: str, payload: dict) -> None:  # type: ignore[type-arg]
    """One `gitlane hook EVENT` with a Claude Code payload on stdin."""
    res = subprocess.run([str(SHIM / "gitlane"), "hook", event], cwd=lane.path, input=json.dumps(payload).encode(),
                         capture_output=True, env=shim_env())
    assert (res.returncode, res.stderr) == (0, b""), res.stderr.decode()


def edit_tool(lane: Lane, sid: str, path: str, text: str) -> None:
    """Claude Code's Write tool: PreToolUse, the write, PostToolUse."""
    tool = {"tool_name": "Write", "tool_input": {"file_path": str(lane.path / path), "content": text}}
    claude_hook(lane, "pre-tool-use", {"session_id": sid, "cwd": str(lane.path),
                                       "hook_event_name": "PreToolUse", **tool})
    lane.write(path, text)
    claude_hook(lane, "post-tool-use", {"session_id": sid, "cwd": str(lane.path), "hook_event_name": "PostToolUse",
                                        "tool_response": {"filePath": path, "success": True}, **tool})


def bash_tool(lane: Lane, sid: str, script: str) -> None:
    """Claude Code's Bash tool: PreToolUse, a child shell, PostToolUse."""
    base = {"session_id": sid, "cwd": str(lane.path), "tool_name": "Bash", "tool_input": {"command": script}}
    claude_hook(lane, "pre-tool-use", {**base, "hook_event_name": "PreToolUse"})
    subprocess.run(["sh", "-c", script], cwd=lane.path, check=True, env={**shim_env(), "CLAUDE_CODE_SESSION_ID": sid})
    claude_hook(lane, "post-tool-use", {**base, "hook_event_name": "PostToolUse",
                                        "tool_response": {"stdout": "", "stderr": "", "interrupted": False,
                                                          "isImage": False}})
