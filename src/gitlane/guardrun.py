"""Apply the guard: build the view of other live sessions, compute the paths
a command would touch, decide, and refuse (or, with GITLANE_FORCE=1, audit
and allow)."""
from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False  # `typing` costs ~10 ms to import: annotations only

from gitlane import guard, state
from gitlane.commands import positionals
from gitlane.errors import Fatal

if TYPE_CHECKING:
    import sqlite3

    from gitlane.shim import Ctx

GUARDED = frozenset(("stash", "switch", "bisect", "checkout", "reset", "clean", "restore",
                     "merge", "cherry-pick", "revert", "rebase", "update-index", "rm", "add"))


def relevant(ctx: "Ctx") -> bool:
    if ctx.command not in GUARDED:
        return False
    if ctx.command in ("reset",):
        return bool({"--hard", "--merge", "--keep"} & set(ctx.args))
    if ctx.command in ("update-index", "rm", "add"):
        return guard.wants(ctx.command, ctx.args, ctx.kind) is not None
    return True


def check(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    if not relevant(ctx):
        return
    view = build_view(ctx, conn)
    if not view.others:
        return
    need = guard.wants(ctx.command, ctx.args, ctx.kind)
    paths = affected(ctx, need, view) if need else None
    decision = guard.decide(ctx.command, ctx.args, ctx.kind, view, paths)
    if decision.allowed:
        return
    if os.environ.get("GITLANE_FORCE") == "1":
        with state.tx(conn):
            state.audit(conn, "force", ctx.name, argv=" ".join(ctx.argv), detail=decision.reason[:500])
        sys.stderr.write(f"gitlane: GITLANE_FORCE=1: allowing what the guard refuses ({decision.reason.splitlines()[0]})\n")
        return
    raise Fatal(decision.reason, decision.hint)


def build_view(ctx: "Ctx", conn: "sqlite3.Connection") -> guard.View:
    from gitlane.ownership import alive_checker
    alive = alive_checker(conn)
    now = time.time()
    pids = dict(conn.execute("SELECT name, pid FROM sessions WHERE ended IS NULL AND name != ?", (ctx.name,)))
    claims: dict[str, set[bytes]] = {n: set() for n in pids}
    for path, sess in conn.execute("SELECT path, session FROM claims WHERE wt = ? AND session != ?",
                                   (ctx.repo.worktree_id, ctx.name)):
        claims.setdefault(sess, set()).add(bytes(path))
    reserved: dict[str, list[str]] = {}
    for sess, pat in conn.execute("SELECT session, pattern FROM reservations WHERE exclusive = 1 "
                                  "AND session != ? AND expires > ?", (ctx.name, now)):
        reserved.setdefault(sess, []).append(pat)
    others = [guard.Other(n, pids.get(n), frozenset(claims.get(n, ())), tuple(reserved.get(n, ())))
              for n in sorted(set(pids) | set(claims) | set(reserved)) if alive(n)]
    return guard.View(others)


def affected(ctx: "Ctx", need: str, view: guard.View) -> list[bytes]:
    if need == "pathspec":
        return _pathspec(ctx)
    if need == "clean":
        return _clean(ctx, view)
    return _incoming(ctx)


def _user_run(ctx: "Ctx", *args: str) -> bytes:
    """git in the user's cwd with the user's pathspec semantics."""
    extra = {"GIT_LITERAL_PATHSPECS": os.environ.get("GIT_LITERAL_PATHSPECS", "0")}
    return ctx.git.run("-C", ctx.repo.cwd, *args, index=ctx.index.path, check=False, extra=extra).out


def _spec_words(ctx: "Ctx") -> list[str]:
    skip_next = {"-s", "--source", "-b", "-B", "--orphan", "--conflict", "-m", "--message"}
    words, after, skip = [], False, False
    for word in ctx.args:
        if skip:
            skip = False
        elif after:
            words.append(word)
        elif word == "--":
            after = True
        elif word in skip_next:
            skip = True
        elif not word.startswith("-"):
            words.append(word)
    if ctx.command == "stash" and words[:1] == ["push"]:
        words = words[1:]
    return words


def _pathspec(ctx: "Ctx") -> list[bytes]:
    words = _spec_words(ctx)
    if not words:
        return []
    out = _user_run(ctx, "ls-files", "-z", "--full-name", "--", *words)
    found = [p for p in out.split(b"\0") if p] + [_top_rel(ctx, w) for w in words]
    return list(dict.fromkeys(found))


def _top_rel(ctx: "Ctx", word: str) -> bytes:
    return os.fsencode(os.path.relpath(os.path.join(ctx.repo.cwd, word), ctx.repo.top))


def _clean_args(args: list[str]) -> list[str]:
    """The same clean, as a dry run: drop -f/-i/-q, keep -d/-x/-X/-e and paths."""
    out: list[str] = []
    after = False
    for word in args:
        if after or word == "--":
            after = True
            out.append(word)
        elif word in ("--force", "--interactive", "--quiet", "--dry-run"):
            continue
        elif word.startswith("-") and not word.startswith("--"):
            rest = "".join(c for c in word[1:] if c not in "fiqn")
            if rest:
                out.append("-" + rest)
        else:
            out.append(word)
    return out


def _clean(ctx: "Ctx", view: guard.View) -> list[bytes]:
    out = _user_run(ctx, "-c", "core.quotePath=false", "clean", "-n", *_clean_args(ctx.args))
    prefix = os.path.relpath(ctx.repo.cwd, ctx.repo.top)
    files: list[bytes] = []
    dirs: list[bytes] = []
    for line in out.splitlines():
        if line.startswith(b"Would remove "):
            rel = os.fsencode(os.path.normpath(os.path.join(prefix, os.fsdecode(line[13:]))))
            (dirs if line.endswith(b"/") else files).append(rel + b"/" if line.endswith(b"/") else rel)
    claimed = {p for o in view.others for p in o.claims}
    return files + [c for d in dirs for c in claimed if c.startswith(d)]


def _incoming(ctx: "Ctx") -> list[bytes]:
    if any(a in ("--continue", "--abort", "--skip", "--quit") for a in ctx.args):
        return []
    before, _ = positionals(ctx.args)
    paths: list[bytes] = []
    for rev in before[:8]:
        if ctx.command in ("merge", "rebase"):
            spec = [f"HEAD...{rev}"] + ([f"{rev}...HEAD"] if ctx.command == "rebase" else [])
            for s in spec:
                paths += _names(ctx, "diff", "--name-only", "-z", "--no-renames", s)
        elif ".." in rev:
            paths += _names(ctx, "diff", "--name-only", "-z", "--no-renames", rev)
        else:
            paths += _names(ctx, "diff-tree", "-r", "--root", "--name-only", "-z", "--no-renames",
                            "--no-commit-id", rev)
    return paths


def _names(ctx: "Ctx", *args: str) -> list[bytes]:
    res = ctx.git.run(*args, check=False)
    return [p for p in res.out.split(b"\0") if p] if res.rc == 0 else []
