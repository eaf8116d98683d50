"""A read-only repository: reads in a session work (and show the session
index), writes fail clearly and change nothing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from gitlane.testing.lane import SHIM
from gitlane.testing.processes import RUN_TIMEOUT, lane_env, stage


def _without_dac() -> list[str]:
    """As root, chmod does not stop writes; dropping CAP_DAC_OVERRIDE (and
    DAC_READ_SEARCH) from the bounding set makes root obey file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod cannot make the repository read-only")
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", "true"])
    if probe.returncode != 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE: chmod is ineffective")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture
def readonly(pair):
    lane, a, b = pair
    prefix = _without_dac()
    stage(lane, "A", a, {"a1": "A staged\n"})
    lane.write("README", "A's unstaged edit\n")
    subprocess.run(["chmod", "-R", "a-w", str(lane.path)], check=True)

    def ro(session: str, pid: int, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, str(SHIM / "git"), *args], cwd=lane.path, capture_output=True,
                              env=lane_env(session, pid), timeout=RUN_TIMEOUT)
    try:
        probe = subprocess.run([*prefix, "sh", "-c", f"echo x > '{lane.path}/probe'"], capture_output=True)
        assert probe.returncode != 0, "the repository is still writable"
        yield lane, a, b, ro
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(lane.path)], check=True)


def test_read_only_repository_reads_work(readonly) -> None:
    lane, a, b, ro = readonly
    res = ro("A", a, "log", "--format=%s")
    assert (res.returncode, res.stdout) == (0, b"init\n"), res.stderr.decode()
    res = ro("A", a, "show", "HEAD:README")
    assert (res.returncode, res.stdout) == (0, b"hello\n"), res.stderr.decode()
    res = ro("Z", b, "status", "--porcelain")          # a new session: no index can be made
    assert (res.returncode, res.stdout) == (0, b" M README\n?? a1\n"), res.stderr.decode()


def test_read_only_repository_reads_show_the_session_index(readonly) -> None:
    lane, a, b, ro = readonly
    res = ro("A", a, "diff", "--cached", "--name-only")
    assert (res.returncode, res.stdout) == (0, b"a1\n"), res.stderr.decode()
    res = ro("A", a, "status", "--porcelain")
    assert (res.returncode, res.stdout) == (0, b" M README\nA  a1\n"), res.stderr.decode()


@pytest.mark.parametrize("args", [["add", "README"], ["commit", "-q", "-m", "x"], ["stash"]])
def test_read_only_repository_writes_fail_clearly(readonly, args: list[str]) -> None:
    lane, a, b, ro = readonly
    res = ro("A", a, *args)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.startswith(f"gitlane: cannot write gitlane state at {lane.path / '.git' / 'gitlane'}/"), err
    assert err.splitlines()[0].endswith(": Permission denied"), err
    assert err.splitlines()[1:] == ["hint: the repository looks read-only: read commands still work in a session;",
                                    "hint: to change it, make it writable or unset GITLANE_SESSION"], err


def test_read_only_repository_changes_nothing(readonly) -> None:
    lane, a, b, ro = readonly
    before = {p: p.read_bytes() for p in lane.path.rglob("*") if p.is_file()}
    for args in (["add", "README"], ["commit", "-q", "-m", "x"], ["stash"], ["reset", "--hard"]):
        res = ro("A", a, *args)
        assert res.returncode != 0, (args, res.stderr.decode())
        assert res.stderr.decode().startswith("gitlane: "), res.stderr.decode()
    assert {p: p.read_bytes() for p in lane.path.rglob("*") if p.is_file()} == before


