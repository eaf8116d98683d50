"""git.repo: find the repository the way git does, without a spawn. Every
layout is built with the real git and the answer compared with `git
rev-parse --absolute-git-dir --git-common-dir --show-toplevel` run in the same
place; layouts we pass through (bare, inside .git, GIT_COMMON_DIR) must
return None."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitlane.git import args as gitargs
from gitlane.git import repo as gitrepo
from gitlane.testing.lane import Lane, real_git


def found(cwd: Path, argv: list[str] = (), env: dict[str, str] | None = None) -> gitrepo.Repo | None:  # type: ignore[assignment]
    inv = gitargs.split([*argv, "status"])
    return gitrepo.discover(inv, {**os.environ, **(env or {})}, str(cwd))


def agree(cwd: Path, argv: list[str] = (), env: dict[str, str] | None = None) -> gitrepo.Repo:  # type: ignore[assignment]
    """discover() finds what git finds from cwd with these options."""
    r = found(cwd, argv, env)
    assert r is not None
    out = subprocess.run([real_git(), *argv, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir",
                          "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, check=True).stdout.split("\n")
    assert [os.path.realpath(p) for p in (r.git_dir, r.common_dir, r.top)] == [os.path.realpath(p) for p in out[:3]]
    return r


def test_a_plain_repository_from_its_top_and_below(lane: Lane) -> None:
    (lane.path / "a" / "b").mkdir(parents=True)
    r = agree(lane.path)
    assert r.cwd == str(lane.path) and r.worktree_id == ""
    r = agree(lane.path / "a" / "b")
    assert r.cwd == str(lane.path / "a" / "b")
    assert r.top_rel("c.txt") == b"a/b/c.txt" and r.top_rel("../../x") == b"x" and r.top_rel(".") == b"a/b"


def test_from_outside_the_work_tree_paths_are_relative_to_its_top(lane: Lane, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`git --git-dir=repo/.git --work-tree=repo rm somefile` from repo's parent:
    git has no prefix there, so `somefile` is repo/somefile."""
    from gitlane.git import args as gitargs
    from gitlane.git.repo import discover
    split = gitargs.split([f"--git-dir={lane.path}/.git", f"--work-tree={lane.path}", "rm", "README"])
    r = discover(split, {}, str(lane.path.parent))
    assert r is not None and r.top_rel("README") == b"README" and r.top_rel("d/x") == b"d/x"


def test_dash_c_accumulates(lane: Lane) -> None:
    (lane.path / "a" / "b").mkdir(parents=True)
    r = agree(lane.path, ["-C", "a", "-C", "b"])
    assert r.cwd == str(lane.path / "a" / "b")


