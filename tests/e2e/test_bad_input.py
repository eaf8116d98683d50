"""Bad input through the shim: invalid session names change nothing, weird
paths are staged, claimed and committed byte for byte, pathspec magic
stages what git would and cannot sneak past ownership, huge argument lists."""
from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git
from gitlane.testing.processes import RUN_TIMEOUT, blob_in_index, gitlane, lane_env, plain_env, run_in


BAD_NAMES = {
    "slash": ("a/b", "it contains '/'"),
    "dotdot": ("..", "it starts with '.'"),
    "dotdot-slash": ("../../etc", "it starts with '.'"),
    "control": ("a\x01b", "it contains '\\x01'"),
    "newline": ("a\nb", "it contains '\\n'"),
    "escape": ("x\x1b[31m", "it contains '\\x1b', '['"),
    "leading-dash": ("-rf", "it starts with '-'"),
    "long": ("x" * 10_000, "it is 10000 characters long"),
}


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("key", sorted(BAD_NAMES))
@pytest.mark.parametrize("var", ["GITLANE_SESSION", "CLAUDE_CODE_SESSION_ID"])
def test_invalid_session_name(lane: Lane, key: str, var: str) -> None:
    name, problem = BAD_NAMES[key]
    before = _tree(lane.path.parent)
    env = lane_env()
    env[var] = name
    env["GITLANE_SESSION_PID"] = str(os.getpid())
    lane.write("README", "changed\n")
    for args in (["status"], ["add", "README"], ["commit", "-qam", "x"], ["stash"]):
        res = subprocess.run([str(SHIM / "git"), *args], cwd=lane.path, capture_output=True, env=env,
                             timeout=RUN_TIMEOUT)
        err = res.stderr.decode()
        assert res.returncode == 2 and res.stdout == b"", err
        lines = err.splitlines()
        assert lines[0].startswith("gitlane: invalid session name '"), err
        assert lines[0].endswith(f"': {problem}"), err
        assert len(lines[0]) < 200, "the name is shown truncated"
        assert lines[1].startswith("hint: session names use letters, digits and . _ - @ +"), err
    assert _tree(lane.path.parent) == before
    assert not (lane.path / ".git" / "gitlane").exists()
    assert lane.plain("status", "--porcelain").stdout == b" M README\n"
    assert lane.plain("log", "--format=%s").stdout == b"init\n"


@pytest.mark.parametrize("key", ["slash", "dotdot", "control", "long"])
def test_invalid_session_name_in_gitlane_cli(lane: Lane, key: str) -> None:
    name, problem = BAD_NAMES[key]
    before = _tree(lane.path.parent)
    for args in (["activate", name], ["export", name]):
        res = gitlane(lane, *args)
        err = res.stderr.decode()
        assert res.returncode == 2, err
        assert err.startswith("gitlane: invalid session name '") and f"': {problem}\n" in err, err
    assert _tree(lane.path.parent) == before


# --- bad input: paths --------------------------------------------------------------------

WEIRD = {
    "space": b"with space.txt",
    "newline": b"new\nline.txt",
    "tab": b"tab\there.txt",
    "non-utf8": b"caf\xe9-\xff.txt",
    "leading-dash": b"-x",
    "double-dash": b"--force",
    "quote": b"it's \"quoted\".txt",
    "backslash": b"back\\slash.txt",
}


@pytest.mark.parametrize("key", sorted(WEIRD))
def test_weird_paths_stage_claim_and_commit_exactly(pair, key: str) -> None:
    lane, a, b = pair
    raw = WEIRD[key]
    name = os.fsdecode(raw)
    (lane.path / name).write_bytes(b"A's content\n")
    res = run_in(lane, "A", a, "add", "--", name)
    assert res.returncode == 0, res.stderr.decode()
    staged = lane.plain("diff", "--cached", "--name-only", "-z", "HEAD", index=str(lane.session_index("A"))).stdout
    assert staged == raw + b"\0"
    # the claim is recorded for exactly these bytes: B is refused, all or nothing
    (lane.path / "b.txt").write_bytes(b"B\n")
    res = run_in(lane, "B", b, "add", "--", "b.txt", name)
    assert res.returncode == 1
    assert res.stderr.decode(errors="replace").startswith("gitlane: refusing to stage 1 path owned by another live session:")
    assert lane.staged("B") == set()
    res = run_in(lane, "A", a, "commit", "-q", "-m", "weird")
    assert res.returncode == 0, res.stderr.decode()
    names = lane.plain("ls-tree", "-z", "--name-only", "HEAD").stdout.split(b"\0")
    assert raw in names
    assert lane.plain("cat-file", "blob", f"HEAD:{name}").stdout == b"A's content\n"
    assert lane.staged("A") == set()
    assert run_in(lane, "B", b, "add", "--", "b.txt", name).returncode == 0   # A's claim ended with its commit
    lane.fsck()


