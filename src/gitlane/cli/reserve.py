"""`gitlane reserve` and `gitlane release`: glob reservations with a TTL."""
from __future__ import annotations

import argparse
import os
import time

from gitlane import layout
from gitlane.cli.common import add_json, emit_json, open_env, plural
from gitlane.errors import Fatal
from gitlane.shared import claims, db, sessions


def configure(p: argparse.ArgumentParser, name: str) -> None:
    if name == "reserve":
        p.add_argument("patterns", nargs="+", metavar="PATTERN",
                       help="gitwildmatch globs, relative to the top of the work tree")
        p.add_argument("--ttl", default="30m", help="how long, e.g. 90s, 30m, 2h (default 30m, at most 24h)")
        p.add_argument("--shared", action="store_true", help="a shared (non-exclusive) reservation")
        p.add_argument("--reason", default="", help="shown to sessions you block")
    else:
        p.add_argument("patterns", nargs="*", metavar="PATTERN")
        p.add_argument("--all", action="store_true", help="release every reservation of the session")
        p.add_argument("--session", help="release another session's reservations (needs --force)")
        p.add_argument("--force", action="store_true")
    add_json(p)


def run(args: argparse.Namespace) -> int:
    return _reserve(args) if args.command == "reserve" else _release(args)


def parse_ttl(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text) * 60
    except (ValueError, KeyError, IndexError):
        raise Fatal(f"invalid --ttl {text!r}", "use a number with s, m or h, e.g. 45m", code=2) from None
    if seconds <= 0:
        raise Fatal(f"invalid --ttl {text!r}: it must be positive", "e.g. --ttl 30m", code=2)
    return min(seconds, claims.MAX_TTL)


def check_pattern(pattern: str) -> str:
    problem = claims.pattern_problem(pattern)
    if problem:
        shown = layout.shown(pattern[:60]) + ("…" if len(pattern) > 60 else "")
        raise Fatal(f"invalid reservation pattern '{shown}': {problem}",
                    "patterns are gitwildmatch globs inside the work tree, e.g. 'src/api/**' or '*.md'", code=2)
    return pattern


def _reserve(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    me = env.need_session()
    patterns = [check_pattern(p) for p in args.patterns]
    ttl = parse_ttl(args.ttl)
    conn = env.conn
    if sessions.get(conn, me) is None:
        sessions.register(conn, me, os.environ, os.getcwd())
    candidates = [os.fsdecode(p) for p in env.git.all_paths()]
    alive = claims.alive_checker(conn)
    now = time.time()
    with db.tx(conn):
        found = claims.clashes(conn, me, patterns, not args.shared, candidates, alive)
        if found:
            pids = {r.name: r.pid for r in sessions.records(conn)}
            lines = [f"cannot reserve: {plural(len(found), 'pattern')} overlap reservations of other live sessions:"]
            lines += [f"{mine}  overlaps {r.pattern} ({'exclusive' if r.exclusive else 'shared'}) held by session "
                      f"{r.session}{' ' + repr(r.reason) if r.reason else ''} (pid {pids.get(r.session) or '?'}, "
                      f"{claims.human_duration(r.expires - now)} left)" for mine, r in found]
            raise Fatal("\n".join(lines), "nothing was reserved; ask the holder (`gitlane status`), "
                        "wait for the TTL, or reserve narrower patterns")
        claims.reserve(conn, me, patterns, not args.shared, args.reason, ttl)
        db.audit(conn, "reserve", me, argv=" ".join(patterns), detail=f"ttl={ttl:g}s shared={args.shared}")
    if args.json:
        return emit_json(dict(session=me, patterns=patterns, exclusive=not args.shared, ttl=ttl))
    kind = "shared" if args.shared else "exclusive"
    print(f"reserved {', '.join(patterns)} for session {me} ({kind}, {claims.human_duration(ttl)})")
    return 0


def _release(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    target = args.session or env.need_session()
    if args.session and args.session != env.name and not args.force:
        raise Fatal(f"releasing session {args.session}'s reservations needs --force",
                    f"gitlane release --session {args.session} --force [PATTERN...] (audited)", code=2)
    if not args.all and not args.patterns and not args.session:
        raise Fatal("name the patterns to release, or --all", "gitlane release 'src/**'  or  gitlane release --all", code=2)
    conn = env.conn
    match = _path_matcher(env, args.patterns)
    with db.tx(conn):
        count = claims.release(conn, target, args.patterns)
        paths = claims.release_unstaged(conn, env.repo.worktree_id, target, match) if args.patterns else []
        event = "force-release" if target != env.name else "release"
        db.audit(conn, event, env.name, argv=" ".join(args.patterns) or "--all", detail=f"of session {target}",
                 paths=b"\0".join(paths) or None)
    if args.json:
        out = dict(session=target, released=count)
        if paths:
            out["paths"] = [os.fsdecode(p) for p in paths]
        return emit_json(out)
    print(f"released {plural(count, 'reservation')} of session {target}"
          + (f" and its changes to {plural(len(paths), 'path')} (now nobody's)" if paths else ""))
    return 0


def _path_matcher(env, patterns: list[str]):  # type: ignore[no-untyped-def]
    """A PATH (relative to here) or a glob (relative to the top) names the
    paths whose unstaged attributions `release` ends."""
    literal = set()
    for p in patterns:
        rel = os.path.relpath(os.path.abspath(p), env.repo.top)
        if not rel.startswith(".."):
            literal.add(os.fsencode(rel))
    globs = claims.matcher([p for p in patterns if claims.pattern_problem(p) is None]) if patterns else None
    return lambda path: path in literal or bool(globs and globs(os.fsdecode(path)))