# --- a full disk, a read-only database, a busy database: said as what they are -------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs to fill up (needs root, or skips)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(disk) -> None:
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def _status_json(lane) -> dict:
    import json
    res = subprocess.run([str(SHIM / "gitlane"), "status", "--json"], cwd=lane.path, capture_output=True,
                         env=lane_env(), timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    return {"sessions": [(s["name"], s["state"], s["pid"], s["staged"]) for s in out["sessions"]],
            "reservations": [(r["session"], r["pattern"], r["exclusive"]) for r in out["reservations"]]}


def test_full_disk_is_said_as_such_and_repair_keeps_the_database(small_disk, owner_proc) -> None:
    from gitlane.testing.lane import Lane
    from gitlane.testing.processes import gitlane, run_in
    lane = Lane(small_disk / "repo")
    lane.path.mkdir()
    lane.plain("init", "-q")
    lane.write("README", "hello\n")
    lane.plain("add", "README")
    lane.plain("commit", "-q", "-m", "init")
    a = owner_proc().pid
    stage(lane, "A", a, {"a1": "A staged\n"})
    assert run_in(lane, "A", a, "lane", "reserve", "docs/*").returncode == 0
    before = _status_json(lane)
    assert before["sessions"] == [("A", "live", a, ["a1"])] and len(before["reservations"]) == 1
    lane.write("a2", "two\n")
    _fill(small_disk)
    db = lane.path / ".git" / "gitlane" / "state.db"
    for args in (["add", "a2"], ["commit", "-q", "-m", "x"]):
        res = run_in(lane, "A", a, *args)
        err = res.stderr.decode()
        assert res.returncode == 1 and "Traceback" not in err, err
        assert err.startswith(f"gitlane: cannot write gitlane state at {db}: the file system is full"), err
        assert "\nhint: free some space, then retry" in err and "--repair" not in err, err
    res = gitlane(lane, "doctor", "--repair")
    assert res.returncode == 1 and "the file system is full" in res.stdout.decode(), res.stdout.decode()
    assert list(db.parent.glob("state.db.broken-*")) == []
    (small_disk / "filler").unlink()
    assert _status_json(lane) == before                # sessions, claims, reservations all kept
    assert run_in(lane, "A", a, "add", "a2").returncode == 0
    assert run_in(lane, "A", a, "commit", "-q", "-m", "A").returncode == 0
    assert lane.commit_files("HEAD") == {"a1", "a2"}
    assert len(json.loads(gitlane(lane, "log", "--json").stdout)) > 0


def test_read_only_database_file_is_said_as_such(pair) -> None:
    lane, a, b = pair
    prefix = _without_dac()
    stage(lane, "A", a, {"a1": "A staged\n"})
    db = lane.path / ".git" / "gitlane" / "state.db"
    lane.write("a2", "two\n")
    os.chmod(db, 0o444)
    try:
        for cmd in ([str(SHIM / "git"), "add", "a2"], [str(SHIM / "gitlane"), "doctor", "--repair"]):
            res = subprocess.run([*prefix, *cmd], cwd=lane.path, capture_output=True, env=lane_env("A", a),
                                 timeout=RUN_TIMEOUT)
            text = (res.stderr + res.stdout).decode()
            assert res.returncode == 1 and "Traceback" not in text, text
            assert f"cannot write gitlane state at {db}: permission denied" in text, text
            assert "unreadable" not in text, text
        assert list(db.parent.glob("state.db.broken-*")) == []
    finally:
        os.chmod(db, 0o644)
    assert run_in_ok(lane, "A", a, "add", "a2")
    assert lane.staged("A") == {"a1", "a2"}


def run_in_ok(lane, session: str, pid: int, *args: str) -> bool:
    from gitlane.testing.processes import run_in
    res = run_in(lane, session, pid, *args)
    assert res.returncode == 0, res.stderr.decode()
    return True


def test_busy_database_is_said_as_such_and_loses_nothing(pair, running, tmp_path) -> None:
    import sys
    lane, a, b = pair
    stage(lane, "A", a, {"a1": "A staged\n"})
    db = lane.path / ".git" / "gitlane" / "state.db"
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    holder = running([sys.executable, "-c",
                      "import sqlite3, sys\n"
                      f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
                      "c.execute('BEGIN IMMEDIATE')\n"
                      "sys.stderr.write('held\\n'); sys.stderr.flush()\n"
                      f"open({str(gate)!r}).read()\n"], lane.path, lane_env())
    holder.wait_stderr("held")
    lane.write("a2", "two\n")
    before = lane.session_index("A").read_bytes()
    from gitlane.testing.processes import run_in
    res = run_in(lane, "A", a, "add", "a2", GITLANE_LOCK_TIMEOUT="0.3")
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.startswith(f"gitlane: the gitlane state database {db} is busy: "
                          "another process holds a write transaction"), err
    assert "\nhint: retry;" in err and "Traceback" not in err
    assert lane.session_index("A").read_bytes() == before
    with open(gate, "w") as f:
        f.write("go")
    assert holder.finish() == 0
    assert run_in_ok(lane, "A", a, "add", "a2")
    assert lane.staged("A") == {"a1", "a2"}
