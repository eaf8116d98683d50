"""`gitlane demo`: N agent sessions commit at once in a scratch repository,
through gitlane and then through plain git and the naive flock recipe, and a
table shows what each kept. Exits non-zero if gitlane lost anything."""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from gitlane.testing.torture import Progress, Result

ROWS = (("gitlane", "gitlane"), ("plain", "plain git"), ("naive", "naive flock"))
HEADERS = ("mode", "commits kept", "misattributed", "files lost", "failed commands", "commits/s")


def configure(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--sessions", type=_positive, default=6, metavar="N",
                        help="concurrent agent sessions (default 6)")
    parser.add_argument("--commits", type=_positive, default=10, metavar="M",
                        help="commits per session (default 10)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary repositories and print where they are")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from gitlane.testing import torture
    from gitlane.errors import Fatal
    shim = torture.default_shim()
    if not shim.exists():
        raise Fatal(f"the git shim is missing ({shim})", "run ./install.sh --dev in the gitlane checkout")
    workdir = Path(tempfile.mkdtemp(prefix="gitlane-demo-"))
    try:
        _intro(args.sessions, args.commits)
        results = [_one(mode, label, workdir, args.sessions, args.commits, shim) for mode, label in ROWS]
    finally:
        if args.keep:
            sys.stderr.write(f"gitlane demo: repositories kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(results))
    return verdict(results[0])


def _intro(sessions: int, commits: int) -> None:
    sys.stderr.write(f"gitlane demo: {sessions} sessions x {commits} commits each, all at once in one "
                     "working tree,\n  each staging and committing only its own files, "
                     "with `git status` polling in the background\n")


def _one(mode: str, label: str, workdir: "Path", sessions: int, commits: int, shim: "Path") -> "Result":
    from gitlane.testing import torture
    line = _Line(label)
    result = torture.run(mode, workdir / mode, sessions, commits, shim, progress=line.update)
    line.finish(result)
    return result


class _Line:
    """Live progress on stderr: one rewritten line on a tty, a few plain
    lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.quarter = 0
        self.lock = threading.Lock()  # session threads report concurrently

    def update(self, p: "Progress") -> None:
        with p.lock:
            done, total, failed = p.total_done, p.sessions * p.commits, p.failed
            counters = " ".join(f"s{i}:{n}" for i, n in enumerate(p.done))
        with self.lock:
            self._show(done, total, failed, counters)

    def _show(self, done: int, total: int, failed: int, counters: str) -> None:
        if self.tty:
            now = time.monotonic()
            if now - self.last >= 0.05 or done == total:
                self.last = now
                text = f"  {self.label:<12} {_bar(done, total)} {done}/{total} failed {failed}  {counters}"
                sys.stderr.write("\r\x1b[K" + text[:_width()])
                sys.stderr.flush()
        elif done * 4 >= (self.quarter + 1) * total:
            self.quarter = done * 4 // total
            sys.stderr.write(f"  {self.label}: {done}/{total} commit attempts, {failed} failed\n")

    def finish(self, r: "Result") -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.write(f"  {self.label:<12} done in {r.elapsed:.1f}s\n")


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _width() -> int:
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        columns = 0
    return columns - 1 if columns > 20 else 79


def table(results: "list[Result]") -> str:
    labels = dict(ROWS)
    rows = [HEADERS] + [(labels.get(r.mode, r.mode), f"{r.kept}/{r.expected}", str(r.misattributed),
                         str(r.lost), str(r.failed), f"{r.rate:.1f}") for r in results]
    widths = [max(len(row[c]) for row in rows) for c in range(len(HEADERS))]
    lines = [" | ".join(cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c])
                        for c, cell in enumerate(row)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    bad_fsck = [labels.get(r.mode, r.mode) for r in results if not r.fsck_ok]
    lines.append("git fsck: " + (f"FAILED for {', '.join(bad_fsck)}" if bad_fsck else "clean in every repository"))
    return "\n".join(lines)


def verdict(gitlane: "Result") -> int:
    if gitlane.perfect:
        print(f"gitlane kept all {gitlane.expected} commits, each with exactly its own files, "
              "and lost nothing.")
        return 0
    sys.stderr.write("gitlane: the demo found lost or misattributed work under gitlane:\n")
    sys.stderr.write("".join(f"  {line}\n" for line in gitlane.problems()))
    sys.stderr.write("hint: rerun with --keep to inspect the repository, and report it\n")
    return 1
