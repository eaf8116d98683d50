"""gitargs.split(), gitargs.split_cmdline() and commands.classify() by tables.

Each split() row is also checked against the real git: with GIT_TRACE=1, git
names the built-in it runs after its own option parsing ("trace: built-in:
git CMD ARGS"), and runs none for a query or a usage error. Each
split_cmdline() row is checked against git's own alias expansion trace.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from gitlane.git import args as gitargs
from gitlane.run import classify as commands
from gitlane.testing.lane import real_git

READ, STAGE, REFS, OTHER = commands.READ, commands.STAGE, commands.REFS, commands.OTHER


class Split(NamedTuple):
    argv: list[str]
    command: str | None
    args: list[str]
    options: list[str]
    cdirs: list[str] = []
    git_dir: str | None = None
    work_tree: str | None = None
    bare: bool = False
    query: bool = False


def S(argv: str | list[str], command: str | None, args: list[str] | None = None,
      options: list[str] | None = None, **kw: object) -> Split:
    words = shlex.split(argv) if isinstance(argv, str) else argv
    return Split(words, command, args or [], options or [], **kw)  # type: ignore[arg-type]


SPLIT = [
    S("", None),
    S("status", "status"),
    S("status -s --branch", "status", ["-s", "--branch"]),
    # -C takes the next word, accumulates, and `-C ""` is ignored by git.
    S("-C a status", "status", [], ["-C", "a"], cdirs=["a"]),
    S("-C a -C b log -1", "log", ["-1"], ["-C", "a", "-C", "b"], cdirs=["a", "b"]),
    S(["-C", "", "status"], "status", [], ["-C", ""]),
    S(["-C", "a", "-C", "", "-C", "b", "status"], "status", [], ["-C", "a", "-C", "", "-C", "b"],
      cdirs=["a", "b"]),
    # -c takes the next word, whatever it looks like.
    S("-c core.abbrev=12 log", "log", [], ["-c", "core.abbrev=12"]),
    S("-c -x.y=1 version", "version", [], ["-c", "-x.y=1"]),
    S("-c a.b=c -c d.e=f version", "version", [], ["-c", "a.b=c", "-c", "d.e=f"]),
    # -c and -C never take an attached value: git sees an unknown option.
    S("-Ca status", None, query=True),
    S("-ccore.abbrev=5 log", None, query=True),
    S("--git-dir=.git status", "status", [], ["--git-dir=.git"], git_dir=".git"),
    S("--git-dir .git status", "status", [], ["--git-dir", ".git"], git_dir=".git"),
    S("--git-dir=x --git-dir=.git status", "status", [], ["--git-dir=x", "--git-dir=.git"],
      git_dir=".git"),
    S("--work-tree=w status", "status", [], ["--work-tree=w"], work_tree="w"),
    S("--work-tree w status", "status", [], ["--work-tree", "w"], work_tree="w"),
    S("-C a --git-dir ../../.git --work-tree ../.. -C b status", "status", [],
      ["-C", "a", "--git-dir", "../../.git", "--work-tree", "../..", "-C", "b"], cdirs=["a", "b"],
      git_dir="../../.git", work_tree="../.."),
    S("--namespace=ns log", "log", [], ["--namespace=ns"]),
    S("--namespace ns log", "log", [], ["--namespace", "ns"]),
    S("--config-env=core.abbrev=HOME log", "log", [], ["--config-env=core.abbrev=HOME"]),
    S("--config-env core.abbrev=HOME log", "log", [], ["--config-env", "core.abbrev=HOME"]),
    S("--super-prefix=p/ read-tree -n --empty", "read-tree", ["-n", "--empty"], ["--super-prefix=p/"]),
    S("--super-prefix p/ read-tree -n --empty", "read-tree", ["-n", "--empty"],
      ["--super-prefix", "p/"]),
    S("--shallow-file f log", "log", [], ["--shallow-file", "f"]),
    S("--bare version", "version", [], ["--bare"], bare=True),
    S("-p -P --paginate --no-pager version", "version", [], ["-p", "-P", "--paginate", "--no-pager"]),
    S("--no-replace-objects --literal-pathspecs --no-literal-pathspecs --glob-pathspecs "
      "--noglob-pathspecs --icase-pathspecs --no-optional-locks status", "status", [],
      ["--no-replace-objects", "--literal-pathspecs", "--no-literal-pathspecs",
       "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks"]),
    # Legacy spellings: git.c turns them into the version and help commands.
    S("--version", "version"),
    S("-v", "version"),
    S("--version --build-options", "version", ["--build-options"]),
    S("-c a.b=c --version", "version", [], ["-c", "a.b=c"]),
    S("--help", "help"),
    S("-h", "help"),
    S("--help status", "help", ["status"]),
    S("-C a --help status", "help", ["status"], ["-C", "a"], cdirs=["a"]),
    S("-v -C a", "version", ["-C", "a"]),
    # `git CMD --help ...` is `git help --exclude-guides CMD ...` (handle_builtin).
    S("status --help", "help", ["--exclude-guides", "status"]),
    S("commit --help -a", "help", ["--exclude-guides", "commit", "-a"]),
    S("commit -a --help", "commit", ["-a", "--help"]),
    S("status -h", "status", ["-h"]),
    # Queries: git answers and exits; the rest of argv is never looked at.
    S("--exec-path", None, query=True),
    S("--exec-path status", None, query=True),
    S("--exec-pathology", None, query=True),
    S("--exec-path=/usr/lib/git-core version", "version", [], ["--exec-path=/usr/lib/git-core"]),
    S("--html-path", None, query=True),
    S("--man-path", None, query=True),
    S("--info-path", None, query=True),
    S("--list-cmds=builtins", None, query=True),
    S("--list-cmds=main,others status", None, query=True),
    S("-C a --list-cmds=builtins", None, cdirs=["a"], query=True),
    # Usage errors: git prints usage and exits 129 without running anything.
    S("--bogus status", None, query=True),
    S("--list-cmds status", None, query=True),
    S("-- status", None, query=True),
    S("- status", None, query=True),
    S("-C", None, query=True),
    S("-c", None, query=True),
    S("--git-dir", None, query=True),
    S("--work-tree", None, query=True),
    S("--namespace", None, query=True),
    S("--config-env", None, query=True),
    # Options after the command are the command's.
    S("status -C a", "status", ["-C", "a"]),
    S("log --git-dir=x -c a=b", "log", ["--git-dir=x", "-c", "a=b"]),
]


def _row_id(row: Split) -> str:
    return " ".join(shlex.quote(w) for w in row.argv) or "<none>"


@pytest.mark.parametrize("row", SPLIT, ids=_row_id)
def test_split(row: Split) -> None:
    inv = gitargs.split(row.argv)
    got = (inv.command, inv.args, inv.query, inv.cdirs, inv.git_dir, inv.work_tree, inv.bare)
    want = (row.command, row.args, row.query, row.cdirs, row.git_dir, row.work_tree, row.bare)
    assert got == want
    if not row.query:
        assert inv.options == row.options


@pytest.fixture(scope="module")
def oracle_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with the directories the table's -C rows name. Manual
    pages are 'shown' by `true`, so `help` rows run without a pager."""
    top = tmp_path_factory.mktemp("oracle")
    subprocess.run([real_git(), "init", "-q", str(top)], check=True, env=_oracle_env(top))
    (top / "a" / "b").mkdir(parents=True)
    (top / "w").mkdir()
    with open(top / ".git" / "config", "a") as f:
        f.write("[help]\n\tformat = man\n[man]\n\tviewer = t\n[man \"t\"]\n\tcmd = true\n")
    return top


