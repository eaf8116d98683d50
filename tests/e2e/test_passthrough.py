"""Passthrough is exact (docs/DESIGN.md, "Invariants", 4): differential tests against the real git.

Every case runs twice from the same directory with the same environment,
once as the real git and once as `shim/git`, and must give the same stdout,
stderr and exit code, byte for byte. Read-only cases share one world of
repositories; a case that writes gets a fresh copy of a template world, at
the same absolute path for both runs, and the resulting file tree must match
too. Read-only cases are run a third time inside a session: gitlane then
runs git on the session index, which must not change what git prints.
"""
from __future__ import annotations

import hashlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

from gitlane.testing.lane import SHIM, Lane, real_git, shim_env

REAL = real_git()
SHIM_GIT = str(SHIM / "git")
EXEC_PATH = subprocess.run([REAL, "--exec-path"], capture_output=True, check=True).stdout.decode().strip()
VIEWER = ["-c", "help.format=man", "-c", "man.viewer=v", "-c", "man.v.cmd=echo VIEW"]


class Case(NamedTuple):
    id: str
    argv: list[str]
    cwd: str = "repo"
    stdin: bytes | None = None
    env: dict[str, str] = {}
    session: bool = True  # also compare inside a session
    session_bug: str = ""  # why the session run is known to differ (xfail)


def C(id: str, argv: str | list[str], cwd: str = "repo", stdin: bytes | None = None,
      env: dict[str, str] | None = None, session: bool = True, session_bug: str = "") -> Case:
    words = shlex.split(argv) if isinstance(argv, str) else argv
    return Case(id, words, cwd, stdin, env or {}, session, session_bug)


# The world (see _build): repo/ (main branch, branch `other`, tags v1 and
# light, submodule sub/, unstaged edits, an untracked and an ignored file,
# aliases in .git/config), wt/ (a linked worktree of repo on wtb), bare.git/,
# src-sub/ (the submodule's origin) and outside/ (no repository).
# shim.py runs `!` aliases with GIT_INDEX_FILE set to the session index, so a
# git the alias runs in another repository (a submodule, another worktree)
# reads and would write this repository's session index.
_ALIAS_INDEX_BUG = "a `!` alias inherits GIT_INDEX_FILE=<session index> into other repositories"

