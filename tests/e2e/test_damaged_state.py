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


# --- a damaged base file ---------------------------------------------------------------------------

def _break_base(lane: Lane, session: str, damage: str, tmp: Path) -> None:
    base = lane.session_index(session).parent / "base"
    if damage == "missing":
        base.unlink()
    elif damage == "empty":
        base.write_bytes(b"")
    elif damage == "option":          # argument injection: must never reach git's command line
        base.write_text(f"--output={tmp / 'injected'}\n")
    elif damage == "unknown-object":
        base.write_text("0123456789abcdef0123456789abcdef01234567\n")
    elif damage == "garbage":
        base.write_bytes(b"\xff\xfe not a commit \x00\n")


BASE_DAMAGE = ["missing", "empty", "option", "unknown-object", "garbage"]


@pytest.mark.parametrize("damage", BASE_DAMAGE)
def test_damaged_base_recovered_from_snapshot_staged_work_kept(pair, damage: str, tmp_path: Path) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    _break_base(lane, "A", damage, tmp_path)
    res = run_in(lane, "A", a, "status", "--porcelain")
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert err.startswith("gitlane: session A: its base") and "restored from refs/gitlane/sessions/A" in err, err
    assert res.stdout == b"A  a1\n"
    assert not (tmp_path / "injected").exists()
    assert (lane.session_index("A").parent / "base").read_text() == lane.head() + "\n"
    lane.write("a1", "B's version\n")
    res = run_in(lane, "B", b, "add", "a1")                    # still claimed by A
    assert res.returncode == 1 and "a1  staged by session A" in res.stderr.decode()
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.tree_files() == {"README": "hello\n", "a1": "A staged\n"}
    lane.fsck()


@pytest.mark.parametrize("damage", BASE_DAMAGE)
def test_doctor_finds_a_damaged_base_and_fix_repairs_it(pair, damage: str, tmp_path: Path) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    _break_base(lane, "A", damage, tmp_path)
    res = gitlane(lane, "doctor")
    out = res.stdout.decode()
    assert res.returncode == 1 and "ERROR session A: its base" in out, out
    assert "hint: gitlane doctor --fix recovers it from the session's snapshot ref" in out
    res = gitlane(lane, "doctor", "--fix")
    out = res.stdout.decode()
    assert "restored from refs/gitlane/sessions/A  [fixed]" in out, out
    assert not (tmp_path / "injected").exists()
    res = gitlane(lane, "doctor")
    assert res.returncode == 0, res.stdout.decode()
    assert blob_in_index(lane, lane.session_index("A"), "a1") == b"A staged\n"


def test_damaged_base_without_snapshot_is_a_clear_error_index_untouched(pair) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    lane.plain("update-ref", "-d", "refs/gitlane/sessions/A")
    (lane.session_index("A").parent / "base").write_bytes(b"")
    before = lane.session_index("A").read_bytes()
    for args in (["status"], ["add", "README"], ["commit", "-q", "-m", "x"]):
        res = run_in(lane, "A", a, *args)
        err = res.stderr.decode()
        assert res.returncode == 1, err
        assert err.startswith("gitlane: session A: its base file is empty, and its staged work has no snapshot"), err
        assert "\nhint: its index is untouched: `gitlane doctor --fix` keeps it aside" in err
        assert lane.session_index("A").read_bytes() == before
    res = gitlane(lane, "doctor", "--fix")
    out = res.stdout.decode()
    assert "the session starts over from HEAD  [fixed]" in out, out
    kept = list(lane.session_index("A").parent.glob("index.damaged-*"))
    assert [k.read_bytes() for k in kept] == [before]
    assert blob_in_index(lane, kept[0], "a1") == b"A staged\n"
    assert run_in(lane, "A", a, "status").returncode == 0


def test_damaged_base_with_nothing_staged_finds_its_commit(pair) -> None:
    """No snapshot means nothing staged: the index's tree is its base's tree."""
    lane, a, b = pair
    assert run_in(lane, "A", a, "status").returncode == 0
    first = lane.head()
    lane.write("x", "x\n")
    lane.plain("add", "x")
    lane.plain("commit", "-q", "-m", "x")
    (lane.session_index("A").parent / "base").write_bytes(b"")
    res = run_in(lane, "A", a, "status", "--porcelain")
    assert res.returncode == 0 and res.stdout == b"", res.stderr.decode()
    assert f"nothing was staged, its base is {first[:10]} again" in res.stderr.decode()
    assert (lane.session_index("A").parent / "base").read_text() == lane.head() + "\n"


def test_two_recoveries_in_one_second_keep_both_copies(pair) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    index = lane.session_index("A")
    copies = []
    for n in range(2):
        index.write_bytes(b"DIRC garbage %d" % n)
        copies.append(index.read_bytes())
        assert run_in(lane, "A", a, "status").returncode == 0
    kept = sorted(index.parent.glob("index.corrupt-*"))
    assert sorted(k.read_bytes() for k in kept) == sorted(copies)


# --- fault injection: each state file of a session, damaged in turn ------------------------------

SESSION_FILES = ["index", "base", "owner", "isolated", "exclude", "staged", "index.verified", "lock"]


def _inject(path: Path, damage: str) -> None:
    data = path.read_bytes() if path.exists() else b""
    if damage == "missing":
        path.unlink(missing_ok=True)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbled":
        path.write_bytes(bytes(b ^ 0x5A for b in data) or b"\x00garbage\xff")


