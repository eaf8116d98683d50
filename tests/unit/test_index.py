"""session.index: the session index is always `base + this session's staged
changes`. create() keeps .git/index's stat cache, rebase() moves the index
onto HEAD (copying HEAD's entries, or an index-only 3-way merge) and refuses
a path changed on both sides leaving the index untouched; damage is found by
git's own checksum and session.repair rebuilds from the snapshot ref.
Real git, real index files; SessionIndex driven in-process.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gitlane import layout
from gitlane.git.verbs import Git
from gitlane.session import index as session_index
from gitlane.session.index import Conflict, SessionIndex, Unmerged
from gitlane.testing.inproc import commit_aside, commit_plain, repo_at
from gitlane.testing.lane import Lane, real_git


@pytest.fixture
def si(git: Git, lane: Lane) -> SessionIndex:
    return SessionIndex(git, str(lane.path / ".git" / "gitlane" / "sessions" / "A"))


def entries(lane: Lane, index: str) -> dict[str, str]:
    """{path: "<mode> <blob> <stage>"} of an index, read by the real git."""
    out = lane.plain("ls-files", "-s", "-z", index=index).stdout
    return {rec.split(b"\t", 1)[1].decode(): rec.split(b"\t", 1)[0].decode() for rec in out.split(b"\0") if rec}


def head_entries(lane: Lane, rev: str = "HEAD") -> dict[str, str]:
    out = lane.plain("ls-tree", "-r", "-z", rev).stdout
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


def staged(lane: Lane, si: SessionIndex) -> set[str]:
    base = si.base()
    assert base is not None
    out = lane.plain("diff-index", "--cached", "--name-only", "-z", base, index=si.path).stdout
    return {p.decode() for p in out.split(b"\0") if p}


def sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- create ------------------------------------------------------------------------------

def test_create_links_git_index_when_it_already_matches_head(lane: Lane, si: SessionIndex) -> None:
    calls: list[int] = []
    si.create(meanwhile=lambda: calls.append(1))
    assert calls == [1]
    assert os.stat(si.path).st_ino == os.stat(lane.path / ".git" / "index").st_ino   # no copy at all
    assert si.base() == lane.head() and si.exists() and not si.stale()
    assert entries(lane, si.path) == head_entries(lane)


def test_create_resets_a_copy_to_head_and_keeps_the_stat_cache(lane: Lane, si: SessionIndex) -> None:
    commit_plain(lane, "more", b="b\n", c="c\n")
    lane.write("README", "the person's staged edit\n")
    lane.plain("add", "README")                              # .git/index differs from HEAD
    shared = str(lane.path / ".git" / "index")
    before = sha(shared)
    debug = lane.plain("ls-files", "--debug", "--", "b", "c").stdout
    si.create()
    assert sha(shared) == before                             # .git/index untouched
    assert entries(lane, si.path) == head_entries(lane)      # HEAD's entries, not the person's
    assert os.stat(si.path).st_ino != os.stat(shared).st_ino
    # the stat data of the unchanged paths came along: the first status rehashes nothing
    assert lane.plain("ls-files", "--debug", "--", "b", "c", index=si.path).stdout == debug


def test_create_without_git_index_reads_head(lane: Lane, si: SessionIndex) -> None:
    (lane.path / ".git" / "index").unlink()
    calls: list[int] = []
    si.create(meanwhile=lambda: calls.append(1))
    assert calls == [1]
    assert entries(lane, si.path) == head_entries(lane) and si.base() == lane.head()


def test_create_alone_without_git_index_is_gits_unborn_index(lane: Lane, si: SessionIndex) -> None:
    """No .git/index: git reads no entries and no timestamp (is_index_unborn),
    so checkout does a first checkout; alone the session index is just that,
    and it stages the removal of HEAD's files, as plain git shows."""
    (lane.path / ".git" / "index").unlink()
    adopted = si.create(adopt=lambda: True)
    assert entries(lane, si.path) == {} and os.stat(si.path).st_mtime_ns == 0
    assert adopted == sorted(p.encode() for p in head_entries(lane)) and si.base() == lane.head()
    for path in head_entries(lane):                                  # as `clone --no-checkout` leaves it
        (lane.path / path).unlink()
    lane.plain("checkout", "-q", "-b", "fresh", index=si.path)      # a first checkout: HEAD's files back
    assert all((lane.path / path).exists() for path in head_entries(lane))
    assert entries(lane, si.path) == head_entries(lane)