READS = [
    # git itself: usage, version, help, queries, unknown words and options
    C("no-args", []),
    C("--version", "--version"),
    C("version", "version"),
    C("-v", "-v"),
    C("version --build-options", "version --build-options"),
    C("help", "help"),
    C("--help", "--help"),
    C("-h", "-h"),
    C("help -g", "help -g"),
    C("help -a", "help -a"),
    C("help status", [*VIEWER, "help", "status"]),
    C("status --help", [*VIEWER, "status", "--help"]),
    C("--help commit", [*VIEWER, "--help", "commit"]),
    C("commit --help", [*VIEWER, "commit", "--help"]),
    C("status -h", "status -h"),
    C("unknown command", "frobnicate --now"),
    C("typo", "stauts"),
    C("unknown option", "--frobnicate status"),
    C("unknown command option", "status --frobnicate"),
    C("-C without value", "-C"),
    C("-c without value", "-c"),
    C("--git-dir without value", "--git-dir"),
    C("--exec-path", "--exec-path"),
    C("--exec-path=", ["--exec-path=" + EXEC_PATH, "status", "-s"]),
    C("--html-path", "--html-path"),
    C("--man-path", "--man-path"),
    C("--info-path", "--info-path"),
    C("--list-cmds=builtins", "--list-cmds=builtins"),
    C("--list-cmds=main,nohelpers", "--list-cmds=main,nohelpers"),
    C("--list-cmds=alias", "-c alias.zz=log --list-cmds=alias"),
    C("--list-cmds=config", "--list-cmds=config"),
    # reads in the main repository
    C("status", "status"),
    C("status -s -b", "status -s -b"),
    C("status porcelain v2", "status --porcelain=v2 --branch --untracked-files=all"),
    C("status --ignored", "status --ignored -s"),
    C("status -z", "status -z"),
    C("log graph", "log --oneline --graph --all --decorate"),
    C("log -p", "log -p -2 --stat"),
    C("log nosuch", "log nosuch"),
    C("show v1", "show v1"),
    C("show HEAD~1 --stat", "show --stat HEAD~1"),
    C("diff", "diff"),
    C("diff --cached", "diff --cached"),
    C("diff HEAD~1", "diff --stat HEAD~1"),
    C("diff-files", "diff-files --name-status"),
    C("diff-index", "diff-index --cached HEAD"),
    C("rev-parse", "rev-parse --show-toplevel --git-dir --git-common-dir --is-inside-work-tree "
                   "--show-prefix --abbrev-ref HEAD"),
    C("rev-parse nosuch", "rev-parse --verify nosuch"),
    C("ls-files -s", "ls-files -s"),
    C("ls-files --debug", "ls-files --debug"),
    C("ls-files -o", "ls-files -o --exclude-standard"),
    C("ls-files -m", "ls-files -m"),
    C("ls-tree", "ls-tree -r HEAD"),
    C("cat-file -p", "cat-file -p HEAD"),
    C("cat-file --batch-check", "cat-file --batch-check", stdin=b"HEAD\nv1\nnosuch\nHEAD:a.txt\n"),
    C("cat-file --batch", "cat-file --batch", stdin=b"HEAD:a.txt\n"),
    C("for-each-ref", "for-each-ref"),
    C("branch -a -v", "branch -a -v"),
    C("tag -l -n", "tag -l -n"),
    C("describe", "describe --tags"),
    C("blame", "blame b.txt"),
    C("grep", "grep -n alpha"),
    C("shortlog", "shortlog -s HEAD"),
    C("count-objects", "count-objects -v"),
    C("config --list", "config --list --show-origin"),
    C("var", "var GIT_AUTHOR_IDENT"),
    C("check-ignore", "check-ignore -v x.log"),
    C("check-ignore --stdin", "check-ignore --stdin", stdin=b"x.log\na.txt\nnew.log\n"),
    C("hash-object --stdin", "hash-object --stdin", stdin=b"hello\n"),
    C("hash-object file", "hash-object a.txt"),
    C("stripspace", "stripspace", stdin=b"  a  \n\n\n\nb\n\n"),
    C("interpret-trailers", "interpret-trailers --trailer Fixes=1", stdin=b"subject\n\nbody\n"),
    C("show-ref", "show-ref"),
    C("reflog", "reflog -3"),
    C("worktree list", "worktree list"),
    C("submodule status", "submodule status"),
    C("submodule foreach", ["submodule", "foreach", "git rev-parse HEAD && git status -s"]),
    C("stash list", "stash list"),
    C("merge-base", "merge-base main other"),
    # -C and -c
    C("-C dir", "-C dir status -s"),
    C("-C a -C b", "-C dir -C sub2 ls-files"),
    C("-C empty", ["-C", "", "status", "-s"]),
    C("-C chain from outside", ["-C", "repo", "-C", "", "-C", "dir", "log", "--oneline", "-1"], cwd="."),
    C("-C .. chain", "-C .. -C repo -C dir status -s"),
    C("-C nonexistent", "-C /nonexistent-gitlane-dir status"),
    C("-c core.abbrev", "-c core.abbrev=12 log --oneline -1"),
    C("-c color", "-c color.ui=always log --oneline --decorate -3"),
    C("-c two", "-c status.short=true -c status.branch=true status"),
    C("-c bad key", "-c nosection status"),
    C("-c empty", ["-c", "", "status"]),
    # aliases
    C("alias", "lg -2"),
    C("alias case-insensitive call", "LG -1"),
    C("alias case-insensitive key", "-c alias.ST=status\\ -s st"),
    C("alias chained", "chain1"),
    C("alias args", ["-c", "alias.l1=log -1 --format=%s", "l1", "HEAD~1"]),
    C("alias with -c", ["-c", "alias.opt=-c core.abbrev=9 log -1 --format=%h", "opt"]),
    C("alias shell", "sh one 'two words'"),
    C("alias shell prefix", "-C dir pf"),
    C("alias shell stdin", ["-c", "alias.rd=!cat", "rd"], stdin=b"through the alias\n"),
    C("alias loop", "loop1"),
    C("alias self", "-c alias.me=me me"),
    C("alias builtin wins", "-c alias.status=log status -s"),
    C("alias unclosed quote", ["-c", "alias.bad=log \"x", "bad"]),
    C("alias changes env", ["-c", "alias.cd=-C .. status", "cd"]),
    C("alias empty", ["-c", "alias.e=", "e"]),
    C("alias leading blank", ["-c", "alias.lb= log -1", "lb"]),
    C("alias trailing blank", ["-c", "alias.tb=log -1 ", "tb"]),
    C("alias help", "lg -h"),
    C("alias exit 3", ["-c", "alias.x=!exit 3", "x"]),
    C("alias shell into submodule", ["-c", "alias.subst=!cd sub && git status -s && git ls-files", "subst"],
      ),
    C("alias shell -C other repo", ["-c", "alias.wtls=!git -C ../wt ls-files", "wtls"],
      ),
    # --git-dir, --work-tree and friends, in both forms
    C("--git-dir=", "--git-dir=.git log --oneline -1"),
    C("--git-dir --work-tree", "--git-dir .git --work-tree . status -s"),
    C("--git-dir= --work-tree= from subdir", "--git-dir=../.git --work-tree=.. status -s", cwd="repo/dir"),
    C("--git-dir bare", "--git-dir ../bare.git log --oneline -2"),
    C("--git-dir nowhere", "--git-dir=nowhere status"),
    C("--work-tree=dir", "--work-tree=dir status -s"),
    C("GIT_DIR", "status -s", env={"GIT_DIR": ".git"}),
    C("GIT_DIR GIT_WORK_TREE", "status -s", cwd="outside",
      env={"GIT_DIR": "../repo/.git", "GIT_WORK_TREE": "../repo"}),
    C("--namespace=", "--namespace=ns for-each-ref"),
    C("--namespace", "--namespace ns show-ref"),
    C("--config-env=", "--config-env=core.abbrev=ABBREV log -1 --format=%h", env={"ABBREV": "11"}),
    C("--config-env", "--config-env core.abbrev=ABBREV log -1 --format=%h", env={"ABBREV": "11"}),
    C("--config-env missing var", "--config-env=core.abbrev=NOSUCHVAR status"),
    C("--super-prefix", "--super-prefix=p/ status"),
    C("--bare in a work tree", "--bare status"),
    C("-p", "-p log -1"),
    C("-P", "-P log -1"),
    C("--no-pager", "--no-pager log -1"),
    C("--literal-pathspecs", ["--literal-pathspecs", "ls-files", "*.txt"]),
    C("--glob-pathspecs", ["--glob-pathspecs", "ls-files", "*.txt"]),
    C("--icase-pathspecs", "--icase-pathspecs ls-files upper.txt"),
    C("--no-optional-locks", "--no-optional-locks status -s"),
    C("--no-replace-objects", "--no-replace-objects log --oneline -1"),
    # a linked worktree
    C("worktree status", "status -s -b", cwd="wt"),
    C("worktree rev-parse", "rev-parse --git-dir --git-common-dir --show-toplevel", cwd="wt"),
    C("worktree log", "log --oneline -2", cwd="wt"),
    C("worktree list porcelain", "worktree list --porcelain", cwd="wt"),
    # a submodule
    C("submodule status -s", "status -s -b", cwd="repo/sub"),
    C("submodule rev-parse", "rev-parse --show-superproject-working-tree --show-toplevel --git-dir",
      cwd="repo/sub"),
    C("submodule log", "log --oneline", cwd="repo/sub"),
    C("-C sub", "-C sub ls-files -s"),
    # outside any repository
    C("outside status", "status", cwd="outside"),
    C("outside rev-parse", "rev-parse --git-dir", cwd="outside"),
    C("outside log", "log", cwd="outside"),
    C("outside hash-object", "hash-object --stdin", cwd="outside", stdin=b"outside\n"),
    C("outside -C repo", "-C ../repo status -s", cwd="outside"),
    C("outside config --global", "config --global --list", cwd="outside"),
    C("outside diff --no-index", "diff --no-index ../repo/a.txt ../repo/b.txt", cwd="outside"),
    # a bare repository
    C("bare log", "log --oneline -3", cwd="bare.git"),
    C("bare rev-parse", "rev-parse --is-bare-repository --git-dir", cwd="bare.git"),
    C("bare status", "status", cwd="bare.git"),
    C("bare for-each-ref", "for-each-ref", cwd="bare.git"),
    C("bare ls-tree", "ls-tree HEAD", cwd="bare.git"),
    C("inside .git", "rev-parse --is-inside-git-dir --git-dir", cwd="repo/.git"),
]

