"""The scenario harness: one scenario, run with the real git and through the
shim (in a lone session, and without a session), compared as a user sees it.

A scenario is a short list of steps (`G` runs git with an argv, never a shell;
`W` writes a file, `L` makes a symlink, `D` deletes a path). Each mode gets its
own copy (`cp -a`) of one seed repository, under `<scenario>/<mode>/repo`, so
the mode folder is the only path that differs: it is replaced by `<ROOT>`
everywhere before comparing. What is compared (`Outcome`): every step's exit
code, stdout and stderr, then `for-each-ref` and `log --all --format=%H %s`
(with the real git: what the repository holds), `fsck` and `status
--porcelain=v2 --branch` (through the mode's git: they read the index) and the bytes of the working tree (every file, symlink
and executable bit under the mode folder, `.git` folders excepted: gitlane's
state folder lives there). Dates and identity are pinned by
gitlane.testing.hermetic, so commit ids match across modes.

GIT_TRACE* output: lines are compared after dropping the time prefix,
`elapsed:`/`pid:` numbers, GIT_TRACE2_PERF's time columns, the pid in
stash's temporary index name, and trace2 `cmd_ancestry` lines (the process
ancestry of the session run includes the shim's interpreter: different on
purpose, nothing the user's command did).
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence, Union

from gitlane.git import realgit

ROOT_TOKEN = b"<ROOT>"
SESSION = "solo"
SUBSRC = "{SUBSRC}"     # in a step's argv: the seed's submodule source (an absolute path)
STEP_TIMEOUT = 60


@dataclass(frozen=True)
class G:
    """Run git with these arguments (no shell), optional stdin, env and cwd (relative)."""
    args: tuple[str, ...]
    stdin: bytes = b""
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    outside: bool = False    # run with the real git, no session, in every mode (a person without a session)


@dataclass(frozen=True)
class W:
    """Write `text` to `path` (relative to the repository; parents made)."""
    path: str
    text: str
    exe: bool = False


@dataclass(frozen=True)
class L:
    """A symlink at `path` pointing to `target`."""
    path: str
    target: str


@dataclass(frozen=True)
class D:
    """Delete a file or folder."""
    path: str


Step = Union[G, W, L, D]


def g(*args: str, stdin: str | bytes = b"", cwd: str = "", outside: bool = False, **env: str) -> G:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return G(tuple(args), data, dict(env), cwd, outside)


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    differs: str = ""        # a difference on purpose: the reason (the comparison is skipped)
    xfail: str = ""          # a real difference not fixed yet: the precise cause


def scenario(name: str, *steps: Step, differs: str = "", xfail: str = "") -> Scenario:
    return Scenario(name, tuple(steps), differs, xfail)


@dataclass
class Outcome:
    steps: list[tuple[str, int, bytes, bytes]]
    views: list[tuple[str, int, bytes]]
    tree: dict[str, tuple]

    def lines(self) -> list[str]:
        """A readable form for pytest's diff."""
        out = []
        for what, rc, so, se in self.steps:
            out.append(f"$ {what} -> {rc}")
            out += ["  out| " + x for x in so.decode(errors="replace").splitlines()]
            out += ["  err| " + x for x in se.decode(errors="replace").splitlines()]
        for what, rc, text in self.views:
            out.append(f"= {what} -> {rc}")
            out += ["  | " + x for x in text.decode(errors="replace").splitlines()]
        for path, entry in sorted(self.tree.items()):
            out.append(f"tree {path} {entry!r}")
        return out


# --- the seed repository ------------------------------------------------------------

SEED_A = "".join(f"line {i}\n" for i in range(1, 11))


def build_seed(where: Path, env: Mapping[str, str]) -> Path:
    """The shared seed: main (3 commits), topic (conflicts with main on a.txt),
    side (merges cleanly), tag v1, and a submodule source repository `subsrc`
    next to it (same absolute path for every mode)."""
    git = env["GITLANE_REAL_GIT"]

    def run(cwd: Path, *args: str) -> None:
        subprocess.run([git, *args], cwd=cwd, env=env, check=True, capture_output=True)

    def write(repo: Path, rel: str, text: str, exe: bool = False) -> None:
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        if exe:
            p.chmod(0o755)

    sub = where / "subsrc"
    run(where, "init", "-q", str(sub))
    write(sub, "s.txt", "submodule file\n")
    run(sub, "add", "s.txt")
    run(sub, "commit", "-q", "-m", "sub initial")

    repo = where / "repo"
    run(where, "init", "-q", str(repo))
    write(repo, "a.txt", SEED_A)
    write(repo, "b.txt", "bee\n")
    write(repo, "dir/c.txt", "see\n")
    write(repo, "dir/deep/d.txt", "dee\n")
    write(repo, "run.sh", "#!/bin/sh\necho run\n", exe=True)
    write(repo, ".gitignore", "*.log\n")
    run(repo, "add", ".")
    run(repo, "commit", "-q", "-m", "initial")
    run(repo, "tag", "v1")
    write(repo, "a.txt", SEED_A.replace("line 9\n", "line nine\n"))
    run(repo, "commit", "-q", "-am", "second")
    run(repo, "branch", "topic")
    run(repo, "branch", "side")
    write(repo, "a.txt", SEED_A.replace("line 9\n", "line nine\n").replace("line 2\n", "line two (main)\n"))
    run(repo, "commit", "-q", "-am", "main edit")
    run(repo, "checkout", "-q", "topic")
    write(repo, "a.txt", SEED_A.replace("line 9\n", "line nine\n").replace("line 2\n", "line two (topic)\n"))
    run(repo, "commit", "-q", "-am", "topic edit")
    write(repo, "t.txt", "topic file\n")
    run(repo, "add", "t.txt")
    run(repo, "commit", "-q", "-m", "topic file")
    run(repo, "checkout", "-q", "side")
    write(repo, "s.txt", "side file\n")
    run(repo, "add", "s.txt")
    run(repo, "commit", "-q", "-m", "side file")
    run(repo, "checkout", "-q", "main")
    return where


