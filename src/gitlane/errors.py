"""One exception type for expected failures, printed as `gitlane: …` / `hint: …`."""
from __future__ import annotations

import os
import sys


class Fatal(Exception):
    """An expected failure: a refusal, bad input, a lock timeout."""

    def __init__(self, what: str, hint: str = "", code: int = 1) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint
        self.code = code


class GitError(Fatal):
    """One of gitlane's own git calls failed. Callers that can recover from a
    failed git call catch this, never Fatal (which also covers refusals and
    database errors)."""

    def __init__(self, args: "tuple[str, ...] | list[str]", rc: int, stderr: bytes) -> None:
        self.args_ = tuple(args)
        self.rc = rc
        self.stderr = stderr.decode("utf-8", "replace").strip()
        super().__init__(f"git {' '.join(self.args_[:3])} failed (exit {rc}): {self.stderr}",
                         "run `gitlane doctor`; GITLANE_TRACE=1 shows details")


class StateError(Fatal):
    """gitlane's state (its database or a state file) cannot be used. `kind`
    says why (shared.storage): only "damaged" calls for a repair."""

    kind = "damaged"


class ReadOnly(StateError):
    """gitlane's state folder cannot be written (a read-only repository)."""

    def __init__(self, path: str, why: str) -> None:
        self.kind = "read-only"
        super().__init__(f"cannot write gitlane state at {path}: {why}",
                         "the repository looks read-only: read commands still work in a session;\n"
                         "to change it, make it writable or unset GITLANE_SESSION", code=1)


def report(exc: Fatal) -> int:
    lines = [f"gitlane: {line}" if i == 0 else f"  {line}"
             for i, line in enumerate(exc.what.splitlines() or [""])]
    if exc.hint:
        lines += [f"hint: {line}" for line in exc.hint.splitlines()]
    sys.stderr.write("\n".join(lines) + "\n")
    return exc.code


def guarded(fn, *args, translate=None) -> int:  # type: ignore[no-untyped-def]
    """Run fn, turning Fatal into a message and anything else into one line,
    unless GITLANE_TRACE=1 asks for the traceback. `translate` may turn an
    unexpected exception into a Fatal (shared.storage.failure: a full disk)."""
    try:
        return fn(*args)
    except Fatal as exc:
        return report(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return broken_pipe()
    except Exception as exc:
        if os.environ.get("GITLANE_TRACE") == "1":
            raise
        said = translate(exc) if translate else None
        if said is not None:
            return report(said)
        return report(Fatal(f"internal error: {type(exc).__name__}: {exc}",
                            "rerun with GITLANE_TRACE=1 and report the traceback", 70))


def broken_pipe() -> int:
    """The reader went away (`gitlane log | head`): end as git does, killed
    by SIGPIPE, silently (Python ignores SIGPIPE, so we raise it ourselves)."""
    import signal
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush at exit
    except (OSError, ValueError):
        pass
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    return 128 + signal.SIGPIPE
