"""Damaged state: a corrupt or missing state database is a clear error that
`gitlane doctor --repair` fixes without losing staged work; a corrupt session
index is rebuilt from its snapshot ref (kept while a peer is live)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitlane.testing.lane import Lane
from gitlane.testing.processes import blob_in_index, gitlane, run_in, stage


def _db(lane: Lane) -> Path:
    return lane.path / ".git" / "gitlane" / "state.db"


def _clobber_db(lane: Lane, data: bytes | None) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{_db(lane)}{suffix}").unlink(missing_ok=True)
    if data is None:
        _db(lane).unlink()
    else:
        _db(lane).write_bytes(data)


def test_corrupt_state_database_clear_error_then_repair(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A staged\n"})
    stage(lane, "B", b, {"b1": "B staged\n"})
    _clobber_db(lane, b"this is not a database\n" * 100)
    index_before = lane.session_index("A").read_bytes()
    lane.write("a2", "A two\n")
    for args in (["add", "a2"], ["commit", "-q", "-m", "x"]):
        res = run_in(lane, "A", a, *args)
        err = res.stderr.decode()
        assert res.returncode == 1 and res.stdout == b"", err
        assert err == (f"gitlane: gitlane state database {_db(lane)} is unreadable: file is not a database\n"
                       "hint: run `gitlane doctor --repair` to rebuild it from the session folders "
                       "(staged work lives in the session indexes and is kept)\n")
    assert lane.session_index("A").read_bytes() == index_before
    assert lane.plain("log", "--format=%s").stdout == b"init\n"
    res = gitlane(lane, "doctor")
    assert res.returncode == 1
    assert f"ERROR state database unreadable: {_db(lane)}\n" in res.stdout.decode()
    res = gitlane(lane, "doctor", "--repair")
    out = res.stdout.decode()
    assert "ERROR state database was unreadable: rebuilt from the session folders  [fixed]\n" in out, out
    assert [p.name for p in _db(lane).parent.glob("state.db.broken-*")] != []
    assert blob_in_index(lane, lane.session_index("A"), "a1") == b"A staged\n"
    assert blob_in_index(lane, lane.session_index("B"), "b1") == b"B staged\n"
    lane.write("a1", "B's version\n")
    res = run_in(lane, "B", b, "add", "a1")             # ownership survived the rebuild
    assert res.returncode == 1
    assert f"  a1  staged by session A (pid {a}, " in res.stderr.decode(), res.stderr.decode()
    assert run_in(lane, "A", a, "add", "a2").returncode == 0
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.commit_files("HEAD") == {"a1", "a2"}
    assert lane.plain("cat-file", "blob", "HEAD:a1").stdout == b"A staged\n"
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B").returncode == 0
    assert lane.commit_files("HEAD") == {"b1"}
    lane.fsck()


def test_missing_state_database_is_an_error_then_repaired_with_owners(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"shared.txt": "A staged\n"})
    stage(lane, "B", b, {"b1": "B staged\n"})
    b_index = lane.session_index("B").read_bytes()
    _clobber_db(lane, None)
    lane.write("shared.txt", "B's version\n")
    for args in (["add", "shared.txt"], ["commit", "-q", "-m", "x"]):
        res = run_in(lane, "B", b, *args)
        assert res.returncode == 1 and res.stdout == b""
        assert res.stderr.decode() == (
            f"gitlane: the gitlane state database {_db(lane)} is missing\n"
            "hint: `gitlane doctor --repair` rebuilds it from the session folders "
            "(staged work lives in the session indexes and is kept)\n")
    assert not _db(lane).exists()                        # not silently recreated empty
    assert lane.session_index("B").read_bytes() == b_index
    res = gitlane(lane, "doctor", "--repair")
    out = res.stdout.decode()
    assert res.returncode == 0, out
    assert f"ok    session A: live (pid {a}), 1 staged\n" in out and f"ok    session B: live (pid {b}), 1 staged\n" in out
    # ownership is back: B cannot take A's staged path
    res = run_in(lane, "B", b, "add", "shared.txt")
    assert res.returncode == 1
    assert res.stderr.decode().startswith("gitlane: refusing to stage 1 path owned by another live session:\n"
                                          f"  shared.txt  staged by session A (pid {a}, ")
    assert lane.staged("B") == {"b1"}
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.plain("cat-file", "blob", "HEAD:shared.txt").stdout == b"A staged\n"
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B").returncode == 0
    assert lane.commit_files("HEAD") == {"b1"}
    lane.fsck()


# --- bad input: a corrupt session index ---------------------------------------------------------

def _damage(data: bytearray, damage: str, oid: bytes) -> bytearray:
    if damage == "truncated":
        return data[: len(data) // 2]
    if damage == "oid-bit-flip":      # one bit of a1's blob id in its index entry
        at = data.index(oid) + 5
        data[at] ^= 0x01
        return data
    if damage == "bad-header":
        return bytearray(b"XXXX") + data[4:]
    if damage == "zeroed":
        return bytearray(len(data))
    return bytearray()


@pytest.mark.parametrize("damage", ["bad-header", "zeroed", "empty", "truncated", "oid-bit-flip"])
def test_corrupt_session_index_rebuilt_from_snapshot(pair, damage: str) -> None:
    lane, a, b = pair
    run_in(lane, "B", b, "status")     # a live peer: A keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged one\n", "README": "A's README\n"})
    lane.write("a1", "on disk, not staged\n")
    index = lane.session_index("A")
    oid = bytes.fromhex(lane.plain("hash-object", "--stdin", input=b"A staged one\n").stdout.decode().strip())
    index.write_bytes(bytes(_damage(bytearray(index.read_bytes()), damage, oid)))
    res = run_in(lane, "A", a, "status", "--porcelain")
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert err.startswith(f"gitlane: session A: its index was corrupt (kept as {index}.corrupt-"), err
    assert err.rstrip().endswith("staged work was restored from refs/gitlane/sessions/A"), err
    assert res.stdout == b"M  README\nAM a1\n"
    assert blob_in_index(lane, index, "a1") == b"A staged one\n"
    assert len(list(index.parent.glob("index.corrupt-*"))) == 1
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files() == {"README": "A's README\n", "a1": "A staged one\n"}
    lane.fsck()


@pytest.mark.parametrize("damage", ["bad-header", "truncated", "oid-bit-flip", "zeroed"])
def test_commit_after_index_damage_recovers(pair, damage: str) -> None:
    """The first command after the damage is a commit, not a read."""
    lane, a, b = pair
    run_in(lane, "B", b, "status")     # a live peer: A keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged one\n"})
    index = lane.session_index("A")
    oid = bytes.fromhex(lane.plain("hash-object", "--stdin", input=b"A staged one\n").stdout.decode().strip())
    index.write_bytes(bytes(_damage(bytearray(index.read_bytes()), damage, oid)))
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A")
    assert res.returncode == 0, res.stderr.decode()
    assert "staged work was restored from refs/gitlane/sessions/A" in res.stderr.decode()
    assert lane.tree_files() == {"README": "hello\n", "a1": "A staged one\n"}


def test_doctor_fix_rebuilds_a_corrupt_session_index(pair) -> None:
    lane, a, b = pair
    run_in(lane, "B", b, "status")     # a live peer: A keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    index = lane.session_index("A")
    index.write_bytes(index.read_bytes()[:40])
    res = gitlane(lane, "doctor")
    assert res.returncode == 1 and "ERROR session A: index is corrupt\n" in res.stdout.decode()
    res = gitlane(lane, "doctor", "--fix")
    assert "staged work was restored from refs/gitlane/sessions/A  [fixed]" in res.stdout.decode()
    assert blob_in_index(lane, index, "a1") == b"A staged\n"