# --- running one mode ---------------------------------------------------------------

TRACE_TIME = re.compile(rb"^\d\d:\d\d:\d\d\.\d{6} ", re.M)
TRACE_NUMS = re.compile(rb"(elapsed|pid|t_abs|t_rel|ms):[0-9.]+")
TRACE_SECONDS = re.compile(rb"performance: [0-9.]+ s")
TRACE_PERF_COLUMNS = re.compile(rb"\|( *)[0-9]+\.[0-9]{6} ")   # GIT_TRACE2_PERF's t_abs / t_rel columns
TRACE_PIDS = re.compile(rb"(index\.stash)\.[0-9]+")              # stash's temporary index is named by its pid
TRACE_ANCESTRY = re.compile(rb"^.*cmd_ancestry.*\n", re.M)
TRACE2_EVENT_IDS = re.compile(rb'"(sid|time)":"[^"]*"')                # GIT_TRACE2_EVENT: session id, clock
TRACE2_EVENT_NUMS = re.compile(rb'"(t_abs|t_rel|pid|elapsed)":[0-9.]+')


def normalise(data: bytes, root: Path) -> bytes:
    data = data.replace(os.fsencode(root), ROOT_TOKEN)
    real = os.fsencode(os.path.realpath(root))
    if real != os.fsencode(root):
        data = data.replace(real, ROOT_TOKEN)
    if b"trace" in data or b"elapsed" in data:
        data = TRACE_ANCESTRY.sub(b"", TRACE_TIME.sub(b"", data))
        data = TRACE_SECONDS.sub(b"performance: N s", TRACE_NUMS.sub(rb"\1:N", data))
        data = TRACE_PIDS.sub(rb"\1.N", TRACE_PERF_COLUMNS.sub(rb"|\1N ", data))
    if b'"event":' in data:
        data = TRACE2_EVENT_NUMS.sub(rb'"\1":N', TRACE2_EVENT_IDS.sub(rb'"\1":"N"', data))
    return data


def mode_env(mode: str, base: Mapping[str, str], shim_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(("GITLANE_SESSION", "CLAUDE_CODE_"))}
    env["GITLANE_LOCK_TIMEOUT"] = "10"
    env["PATH"] = realgit.path_without_shims(env.get("PATH", ""))
    if mode == "real":
        return env
    env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
    if mode == "session":
        env["GITLANE_SESSION"] = SESSION
        env["GITLANE_SESSION_PID"] = str(os.getpid())
    return env


def tree(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                if name in files:   # a symlink to a folder is listed by walk as a dir
                    continue
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", bool(st.st_mode & 0o100), normalise(p.read_bytes(), root))
    return out


# (argv, through the mode's git?): refs and history are read with the real git
# in every mode (what is really in the repository, stricter than the shim's
# view, and cheaper); fsck and status depend on the index, so they go through
# the mode's git (the session's index in the session).
VIEWS: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("for-each-ref",), False),
    (("log", "--all", "--format=%H %s"), False),
    (("fsck", "--no-progress"), True),
    (("status", "--porcelain=v2", "--branch"), True),
)


def run_mode(sc: Scenario, mode: str, seed: Path, where: Path, base: Mapping[str, str],
             shim_dir: Path) -> Outcome:
    root = where / mode
    root.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(seed / "repo"), str(root / "repo")], check=True)
    repo = root / "repo"
    env = mode_env(mode, base, shim_dir)
    git = env["GITLANE_REAL_GIT"] if mode == "real" else str(shim_dir / "git")
    steps: list[tuple[str, int, bytes, bytes]] = []
    for step in sc.steps:
        if isinstance(step, G):
            args = [a.replace(SUBSRC, str(seed / "subsrc")) for a in step.args]
            if not (repo / step.cwd).is_dir():
                steps.append((" ".join(step.args), -1, b"", b"no such folder: " + step.cwd.encode()))
                continue
            run_env = mode_env("real", base, shim_dir) if step.outside else env
            res = subprocess.run([run_env["GITLANE_REAL_GIT"] if step.outside else git, *args],
                                 cwd=repo / step.cwd, input=step.stdin,
                                 env={**run_env, **step.env}, capture_output=True, timeout=STEP_TIMEOUT)
            steps.append((" ".join(step.args), res.returncode,
                          normalise(res.stdout, root), normalise(res.stderr, root)))
        elif isinstance(step, W):
            p = repo / step.path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(step.text)
            if step.exe:
                p.chmod(0o755)
        elif isinstance(step, L):
            (repo / step.path).symlink_to(step.target)
        elif isinstance(step, D):
            p = repo / step.path
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    views = []
    for args, through_mode in VIEWS:
        res = subprocess.run([git if through_mode else env["GITLANE_REAL_GIT"], *args], cwd=repo, env=env,
                             capture_output=True, timeout=STEP_TIMEOUT)
        views.append((" ".join(args), res.returncode, normalise(res.stdout + b"\0" + res.stderr, root)))
    return Outcome(steps, views, tree(root))


def run_scenario(sc: Scenario, modes: Sequence[str], seed: Path, where: Path,
                 base: Mapping[str, str], shim_dir: Path) -> dict[str, Outcome]:
    return {m: run_mode(sc, m, seed, where, base, shim_dir) for m in modes}
