"""Many sessions committing at once in one working tree (the issue's torture
run), the `gitlane demo` command, and two sessions racing for one path."""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from gitlane.testing import torture
from gitlane.testing.lane import SHIM, Lane

SESSIONS = 8
COMMITS = 12  # 96 commits: 10-16 s on 2 cores


def _assert_perfect(r: torture.Result) -> None:
    report = "\n".join(r.problems())
    assert r.kept == r.expected, report          # every commit reachable from HEAD
    assert r.misattributed == 0, report          # each holds exactly its session's files
    assert r.lost == 0, report                   # HEAD holds every file, last content
    assert r.failed == 0, report                 # no command exited non-zero
    assert r.fsck_ok, report
    assert r.polls > 0                           # the status poller really ran


def test_torture_gitlane(tmp_path: Path) -> None:
    _assert_perfect(torture.run("gitlane", tmp_path, SESSIONS, COMMITS, SHIM / "git"))


@pytest.mark.slow
def test_torture_gitlane_32_sessions(tmp_path: Path) -> None:
    _assert_perfect(torture.run("gitlane", tmp_path, 32, 10, SHIM / "git"))


def test_torture_detects_the_naive_recipe(tmp_path: Path) -> None:
    """The checks are not vacuous: with a per-session index and a flock, the
    first commit after another session's commit reverts that commit's files,
    so some commit is always misattributed and the last one drops files."""
    r = torture.run("naive", tmp_path, 3, 3)
    assert r.kept == r.expected and r.failed == 0
    assert r.misattributed >= 1
    assert r.lost >= 1


def test_plan_rewrites_earlier_files() -> None:
    assert torture.step_files(1, 2) == {"s1/f2.txt": torture.content(1, 2, 2),
                                        "s1/f0.txt": torture.content(1, 0, 2)}
    final = torture.final_files(2, 3)
    assert final["s0/f0.txt"] == torture.content(0, 0, 2)
    assert len(final) == 1 + 2 * 3


# --- gitlane demo -----------------------------------------------------------

def test_demo_prints_the_table_and_exits_0(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    res = subprocess.run([str(SHIM / "gitlane"), "demo", "--sessions", "3", "--commits", "3"],
                         capture_output=True, env=env, timeout=300)
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, out + err
    assert "mode" in out and "commits kept" in out and "misattributed" in out and "commits/s" in out
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]]
            for line in out.splitlines() if "|" in line}
    assert rows["gitlane"][:4] == ["9/9", "0", "0", "0"]
    assert "plain git" in rows and "naive flock" in rows
    assert "gitlane" in err  # live progress went to stderr
    assert list(tmp_path.iterdir()) == []  # it cleaned up after itself


def test_demo_exits_nonzero_when_gitlane_loses_anything(capsys: pytest.CaptureFixture[str]) -> None:
    from gitlane.cli import demo
    assert demo.verdict(torture.Result("gitlane", 2, 2, kept=4)) == 0
    assert demo.verdict(torture.Result("gitlane", 2, 2, kept=4, lost=1, lost_paths=["s0/f1.txt"])) == 1
    assert demo.verdict(torture.Result("gitlane", 2, 2, kept=3)) == 1
    assert demo.verdict(torture.Result("gitlane", 2, 2, kept=4, failed=1)) == 1
    assert "s0/f1.txt" in capsys.readouterr().err


# --- two sessions, one path -------------------------------------------------
# Both sessions stage at one barrier; a second barrier makes both stagings
# finish before either commits, so the outcome cannot degrade into two
# sequential commits (which would both be legitimate).

Outcome = list[subprocess.CompletedProcess]


def _index_entries(lane: Lane, session: str) -> bytes:
    return lane.plain("ls-files", "-s", "-z", index=str(lane.session_index(session))).stdout


def _stage_then_commit(lane: Lane, who: str, pid: int, stage: list[str],
                       gates: list[threading.Barrier], out: dict[str, Outcome]) -> None:
    gates[0].wait()
    staged = lane.git(*stage, session=who, pid=pid, check=False)
    out[who] = [staged]
    gates[1].wait()
    if staged.returncode == 0:
        out[who].append(lane.git("commit", "-q", "-m", f"{who} takes it", session=who, pid=pid, check=False))


