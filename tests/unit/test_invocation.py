"""run.invocation: one git invocation as the shim received it."""
from __future__ import annotations

import os

from gitlane.shared import locks
from gitlane.testing.inproc import invocation
from gitlane.testing.lane import real_git


def test_line_holder_and_real_argv() -> None:
    inv = invocation(["-C", "sub", "commit", "-m", "a\nb"])
    assert (inv.command, inv.args, inv.kind) == ("commit", ["-m", "a\nb"], "refs")
    assert inv.line == "-C sub commit -m a\nb"
    assert inv.real_argv() == [real_git(), "-C", "sub", "commit", "-m", "a\nb"]
    pid, session, since, command = inv.holder("s1").split("\t")
    assert (pid, session, command) == (str(os.getpid()), "s1", "git -C sub commit -m a\nb")
    assert float(since) > 0


def test_the_holder_line_is_what_locks_write_and_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inv = invocation(["commit", "-m", "x"])
    path = str(tmp_path / "lock")
    with locks.acquire(path, inv.holder("s1"), "test lock", lambda: 1.0):
        info = locks.read_holder(path)
    assert info is not None and (info["session"], info["command"]) == ("s1", "git commit -m x")


def test_the_holder_line_is_cut_to_150_characters() -> None:
    inv = invocation(["add", "--", *[f"file-{i}" for i in range(100)]])
    assert len(inv.holder("s1").split("\t")[3]) == 150