WRITES = [
    C("add -A", "add -A"),
    C("add nosuch", "add nosuch"),
    C("add -v", "add -v a.txt new.txt"),
    C("add ignored", "add x.log"),
    C("commit -a -F -", "commit -a -F -", stdin=b"from stdin\n\nbody line\n"),
    C("commit -F - nothing staged", "commit -F -", stdin=b"nothing\n"),
    C("commit -m missing value", "commit -m"),
    C("commit --allow-empty", "commit --allow-empty -m empty"),
    C("-c user.name commit", ["-c", "user.name=Other Person", "commit", "--allow-empty", "-m", "x"]),
    C("commit -v editor fails", "commit -a"),
    C("branch", "branch newb"),
    C("branch -d", "branch -d other"),
    C("tag -a", "tag -a v2 -m msg"),
    C("tag exists", "tag v1"),
    C("checkout -b", "checkout -b topic"),
    C("checkout branch", "checkout other"),
    C("checkout alias mixed case", "co other"),
    C("checkout -- path", "checkout -- a.txt"),
    C("checkout nosuch", "checkout nosuch"),
    C("switch -c", "switch -c t2"),
    C("switch --detach", "switch --detach HEAD~1"),
    C("stash", "stash"),
    C("stash -u", "stash -u"),
    C("reset --hard", "reset --hard HEAD~1"),
    C("reset --soft", "reset --soft HEAD~1"),
    C("reset path", "reset -q HEAD~1 -- a.txt"),
    C("rm --cached", "rm --cached b.txt"),
    C("rm", "rm b.txt"),
    C("mv", "mv b.txt b2.txt"),
    C("restore", "restore a.txt"),
    C("restore --staged", "restore --staged --source=HEAD~1 a.txt"),
    C("hash-object -w --stdin", "hash-object -w --stdin", stdin=b"stored\n"),
    C("update-ref", "update-ref refs/heads/viaref HEAD~1"),
    C("update-ref --stdin", "update-ref --stdin", stdin=b"delete refs/heads/other\n"),
    C("merge", "merge --no-edit other"),
    C("merge conflict-free no-ff", "merge --no-ff -m merged other"),
    C("cherry-pick", "cherry-pick other"),
    C("revert", "revert --no-edit HEAD~1"),
    C("apply --cached -", "apply --cached -",
      stdin=b"--- a/b.txt\n+++ b/b.txt\n@@ -1 +1,2 @@\n beta\n+patched\n"),
    C("apply --check bad", "apply --check -", stdin=b"not a patch\n"),
    C("clean -n", "clean -n"),
    C("clean -fdx", "clean -fdx"),
    C("gc", "gc -q"),
    C("notes", "notes add -m note HEAD"),
    C("config set", "config lane.test value"),
    C("worktree commit", "commit --allow-empty -m in-wt", cwd="wt"),
    C("worktree add", "worktree add ../wt2"),
    C("worktree remove", "worktree remove ../wt"),
    C("submodule commit", "commit --allow-empty -m in-sub", cwd="repo/sub"),
    C("submodule deinit", "submodule deinit -f sub"),
    C("outside init", "init fresh", cwd="outside"),
    C("outside clone", "clone ../repo cl", cwd="outside"),
    C("bare update-ref", "update-ref refs/heads/b2 HEAD", cwd="bare.git"),
    C("bare fetch", "fetch ../repo other:fetched", cwd="bare.git"),
]


