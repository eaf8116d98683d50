"""git.verbs: every git command gitlane runs for itself, once, on a real
repository: its arguments, its index, its parsing of -z output, and the
environment that keeps the user's own settings out of our calls."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane.errors import GitError
from gitlane.git import verbs
from gitlane.git.verbs import Git
from gitlane.testing.inproc import commit_plain, repo_at
from gitlane.testing.lane import Lane, real_git


@pytest.fixture
def base(lane: Lane) -> str:
    return commit_plain(lane, "base", a="a\n", b="b\n", d__c="c\n")


@pytest.fixture
def idx(lane: Lane, base: str, tmp_path: Path) -> str:
    """A private index on `base`."""
    path = str(tmp_path / "index")
    lane.plain("read-tree", base, index=path)
    return path


def blob(lane: Lane, text: str) -> str:
    return lane.plain("hash-object", "-w", "--stdin", input=text.encode()).stdout.decode().strip()


def test_internal_env_scrubs_what_would_steer_our_calls() -> None:
    env = {"GIT_INDEX_FILE": "/x", "GIT_LITERAL_PATHSPECS": "0", "GIT_GLOB_PATHSPECS": "1",
           "GIT_NOGLOB_PATHSPECS": "1", "GIT_ICASE_PATHSPECS": "1", "GIT_TRACE": "1", "GIT_TRACE2_EVENT": "/t",
           "GIT_TRACE_PACKET": "1", "GIT_TRACE_SETUP": "1", "GIT_REDIRECT_STDERR": "2>&1",
           "GIT_DIR": "/kept", "HOME": "/h"}
    assert verbs.internal_env(env) == {"GIT_DIR": "/kept", "HOME": "/h", "GIT_OPTIONAL_LOCKS": "0",
                                       "GIT_LITERAL_PATHSPECS": "1"}


def test_every_call_names_the_repository_explicitly(git: Git, lane: Lane) -> None:
    top = str(lane.path)
    assert git._argv(["status"]) == [real_git(), "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                                     "-C", top, f"--git-dir={top}/.git", f"--work-tree={top}",
                                     "-c", "core.splitIndex=false", "status"]   # our indexes are never split


def test_our_index_writes_run_no_hook_and_no_fsmonitor(git: Git, lane: Lane, tmp_path: Path) -> None:
    """post-index-change fires on every index write, the fsmonitor hook on every
    refresh: plain git would never have run them for gitlane's own plumbing."""
    ran = tmp_path / "ran"
    for name in ("post-index-change", "fsmonitor"):
        hook = lane.path / ".git" / "hooks" / name
        hook.write_text(f"#!/bin/sh\necho {name} >> '{ran}'\n")
        hook.chmod(0o755)
    lane.plain("config", "core.fsmonitor", str(lane.path / ".git" / "hooks" / "fsmonitor"))
    index = str(tmp_path / "index")
    git.read_tree(index, "HEAD")
    git.run("update-index", "-q", "--refresh", index=index, check=False)
    assert not ran.exists()
    lane.plain("read-tree", "HEAD", index=index)                 # the same write by plain git runs it
    assert "post-index-change" in ran.read_text()


def test_run_raises_git_error_with_what_failed(git: Git) -> None:
    before = git.spawned
    with pytest.raises(GitError) as exc:
        git.run("rev-parse", "--verify", "no-such-ref")
    assert exc.value.rc == 128 and exc.value.args_ == ("rev-parse", "--verify", "no-such-ref")
    assert "Needed a single revision" in exc.value.stderr
    assert exc.value.what.startswith("git rev-parse --verify no-such-ref failed (exit 128): fatal:")
    assert git.run("rev-parse", "--verify", "no-such-ref", check=False).rc == 128
    assert git.spawned == before + 2