def _oracle_env(top: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITLANE_"))}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TRACE="1",
               GIT_CEILING_DIRECTORIES=str(top.parent), LC_ALL="C")
    return env


_BUILTIN = re.compile(r"trace: built-in: git (.*)$", re.M)


@pytest.mark.parametrize("row", [r for r in SPLIT if r.argv], ids=_row_id)
def test_split_agrees_with_git_trace(row: Split, oracle_repo: Path) -> None:
    res = subprocess.run([real_git(), *row.argv], cwd=oracle_repo, capture_output=True,
                         env=_oracle_env(oracle_repo), stdin=subprocess.DEVNULL)
    ran = [shlex.split(m) for m in _BUILTIN.findall(res.stderr.decode())]
    if row.query:
        assert ran == [], res.stderr.decode()
    else:
        assert ran[:1] == [[row.command, *row.args]], res.stderr.decode()


# (alias value, words); None means git refuses the alias.
CMDLINE = [
    ("status", ["status"]),
    ("log --oneline -3", ["log", "--oneline", "-3"]),
    ("log  --oneline", ["log", "--oneline"]),
    ("log\t-1", ["log", "-1"]),
    ("log\n-1", ["log", "-1"]),
    ("log\r-1", ["log", "-1"]),
    ("log\v-1", ["log\v-1"]),
    ("log\f-1", ["log\f-1"]),
    ("log \t\r\n -1", ["log", "-1"]),
    ('log "a b"', ["log", "a b"]),
    ("log 'a b'", ["log", "a b"]),
    ("log a\\ b", ["log", "a b"]),
    ("log 'a\\b'", ["log", "a\\b"]),
    ("log a\\\\b", ["log", "a\\b"]),
    ('log "a\\\\b"', ["log", "a\\b"]),
    ('log "a\\"b"', ["log", 'a"b']),
    ('log a\\"b', ["log", 'a"b']),
    ("log a\\'b", ["log", "a'b"]),
    ('log a"b c"d', ["log", "ab cd"]),
    ('log "" x', ["log", "", "x"]),
    ("log ''", ["log", ""]),
    ('log "it\'s"', ["log", "it's"]),
    ("log 'say \"hi\"'", ["log", 'say "hi"']),
    ("log \"'\"'\"'", ["log", "'\""]),
    ("log --format=%h\\ %s", ["log", "--format=%h %s"]),
    # Blanks at either end make an empty word (git then fails to run '').
    (" log", ["", "log"]),
    ("log ", ["log", ""]),
    ("log \t ", ["log", ""]),
    ("", [""]),
    # Errors: unclosed quote, backslash at the very end.
    ('log "a', None),
    ("log 'a", None),
    ("log a\\", None),
    ('log "a\\', None),
]