class Outcome(NamedTuple):
    rc: int
    stdout: bytes
    stderr: bytes


def _build_env(template: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITLANE_"))}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TEMPLATE_DIR=str(template),
               GIT_AUTHOR_NAME="A U Thor", GIT_AUTHOR_EMAIL="author@example.com",
               GIT_COMMITTER_NAME="C O Mitter", GIT_COMMITTER_EMAIL="committer@example.com",
               GIT_AUTHOR_DATE="1112911993 -0700", GIT_COMMITTER_DATE="1112911993 -0700", LC_ALL="C")
    return env


def _build(root: Path) -> None:
    """Build the world with the real git. Objects are packed and templates
    left out to keep it small: a write case copies it twice."""
    no_templates = root.parent / f"{root.name}-no-templates"
    no_templates.mkdir()
    env = _build_env(no_templates)

    def g(cwd: Path, *args: str) -> None:
        subprocess.run([REAL, *args], cwd=cwd, env=env, check=True, capture_output=True)

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    root.mkdir()
    src, repo = root / "src-sub", root / "repo"
    g(root, "init", "-q", "-b", "main", "src-sub")
    write(src / "s.txt", "sub file\n")
    g(src, "add", ".")
    g(src, "commit", "-q", "-m", "sub: first")
    g(root, "init", "-q", "-b", "main", "repo")
    for rel, text in {"a.txt": "alpha\n", "b.txt": "beta\n", "dir/c.txt": "gamma\n",
                      "dir/sub2/d.txt": "delta\n", "sp ace.txt": "space\n", "Upper.TXT": "upper\n",
                      ".gitignore": "*.log\n"}.items():
        write(repo / rel, text)
    g(repo, "add", ".")
    g(repo, "commit", "-q", "-m", "first")
    g(repo, "branch", "other")
    write(repo / "a.txt", "alpha\nalpha 2\n")
    g(repo, "commit", "-q", "-am", "second")
    g(repo, "tag", "-a", "v1", "-m", "version 1")
    g(repo, "tag", "light", "HEAD~1")
    g(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(src), "sub")
    g(repo, "commit", "-q", "-m", "add sub")
    g(repo, "checkout", "-q", "other")
    write(repo / "b.txt", "beta\nbeta on other\n")
    g(repo, "commit", "-q", "-am", "other: change b")
    g(repo, "checkout", "-q", "main")
    g(repo, "update-ref", "refs/namespaces/ns/refs/heads/main", "HEAD~1")
    for key, value in {"alias.lg": "log --oneline", "alias.Co": "checkout",
                       "alias.chain1": "chain2 -1", "alias.chain2": "lg",
                       "alias.sh": '!echo shell-alias "$@"', "alias.loop1": "loop2",
                       "alias.loop2": "loop1", "alias.pf": '!pwd; echo "[$GIT_PREFIX]"'}.items():
        g(repo, "config", key, value)
    g(repo, "worktree", "add", "-q", "../wt", "-b", "wtb", "HEAD~1")
    g(root, "clone", "-q", "--bare", str(repo), "bare.git")
    for d in (repo, root / "bare.git", src, repo / "sub"):
        g(d, "gc", "-q")
    write(repo / "a.txt", "alpha\nalpha 2\nalpha 3 unstaged\n")
    write(repo / "dir/c.txt", "gamma changed\n")
    write(repo / "new.txt", "untracked\n")
    write(repo / "x.log", "ignored\n")
    write(root / "outside" / "note.txt", "not a repository\n")


