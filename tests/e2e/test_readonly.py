"""A read-only repository: reads in a session work (and show the session
index), writes fail clearly and change nothing."""
from __future__ import annotations

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