@pytest.mark.parametrize("name", SESSION_FILES)
@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "garbled"])
def test_damaged_state_file_never_loses_staged_work_silently(pair, name: str, damage: str) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer, so isolation files exist
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    sdir = lane.session_index("A").parent
    _inject(sdir / name, damage)
    res = run_in(lane, "A", a, "commit", "-q", "-m", "A")
    err = res.stderr.decode()
    assert "Traceback" not in err
    if res.returncode != 0:                            # a clear error, and the repair keeps the work
        assert err.startswith("gitlane: ") and "\nhint: " in err, err
        assert lane.plain("log", "--format=%s").stdout == b"init\n"
        gitlane(lane, "doctor", "--fix")
        res = run_in(lane, "A", a, "commit", "-q", "-m", "A")
        assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files() == {"README": "hello\n", "a1": "A staged\n"}, err
    assert lane.staged("B") == {"b1"}
    lane.fsck()


def test_doctor_finds_a_missing_index_and_fix_restores_it(pair) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    lane.session_index("A").unlink()
    res = gitlane(lane, "doctor")
    assert res.returncode == 1 and "ERROR session A: its index is missing\n" in res.stdout.decode()
    res = gitlane(lane, "doctor", "--fix")
    assert "staged work was restored from refs/gitlane/sessions/A  [fixed]" in res.stdout.decode()
    assert blob_in_index(lane, lane.session_index("A"), "a1") == b"A staged\n"


# --- git's own index maintenance: split index, index v4, untracked cache, fsmonitor ---------------

def test_split_index_expired_by_git_keeps_sessions_working(pair) -> None:
    lane, a, b = pair
    lane.plain("config", "core.splitIndex", "true")
    lane.plain("update-index", "--split-index")
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    stage(lane, "B", b, {"b1": "B staged\n"})
    lane.plain("config", "splitIndex.sharedIndexExpire", "now")
    lane.plain("config", "splitIndex.maxPercentChange", "0")     # every write of .git/index: a new shared index
    for n in range(3):
        lane.write(f"p{n}", f"{n}\n")
        lane.plain("add", f"p{n}")
        lane.plain("commit", "-q", "-m", f"p{n}")
    for session, pid, want in (("A", a, "a1"), ("B", b, "b1")):
        res = run_in(lane, session, pid, "status", "--porcelain")
        assert res.returncode == 0, res.stderr.decode()
        assert f"A  {want}\n".encode() in res.stdout
    res = gitlane(lane, "doctor")
    assert res.returncode == 0, res.stdout.decode()
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B").returncode == 0
    assert lane.commit_files("HEAD") == {"b1"} and lane.commit_files("HEAD~1") == {"a1"}
    lane.fsck()


def test_a_split_session_index_whose_shared_index_expired_is_recovered(pair) -> None:
    """As an older gitlane left it: the session index itself is split."""
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B staged\n"})          # a live peer: A is not alone, so it keeps a snapshot ref
    stage(lane, "A", a, {"a1": "A staged\n"})
    index = str(lane.session_index("A"))
    lane.plain("-c", "splitIndex.sharedIndexExpire=never", "update-index", "--split-index", index=index)
    shared = [p for p in (lane.path / ".git").iterdir() if p.name.startswith("sharedindex.")]
    shared += [p for p in lane.session_index("A").parent.iterdir() if p.name.startswith("sharedindex.")]
    assert shared
    for p in shared:
        p.unlink()                                              # what git's expiry does
    res = gitlane(lane, "doctor")
    out = res.stdout.decode()
    assert res.returncode == 1 and "ERROR session A: its index cannot be read: " in out, out
    assert "hint: gitlane doctor --fix rebuilds it from its snapshot ref" in out, out
    out = gitlane(lane, "doctor", "--fix").stdout.decode()
    assert "ERROR session A: its index was unreadable (kept as " in out, out
    assert "staged work was restored from refs/gitlane/sessions/A  [fixed]" in out, out
    res = run_in(lane, "A", a, "status", "--porcelain")
    assert (res.returncode, res.stdout) == (0, b"A  a1\n"), res.stderr.decode()


@pytest.mark.parametrize("setting", [("index.version", "4"), ("core.untrackedCache", "true"),
                                     ("feature.manyFiles", "true"), ("core.fsmonitor", "hook")])
def test_index_features_git_maintains_keep_sessions_exact(pair, setting: tuple[str, str], tmp_path: Path) -> None:
    lane, a, b = pair
    key, value = setting
    if value == "hook":                                          # a v2 fsmonitor hook that says "everything changed"
        hook = tmp_path / "fsmonitor"
        hook.write_text("#!/bin/sh\nprintf 'token-%s\\0/\\0' \"$$\"\n")
        hook.chmod(0o755)
        value = str(hook)
    lane.plain("config", key, value)
    lane.plain("update-index", "--index-version", "4" if key == "index.version" else "2")
    lane.plain("status")                                         # git writes its extensions into .git/index
    stage(lane, "A", a, {"a1": "A staged\n", "README": "A's README\n"})
    stage(lane, "B", b, {"b1": "B staged\n"})
    lane.write("b1", "B unstaged edit\n")
    assert run_in(lane, "A", a, "status", "--porcelain").stdout == b"M  README\nA  a1\n"
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.staged("B") == {"b1"}
    assert run_in(lane, "B", b, "commit", "-q", "-m", "B").returncode == 0
    assert lane.tree_files() == {"README": "A's README\n", "a1": "A staged\n", "b1": "B staged\n"}
    assert lane.read("b1") == "B unstaged edit\n"
    assert lane.plain("status", "--porcelain").stdout == b" M b1\n"
    lane.fsck()