def test_create_on_an_unborn_branch_is_empty_on_the_empty_tree(empty_lane: Lane) -> None:
    repo = repo_at(empty_lane.path)
    git = Git(real_git(), repo, os.environ)
    si = SessionIndex(git, str(empty_lane.path / ".git" / "gitlane" / "sessions" / "A"))
    si.create()
    assert entries(empty_lane, si.path) == {}
    assert si.base() == repo.empty_tree() and si.head() == repo.empty_tree()
    assert os.stat(si.path).st_mtime_ns == 0      # no .git/index either: git's unborn index


@pytest.mark.parametrize("alone", [True, False])
def test_create_on_an_unborn_branch_adopts_what_git_index_stages_only_alone(empty_lane: Lane,
                                                                            alone: bool) -> None:
    repo = repo_at(empty_lane.path)
    git = Git(real_git(), repo, os.environ)
    si = SessionIndex(git, str(empty_lane.path / ".git" / "gitlane" / "sessions" / "A"))
    empty_lane.write("n.txt", "staged before the first commit\n")
    empty_lane.plain("add", "n.txt")
    adopted = si.create(adopt=lambda: alone)
    assert adopted == ([b"n.txt"] if alone else [])
    assert set(entries(empty_lane, si.path)) == ({"n.txt"} if alone else set())
    assert si.base() == repo.empty_tree()


def test_a_failed_create_leaves_nothing_behind(lane: Lane, si: SessionIndex) -> None:
    def boom() -> None:
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        si.create(meanwhile=boom)
    assert not si.exists()
    assert os.listdir(si.sdir) == []


# --- rebase ---------------------------------------------------------------------------------

def test_rebase_on_head_does_nothing(si: SessionIndex) -> None:
    si.create()
    before = os.stat(si.path)
    assert si.rebase() is None
    assert layout.verified_key(os.stat(si.path)) == layout.verified_key(before)