def test_a_trace_variable_of_the_user_never_reaches_our_calls(lane: Lane, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    Git(real_git(), repo_at(lane.path), os.environ).run("rev-parse", "HEAD")
    assert not trace.exists()


def test_write_tree_and_read_tree(git: Git, lane: Lane, idx: str, base: str, tmp_path: Path) -> None:
    tree = lane.plain("rev-parse", f"{base}^{{tree}}").stdout.decode().strip()
    assert git.write_tree(idx) == tree
    other = str(tmp_path / "other")
    git.read_tree(other, tree)
    assert git.write_tree(other) == tree
    git.read_tree(other, "--empty")
    assert git.write_tree(other) == git.repo.empty_tree()
    with pytest.raises(GitError):
        git.read_tree(other, "no-such-tree")


def test_index_matches_start(git: Git, lane: Lane, idx: str, base: str) -> None:
    assert git.index_matches_start(idx, base).wait() == 0
    lane.write("a", "changed\n")
    lane.plain("add", "a", index=idx)
    assert git.index_matches_start(idx, base).wait() == 1


def test_unmerged_and_write_tree_of_an_unmerged_index(git: Git, lane: Lane, idx: str) -> None:
    assert git.unmerged(idx) == []
    b = blob(lane, "x\n")
    lane.plain("update-index", "--index-info", index=idx,
               input=f"0 {'0' * 40}\ta\n100644 {b} 1\ta\n100644 {b} 2\ta\n100644 {b} 3\ta\n".encode())
    assert git.unmerged(idx) == [b"a"]
    assert git.write_tree(idx) is None


def test_changed_paths(git: Git, lane: Lane, idx: str, base: str) -> None:
    lane.write("a", "changed\n")
    lane.write("new file.txt", "new\n")
    lane.plain("add", "a", "new file.txt", index=idx)
    lane.plain("rm", "-q", "--cached", "b", index=idx)
    assert git.changed_paths(idx, base) == [b"a", b"b", b"new file.txt"]
    assert git.changed_paths(idx, base, limit=[b"a", b"d/c"]) == [b"a"]
    assert git.changed_paths(idx, git.repo.empty_tree()) == [b"README", b"a", b"d/c", b"new file.txt"]


def test_diff_tree_entries_give_index_info_lines(git: Git, lane: Lane, base: str) -> None:
    lane.write("a", "a v2\n")
    lane.write("e", "#!/bin/sh\n")
    os.chmod(lane.path / "e", 0o755)
    lane.plain("rm", "-q", "b")
    lane.plain("add", "a", "e")
    lane.plain("commit", "-q", "-m", "next")
    new = lane.head()
    got = git.diff_tree_entries(base, new)
    assert got == {b"a": f"100644 {blob(lane, 'a v2' + chr(10))}\ta".encode(),
                   b"b": b"0 " + b"0" * 40 + b"\tb",
                   b"e": f"100755 {blob(lane, '#!/bin/sh' + chr(10))}\te".encode()}
    assert git.diff_tree_entries(new, new) == {}


def test_index_entries_and_update_entries(git: Git, lane: Lane, idx: str) -> None:
    found = git.index_entries(idx, [b"a", b"d/c", b"missing"])
    assert set(found) == {b"a", b"d/c"} and found[b"a"] == f"100644 {blob(lane, 'a' + chr(10))}".encode()
    # a file turning into a folder: the removal must come first, whatever the order given
    inner = blob(lane, "inner\n")
    git.update_entries(idx, {b"a/inner": f"100644 {inner}\ta/inner".encode(), b"a": b"0 " + b"0" * 40 + b"\ta"})
    assert git.index_entries(idx, [b"a", b"a/inner"]) == {b"a/inner": f"100644 {inner}".encode()}


def test_set_skip_worktree_is_all_or_nothing(git: Git, lane: Lane, idx: str) -> None:
    assert git.set_skip_worktree(idx, [b"a", b"not-there"], True) is False
    assert lane.plain("ls-files", "-v", "a", index=idx).stdout == b"H a\n"
    assert git.set_skip_worktree(idx, [b"a", b"d/c"], True) is True
    assert lane.plain("ls-files", "-v", index=idx).stdout == b"H README\nS a\nH b\nS d/c\n"
    assert git.set_skip_worktree(idx, [b"a"], False) is True
    assert lane.plain("ls-files", "-v", "a", index=idx).stdout == b"H a\n"


def test_ls_files_in_chunks(git: Git, lane: Lane, idx: str) -> None:
    b = blob(lane, "x\n")
    names = [f"many/f{i:05d}" for i in range(4100)]            # three chunks of ls-files
    lane.plain("update-index", "--index-info", index=idx,
               input="".join(f"100644 {b}\t{n}\n" for n in names).encode())
    before = git.spawned
    got = git.ls_files(idx, [n.encode() for n in names] + [b"nope"])
    assert got == [n.encode() for n in names]
    assert git.spawned - before == 3
    assert git.ls_files(idx, []) == []


def test_all_paths_are_tracked_and_untracked_but_not_ignored(git: Git, lane: Lane, base: str) -> None:
    lane.write(".gitignore", "*.log\n")
    lane.write("new.txt", "n\n")
    lane.write("x.log", "ignored\n")
    assert sorted(git.all_paths()) == [b".gitignore", b"README", b"a", b"b", b"d/c", b"new.txt"]


def test_staged_patch_applies_back(git: Git, lane: Lane, idx: str, base: str, tmp_path: Path) -> None:
    lane.write("a", "a v2\n")
    (lane.path / "bin").write_bytes(bytes(range(256)))
    lane.plain("add", "a", "bin", index=idx)
    patch = git.staged_patch(idx, base)
    assert b"GIT binary patch" in patch and b"+a v2" in patch
    fresh = str(tmp_path / "fresh")
    lane.plain("read-tree", base, index=fresh)
    assert git.apply_cached(fresh, patch).rc == 0
    assert git.write_tree(fresh) == git.write_tree(idx)
    assert git.apply_cached(fresh, b"garbage\n").rc != 0


def test_user_ls_files_reads_pathspecs_as_the_user_wrote_them(lane: Lane, base: str, idx: str) -> None:
    sub = lane.path / "d"
    git = Git(real_git(), repo_at(lane.path, cwd=sub), os.environ)
    assert git.user_ls_files(idx, ["c"]) == [b"d/c"]                   # relative to the user's cwd
    assert git.user_ls_files(idx, [":/a"]) == [b"a"]                   # magic works
    assert git.user_ls_files(idx, [":(glob)../*"]) == [b"README", b"a", b"b"]
    assert git.user_ls_files(idx, ["*"]) == [b"d/c"]                   # globs too (not literal)


def test_user_ls_files_honours_the_users_literal_pathspecs(lane: Lane, idx: str, base: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")
    git = Git(real_git(), repo_at(lane.path), os.environ)
    assert git.user_ls_files(idx, ["*"]) == []


def test_clean_dry_run_lists_paths_relative_to_cwd(lane: Lane, base: str, idx: str) -> None:
    lane.write("d/junk ü.txt", "j\n")
    lane.write("top.tmp", "t\n")
    git = Git(real_git(), repo_at(lane.path, cwd=lane.path / "d"), os.environ)
    assert git.clean_dry_run(idx, []) == ["junk ü.txt".encode()]
    assert sorted(git.clean_dry_run(idx, [".."])) == [b"../top.tmp", "junk ü.txt".encode()]


def test_add_update_stages_tracked_changes_only(git: Git, lane: Lane, idx: str, base: str) -> None:
    lane.write("a", "a v2\n")
    lane.write("b", "b v2\n")
    lane.write("untracked", "u\n")
    git.add_update(idx, ["a"])
    assert git.changed_paths(idx, base) == [b"a"]
    git.add_update(idx, [])
    assert git.changed_paths(idx, base) == [b"a", b"b"]


def test_history_verbs(git: Git, lane: Lane, base: str) -> None:
    first = lane.plain("rev-list", "--max-parents=0", "HEAD").stdout.decode().strip()
    assert git.commit_paths(base) == [b"a", b"b", b"d/c"]
    assert git.commit_paths(first) == [b"README"]                     # --root
    assert git.commit_paths("no-such") == []
    assert git.changed_between(first, base) == [b"a", b"b", b"d/c"]
    assert git.changed_between("nope..HEAD") == []
    assert git.is_commit(base) and not git.is_commit("f" * 40)
    assert not git.is_commit(lane.plain("rev-parse", "HEAD^{tree}").stdout.decode().strip())
    assert git.resolve_commit("HEAD") == base and git.resolve_commit("--all") is None
    tree = lane.plain("rev-parse", "HEAD^{tree}").stdout.decode().strip()
    assert git.tree_and_parents(base) == (tree, [first])
    assert git.tree_and_parents(first)[1] == []
    assert git.commit_subject(f"{first}..{base}", b"a") == f"{base[:7]} base"
    assert git.commit_subject(f"{first}..{base}", b"README") == ""


def test_write_object_and_delete_ref(git: Git, lane: Lane, base: str) -> None:
    oid = git.write_object("blob", b"hello\n")
    assert oid == blob(lane, "hello\n")
    lane.plain("update-ref", "refs/gitlane/x", base)
    git.delete_ref("refs/gitlane/x")
    assert lane.plain("rev-parse", "-q", "--verify", "refs/gitlane/x", check=False).returncode == 1
    git.delete_ref("refs/gitlane/never-was")                        # no error


def test_config_and_config_path(git: Git, lane: Lane) -> None:
    lane.plain("config", "lane.lockTimeout", "7")
    lane.plain("config", "core.excludesFile", "~/my-ignore")
    assert git.config("lane.lockTimeout") == "7" and git.config("lane.nothing") is None
    assert git.config_path("core.excludesFile") == os.path.join(os.environ["HOME"], "my-ignore")
    assert git.config_path("lane.nothing") is None


def test_alias_as_git_sees_it(git: Git, lane: Lane) -> None:
    lane.plain("config", "alias.st", "status -s ")
    lane.plain("config", "alias.Co", "checkout")
    assert git.alias([], "st") == "status -s "                      # only git config's newline dropped
    assert git.alias([], "co") == "checkout" and git.alias([], "CO") == "checkout"
    assert git.alias(["-c", "alias.x=log -1"], "x") == "log -1"
    assert git.alias([], "nope") is None


def test_the_staged_set_needs_diff_index_an_intent_to_add_path_has_no_tree_entry(
        lane: Lane, git: Git, base: str, idx: str) -> None:
    """Why changed_paths() reads the index (diff-index) rather than diffing
    the snapshot's tree against the base: `add -N` stages a path that
    write-tree leaves out, and the session must still claim it."""
    lane.write("ita.txt", "intent\n")
    lane.plain("add", "-N", "--", "ita.txt", index=idx)
    assert b"ita.txt" in git.changed_paths(idx, base)
    tree = git.write_tree(idx)
    assert tree is not None
    assert b"ita.txt" not in git.changed_between(base, tree)
