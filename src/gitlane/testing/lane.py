"""Test helpers: run git through the shim as a given session, inspect repos.

Used by tests/ and bench/: a Lane is one real repository driven through the
installed shim (`shim/git`, made by install.sh) exactly as users drive it.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping

from gitlane.git import realgit

ROOT = Path(__file__).resolve().parents[3]
SHIM = ROOT / "shim"


def real_git() -> str:
    """The real git (git.realgit.find, on a PATH without gitlane shims)."""
    return realgit.find({"PATH": realgit.path_without_shims(os.environ.get("PATH", "")),
                         "GITLANE_REAL_GIT": os.environ.get("GITLANE_REAL_GIT", "")})


def shim_env(session: str | None = None, pid: int | None = None,
             extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_SESSION")}
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    env["PATH"] = f"{SHIM}{os.pathsep}{env.get('PATH', '')}"
    if session is not None:
        env["GITLANE_SESSION"] = session
        env["GITLANE_SESSION_PID"] = str(pid if pid is not None else os.getpid())
    if extra:
        env.update(extra)
    return env


class Lane:
    """A repository plus helpers to run git in it, with or without a session."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, session: str | None = None, pid: int | None = None,
            input: bytes | str | None = None, check: bool = True, cwd: Path | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run `git` through the shim (as `session` if given)."""
        data = input.encode() if isinstance(input, str) else input
        res = subprocess.run([str(SHIM / "git"), *args], cwd=cwd or self.path, input=data,
                             capture_output=True, env=shim_env(session, pid, env))
        if check and res.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} (session {session}) failed "
                                 f"rc={res.returncode}\nstdout: {res.stdout.decode(errors='replace')}\n"
                                 f"stderr: {res.stderr.decode(errors='replace')}")
        return res

    def plain(self, *args: str, check: bool = True, index: str | None = None,
              input: bytes | None = None) -> subprocess.CompletedProcess:
        """Run the real git directly, bypassing the shim."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")}
        if index:
            env["GIT_INDEX_FILE"] = index
        res = subprocess.run([real_git(), *args], cwd=self.path, capture_output=True, env=env, input=input)
        if check and res.returncode != 0:
            raise AssertionError(f"real git {' '.join(args)} failed rc={res.returncode}\n"
                                 f"{res.stderr.decode(errors='replace')}")
        return res

    def out(self, *args: str, **kw: object) -> str:
        return self.git(*args, **kw).stdout.decode()  # type: ignore[arg-type]

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def head(self) -> str:
        return self.plain("rev-parse", "HEAD").stdout.decode().strip()

    def tree_files(self, rev: str = "HEAD") -> dict[str, str]:
        """{path: content} of every file in rev."""
        names = self.plain("ls-tree", "-r", "-z", "--name-only", rev).stdout.split(b"\0")
        return {n.decode(): self.plain("show", f"{rev}:{n.decode()}").stdout.decode() for n in names if n}

    def commit_files(self, rev: str) -> set[str]:
        """Paths a commit changed against its first parent."""
        out = self.plain("diff-tree", "--root", "-r", "-z", "--name-only", "--no-commit-id", rev).stdout
        return {p.decode() for p in out.split(b"\0") if p}

    def staged(self, session: str) -> set[str]:
        out = self.git("diff", "--cached", "--name-only", "-z", session=session).stdout
        return {p.decode() for p in out.split(b"\0") if p}

    def session_index(self, session: str) -> Path:
        return self.path / ".git" / "gitlane" / "sessions" / session / "index"

    def fsck(self) -> None:
        res = self.plain("fsck", "--strict", "--no-progress", check=False)
        assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()
