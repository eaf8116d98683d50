"""Issue 4: ownership through claims and reservations, liveness of session
owners, and the `gitlane` CLI around them (who, sessions, status, log, export,
adopt, gc, reserve, release).

Real git in temporary repositories, real `sleep` processes as session owners
(the pure tables: tests/unit/test_liveness.py, test_claims.py, test_reserve.py).
TTL expiry is simulated by editing the `expires` column of
`.git/gitlane/state.db` with sqlite3 (the shim runs in another process, so
mocking `time` in this one could not reach it), never by sleeping.
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Callable

import psutil
import pytest

from gitlane.shared import liveness
from gitlane.testing.lane import SHIM, Lane, real_git, shim_env

# pathspec >= 0.12 deprecates the name 'gitwildmatch' that ownership.matcher() uses (same semantics).
pytestmark = pytest.mark.filterwarnings("ignore:GitWildMatchPattern:DeprecationWarning")

BINARY = bytes(range(256)) + b"\0\xff\xfe binary tail\n"


# --- helpers -----------------------------------------------------------------

def cli(lane: Lane, *args: str, session: str | None = None, pid: int | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """`gitlane ARGS` in the lane's repository, as `session` owned by `pid`."""
    res = subprocess.run([str(SHIM / "gitlane"), *args], cwd=lane.path, capture_output=True,
                         env=shim_env(session, pid))
    if check and res.returncode != 0:
        raise AssertionError(f"gitlane {' '.join(args)} ({session}) rc={res.returncode}\n"
                             f"{res.stdout.decode(errors='replace')}{res.stderr.decode(errors='replace')}")
    return res


def cli_json(lane: Lane, *args: str, session: str | None = None, pid: int | None = None):  # type: ignore[no-untyped-def]
    return json.loads(cli(lane, *args, "--json", session=session, pid=pid).stdout)


def seed(lane: Lane, files: dict[str, bytes | str]) -> None:
    """Commit files with the real git (no session involved)."""
    for rel, data in files.items():
        p = lane.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    lane.plain("add", "--", *files)
    lane.plain("commit", "-q", "-m", "seed")


def db(lane: Lane) -> sqlite3.Connection:
    return sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db")


def rows(lane: Lane, sql: str) -> list[tuple]:
    """Rows of the state database; none while it does not exist yet."""
    if not (lane.path / ".git" / "gitlane" / "state.db").exists():
        return []
    conn = db(lane)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def work_tree(lane: Lane) -> dict[str, str]:
    """sha256 of every file in the work tree (outside .git)."""
    out = {}
    for p in sorted(lane.path.rglob("*")):
        rel = p.relative_to(lane.path)
        if rel.parts[0] != ".git" and p.is_file():
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def index_entries(lane: Lane, session: str) -> bytes:
    """Every entry of a session index (mode, blob, stage, path), read by the real git."""
    return lane.plain("ls-files", "-s", "-z", index=str(lane.session_index(session))).stdout


def staged_blob(lane: Lane, session: str, path: str) -> bytes:
    entry = lane.plain("ls-files", "-s", "--", path, index=str(lane.session_index(session))).stdout.split()
    assert entry, f"{path} is not in session {session}'s index"
    return lane.plain("cat-file", "blob", entry[1].decode()).stdout


def staged_set(lane: Lane, session: str) -> set[str]:
    out = lane.plain("diff-index", "--cached", "--name-only", "-z", "HEAD",
                     index=str(lane.session_index(session))).stdout
    return {p.decode() for p in out.split(b"\0") if p}


def snapshot(lane: Lane, session: str) -> dict[str, object]:
    """Everything a refusal must leave alone. The index bytes are read first,
    straight from disk, before any git runs."""
    idx = lane.session_index(session).read_bytes()
    return dict(index_sha=hashlib.sha256(idx).hexdigest(), entries=index_entries(lane, session),
                staged=staged_set(lane, session), tree=work_tree(lane), head=lane.head(),
                claims=sorted(rows(lane, "SELECT path, session, kind FROM claims")),
                reservations=sorted(rows(lane, "SELECT session, pattern, exclusive, expires FROM reservations")))


