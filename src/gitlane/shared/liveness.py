"""Is a session's owner process alive? Fail closed: a session is dead only
when that is provable (the pid is gone, or its create time differs, so the
pid was reused). AccessDenied and other doubts count as alive."""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

SHELLS = frozenset("""
sh bash zsh fish dash ksh mksh tcsh csh ash busybox env timeout nice nohup
stdbuf xargs time flock git git-lane gitlane
""".split())
CTIME_TOLERANCE = 0.05


def owner(env: Mapping[str, str]) -> tuple[int, float | None]:
    """The owning process: GITLANE_SESSION_PID if set, else the nearest
    ancestor that is not a shell (or a wrapper like env/timeout)."""
    raw = env.get("GITLANE_SESSION_PID", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw), create_time(int(raw))
    import psutil  # ~16 ms: only when we must walk the process tree
    proc = psutil.Process(os.getpid())
    try:
        for parent in proc.parents():
            try:
                if parent.name() not in SHELLS:
                    return parent.pid, parent.create_time()
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    ppid = os.getppid()
    return ppid, create_time(ppid)


def create_time(pid: int) -> float | None:
    """psutil's create time. On Linux we compute it exactly as psutil does
    (starttime / CLK_TCK + btime), which spares the 20 ms psutil import on
    the path that opens a new session."""
    fast = _proc_create_time(pid)
    if fast is not None:
        return fast
    import psutil
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _proc_create_time(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        with open("/proc/stat", "rb") as f:
            btime = next(line for line in f if line.startswith(b"btime"))
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return float(fields[19]) / ticks + float(btime.strip().split()[1])


def is_alive(pid: int | None, ctime: float | None) -> bool:
    if not pid:
        return True  # nothing recorded: we cannot prove it dead
    import psutil
    try:
        proc = psutil.Process(pid)
        if ctime is not None and abs(proc.create_time() - ctime) > CTIME_TOLERANCE:
            return False  # pid reused by another process
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # AccessDenied and friends: in doubt, alive
