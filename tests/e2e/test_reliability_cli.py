"""Reliability of the `gitlane` CLI itself: a closed pipe, the audit log's
event families and one-line records, `last_seen`."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

from gitlane.testing.lane import SHIM
from gitlane.testing.processes import RUN_TIMEOUT, gitlane, lane_env, run_in, stage


def _db(lane) -> sqlite3.Connection:  # type: ignore[no-untyped-def]
    return sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db")


def test_output_to_a_closed_pipe_ends_quietly_like_git(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "one\n"})
    conn = _db(lane)
    with conn:
        conn.executemany("INSERT INTO audit (time, session, pid, event, argv) VALUES (?, 'A', 1, 'commit', ?)",
                         [(time.time(), f"commit -m {n}") for n in range(3000)])
    conn.close()
    for args in (["log", "--json", "-n", "3000"], ["log", "-n", "3000"]):
        proc = subprocess.Popen([str(SHIM / "gitlane"), *args], cwd=lane.path, env=lane_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.read(10)
        proc.stdout.close()                                   # `| head -c 10`
        rc = proc.wait(timeout=RUN_TIMEOUT)
        err = proc.stderr.read().decode()
        assert (rc, err) == (-signal.SIGPIPE, ""), err        # what git does: killed by SIGPIPE, silently
    real = subprocess.Popen(["git", "log", "--format=%H%n%H%n%H%n%H", "-n", "1"], cwd=lane.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    real.stdout.close()
    assert real.wait() in (0, -signal.SIGPIPE)


def test_log_event_force_finds_every_forced_thing_one_line_each(pair) -> None:
    lane, a, b = pair
    stage(lane, "B", b, {"b1": "B's\n"})
    assert run_in(lane, "B", b, "lane", "reserve", "docs/*").returncode == 0
    res = run_in(lane, "A", a, "stash", "push", "-m", "two\nlines", GITLANE_FORCE="1")
    assert res.returncode == 0, res.stderr.decode()
    res = run_in(lane, "A", a, "lane", "release", "--session", "B", "--force", "docs/*")
    assert res.returncode == 0, res.stderr.decode()
    records = json.loads(gitlane(lane, "log", "--json", "--event", "force").stdout)
    assert sorted(r["event"] for r in records) == ["force", "force-release"]
    assert all("\n" not in (r["argv"] or "") + (r["detail"] or "") for r in records)
    table = gitlane(lane, "log", "--event", "force").stdout.decode().splitlines()
    assert len(table) == 1 + len(records), table
    assert json.loads(gitlane(lane, "log", "--json", "--event", "forc").stdout) == []   # a family, not a prefix


def test_last_seen_follows_the_session_not_its_start(pair) -> None:
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "one\n"})
    conn = _db(lane)
    with conn:
        conn.execute("UPDATE sessions SET started = ?, last_seen = ?", (time.time() - 7200, time.time() - 3600))
    conn.close()
    stage(lane, "A", a, {"a2": "two\n"})
    [s] = json.loads(gitlane(lane, "status", "--json").stdout)["sessions"]
    assert s["age"] >= 7200 and s["last_seen"] < 60, s
