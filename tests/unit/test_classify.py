"""run.classify: which lock a command needs, and what its arguments name.

classify() by table (the rows that once disagreed with git 2.39 kept apart),
then the argument parsers the pipeline and the guard rely on: restore's
targets, reset's mode, apply's target, index-only staging, stash's
subcommand and paths, pathspec words, literal paths, clean's dry run, long
option abbreviations and commit's flags. Pure functions: no git, no files.
"""
from __future__ import annotations

import shlex

import pytest

from gitlane.run import classify as commands

READ, STAGE, REFS, OTHER = commands.READ, commands.STAGE, commands.REFS, commands.OTHER


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