@pytest.mark.parametrize(("value", "words"), CMDLINE, ids=[repr(v) for v, _ in CMDLINE])
def test_split_cmdline(value: str, words: list[str] | None) -> None:
    if words is None:
        with pytest.raises(ValueError):
            gitargs.split_cmdline(value)
    else:
        assert gitargs.split_cmdline(value) == words


_EXPANSION = re.compile(r"trace: alias expansion: zz => (.*)$", re.M)


@pytest.mark.parametrize(("value", "words"), CMDLINE, ids=[repr(v) for v, _ in CMDLINE])
def test_split_cmdline_agrees_with_git(value: str, words: list[str] | None, tmp_path: Path) -> None:
    res = subprocess.run([real_git(), "-c", f"alias.zz={value}", "zz"], cwd=tmp_path,
                         capture_output=True, env=_oracle_env(tmp_path), stdin=subprocess.DEVNULL)
    err = res.stderr.decode()
    found = _EXPANSION.findall(err)
    if words is None:
        assert found == [] and "fatal: bad alias.zz string" in err, err
    else:
        assert [shlex.split(found[0])] == [words], err


# (command, args, paths that exist in the work tree, expected)
CLASSIFY = [
    ("status", "", "", READ),
    ("status", "--porcelain -uno", "", READ),
    ("diff", "--cached", "", READ),
    ("log", "--oneline -3", "", READ),
    ("show", "HEAD", "", READ),
    ("rev-parse", "--show-toplevel", "", READ),
    ("ls-files", "-s", "", READ),
    ("cat-file", "-p HEAD", "", READ),
    ("grep", "x", "", READ),
    ("help", "--exclude-guides commit", "", READ),
    ("version", "", "", READ),
    ("add", "a", "a", STAGE),
    ("add", "-A", "", STAGE),
    ("add", "-p", "", STAGE),
    ("stage", "a", "a", STAGE),
    ("rm", "a", "a", STAGE),
    ("rm", "--cached a", "a", STAGE),
    ("mv", "a b", "a", STAGE),
    ("update-index", "--add a", "a", STAGE),
    ("commit", "", "", REFS),
    ("commit", "-m msg", "", REFS),
    ("commit", "-a -m msg", "", REFS),
    ("commit", "--amend --no-edit", "", REFS),
    ("commit", "-m msg -- a", "a", REFS),
    ("merge", "topic", "", REFS),
    ("cherry-pick", "topic", "", REFS),
    ("revert", "HEAD", "", REFS),
    ("rebase", "main", "", REFS),
    ("pull", "", "", REFS),
    ("am", "p.mbox", "p.mbox", REFS),
    ("switch", "main", "", REFS),
    ("switch", "-c topic", "", REFS),
    ("stash", "", "", REFS),
    ("stash", "pop", "", REFS),
    # reset: paths stage, commits move refs.
    ("reset", "", "", REFS),
    ("reset", "-q", "", REFS),
    ("reset", "--hard", "", REFS),
    ("reset", "--hard HEAD~1", "", REFS),
    ("reset", "--soft HEAD~1", "", REFS),
    ("reset", "--mixed HEAD~1", "", REFS),
    ("reset", "--keep topic", "", REFS),
    ("reset", "--merge", "", REFS),
    ("reset", "HEAD~1", "", REFS),
    ("reset", "-- a", "", STAGE),
    ("reset", "a", "a", STAGE),
    ("reset", "HEAD a", "a", STAGE),
    ("reset", "HEAD -- a", "", STAGE),
    ("reset", "-q HEAD -- a b", "", STAGE),
    ("reset", "-p", "", STAGE),
    ("reset", "--patch HEAD", "", STAGE),
    ("reset", "--pathspec-from-file=list", "list", STAGE),
    # checkout: branches move refs; paths from a tree-ish stage.
    ("checkout", "main", "", REFS),
    ("checkout", "-", "", REFS),
    ("checkout", "-q topic", "", REFS),
    ("checkout", "-b topic", "", REFS),
    ("checkout", "-b topic", "topic", REFS),
    ("checkout", "-B topic", "", REFS),
    ("checkout", "--detach", "", REFS),
    ("checkout", "--detach HEAD~1", "", REFS),
    ("checkout", "--orphan fresh", "", REFS),
    ("checkout", "HEAD -- a", "a", STAGE),
    ("checkout", "HEAD~1 a", "a", STAGE),
    ("checkout", "main -- a b", "", STAGE),
    ("checkout", "-p", "", STAGE),
    ("checkout", "-p HEAD~1", "", STAGE),
    ("checkout", "-- a", "a", OTHER),
    # restore: --staged (or S among short flags) stages; the work tree alone is other.
    ("restore", "--staged a", "a", STAGE),
    ("restore", "-S a", "a", STAGE),
    ("restore", "-SW a", "a", STAGE),
    ("restore", "-WS a", "a", STAGE),
    ("restore", "--worktree --staged a", "a", STAGE),
    ("restore", "--source=HEAD~1 --staged a", "a", STAGE),
    ("restore", "-s HEAD~1 --staged a", "a", STAGE),
    ("restore", "a", "a", OTHER),
    ("restore", "--worktree a", "a", OTHER),
    ("restore", "-s HEAD~1 a", "a", OTHER),
    ("restore", "--source HEAD~1 a", "a", OTHER),
    ("restore", "-- -S", "-S", OTHER),
    # branch and tag: listing reads, anything else moves refs.
    ("branch", "", "", READ),
    ("branch", "-a", "", READ),
    ("branch", "-r", "", READ),
    ("branch", "-vv", "", READ),
    ("branch", "--list", "", READ),
    ("branch", "--list 'feat*'", "", READ),
    ("branch", "-l feat", "", READ),
    ("branch", "--show-current", "", READ),
    ("branch", "--contains HEAD", "", READ),
    ("branch", "--merged HEAD topic", "", READ),
    ("branch", "--format=%(refname)", "", READ),
    ("branch", "topic", "", REFS),
    ("branch", "topic HEAD~1", "", REFS),
    ("branch", "-f topic HEAD", "", REFS),
    ("branch", "-d topic", "", REFS),
    ("branch", "-D topic", "", REFS),
    ("branch", "-m old new", "", REFS),
    ("branch", "-c old new", "", REFS),
    ("branch", "-u origin/main", "", REFS),
    ("tag", "", "", READ),
    ("tag", "-l", "", READ),
    ("tag", "-l 'v*'", "", READ),
    ("tag", "--list 'v*'", "", READ),
    ("tag", "-n", "", READ),
    ("tag", "-n v1", "", READ),
    ("tag", "--points-at HEAD", "", READ),
    ("tag", "--contains v1 v2", "", READ),
    ("tag", "v1", "", REFS),
    ("tag", "v1 HEAD~1", "", REFS),
    ("tag", "-d v1", "", REFS),
    ("tag", "-f v1", "", REFS),
    # apply: only --cached/--index touch the index.
    ("apply", "p.diff", "p.diff", OTHER),
    ("apply", "--check p.diff", "p.diff", OTHER),
    ("apply", "-R p.diff", "p.diff", OTHER),
    ("apply", "--cached p.diff", "p.diff", STAGE),
    ("apply", "--index p.diff", "p.diff", STAGE),
    # Everything else passes through with the session index.
    ("read-tree", "HEAD", "", OTHER),
    ("write-tree", "", "", OTHER),
    ("fetch", "origin", "", OTHER),
    ("push", "origin main", "", OTHER),
    ("worktree", "add ../wt", "", OTHER),
    ("submodule", "update --init", "", OTHER),
    ("config", "user.name x", "", OTHER),
    ("clean", "-fd", "", OTHER),
    ("gc", "", "", OTHER),
    ("frobnicate", "--now", "", OTHER),
]

