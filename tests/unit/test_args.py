"""git.args: split() and split_cmdline() by tables.

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
from gitlane.testing.lane import real_git


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


def test_builtins_cover_git_list() -> None:
    """Every built-in of the installed git is in BUILTINS, so none is ever
    looked up as an alias (git never lets an alias override a built-in)."""
    out = subprocess.run([real_git(), "--list-cmds=builtins"], capture_output=True,
                         check=True).stdout.decode().split()
    assert set(out) - gitargs.BUILTINS == set()
