"""run.stage: the steps of a staging command that run before and after git,
in-process on a real repository: stale locks cleared, the index brought onto
HEAD (a conflict only warned about), paths a peer owns refused in our words,
rm/mv predicted, and claim_or_refuse (all or nothing, then claims, snapshot
and the prompt's count). The exec of git itself is the e2e suite's."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from gitlane import layout
from gitlane.errors import Fatal
from gitlane.run import stage
from gitlane.session import Session, isolation, refresh, snapshot
from gitlane.shared import claims, db, sessions
from gitlane.testing.inproc import commit_aside, commit_plain, invocation, ls_files_v
from gitlane.testing.lane import Lane
from gitlane.testing.processes import age


@pytest.fixture
def a(lane: Lane, make_session: Callable[..., Session]) -> Session:
    commit_plain(lane, "base", P="p\n", Q="q\n", d__x="x\n", d__y="y\n")
    s = make_session("A")
    refresh.ensure(s, "", "status", reading=True)
    return s


@pytest.fixture
def peer(lane: Lane, conn: db.Connection, owner_proc) -> Callable[..., subprocess.Popen]:  # type: ignore[no-untyped-def]
    def make(name: str, *paths: str) -> subprocess.Popen:
        p = owner_proc()
        sessions.register(conn, name, {"GITLANE_SESSION_PID": str(p.pid)}, str(lane.path))
        claims.set_staged(conn, "", name, [x.encode() for x in paths])
        return p
    return make


def claim_rows(conn: db.Connection) -> list[tuple[bytes, str]]:
    return sorted((bytes(p), s) for p, s in conn.execute("SELECT path, session FROM claims"))


def test_connect_puts_the_session_on_record(lane: Lane, make_session: Callable[..., Session]) -> None:
    s = make_session("fresh")
    os.makedirs(s.dir)
    conn = stage.connect(s)
    try:
        rec = sessions.get(conn, "fresh")
        assert rec is not None and rec.pid == os.getpid()
        assert sessions.read_owner(s.dir) == (os.getpid(), rec.ctime)
        again = stage.connect(s)                              # on record already: the same record
        try:
            assert sessions.get(again, "fresh").started == rec.started    # type: ignore[union-attr]
        finally:
            again.close()
    finally:
        conn.close()


def test_clear_stale_reclaims_the_session_index_lock_and_old_ref_locks(lane: Lane, a: Session,
                                                                       conn: db.Connection) -> None:
    index_lock = Path(a.index.path + ".lock")
    index_lock.write_bytes(b"")
    head_lock = lane.path / ".git" / "HEAD.lock"
    head_lock.write_bytes(b"")
    age(head_lock)
    inv = invocation("commit -m x")
    with refresh.session_lock(a, ""):
        stage.clear_stale(a, inv, ref_locks=False)
    assert not index_lock.exists() and head_lock.exists()    # ref locks only when asked
    with refresh.session_lock(a, ""):
        stage.clear_stale(a, inv, ref_locks=True)
    assert not head_lock.exists()
    details = [d for (d,) in conn.execute("SELECT detail FROM audit WHERE event = 'reclaim' ORDER BY id")]
    assert [d.split(" (")[0] for d in details] == [str(index_lock), str(head_lock)]


def test_refresh_tolerant_only_warns_about_a_conflict(lane: Lane, a: Session, tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    lane.write("P", "A's P\n")
    lane.plain("add", "P", index=a.index.path)
    base = a.index.base()
    commit_aside(lane, tmp_path, "peer", {"P": "peer's P\n"})
    with refresh.session_lock(a, ""):
        stage.refresh_tolerant(a)
    assert a.index.base() == base
    assert "conflict with new commits on HEAD (P)" in capfd.readouterr().err


def test_isolate_and_guard_refuses_a_whole_tree_command_over_a_peers_work(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P")
    with pytest.raises(Fatal, match=r"^refusing `git stash push`"):
        stage.isolate_and_guard(a, invocation("stash"))
    assert ls_files_v(lane, a.index.path)["P"] == "S"        # and the view was synced first
    stage.isolate_and_guard(a, invocation("add Q"))


def test_isolate_and_guard_in_step_opens_no_database(lane: Lane, a: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isolation.in_step(a)

    def no(*_args: object) -> None:
        raise AssertionError("connected")
    monkeypatch.setattr(stage, "connect", no)
    stage.isolate_and_guard(a, invocation("add Q"))


@pytest.mark.parametrize("argv, action", [("add P", "stage"), ("add -- P Q", "stage"), ("rm P", "rm"),
                                          ("update-index --add P", "stage"), ("add :/P", "stage"),
                                          ("add :(top)P", "stage")])
def test_a_named_peer_path_is_refused_in_our_words(lane: Lane, a: Session, peer, argv: str, action: str) -> None:  # type: ignore[no-untyped-def]
    p = peer("B", "P")
    with pytest.raises(Fatal) as exc:
        stage._named_hidden_paths(a, invocation(argv))
    lines = exc.value.what.splitlines()
    assert lines[0] == f"refusing to {action} 1 path owned by another live session:"
    assert lines[1].startswith(f"P  staged by session B (pid {p.pid}, ")
    assert exc.value.hint.startswith("nothing was changed.")


def test_a_hidden_path_whose_owner_died_is_shown_again(lane: Lane, a: Session, peer) -> None:  # type: ignore[no-untyped-def]
    p = peer("B", "P")
    isolation.sync(a)
    assert ls_files_v(lane, a.index.path)["P"] == "S"
    p.kill()
    p.wait()
    stage._named_hidden_paths(a, invocation("add P"))
    assert ls_files_v(lane, a.index.path)["P"] == "H"         # so git can stage it


@pytest.mark.parametrize("word, cwd, named", [
    ("P", "", b"P"), ("x", "d", b"d/x"), ("../P", "d", b"P"), ("./d/../Q", "", b"Q"),
    (":/P", "d", b"P"), (":(top)d/x", "d", b"d/x"), (":(literal)x", "d", b"d/x"),
    (":(glob)*", "", None), (":!P", "", None),
])
def test_named_path(lane: Lane, a: Session, word: str, cwd: str, named: bytes | None) -> None:
    from gitlane.testing.inproc import repo_at
    s = Session("A", repo_at(lane.path, cwd=lane.path / cwd), a.git)
    assert stage._named_path(s, word) == named


@pytest.mark.parametrize("argv, predicted", [
    ("rm P", [b"P"]),
    ("rm -r -- d", [b"d/x", b"d/y"]),
    ("rm --cached Q missing", [b"Q"]),
    ("mv P renamed", [b"P", b"renamed"]),
    ("mv P Q d", [b"P", b"Q", b"d/P", b"d/Q"]),
    ("mv -f P d/", [b"P", b"d/P"]),
    ("mv P", []),
    ("add P", []),
])
def test_predict(lane: Lane, a: Session, argv: str, predicted: list[bytes]) -> None:
    assert stage._predict(a, invocation(argv)) == predicted


def staged_copy(lane: Lane, a: Session, tmp_path: Path, **files: str) -> str:
    tmp = str(tmp_path / "copy")
    shutil.copy2(a.index.path, tmp)
    for rel, text in files.items():
        lane.write(rel, text)
        lane.plain("add", rel, index=tmp)
    return tmp


def test_claim_or_refuse_is_all_or_nothing(lane: Lane, a: Session, peer, conn: db.Connection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    peer("B", "P")
    tmp = staged_copy(lane, a, tmp_path, Q="A's Q\n", P="A's P\n")
    before = claim_rows(conn)
    with pytest.raises(Fatal) as exc:
        stage.claim_or_refuse(a, tmp, "stage", "nothing was staged")
    assert exc.value.what.startswith("refusing to stage 1 path owned by another live session:\nP  staged by session B")
    assert exc.value.hint.startswith("nothing was staged.")
    assert claim_rows(conn) == before                         # not even Q was claimed
    assert snapshot.read(a.git, "A") is None


def test_claim_or_refuse_records_claims_snapshot_and_count(lane: Lane, a: Session, conn: db.Connection,
                                                           tmp_path: Path, peer) -> None:  # type: ignore[no-untyped-def]
    peer("B")                                                      # a live peer: the snapshot ref is kept
    tmp = staged_copy(lane, a, tmp_path, Q="A's Q\n", new="new\n")
    os.replace(tmp, a.index.path)
    gen_before = layout.read_stamp(a.dir)[0]
    stage.claim_or_refuse(a, a.index.path, None, "")
    assert claim_rows(conn) == [(b"Q", "A"), (b"new", "A")]
    tree, base = snapshot.read(a.git, "A") or ("", "")
    assert base == a.index.base() and tree == a.git.write_tree(a.index.path)
    assert Path(a.path(layout.STAGED_COUNT)).read_text() == "2\n"
    assert layout.read_stamp(a.dir)[0] != gen_before and isolation.in_step(a)     # carried past our own bump
    lane.plain("reset", "-q", "--", "Q", "new", index=a.index.path)                # unstage everything
    stage.claim_or_refuse(a, a.index.path, None, "")
    assert claim_rows(conn) == [] and snapshot.read(a.git, "A") is None
    assert Path(a.path(layout.STAGED_COUNT)).read_text() == "0\n"


def test_alone_claim_or_refuse_writes_no_snapshot_ref(lane: Lane, a: Session, conn: db.Connection,
                                                      tmp_path: Path, peer) -> None:  # type: ignore[no-untyped-def]
    """Alone, no ref shows in for-each-ref; one left from when a peer was live goes."""
    refs_before = lane.plain("for-each-ref").stdout
    os.replace(staged_copy(lane, a, tmp_path, new="new\n"), a.index.path)
    stage.claim_or_refuse(a, a.index.path, None, "")
    assert claim_rows(conn) == [(b"new", "A")] and snapshot.read(a.git, "A") is None
    assert lane.plain("for-each-ref").stdout == refs_before
    p = peer("B")
    stage.claim_or_refuse(a, a.index.path, None, "")
    assert snapshot.read(a.git, "A") is not None
    p.kill()
    p.wait()
    stage.claim_or_refuse(a, a.index.path, None, "")
    assert snapshot.read(a.git, "A") is None