def _race(lane: Lane, pids: dict[str, int], commands: dict[str, list[str]]) -> dict[str, Outcome]:
    gates = [threading.Barrier(len(commands)), threading.Barrier(len(commands))]
    out: dict[str, Outcome] = {}
    threads = [threading.Thread(target=_stage_then_commit, args=(lane, who, pids[who], cmd, gates, out))
               for who, cmd in commands.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return out


def _one_winner(out: dict[str, Outcome]) -> tuple[str, str]:
    won = [who for who, res in out.items() if all(r.returncode == 0 for r in res)]
    assert len(won) == 1, {w: [(r.returncode, r.stderr.decode()) for r in res] for w, res in out.items()}
    return won[0], next(who for who in out if who != won[0])


def _assert_refusal(lane: Lane, loser: str, winner: str, res: Outcome, before: bytes,
                    loser_blobs: set[str]) -> None:
    """Refused at staging: the error names shared.txt and the winner, and the
    loser's index entries are byte-for-byte as before. Staged, then refused
    at commit: the error names shared.txt and the loser's index still stages
    its own blob for it."""
    err = res[-1].stderr.decode()
    assert res[-1].returncode != 0 and "shared.txt" in err, err
    if len(res) == 1:
        assert f"session {winner}" in err, err
        assert _index_entries(lane, loser) == before
    else:
        entry = lane.plain("ls-files", "-s", "--", "shared.txt", index=str(lane.session_index(loser))).stdout
        assert entry and entry.split()[1].decode() in loser_blobs, entry


def _assert_one_commit(lane: Lane, head0: str, winner: str, paths: set[str]) -> None:
    subjects = lane.plain("log", "--format=%s", f"{head0}..HEAD").stdout.decode().split()
    assert " ".join(subjects) == f"{winner} takes it"
    assert lane.commit_files("HEAD") == paths
    lane.fsck()


def _order(pids: dict[str, int], round_: int) -> list[str]:
    """Alternate which session's thread starts first."""
    return sorted(pids, reverse=round_ % 2 == 1)


def _open_sessions(lane: Lane, owner_proc) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Sessions A and B, each owned by a live process of its own."""
    pids = {who: owner_proc().pid for who in ("A", "B")}
    for who, pid in pids.items():
        lane.git("status", session=who, pid=pid)
    return pids


@pytest.mark.parametrize("round_", range(3))
def test_overlap_update_index_one_commit_wins(lane: Lane, owner_proc, round_: int) -> None:  # type: ignore[no-untyped-def]
    """Each session stages its own blob for shared.txt with `update-index
    --cacheinfo` (a staging command like add, so the staged content is known
    exactly). One commit lands, holding the winner's blob; the loser is
    refused (see _assert_refusal), and its blob is still in the object store."""
    pids = _open_sessions(lane, owner_proc)
    blobs = {who: lane.plain("hash-object", "-w", "--stdin", input=f"{who} {round_}\n".encode())
             .stdout.decode().strip() for who in pids}
    before = {who: _index_entries(lane, who) for who in pids}
    head0 = lane.head()
    out = _race(lane, pids, {who: ["update-index", "--add", "--cacheinfo", f"100644,{blobs[who]},shared.txt"]
                             for who in _order(pids, round_)})
    winner, loser = _one_winner(out)
    _assert_one_commit(lane, head0, winner, {"shared.txt"})
    assert lane.plain("rev-parse", "HEAD:shared.txt").stdout.decode().strip() == blobs[winner]
    _assert_refusal(lane, loser, winner, out[loser], before[loser], {blobs[loser]})
    assert lane.plain("cat-file", "-p", blobs[loser]).stdout == f"{loser} {round_}\n".encode()


@pytest.mark.parametrize("round_", range(3))
def test_overlap_add_one_commit_wins(lane: Lane, owner_proc, round_: int) -> None:  # type: ignore[no-untyped-def]
    """The agent flow: both sessions write shared.txt (racing, after one
    barrier) and each has written its own notes file; then each runs
    `git add shared.txt <its notes>` at a second barrier. The working tree is
    shared, so shared.txt holds whichever write came last: we do not assert
    which of the two contents each session staged, only that HEAD holds one
    of them. One commit lands with shared.txt and the winner's notes. The
    loser is refused naming shared.txt; when that happens at `add` (it is all
    or nothing) its notes file is still in the working tree with its content,
    absent from its index and from HEAD."""
    pids = _open_sessions(lane, owner_proc)
    for who in pids:
        lane.write(f"{who}-notes.txt", f"notes of {who}\n")
    before = {who: _index_entries(lane, who) for who in pids}
    head0 = lane.head()
    texts = {f"shared.txt by {who}\n" for who in pids}
    writers = threading.Barrier(2)

    def write(who: str) -> None:
        writers.wait()
        lane.write("shared.txt", f"shared.txt by {who}\n")
    threads = [threading.Thread(target=write, args=(who,)) for who in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = _race(lane, pids, {who: ["add", "shared.txt", f"{who}-notes.txt"] for who in _order(pids, round_)})
    winner, loser = _one_winner(out)
    _assert_one_commit(lane, head0, winner, {"shared.txt", f"{winner}-notes.txt"})
    assert lane.plain("show", "HEAD:shared.txt").stdout.decode() in texts
    blobs = {lane.plain("hash-object", "--stdin", input=t.encode()).stdout.decode().strip() for t in texts}
    _assert_refusal(lane, loser, winner, out[loser], before[loser], blobs)
    assert lane.read(f"{loser}-notes.txt") == f"notes of {loser}\n"
    assert f"{loser}-notes.txt" not in lane.tree_files()
    if len(out[loser]) == 1:
        assert lane.plain("ls-files", "--", f"{loser}-notes.txt",
                          index=str(lane.session_index(loser))).stdout == b""
