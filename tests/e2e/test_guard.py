"""The guard and view isolation end to end (docs/DESIGN.md, "Guard" and "View
isolation"): two live sessions, A and B, in one work tree, every command through the shim. After each scenario B's
work is checked byte for byte: its files on disk and its index entries.

B's work: P staged ("B staged P"), then edited again without staging (an
unstaged edit on top of a claim), and a new file N staged (untracked in A's
view). A's own work: an unstaged edit to Q.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git, shim_env

P_STAGED = b"B staged P\n"
P_DISK = b"B unstaged edit of P\n"
N_DISK = b"B's new file N\n"
Q_EDIT = b"A's edit of Q\n"
FORCE = {"GITLANE_FORCE": "1"}
ROOT_VENV = SHIM.parent / ".venv" / "bin"     # pre-commit comes with the test extra


class Duo:
    """Two live sessions, A and B, over one repository."""

    def __init__(self, lane: Lane, a_pid: int, b_pid: int) -> None:
        self.lane = lane
        self.a_pid = a_pid
        self.b_pid = b_pid
        self.b_before: dict[str, bytes] = {}

    def a(self, *args: str, check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.lane.git(*args, session="A", pid=self.a_pid, check=check, env=env)

    def b(self, *args: str, check: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return self.lane.git(*args, session="B", pid=self.b_pid, check=check, env=env)

    def disk(self, rel: str) -> bytes | None:
        p = self.lane.path / rel
        return p.read_bytes() if p.exists() else None

    def b_index(self) -> bytes:
        """B's index entries for its paths, read with the real git (nothing
        in the shim can repair what it shows)."""
        return self.lane.plain("ls-files", "-s", "-z", "--", "P", "N",
                               index=str(self.lane.session_index("B"))).stdout

    def b_work(self) -> dict[str, bytes | None]:
        return {"disk P": self.disk("P"), "disk N": self.disk("N"), "index": self.b_index()}

    def b_blob(self, path: str) -> bytes:
        return self.lane.plain("show", f":{path}", index=str(self.lane.session_index("B"))).stdout

    def assert_b_intact(self) -> None:
        assert self.b_work() == self.b_before
        assert self.b_blob("P") == P_STAGED and self.b_blob("N") == N_DISK
        assert self.lane.staged("B") == {"P", "N"}

    def a_skip_worktree(self) -> set[str]:
        out = self.lane.plain("ls-files", "-v", "-z", index=str(self.lane.session_index("A"))).stdout
        return {rec[2:].decode() for rec in out.split(b"\0") if rec[:1] == b"S"}

    def log(self, event: str | None = None) -> list[dict]:
        args = [str(SHIM / "gitlane"), "log", "--json", "-n", "500"] + (["--event", event] if event else [])
        res = subprocess.run(args, cwd=self.lane.path, capture_output=True, env=shim_env())
        assert res.returncode == 0, res.stderr.decode()
        return json.loads(res.stdout)


def _commit_plain(lane: Lane, msg: str, **files: str) -> str:
    for rel, text in files.items():
        lane.write(rel, text)
        lane.plain("add", rel)
    lane.plain("commit", "-q", "-m", msg)
    return lane.head()


@pytest.fixture
def duo(lane: Lane, owner_proc) -> Duo:
    lane.write("dir/x", "x v1\n")
    lane.plain("add", "dir/x")
    _commit_plain(lane, "base", P="P v1\n", Q="Q v1\n", R="R v1\n", S="S v1\n")
    base = lane.head()
    # side branches from base, made before anyone starts working
    lane.plain("checkout", "-q", "-b", "side-p")
    _commit_plain(lane, "side changes P", P="P from side\n")
    lane.plain("checkout", "-q", "-b", "side-s", base)
    _commit_plain(lane, "side changes S", S="S from side\n")
    lane.plain("checkout", "-q", "main")
    _commit_plain(lane, "main changes R", R="R v2\n")
    duo = Duo(lane, owner_proc().pid, owner_proc().pid)
    (lane.path / "P").write_bytes(P_STAGED)
    (lane.path / "N").write_bytes(N_DISK)
    duo.b("add", "P", "N", check=True)
    (lane.path / "P").write_bytes(P_DISK)
    duo.a("status", check=True)          # A's index exists and is isolated
    assert duo.a_skip_worktree() == {"P"}
    duo.b_before = duo.b_work()
    duo.assert_b_intact()
    return duo


def _refused(res: subprocess.CompletedProcess, first_line: str, *more: str) -> str:
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert res.stdout == b""
    assert err.splitlines()[0] == first_line, err
    for text in more:
        assert text in err, err
    assert "hint: " in err and "GITLANE_FORCE=1 overrides for one command (audited)" in err, err
    return err


def _owned_line(cmd: str) -> str:
    return f"gitlane: refusing `git {cmd}`: it would touch paths other live sessions own:"


def _stash_line(sub: str = "push") -> str:
    return (f"gitlane: refusing `git stash {sub}`: it takes the whole work tree, including the "
            "uncommitted work of other live sessions: B (pid {pid})")


def _switch_line(cmd: str) -> str:
    return (f"gitlane: refusing `git {cmd}`: switching branches or moving HEAD changes the checkout "
            "of every session, and other sessions are live: B")


def _whole_line(what: str) -> str:
    return (f"gitlane: refusing `git {what}`: it rewrites the whole work tree, and other live "
            "sessions have uncommitted work there (B: N, P)")


# --- stash ------------------------------------------------------------------

@pytest.mark.parametrize("args,sub", [([], "push"), (["push"], "push"), (["save", "wip"], "save"),
                                      (["-u"], "push"), (["-a"], "push"), (["push", "--include-untracked"], "push")],
                         ids=["bare", "push", "save", "-u", "-a", "include-untracked"])
def test_stash_whole_tree_refused(duo: Duo, args: list[str], sub: str) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    head = duo.lane.head()
    _refused(duo.a("stash", *args), _stash_line(sub).format(pid=duo.b_pid))
    assert duo.disk("Q") == Q_EDIT and duo.lane.head() == head
    assert duo.lane.plain("rev-parse", "-q", "--verify", "refs/stash", check=False).returncode == 1
    duo.assert_b_intact()


def test_stash_push_own_paths_allowed_then_pop(duo: Duo) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    res = duo.a("stash", "push", "-q", "--", "Q")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.disk("Q") == b"Q v1\n"
    assert duo.lane.plain("diff", "--name-only", "refs/stash^1", "refs/stash").stdout == b"Q\n"
    duo.assert_b_intact()
    assert duo.a("stash", "list").stdout.decode().count("\n") == 1
    res = duo.a("stash", "pop", "-q")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.disk("Q") == Q_EDIT
    duo.assert_b_intact()


def test_stash_push_others_path_refused(duo: Duo) -> None:
    _refused(duo.a("stash", "push", "--", "P"), _owned_line("stash"),
             f"P  owned by session B (pid {duo.b_pid})")
    duo.assert_b_intact()


# --- reset ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["--hard", "--merge", "--keep"])
def test_reset_modes_refused_while_b_has_claims(duo: Duo, mode: str) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    head = duo.lane.head()
    _refused(duo.a("reset", mode, "HEAD"), _whole_line(f"reset {mode}"))
    assert duo.disk("Q") == Q_EDIT and duo.lane.head() == head
    duo.assert_b_intact()


def test_reset_hard_allowed_when_other_session_has_nothing_staged(lane: Lane, owner_proc) -> None:
    a, b = owner_proc().pid, owner_proc().pid
    lane.git("status", session="B", pid=b)              # B is live, but idle
    lane.write("README", "A's edit\n")
    res = lane.git("reset", "-q", "--hard", session="A", pid=a, check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert lane.read("README") == "hello\n"


# --- checkout / restore of paths ---------------------------------------------

@pytest.mark.parametrize("args", [["checkout", "--", "."], ["checkout", "."], ["restore", "."],
                                  ["restore", "--", "P"], ["checkout", "HEAD~1", "--", "P"],
                                  ["restore", "--source=side-p", "P"], ["restore", "--source=HEAD~1", "."]],
                         ids=["checkout--.", "checkout.", "restore.", "restore-P", "checkout-rev-P",
                              "restore-source-P", "restore-source-dot"])
def test_checkout_restore_over_claims_refused(duo: Duo, args: list[str]) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    _refused(duo.a(*args), _owned_line(args[0]), f"P  owned by session B (pid {duo.b_pid})")
    assert duo.disk("Q") == Q_EDIT
    duo.assert_b_intact()


@pytest.mark.parametrize("args,path,want", [
    (["checkout", "--", "Q"], "Q", b"Q v1\n"),
    (["restore", "Q"], "Q", b"Q v1\n"),
    (["checkout", "HEAD~1", "--", "R"], "R", b"R v1\n"),
    (["restore", "--source=side-s", "S"], "S", b"S from side\n"),
], ids=["checkout-Q", "restore-Q", "checkout-rev-R", "restore-source-S"])
def test_checkout_restore_of_own_paths_allowed(duo: Duo, args: list[str], path: str, want: bytes) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    res = duo.a(*args)
    assert res.returncode == 0, res.stderr.decode()
    assert duo.disk(path) == want
    duo.assert_b_intact()


def test_reserved_paths_refused_to_checkout(duo: Duo) -> None:
    res = subprocess.run([str(SHIM / "gitlane"), "reserve", "dir/**"], cwd=duo.lane.path, capture_output=True,
                         env=shim_env("B", duo.b_pid))
    assert res.returncode == 0, res.stderr.decode()
    duo.lane.write("dir/x", "A's edit of x\n")
    _refused(duo.a("checkout", "--", "dir"), _owned_line("checkout"),
             f"dir/x  owned by session B (pid {duo.b_pid})")
    assert duo.lane.read("dir/x") == "A's edit of x\n"
    duo.assert_b_intact()


# --- clean ------------------------------------------------------------------

@pytest.mark.parametrize("flags", ["-fd", "-fdx", "-fx"])
def test_clean_whole_tree_refused_naming_bs_untracked_claim(duo: Duo, flags: str) -> None:
    duo.lane.write("junk.tmp", "junk\n")
    _refused(duo.a("clean", flags), _owned_line("clean"), f"N  owned by session B (pid {duo.b_pid})")
    assert duo.lane.read("junk.tmp") == "junk\n"
    duo.assert_b_intact()


@pytest.mark.parametrize("flags", ["-fd", "-fdx"])
def test_clean_whole_tree_refused_while_b_has_uncommitted_work(lane: Lane, owner_proc, flags: str) -> None:
    """clean would remove only A's junk here, but its whole-tree form is
    refused while B has uncommitted work."""
    a, b = owner_proc().pid, owner_proc().pid
    lane.write("README", "B's edit\n")
    lane.git("add", "README", session="B", pid=b)
    lane.write("junk.tmp", "junk\n")
    res = lane.git("clean", flags, session="A", pid=a, check=False)
    _refused(res, _whole_line(f"clean {flags}").replace("(B: N, P)", "(B: README)"))
    assert lane.read("junk.tmp") == "junk\n" and lane.read("README") == "B's edit\n"
    res = lane.git("clean", "-f", "--", "junk.tmp", session="A", pid=a, check=False)
    assert res.returncode == 0 and not (lane.path / "junk.tmp").exists(), res.stderr.decode()


def test_clean_of_others_untracked_claim_refused(duo: Duo) -> None:
    _refused(duo.a("clean", "-f", "--", "N"), _owned_line("clean"), f"N  owned by session B (pid {duo.b_pid})")
    duo.assert_b_intact()


def test_clean_own_paths_allowed(duo: Duo) -> None:
    duo.lane.write("junk.tmp", "junk\n")
    duo.lane.write("build/out.o", "obj\n")
    res = duo.a("clean", "-fd", "--", "junk.tmp", "build")
    assert res.returncode == 0, res.stderr.decode()
    assert not (duo.lane.path / "junk.tmp").exists() and not (duo.lane.path / "build").exists()
    duo.assert_b_intact()


# --- branch switches ----------------------------------------------------------

@pytest.mark.parametrize("args,branch", [(["switch", "side-s"], "side-s"), (["switch", "-c", "feature"], "feature"),
                                         (["switch", "--detach"], "HEAD"), (["checkout", "side-s"], "side-s"),
                                         (["checkout", "-b", "feature"], "feature"), (["checkout", "--detach"], "HEAD")],
                         ids=["switch", "switch-c", "switch-detach", "checkout-branch", "checkout-b", "checkout-detach"])
def test_switching_moves_only_the_sessions_head_while_b_is_live(duo: Duo, args: list[str], branch: str) -> None:
    """Issue 17: a session's switch moves its own HEAD; B's work and the
    shared HEAD stay as they were."""
    head_ref = duo.lane.plain("symbolic-ref", "HEAD").stdout
    res = duo.a(*args)
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.plain("symbolic-ref", "HEAD").stdout == head_ref
    assert duo.a("rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip() == branch
    assert duo.b("rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip() == "main"
    assert duo.disk("S") == (b"S from side\n" if branch == "side-s" else b"S v1\n")
    duo.assert_b_intact()


def test_switching_to_a_branch_that_changes_bs_path_refused(duo: Duo) -> None:
    res = duo.a("switch", "side-p")
    err = res.stderr.decode()
    assert res.returncode == 1 and err.splitlines()[0] == (
        "gitlane: refusing `git switch`: it would change files other live sessions own:"), err
    assert err.splitlines()[1].startswith("  P  staged by session B (pid "), err
    assert duo.a("rev-parse", "--abbrev-ref", "HEAD").stdout == b"main\n"
    duo.assert_b_intact()


def test_bisect_refused_while_b_is_live(duo: Duo) -> None:
    head_ref = duo.lane.plain("symbolic-ref", "HEAD").stdout
    _refused(duo.a("bisect", "start"), _switch_line("bisect"))
    assert duo.lane.plain("symbolic-ref", "HEAD").stdout == head_ref
    assert not (duo.lane.path / ".git" / "BISECT_LOG").exists()
    duo.assert_b_intact()


def test_branch_without_switch_allowed(duo: Duo) -> None:
    res = duo.a("branch", "feature")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.plain("rev-parse", "feature").stdout.decode().strip() == duo.lane.head()
    duo.assert_b_intact()


def test_switch_allowed_once_b_is_dead(lane: Lane, owner_proc) -> None:
    a, b = owner_proc(), owner_proc()
    lane.write("mine", "B's staged\n")
    lane.git("add", "mine", session="B", pid=b.pid)
    b.kill()
    b.wait()
    res = lane.git("switch", "-c", "feature", session="A", pid=a.pid, check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert lane.plain("symbolic-ref", "HEAD").stdout == b"refs/heads/feature\n"
    assert lane.read("mine") == "B's staged\n"
    assert lane.plain("show", ":mine", index=str(lane.session_index("B"))).stdout == b"B's staged\n"


# --- flags that bypass view isolation ------------------------------------------

@pytest.mark.parametrize("args,first", [
    (["update-index", "--no-skip-worktree", "P"], "refusing `git update-index`"),
    (["rm", "--sparse", "--cached", "P"], "refusing `git rm`"),
    (["add", "--sparse", "P"], "refusing `git add`"),
    (["checkout", "--ignore-skip-worktree-bits", "--", "P"], "refusing `git checkout`"),
    (["mv", "P", "P2"], "refusing to mv 1 path owned by another live session:"),
], ids=["no-skip-worktree", "rm-sparse", "add-sparse", "ignore-skip-worktree-bits", "mv"])
def test_isolation_bypass_refused_on_others_paths(duo: Duo, args: list[str], first: str) -> None:
    res = duo.a(*args)
    err = res.stderr.decode()
    assert res.returncode == 1 and err.startswith("gitlane: " + first), err
    assert "P  " in err and "session B (pid" in err, err
    assert duo.a_skip_worktree() == {"P"}
    assert not (duo.lane.path / "P2").exists()
    duo.assert_b_intact()


@pytest.mark.parametrize("args", [["add", "--sparse", "Q"], ["update-index", "--no-skip-worktree", "Q"],
                                  ["mv", "S", "S2"]], ids=["add-sparse", "no-skip-worktree", "mv"])
def test_isolation_flags_on_own_paths_allowed(duo: Duo, args: list[str]) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    res = duo.a(*args)
    assert res.returncode == 0, res.stderr.decode()
    duo.assert_b_intact()


# --- merge, cherry-pick, revert, rebase ----------------------------------------

@pytest.mark.parametrize("args", [["merge", "--no-edit", "side-p"], ["cherry-pick", "side-p"],
                                  ["revert", "--no-edit", "side-p"], ["rebase", "side-p"]],
                         ids=["merge", "cherry-pick", "revert", "rebase"])
def test_incoming_changes_to_claimed_paths_refused(duo: Duo, args: list[str]) -> None:
    head = duo.lane.head()
    _refused(duo.a(*args), _owned_line(args[0]), f"P  owned by session B (pid {duo.b_pid})")
    assert duo.lane.head() == head
    for marker in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply"):
        assert not (duo.lane.path / ".git" / marker).exists()
    duo.assert_b_intact()


@pytest.mark.parametrize("args,check_path,want", [
    (["merge", "--no-edit", "side-s"], "S", "S from side\n"),
    (["cherry-pick", "side-s"], "S", "S from side\n"),
    (["revert", "--no-edit", "HEAD"], "R", "R v1\n"),
    (["rebase", "-q", "side-s"], "S", "S from side\n"),
], ids=["merge", "cherry-pick", "revert", "rebase"])
def test_incoming_changes_elsewhere_allowed(duo: Duo, args: list[str], check_path: str, want: str) -> None:
    res = duo.a(*args)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    assert duo.lane.tree_files()[check_path] == want
    assert duo.lane.tree_files()["P"] == "P v1\n" and "N" not in duo.lane.tree_files()
    assert duo.lane.read(check_path) == want
    if args[0] == "rebase":
        assert duo.lane.tree_files()["R"] == "R v2\n"
    duo.assert_b_intact()
    # B then commits exactly its own work on top
    res = duo.b("commit", "-q", "-m", "B's work")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.commit_files("HEAD") == {"P", "N"}
    assert duo.lane.tree_files()[check_path] == want


# --- GITLANE_FORCE ---------------------------------------------------------------

def test_force_allows_and_is_audited(duo: Duo) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    assert duo.log("force") == []
    res = duo.a("stash", "-q", env=FORCE)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    reason = _stash_line().format(pid=duo.b_pid)[len("gitlane: "):]
    assert err == f"gitlane: GITLANE_FORCE=1: allowing what gitlane refuses ({reason})\n"
    assert duo.disk("Q") == b"Q v1\n"
    forced = duo.log("force")
    assert len(forced) == 1
    assert (forced[0]["session"], forced[0]["argv"], forced[0]["detail"]) == ("A", "stash -q", reason)
    duo.assert_b_intact()                   # view isolation kept P out of A's stash
    assert duo.lane.plain("diff", "--name-only", "refs/stash^1", "refs/stash").stdout == b"Q\n"


def test_force_other_than_1_does_not_override(duo: Duo) -> None:
    _refused(duo.a("stash", env={"GITLANE_FORCE": "yes"}), _stash_line().format(pid=duo.b_pid))
    assert duo.log("force") == []
    duo.assert_b_intact()


# --- view isolation: git itself keeps A's whole-tree commands off B's work ------
# The guard refuses stash, checkout -- ., restore . and reset --hard;
# GITLANE_FORCE=1 gets past it, so what protects B below is view isolation
# (skip-worktree on P in A's index) alone. `commit -a` through the shim is
# refused by ownership (no override), so it runs the way hooks and scripts
# run git: with GIT_INDEX_FILE already set, which the shim passes straight to
# the real git. Again only isolation protects B. N is untracked in A's view:
# none of these touch it.

@pytest.mark.parametrize("args,forced", [
    (["stash", "-q"], True),
    (["checkout", "--", "."], True),
    (["restore", "."], True),
    (["reset", "-q", "--hard"], True),
    (["commit", "-q", "-a", "-m", "A commits everything"], False),
], ids=["stash", "checkout--.", "restore.", "reset-hard", "commit-a-inside-a-hook"])
def test_view_isolation_protects_b(duo: Duo, args: list[str], forced: bool) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    head = duo.lane.head()
    env = FORCE if forced else {"GIT_INDEX_FILE": str(duo.lane.session_index("A"))}
    res = duo.a(*args, env=env)
    assert res.returncode == 0, res.stderr.decode()
    assert ("GITLANE_FORCE=1: allowing" in res.stderr.decode()) is forced
    duo.assert_b_intact()
    if args[0] == "commit":
        assert duo.lane.commit_files("HEAD") == {"Q"}
        assert duo.lane.tree_files()["Q"] == Q_EDIT.decode()
        assert duo.lane.tree_files()["P"] == "P v1\n"
    else:
        assert duo.lane.head() == head
        assert duo.disk("Q") == b"Q v1\n"
    # and B can still commit exactly its own work
    assert duo.b("commit", "-q", "-m", "B's work").returncode == 0
    assert duo.lane.commit_files("HEAD") == {"P", "N"}
    assert duo.lane.tree_files()["P"] == P_STAGED.decode() and duo.disk("P") == P_DISK


def test_commit_a_through_the_shim_refuses_bs_path(duo: Duo) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    head = duo.lane.head()
    res = duo.a("commit", "-q", "-a", "-m", "A commits everything")
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert err.startswith("gitlane: refusing to commit -a: it would sweep 1 path owned by another live session:\n"
                          f"  P  staged by session B (pid {duo.b_pid}, "), err
    assert duo.lane.head() == head and duo.lane.staged("A") == set()
    duo.assert_b_intact()
    res = duo.a("commit", "-q", "-m", "A commits Q by name", "--", "Q")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.commit_files("HEAD") == {"Q"}
    duo.assert_b_intact()


# --- gc safety --------------------------------------------------------------------

def test_gc_prune_now_keeps_every_sessions_staged_content(duo: Duo) -> None:
    lane = duo.lane
    unique = {"A": b"only in A's index 6f1e2a\n", "B": b"only in B's index 93cd40\n"}
    (lane.path / "fa").write_bytes(unique["A"])
    assert duo.a("add", "fa").returncode == 0
    (lane.path / "fb").write_bytes(unique["B"])
    assert duo.b("add", "fb").returncode == 0
    (lane.path / "fa").write_bytes(b"overwritten\n")
    (lane.path / "fb").write_bytes(b"overwritten\n")
    blobs = {k: lane.plain("hash-object", "--stdin", input=v).stdout.decode().strip() for k, v in unique.items()}
    blobs["P"] = lane.plain("hash-object", "--stdin", input=P_STAGED).stdout.decode().strip()
    reachable = lane.plain("rev-list", "--objects", "--exclude=refs/gitlane/*", "--all").stdout.decode()
    for blob in blobs.values():  # nothing but the session snapshots can keep them
        assert blob not in reachable
    res = subprocess.run([real_git(), "gc", "--prune=now", "-q"], cwd=lane.path, capture_output=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")})
    assert res.returncode == 0, res.stderr.decode()
    assert lane.plain("count-objects").stdout.startswith(b"0 objects")   # loose objects really pruned
    for blob in blobs.values():
        assert lane.plain("cat-file", "-e", blob, check=False).returncode == 0, blob
    lane.fsck()
    assert duo.a("commit", "-q", "-m", "A").returncode == 0
    assert lane.plain("cat-file", "blob", "HEAD:fa").stdout == unique["A"]
    assert duo.b("commit", "-q", "-m", "B").returncode == 0
    assert lane.plain("cat-file", "blob", "HEAD:fb").stdout == unique["B"]
    assert lane.plain("cat-file", "blob", "HEAD:P").stdout == P_STAGED
    assert lane.plain("cat-file", "blob", "HEAD:N").stdout == N_DISK
    lane.fsck()


def test_gc_keeps_restaged_content_and_a_rebased_sessions_work(duo: Duo) -> None:
    lane = duo.lane
    (lane.path / "fa").write_bytes(b"first version\n")
    assert duo.a("add", "fa").returncode == 0
    (lane.path / "fa").write_bytes(b"second version 4b1d\n")
    assert duo.a("add", "fa").returncode == 0
    (lane.path / "fa").write_bytes(b"on disk only\n")
    assert duo.b("status").returncode == 0
    # a commit without a session: both session indexes are now based on an old HEAD
    (lane.path / "fq").write_bytes(b"fq\n")
    lane.plain("add", "fq")
    lane.plain("commit", "-q", "-m", "plain commit", "--", "fq")
    assert lane.plain("gc", "--prune=now", "-q").returncode == 0
    assert duo.a("commit", "-q", "-m", "A").returncode == 0
    assert lane.plain("cat-file", "blob", "HEAD:fa").stdout == b"second version 4b1d\n"
    assert duo.b("commit", "-q", "-m", "B").returncode == 0
    assert lane.commit_files("HEAD") == {"P", "N"}
    assert lane.tree_files()["fq"] == "fq\n" and lane.tree_files()["fa"] == "second version 4b1d\n"
    lane.fsck()


# --- the real pre-commit framework ----------------------------------------------------

def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GITLANE_")}


def _wait_for(path: Path, proc: subprocess.Popen, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"commit ended before the hook ran: {proc.communicate()}")
        assert time.monotonic() < end, f"hook never reached its barrier ({path})"
        time.sleep(0.01)


@pytest.mark.parametrize("claim", ["staged-then-edited", "edit-hook"])
def test_pre_commit_framework_keeps_bs_edit(lane: Lane, owner_proc, tmp_path: Path, claim: str) -> None:
    """A commits Q through the real pre-commit framework (which stashes
    unstaged changes while hooks run, OpenTranscribe#434) while B has an
    unstaged edit to P. P is intact during the hook, and B's rewrite of P
    while the hook runs survives."""
    hook_log, ready, gate = tmp_path / "hook.log", tmp_path / "ready", tmp_path / "gate"
    os.mkfifo(gate)
    script = tmp_path / "hook.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf 'during: ' >> '{hook_log}'; cat P >> '{hook_log}'
        printf 'R during: ' >> '{hook_log}'; cat R >> '{hook_log}'
        : > '{ready}'
        read line < '{gate}'
        printf 'after rewrite: ' >> '{hook_log}'; cat P >> '{hook_log}'
        """))
    script.chmod(0o755)
    lane.write(".pre-commit-config.yaml", textwrap.dedent(f"""\
        repos:
        - repo: local
          hooks:
          - id: log-p
            name: log P and wait
            entry: {script}
            language: system
            pass_filenames: false
            always_run: true
        """))
    _commit_plain(lane, "base", P="P v1\n", Q="Q v1\n", R="R v1\n")
    lane.plain("add", ".pre-commit-config.yaml")
    lane.plain("commit", "-q", "-m", "pre-commit config")
    res = subprocess.run([str(ROOT_VENV / "pre-commit"), "install"], cwd=lane.path, capture_output=True,
                         env=_plain_env())
    assert res.returncode == 0, res.stderr.decode()
    a, b = owner_proc().pid, owner_proc().pid
    if claim == "staged-then-edited":
        lane.write("P", "B staged\n")
        lane.git("add", "P", session="B", pid=b)
    else:  # an agent's Edit tool, recorded by the Claude Code hook
        lane.git("status", session="B", pid=b)
        payload = json.dumps({"session_id": "B", "tool_name": "Edit", "cwd": str(lane.path),
                              "tool_input": {"file_path": "P"}})
        res = subprocess.run([str(SHIM / "gitlane"), "hook", "post-tool-use"], cwd=lane.path, input=payload.encode(),
                             capture_output=True, env=shim_env())
        assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
    lane.write("P", "B's unstaged edit\n")
    lane.write("Q", "A's Q\n")
    lane.git("add", "Q", session="A", pid=a)
    lane.write("R", "A's unstaged R\n")     # so pre-commit really stashes
    proc = subprocess.Popen([str(SHIM / "git"), "commit", "-m", "A commits Q"], cwd=lane.path,
                            env=shim_env("A", a), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(ready, proc)
        assert lane.read("P") == "B's unstaged edit\n"      # intact during the hook
        lane.write("P", "B rewrote P during A's hook\n")
        with open(gate, "w") as g:
            g.write("go\n")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = out.decode() + err.decode()
    assert proc.returncode == 0, text
    assert "Stashing unstaged files" in text and "Passed" in text, text
    assert hook_log.read_text() == ("during: B's unstaged edit\n" "R during: R v1\n"
                                    "after rewrite: B rewrote P during A's hook\n")
    assert lane.read("P") == "B rewrote P during A's hook\n"
    assert lane.read("R") == "A's unstaged R\n"
    assert lane.commit_files("HEAD") == {"Q"}
    assert lane.tree_files()["P"] == "P v1\n"
    if claim == "staged-then-edited":
        assert lane.plain("show", ":P", index=str(lane.session_index("B"))).stdout == b"B staged\n"


# --- bugs ----------------------------------------------------------------------------------

def test_stash_with_message_refused(duo: Duo) -> None:
    res = duo.a("stash", "push", "-u", "-m", "wip")
    _refused(res, _stash_line().format(pid=duo.b_pid))
    duo.assert_b_intact()


def test_others_claimed_untracked_files_are_hidden(duo: Duo) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    assert duo.a("status", "--porcelain").stdout == b" M Q\n"
    res = duo.a("add", ".")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.staged("A") == {"Q"}
    duo.assert_b_intact()


def test_restore_staged_dot_allowed(duo: Duo) -> None:
    (duo.lane.path / "Q").write_bytes(Q_EDIT)
    assert duo.a("add", "Q").returncode == 0
    res = duo.a("restore", "--staged", ".")
    assert res.returncode == 0, res.stderr.decode()
    assert duo.lane.staged("A") == set() and duo.disk("Q") == Q_EDIT
    duo.assert_b_intact()


def test_refusal_lists_each_path_once(duo: Duo) -> None:
    err = _refused(duo.a("checkout", "--", "P"), _owned_line("checkout"))
    assert err.count(f"P  owned by session B (pid {duo.b_pid})") == 1, err
