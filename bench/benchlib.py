"""Shared helpers for gitlane's benchmarks (stdlib only).

- a hermetic environment (temporary HOME, GIT_CONFIG_NOSYSTEM=1, fixed
  author/committer, no inherited GIT_* / GITLANE_* / CLAUDE_CODE_* variables);
- an interleaved timing loop: every round runs each variant once, in an order
  that rotates from round to round, so drift and noise hit all variants alike;
- machine facts, a results table, target checks and JSON output.

Times are wall-clock from just before the child is started to just after it
is reaped (time.perf_counter_ns around subprocess.run). The fork/exec cost of
the harness itself is the same for every variant, so differences and ratios
are unaffected by it.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM_DIR = os.path.join(ROOT, "shim")
SHIM_GIT = os.path.join(SHIM_DIR, "git")
SHIM_GITLANE = os.path.join(SHIM_DIR, "gitlane")

sys.path.insert(0, os.path.join(ROOT, "src"))
from gitlane.errors import Fatal  # noqa: E402
from gitlane.git import realgit  # noqa: E402
from gitlane.testing import hermetic  # noqa: E402


class BenchError(Exception):
    """A benchmarked command failed: gitlane (or the setup) is broken."""


# --- locating things -----------------------------------------------------------

def _launcher_exec_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc}; run ./install.sh --dev first") from None
    lines = [ln for ln in text.splitlines() if ln.startswith("exec '") and " -I -S " in ln]
    if not lines:
        raise BenchError(f"{path} has no `exec '<python>' -I -S ...` line; run ./install.sh --dev")
    return lines[-1]


def shim_python() -> str:
    """The interpreter the generated shim/git execs (fallback: .venv/bin/python)."""
    try:
        line = _launcher_exec_line(SHIM_GIT)
        m = re.match(r"exec '([^']+)' -I -S ", line)
        if m and os.access(m.group(1), os.X_OK):
            return m.group(1)
    except BenchError:
        pass
    fallback = os.path.join(ROOT, ".venv", "bin", "python")
    if os.access(fallback, os.X_OK):
        return fallback
    raise BenchError("cannot find the shim's python: run ./install.sh --dev")


def shim_launch_parts() -> tuple[str, str, str, str]:
    """(python, -c code, src dir, site dir) exactly as baked into shim/git."""
    line = _launcher_exec_line(SHIM_GIT)
    m = re.match(r"exec '([^']+)' -I -S -c '([^']+)' '([^']+)' '([^']+)' \"\$real\" \"\$@\"", line)
    if not m:
        raise BenchError(f"unexpected launcher line in {SHIM_GIT}: {line}")
    return m.group(1), m.group(2), m.group(3), m.group(4)


def clean_path() -> str:
    """PATH without any directory holding a gitlane shim."""
    return realgit.path_without_shims(os.environ.get("PATH", "/usr/bin:/bin")) or "/usr/bin:/bin"


def real_git() -> str:
    """The real git, found the one way gitlane finds it (git.realgit)."""
    try:
        return realgit.find({"PATH": clean_path(), "GITLANE_REAL_GIT": os.environ.get("GITLANE_REAL_GIT", "")})
    except Fatal as exc:
        raise BenchError(exc.what) from None


# --- hermetic environment ----------------------------------------------------

def hermetic_env(home: str) -> dict[str, str]:
    """gitlane.testing.hermetic's environment, with shim/ first on PATH as in
    real use (the real git is always called by absolute path, so this only
    affects the shim's own PATH walk) and no editor."""
    env = hermetic.env(home)
    env["PATH"] = SHIM_DIR + ":" + env["PATH"]
    env["TMPDIR"] = os.environ.get("TMPDIR", "/tmp")
    return env


def session_env(base: Mapping[str, str], name: str, pid: int | None = None) -> dict[str, str]:
    env = dict(base)
    env["GITLANE_SESSION"] = name
    env["GITLANE_SESSION_PID"] = str(pid if pid is not None else os.getpid())
    return env


class TempRoot:
    """A temporary directory removed on exit (unless keep=True)."""

    def __init__(self, prefix: str, keep: bool = False) -> None:
        self.path = tempfile.mkdtemp(prefix=prefix)
        self.keep = keep

    def __enter__(self) -> "TempRoot":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            sys.stderr.write(f"(kept {self.path})\n")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# --- running commands ------------------------------------------------------------

def run(argv: Sequence[str], env: Mapping[str, str], cwd: str, *, check: bool = True,
        input: bytes | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(list(argv), env=dict(env), cwd=cwd, input=input,
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    if check and res.returncode != 0:
        raise BenchError(describe_failure(argv, env, cwd, res.returncode, res.stderr))
    return res


def describe_failure(argv: Sequence[str], env: Mapping[str, str], cwd: str, rc: int, err: bytes) -> str:
    sess = env.get("GITLANE_SESSION")
    where = f"GITLANE_SESSION={sess} " if sess else ""
    return (f"command failed (exit {rc}): {where}{' '.join(argv)}\n  cwd: {cwd}\n"
            f"  stderr: {err.decode('utf-8', 'replace').strip()[:2000]}")


@dataclass
class Variant:
    """One thing to time. `argv`/`env` may be callables of the round number
    (for commands that need fresh input every round). `before`/`after` run
    untimed around it."""
    name: str
    argv: Sequence[str] | Callable[[int], Sequence[str]]
    env: Mapping[str, str] | Callable[[int], Mapping[str, str]]
    cwd: str
    before: Callable[[int], None] | None = None
    after: Callable[[int], None] | None = None
    samples: list[int] = field(default_factory=list)  # ns, timed rounds only

    def _argv(self, r: int) -> list[str]:
        return list(self.argv(r) if callable(self.argv) else self.argv)

    def _env(self, r: int) -> dict[str, str]:
        return dict(self.env(r) if callable(self.env) else self.env)

    def once(self, r: int) -> int:
        if self.before:
            self.before(r)
        argv, env = self._argv(r), self._env(r)
        t0 = time.perf_counter_ns()
        res = subprocess.run(argv, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter_ns() - t0
        if res.returncode != 0:
            raise BenchError(f"[{self.name}] " + describe_failure(argv, env, self.cwd, res.returncode, res.stderr))
        if self.after:
            self.after(r)
        return dt


def interleave(variants: Sequence[Variant], rounds: int, warmup: int = 1,
               round_setup: Callable[[int], None] | None = None) -> None:
    """Round-robin: each round runs every variant once, rotating the start so no
    variant is always first (or always right after the round's setup).
    Warm-up rounds are run the same way and discarded."""
    k = len(variants)
    for r in range(-warmup, rounds):
        if round_setup:
            round_setup(r)
        shift = r % k
        for v in list(variants[shift:]) + list(variants[:shift]):
            dt = v.once(r)
            if r >= 0:
                v.samples.append(dt)


# --- statistics and reporting ----------------------------------------------------

def ms(ns: float) -> float:
    return ns / 1e6


def median_ms(samples: Sequence[int]) -> float:
    return ms(statistics.median(samples))


def paired_median_diff_ms(a: Sequence[int], b: Sequence[int]) -> float:
    """Median over rounds of (a_i - b_i): each round's samples were taken next
    to each other, so this cancels slow drift better than a difference of medians."""
    return ms(statistics.median(x - y for x, y in zip(a, b)))


def paired_median_ratio(a: Sequence[int], b: Sequence[int]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def summary(samples: Sequence[int]) -> dict[str, float]:
    s = sorted(samples)
    n = len(s)
    return {
        "n": n,
        "median_ms": round(ms(statistics.median(s)), 3),
        "min_ms": round(ms(s[0]), 3),
        "p90_ms": round(ms(s[min(n - 1, int(0.9 * (n - 1) + 0.5))]), 3),
        "mean_ms": round(ms(statistics.fmean(s)), 3),
    }


class Report:
    """Collects rows (timings), derived metrics and target checks; prints them
    and saves them as JSON."""

    def __init__(self, title: str, argv: Sequence[str]) -> None:
        self.title = title
        self.machine = machine_info()
        self.params: dict[str, object] = {"argv": list(argv)}
        self.sections: list[dict] = []
        self.checks: list[dict] = []
        self.notes: list[str] = []
        self._section: dict | None = None

    def header(self) -> None:
        m = self.machine
        print(f"# {self.title}")
        print(f"machine: nproc={m['nproc']} cpu='{m['cpu_model']}' kernel={m['kernel']} fs(/tmp)={m['tmp_fs']}")
        print(f"python (bench): {m['python_bench']}   python (shim): {m['python_shim']}")
        print(f"git: {m['git_version']} ({m['git_path']})   load avg: {m['loadavg']}")
        print(f"gitlane: {m['gitlane_rev']}")
        sys.stdout.flush()

    def section(self, name: str, **params: object) -> None:
        self._section = {"name": name, "params": params, "rows": [], "derived": []}
        self.sections.append(self._section)
        extra = "  ".join(f"{k}={v}" for k, v in params.items())
        print(f"\n## {name}" + (f"   ({extra})" if extra else ""))
        print(f"  {'variant':<46} {'median':>9} {'min':>9} {'p90':>9} {'n':>4}")
        sys.stdout.flush()

    def row(self, name: str, samples: Sequence[int] | None, note: str = "") -> dict:
        assert self._section is not None
        if samples:
            s = summary(samples)
            print(f"  {name:<46} {s['median_ms']:>7.2f}ms {s['min_ms']:>7.2f}ms {s['p90_ms']:>7.2f}ms {s['n']:>4}"
                  + (f"  {note}" if note else ""))
        else:
            s = {"n": 0, "median_ms": None}
            print(f"  {name:<46} {'n/a':>9} {'':>9} {'':>9} {'':>4}" + (f"  {note}" if note else ""))
        entry = {"name": name, **s}
        if note:
            entry["note"] = note
        self._section["rows"].append(entry)
        sys.stdout.flush()
        return entry

    def derived(self, name: str, value: float | None, unit: str, target: float | None = None,
                op: str = "<=", note: str = "") -> None:
        """A computed metric (difference, ratio); with a target it is also a check."""
        assert self._section is not None
        shown = "n/a" if value is None else (f"{value:.2f} {unit}" if unit != "x" else f"{value:.3f}x")
        verdict = ""
        passed = None
        if target is not None and value is not None:
            passed = value <= target if op == "<=" else value >= target
            verdict = f"target {op} {target:g}{'' if unit == 'x' else ' ' + unit}: {'PASS' if passed else 'FAIL'}"
        elif target is not None:
            verdict = f"target {op} {target:g}{'' if unit == 'x' else ' ' + unit}: n/a"
        print(f"  => {name:<52} {shown:>11}   {verdict}" + (f"  ({note})" if note else ""))
        entry = {"name": name, "value": None if value is None else round(value, 4), "unit": unit}
        if target is not None:
            entry.update(target=target, op=op, passed=passed)
            self.checks.append({"section": self._section["name"], **entry})
        if note:
            entry["note"] = note
        self._section["derived"].append(entry)
        sys.stdout.flush()

    def note(self, text: str) -> None:
        print(f"  note: {text}")
        self.notes.append(text)
        sys.stdout.flush()

    def footer(self) -> None:
        self.machine["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload avg at the end: {self.machine['loadavg_end']} (nproc={self.machine['nproc']}; "
              "a load near or above nproc means other work competed with the benchmark)")
        if not self.checks:
            return
        print("\n## targets")
        for c in self.checks:
            status = "n/a" if c["passed"] is None else ("PASS" if c["passed"] else "FAIL")
            val = "n/a" if c["value"] is None else (f"{c['value']:.3f}x" if c["unit"] == "x"
                                                    else f"{c['value']:.2f} {c['unit']}")
            print(f"  {status:<4}  [{c['section']}] {c['name']}: {val} (target {c['op']} {c['target']:g})")

    def save(self, path: str | None) -> None:
        if not path:
            return
        data = {"title": self.title, "machine": self.machine, "params": self.params,
                "sections": self.sections, "checks": self.checks, "notes": self.notes}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        print(f"\nresults saved to {path}")


def machine_info() -> dict[str, object]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    git = real_git()
    gv = subprocess.run([git, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        py = shim_python()
        pyv = subprocess.run([py, "-I", "-S", "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip() + f" ({py})"
    except BenchError as exc:
        pyv = f"unknown ({exc})"
    try:
        rev = subprocess.run([git, "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": nproc,
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python_bench": sys.version.split()[0],
        "python_shim": pyv,
        "git_version": gv,
        "git_path": git,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "tmp_fs": _fs_type(tempfile.gettempdir()),
        "gitlane_rev": rev,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fs_type(path: str) -> str:
    best, fstype = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and path.startswith(parts[1]) and len(parts[1]) > len(best):
                    best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


# --- repositories ---------------------------------------------------------------------

def file_path(i: int) -> str:
    """100 files per directory, two levels deep like a real source tree."""
    return f"d{i // 1000:03d}/s{(i // 100) % 10}/f{i:06d}.txt"


def make_repo(path: str, nfiles: int, env: Mapping[str, str], git: str, commits: int = 1) -> None:
    """Write nfiles small files (mtimes an hour in the past, so no index entry
    is racily clean), `git add -A` once, commit. A few extra commits give
    `log` something to walk."""
    os.makedirs(path)
    run([git, "init", "-q", path], env, cwd=os.path.dirname(path))
    past = time.time() - 3600
    made: set[str] = set()
    for i in range(nfiles):
        rel = file_path(i)
        d = os.path.dirname(rel)
        if d not in made:
            os.makedirs(os.path.join(path, d), exist_ok=True)
            made.add(d)
        full = os.path.join(path, rel)
        with open(full, "w", encoding="utf-8") as f:
            f.write(f"file {i}\n" + "lorem ipsum dolor sit amet\n" * (1 + i % 5))
        os.utime(full, (past, past))
    run([git, "add", "-A"], env, cwd=path)
    run([git, "commit", "-q", "-m", "initial import"], env, cwd=path)
    for c in range(1, commits):
        rel = file_path(c % nfiles)
        with open(os.path.join(path, rel), "a", encoding="utf-8") as f:
            f.write(f"commit {c}\n")
        os.utime(os.path.join(path, rel), (past, past))
        run([git, "commit", "-q", "-a", "-m", f"change {c}"], env, cwd=path)
    # Settle .git/index: one refresh so later runs start from a clean stat cache.
    run([git, "status", "--porcelain"], env, cwd=path)


def append(path: str, text: str, mtime: float | None = None) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def common_args(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few rounds)")
    parser.add_argument("--rounds", type=int, help="timed rounds per measurement")
    parser.add_argument("--warmup", type=int, help="discarded warm-up rounds")
    parser.add_argument("--json", metavar="FILE", help="save results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")


def run_sizes(report: "Report", args, name: str, sizes, rounds_for, run) -> int:  # type: ignore[no-untyped-def]
    """The loop every size-scaled benchmark shares: for each size, a temporary
    root, `run(tmp_path, size, rounds, warmup)`, an aborted size noted rather
    than fatal; then the footer and the JSON. Returns the exit code."""
    code = 0
    for size in sizes:
        rounds = args.rounds or rounds_for(size)
        warmup = args.warmup if args.warmup is not None else 1
        try:
            with TempRoot(f"gitlane-bench-{name}-{size}-", keep=args.keep) as tmp:
                run(tmp.path, size, rounds, warmup)
        except BenchError as exc:
            print(f"\nBENCHMARK ABORTED ({size} files): {exc}", file=sys.stderr)
            report.note(f"aborted at {size} files: {exc}")
            code = 1
    report.footer()
    report.save(args.json)
    return code
