"""Run gitlane's hot path under a profiler; used by bench/profile_shim.py.

    python -I -S bench/_profile_child.py OUT SRC SITE REAL_GIT git-args...

Only _lsprof (built in) is loaded before the profiler starts, so the imports
gitlane.shim triggers are measured as they happen in the real launcher.
The profile is written just before the shim execs git (os.execve) or exits
(os._exit); every child git spawned on the way is timed from spawn to reap.
"""
import _lsprof
import marshal
import os
import posix
import sys
import time

T0 = time.perf_counter()
out, src, site = sys.argv[1:4]
del sys.argv[1:4]
sys.argv[0] = "-c"
sys.path.insert(0, src)
sys.path.append(site)


class _Profiler(_lsprof.Profiler):
    pass


prof = _Profiler()
spawns = {}
done = []
_real = {"posix_spawn": os.posix_spawn, "waitpid": os.waitpid, "execve": os.execve, "_exit": os._exit}


def _posix_spawn(path, argv, env, **kw):
    pid = _real["posix_spawn"](path, argv, env, **kw)
    spawns[pid] = (list(argv), time.perf_counter())
    return pid


def _waitpid(pid, options):
    res = _real["waitpid"](pid, options)
    if pid in spawns and res[0] == pid:
        argv, t = spawns.pop(pid)
        done.append({"argv": argv, "ms": (time.perf_counter() - t) * 1000})
    return res


def _dump(end):
    prof.disable()
    wall = (time.perf_counter() - T0) * 1000
    import cProfile  # only now: its own imports must not pre-load gitlane's
    cProfile.Profile.snapshot_stats(prof)
    with open(out, "wb") as f:
        marshal.dump(prof.stats, f)
    with open(out + ".meta", "wb") as f:
        marshal.dump({"wall_ms": wall, "spawns": done, "end": end}, f)


def _execve(path, args, env):
    _dump(["execve", list(args)])
    _real["execve"](path, args, env)


def _exit(code):
    _dump(["_exit", code])
    _real["_exit"](code)


os.posix_spawn = _posix_spawn
os.waitpid = _waitpid
os.execve = _execve
posix.execve = _execve  # the fast path execs through posix, not os
os._exit = _exit
prof.enable()
try:
    from gitlane.fastpath import main  # what shim/git runs: the fast path, else the full path
    main()
    from gitlane.run.dispatch import main
    main()
except SystemExit as exc:
    _dump(["SystemExit", exc.code])
    raise