def test_rebase_copies_heads_entries_when_nothing_staged_moved(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    stage(lane, si, "mine.txt", "mine\n")
    old, new = commit_aside(lane, tmp_path, "peer", {"README": "peer's README\n", "peer.txt": "p\n"})
    moved = si.rebase()
    assert sorted(moved or []) == [b"README", b"peer.txt"]
    assert si.base() == new
    assert staged(lane, si) == {"mine.txt"}                  # only our own work on the new base
    got = entries(lane, si.path)
    assert {k: v for k, v in got.items() if k != "mine.txt"} == head_entries(lane)


def test_rebase_follows_a_deletion_and_a_file_becoming_a_folder(lane: Lane, si: SessionIndex,
                                                                tmp_path: Path) -> None:
    commit_plain(lane, "x", x="x file\n")
    si.create()
    stage(lane, si, "mine.txt", "mine\n")
    _, new = commit_aside(lane, tmp_path, "peer", {"x": None, "README": None, "x/inner": "inner\n"})
    si.rebase()
    assert staged(lane, si) == {"mine.txt"}
    assert set(entries(lane, si.path)) == {"mine.txt", "x/inner"}


def test_rebase_merges_when_both_sides_made_the_same_change(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    stage(lane, si, "README", "the same new README\n")
    stage(lane, si, "mine.txt", "mine\n")
    _, new = commit_aside(lane, tmp_path, "peer", {"README": "the same new README\n", "q": "q\n"})
    assert sorted(si.rebase() or []) == [b"README", b"q"]       # the 3-way merge path
    assert si.base() == new
    assert staged(lane, si) == {"mine.txt"}


def test_the_merge_of_an_emptied_index_stores_no_empty_tree(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    """Plain git never stores the empty tree object (it knows it without it):
    write-tree of an emptied index would, and fsck then reports it dangling."""
    si.create()
    lane.plain("rm", "-r", "-q", "--cached", ".", index=si.path)    # stage the deletion of everything
    _, new = commit_aside(lane, tmp_path, "peer", {"README": None, "q": "q\n"})
    assert b"README" in (si.rebase() or [])                          # the 3-way merge path
    assert si.base() == new
    assert set(entries(lane, si.path)) == {"q"}
    assert not (lane.path / ".git" / "objects" / "4b" / "825dc642cb6eb9a060e54bf8d69288fbee4904").exists()


def test_tree_without_writing_knows_only_an_index_with_no_entry(lane: Lane, si: SessionIndex, git: Git) -> None:
    si.create()
    assert session_index.tree_without_writing(git, si.path) is None
    lane.plain("rm", "-r", "-q", "--cached", ".", index=si.path)
    assert session_index.tree_without_writing(git, si.path) == git.repo.empty_tree()
    lane.plain("update-index", "--split-index", index=si.path)      # its entries may live in the shared file
    assert session_index.tree_without_writing(git, si.path) is None
    assert session_index.tree_without_writing(git, str(lane.path / "missing")) is None


# --- the staged-set cache -----------------------------------------------------

def test_the_staged_set_is_known_for_exactly_the_content_and_base_it_was_recorded_for(
        lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    stage(lane, si, "mine.txt", "mine\n")
    base = si.base()
    assert base is not None
    session_index.remember_staged(si, si.path, base, [b"mine.txt"])
    assert session_index.known_staged(si, si.path, base) == [b"mine.txt"]
    assert session_index.known_staged(si, si.path, "0" * 40) is None     # another base
    stage(lane, si, "more.txt", "more\n")                              # git wrote a new content
    assert session_index.known_staged(si, si.path, base) is None


def test_a_cache_for_an_index_git_wrote_without_a_checksum_is_never_used(lane: Lane, si: SessionIndex) -> None:
    si.create()
    base = si.base()
    assert base is not None
    data = bytearray(Path(si.path).read_bytes())
    data[-20:] = b"\0" * 20                                            # index.skipHash
    Path(si.path).write_bytes(bytes(data))
    session_index.remember_staged(si, si.path, base, [b"x"])
    assert session_index.known_staged(si, si.path, base) is None


def test_rebase_carries_the_known_staged_set_and_asks_git_nothing_for_it(
        lane: Lane, git: Git, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    stage(lane, si, "mine.txt", "mine\n")
    base = si.base()
    assert base is not None
    session_index.remember_staged(si, si.path, base, [b"mine.txt"])
    _, new = commit_aside(lane, tmp_path, "peer", {"peer.txt": "p\n"})
    before = git.spawned
    assert si.rebase() == [b"peer.txt"]
    assert git.spawned - before == 2                                   # diff-tree, update-index
    assert staged(lane, si) == {"mine.txt"}
    assert session_index.known_staged(si, si.path, new) == [b"mine.txt"]


def test_a_wrong_cache_never_outlives_a_new_index_content(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    """The overlap check trusts the cache only for the content it names: a
    later add makes it miss, and the rebase then asks git (and so merges)."""
    si.create()
    base = si.base()
    assert base is not None
    session_index.remember_staged(si, si.path, base, [])
    stage(lane, si, "README", "mine\n")
    commit_aside(lane, tmp_path, "peer", {"README": "theirs\n"})
    with pytest.raises(Conflict):
        si.rebase()


def test_a_conflict_refuses_and_leaves_the_index_untouched(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    stage(lane, si, "README", "mine\n")
    stage(lane, si, "other.txt", "other\n")
    old = si.base()
    before = entries(lane, si.path)
    _, new = commit_aside(lane, tmp_path, "peer", {"README": "theirs\n"})
    with pytest.raises(Conflict) as exc:
        si.rebase()
    assert (exc.value.base, exc.value.head, exc.value.paths) == (old, new, [b"README"])
    # every entry as it was (git's write-tree may add its cache-tree extension), the base too
    assert entries(lane, si.path) == before and si.base() == old
    assert staged(lane, si) == {"README", "other.txt"}
    assert [n for n in os.listdir(si.sdir) if n.startswith("index.new")] == []


def test_an_unmerged_index_is_not_rebased(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    blob = lane.plain("hash-object", "-w", "--stdin", input=b"x\n").stdout.decode().strip()
    info = "".join(f"100644 {blob} {n}\tREADME\n" for n in (1, 2, 3))
    lane.plain("update-index", "--index-info", index=si.path, input=b"0 " + b"0" * 40 + b"\tREADME\n" + info.encode())
    commit_aside(lane, tmp_path, "peer", {"README": "theirs\n"})
    before = sha(si.path)
    with pytest.raises(Unmerged):
        si.rebase()
    assert sha(si.path) == before


def test_a_lost_base_recreates_the_index(lane: Lane, si: SessionIndex, tmp_path: Path) -> None:
    si.create()
    commit_aside(lane, tmp_path, "peer", {"p": "p\n"})
    Path(si.base_path).write_text("damaged\n")
    assert si.base() is None and si.stale()
    assert si.rebase() == []
    assert si.base() == lane.head() and entries(lane, si.path) == head_entries(lane)


@pytest.mark.parametrize("damage", ["missing-index", "truncated", "missing-base", "old-base"])
def test_stale(lane: Lane, si: SessionIndex, tmp_path: Path, damage: str) -> None:
    si.create()
    assert not si.stale()
    if damage == "missing-index":
        os.unlink(si.path)
    elif damage == "truncated":
        with open(si.path, "r+b") as f:
            f.truncate(31)
    elif damage == "missing-base":
        os.unlink(si.base_path)
    else:
        commit_aside(lane, tmp_path, "peer", {"p": "p\n"})
    assert si.stale()


# --- damage ---------------------------------------------------------------------------------

def damaged(data: bytes, how: str) -> bytes:
    if how == "bad-magic":
        return b"XXXX" + data[4:]
    if how == "bad-version":
        return data[:4] + (9).to_bytes(4, "big") + data[8:]
    if how == "short":
        return data[:11]
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "bit-flip":
        flip = bytearray(data)
        flip[20] ^= 0x01
        return bytes(flip)
    if how == "trailer":
        return data[:-1] + bytes([data[-1] ^ 0xFF])
    return data


@pytest.mark.parametrize("how, broken, corrupt", [
    ("intact", False, False),
    ("bad-magic", True, True),
    ("bad-version", True, True),
    ("short", True, True),
    ("truncated", False, True),          # a good header: only the checksum tells
    ("bit-flip", False, True),
    ("trailer", False, True),
])
def test_looks_broken_and_is_corrupt(lane: Lane, tmp_path: Path, how: str, broken: bool, corrupt: bool) -> None:
    p = tmp_path / "index"
    p.write_bytes(damaged((lane.path / ".git" / "index").read_bytes(), how))
    assert session_index.looks_broken(str(p)) is broken
    assert session_index.is_corrupt(str(p)) is corrupt


def test_a_missing_index_is_neither_broken_nor_corrupt(tmp_path: Path) -> None:
    assert not session_index.looks_broken(str(tmp_path / "none"))
    assert not session_index.is_corrupt(str(tmp_path / "none"))
    assert session_index.verified(str(tmp_path / "none"))


def test_a_sha256_index_is_checked_with_its_own_hash(tmp_path: Path) -> None:
    repo = tmp_path / "r256"
    lane = Lane(repo)
    repo.mkdir()
    lane.plain("init", "-q", "--object-format=sha256")
    lane.write("f", "x\n")
    lane.plain("add", "f")
    data = (repo / ".git" / "index").read_bytes()
    assert len(data) > 32 and hashlib.sha256(data[:-32]).digest() == data[-32:]
    assert not session_index.is_corrupt(str(repo / ".git" / "index"))
    (tmp_path / "bad").write_bytes(damaged(data, "bit-flip"))
    assert session_index.is_corrupt(str(tmp_path / "bad"))


def test_verified_hashes_each_version_once(lane: Lane, si: SessionIndex) -> None:
    si.create()
    stage(lane, si, "a", "a\n")
    stamp = Path(si.sdir) / layout.VERIFIED
    assert not stamp.exists()
    assert session_index.verified(si.path) is True
    assert stamp.read_text() == layout.verified_key(os.stat(si.path))
    # same inode, size and mtime: trusted without hashing again, even if the bytes changed
    st = os.stat(si.path)
    data = bytearray(Path(si.path).read_bytes())
    data[40] ^= 0xFF
    with open(si.path, "r+b") as f:
        f.write(data)
    os.utime(si.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert session_index.verified(si.path) is True
    # a new version (git renames a new file into place) is hashed, and fails
    Path(si.path + ".new").write_bytes(data)
    os.replace(si.path + ".new", si.path)
    assert session_index.verified(si.path) is False
    assert stamp.read_text() == layout.verified_key(st)      # the bad version is never stamped


def test_stamp_verified_trusts_the_version_git_just_wrote(lane: Lane, si: SessionIndex) -> None:
    si.create()
    stage(lane, si, "a", "a\n")
    session_index.stamp_verified(si.path)
    assert (Path(si.sdir) / layout.VERIFIED).read_text() == layout.verified_key(os.stat(si.path))
    session_index.stamp_verified(si.path + ".missing")      # nothing to stamp: no error