def assert_refusal(res: subprocess.CompletedProcess, path: str, owner: str, pid: int) -> None:
    """Non-zero exit; a `gitlane:` message naming the path once, the owner
    session and its pid; a `hint:` line."""
    err = res.stderr.decode()
    assert res.returncode != 0, err
    assert err.startswith("gitlane: "), err
    assert f"session {owner}" in err, err
    assert f"pid {pid}" in err, err
    assert any(line.startswith("hint: ") for line in err.splitlines()), err
    listed = [line for line in err.splitlines()[1:] if line.split()[:1] == [path]]
    assert len(listed) == 1, err


# --- liveness: the owner a session records ---------------------------------

def test_owner_is_GITLANE_SESSION_PID_with_its_create_time(lane: Lane, owner_proc) -> None:
    p = owner_proc()
    assert liveness.owner({"GITLANE_SESSION_PID": str(p.pid)}) == (p.pid, psutil.Process(p.pid).create_time())
    lane.write("b", "b\n")
    lane.git("add", "b", session="s1", pid=p.pid)
    assert rows(lane, "SELECT name, pid, ctime, ended FROM sessions") == [
        ("s1", p.pid, psutil.Process(p.pid).create_time(), None)]


# --- end to end: claims -------------------------------------------------------

@pytest.mark.parametrize("tracked", [True, False], ids=["tracked", "new-file"])
def test_claim_blocks_peer_add_and_refusal_changes_nothing(lane: Lane, owner_proc, tracked: bool) -> None:
    p1, p2 = owner_proc(), owner_proc()
    if tracked:
        seed(lane, {"a.txt": "base\n"})
    lane.write("a.txt", "s1 work\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.write("mine.txt", "s2 work\n")
    lane.git("add", "mine.txt", session="s2", pid=p2.pid)
    lane.write("a.txt", "s1 work\nthen s2 edits it too\n")
    before = snapshot(lane, "s2")
    res = lane.git("add", "a.txt", session="s2", pid=p2.pid, check=False)
    assert res.returncode != 0
    assert snapshot(lane, "s2") == before
    assert staged_set(lane, "s2") == {"mine.txt"}
    assert staged_blob(lane, "s1", "a.txt") == b"s1 work\n"
    assert rows(lane, "SELECT path, session, kind FROM claims ORDER BY path") == [
        (b"a.txt", "s1", "staged"), (b"mine.txt", "s2", "staged")]


def test_add_all_is_all_or_nothing(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    lane.write("theirs.txt", "s1\n")
    lane.git("add", "theirs.txt", session="s1", pid=p1.pid)
    lane.git("status", session="s2", pid=p2.pid)
    lane.write("mine.txt", "s2\n")
    before = snapshot(lane, "s2")
    res = lane.git("add", "mine.txt", "theirs.txt", session="s2", pid=p2.pid, check=False)
    assert_refusal(res, "theirs.txt", "s1", p1.pid)
    assert snapshot(lane, "s2") == before
    # Whole-tree adds never see the peer's claimed file (per-session excludes,
    # docs/DESIGN.md, "View isolation"): they stage exactly this session's own changes.
    for args in (["add", "-A"], ["add", "."]):
        lane.git(*args, session="s2", pid=p2.pid)
        assert staged_set(lane, "s2") == {"mine.txt"}, args
        assert staged_set(lane, "s1") == {"theirs.txt"}


@pytest.mark.parametrize("warm", [True, False], ids=["peer-seen-claim", "peer-first-command"])
def test_commit_a_never_sweeps_a_peers_claimed_path(lane: Lane, owner_proc, warm: bool) -> None:
    """`commit -a` refuses, listing the path another live session staged
    (docs/DESIGN.md, "Ownership": it never sweeps it). Nothing changes; committing one's own paths
    by name then works, and the owner's file and staged content stay intact."""
    seed(lane, {"a.txt": "base\n"})
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1 staged\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.write("a.txt", "s1 staged\ns1 unstaged\n")
    if warm:
        lane.git("status", session="s2", pid=p2.pid)
    s1_index = lane.session_index("s1").read_bytes()
    lane.write("README", "s2 readme\n")
    old = lane.head()
    res = lane.git("commit", "-q", "-a", "-m", "s2", session="s2", pid=p2.pid, check=False)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert err.startswith("gitlane: refusing to commit -a")
    assert "a.txt" in err and "session s1" in err and f"pid {p1.pid}" in err and "\nhint: " in err
    assert lane.head() == old
    lane.git("commit", "-q", "-m", "s2", "README", session="s2", pid=p2.pid)
    assert lane.plain("rev-parse", "HEAD~1").stdout.decode().strip() == old
    assert lane.commit_files("HEAD") == {"README"}
    assert lane.tree_files("HEAD") == {"README": "s2 readme\n", "a.txt": "base\n"}
    assert (lane.path / "a.txt").read_bytes() == b"s1 staged\ns1 unstaged\n"
    assert lane.session_index("s1").read_bytes() == s1_index
    assert staged_blob(lane, "s1", "a.txt") == b"s1 staged\n"
    assert lane.staged("s1") == {"a.txt"}  # rebased onto s2's commit, still staged
    lane.git("commit", "-q", "-m", "s1", session="s1", pid=p1.pid)
    assert lane.tree_files("HEAD") == {"README": "s2 readme\n", "a.txt": "s1 staged\n"}


# --- refusals: message and "nothing changed" -----------------------------------

def _add_new_claimed(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    lane.write("new.txt", "s1\n")
    lane.git("add", "new.txt", session="s1", pid=p1)
    return ["git", "add", "new.txt"], "new.txt"


def _add_tracked_claimed(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1)
    return ["git", "add", "a.txt"], "a.txt"


def _add_sparse_claimed(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1)
    return ["git", "add", "--sparse", "a.txt"], "a.txt"


def _rm_claimed(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1)
    return ["git", "rm", "-q", "--cached", "a.txt"], "a.txt"


def _add_reserved(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    cli(lane, "reserve", "docs/**", "--reason", "docs rewrite", session="s1", pid=p1)
    lane.write("docs/x.md", "s2\n")
    return ["git", "add", "docs/x.md"], "docs/x.md"


def _commit_a_reserved(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    cli(lane, "reserve", "a.txt", session="s1", pid=p1)
    lane.write("a.txt", "s2\n")
    lane.write("README", "s2\n")
    return ["git", "commit", "-q", "-a", "-m", "s2"], "a.txt"


def _commit_paths_reserved(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    cli(lane, "reserve", "a.txt", session="s1", pid=p1)
    lane.write("a.txt", "s2\n")
    return ["git", "commit", "-q", "-m", "s2", "--", "a.txt"], "a.txt"


def _commit_staged_then_reserved(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    lane.write("a.txt", "s2\n")
    lane.git("add", "a.txt", session="s2", pid=p2)
    cli(lane, "reserve", "a.txt", session="s1", pid=p1)
    return ["git", "commit", "-q", "-m", "s2"], "a.txt"


def _reserve_overlapping(lane: Lane, p1: int, p2: int) -> tuple[list[str], str]:
    cli(lane, "reserve", "src/**", session="s1", pid=p1)
    return ["gitlane", "reserve", "src/api/**"], "src/api/**"


SCENARIOS: list = [
    pytest.param(_add_new_claimed, id="add-new-file-staged-by-peer"),
    pytest.param(_add_tracked_claimed, id="add-tracked-file-staged-by-peer"),
    pytest.param(_add_sparse_claimed, id="add-sparse-tracked-file-staged-by-peer"),
    pytest.param(_rm_claimed, id="rm-file-staged-by-peer"),
    pytest.param(_add_reserved, id="add-reserved"),
    pytest.param(_commit_a_reserved, id="commit-a-reserved"),
    pytest.param(_commit_paths_reserved, id="commit-paths-reserved"),
    pytest.param(_commit_staged_then_reserved, id="commit-of-path-reserved-after-staging"),
    pytest.param(_reserve_overlapping, id="reserve-overlapping"),
]


@pytest.mark.parametrize("setup", SCENARIOS)
def test_every_refusal_names_owner_hints_and_changes_nothing(
        lane: Lane, owner_proc, setup: Callable[[Lane, int, int], tuple[list[str], str]]) -> None:
    seed(lane, {"a.txt": "base\n"})
    p1, p2 = owner_proc(), owner_proc()
    argv, path = setup(lane, p1.pid, p2.pid)
    lane.git("status", session="s2", pid=p2.pid)  # s2's view is in step before we look
    before = snapshot(lane, "s2")
    res = subprocess.run([str(SHIM / argv[0]), *argv[1:]], cwd=lane.path, capture_output=True,
                         env=shim_env("s2", p2.pid))
    after = snapshot(lane, "s2")
    assert after == before
    assert_refusal(res, path, "s1", p1.pid)


# --- end to end: reservations ---------------------------------------------------

def test_reservation_blocks_and_release_unblocks(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    res = cli(lane, "reserve", "docs/**", "--reason", "docs rewrite", session="s1", pid=p1.pid)
    assert res.stdout.decode() == "reserved docs/** for session s1 (exclusive, 30m)\n"
    lane.write("docs/x.md", "s2\n")
    res = lane.git("add", "docs/x.md", session="s2", pid=p2.pid, check=False)
    assert_refusal(res, "docs/x.md", "s1", p1.pid)
    assert "'docs rewrite'" in res.stderr.decode()
    assert lane.staged("s2") == set()
    res = cli(lane, "release", "docs/**", session="s1", pid=p1.pid)
    assert res.stdout.decode() == "released 1 reservation of session s1\n"
    assert rows(lane, "SELECT * FROM reservations") == []
    lane.git("add", "docs/x.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"docs/x.md"}


def test_release_all_and_release_needs_patterns(lane: Lane, owner_proc) -> None:
    p1 = owner_proc()
    cli(lane, "reserve", "a/**", "b/**", session="s1", pid=p1.pid)
    res = cli(lane, "release", session="s1", pid=p1.pid, check=False)
    assert res.returncode == 2
    assert "hint: " in res.stderr.decode()
    assert len(rows(lane, "SELECT * FROM reservations")) == 2
    assert cli_json(lane, "release", "--all", session="s1", pid=p1.pid) == {"session": "s1", "released": 2}
    assert rows(lane, "SELECT * FROM reservations") == []


def test_ttl_expiry_unblocks(lane: Lane, owner_proc) -> None:
    """Expiry is simulated by moving `expires` into the past in state.db."""
    p1, p2 = owner_proc(), owner_proc()
    cli(lane, "reserve", "docs/**", "--ttl", "2h", session="s1", pid=p1.pid)
    [(created, expires)] = rows(lane, "SELECT created, expires FROM reservations")
    assert expires - created == pytest.approx(7200, abs=1e-3)
    lane.write("docs/x.md", "s2\n")
    assert lane.git("add", "docs/x.md", session="s2", pid=p2.pid, check=False).returncode != 0
    conn = db(lane)
    with conn:
        conn.execute("UPDATE reservations SET expires = ?", (time.time() - 1,))
    conn.close()
    lane.git("add", "docs/x.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"docs/x.md"}
    assert cli_json(lane, "status", session="s2", pid=p2.pid)["reservations"] == []
    cli(lane, "reserve", "docs/**", session="s2", pid=p2.pid)  # no longer overlaps anything live


def test_reserve_caps_ttl_and_rejects_a_bad_one(lane: Lane, owner_proc) -> None:
    p1 = owner_proc()
    res = cli(lane, "reserve", "x/**", "--ttl=soon", session="s1", pid=p1.pid, check=False)
    assert res.returncode == 2
    assert res.stderr.decode() == ("gitlane: invalid --ttl 'soon'\n"
                                   "hint: use a number with s, m or h, e.g. 45m\n")
    assert rows(lane, "SELECT * FROM reservations") == []
    cli(lane, "reserve", "x/**", "--ttl", "48h", session="s1", pid=p1.pid)
    [(created, expires)] = rows(lane, "SELECT created, expires FROM reservations")
    assert expires - created == pytest.approx(24 * 3600, abs=1e-3)


def test_dead_reservation_owner_unblocks(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    cli(lane, "reserve", "docs/**", session="s1", pid=p1.pid)
    lane.write("docs/x.md", "s2\n")
    assert lane.git("add", "docs/x.md", session="s2", pid=p2.pid, check=False).returncode != 0
    p1.kill()
    p1.wait()
    lane.git("add", "docs/x.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"docs/x.md"}
    cli(lane, "reserve", "docs/**", session="s2", pid=p2.pid)
    assert sorted(rows(lane, "SELECT session, pattern FROM reservations")) == [("s1", "docs/**"), ("s2", "docs/**")]


def test_forced_release_is_audited(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    cli(lane, "reserve", "docs/**", session="s1", pid=p1.pid)
    res = cli(lane, "release", "--session", "s1", session="s2", pid=p2.pid, check=False)
    assert res.returncode == 2
    assert "--force" in res.stderr.decode() and "hint: " in res.stderr.decode()
    assert rows(lane, "SELECT session, pattern FROM reservations") == [("s1", "docs/**")]
    res = cli(lane, "release", "--session", "s1", "--force", session="s2", pid=p2.pid)
    assert res.stdout.decode() == "released 1 reservation of session s1\n"
    assert rows(lane, "SELECT * FROM reservations") == []
    [record] = cli_json(lane, "log", "--event", "force-release", session="s2", pid=p2.pid)
    assert (record["event"], record["session"], record["detail"]) == ("force-release", "s2", "of session s1")
    lane.write("docs/x.md", "s2\n")
    lane.git("add", "docs/x.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"docs/x.md"}


def test_reserving_over_a_live_exclusive_reservation_is_refused(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    cli(lane, "reserve", "src/**", "--reason", "refactor", session="s1", pid=p1.pid)
    before = rows(lane, "SELECT * FROM reservations")
    res = cli(lane, "reserve", "src/api/**", "lib/**", session="s2", pid=p2.pid, check=False)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert err.splitlines()[1].split()[:6] == ["src/api/**", "overlaps", "src/**", "(exclusive)", "held", "by"]
    assert "session s1 'refactor'" in err
    assert "hint: nothing was reserved" in err
    assert rows(lane, "SELECT * FROM reservations") == before  # all or nothing: lib/** not taken either
    cli(lane, "reserve", "lib/**", session="s2", pid=p2.pid)


def test_shared_reservations_coexist_but_not_with_exclusive(lane: Lane, owner_proc) -> None:
    p1, p2, p3 = owner_proc(), owner_proc(), owner_proc()
    cli(lane, "reserve", "--shared", "lib/**", session="s1", pid=p1.pid)
    cli(lane, "reserve", "--shared", "lib/x/**", session="s2", pid=p2.pid)
    res = cli(lane, "reserve", "lib/x/y.c", session="s3", pid=p3.pid, check=False)
    assert res.returncode == 1
    assert {"session s1", "session s2"} <= {m for m in re.findall(r"session s\d", res.stderr.decode())}
    lane.write("lib/x/y.c", "s3\n")
    lane.git("add", "lib/x/y.c", session="s3", pid=p3.pid)  # shared reservations do not block staging
    assert lane.staged("s3") == {"lib/x/y.c"}


# --- end to end: dead owners ----------------------------------------------------

def _stage_mixed_work(lane: Lane, pid: int) -> None:
    """A modification, a new binary file and a deletion, staged as s1."""
    seed(lane, {"a.txt": "base\n", "gone.txt": "to be deleted\n"})
    lane.write("a.txt", "s1 work\n")
    (lane.path / "new.bin").write_bytes(BINARY)
    lane.git("add", "a.txt", "new.bin", session="s1", pid=pid)
    lane.git("rm", "-q", "gone.txt", session="s1", pid=pid)


def test_dead_owners_staged_work_is_listed_and_exportable(lane: Lane, owner_proc, tmp_path: Path) -> None:
    p1, p2 = owner_proc(), owner_proc()
    _stage_mixed_work(lane, p1.pid)
    p1.kill()
    p1.wait()
    status = cli_json(lane, "status", session="s2", pid=p2.pid)
    [s1] = [s for s in status["sessions"] if s["name"] == "s1"]
    assert (s1["state"], s1["pid"], s1["staged"]) == ("dead", p1.pid, ["a.txt", "gone.txt", "new.bin"])
    human = cli(lane, "status", session="s2", pid=p2.pid).stdout.decode()
    assert "dead with staged work: `gitlane export s1` or `gitlane adopt s1`" in human
    patch = cli(lane, "export", "s1", session="s2", pid=p2.pid).stdout
    out = tmp_path / "s1.patch"
    cli(lane, "export", "s1", "-o", str(out), session="s2", pid=p2.pid)
    assert out.read_bytes() == patch
    clone = tmp_path / "clone"
    lane.plain("clone", "-q", str(lane.path), str(clone))
    subprocess.run([real_git(), "apply", "--index", str(out)], cwd=clone, check=True, capture_output=True)
    assert (clone / "a.txt").read_bytes() == b"s1 work\n"
    assert (clone / "new.bin").read_bytes() == BINARY
    assert not (clone / "gone.txt").exists()
    assert staged_blob(lane, "s1", "new.bin") == BINARY


def test_dead_owner_unblocks_a_peer(lane: Lane, owner_proc) -> None:
    """s3 proves the claim blocks while s1 lives; s2 stages after s1 died."""
    seed(lane, {"a.txt": "base\n"})
    p1, p2, p3 = owner_proc(), owner_proc(), owner_proc()
    lane.write("a.txt", "s1 work\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    assert lane.git("add", "a.txt", session="s3", pid=p3.pid, check=False).returncode != 0
    p1.kill()
    p1.wait()
    lane.write("a.txt", "s2 work\n")
    lane.git("add", "a.txt", session="s2", pid=p2.pid)
    assert staged_blob(lane, "s2", "a.txt") == b"s2 work\n"
    assert staged_blob(lane, "s1", "a.txt") == b"s1 work\n"  # the dead session's work is kept
    lane.git("commit", "-q", "-m", "s2", session="s2", pid=p2.pid)
    assert lane.tree_files("HEAD")["a.txt"] == "s2 work\n"


@pytest.mark.parametrize("tracked", [
    pytest.param(False, id="new-file"),
    pytest.param(True, id="tracked"),
])
def test_dead_owner_unblocks_the_peer_it_blocked(lane: Lane, owner_proc, tracked: bool) -> None:
    if tracked:
        seed(lane, {"a.txt": "base\n"})
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1 work\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    assert lane.git("add", "a.txt", session="s2", pid=p2.pid, check=False).returncode != 0
    p1.kill()
    p1.wait()
    lane.write("a.txt", "s2 work\n")
    res = lane.git("add", "a.txt", session="s2", pid=p2.pid, check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert staged_blob(lane, "s2", "a.txt") == b"s2 work\n"


def test_dead_sessions_staged_work_stays_listed_after_a_peer_stages_the_path(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1 work\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    p1.kill()
    p1.wait()
    lane.write("a.txt", "s2 work\n")
    lane.git("add", "a.txt", session="s2", pid=p2.pid)
    assert b"+s1 work" in cli(lane, "export", "s1", session="s2", pid=p2.pid).stdout
    status = cli_json(lane, "status", session="s2", pid=p2.pid)
    assert {s["name"]: s["staged"] for s in status["sessions"]} == {"s1": ["a.txt"], "s2": ["a.txt"]}


# --- CLI: who, sessions, log ------------------------------------------------------

def test_who(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    cli(lane, "reserve", "docs/**", "--reason", "docs", session="s1", pid=p1.pid)
    got = cli_json(lane, "who", "a.txt", "docs/x.md", "README", session="s2", pid=p2.pid)
    assert [g["path"] for g in got] == ["a.txt", "docs/x.md", "README"]
    assert [(o["session"], o["kind"], o["pid"], o["live"], o["reason"]) for o in got[0]["owners"]] == [
        ("s1", "staged", p1.pid, True, "")]
    assert [(o["session"], o["kind"], o["pid"], o["live"], o["reason"]) for o in got[1]["owners"]] == [
        ("s1", "reserved", p1.pid, True, "docs")]
    assert got[2]["owners"] == []
    lines = cli(lane, "who", "a.txt", "README", session="s2", pid=p2.pid).stdout.decode().splitlines()
    assert re.fullmatch(rf"a\.txt: staged by session s1 \(pid {p1.pid}, for \d+s\)", lines[0]), lines
    assert lines[1] == "README: free"
    (lane.path / "sub").mkdir()
    res = subprocess.run([str(SHIM / "gitlane"), "who", "--json", "../a.txt"], cwd=lane.path / "sub",
                         capture_output=True, env=shim_env("s2", p2.pid), check=True)
    assert json.loads(res.stdout)[0]["path"] == "a.txt"  # relative to the cwd, reported from the top
    p1.kill()
    p1.wait()
    out = cli(lane, "who", "a.txt", session="s2", pid=p2.pid).stdout.decode()
    assert out.rstrip().endswith("[dead: does not block]")
    assert cli_json(lane, "who", "a.txt", session="s2", pid=p2.pid)[0]["owners"][0]["live"] is False


def test_sessions_json_and_table(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.git("status", session="s2", pid=p2.pid)
    cli(lane, "reserve", "docs/**", session="s2", pid=p2.pid)
    head = lane.head()
    got = cli_json(lane, "sessions", session="s2", pid=p2.pid)
    assert [(s["name"], s["state"], s["pid"], s["staged"], len(s["reservations"]), s["current"], s["base"])
            for s in got] == [("s1", "live", p1.pid, ["a.txt"], 0, False, head),
                              ("s2", "live", p2.pid, [], 1, True, head)]
    table = cli(lane, "sessions", session="s2", pid=p2.pid).stdout.decode().splitlines()
    assert table[0].split() == ["SESSION", "STATE", "BRANCH", "PID", "STAGED", "RESERVED", "BASE", "AGE", "LABEL"]
    assert table[1].split()[:6] == ["s1", "live", "main", str(p1.pid), "1", "0"]
    assert table[2].split()[:7] == ["*", "s2", "live", "main", str(p2.pid), "0", "1"]
    assert [s["branch"] for s in got] == ["main", "main"]
    p1.kill()
    p1.wait()
    assert [s["state"] for s in cli_json(lane, "sessions", session="s2", pid=p2.pid)] == ["dead", "live"]
    assert cli(lane, "sessions").stdout.decode().splitlines()[1].startswith("  s1 ")  # no session: no '*'


def test_log_filters(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    cli(lane, "reserve", "a/**", session="s1", pid=p1.pid)
    cli(lane, "reserve", "b/**", session="s2", pid=p2.pid)
    cli(lane, "release", "a/**", session="s1", pid=p1.pid)
    lane.write("b/x", "s2\n")
    lane.git("add", "b/x", session="s2", pid=p2.pid)
    lane.git("commit", "-q", "-m", "s2", session="s2", pid=p2.pid)
    everything = cli_json(lane, "log", session="s2", pid=p2.pid)
    assert [(r["session"], r["event"]) for r in everything] == [
        ("s2", "commit"), ("s1", "release"), ("s2", "reserve"), ("s1", "reserve")]
    assert [r["event"] for r in cli_json(lane, "log", "--session", "s1")] == ["release", "reserve"]
    assert [r["session"] for r in cli_json(lane, "log", "--event", "reserve")] == ["s2", "s1"]
    [commit] = cli_json(lane, "log", "--event", "commit", "--session", "s2")
    assert (commit["commit"], commit["paths"], commit["exit"]) == (lane.head(), ["b/x"], 0)
    assert cli_json(lane, "log", "--event", "commit", "--session", "s1") == []
    assert [r["event"] for r in cli_json(lane, "log", "-n", "1")] == ["commit"]
    assert len(cli_json(lane, "log", "--since", "1h")) == 4
    human = cli(lane, "log", "--event", "reserve").stdout.decode().splitlines()
    assert human[0].split() == ["TIME", "SESSION", "EVENT", "EXIT", "COMMIT", "PATHS", "COMMAND"]
    assert len(human) == 3
    assert cli(lane, "log", "--event", "nope").stdout.decode() == "no audit records\n"


# --- CLI: gc, adopt -----------------------------------------------------------------

def test_gc_prunes_dead_sessions_with_nothing_staged_only(lane: Lane, owner_proc) -> None:
    p_empty, p_staged, p_live, p_me = owner_proc(), owner_proc(), owner_proc(), owner_proc()
    lane.git("status", session="dead-empty", pid=p_empty.pid)
    cli(lane, "reserve", "x/**", session="dead-empty", pid=p_empty.pid)
    lane.write("a.txt", "staged work\n")
    lane.git("add", "a.txt", session="dead-staged", pid=p_staged.pid)
    lane.git("status", session="live-empty", pid=p_live.pid)
    for p in (p_empty, p_staged):
        p.kill()
        p.wait()
    sessions_dir = lane.path / ".git" / "gitlane" / "sessions"
    names = lambda: sorted(r[0] for r in rows(lane, "SELECT name FROM sessions"))  # noqa: E731
    assert cli_json(lane, "gc", "--dry-run", session="me", pid=p_me.pid) == {"pruned": ["dead-empty"], "dry_run": True}
    assert (sessions_dir / "dead-empty").is_dir()
    assert names() == ["dead-empty", "dead-staged", "live-empty"]
    res = cli(lane, "gc", session="me", pid=p_me.pid)
    assert res.stdout.decode() == "pruned 1 session: dead-empty\n"
    assert not (sessions_dir / "dead-empty").exists()
    assert names() == ["dead-staged", "live-empty"]
    assert rows(lane, "SELECT session FROM reservations") == []
    assert (sessions_dir / "dead-staged").is_dir() and (sessions_dir / "live-empty").is_dir()
    assert staged_blob(lane, "dead-staged", "a.txt") == b"staged work\n"
    assert b"+staged work" in cli(lane, "export", "dead-staged").stdout
    assert [r["session"] for r in cli_json(lane, "log", "--event", "gc")] == ["dead-empty"]
    assert cli_json(lane, "gc", session="me", pid=p_me.pid) == {"pruned": [], "dry_run": False}


def test_adopt_moves_dead_sessions_staged_work(lane: Lane, owner_proc) -> None:
    seed(lane, {"a.txt": "base\n"})
    p1, p2, p3 = owner_proc(), owner_proc(), owner_proc()
    lane.write("a.txt", "s1 work\n")
    (lane.path / "new.bin").write_bytes(BINARY)
    lane.git("add", "a.txt", "new.bin", session="s1", pid=p1.pid)
    lane.write("mine.txt", "s2\n")
    lane.git("add", "mine.txt", session="s2", pid=p2.pid)
    exported = cli(lane, "export", "s1").stdout
    p1.kill()
    p1.wait()
    res = cli(lane, "adopt", "s1", session="s2", pid=p2.pid)
    assert res.stdout.decode() == "adopted session s1's staged work into session s2\n"
    assert staged_set(lane, "s2") == {"a.txt", "new.bin", "mine.txt"}
    assert staged_blob(lane, "s2", "a.txt") == b"s1 work\n"
    assert staged_blob(lane, "s2", "new.bin") == BINARY
    assert staged_set(lane, "s1") == set()
    assert cli(lane, "export", "s1").stdout == b""
    assert (lane.path / ".git/gitlane/sessions/s1/adopted.patch").read_bytes() == exported
    assert sorted(rows(lane, "SELECT path, session FROM claims")) == [
        (b"a.txt", "s2"), (b"mine.txt", "s2"), (b"new.bin", "s2")]
    [record] = cli_json(lane, "log", "--event", "adopt")
    assert (record["session"], record["detail"]) == ("s2", "from session s1")
    assert_refusal(lane.git("add", "new.bin", session="s3", pid=p3.pid, check=False), "new.bin", "s2", p2.pid)
    lane.git("commit", "-q", "-m", "adopted", session="s2", pid=p2.pid)
    assert lane.commit_files("HEAD") == {"a.txt", "new.bin", "mine.txt"}
    assert lane.plain("show", "HEAD:new.bin").stdout == BINARY


def test_adopt_refuses_a_live_session_and_changes_nothing(lane: Lane, owner_proc) -> None:
    p1, p2 = owner_proc(), owner_proc()
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.git("status", session="s2", pid=p2.pid)
    before1, before2 = snapshot(lane, "s1"), snapshot(lane, "s2")
    res = cli(lane, "adopt", "s1", session="s2", pid=p2.pid, check=False)
    assert res.returncode == 1
    assert res.stderr.decode().startswith(f"gitlane: session s1 is live (pid {p1.pid})")
    assert "hint: " in res.stderr.decode()
    assert (snapshot(lane, "s1"), snapshot(lane, "s2")) == (before1, before2)
    res = cli(lane, "adopt", "s1", check=False)  # no session of our own
    assert res.returncode == 1 and "no session in this shell" in res.stderr.decode()


def test_adopted_claims_block_peers_even_if_adopter_has_not_run_git_yet(lane: Lane, owner_proc) -> None:
    p1, p2, p3 = owner_proc(), owner_proc(), owner_proc()
    lane.write("new.txt", "s1 work\n")
    lane.git("add", "new.txt", session="s1", pid=p1.pid)
    p1.kill()
    p1.wait()
    cli(lane, "adopt", "s1", session="s2", pid=p2.pid)
    assert_refusal(lane.git("add", "new.txt", session="s3", pid=p3.pid, check=False), "new.txt", "s2", p2.pid)