# Rows where classify() disagrees with git 2.39 (bugs in commands.py).
CLASSIFY_BUGS = [
    # `checkout -b/-B/--orphan NEW START` creates a branch and moves HEAD: it is
    # counted as two positionals and classified STAGE (session lock only).
    pytest.param("checkout", "-b topic main", "", REFS, id="checkout -b topic main"),
    pytest.param("checkout", "-B topic HEAD~1", "", REFS, id="checkout -B topic HEAD~1"),
    pytest.param("checkout", "--orphan fresh main", "", REFS, id="checkout --orphan fresh main"),
    pytest.param("checkout", "--track -b topic origin/topic", "", REFS,
                 id="checkout --track -b topic origin/topic"),
    # branch.c enters list mode only with no name (and no action) or with -l,
    # --list, --contains, --no-contains, --merged, --no-merged, --points-at.
    # -v/-vv/-a/-r/--format/--sort/--column do not: these create or delete refs.
    pytest.param("branch", "-v topic", "", REFS, id="branch -v topic (creates)"),
    pytest.param("branch", "--sort=refname topic", "", REFS, id="branch --sort=refname topic"),
    pytest.param("branch", "--format=%(refname) topic", "", REFS, id="branch --format topic"),
    pytest.param("branch", "--column topic", "", REFS, id="branch --column topic"),
    pytest.param("branch", "-v -d topic", "", REFS, id="branch -v -d topic (deletes)"),
    pytest.param("branch", "-r -d origin/topic", "", REFS, id="branch -r -d origin/topic"),
    # tag's -a is --annotate, not branch's --all: the usual way to make an
    # annotated tag is classified READ and runs without the global lock.
    pytest.param("tag", "-a v1 -m msg", "", REFS, id="tag -a v1 -m msg"),
    pytest.param("tag", "-a -m msg v1", "", REFS, id="tag -a -m msg v1"),
    pytest.param("tag", "--sort=refname v1", "", REFS, id="tag --sort=refname v1 (creates)"),
    pytest.param("tag", "--format=x v1", "", REFS, id="tag --format=x v1"),
    # parse-options accepts unambiguous abbreviations of long options.
    pytest.param("restore", "--stag a", "a", STAGE, id="restore --stag a"),
    pytest.param("apply", "--cach p.diff", "p.diff", STAGE, id="apply --cach p.diff"),
]


def _classify(command: str, args: str, existing: str) -> str:
    present = set(existing.split())
    return commands.classify(command, shlex.split(args), lambda p: p in present)


@pytest.mark.parametrize(("command", "args", "existing", "kind"), CLASSIFY,
                         ids=[f"{c} {a}".strip() for c, a, _, _ in CLASSIFY])
def test_classify(command: str, args: str, existing: str, kind: str) -> None:
    assert _classify(command, args, existing) == kind


@pytest.mark.parametrize(("command", "args", "existing", "kind"), CLASSIFY_BUGS)
def test_classify_once_misread(command: str, args: str, existing: str, kind: str) -> None:
    assert _classify(command, args, existing) == kind


def test_builtins_cover_git_list() -> None:
    """Every built-in of the installed git is in BUILTINS, so none is ever
    looked up as an alias (git never lets an alias override a built-in)."""
    out = subprocess.run([real_git(), "--list-cmds=builtins"], capture_output=True,
                         check=True).stdout.decode().split()
    assert set(out) - gitargs.BUILTINS == set()
