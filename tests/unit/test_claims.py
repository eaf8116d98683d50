"""shared.claims: who owns a path. Reservation globs are gitwildmatch
(pathspec), checked against git's own .gitignore matching; overlap() by
table; then the claims and reservations tables on a real state database:
set_staged, claim_edit, find, and that every write bumps the generation
counter and its file (what the hot path reads instead of sqlite).
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from gitlane import layout
from gitlane.shared import claims as ownership
from gitlane.shared import db, liveness
from gitlane.shared.claims import overlap
from gitlane.testing.lane import Lane

# pathspec >= 0.12 deprecates the name 'gitwildmatch' that ownership.matcher() uses (same semantics).
pytestmark = pytest.mark.filterwarnings("ignore:GitWildMatchPattern:DeprecationWarning")


# --- pattern matching and overlap (tables) --------------------------------------

@pytest.mark.parametrize("pattern, matches, misses", [
    ("src/**", ["src/a.py", "src/x/y.py", "src/sub/deep/z.c"], ["src", "lib/src/a.py", "srcfoo/a", "a.py"]),
    ("*.md", ["README.md", "docs/x.md", "a/b/c.md"], ["README.mdx", "README", "md"]),
    ("docs/", ["docs/x.md", "docs/a/b", "sub/docs/x"], ["docs", "documents/x", "x/docs"]),
    ("/top.txt", ["top.txt"], ["sub/top.txt", "top.txt.bak", "top"]),
    ("top.txt", ["top.txt", "sub/top.txt"], ["top.txt.bak"]),
    ("src/*.py", ["src/a.py"], ["src/sub/x.py", "a.py", "src/a.pyc"]),
    ("a/**/b.txt", ["a/b.txt", "a/x/b.txt", "a/x/y/b.txt"], ["b.txt", "x/a/b.txt", "a/b.txt.orig"]),
    ("**/build/**", ["build/o", "x/build/o", "x/y/build/z/o"], ["build", "builds/o", "x/rebuild/o"]),
    ("src", ["src", "src/a.py", "lib/src/a.py"], ["srcfoo", "source/a"]),
    ("file?.txt", ["file1.txt", "d/fileA.txt"], ["file10.txt", "file.txt", "file/.txt"]),
    ("[ab].c", ["a.c", "b.c", "d/a.c"], ["c.c", "ab.c"]),
])
def test_matcher_is_gitwildmatch(pattern: str, matches: list[str], misses: list[str]) -> None:
    match = ownership.matcher([pattern])
    assert [p for p in matches if not match(p)] == []
    assert [p for p in misses if match(p)] == []


def test_matcher_agrees_with_git_check_ignore(lane: Lane) -> None:
    """The same gitwildmatch semantics as git's own .gitignore matching."""
    patterns = ["src/**", "*.md", "docs/", "/top.txt", "src/*.py", "a/**/b.txt"]
    paths = ["src/a.py", "src/x/y.py", "lib/src/a.py", "README.md", "docs/x.md", "README.mdx",
             "sub/docs/x", "top.txt", "sub/top.txt", "src/sub/x.py", "a/b.txt", "a/x/y/b.txt"]
    for pattern in patterns:
        (lane.path / ".gitignore").write_text(pattern + "\n")
        out = lane.plain("check-ignore", "--no-index", "-z", "--stdin", check=False,
                         input=b"\0".join(p.encode() for p in paths) + b"\0").stdout
        by_git = {p.decode() for p in out.split(b"\0") if p}
        match = ownership.matcher([pattern])
        assert {p for p in paths if match(p)} == by_git, pattern


@pytest.mark.parametrize("a, b, candidates, expected", [
    ("src/**", "src/**", [], True),
    ("src/**", "src/api/x.py", [], True),
    ("src/**", "src/new/**", [], True),
    ("src", "src/**", [], True),
    ("docs/", "docs/**", [], True),
    ("docs/", "docs/guide.md", [], True),
    ("/top.txt", "top.txt", [], True),
    ("/top.txt", "*.txt", [], True),
    ("*.md", "README.md", [], True),
    ("*.md", "docs/**", ["docs/a.md"], True),
    ("docs/", "*.md", ["docs/sub/a.md"], True),
    ("src/**", "lib/**", [], False),
    ("src/a/**", "src/b/**", ["src/a/x", "src/b/y"], False),
    ("*.md", "*.txt", ["a.md", "b.txt"], False),
    ("/top.txt", "sub/**", ["top.txt", "sub/top.txt"], False),
    ("src/*.py", "src/sub/**", ["src/a.py", "src/sub/b.py"], False),
    ("docs/", "*.md", ["README.md", "docs/a.txt"], True),  # docs/x.md would be both
    pytest.param("*.md", "docs/**", [], True),
    pytest.param("*.py", "src/**", [], True),
])
def test_overlap(a: str, b: str, candidates: list[str], expected: bool) -> None:
    assert overlap(a, b, candidates) is expected
    assert overlap(b, a, candidates) is expected


