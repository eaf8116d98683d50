"""`gitlane reserve` and `gitlane release`: glob reservations with a TTL."""
from __future__ import annotations

import argparse
import os
import time

from gitlane import ownership, state
from gitlane.cli.common import add_json, emit_json, open_env, plural
from gitlane.errors import Fatal

MAX_PATTERN = 1000


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
    return min(seconds, ownership.MAX_TTL)


def check_pattern(pattern: str) -> str:
    bad = (not pattern.strip() or len(pattern) > MAX_PATTERN or "\0" in pattern
           or any(ord(c) < 32 for c in pattern) or pattern.startswith(("/..", "../")) or "/../" in pattern
           or pattern in ("..", "."))
    if bad:
        shown = pattern[:60].encode("unicode_escape").decode()
        raise Fatal(f"invalid reservation pattern {shown!r}",
                    "patterns are gitwildmatch globs inside the work tree, e.g. 'src/api/**' or '*.md'", code=2)
    try:
        ownership.matcher([pattern])
    except Exception as exc:
        raise Fatal(f"invalid reservation pattern {pattern!r}: {exc}", "check the glob syntax", code=2) from None
    return pattern


def _reserve(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    me = env.need_session()
    patterns = [check_pattern(p) for p in args.patterns]
    ttl = parse_ttl(args.ttl)
    conn = env.conn
    from gitlane import registry
    if registry.get(conn, me) is None:
        registry.register(conn, me, os.environ, os.getcwd())
    candidates = _candidates(env)
    alive = ownership.alive_checker(conn)
    now = time.time()
    with state.tx(conn):
        clashes = _clashes(conn, me, patterns, not args.shared, candidates, alive, now)
        if clashes:
            lines = [f"cannot reserve: {plural(len(clashes), 'pattern')} overlap reservations of other live sessions:"]
            pids = dict(conn.execute("SELECT name, pid FROM sessions").fetchall())
            lines += [f"{mine}  overlaps {theirs} ({'exclusive' if excl else 'shared'}) held by session {sess}"
                      f"{' ' + repr(reason) if reason else ''} (pid {pids.get(sess) or '?'}, "
                      f"{ownership.human_duration(exp - now)} left)"
                      for mine, theirs, sess, excl, reason, exp in clashes]
            raise Fatal("\n".join(lines), "nothing was reserved; ask the holder (`gitlane status`), "
                        "wait for the TTL, or reserve narrower patterns")
        for pat in patterns:
            conn.execute("DELETE FROM reservations WHERE session = ? AND pattern = ?", (me, pat))
            conn.execute("INSERT INTO reservations (session, pattern, exclusive, reason, created, expires) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (me, pat, int(not args.shared), args.reason, now, now + ttl))
        state.bump_generation(conn)
        state.audit(conn, "reserve", me, argv=" ".join(patterns), detail=f"ttl={ttl:g}s shared={args.shared}")
    if args.json:
        return emit_json(dict(session=me, patterns=patterns, exclusive=not args.shared, ttl=ttl))
    kind = "shared" if args.shared else "exclusive"
    print(f"reserved {', '.join(patterns)} for session {me} ({kind}, {ownership.human_duration(ttl)})")
    return 0


def _candidates(env) -> list[str]:  # type: ignore[no-untyped-def]
    """Paths that exist now, to test two globs for overlap on real files."""
    res = env.git.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
    return [os.fsdecode(p) for p in res.out.split(b"\0") if p]


def overlap(a: str, b: str, candidates: list[str]) -> bool:
    """Do two globs cover a common path? Glob intersection is hard in general,
    so we test both matchers on every path that exists today plus paths built
    from the patterns themselves: each instantiated, and each one's file name
    placed in the other's directories (so `*.md` meets `docs/**`)."""
    ma, mb = ownership.matcher([a]), ownership.matcher([b])
    return a == b or any(ma(p) and mb(p) for p in _probes(a, b) + candidates)


def _instances(pattern: str) -> list[str]:
    """Concrete paths the pattern matches: wildcards filled in, and for a
    directory pattern (`docs/`, `src/**`) a file inside it."""
    core = pattern.strip("/") or "x"
    found = [_fill(core)]
    if pattern.endswith(("/", "/**", "/*")):
        found.append(_fill(core.rstrip("*").rstrip("/")) + "/x")
    return found


def _fill(glob: str) -> str:
    one = glob.replace("**", "x/x").replace("*", "x").replace("?", "x")
    if "[" in one:
        import re
        one = re.sub(r"\[!?\]?[^\]]*\]", lambda m: (m.group(0).lstrip("[!").rstrip("]") or "x")[0], one)
    return one


def _probes(a: str, b: str) -> list[str]:
    ia, ib = _instances(a), _instances(b)
    mixed = [f"{os.path.dirname(p)}/{os.path.basename(q)}".lstrip("/") for p in ia for q in ib]
    mixed += [f"{os.path.dirname(q)}/{os.path.basename(p)}".lstrip("/") for p in ia for q in ib]
    return ia + ib + mixed


def _clashes(conn, me, patterns, exclusive, candidates, alive, now):  # type: ignore[no-untyped-def]
    found = []
    for sess, pat, excl, reason, exp in conn.execute(
            "SELECT session, pattern, exclusive, reason, expires FROM reservations "
            "WHERE session != ? AND expires > ?", (me, now)).fetchall():
        if not (excl or exclusive) or not alive(sess):
            continue
        found += [(mine, pat, sess, excl, reason, exp) for mine in patterns if overlap(mine, pat, candidates)]
    return found


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
    with state.tx(conn):
        if args.patterns:
            cur = conn.executemany("DELETE FROM reservations WHERE session = ? AND pattern = ?",
                                   [(target, p) for p in args.patterns])
        else:
            cur = conn.execute("DELETE FROM reservations WHERE session = ?", (target,))
        count = cur.rowcount
        state.bump_generation(conn)
        event = "force-release" if target != env.name else "release"
        state.audit(conn, event, env.name, argv=" ".join(args.patterns) or "--all", detail=f"of session {target}")
    if args.json:
        return emit_json(dict(session=target, released=count))
    print(f"released {plural(count, 'reservation')} of session {target}")
    return 0
