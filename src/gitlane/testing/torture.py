"""The torture run: K sessions x M commits in one working tree, all at once,
with a `git status` poller running throughout; then count what survived.

Three ways to run git (the issue's comparison):
- `gitlane`: the shim, with GITLANE_SESSION/GITLANE_SESSION_PID per session;
- `plain`:   the real git and the one shared index, no coordination;
- `naive`:   the real git, a GIT_INDEX_FILE per session (seeded from
             .git/index), and an fcntl.flock on one file around `add` and
             around `commit`.

Session i, step j writes `s{i}/f{j}.txt` (and every third step also rewrites
an earlier file of its own), runs `git add -- <those files>` and then
`git commit -q -m "s{i} c{j}"`. Nothing but the sessions' own work changes
the tree, so the expected history is known exactly. Stdlib only: the demo
runs under `python -I -S`.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Mapping

from gitlane.testing import hermetic

MODES = ("gitlane", "plain", "naive")
SUBJECT = re.compile(r"^s(\d+) c(\d+)$")
README = b"torture\n"


# --- the plan: what each session writes, and therefore what must survive ----

def content(i: int, j: int, step: int) -> bytes:
    """The text of s{i}/f{j}.txt as written at `step`."""
    return f"session {i} file {j} written at step {step}\n".encode()


def step_files(i: int, j: int) -> dict[str, bytes]:
    """The files session i writes (and stages, and commits) at step j."""
    files = {f"s{i}/f{j}.txt": content(i, j, j)}
    if j % 3 == 2:  # sometimes modify an earlier file of its own
        files[f"s{i}/f{j - 2}.txt"] = content(i, j - 2, j)
    return files


def final_files(sessions: int, commits: int) -> dict[str, bytes]:
    """Every file HEAD must hold at the end, with its last content."""
    expected = {"README": README}
    for i in range(sessions):
        for j in range(commits):
            expected.update(step_files(i, j))
    return expected


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()



# --- results ------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    session: str
    argv: tuple[str, ...]
    rc: int
    stderr: str

    def describe(self) -> str:
        first = self.stderr.strip().splitlines()[:3]
        return f"{self.session}: git {' '.join(self.argv)} -> rc {self.rc}: {' | '.join(first)}"


@dataclass
class Result:
    mode: str
    sessions: int
    commits: int
    kept: int = 0
    misattributed: int = 0
    lost: int = 0
    failed: int = 0
    elapsed: float = 0.0
    fsck_ok: bool = True
    fsck_output: str = ""
    polls: int = 0
    failures: list[Failure] = field(default_factory=list)
    bad_commits: list[str] = field(default_factory=list)
    lost_paths: list[str] = field(default_factory=list)
    repo: str = ""
    latencies: list[float] = field(default_factory=list)  # seconds per `git commit`, lock wait included

    @property
    def expected(self) -> int:
        return self.sessions * self.commits

    @property
    def rate(self) -> float:
        """Commits kept per second of wall time."""
        return self.kept / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def perfect(self) -> bool:
        return (self.kept == self.expected and not self.misattributed and not self.lost
                and not self.failed and self.fsck_ok)

    def problems(self) -> list[str]:
        """One line per thing that went wrong, with a few examples each."""
        lines = [f"{self.expected - self.kept} of {self.expected} commits missing from HEAD"] \
            if self.kept != self.expected else []
        lines += [f"misattributed: {c}" for c in self.bad_commits[:5]]
        lines += [f"lost from HEAD: {p}" for p in self.lost_paths[:5]]
        lines += [f"failed: {f.describe()}" for f in self.failures[:5]]
        if not self.fsck_ok:
            lines.append(f"git fsck: {self.fsck_output.strip()[:500]}")
        return lines


@dataclass
class Progress:
    """Shared counters, updated by the session threads under `lock`."""
    mode: str
    sessions: int
    commits: int
    done: list[int] = field(default_factory=list)
    failed: int = 0
    started: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_done(self) -> int:
        return sum(self.done)


ProgressFn = Callable[[Progress], None]


# --- environment and repository ----------------------------------------

def base_env(home: Path) -> tuple[str, dict[str, str]]:
    """(the real git, a hermetic environment) for one run."""
    env = hermetic.env(str(home))
    return env["GITLANE_REAL_GIT"], env


def git_out(real: str, repo: Path, env: Mapping[str, str], *args: str) -> bytes:
    """Run the real git for setup or analysis; raise on failure."""
    res = subprocess.run([real, *args], cwd=repo, env=env, capture_output=True)
    if res.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({res.returncode}): {res.stderr.decode(errors='replace')}")
    return res.stdout


def init_repo(repo: Path, real: str, env: Mapping[str, str], files: int = 0) -> None:
    """README plus `files` small seed files (100 per folder, mtimes an hour
    back so none is racily clean), in one commit."""
    repo.mkdir(parents=True)
    git_out(real, repo, env, "init", "-q")
    (repo / "README").write_bytes(README)
    past = time.time() - 3600
    for k in range(files):
        path = repo / "seed" / f"d{k // 100:04d}" / f"f{k}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"seed %d\n" % k)
        os.utime(path, (past, past))
    git_out(real, repo, env, "add", "-A")
    git_out(real, repo, env, "commit", "-q", "-m", "init")
    git_out(real, repo, env, "status", "--porcelain")  # settle .git/index's stat cache


def write_files(repo: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# --- the run --------------------------------------------------------------

class _Run:
    """One torture run in one repository: the threads and what they share."""

    def __init__(self, mode: str, repo: Path, real: str, shim: Path | None, env: dict[str, str],
                 sessions: int, commits: int, progress: ProgressFn | None, poll_interval: float) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        if mode == "gitlane" and (shim is None or not shim.exists()):
            raise FileNotFoundError(f"gitlane shim not found at {shim}; run ./install.sh --dev")
        self.mode, self.repo, self.real, self.env = mode, repo, real, env
        self.git = str(shim) if mode == "gitlane" else real
        self.shim_dir = str(shim.parent) if shim is not None else ""
        self.sessions, self.commits = sessions, commits
        self.poll_interval = poll_interval
        self.on_progress = progress
        self.progress = Progress(mode, sessions, commits, done=[0] * sessions)
        self.failures: list[Failure] = []
        self.failures_lock = threading.Lock()
        self.barrier = threading.Barrier(sessions + 2)  # sessions, poller, the clock
        self.stop = threading.Event()
        self.polls = 0
        self.lock_file = repo / ".git" / "naive.lock"
        self.latencies: list[float] = []

    # environments -----------------------------------------------------------

    def session_env(self, i: int) -> dict[str, str]:
        env = dict(self.env)
        if self.mode == "gitlane":
            env = hermetic.session_env(env, self.shim_dir, f"s{i}")
        elif self.mode == "naive":
            index = self.repo / ".git" / f"naive-index-s{i}"
            shutil.copy2(self.repo / ".git" / "index", index)
            env["GIT_INDEX_FILE"] = str(index)
        return env

    def poller_envs(self) -> list[dict[str, str]]:
        """gitlane: alternate a status outside any session (a shell prompt)
        with one inside a session of its own (an agent's status line)."""
        if self.mode != "gitlane":
            return [dict(self.env)]
        outside = dict(self.env, PATH=self.shim_dir + os.pathsep + self.env["PATH"])
        inside = hermetic.session_env(self.env, self.shim_dir, "poller")
        return [outside, inside]

    # commands ---------------------------------------------------------------

    def git_call(self, who: str, env: Mapping[str, str], *args: str) -> bool:
        res = subprocess.run([self.git, *args], cwd=self.repo, env=env, capture_output=True)
        if res.returncode != 0:
            with self.failures_lock:
                self.failures.append(Failure(who, args, res.returncode, res.stderr.decode(errors="replace")))
        return res.returncode == 0

    @contextmanager
    def _flock(self) -> Iterator[None]:
        with open(self.lock_file, "a") as f:  # one open file description per holder
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def serialized(self) -> ContextManager[None]:
        return self._flock() if self.mode == "naive" else nullcontext()

    # threads ------------------------------------------------------------------

    def session(self, i: int, env: dict[str, str]) -> None:
        who = f"s{i}"
        self.barrier.wait()
        for j in range(self.commits):
            files = step_files(i, j)
            write_files(self.repo, files)
            with self.serialized():
                added = self.git_call(who, env, "add", "--", *files)
            t0 = time.monotonic()
            with self.serialized():
                committed = self.git_call(who, env, "commit", "-q", "-m", f"s{i} c{j}")
            with self.failures_lock:
                self.latencies.append(time.monotonic() - t0)
            self._advance(i, added and committed)

    def _advance(self, i: int, ok: bool) -> None:
        with self.progress.lock:
            self.progress.done[i] += 1
            self.progress.failed += 0 if ok else 1
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def poller(self) -> None:
        envs = self.poller_envs()
        self.barrier.wait()
        while not self.stop.is_set():
            self.git_call("poller", envs[self.polls % len(envs)], "status", "--porcelain")
            self.polls += 1
            self.stop.wait(self.poll_interval)

    def go(self) -> float:
        """Start everything at one barrier; return the sessions' wall time."""
        envs = [self.session_env(i) for i in range(self.sessions)]
        workers = [threading.Thread(target=self.session, args=(i, envs[i]), name=f"s{i}", daemon=True)
                   for i in range(self.sessions)]
        poller = threading.Thread(target=self.poller, name="poller", daemon=True)
        for t in [*workers, poller]:
            t.start()
        self.barrier.wait()
        self.progress.started = start = time.monotonic()
        for t in workers:
            t.join()
        elapsed = time.monotonic() - start
        self.stop.set()
        poller.join()
        return elapsed


# --- analysis ---------------------------------------------------------------

def history(real: str, repo: Path, env: Mapping[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(commit, subject, {path: new blob id}) for every commit reachable from HEAD."""
    out = git_out(real, repo, env, "log", "--no-renames", "--raw", "--no-abbrev",
                  "--format=%x01%H %s", "HEAD").decode("utf-8", "replace")
    commits = []
    for block in out.split("\x01")[1:]:
        head, _, rest = block.partition("\n")
        sha, _, subject = head.partition(" ")
        changes = {}
        for line in rest.splitlines():
            if line.startswith(":") and "\t" in line:
                meta, path = line.split("\t", 1)
                changes[path] = meta.split()[3]
        commits.append((sha, subject, changes))
    return commits


def expected_changes(i: int, j: int) -> dict[str, str]:
    return {path: blob_id(data) for path, data in step_files(i, j).items()}


def count_commits(result: Result, commits: list[tuple[str, str, dict[str, str]]]) -> None:
    """kept: steps with a commit on HEAD; misattributed: commits whose changes
    are not exactly that step's files and contents, or that repeat a step."""
    seen: set[tuple[int, int]] = set()
    for sha, subject, changes in commits:
        if subject == "init":
            continue
        step = _step(subject, result)
        if step is not None and step not in seen:
            seen.add(step)
            if changes == expected_changes(*step):
                continue
        result.misattributed += 1
        result.bad_commits.append(_describe_bad(sha, subject, changes, step))
    result.kept = len(seen)


def _step(subject: str, result: Result) -> tuple[int, int] | None:
    m = SUBJECT.match(subject)
    if m is None or int(m[1]) >= result.sessions or int(m[2]) >= result.commits:
        return None
    return int(m[1]), int(m[2])


def _describe_bad(sha: str, subject: str, changes: dict[str, str], step: tuple[int, int] | None) -> str:
    want = set(expected_changes(*step)) if step else set()
    extra = sorted(set(changes) - want)
    missing = sorted(want - set(changes))
    wrong = sorted(p for p in want & set(changes) if changes[p] != expected_changes(*step)[p]) if step else []
    return (f"{sha[:10]} {subject!r}: extra {extra[:4]}{'…' if len(extra) > 4 else ''}, "
            f"missing {missing[:4]}, wrong content {wrong[:4]}")


def count_lost(result: Result, real: str, repo: Path, env: Mapping[str, str]) -> None:
    out = git_out(real, repo, env, "ls-tree", "-r", "-z", "HEAD").decode("utf-8", "replace")
    tree = {rec.split("\t", 1)[1]: rec.split()[2] for rec in out.split("\0") if rec}
    for path, data in final_files(result.sessions, result.commits).items():
        if tree.get(path) != blob_id(data):
            result.lost += 1
            result.lost_paths.append(path if path in tree else f"{path} (missing)")


def check_fsck(result: Result, real: str, repo: Path, env: Mapping[str, str]) -> None:
    res = subprocess.run([real, "fsck", "--strict", "--no-progress", "--no-dangling"],
                         cwd=repo, env=env, capture_output=True)
    result.fsck_ok = res.returncode == 0
    result.fsck_output = (res.stdout + res.stderr).decode(errors="replace")


def analyse(result: Result, real: str, repo: Path, env: Mapping[str, str]) -> Result:
    count_commits(result, history(real, repo, env))
    count_lost(result, real, repo, env)
    check_fsck(result, real, repo, env)
    return result


# --- entry points ---------------------------------------------------------------

def run(mode: str, workdir: Path, sessions: int, commits: int, shim: Path | None = None,
        progress: ProgressFn | None = None, poll_interval: float = 0.02, files: int = 0,
        template: Path | None = None) -> Result:
    """One torture run in a new repository `workdir/<mode>` (workdir is kept;
    the caller owns and removes it), seeded with `files` files, or copied
    from `template` (a repository init_repo made) when given."""
    real, env = base_env(workdir / "home")
    repo = workdir / mode
    if template is not None:
        shutil.copytree(template, repo, symlinks=True)
    else:
        init_repo(repo, real, env, files)
    r = _Run(mode, repo, real, shim, env, sessions, commits, progress, poll_interval)
    elapsed = r.go()
    result = Result(mode, sessions, commits, elapsed=elapsed, polls=r.polls,
                    failed=len(r.failures), failures=r.failures, repo=str(repo), latencies=r.latencies)
    return analyse(result, real, repo, env)


def default_shim() -> Path:
    """`<checkout>/shim/git`, found relative to this package."""
    import gitlane
    return Path(gitlane.__file__).resolve().parents[2] / "shim" / "git"