# --- the database side: claims, reservations, the generation ----------------------------

WT = ""


@pytest.fixture
def state(tmp_path: Path) -> Iterator[tuple[db.Connection, Path]]:
    """A fresh state database and its folder."""
    folder = tmp_path / "gitlane"
    conn = db.connect(str(folder))
    yield conn, folder
    conn.close()


def add_session(conn: db.Connection, name: str, pid: int | None, ended: float | None = None) -> None:
    conn.execute("INSERT INTO sessions (name, pid, ctime, label, started, last_seen, cwd, ended) "
                 "VALUES (?, ?, NULL, NULL, 0, 0, '', ?)", (name, pid, ended))


def claims_rows(conn: db.Connection) -> list[tuple[str, bytes, str, str]]:
    return sorted((wt, bytes(p), s, k) for wt, p, s, k in conn.execute("SELECT wt, path, session, kind FROM claims"))


def generation_file(folder: Path) -> str:
    return (folder / layout.GENERATION).read_text().strip()


def everyone_alive(_name: str) -> bool:
    return True


def test_set_staged_makes_the_claims_exactly_the_staged_set(state) -> None:  # type: ignore[no-untyped-def]
    conn, folder = state
    first = ownership.set_staged(conn, WT, "A", [b"a", b"b"])
    assert first is not None and (first.before, first.after) == (0, 1)
    assert claims_rows(conn) == [(WT, b"a", "A", "staged"), (WT, b"b", "A", "staged")]
    assert ownership.set_staged(conn, WT, "A", [b"b", b"a"]) is None     # unchanged: no bump
    assert ownership.generation(conn) == 1
    second = ownership.set_staged(conn, WT, "A", [b"b", b"c"])
    assert second is not None and (second.before, second.after) == (1, 2)
    assert claims_rows(conn) == [(WT, b"b", "A", "staged"), (WT, b"c", "A", "staged")]
    assert ownership.set_staged(conn, WT, "A", []) is not None
    assert claims_rows(conn) == []


def test_set_staged_leaves_other_sessions_and_worktrees_alone(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "B", [b"b"])
    ownership.set_staged(conn, "wt1", "A", [b"x"])
    ownership.set_staged(conn, WT, "A", [b"a"])
    ownership.set_staged(conn, WT, "A", [])
    assert claims_rows(conn) == [(WT, b"b", "B", "staged"), ("wt1", b"x", "A", "staged")]


