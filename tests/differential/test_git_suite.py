"""git's own test scripts, real git vs a lone session: no unexplained difference.

Slow (minutes) and needs git's source (fetched and built once into
tests/differential/.cache), so it runs only with `-m differential` or
GITLANE_DIFFERENTIAL=1. GITLANE_DIFF_SCRIPTS="t3700-add t7508-status" narrows it.
The same scripts also run through the shim without a session (the passthrough),
which must match git in every case.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import git_suite  # noqa: E402

pytestmark = pytest.mark.differential


def explained() -> set[tuple[str, int | None]]:
    """(script, test number) pairs that differ on purpose: explained.txt, one
    `SCRIPT #N reason` a line; `SCRIPT #* reason` covers every case of a
    script whose tests all read `.git/index` by its path."""
    keys: set[tuple[str, int | None]] = set()
    with open(os.path.join(os.path.dirname(__file__), "explained.txt")) as fh:
        for line in fh:
            words = line.split()
            if len(words) >= 2 and not line.startswith("#") and words[1].startswith("#"):
                keys.add((words[0], None if words[1] == "#*" else int(words[1][1:])))
    return keys


def test_lone_session_matches_git_case_by_case(tmp_path) -> None:
    scripts = os.environ.get("GITLANE_DIFF_SCRIPTS", "").split()
    report = tmp_path / "report"
    git_suite.main([*scripts, "--report", str(report)])
    data = json.loads((tmp_path / "report.json").read_text())
    for name, result in data["scripts"].items():
        assert result["session"]["calls_in_session"] > 0, f"{name}: the shim was never called in a session"
    allowed = explained()
    unexplained = [f"{name} #{d['test']} {d['title']}: real {d['real']}, session {d['session']}"
                   for name, result in data["scripts"].items() for d in result["differing"]
                   if (name, d["test"]) not in allowed and (name, None) not in allowed]
    assert not unexplained, "\n".join(unexplained)


def test_the_shim_without_a_session_matches_git_case_by_case(tmp_path) -> None:
    """The passthrough: no session, no exception (explained.txt does not apply)."""
    scripts = os.environ.get("GITLANE_DIFF_SCRIPTS", "").split()
    report = tmp_path / "report"
    git_suite.main([*scripts, "--no-session", "--report", str(report)])
    data = json.loads((tmp_path / "report.json").read_text())
    for name, result in data["scripts"].items():
        assert result["session"]["calls_without"] > 0, f"{name}: the shim was never called"
    differing = [f"{name} #{d['test']} {d['title']}: real {d['real']}, shim {d['session']}"
                 for name, result in data["scripts"].items() for d in result["differing"]]
    assert not differing, "\n".join(differing)
