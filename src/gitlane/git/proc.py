"""The one place that starts git children.

posix_spawn plus a poll loop instead of `subprocess`: subprocess costs ~13 ms to
import under `python -I -S`, more than the git call it would wrap.
"""
from __future__ import annotations

import os
try:  # `signal` wraps _signal in enums: ~4 ms of import we do not need
    import _signal as signal
except ImportError:  # pragma: no cover - other Pythons
    import signal  # type: ignore[no-redef]
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, NoReturn, Sequence

_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_TTY_SIGNALS = (signal.SIGINT, signal.SIGQUIT)
from gitlane import layout

_PYTHON_IGNORED = tuple(getattr(signal, name) for name in layout.CHILD_DEFAULT_SIGNALS)


class Result:
    __slots__ = ("rc", "out", "err")

    def __init__(self, rc: int, out: bytes, err: bytes) -> None:
        self.rc = rc
        self.out = out
        self.err = err


def run(argv: Sequence[str], env: Mapping[str, str] | None = None,
        input: bytes | None = None) -> Result:
    """Run argv to completion, capturing stdout and stderr."""
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    if input is None:
        r_in, w_in = os.open(os.devnull, os.O_RDONLY), -1
    else:
        r_in, w_in = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, r_in, 0), (os.POSIX_SPAWN_DUP2, w_out, 1),
               (os.POSIX_SPAWN_DUP2, w_err, 2)]
    try:
        pid = os.posix_spawn(argv[0], list(argv), env if env is not None else os.environ,
                             file_actions=actions, setsigdef=_PYTHON_IGNORED)
    finally:
        for fd in (r_in, w_out, w_err):
            os.close(fd)
    out, err = _communicate(r_out, r_err, w_in, input or b"")
    _, status = os.waitpid(pid, 0)
    return Result(os.waitstatus_to_exitcode(status), out, err)


class Child:
    """A git started in the background, for its exit code only."""
    __slots__ = ("pid",)

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


def start(argv: Sequence[str], env: Mapping[str, str]) -> Child:
    """Start argv with no input and its output discarded; reap it with wait()."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, null, fd) for fd in (0, 1, 2)]
        return Child(os.posix_spawn(argv[0], list(argv), env, file_actions=actions,
                                    setsigdef=_PYTHON_IGNORED))
    finally:
        os.close(null)


def _communicate(r_out: int, r_err: int, w_in: int, data: bytes) -> tuple[bytes, bytes]:
    import select  # not needed by the read path, which only execs
    chunks: dict[int, list[bytes]] = {r_out: [], r_err: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    if w_in >= 0:
        if data:
            poller.register(w_in, select.POLLOUT)
        else:
            os.close(w_in)
    open_fds = len(chunks) + (1 if w_in >= 0 and data else 0)
    view = memoryview(data)
    while open_fds:
        for fd, _ in poller.poll():
            if fd == w_in:
                try:
                    view = view[os.write(fd, view[:65536]):]
                except BrokenPipeError:
                    view = view[:0]
                if not view:
                    poller.unregister(fd)
                    os.close(fd)
                    open_fds -= 1
                continue
            block = os.read(fd, 65536)
            if block:
                chunks[fd].append(block)
            else:
                poller.unregister(fd)
                os.close(fd)
                open_fds -= 1
    return b"".join(chunks[r_out]), b"".join(chunks[r_err])


def call(argv: Sequence[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> int:
    """Run argv on our stdin/stdout/stderr and tty; return its raw wait status.

    Like a shell: while git runs we ignore the tty's SIGINT/SIGQUIT (git gets
    them itself, being in the same process group) and forward the signals a
    supervisor sends to us alone.
    """
    for fd in pass_fds:
        os.set_inheritable(fd, True)
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _TTY_SIGNALS}
    # Hold the forwarded signals until their handlers know git's pid: one that
    # arrived in between would kill us and leave git running unsupervised.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
    try:
        pid = os.posix_spawn(argv[0], list(argv), env, setsigdef=_TTY_SIGNALS + _FORWARDED + _PYTHON_IGNORED,
                             setsigmask=mask)
        for sig in _FORWARDED:
            signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _, status = os.waitpid(pid, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for sig in _FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return status


def exit_like(status: int) -> NoReturn:
    """Leave with the same wait status as the child: its exit code, or its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # cannot be caught: always default
            signal.signal(sig, signal.SIG_DFL)
        sys.stdout.flush()
        os.kill(os.getpid(), sig)
    sys.stdout.flush()
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def exec_(argv: Sequence[str], env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> NoReturn:
    for fd in pass_fds:
        os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    for sig in _PYTHON_IGNORED:
        signal.signal(sig, signal.SIG_DFL)
    os.execve(argv[0], list(argv), env)
