"""Every shell block of the README runs, as written, and succeeds."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import ROOT, SHIM, Lane

BLOCKS = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")}
    env.update(HOME=str(home), PATH=f"{SHIM}{os.pathsep}{env['PATH']}", SHELL="/bin/bash")
    return env


def test_readme_has_the_two_commands() -> None:
    assert BLOCKS[0].strip() == './install.sh --dev && eval "$(shim/gitlane activate)" && gitlane demo'
    assert BLOCKS[1].strip() == ".venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text()
    assert BLOCKS[0].strip() in ci and BLOCKS[1].strip() in ci


@pytest.mark.parametrize("index", range(2, len(BLOCKS)))
def test_readme_block_runs(index: int, lane: Lane, tmp_path: Path) -> None:
    lane.write("notes.txt", "mine\n")
    block = BLOCKS[index]
    res = subprocess.run(["bash", "-e", "-c", block], cwd=lane.path, env=_env(tmp_path),
                         capture_output=True, timeout=120)
    assert res.returncode == 0, f"block {index} failed:\n{block}\n{res.stderr.decode()}"


def test_quickstart_block_runs(tmp_path: Path) -> None:
    """The first command, with a smaller demo so the suite stays quick (CI runs it in full)."""
    block = BLOCKS[0].replace("gitlane demo", "gitlane demo --sessions 3 --commits 2")
    res = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=_env(tmp_path),
                         capture_output=True, timeout=600)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert b"gitlane" in res.stdout