@pytest.fixture(scope="module")
def fast_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch folder in memory when the machine has one: the write cases
    copy a world of ~140 files twice each, and creating files on a disk costs
    up to a millisecond apiece. Removed afterwards."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        base = Path(tempfile.mkdtemp(prefix="gitlane-passthrough-", dir="/dev/shm"))
        yield base
        shutil.rmtree(base, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("passthrough")


@pytest.fixture(scope="module")
def read_world(fast_tmp: Path) -> Path:
    root = fast_tmp / "reads" / "w"
    root.parent.mkdir()
    _build(root)
    return root


class WriteWorld:
    """A template world, copied afresh to the same path before every run."""

    def __init__(self, base: Path) -> None:
        base.mkdir()
        self.root = base / "w"
        self.template = base / "template"
        _build(self.root)
        shutil.copytree(self.root, self.template, symlinks=True)

    def fresh(self) -> Path:
        shutil.rmtree(self.root)
        shutil.copytree(self.template, self.root, symlinks=True)
        return self.root


@pytest.fixture(scope="module")
def write_world(fast_tmp: Path) -> WriteWorld:
    return WriteWorld(fast_tmp / "writes")


def _run(exe: str, case: Case, root: Path, session: str | None = None,
         extra: dict[str, str] | None = None) -> Outcome:
    env = shim_env(session, extra={"GIT_CEILING_DIRECTORIES": str(root.parent), **case.env,
                                   **(extra or {})})
    res = subprocess.run([exe, *case.argv], cwd=root / case.cwd, env=env, capture_output=True,
                         input=case.stdin, stdin=None if case.stdin is not None else subprocess.DEVNULL,
                         timeout=60)
    return Outcome(res.returncode, res.stdout, res.stderr)


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under root with a content hash, except index
    files (their stat data differs between copies), plus each repository's
    index entries."""
    snap: dict[str, str] = {}
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        for d in dirs:
            snap[os.path.join(rel, d) + "/"] = ""
        for f in files:
            if f != "index":
                with open(os.path.join(top, f), "rb") as fh:
                    snap[os.path.join(rel, f)] = hashlib.sha1(fh.read()).hexdigest()
    env = shim_env(None, extra={"GIT_CEILING_DIRECTORIES": str(root.parent)})
    for wt in ("repo", "wt", "repo/sub"):
        if (root / wt / ".git").exists():
            res = subprocess.run([REAL, "ls-files", "-s"], cwd=root / wt, capture_output=True, env=env)
            snap[f"{wt}: ls-files -s"] = hashlib.sha1(res.stdout + res.stderr).hexdigest()
    return snap


@pytest.mark.parametrize("case", READS, ids=[c.id for c in READS])
def test_read_passthrough(case: Case, read_world: Path) -> None:
    real = _run(REAL, case, read_world)
    assert _run(SHIM_GIT, case, read_world) == real


def _session_params() -> list[object]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.session_bug, strict=True)]
                         if c.session_bug else []) for c in READS if c.session]


@pytest.mark.parametrize("case", _session_params())
def test_read_in_session(case: Case, read_world: Path) -> None:
    """A read in a session prints exactly what git prints without one. (One
    session serves the whole corpus: a new one costs ~0.2 s, and
    test_session_basics covers the first command of a session.)"""
    real = _run(REAL, case, read_world)
    assert _run(SHIM_GIT, case, read_world, session="corpus") == real


@pytest.mark.parametrize("case", WRITES, ids=[c.id for c in WRITES])
def test_write_passthrough(case: Case, write_world: WriteWorld) -> None:
    root = write_world.fresh()
    real, real_tree = _run(REAL, case, root), _snapshot(root)
    root = write_world.fresh()
    shim, shim_tree = _run(SHIM_GIT, case, root), _snapshot(root)
    assert shim == real
    assert shim_tree == real_tree
    assert not any("gitlane" in p for p in shim_tree)


def test_corpus_size() -> None:
    assert len(READS) + len(WRITES) >= 80


# --- finding the real git -------------------------------------------------

@pytest.mark.parametrize("argv", [["version"], ["status", "-s"], ["frobnicate"], ["--exec-path"]])
def test_path_walk_finds_real_git(argv: list[str], lane: Lane, tmp_path: Path) -> None:
    """Without GITLANE_REAL_GIT the launcher walks PATH, skipping itself (here
    also through a symlink in an unmarked directory) and marked shim folders."""
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / "git").symlink_to(SHIM / "git")
    env = shim_env(None)
    del env["GITLANE_REAL_GIT"]
    env["PATH"] = os.pathsep.join([str(link_dir), str(SHIM), os.path.dirname(REAL), "/usr/bin", "/bin"])
    real = subprocess.run([REAL, *argv], cwd=lane.path, env=env, capture_output=True)
    shim = subprocess.run([str(link_dir / "git"), *argv], cwd=lane.path, env=env, capture_output=True)
    assert (shim.returncode, shim.stdout, shim.stderr) == (real.returncode, real.stdout, real.stderr)


def test_wrapper_calling_git_back_stops(lane: Lane, tmp_path: Path) -> None:
    """Another wrapper on PATH that calls `git` again must not loop for ever."""
    wrap = tmp_path / "wrapper"
    wrap.mkdir()
    (wrap / "git").write_text('#!/bin/sh\nexec git "$@"\n')
    (wrap / "git").chmod(0o755)
    env = shim_env(None)
    del env["GITLANE_REAL_GIT"]
    env["PATH"] = os.pathsep.join([str(SHIM), str(wrap), os.path.dirname(REAL)])
    res = subprocess.run(["git", "version"], cwd=lane.path, env=env, capture_output=True, timeout=60)
    assert res.returncode == 127
    assert res.stderr.startswith(b"gitlane: git shim recursion (GITLANE_DEPTH=8)\n")


def test_no_real_git_on_path(lane: Lane) -> None:
    env = shim_env(None)
    del env["GITLANE_REAL_GIT"]
    env["PATH"] = str(SHIM)
    res = subprocess.run([SHIM_GIT, "version"], cwd=lane.path, env=env, capture_output=True)
    assert res.returncode == 127
    assert res.stderr.startswith(b"gitlane: no real git found on PATH")


# --- exit codes and signals -------------------------------------------------

def test_exit_codes_0_to_255(lane: Lane) -> None:
    env = shim_env(None)
    wrong = {}
    for n in range(256):
        argv = ["-c", f"alias.x=!exit {n}", "x"]
        real = subprocess.run([REAL, *argv], cwd=lane.path, env=env, capture_output=True)
        shim = subprocess.run([SHIM_GIT, *argv], cwd=lane.path, env=env, capture_output=True)
        if not real.returncode == shim.returncode == n:
            wrong[n] = (real.returncode, shim.returncode)
    assert wrong == {}


def test_exit_codes_in_session(lane: Lane) -> None:
    got = {}
    for n in (0, 1, 2, 42, 126, 127, 128, 129, 200, 254, 255):
        res = lane.git("-c", f"alias.x=!exit {n}", "x", session="s1", check=False)
        got[n] = (res.returncode, res.stdout, res.stderr)
    assert got == {n: (n, b"", b"") for n in got}


def _twins(tmp_path: Path) -> tuple[Lane, Lane]:
    """Two identical repositories (same dates and identities)."""
    lanes = []
    for name in ("plain", "lane"):
        lane = Lane(tmp_path / name)
        lane.path.mkdir()
        lane.plain("init", "-q")
        lane.write("README", "hello\n")
        lane.plain("add", "README")
        lane.plain("commit", "-q", "-m", "init")
        lanes.append(lane)
    return lanes[0], lanes[1]


# (argv, stdin, exit code): git's own results through the session's write paths
SESSION_WRITES = [
    (["add", "nosuch"], None, 128),                 # stage, on a copy of the index
    (["add", "--frobnicate"], None, 129),
    (["add", "-v", "f"], None, 0),
    (["rm", "nosuch"], None, 128),                  # stage, in place
    (["commit", "-m", "nothing"], None, 1),         # refs
    (["commit", "-F", "-"], b"from stdin\n", 1),
    (["reset", "--hard", "nosuch"], None, 128),
    (["hash-object", "-w", "--stdin"], b"stdin through the session\n", 0),  # other
]


@pytest.mark.parametrize(("argv", "stdin", "rc"), SESSION_WRITES,
                         ids=[" ".join(a) for a, _, _ in SESSION_WRITES])
def test_session_write_matches_git(argv: list[str], stdin: bytes | None, rc: int, tmp_path: Path) -> None:
    plain, lane = _twins(tmp_path)
    for one in (plain, lane):
        one.write("f", "f\n")
    real = plain.plain(*argv, check=False, input=stdin)
    shim = lane.git(*argv, session="s1", input=stdin, check=False)
    assert (shim.returncode, shim.stdout, shim.stderr) == (real.returncode, real.stdout, real.stderr)
    assert real.returncode == rc


def test_session_commit_from_stdin_makes_the_same_commit(tmp_path: Path) -> None:
    plain, lane = _twins(tmp_path)
    for one in (plain, lane):
        one.write("f", "f\n")
    plain.plain("add", "f")
    lane.git("add", "f", session="s1")
    real = plain.plain("commit", "-F", "-", input=b"subject\n\nbody\n")
    shim = lane.git("commit", "-F", "-", session="s1", input=b"subject\n\nbody\n")
    assert (shim.returncode, shim.stdout, shim.stderr) == (real.returncode, real.stdout, real.stderr)
    assert lane.head() == plain.head()


def _read_line(stream: object, timeout: float = 30.0) -> bytes:
    """One line from a pipe, failing (not hanging) if none comes."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"no line within {timeout}s (got {line!r})"
        byte = os.read(fd, 1)
        assert byte, f"EOF before a full line (got {line!r})"
        line += byte
    return line


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown if they are still alive."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        _kill(pid)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


_HANG = '!echo "ready $$ $PPID" >&2; exec sleep 600'


@pytest.mark.parametrize(("exe", "session"), [("real", None), ("shim", None), ("shim", "s1")])
def test_sigterm_reaches_git(exe: str, session: str | None, lane: Lane, reap: list[int]) -> None:
    """git runs as the very process we started (exec, nothing in between), so
    a signal sent to it is git's, and git dies of it. (Whether git reaps the
    alias child first is git's own race: it may not have registered it yet.)"""
    proc = subprocess.Popen([REAL if exe == "real" else SHIM_GIT, "-c", f"alias.hang={_HANG}", "hang"],
                            cwd=lane.path, env=shim_env(session), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, child, parent = _read_line(proc.stderr).split()
        reap.append(int(child))
        assert int(parent) == proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]


def _hook(lane: Lane, body: str) -> None:
    hook = lane.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


@pytest.mark.parametrize("session", [None, "s1"])
def test_sigterm_while_a_hook_runs(session: str | None, lane: Lane, reap: list[int]) -> None:
    """Without a session git is the process we started; in a session a commit
    runs git as the shim's child (the shim keeps its locks), and SIGTERM sent
    to the shim is forwarded to git. Either way the process we started dies of
    SIGTERM, git is gone, and the staged work is intact."""
    _hook(lane, 'echo "ready $$ $PPID" >&2\nexec sleep 600\n')
    lane.write("f", "f\n")
    lane.git("add", "f", session=session)
    proc = subprocess.Popen([SHIM_GIT, "commit", "-q", "-m", "f"], cwd=lane.path, env=shim_env(session),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        words = _read_line(proc.stderr).split()
        hook, git = int(words[1]), int(words[2])
        reap.append(hook)
        assert (git == proc.pid) == (session is None)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
        assert _gone(git)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    _kill(hook)  # git leaves its hook running, and the hook holds our lock fds
    index = lane.session_index(session) if session else lane.path / ".git" / "index"
    assert not Path(f"{index}.lock").exists()
    if session:
        assert lane.staged(session) == {"f"}
    else:
        assert lane.plain("diff", "--cached", "--name-only").stdout == b"f\n"


@pytest.mark.parametrize("session", [None, "s1"])
def test_git_killed_by_sigkill(session: str | None, lane: Lane) -> None:
    """The shim leaves with git's own wait status, even for an uncatchable signal."""
    _hook(lane, "kill -KILL $PPID\n")
    lane.write("f", "f\n")
    lane.git("add", "f", session=session)
    res = lane.git("commit", "-q", "-m", "f", session=session, check=False)
    assert (res.returncode, res.stderr) == (-signal.SIGKILL, b"")