def test_git_dir_and_work_tree(lane: Lane, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    gd = str(lane.path / ".git")
    r = agree(elsewhere, ["--git-dir", gd, "--work-tree", str(lane.path)])
    assert r.top == str(lane.path)
    r = agree(elsewhere, env={"GIT_DIR": gd, "GIT_WORK_TREE": str(lane.path)})
    assert r.top == str(lane.path)
    # no work tree: the cwd is the top (docs/DESIGN.md, "Verified git facts")
    r = agree(elsewhere, env={"GIT_DIR": gd})
    assert r.top == str(elsewhere)
    assert found(elsewhere, ["--git-dir", str(elsewhere)]) is None    # not a git dir


def test_a_linked_worktree(lane: Lane, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    lane.plain("worktree", "add", "-q", str(wt))
    r = agree(wt)
    assert r.worktree_id == "wt" and r.common_dir == str(lane.path / ".git")
    assert r.sessions_root() == str(lane.path / ".git" / "gitlane" / "worktrees" / "wt" / "sessions")
    assert r.head() == lane.head() and r.head_ref() == "refs/heads/wt"


def test_a_submodule_style_gitfile(lane: Lane, tmp_path: Path) -> None:
    real_dir = tmp_path / "modules" / "sub"
    real_dir.parent.mkdir()
    sub = tmp_path / "sub"
    subprocess.run([real_git(), "init", "-q", "--separate-git-dir", str(real_dir), str(sub)], check=True)
    r = agree(sub)
    assert r.git_dir == str(real_dir) and r.worktree_id == ""


@pytest.mark.parametrize("case", ["bare", "inside-.git", "common-dir-env", "bare-flag", "ceiling", "core-bare"])
def test_what_we_pass_through(lane: Lane, tmp_path: Path, case: str) -> None:
    if case == "bare":
        bare = tmp_path / "bare.git"
        subprocess.run([real_git(), "init", "-q", "--bare", str(bare)], check=True)
        assert found(bare) is None
    elif case == "inside-.git":
        assert found(lane.path / ".git") is None and found(lane.path / ".git" / "refs") is None
    elif case == "common-dir-env":
        assert found(lane.path, env={"GIT_COMMON_DIR": str(lane.path / ".git")}) is None
    elif case == "bare-flag":
        assert found(lane.path, ["--bare"]) is None
    elif case == "ceiling":
        (lane.path / "sub").mkdir()
        assert found(lane.path / "sub", env={"GIT_CEILING_DIRECTORIES": str(lane.path)}) is None
        res = subprocess.run([real_git(), "rev-parse", "--git-dir"], cwd=lane.path / "sub", capture_output=True,
                             env={**os.environ, "GIT_CEILING_DIRECTORIES": str(lane.path)})
        assert res.returncode == 128                      # git does not find it either
    else:
        lane.plain("config", "core.bare", "true")
        assert found(lane.path) is None


def test_a_worktree_of_a_bare_repository_is_not_bare(tmp_path: Path) -> None:
    """git ignores the common config's core.bare in a linked worktree."""
    bare = tmp_path / "bare.git"
    seed = Lane(tmp_path / "seed")
    (tmp_path / "seed").mkdir()
    seed.plain("init", "-q")
    seed.write("f", "x\n")
    seed.plain("add", "f")
    seed.plain("commit", "-q", "-m", "x")
    subprocess.run([real_git(), "clone", "-q", "--bare", str(tmp_path / "seed"), str(bare)], check=True)
    wt = tmp_path / "wt"
    subprocess.run([real_git(), "-C", str(bare), "worktree", "add", "-q", str(wt)], check=True)
    r = agree(wt)
    assert r.worktree_id == "wt"


def test_a_broken_gitfile_is_no_repository(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / ".git").write_text("gitdir: ../nowhere\n")
    assert found(d) is None
    (d / ".git").write_text("not a gitfile\n")
    assert found(d) is None


# --- refs ---------------------------------------------------------------------------------

@pytest.fixture
def repo(lane: Lane) -> gitrepo.Repo:
    r = found(lane.path)
    assert r is not None
    return r


def test_head_through_loose_packed_and_symbolic_refs(lane: Lane, repo: gitrepo.Repo) -> None:
    head = lane.head()
    assert repo.head() == head and repo.head_ref() == "refs/heads/main"
    lane.plain("pack-refs", "--all")
    assert repo.head() == head
    lane.plain("symbolic-ref", "refs/heads/alias", "refs/heads/main")
    lane.plain("symbolic-ref", "HEAD", "refs/heads/alias")
    assert repo.head() == head and repo.head_ref() == "refs/heads/alias"
    lane.plain("checkout", "-q", "--detach", "main")
    assert repo.head() == head and repo.head_ref() is None


def test_head_of_an_unborn_branch_is_none(empty_lane: Lane) -> None:
    r = found(empty_lane.path)
    assert r is not None and r.head() is None and r.head_ref() == "refs/heads/main"


def test_a_symbolic_loop_resolves_to_nothing(lane: Lane, repo: gitrepo.Repo) -> None:
    heads = lane.path / ".git" / "refs" / "heads"
    (heads / "x").write_text("ref: refs/heads/y\n")
    (heads / "y").write_text("ref: refs/heads/x\n")
    assert gitrepo.resolve_ref(repo, "refs/heads/x") is None
    (heads / "z").write_text("not an id\n")
    assert gitrepo.resolve_ref(repo, "refs/heads/z") is None


def test_per_worktree_refs_are_read_from_the_worktree(lane: Lane, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    lane.plain("worktree", "add", "-q", str(wt))
    lane.plain("-C", str(wt), "update-ref", "refs/bisect/bad", "HEAD")
    r = found(wt)
    assert r is not None
    assert gitrepo.resolve_ref(r, "refs/bisect/bad") == lane.head()
    main = found(lane.path)
    assert main is not None and gitrepo.resolve_ref(main, "refs/bisect/bad") is None


def test_empty_tree_and_config(lane: Lane, repo: gitrepo.Repo, tmp_path: Path) -> None:
    assert repo.empty_tree() == gitrepo.EMPTY_TREE["sha1"]
    assert repo.config("core")["bare"] == "false"
    r256 = tmp_path / "r256"
    subprocess.run([real_git(), "init", "-q", "--object-format=sha256", str(r256)], check=True)
    r = found(r256)
    assert r is not None and r.empty_tree() == gitrepo.EMPTY_TREE["sha256"]
    empty = subprocess.run([real_git(), "hash-object", "-t", "tree", "--stdin"], cwd=r256, input=b"",
                           capture_output=True, check=True).stdout.decode().strip()
    assert r.empty_tree() == empty


def test_is_git_dir(lane: Lane, tmp_path: Path) -> None:
    assert gitrepo.is_git_dir(str(lane.path / ".git"))
    assert not gitrepo.is_git_dir(str(lane.path))
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "HEAD").write_text("ref: refs/heads/main\n")
    assert not gitrepo.is_git_dir(str(tmp_path / "fake"))
    (tmp_path / "fake" / "commondir").write_text("../x\n")
    assert gitrepo.is_git_dir(str(tmp_path / "fake"))