def test_leading_dash_path_without_double_dash_is_git_s_business(pair) -> None:
    lane, a, b = pair
    (lane.path / "-x").write_bytes(b"x\n")
    res = run_in(lane, "A", a, "add", "-x")
    plain = subprocess.run([real_git(), "add", "-x"], cwd=lane.path, capture_output=True, env=plain_env())
    assert (res.returncode, res.stderr) == (plain.returncode, plain.stderr) and res.returncode == 129
    assert lane.staged("A") == set()
    res = run_in(lane, "A", a, "add", "./-x")
    assert res.returncode == 0 and lane.staged("A") == {"-x"}


# --- bad input: pathspec magic ----------------------------------------------------------------

@pytest.fixture
def magic(pair):
    lane, a, b = pair
    for rel in ("d/a.txt", "d/b.txt", "d/c.md", "top.txt", "sub/deep/e.txt"):
        lane.write(rel, f"{rel} v1\n")
    lane.plain("add", ".")
    lane.plain("commit", "-q", "-m", "magic base")
    for rel in ("d/a.txt", "d/b.txt", "d/c.md", "top.txt", "sub/deep/e.txt"):
        lane.write(rel, f"{rel} v2\n")
    return lane, a, b


@pytest.mark.parametrize("args,cwd,want", [
    ([":(glob)d/*.txt"], "", {"d/a.txt", "d/b.txt"}),
    (["--", ".", ":(exclude)d/c.md", ":(exclude)sub"], "", {"d/a.txt", "d/b.txt", "top.txt"}),
    ([":!d/*"], "", {"top.txt", "sub/deep/e.txt"}),
    ([":/top.txt"], "sub/deep", {"top.txt"}),
    ([":(top,glob)**/*.txt", ":(exclude,top)d"], "sub", {"top.txt", "sub/deep/e.txt"}),
    ([":(icase)D/C.MD"], "", {"d/c.md"}),
], ids=["glob", "exclude", "bang", "top", "combined", "icase"])
def test_pathspec_magic_stages_what_git_would(magic, args: list[str], cwd: str, want: set[str]) -> None:
    lane, a, b = magic
    res = subprocess.run([str(SHIM / "git"), "add", *args], cwd=lane.path / cwd, capture_output=True,
                         env=lane_env("A", a), timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr.decode()
    assert lane.staged("A") == want


def test_pathspec_magic_cannot_sneak_past_ownership(magic) -> None:
    lane, a, b = magic
    lane.write("d/new.txt", "B's new file\n")
    assert run_in(lane, "B", b, "add", "d/b.txt", "d/new.txt").returncode == 0
    # view isolation hides B's tracked d/b.txt, the per-session excludes B's new d/new.txt;
    # A's own d/a.txt is nobody's until A names it (issue 13, the safety net)
    res = run_in(lane, "A", a, "add", ":(glob)d/*.txt")
    assert res.returncode == 1 and "  d/a.txt  owned by nobody (unattributed)\n" in res.stderr.decode()
    assert run_in(lane, "A", a, "add", "d/a.txt").returncode == 0
    res = run_in(lane, "A", a, "add", ":(glob)d/*.txt")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.staged("A") == {"d/a.txt"}
    assert run_in(lane, "A", a, "restore", "--staged", "d/a.txt").returncode == 0
    # forcing the ignored file in through the glob: refused, all or nothing
    res = run_in(lane, "A", a, "add", "-f", ":(glob)d/*.txt")
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.startswith("gitlane: refusing to stage 1 path owned by another live session:\n  d/new.txt"), err
    assert lane.staged("A") == set()
    res = run_in(lane, "A", a, "checkout", "--", ":(glob)d/*")
    assert res.returncode == 1 and "d/b.txt  owned by session B" in res.stderr.decode()
    assert lane.read("d/b.txt") == "d/b.txt v2\n" and lane.read("d/a.txt") == "d/a.txt v2\n"
    assert lane.staged("B") == {"d/b.txt", "d/new.txt"}
    assert blob_in_index(lane, lane.session_index("B"), "d/b.txt") == b"d/b.txt v2\n"
    assert lane.read("d/new.txt") == "B's new file\n"


@pytest.mark.parametrize("spec", [":/d/new.txt", ":(literal)d/new.txt", ":(top)d/new.txt"])
def test_peer_path_named_through_magic_is_refused_in_our_words(magic, spec: str) -> None:
    lane, a, b = magic
    lane.write("d/new.txt", "B's new file\n")
    assert run_in(lane, "B", b, "add", "d/new.txt").returncode == 0
    res = run_in(lane, "A", a, "add", "--", spec)
    err = res.stderr.decode()
    assert res.returncode == 1 and lane.staged("A") == set(), err
    assert err.startswith("gitlane: refusing to stage 1 path owned by another live session:\n  d/new.txt"), err


def test_literal_pathspecs_env_is_honoured(magic) -> None:
    lane, a, b = magic
    lane.write("*.txt", "a file named star\n")
    res = run_in(lane, "A", a, "add", "*.txt", GIT_LITERAL_PATHSPECS="1")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.staged("A") == {"*.txt"}


# --- bad input: huge argument lists --------------------------------------------------------

@pytest.mark.parametrize("count", [5_000, pytest.param(20_000, marks=pytest.mark.slow)])
def test_huge_argument_list(pair, count: int) -> None:
    """git's own pathspec matching is quadratic (20,000 paths take ~15 s in
    plain git too), so the default run uses 5,000 long paths: about 0.5 MB
    of argv."""
    lane, a, b = pair
    d = lane.path / ("deep-directory-name-" * 3)
    d.mkdir()
    names = [f"{d.name}/file-with-a-long-name-{i:06d}.txt" for i in range(count)]
    for n in names:
        (lane.path / n).write_text(n + "\n")
    res = run_in(lane, "A", a, "add", "--", *names)
    assert res.returncode == 0, res.stderr.decode()
    staged = lane.plain("diff", "--cached", "--name-only", "-z", "HEAD", index=str(lane.session_index("A"))).stdout
    assert staged.split(b"\0")[:-1] == [n.encode() for n in names]
    claimed = sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db").execute(
        "SELECT count(*) FROM claims WHERE session = 'A'").fetchone()[0]
    assert claimed == count
    lane.write(names[count // 2], "B's\n")
    res = run_in(lane, "B", b, "add", "--", names[count // 2])
    assert res.returncode == 1
    assert res.stderr.decode().startswith("gitlane: refusing to stage 1 path owned by another live session:\n"
                                          f"  {names[count // 2]}  staged by session A (pid {a}, ")
    assert lane.staged("B") == set()
    res = run_in(lane, "A", a, "commit", "-q", "-m", "many")
    assert res.returncode == 0, res.stderr.decode()
    assert len(lane.commit_files("HEAD")) == count
    assert lane.plain("cat-file", "blob", f"HEAD:{names[count // 2]}").stdout == f"{names[count // 2]}\n".encode()
    assert lane.staged("A") == set()


# --- GITLANE_SESSION_PID: a positive pid of a running process, or a clear error ------------------

def _gone_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("raw, problem", [
    ("abc", "it is not a positive process id"),
    ("0", "it is not a positive process id"),
    ("-5", "it is not a positive process id"),
    (" 12", "it is not a positive process id"),
    ("١٢", "it is not a positive process id"),          # Unicode digits are not a pid
    ("gone", "no process with that id is running"),
])
@pytest.mark.parametrize("args", [["status"], ["add", "a1"], ["commit", "-q", "-m", "x"], ["lane", "status"]])
def test_invalid_owner_pid_is_a_clear_error_and_changes_nothing(pair, raw: str, problem: str, args: list[str]) -> None:
    lane, a, b = pair
    res = run_in(lane, "A", a, "add", "README")            # A exists, owned by a live process
    assert res.returncode == 0, res.stderr.decode()
    lane.write("a1", "one\n")
    pid = str(_gone_pid()) if raw == "gone" else raw
    state = lane.path / ".git" / "gitlane"
    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file() and "state.db" not in p.name}
    for session in ("A", "NEW"):
        res = run_in(lane, session, a, *args, GITLANE_SESSION_PID=pid)
        err = res.stderr.decode()
        assert (res.returncode, res.stdout) == (2, b""), err
        assert err == (f"gitlane: invalid GITLANE_SESSION_PID '{pid}': {problem}\n"
                       "hint: set it to the pid of the process that owns the session (a shell: $$), "
                       "or unset it to let gitlane find the owner; nothing was changed\n")
    assert {p: p.read_bytes() for p in state.rglob("*") if p.is_file() and "state.db" not in p.name} == before
    assert not (state / "sessions" / "NEW").exists()
    assert lane.plain("log", "--format=%s").stdout == b"init\n"


# --- a state or session folder that is a symlink is never written through -------------------------

@pytest.mark.parametrize("where", ["session", "sessions-root", "state"])
def test_symlinked_state_folder_is_refused_and_never_written_through(pair, where: str, tmp_path: Path) -> None:
    lane, a, b = pair
    outside = tmp_path / "outside"
    outside.mkdir()
    state = lane.path / ".git" / "gitlane"
    if where == "state":
        link = state
    else:
        assert run_in(lane, "A", a, "status").returncode == 0
        link = state / "sessions" / "evil" if where == "session" else state / "sessions"
        if where == "sessions-root":
            (state / "sessions").rename(outside / "moved")
    link.symlink_to(outside)
    lane.write("e", "e\n")
    for args in (["add", "e"], ["status"], ["commit", "-q", "-m", "x"], ["lane", "reserve", "e"]):
        res = run_in(lane, "evil", a, *args)
        err = res.stderr.decode()
        assert res.returncode == 1, err
        assert err == (f"gitlane: refusing to use {link}: it is a symlink or not a folder, and gitlane state "
                       "must stay inside the repository\n"
                       f"hint: remove it (`rm {link}`, the link only) or move it aside; nothing was changed\n"), err
    assert sorted(p.name for p in outside.iterdir()) == ([] if where != "sessions-root" else ["moved"])
    if where == "session":
        out = gitlane(lane, "doctor").stdout.decode()
        assert f"ERROR {link} is a symlink or not a folder: gitlane never writes through it\n" in out, out
        out = gitlane(lane, "doctor", "--fix").stdout.decode()
        assert not link.is_symlink() and list(outside.iterdir()) == [], out
        assert run_in(lane, "evil", a, "add", "e").returncode == 0
        assert (state / "sessions" / "evil").is_dir() and not (state / "sessions" / "evil").is_symlink()


# --- a reservation glob built to backtrack --------------------------------------------------------

def test_backtracking_reservation_pattern_cannot_stall_peers(pair) -> None:
    lane, a, b = pair
    pattern = "*a" * 25 + "b"
    res = run_in(lane, "A", a, "lane", "reserve", "--", pattern)
    assert res.returncode == 2, res.stderr.decode()
    assert res.stderr.decode().startswith(f"gitlane: invalid reservation pattern '{pattern}': it has 25 '*' "
                                          "in one path component (at most 2): such a glob takes too long to match\n")
    assert run_in(lane, "A", a, "lane", "reserve", "docs/*").returncode == 0
    # As an older gitlane could have stored it: it must not stall anyone either.
    conn = sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db")
    with conn:
        conn.execute("UPDATE reservations SET pattern = ? WHERE session = 'A'", (pattern,))
    conn.close()
    victim = "a" * 60
    lane.write(victim, "x\n")
    res = run_in(lane, "B", b, "add", victim)                # RUN_TIMEOUT bounds it; it used to hang
    assert res.returncode == 0, res.stderr.decode()
    res = gitlane(lane, "who", victim)
    assert res.returncode == 0 and f"{victim}: staged by session B" in res.stdout.decode()
    assert lane.staged("B") == {victim}
