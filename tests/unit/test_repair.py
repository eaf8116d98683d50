"""session.repair: each kind of damage to a session folder, recovered from
the snapshot ref or refused, with real git in a real repository."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane.git.verbs import Git
from gitlane.session import repair, snapshot
from gitlane.session.index import SessionIndex
from gitlane.testing.lane import Lane



@pytest.fixture
def si(git: Git, lane: Lane) -> SessionIndex:
    return SessionIndex(git, str(lane.path / ".git" / "gitlane" / "sessions" / "A"))


def entries(lane: Lane, index: str) -> dict[str, str]:
    out = lane.plain("ls-files", "-s", "-z", index=index).stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b"\t", 1)[0].decode() for rec in out.split(b"\0") if rec}


def head_entries(lane: Lane) -> dict[str, str]:
    out = lane.plain("ls-tree", "-r", "-z", "HEAD").stdout
    found = {}
    for rec in out.split(b"\0"):
        if rec:
            meta, path = rec.split(b"\t", 1)
            mode, _, sha = meta.decode().split()
            found[path.decode()] = f"{mode} {sha} 0"
    return found


def stage(lane: Lane, si: SessionIndex, rel: str, text: str) -> None:
    lane.write(rel, text)
    lane.plain("add", "--", rel, index=si.path)


# --- recover -----------------------------------------------------------------------------------

def test_recover_rebuilds_the_staged_work_from_the_snapshot(lane: Lane, git: Git, si: SessionIndex) -> None:
    si.create()
    stage(lane, si, "README", "A's README\n")
    stage(lane, si, "new.txt", "new\n")
    base = si.base()
    assert base is not None
    snapshot.take(git, "A", si.path, base, True)
    want = entries(lane, si.path)
    Path(si.path).write_bytes(Path(si.path).read_bytes()[:40])
    said = repair.recover_index(si, "A")
    assert said.startswith(f"its index was corrupt (kept as {si.path}.corrupt-")
    assert said.endswith("staged work was restored from refs/gitlane/sessions/A")
    assert {k: v.split()[1] for k, v in entries(lane, si.path).items()} == {k: v.split()[1] for k, v in want.items()}
    assert si.base() == base
    aside = [n for n in os.listdir(si.sdir) if n.startswith("index.corrupt-")]
    assert len(aside) == 1 and len((Path(si.sdir) / aside[0]).read_bytes()) == 40


def test_recover_without_a_snapshot_resets_to_head(lane: Lane, si: SessionIndex) -> None:
    si.create()                                   # linked to .git/index: damage a copy of our own
    Path(si.path + ".x").write_bytes(b"DIRC garbage")
    os.replace(si.path + ".x", si.path)
    said = repair.recover_index(si, "A")
    assert said.endswith("it had no staged snapshot, so it was reset to HEAD")
    assert entries(lane, si.path) == head_entries(lane) and si.base() == lane.head()



@pytest.mark.parametrize("text, problem", [
    (None, "its base file is missing"),
    (b"", "its base file is empty"),
    (b"  \n", "its base file is empty"),
    (b"--output=/tmp/x\n", "its base file holds '--output=/tmp/x', not an object id"),
    (b"HEAD\n", "its base file holds 'HEAD', not an object id"),
    (b"0123456789ABCDEF0123456789ABCDEF01234567\n", "its base file holds '0123456789ABCDEF0123456789ABCDEF01234567', not an object id"),
])
def test_base_problem_table(si: SessionIndex, text: bytes | None, problem: str) -> None:
    si.create()
    assert repair.base_problem(si) is None and repair.base_is_commit(si)
    if text is None:
        os.unlink(si.base_path)
    else:
        Path(si.base_path).write_bytes(text)
    assert repair.base_problem(si) == problem


def test_a_base_that_is_no_commit_is_damage(si: SessionIndex, git: Git) -> None:
    si.create()
    si.set_base(git.run("rev-parse", "HEAD^{tree}").out.decode().strip())
    assert repair.base_problem(si) is None and not repair.base_is_commit(si)
