"""Inter-process locks that cannot go stale.

Each lock is one file locked two ways through one descriptor:
- flock(2), which belongs to the open file description. We pass that fd to
  the git child (pass_fds), so the lock stays held while git runs even if
  the shim itself is SIGKILLed (docs/DESIGN.md, "Locks"), and the kernel drops it when the
  last holder dies: there is never a stale gitlane lock to clean up.
- fcntl(2) record locks (lockf), the primitive fasteners.InterProcessLock
  uses, so a tool holding the file with fasteners excludes us and we it.
  Record locks belong to the process and are not inherited, which is why
  they cannot be the only lock.
The file is never unlinked and only truncated by the winner (filelock's rules).

single_instance() is the other kind: fasteners' InterProcessLock, for work
that one process at a time must do and that no git child ever needs to hold
(`doctor --fix`, `gc`, the background .git/index retry). Its record lock
belongs to this process alone and is not inherited by the children we spawn.
"""
from __future__ import annotations

import errno
import fcntl
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from gitlane.git.verbs import Git

NOTICE_AFTER = 1.0
DEFAULT_TIMEOUT = 120.0


class Lock:
    __slots__ = ("path", "fd")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops our flock (unless a child still has it) and the lockf
            self.fd = -1

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open(path: str) -> int:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            from gitlane.errors import ReadOnly
            raise ReadOnly(path, exc.strerror or "permission denied") from None
        raise


