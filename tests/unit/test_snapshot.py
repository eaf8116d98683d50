"""session.snapshot: refs/gitlane/sessions/<name> points at a commit whose
tree is the session index and whose parent is its base, so `git gc` keeps
staged blobs and a corrupt index can be rebuilt. The temporary file of the
write never lives inside refs/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane.git.verbs import Git
from gitlane.session import snapshot
from gitlane.testing.lane import Lane


@pytest.fixture
def index(lane: Lane, git: Git, tmp_path: Path) -> str:
    """A session-like index with one staged file and one staged change."""
    os.makedirs(git.repo.state_dir(), exist_ok=True)
    idx = str(tmp_path / "index")
    lane.plain("read-tree", "HEAD", index=idx)
    lane.write("new.txt", "staged only here\n")
    lane.write("README", "staged README\n")
    lane.plain("add", "new.txt", "README", index=idx)
    return idx


def ref_commit(lane: Lane, name: str = "A") -> str | None:
    res = lane.plain("rev-parse", "-q", "--verify", f"refs/gitlane/sessions/{name}", check=False)
    return res.stdout.decode().strip() if res.returncode == 0 else None


def test_take_points_the_ref_at_the_index_tree_on_its_base(lane: Lane, git: Git, index: str) -> None:
    base = lane.head()
    snapshot.take(git, "A", index, base, True)
    commit = ref_commit(lane)
    assert commit is not None
    tree = lane.plain("write-tree", index=index).stdout.decode().strip()
    assert lane.plain("log", "-1", "--format=%T %P %an <%ae>%n%B", commit).stdout.decode() == \
        f"{tree} {base} gitlane <gitlane@localhost>\ngitlane: staged work of session A\n\n"
    assert snapshot.read(git, "A") == (tree, base)
    assert Path(snapshot.ref_path(git, "A")) == lane.path / ".git" / "refs" / "gitlane" / "sessions" / "A"
    assert list((lane.path / ".git" / "refs").rglob("*.tmp.*")) == []
    lane.fsck()


def test_gc_prune_keeps_the_staged_blobs(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, lane.head(), True)
    blob = lane.plain("rev-parse", ":new.txt", index=index).stdout.decode().strip()
    lane.plain("gc", "-q", "--prune=now")
    assert lane.plain("cat-file", "blob", blob).stdout == b"staged only here\n"


def test_on_the_empty_tree_the_snapshot_has_no_parent(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, git.repo.empty_tree(), True)
    commit = ref_commit(lane)
    assert lane.plain("log", "-1", "--format=%P", commit or "").stdout == b"\n"
    tree, base = snapshot.read(git, "A") or ("", "x")
    assert base is None and tree


def test_nothing_staged_drops_the_ref(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, lane.head(), True)
    snapshot.take(git, "A", index, lane.head(), False)
    assert ref_commit(lane) is None and snapshot.read(git, "A") is None
    snapshot.take(git, "A", index, lane.head(), False)       # no ref: nothing to do


def test_a_packed_ref_is_dropped_through_git(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, lane.head(), True)
    snapshot.take(git, "B", index, lane.head(), True)
    lane.plain("pack-refs", "--all")
    assert not Path(snapshot.ref_path(git, "A")).exists()
    snapshot.drop(git, "A")
    assert ref_commit(lane, "A") is None
    assert ref_commit(lane, "B") is not None                  # only ours
    assert "refs/gitlane/sessions/A" not in (lane.path / ".git" / "packed-refs").read_text()


def test_an_unmerged_index_keeps_the_previous_snapshot(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, lane.head(), True)
    before = ref_commit(lane)
    blob = lane.plain("hash-object", "-w", "--stdin", input=b"x\n").stdout
    lane.plain("update-index", "--index-info", index=index,
               input=b"100644 " + blob.strip() + b" 1\tconflict\n100644 " + blob.strip() + b" 2\tconflict\n")
    snapshot.take(git, "A", index, lane.head(), True)
    assert ref_commit(lane) == before


def test_alone_take_writes_nothing_and_drops_an_old_ref(lane: Lane, git: Git, index: str) -> None:
    snapshot.take(git, "A", index, lane.head(), True)
    snapshot.take(git, "A", index, lane.head(), True, alone=True)
    assert ref_commit(lane) is None


def session_folder(lane: Lane, git: Git, name: str, index: str | None) -> str:
    from gitlane import layout
    sdir = layout.session_dir(git.repo.common_dir, "", name)
    os.makedirs(sdir, exist_ok=True)
    Path(sdir, "base").write_text(lane.head() + "\n")
    if index:
        Path(sdir, "index").write_bytes(Path(index).read_bytes())
    return sdir


def test_protect_all_covers_every_staging_session_but_the_skipped_one(lane: Lane, git: Git, index: str) -> None:
    """A real `git gc --prune=now` between protect_all and unprotect keeps every
    session's staged blobs; afterwards no ref is left."""
    refs_before = lane.plain("for-each-ref").stdout
    blob = lane.plain("rev-parse", ":new.txt", index=index).stdout.decode().strip()
    session_folder(lane, git, "A", index)
    mine = session_folder(lane, git, "ME", index)
    clean = str(Path(index).parent / "clean")
    lane.plain("read-tree", "HEAD", index=clean)
    session_folder(lane, git, "C", clean)                      # stages nothing: no ref
    written = snapshot.protect_all(git, skip=mine)
    assert [name for name, _ in written] == ["A"]
    lane.plain("gc", "-q", "--prune=now")
    snapshot.unprotect(git, written)
    assert lane.plain("cat-file", "blob", blob).stdout == b"staged only here\n"
    assert lane.plain("for-each-ref").stdout == refs_before


def test_unprotect_keeps_a_ref_its_session_rewrote(lane: Lane, git: Git, index: str) -> None:
    session_folder(lane, git, "A", index)
    written = snapshot.protect_all(git)
    lane.write("README", "newer\n")
    lane.plain("add", "README", index=index)
    snapshot.take(git, "A", index, lane.head(), True)          # the owner, with a live peer
    snapshot.unprotect(git, written)
    assert ref_commit(lane) is not None


def test_ref_names() -> None:
    assert snapshot.ref_name("s1") == "refs/gitlane/sessions/s1"
    assert snapshot.PREFIX == "refs/gitlane/sessions/"
