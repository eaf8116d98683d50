"""Issue 19: gitlane installed the way Python tools are. A copy of the source
is installed into a temporary virtual environment (`pip install .`, what
pipx and `uv tool install` do underneath; PyPI is the only network), then a
session runs through the shim that `gitlane activate` generates in
$XDG_DATA_HOME/gitlane/shim. pipx and uv are exercised when present and
skipped otherwise."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitlane.testing.lane import ROOT, SHIM, real_git

SESSION_SCRIPT = r"""
set -e
eval "$(gitlane activate tool-1 --shell sh)"
printf 'one\n' > a.txt
git add a.txt
git commit -q -m 'from the tool install'
gitlane status --json
"""


def source_copy(tmp: Path) -> Path:
    src = tmp / "source"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "install.sh"):
        shutil.copy2(ROOT / name, src / name)
    return src


def tool_env(tmp: Path, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITLANE_", "CLAUDE_CODE_", "VIRTUAL_ENV"))}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != SHIM and Path(p) != ROOT / ".venv" / "bin"]
    env.update(PATH=os.pathsep.join([str(bin_dir), *path]), XDG_DATA_HOME=str(tmp / "data"))
    return env


def run_session(tmp: Path, bin_dir: Path) -> None:
    env = tool_env(tmp, bin_dir)
    repo = tmp / "repo"
    git = real_git()
    subprocess.run([git, "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    subprocess.run([git, "commit", "-q", "--allow-empty", "-m", "root"], cwd=repo, check=True, env=env)
    shim = tmp / "data" / "gitlane" / "shim"
    assert not shim.exists()
    res = subprocess.run(["sh", "-c", SESSION_SCRIPT], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    assert [s["name"] for s in status["sessions"]] == ["tool-1"]
    assert sorted(p.name for p in shim.iterdir()) == [".gitlane-shim", "git", "git-lane", "gitlane"]
    launcher = (shim / "git").read_text()
    python = launcher.rsplit("exec '", 1)[1].split("'", 1)[0]
    assert os.path.isabs(python) and not python.startswith(str(ROOT))  # the tool's own interpreter
    log = subprocess.run([git, "log", "--format=%s", "--name-only", "-1"], cwd=repo, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert log[-1] == "a.txt" and "tool install" in " ".join(log)
    # the session's staging went through gitlane: its own index exists
    assert (repo / ".git" / "gitlane" / "state.db").exists()
    before = {p.name: p.stat().st_mtime_ns for p in shim.iterdir()}
    subprocess.run(["sh", "-c", 'eval "$(gitlane activate again --shell sh)"'], cwd=repo, env=env, check=True)
    assert {p.name: p.stat().st_mtime_ns for p in shim.iterdir()} == before  # idempotent


def test_pip_install_into_a_venv_then_a_session_through_the_generated_shim(tmp_path: Path) -> None:
    src = source_copy(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    res = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", str(src)], capture_output=True, text=True, timeout=540)
    if res.returncode != 0 and "Could not find a version" in res.stderr + res.stdout:
        pytest.skip(f"no package index reachable: {res.stderr.strip()[-300:]}")
    assert res.returncode == 0, res.stderr
    assert not (venv / "bin" / "git").exists()  # installing never puts a git on PATH
    run_session(tmp_path, venv / "bin")


@pytest.mark.parametrize("tool", ["pipx", "uv"])
def test_installed_as_a_tool(tmp_path: Path, tool: str) -> None:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed here")
    src = source_copy(tmp_path)
    bin_dir = tmp_path / "bin"
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(bin_dir),
           "UV_TOOL_DIR": str(tmp_path / "uvtools"), "UV_TOOL_BIN_DIR": str(bin_dir)}
    cmd = [exe, "install", str(src)] if tool == "pipx" else [exe, "tool", "install", str(src)]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=540)
    assert (bin_dir / "gitlane").exists()
    run_session(tmp_path, bin_dir)
