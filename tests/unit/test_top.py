"""gitlane.cli.top: what it reads, and that reading disturbs nobody. The
sqlite facts: a `mode=ro` reader of a WAL database creates no harm for the
writers, and when it is the last to close it cannot checkpoint, so the -wal
file stays and the next writer recovers it with nothing lost."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from gitlane.cli import top
from gitlane.git.repo import Repo
from gitlane.git.verbs import Git
from gitlane.shared import db, locks
from gitlane.testing.lane import Lane


def test_readonly_reader_beside_writers(tmp_path: Path) -> None:
    state = tmp_path / "state"
    writer = db.connect(str(state))
    db.audit(writer, "one", "s")
    reader = top.open_readonly(str(state))
    assert reader.execute("SELECT event FROM audit").fetchall() == [("one",)]
    db.audit(writer, "two", "s")  # the writer is not blocked by the open reader
    assert reader.execute("SELECT count(*) FROM audit").fetchone() == (2,)
    try:
        reader.execute("INSERT INTO audit (time, event) VALUES (0, 'x')")
        raise AssertionError("a read-only connection wrote")
    except sqlite3.DatabaseError:
        pass
    writer.close()  # the reader is now the last connection
    assert (state / "state.db-wal").exists()
    reader.close()
    assert (state / "state.db-wal").exists()  # a read-only close cannot checkpoint it away
    again = db.connect(str(state))
    assert [e for (e,) in again.execute("SELECT event FROM audit ORDER BY id")] == ["one", "two"]
    assert again.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.audit(again, "three", "s")
    again.close()


def test_readonly_reader_of_a_closed_database_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    db.connect(str(state)).close()
    body = (state / "state.db").read_bytes()
    for _ in range(3):
        r = top.open_readonly(str(state))
        r.execute("SELECT * FROM sessions").fetchall()
        r.close()
    assert (state / "state.db").read_bytes() == body
    assert top.open_readonly(str(tmp_path / "nothing")) is None


def test_probe_reports_another_process_holder_without_taking_it(tmp_path: Path) -> None:
    path = tmp_path / "global.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from gitlane.shared import locks; "
         "l = locks.acquire(sys.argv[1], locks.holder_line('h', 'git commit'), 'the lock', lambda: 5.0); "
         "print('held', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        pid, key = locks.probe(str(path))
        assert pid == holder.pid and key == (path.stat().st_dev, path.stat().st_ino)
        assert locks.is_held(str(path))  # still held: probing took nothing
    finally:
        holder.communicate("")
    assert locks.probe(str(path))[0] is None
    assert locks.probe(str(tmp_path / "missing")) == (None, None)


def test_waiters_parse_proc_locks() -> None:
    dev = os.makedev(0xfe, 0x01)
    table = ("1: FLOCK  ADVISORY  WRITE 100 fe:01:4242 0 EOF\n"
             "1: -> FLOCK  ADVISORY  WRITE 200 fe:01:4242 0 EOF\n"
             "1: -> FLOCK  ADVISORY  WRITE 300 fe:01:4242 0 EOF\n"
             "2: -> POSIX  ADVISORY  WRITE 400 fe:01:9999 0 EOF\n"
             "garbage line\n")
    assert locks.waiters({(dev, 4242)}, table) == {(dev, 4242): [200, 300]}
    assert locks.waiters({(dev, 1)}, table) == {}


def test_subjects_skip_missing_and_non_ids(lane: Lane, repo: Repo, git: Git) -> None:
    head = lane.head()
    got = git.subjects([head, "0" * 40, "--all", "HEAD"])
    assert list(got) == [head] and got[head]
    assert git.subjects([]) == {}


def test_view_renders_every_part() -> None:
    from rich.console import Console
    data = dict(repository="/r", branch="main", time=0.0, problem=None,
                sessions=[dict(name="s1", state="live", pid=10, label="codex", age=5.0,
                               staged=[f"f{i}.py" for i in range(8)], edits=["e.py"], reservations=["docs/**"],
                               commits=[dict(commit="a" * 40, subject="add f", age=3.0)])],
                reservations=[], refusals=[dict(age=1.0, session="s2", event="refuse", command="Edit e.py",
                                                detail="e.py is owned by s1")],
                locks=[dict(what="global lock", holder_pid=10, holder_session="s1", command="git commit -m x",
                            held_for=2.0, waiting=[dict(pid=11, session="s2", waited=1.5)])])
    console = Console(width=120, record=True, file=open(os.devnull, "w"))
    console.print(top.view(data))
    text = console.export_text()
    for want in ("s1", "codex", "f0.py", "… 2 more", "editing   e.py", "reserved  docs/**", "aaaaaaaa add f",
                 "global lock: held by s1 (pid 10, `git commit -m x`", "waiting  s2 (pid 11",
                 "refuse  Edit e.py", "e.py is owned by s1"):
        assert want in text, (want, text)


def test_rich_is_imported_by_top_alone() -> None:
    """rich is a dependency of `gitlane top` only: no other module names it."""
    import re
    src = Path(__file__).resolve().parents[2] / "src" / "gitlane"
    users = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                   if re.search(r"^\s*(from rich[. ]|import rich)", p.read_text(), re.M))
    assert users == ["cli/top.py"]