def test_set_staged_turns_its_own_edit_claim_into_a_staged_one(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    assert ownership.claim_edit(conn, WT, "A", b"p", everyone_alive)
    ownership.set_staged(conn, WT, "A", [b"p"])
    assert claims_rows(conn) == [(WT, b"p", "A", "staged")]


def test_claim_edit(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    alive = {"B": True, "C": False}
    assert ownership.claim_edit(conn, WT, "A", b"free", alive.get) is True
    gen = ownership.generation(conn)
    assert ownership.claim_edit(conn, WT, "A", b"free", alive.get) is False       # ours already
    ownership.set_staged(conn, WT, "B", [b"live"])
    ownership.set_staged(conn, WT, "C", [b"dead"])
    gen = ownership.generation(conn)
    assert ownership.claim_edit(conn, WT, "A", b"live", alive.get) is False       # a live peer's
    assert ownership.generation(conn) == gen
    assert ownership.claim_edit(conn, WT, "A", b"dead", alive.get) is True        # a dead owner's
    assert ownership.generation(conn) == gen + 1
    assert claims_rows(conn) == [(WT, b"dead", "A", "edit"), (WT, b"free", "A", "edit"),
                                 (WT, b"live", "B", "staged")]


def test_drop_edits_ends_only_my_edit_claims(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.claim_edit(conn, WT, "A", b"e1", everyone_alive)
    ownership.claim_edit(conn, WT, "A", b"e2", everyone_alive)
    ownership.claim_edit(conn, WT, "B", b"b", everyone_alive)
    ownership.set_staged(conn, WT, "A", [b"s"])
    assert ownership.drop_edits(conn, WT, "A", [b"nothing"]) is None             # nothing: no bump
    change = ownership.drop_edits(conn, WT, "A", [b"e1", b"s", b"b"])
    assert change is not None and change.after == change.before + 1
    assert claims_rows(conn) == [(WT, b"b", "B", "edit"), (WT, b"e2", "A", "edit"), (WT, b"s", "A", "staged")]


def test_end_forget_and_transfer(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "A", [b"s"])
    ownership.claim_edit(conn, WT, "A", b"e", everyone_alive)
    ownership.reserve(conn, "A", ["docs/**"], True, "", 60)
    ownership.end_session(conn, "A")          # reservations and edits go, staged work stays
    assert claims_rows(conn) == [(WT, b"s", "A", "staged")]
    assert ownership.reservations(conn) == []
    ownership.transfer(conn, "A", "Z")
    assert claims_rows(conn) == [(WT, b"s", "Z", "staged")]
    ownership.reserve(conn, "Z", ["x"], True, "", 60)
    ownership.forget_session(conn, "Z")
    assert claims_rows(conn) == [] and ownership.reservations(conn) == []


def test_reserve_replaces_the_same_pattern_and_release_counts(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.reserve(conn, "A", ["src/**", "*.md"], True, "refactor", 60)
    ownership.reserve(conn, "A", ["src/**"], False, "again", 120)
    rows = {(r.pattern, r.exclusive, r.reason) for r in ownership.reservations(conn)}
    assert rows == {("src/**", False, "again"), ("*.md", True, "refactor")}
    ownership.reserve(conn, "B", ["lib/**"], True, "", 60)
    assert ownership.release(conn, "A", ["*.md", "nope"]) == 1
    assert ownership.release(conn, "A") == 1
    assert [r.session for r in ownership.reservations(conn)] == ["B"]


def test_expired_reservations_are_not_listed_and_do_not_block(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.reserve(conn, "B", ["docs/**"], True, "", 60)
    now = time.time()
    assert len(ownership.reservations(conn, now)) == 1
    assert ownership.reservations(conn, now + 61) == []
    assert ownership.find(conn, WT, "A", [b"docs/x"], everyone_alive, now + 61) == []
    assert [p for p, _ in ownership.find(conn, WT, "A", [b"docs/x"], everyone_alive, now)] == [b"docs/x"]


def test_find_names_live_owners_other_than_me(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    add_session(conn, "B", 101)
    add_session(conn, "C", 102)
    ownership.set_staged(conn, WT, "A", [b"mine"])
    ownership.set_staged(conn, WT, "B", [b"b-staged"])
    ownership.claim_edit(conn, WT, "B", b"b-edit", everyone_alive)
    ownership.set_staged(conn, WT, "C", [b"c-dead"])
    ownership.set_staged(conn, "wt1", "B", [b"other-worktree"])
    ownership.reserve(conn, "B", ["docs/**"], True, "writing docs", 600)
    ownership.reserve(conn, "C", ["lib/**"], True, "", 600)
    ownership.reserve(conn, "B", ["shared/**"], False, "", 600)        # shared: never blocks
    alive = {"A": True, "B": True, "C": False}.get
    paths = [b"mine", b"b-staged", b"b-edit", b"c-dead", b"other-worktree", b"docs/a.md", b"lib/x",
             b"shared/y", b"free"]
    found = {p: (o.session, o.pid, o.kind, o.reason) for p, o in ownership.find(conn, WT, "A", paths, alive)}
    assert found == {b"b-staged": ("B", 101, "staged", ""), b"b-edit": ("B", 101, "edit", ""),
                     b"docs/a.md": ("B", 101, "reserved", "writing docs")}


def test_find_prefers_a_claim_over_a_reservation_and_lists_each_path_once(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "B", [b"docs/a.md"])
    ownership.reserve(conn, "C", ["docs/**"], True, "", 600)
    ownership.reserve(conn, "D", ["*.md"], True, "", 600)
    found = ownership.find(conn, WT, "A", [b"docs/a.md", b"docs/b.md"], everyone_alive)
    assert [(p, o.session, o.kind) for p, o in found] == [(b"docs/a.md", "B", "staged"),
                                                         (b"docs/b.md", "C", "reserved")]


def test_a_reservation_names_its_pattern_when_it_has_no_reason(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.reserve(conn, "B", ["docs/**"], True, "", 600)
    ((_, owner),) = ownership.find(conn, WT, "A", [b"docs/x"], everyone_alive)
    assert owner.reason == "docs/**" and owner.expires is not None


def test_owners_of_lists_everyone_live_or_not(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "B", [b"p"])
    assert [o.session for o in ownership.owners_of(conn, WT, b"p")] == ["B"]
    assert ownership.owners_of(conn, WT, b"q") == []


def test_hidden_from_uses_kill_0_and_skips_ended_sessions(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    dead = subprocess.Popen(["true"])
    dead.wait()
    add_session(conn, "A", os.getpid())
    add_session(conn, "live", os.getpid())
    add_session(conn, "dead", dead.pid)
    add_session(conn, "ended", os.getpid(), ended=1.0)
    add_session(conn, "nopid", None)
    for name in ("A", "live", "dead", "ended", "nopid"):
        ownership.set_staged(conn, WT, name, [name.encode()])
    ownership.set_staged(conn, WT, "unregistered", [b"unregistered"])
    ownership.set_staged(conn, "wt1", "live", [b"elsewhere"])
    paths, pids = ownership.hidden_from(conn, WT, "A")
    assert paths == {b"live", b"nopid"}        # not my own, not dead, not ended, not unknown
    assert pids == {os.getpid()}


def test_peers_lists_other_live_sessions_with_their_claims(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    add_session(conn, "A", 1)
    add_session(conn, "B", 2)
    add_session(conn, "C", 3)
    add_session(conn, "gone", 4, ended=1.0)
    ownership.set_staged(conn, WT, "B", [b"b1", b"b2"])
    ownership.reserve(conn, "C", ["docs/**"], True, "", 600)
    ownership.reserve(conn, "C", ["shared/**"], False, "", 600)
    got = ownership.peers(conn, WT, "A", lambda name: name != "dead")
    assert got == [ownership.Peer("B", 2, frozenset({b"b1", b"b2"})), ownership.Peer("C", 3, frozenset(), ("docs/**",))]
    assert ownership.peers(conn, WT, "A", lambda name: name != "B") == [ownership.Peer("C", 3, frozenset(), ("docs/**",))]


def test_by_session_and_has_claims(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "A", [b"b", b"a"])
    ownership.claim_edit(conn, "wt1", "A", b"e", everyone_alive)
    assert ownership.by_session(conn) == {"A": {"staged": [b"a", b"b"], "edit": [b"e"]}}
    assert ownership.has_claims(conn, "A") and not ownership.has_claims(conn, "B")


def test_alive_checker_is_memoised_and_fails_closed(state, mocker) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    dead = subprocess.Popen(["true"])
    dead.wait()
    add_session(conn, "me", os.getpid())
    add_session(conn, "dead", dead.pid)
    add_session(conn, "ended", os.getpid(), ended=1.0)
    add_session(conn, "unknown-owner", None)
    alive = ownership.alive_checker(conn)
    spy = mocker.spy(liveness, "is_alive")
    assert [alive(n) for n in ("me", "dead", "ended", "unknown-owner", "never-registered")] == \
        [True, False, False, True, False]
    assert [alive(n) for n in ("me", "dead")] == [True, False]
    assert spy.call_count == 3                  # me, dead, unknown-owner: once each


@pytest.mark.parametrize("mine, exclusive, theirs, theirs_exclusive, owner_alive, clash", [
    ("src/**", True, "src/api/**", True, True, True),
    ("src/**", False, "src/api/**", True, True, True),     # theirs is exclusive
    ("src/**", True, "src/api/**", False, True, True),     # mine is exclusive
    ("src/**", False, "src/api/**", False, True, False),   # both shared
    ("src/**", True, "lib/**", True, True, False),         # no common path
    ("src/**", True, "src/**", True, False, False),        # their owner is dead
])
def test_clashes(state, mine: str, exclusive: bool, theirs: str, theirs_exclusive: bool,  # type: ignore[no-untyped-def]
                 owner_alive: bool, clash: bool) -> None:
    conn, _ = state
    ownership.reserve(conn, "B", [theirs], theirs_exclusive, "", 600)
    ownership.reserve(conn, "A", ["src/**"], True, "", 600)           # my own never clashes with me
    found = ownership.clashes(conn, "A", [mine], exclusive, [], lambda _n: owner_alive)
    assert [(m, r.session, r.pattern) for m, r in found] == ([(mine, "B", theirs)] if clash else [])


# every function that changes ownership bumps the counter and writes the file
WRITERS = {
    "set_staged": lambda c: ownership.set_staged(c, WT, "A", [b"new"]),
    "claim_edit": lambda c: ownership.claim_edit(c, WT, "A", b"edited", everyone_alive),
    "drop_edits": lambda c: ownership.drop_edits(c, WT, "A", [b"e"]),
    "end_session": lambda c: ownership.end_session(c, "A"),
    "forget_session": lambda c: ownership.forget_session(c, "A"),
    "transfer": lambda c: ownership.transfer(c, "A", "Z"),
    "reserve": lambda c: ownership.reserve(c, "A", ["x/**"], True, "", 60),
    "release": lambda c: ownership.release(c, "A"),
    "bump": lambda c: ownership.bump(c),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_ownership_write_bumps_the_generation_file(state, name: str) -> None:  # type: ignore[no-untyped-def]
    conn, folder = state
    ownership.claim_edit(conn, WT, "A", b"e", everyone_alive)
    before = ownership.generation(conn)
    assert generation_file(folder) == str(before)
    WRITERS[name](conn)
    after = ownership.generation(conn)
    assert after == before + 1
    assert generation_file(folder) == str(after)
    assert layout.read_generation(str(folder)) == str(after)    # what the hot path reads
    assert [p.name for p in folder.iterdir() if ".tmp." in p.name] == []


@pytest.mark.parametrize("name, call", [
    ("set_staged unchanged", lambda c: ownership.set_staged(c, WT, "A", [])),
    ("claim_edit refused", lambda c: ownership.claim_edit(c, WT, "A", b"theirs", everyone_alive)),
    ("drop_edits of nothing", lambda c: ownership.drop_edits(c, WT, "A", [b"none"])),
])
def test_a_write_that_changes_nothing_leaves_the_generation(state, name: str, call) -> None:  # type: ignore[no-untyped-def]
    conn, folder = state
    ownership.set_staged(conn, WT, "B", [b"theirs"])
    before = generation_file(folder)
    call(conn)
    assert generation_file(folder) == before == str(ownership.generation(conn)), name


def test_a_rolled_back_transaction_leaves_the_counter_and_claims(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    ownership.set_staged(conn, WT, "A", [b"a"])
    with pytest.raises(RuntimeError):
        with db.tx(conn):
            ownership.set_staged(conn, WT, "A", [b"b"])
            raise RuntimeError("abort")
    assert ownership.generation(conn) == 1
    assert claims_rows(conn) == [(WT, b"a", "A", "staged")]


# --- patterns, durations, owners, refusals -------------------------------------------

@pytest.mark.parametrize("pattern, problem", [
    ("src/**", None),
    ("*.md", None),
    ("docs/", None),
    ("/top.txt", None),
    ("a/..", None),                                   # the top itself, not outside
    ("[", None),
    ("", "it is empty, too long or has control characters"),
    ("   ", "it is empty, too long or has control characters"),
    ("x" * 1001, "it is empty, too long or has control characters"),
    ("a\0b", "it is empty, too long or has control characters"),
    ("a\tb", "it is empty, too long or has control characters"),
    ("a\nb", "it is empty, too long or has control characters"),
    ("../x", "it points outside the work tree"),
    ("/../x", "it points outside the work tree"),
    ("a/../../b", "it points outside the work tree"),
    ("..", "it points outside the work tree"),
    (".", "it points outside the work tree"),
    ("a\\", "Invalid git pattern: 'a\\\\'"),
    ("!", "Invalid git pattern: '!'"),
])
def test_pattern_problem(pattern: str, problem: str | None) -> None:
    assert ownership.pattern_problem(pattern) == problem


def test_pattern_problem_allows_the_longest_pattern() -> None:
    assert ownership.pattern_problem("x" * 1000) is None


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (-5, "0s"), (1.9, "1s"), (89, "89s"), (90, "1m"), (5399, "89m"), (5400, "1h30m"),
    (3600 * 25 + 60, "25h01m"), (86400, "24h00m"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert ownership.human_duration(seconds) == text


@pytest.mark.parametrize("owner, text", [
    (ownership.Owner("B", 7, "staged", since=995.0), "staged by session B (pid 7, for 5s)"),
    (ownership.Owner("B", None, "edit", since=1000.0), "being edited by session B (pid ?, for 0s)"),
    (ownership.Owner("B", 7, "reserved", "why", 900.0, 1600.0), "reserved by session B (pid 7, 'why', 10m left)"),
])
def test_owner_describe(owner: ownership.Owner, text: str) -> None:
    assert owner.describe(now=1000.0) == text


def test_refusal_lists_each_path_once_names_owners_and_caps_at_twenty() -> None:
    b = ownership.Owner("B", 7, "staged", since=time.time())
    one = ownership.refusal("stage", [(b"p", b), (b"p", b)], "nothing was staged")
    assert one.code == 1
    assert one.what.splitlines() == ["refusing to stage 1 path owned by another live session:",
                                     "p  staged by session B (pid 7, for 0s)"]
    assert one.hint.startswith("nothing was staged. Ask the owner to commit or release it (`gitlane who PATH`),")
    many = ownership.refusal("commit", [(f"f{i:02d}".encode(), b) for i in range(25)], "nothing was committed")
    lines = many.what.splitlines()
    assert lines[0] == "refusing to commit 25 paths owned by another live session:"
    assert len(lines) == 22 and lines[-1] == "... and 5 more"


def test_peer_equality() -> None:
    a = ownership.Peer("B", 1, frozenset({b"x"}), ("d/**",))
    assert a == ownership.Peer("B", 1, frozenset({b"x"}), ("d/**",))
    assert a != ownership.Peer("B", 1, frozenset(), ("d/**",))
    assert hash(a) == hash(ownership.Peer("B", 1))


def test_others_hold_any_is_false_only_when_find_could_name_nobody(state) -> None:  # type: ignore[no-untyped-def]
    conn, _ = state
    assert not ownership.others_hold_any(conn, WT, "A")
    ownership.set_staged(conn, WT, "A", [b"mine"])
    ownership.set_staged(conn, "wt1", "B", [b"elsewhere"])           # another worktree
    ownership.reserve(conn, "B", ["shared/**"], False, "", 600)       # shared reservations refuse nothing
    ownership.reserve(conn, "A", ["own/**"], True, "", 600)          # our own
    assert not ownership.others_hold_any(conn, WT, "A")
    ownership.reserve(conn, "B", ["locked/**"], True, "", 600)
    assert ownership.others_hold_any(conn, WT, "A")
    assert not ownership.others_hold_any(conn, WT, "A", now=time.time() + 3600)  # expired
    ownership.set_staged(conn, WT, "B", [b"theirs"])
    assert ownership.others_hold_any(conn, WT, "A", now=time.time() + 3600)


def test_commit_maker_and_merge_markers(conn) -> None:  # type: ignore[no-untyped-def]
    """Attribution and merge-state rows live here too (guard.history and
    run.merge_state give them meaning; tests/unit/test_merge_state.py and
    test_history.py drive them through real git)."""
    db.audit(conn, "commit", "A", commit_id="c1")
    db.audit(conn, "amend", "B", commit_id="c1")
    assert ownership.commit_maker(conn, "c1") == "B" and ownership.commit_maker(conn, "c2") is None
    ownership.claim_markers(conn, "A", ["MERGE_HEAD", "rebase-merge"], 10.0)
    ownership.claim_markers(conn, "B", ["MERGE_HEAD"], 20.0)        # the first owner stays
    assert sorted(ownership.marker_rows(conn)) == [("MERGE_HEAD", "A", 10.0), ("rebase-merge", "A", 10.0)]
    ownership.drop_markers(conn, ["rebase-merge", "REVERT_HEAD"])
    assert ownership.marker_rows(conn) == [("MERGE_HEAD", "A", 10.0)]
