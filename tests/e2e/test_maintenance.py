"""Maintenance commands serialise: one `gitlane doctor --fix/--repair` or
`gitlane gc` at a time per repository (cli.common.maintenance, a fasteners
lock). Proven by a barrier, not a timer: the first repair is held inside its
locked section by a gated git, the second is seen saying it waits, and only
then is the first let go."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git
from gitlane.testing.processes import Gate, lane_env, wait_for_file


def _gated_git(tmp_path: Path, gate: Gate) -> tuple[Path, Path]:
    """A `git` for gitlane's own calls that logs (by the pid of the gitlane calling it) each `config --get
    core.sparseCheckout` (doctor's check inside its locked section) and holds
    the first one at the gate."""
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "gated-git"
    wrapper.write_text("#!/bin/sh\n"
                       'case "$*" in *core.sparseCheckout*)\n'
                       f"  echo \"enter $PPID\" >> '{log}'\n"
                       f"  {gate.shell()}\n"
                       f"  echo \"leave $PPID\" >> '{log}' ;;\n"
                       "esac\n"
                       f"exec '{real_git()}' \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.mark.parametrize("second", [["doctor", "--fix"], ["doctor", "--repair"], ["gc"]])
def test_a_second_repair_waits_for_the_first(lane: Lane, tmp_path: Path, running, second: list[str]) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(tmp_path)
    gate.arm()
    wrapper, log = _gated_git(tmp_path, gate)
    env = lane_env(GITLANE_REAL_GIT=str(wrapper))     # no session: maintenance needs none
    first = running([str(SHIM / "gitlane"), "doctor", "--fix"], lane.path, env)
    wait_for_file(gate.ready, first)                   # the first repair is inside its locked section
    other = running([str(SHIM / "gitlane"), *second], lane.path, env)
    other.wait_stderr("gitlane: waiting for another `gitlane doctor --fix` or `gitlane gc` in this repository")
    assert other.proc.poll() is None                   # the second is blocked at the lock ...
    assert log.read_text().split() == ["enter", str(first.pid)]  # ... and has not got past it
    gate.release()
    assert first.finish() == 0, first.stderr
    assert other.finish() == 0, other.stderr
    calls = log.read_text().splitlines()
    assert calls[:2] == [f"enter {first.pid}", f"leave {first.pid}"]
    if second[0] == "doctor":                          # the second ran its check only after the first left
        assert calls[2:] == [f"enter {other.pid}", f"leave {other.pid}"]
    else:
        assert calls[2:] == []
    assert other.stderr.count("waiting for") == 1
