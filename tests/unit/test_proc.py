"""git.proc: the one place that starts children. run() captures both streams
and feeds stdin without deadlock; call() lets the child have the terminal and
forwards a supervisor's signals; exit_like() leaves with the child's own exit
code or signal; every child gets SIGPIPE back at its default.

Signal behaviour is checked in a separate Python (the `harness` below), so
that a bug kills that process and not the test run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gitlane.git import proc
from gitlane.testing.lane import ROOT

SH = "/bin/sh"


def env() -> dict[str, str]:
    return dict(os.environ)


def test_run_captures_stdout_stderr_and_the_exit_code() -> None:
    res = proc.run([SH, "-c", "printf out; printf err >&2; exit 3"], env())
    assert (res.rc, res.out, res.err) == (3, b"out", b"err")


def test_run_feeds_and_reads_more_than_a_pipe_holds() -> None:
    data = os.urandom(3 << 20)
    res = proc.run(["/bin/cat"], env(), input=data)
    assert res.rc == 0 and res.out == data
    both = proc.run([SH, "-c", "cat; head -c 200000 /dev/zero >&2"], env(), input=data)
    assert both.out == data and both.err == bytes(200000)


def test_run_with_empty_input_closes_stdin_and_without_reads_dev_null() -> None:
    assert proc.run(["/bin/cat"], env(), input=b"").out == b""
    assert proc.run(["/bin/cat"], env()).out == b""


def test_run_survives_a_child_that_stops_reading() -> None:
    res = proc.run([SH, "-c", "head -c 1 >/dev/null; exit 4"], env(), input=os.urandom(1 << 20))
    assert res.rc == 4


def test_run_reports_a_signal_as_a_negative_code() -> None:
    assert proc.run([SH, "-c", "kill -TERM $$"], env()).rc == -signal.SIGTERM


@pytest.mark.parametrize("start", ["run", "start", "call"])
def test_children_get_sigpipe_at_its_default(start: str) -> None:
    """Python ignores SIGPIPE; an ignored signal stays ignored across exec.
    A child that gets SIGPIPE must die of it."""
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN        # pytest's own Python, as the shim's
    argv = [SH, "-c", "kill -PIPE $$; exit 0"]
    if start == "run":
        rc = proc.run(argv, env()).rc
    elif start == "start":
        rc = proc.start(argv, env()).wait()
    else:
        rc = os.waitstatus_to_exitcode(proc.call(argv, env()))
    assert rc == -signal.SIGPIPE


def test_start_runs_in_the_background_with_output_discarded(capfd: pytest.CaptureFixture[str]) -> None:
    child = proc.start([SH, "-c", "echo noise; echo more >&2; exit 5"], env())
    assert isinstance(child.pid, int) and child.wait() == 5
    assert capfd.readouterr() == ("", "")


def test_call_returns_the_raw_wait_status_and_passes_fds(tmp_path: Path) -> None:
    status = proc.call([SH, "-c", "exit 7"], env())
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7
    status = proc.call([SH, "-c", "kill -KILL $$"], env())
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    r, w = os.pipe()
    try:
        os.set_inheritable(w, False)
        proc.call([sys.executable, "-c", f"import os; os.write({w}, b'through\\n')"], env(), pass_fds=[w])
        os.close(w)
        w = -1
        assert os.read(r, 100) == b"through\n"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


HARNESS = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from gitlane.git import proc
what, argv = sys.argv[2], sys.argv[3:]
if what == "exec":
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    proc.exec_(argv, dict(os.environ))
print("child", flush=True) if what == "announce" else None
status = proc.call(argv, dict(os.environ))
print("after", signal.getsignal(signal.SIGINT) is signal.default_int_handler,
      signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)
proc.exit_like(status)
"""


def harness(what: str, *argv: str, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HARNESS, str(ROOT / "src"), what, *argv], capture_output=True,
                          timeout=60, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [0, 1, 7, 128, 255])
def test_exit_like_passes_the_exit_code(code: int) -> None:
    res = harness("plain", SH, "-c", f"echo out; exit {code}")
    assert res.returncode == code
    assert res.stdout == b"out\nafter True True\n"            # flushed before leaving, handlers restored


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV, signal.SIGUSR1, signal.SIGINT])
def test_exit_like_dies_of_the_childs_signal(sig: int) -> None:
    res = harness("plain", SH, "-c", f"kill -{sig.name[3:]} $$")
    assert res.returncode == -sig


def test_a_supervisors_sigterm_is_forwarded_to_the_child() -> None:
    p = subprocess.Popen([sys.executable, "-c", HARNESS, str(ROOT / "src"), "announce", SH, "-c",
                          "echo ready; exec sleep 60"], stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.readline() == b"child\n" and p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGTERM)                 # the shim gets it: git must get it too
    assert p.wait(60) == -signal.SIGTERM          # the child died of it, and so did we
    assert p.stdout.read() == b"after True True\n"


def test_the_terminals_sigint_is_the_childs_to_handle() -> None:
    """While git runs, the shim ignores SIGINT (the tty sends it to the
    whole group): only the child's answer counts."""
    res = harness("plain", SH, "-c", "trap 'exit 42' INT; kill -INT $PPID; kill -INT $$; sleep 1")
    assert res.returncode == 42
    assert res.stdout == b"after True True\n"


def test_exec_gives_sigpipe_back_to_the_program() -> None:
    res = harness("exec", SH, "-c", "kill -PIPE $$; echo survived")
    assert res.returncode == -signal.SIGPIPE and res.stdout == b""


# --- one place starts processes ---------------------------------------------------------------

# Outside git/proc.py, only these start a process, each for a reason:
PROCESS_STARTERS = {
    "fastpath.py": "execs git for the in-step read without importing os",
    "shared/main_index.py": "forks the .git/index follower before git runs; the child closes every "
                            "inherited fd (the session and global lock fds included) at once",
    "testing/": "the harness runs the shim, the real git and helpers as a user would",
}
_SPAWNERS = {"posix_spawn", "posix_spawnp", "fork", "forkpty", "system", "popen", "spawnv", "spawnve",
             "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe"}


def test_processes_start_only_in_proc() -> None:
    import ast
    package = Path(proc.__file__).resolve().parents[1]
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel == "git/proc.py" or any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in PROCESS_STARTERS):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "subprocess" in names or "pty" in names:
                    found.append(f"{rel}:{node.lineno}: imports subprocess")
            elif isinstance(node, ast.Attribute) and node.attr in _SPAWNERS:
                found.append(f"{rel}:{node.lineno}: {node.attr}")
    assert found == []