def _try(fd: int, shared: bool = False) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    try:
        fcntl.lockf(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        fcntl.flock(fd, fcntl.LOCK_UN)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


class Yielded(Exception):
    """acquire() gave up because `yield_to` said so."""


def acquire(path: str, holder: str, what: str, timeout: Callable[[], float],
            shared: bool = False, yield_to: Callable[[dict[str, str] | None], bool] | None = None) -> Lock:
    """Wait, asleep in flock (_block), up to timeout() seconds (only asked
    for when we must wait). After NOTICE_AFTER seconds say once who holds it. Shared
    holders (readers) leave the holder line alone: it names the last writer.
    Each time the lock is found busy, `yield_to(holder)` may end the wait:
    Yielded is raised."""
    fd = _open(path)
    start = time.monotonic()
    limit, noticed = None, False
    while not _try(fd, shared):
        if yield_to is not None and yield_to(read_holder(path)):
            os.close(fd)
            raise Yielded(path)
        waited = time.monotonic() - start
        if limit is None:
            limit = timeout()
        if waited >= limit:
            os.close(fd)
            from gitlane.errors import Fatal
            raise Fatal(f"timed out after {limit:g}s waiting for {what}, held by {describe_holder(path)}",
                        "nothing was changed; retry when it finishes, raise `git config lane.lockTimeout`,\n"
                        "or stop the holder if it is stuck (`gitlane doctor` shows it)", code=75)
        if not noticed and waited >= NOTICE_AFTER:
            sys.stderr.write(f"gitlane: waiting for {what}, held by {describe_holder(path)}\n")
            noticed = True
        until = limit if noticed else min(limit, NOTICE_AFTER)
        if _block(fd, shared, max(until - waited, 0.001)):
            break
    if not shared:
        _write_holder(fd, holder)
    return Lock(path, fd)


class _Expired(Exception):
    pass


def _expire(signum: int, frame: object) -> None:
    raise _Expired()


def _block(fd: int, shared: bool, seconds: float) -> bool:
    """Sleep in flock(2) itself, at most `seconds`, then take the lockf as
    _try does. The kernel wakes us the moment the holder lets go, where a
    polling sleep would oversleep: under many committing sessions the global
    lock would sit idle between holders. SIGALRM bounds the wait."""
    import _signal
    try:
        old = _signal.signal(_signal.SIGALRM, _expire)
    except ValueError:  # not the main thread: no signals here, so poll
        time.sleep(min(seconds, 0.005))
        return False
    try:
        try:
            _signal.setitimer(_signal.ITIMER_REAL, seconds)
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
    except _Expired:
        return False  # even if the flock was granted just then, the caller's _try retakes it
    finally:
        _signal.signal(_signal.SIGALRM, old)
    if _try(fd, shared):  # the flock is ours already; this adds the lockf
        return True
    time.sleep(0.005)  # a record-lock holder (fasteners) has no flock to sleep on
    return False


def timeout(git: "Git") -> float:
    """`GITLANE_LOCK_TIMEOUT` or `lane.lockTimeout` (seconds), asked of git
    only once we have to wait."""
    raw = os.environ.get("GITLANE_LOCK_TIMEOUT") or git.config("lane.lockTimeout")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def holder_line(session: str, command: str) -> str:
    return f"{os.getpid()}\t{session}\t{time.time():.3f}\t{command[:200]}"


def _write_holder(fd: int, holder: str) -> None:
    data = holder.replace("\n", " ").encode("utf-8", "surrogateescape") + b"\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:
        pass  # a full disk must not stop us from locking; the holder is informational


def read_holder(path: str) -> dict[str, str] | None:
    try:
        with open(path, "rb") as f:
            line = f.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    parts = line.split("\t", 3)
    if len(parts) != 4:
        return None
    return dict(zip(("pid", "session", "since", "command"), parts))


def describe_holder(path: str) -> str:
    info = read_holder(path)
    if not info:
        return "an unknown process"
    try:
        age = f"{time.time() - float(info['since']):.1f}s"
    except ValueError:
        age = "?"
    return f"session {info['session']} (pid {info['pid']}, `{info['command']}`, for {age})"


def is_held(path: str) -> bool:
    """True when some live process holds the flock on path."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


# --- looking at a lock without taking it (`gitlane top`) -----------------------------

def probe(path: str) -> tuple[int | None, tuple[int, int] | None]:
    """(pid holding the record lock or None, (device, inode) or None when the
    file is not there), without taking anything: fcntl(F_GETLK) reports the
    holder of a conflicting lockf, and every holder of ours holds one (_try).
    Closing our descriptor drops only locks this process holds: none."""
    import struct
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None, None
    try:
        st = os.fstat(fd)
        fmt = "hhqqi"  # struct flock on Linux and the BSDs' field order, native alignment
        query = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        try:
            kind, _, _, _, pid = struct.unpack(fmt, fcntl.fcntl(fd, fcntl.F_GETLK, query))
        except OSError:
            return None, (st.st_dev, st.st_ino)
        return (pid if kind != fcntl.F_UNLCK and pid > 0 else None), (st.st_dev, st.st_ino)
    finally:
        os.close(fd)


def waiters(files: "set[tuple[int, int]]", table: str | None = None) -> dict[tuple[int, int], list[int]]:
    """{(device, inode): [pids asleep waiting for a lock on that file]}, from
    /proc/locks (Linux; empty elsewhere), whose `->` lines are blocked
    requests: reading it takes no lock."""
    if table is None:
        try:
            with open("/proc/locks", encoding="ascii", errors="replace") as f:
                table = f.read()
        except OSError:
            return {}
    out: dict[tuple[int, int], list[int]] = {}
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[1] != "->":
            continue
        try:
            pid = int(fields[5])
            major, minor, inode = fields[6].split(":")
            key = (os.makedev(int(major, 16), int(minor, 16)), int(inode))
        except ValueError:
            continue
        if key in files and pid not in out.setdefault(key, []):
            out[key].append(pid)
    return {k: v for k, v in out.items() if v}
class Solo:
    """A held single_instance() lock: `with` it, or release() it."""
    __slots__ = ("_lock",)

    def __init__(self, lock: object) -> None:
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()  # type: ignore[attr-defined]
            self._lock = None

    def __enter__(self) -> "Solo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def single_instance(path: str, what: str, timeout: Callable[[], float] | None) -> Solo | None:
    """The fasteners lock on path. timeout None: do not wait (None when it is
    held). Otherwise say once on stderr that we wait for `what`, wait up to
    timeout() seconds (asked for only when we must wait), and fail (Fatal,
    exit 75) after that."""
    import fasteners  # only maintenance commands and the retry pay for it
    os.close(_open(path))  # the folder, no symlink, ReadOnly as for every lock (before any record lock)
    lock = fasteners.InterProcessLock(path)
    if lock.acquire(blocking=False):
        return Solo(lock)
    if timeout is None:
        return None
    sys.stderr.write(f"gitlane: waiting for {what}\n")
    sys.stderr.flush()
    limit = timeout()
    if lock.acquire(timeout=limit):
        return Solo(lock)
    from gitlane.errors import Fatal
    raise Fatal(f"timed out after {limit:g}s waiting for {what}",
                "nothing was changed; retry when it finishes, or raise `git config lane.lockTimeout`", code=75)
