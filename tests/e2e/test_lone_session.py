"""Alone, a session is plain git: with no other live session, what a user sees
(refs, `log --all`, `fsck`, refusals) is what the real git shows, and staged
work still survives `gc --prune=now`."""
from __future__ import annotations

import os
import subprocess

from gitlane.testing.lane import Lane, real_git
from gitlane.testing.processes import run_in, stage


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")}


def views(lane: Lane, session: str | None, pid: int) -> list[bytes]:
    out = []
    for args in (("for-each-ref",), ("log", "--all", "--format=%H %an"), ("fsck", "--no-progress"),
                 ("cat-file", "--batch-all-objects", "--batch-check")):
        res = run_in(lane, session, pid, *args) if session else \
            subprocess.run([real_git(), *args], cwd=lane.path, env=plain_env(), capture_output=True)
        assert res.returncode == 0, res.stderr.decode()
        out.append(res.stdout + res.stderr)
    return out


def test_alone_staging_shows_nothing_extra_and_survives_gc(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    lane.write("a1", "staged by A\n")
    plain = subprocess.run([real_git(), "add", "a1"], cwd=lane.path, env=plain_env(), check=True)
    assert plain.returncode == 0
    expected = views(lane, None, pid)                      # plain git with a1 staged in .git/index
    lane.plain("rm", "-q", "--cached", "a1")
    stage(lane, "A", pid, {"a1": "staged by A\n"})
    assert views(lane, "A", pid) == expected
    blob = lane.plain("hash-object", "a1").stdout.decode().strip()
    lane.write("a1", "changed on disk\n")
    for where in ("session", "outside"):                  # through the shim, in the session and without one
        if where == "session":
            res = run_in(lane, "A", pid, "gc", "--prune=now", "-q")
        else:
            res = subprocess.run([str(lane_shim()), "gc", "--prune=now", "-q"], cwd=lane.path,
                                 env=plain_env(), capture_output=True)
        assert res.returncode == 0, res.stderr.decode()
        assert lane.plain("cat-file", "-t", blob).stdout == b"blob\n", where
        assert lane.plain("for-each-ref", "refs/gitlane").stdout == b""
    res = run_in(lane, "A", pid, "commit", "-q", "-m", "A")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files()["a1"] == "staged by A\n"
    lane.fsck()


def lane_shim():  # type: ignore[no-untyped-def]
    from gitlane.testing.lane import SHIM
    return SHIM / "git"


def test_a_new_peer_snapshots_what_a_lone_session_staged(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    a, b = owner_proc().pid, owner_proc().pid
    stage(lane, "A", a, {"a1": "staged while alone\n"})
    assert lane.plain("for-each-ref", "refs/gitlane").stdout == b""
    assert run_in(lane, "B", b, "status").returncode == 0   # B appears: A's work now needs a ref
    blob = lane.plain("hash-object", "--stdin", input=b"staged while alone\n").stdout.decode().strip()
    lane.write("a1", "changed on disk\n")
    subprocess.run([real_git(), "gc", "--prune=now", "-q"], cwd=lane.path, env=plain_env(), check=True)
    assert lane.plain("cat-file", "-t", blob).stdout == b"blob\n"


def test_alone_amend_and_plain_gits_merge_state_are_allowed(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    res = run_in(lane, "A", pid, "commit", "-q", "--amend", "-m", "amended, made before the session")
    assert res.returncode == 0, res.stderr.decode()
    (lane.path / ".git" / "MERGE_HEAD").write_text(lane.head() + "\n")   # left by plain git
    res = run_in(lane, "A", pid, "checkout", "-q", "-b", "topic")
    assert res.returncode == 0, res.stderr.decode()


def test_clone_in_a_session_leaves_the_session_index_alone(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    assert run_in(lane, "A", pid, "status").returncode == 0
    before = lane.session_index("A").read_bytes()
    res = run_in(lane, "A", pid, "clone", "-q", ".", "inner")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.session_index("A").read_bytes() == before
    assert (lane.path / "inner" / "README").exists()
    res = run_in(lane, "A", pid, "status", "--porcelain")
    assert res.returncode == 0 and res.stdout == b"?? inner/\n", res.stderr.decode()


def test_unborn_branch_session_index_has_no_missing_tree(tmp_path, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """An empty session index must not name the empty tree in a cache-tree (it
    is not in the repository): fsck would report it missing, and an
    `--allow-empty` root commit would point at it."""
    repo = tmp_path / "unborn"
    subprocess.run([real_git(), "init", "-q", str(repo)], check=True, env=plain_env())
    lane, pid = Lane(repo), owner_proc().pid
    res = run_in(lane, "A", pid, "fsck", "--no-progress")
    assert res.returncode == 0 and b"missing" not in res.stdout + res.stderr, res.stdout + res.stderr
    res = run_in(lane, "A", pid, "commit", "-q", "--allow-empty", "-m", "root")
    assert res.returncode == 0, res.stderr.decode()
    lane.fsck()


def test_a_read_with_an_unreadable_head_gets_gits_own_error(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    assert run_in(lane, "A", pid, "status").returncode == 0
    head = lane.path / ".git" / "HEAD"
    saved = head.read_text()
    head.write_text("0" * 40 + "\n")
    try:
        res = run_in(lane, "A", pid, "fsck", "--no-progress", GIT_DIR=".git")
        assert b"gitlane:" not in res.stderr and b"HEAD" in res.stderr, res.stderr
        assert res.returncode != 0
    finally:
        head.write_text(saved)


def test_reset_patch_keeps_what_its_apply_child_wrote(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """`reset -p` rewrites the index twice (its `apply --cached` child, then
    itself); the second file may reuse the first's inode: still a new version."""
    pid = owner_proc().pid
    for n in range(3):                       # inode reuse is likely, not certain: try a few times
        stage(lane, "A", pid, {"a1": f"staged {n}\n", "b1": f"also {n}\n"})
        res = subprocess.run([str(lane_shim()), "reset", "-p"], cwd=lane.path, input=b"y\nn\n",
                             capture_output=True, env={**os.environ, **_session_env("A", pid)})
        assert res.returncode == 0, res.stderr.decode()
        assert lane.staged("A") == {"b1"}, (n, res.stdout.decode())
        assert run_in(lane, "A", pid, "reset", "-q").returncode == 0


def _session_env(session: str, pid: int) -> dict[str, str]:
    from gitlane.testing.processes import lane_env
    return lane_env(session, pid)


def test_worktree_add_in_a_session_checks_out_into_the_new_worktree(lane: Lane, owner_proc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    assert run_in(lane, "A", pid, "status").returncode == 0
    before = lane.session_index("A").read_bytes()
    res = run_in(lane, "A", pid, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "topic")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.session_index("A").read_bytes() == before
    assert (lane.path / ".git" / "worktrees" / "wt" / "index").is_file()
    res = subprocess.run([real_git(), "status", "--porcelain"], cwd=tmp_path / "wt", capture_output=True,
                         env=plain_env())
    assert res.stdout == b"", res.stdout


def test_gc_in_a_session_keeps_what_a_person_staged_in_git_index(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """In a session the session index replaces .git/index in git's walk: what
    .git/index alone stages must survive the session's gc --prune=now too."""
    pid = owner_proc().pid
    assert run_in(lane, "A", pid, "status").returncode == 0
    lane.write("p1", "a person's staged work\n")
    subprocess.run([real_git(), "add", "p1"], cwd=lane.path, env=plain_env(), check=True)
    blob = lane.plain("hash-object", "p1").stdout.decode().strip()
    lane.write("p1", "changed on disk\n")
    res = run_in(lane, "A", pid, "gc", "--prune=now", "-q")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.plain("cat-file", "-t", blob).stdout == b"blob\n"
    assert lane.plain("for-each-ref", "refs/gitlane").stdout == b""


def test_an_emptied_session_index_writes_no_empty_tree(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """t1450-fsck #9 then #10: HEAD briefly names an unborn branch, so A's
    index follows it to the empty tree; a session appearing next snapshots
    A's folder. Plain git never writes the empty tree object here, and fsck
    would then report it dangling."""
    a, b = owner_proc().pid, owner_proc().pid
    assert run_in(lane, "A", a, "status").returncode == 0
    head_file = lane.path / ".git" / "HEAD"
    saved = head_file.read_text()
    head_file.write_text("ref: refs/funny/place\n")
    assert run_in(lane, "A", a, "status").returncode == 0
    head_file.write_text(saved)
    assert run_in(lane, "B", b, "status").returncode == 0
    empty = lane.path / ".git" / "objects" / "4b" / "825dc642cb6eb9a060e54bf8d69288fbee4904"
    assert not empty.exists()
    assert b"dangling" not in lane.plain("fsck", "--no-progress").stdout


def test_a_commit_from_the_users_own_index_leaves_the_session_index_as_git_does(
        lane: Lane, owner_proc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """t7500 #14-#16: `GIT_INDEX_FILE=other git commit` moves HEAD and plain
    git's current index keeps its entries (now differing from HEAD); the lone
    session index must not be rebased onto that HEAD."""
    import shutil
    pid = owner_proc().pid
    assert run_in(lane, "A", pid, "status").returncode == 0
    twin = tmp_path / "twin"
    shutil.copytree(lane.path, twin, symlinks=True)
    lane.write("file", "some new content\n")
    (twin / "file").write_text("some new content\n")
    steps = (("add", "file"), ("commit", "-q", "-m", "commit using another index"))
    for args in steps:
        res = run_in(lane, "A", pid, *args, GIT_INDEX_FILE=".git/another_index")
        assert res.returncode == 0, res.stderr.decode()
        subprocess.run([real_git(), *args], cwd=twin, check=True,
                       env={**plain_env(), "GIT_INDEX_FILE": ".git/another_index"})
    for args in (("status", "--porcelain"), ("ls-files", "-s")):
        res = run_in(lane, "A", pid, *args)
        assert res.returncode == 0, res.stderr.decode()
        assert res.stdout == subprocess.run([real_git(), *args], cwd=twin, env=plain_env(),
                                            capture_output=True, check=True).stdout, args


# --- a new session and what .git/index stages (docs/DESIGN.md, "Session index") -------------

def test_a_new_lone_session_takes_what_plain_git_staged(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """Plain git would commit what was staged before the session's first
    command: alone, so does the session (and claims it)."""
    pid = owner_proc().pid
    lane.write("b.txt", "staged without a session\n")
    lane.plain("add", "b.txt")
    assert run_in(lane, "A", pid, "status", "--short").stdout == b"A  b.txt\n"
    res = run_in(lane, "A", pid, "commit", "-q", "-m", "what plain git staged")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files()["b.txt"] == "staged without a session\n"
    assert lane.plain("status", "--short").stdout == b""       # .git/index followed the commit
    lane.fsck()


def test_a_lone_session_takes_plain_gits_conflicted_merge(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    pid = owner_proc().pid
    lane.write("a.txt", "base\n")
    lane.plain("add", "a.txt")
    lane.plain("commit", "-q", "-m", "base")
    lane.plain("checkout", "-q", "-b", "topic")
    lane.write("a.txt", "topic\n")
    lane.write("t.txt", "only on topic\n")
    lane.plain("add", "a.txt", "t.txt")
    lane.plain("commit", "-q", "-m", "topic")
    lane.plain("checkout", "-q", "-")
    lane.write("a.txt", "main\n")
    lane.plain("commit", "-q", "-am", "main")
    assert lane.plain("merge", "topic", check=False).returncode == 1       # a.txt conflicts, t.txt staged
    assert run_in(lane, "A", pid, "ls-files", "-u").stdout.count(b"\ta.txt\n") == 3
    lane.write("a.txt", "resolved\n")
    assert run_in(lane, "A", pid, "add", "a.txt").returncode == 0
    res = run_in(lane, "A", pid, "commit", "-q", "--no-edit")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files() == {**lane.tree_files("HEAD~1"), "a.txt": "resolved\n", "t.txt": "only on topic\n"}
    assert len(lane.out("rev-list", "--parents", "-1", "HEAD").split()) == 3
    lane.fsck()


def test_with_a_live_peer_a_new_session_takes_nothing_plain_git_staged(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """Staged without a session while a peer is live: nobody's (principle 1)."""
    a, b = owner_proc().pid, owner_proc().pid
    assert run_in(lane, "B", b, "status").returncode == 0
    lane.write("b.txt", "staged without a session\n")
    lane.plain("add", "b.txt")
    assert run_in(lane, "A", a, "diff", "--cached", "--name-only").stdout == b""
    assert lane.plain("diff", "--cached", "--name-only").stdout == b"b.txt\n"   # still staged there


def test_a_new_session_never_adopts_a_commit_dot_git_index_has_yet_to_follow(  # type: ignore[no-untyped-def]
        lane: Lane, owner_proc, tmp_path) -> None:
    """.git/index behind a session commit it must still follow (a pending
    sync): taking its difference from HEAD would stage that commit's undoing."""
    from gitlane.git.verbs import Git
    from gitlane.shared import main_index
    from gitlane.testing.inproc import commit_aside, commit_plain, repo_at
    pid = owner_proc().pid
    commit_plain(lane, "base", a="a v1\n")
    (lane.path / ".git" / "gitlane").mkdir(exist_ok=True)
    old, new = commit_aside(lane, tmp_path, "session", {"a": "a v2\n"})
    git = Git(real_git(), repo_at(lane.path), os.environ)
    main_index.record(git, old, new)
    held = lane.path / ".git" / "index.lock"
    held.write_bytes(b"")                          # a live git holds .git/index: the sync stays pending
    with subprocess.Popen([real_git(), "hash-object", "--stdin"], cwd=lane.path, stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL) as live:
        try:
            staged = run_in(lane, "A", pid, "diff", "--cached", "--name-only")
        finally:
            live.communicate(b"")
            held.unlink()
    assert staged.returncode == 0, staged.stderr.decode()
    assert staged.stdout == b""
    res = run_in(lane, "A", pid, "commit", "-q", "--allow-empty", "-m", "A")
    assert res.returncode == 0, res.stderr.decode()
    assert lane.tree_files()["a"] == "a v2\n"
