"""Who owns a path: claims (staged, or edited through an agent hook) and glob
reservations. Decisions here are pure given rows; only live sessions count."""
from __future__ import annotations

import os
import time

from gitlane.errors import Fatal

TYPE_CHECKING = False  # `typing` costs ~10 ms to import: annotations only
if TYPE_CHECKING:
    import sqlite3
    from typing import Callable, Iterable, Sequence

DEFAULT_TTL = 30 * 60
MAX_TTL = 24 * 3600


class Owner:
    __slots__ = ("session", "pid", "kind", "reason", "since", "expires")

    def __init__(self, session: str, pid: int | None, kind: str, reason: str = "",
                 since: float = 0.0, expires: float | None = None) -> None:
        self.session = session
        self.pid = pid
        self.kind = kind          # 'staged', 'edit', 'reserved'
        self.reason = reason
        self.since = since
        self.expires = expires

    def describe(self, now: float | None = None) -> str:
        now = now or time.time()
        verb = {"staged": "staged by", "edit": "being edited by", "reserved": "reserved by"}[self.kind]
        bits = [f"pid {self.pid}" if self.pid else "pid ?"]
        if self.reason:
            bits.append(repr(self.reason))
        if self.expires is not None:
            bits.append(f"{human_duration(self.expires - now)} left")
        else:
            bits.append(f"for {human_duration(now - self.since)}")
        return f"{verb} session {self.session} ({', '.join(bits)})"


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """gitwildmatch globs relative to the top of the work tree (pathspec)."""
    import pathspec
    try:  # pathspec >= 1.0 renamed the factory; 'gitwildmatch' warns there
        spec = pathspec.PathSpec.from_lines("gitignore", patterns)
    except (KeyError, LookupError):
        spec = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    return spec.match_file


def find(conn: sqlite3.Connection, wt: str, me: str, paths: Iterable[bytes],
         alive: Callable[[str], bool], now: float | None = None) -> list[tuple[bytes, Owner]]:
    """Every (path, owner) where a live session other than `me` owns path."""
    now = now or time.time()
    pids = dict(conn.execute("SELECT name, pid FROM sessions").fetchall())
    claims = {bytes(p): (s, k, t) for p, s, k, t in conn.execute(
        "SELECT path, session, kind, since FROM claims WHERE wt = ? AND session != ?", (wt, me))}
    reservations = [(s, pat, reason, created, expires) for s, pat, reason, created, expires in conn.execute(
        "SELECT session, pattern, reason, created, expires FROM reservations "
        "WHERE exclusive = 1 AND session != ? AND expires > ?", (me, now))]
    matchers = {pat: matcher([pat]) for _, pat, _, _, _ in reservations}
    found: list[tuple[bytes, Owner]] = []
    for path in paths:
        claim = claims.get(path)
        if claim and alive(claim[0]):
            found.append((path, Owner(claim[0], pids.get(claim[0]), claim[1], since=claim[2])))
            continue
        text = os.fsdecode(path)
        for sess, pat, reason, created, expires in reservations:
            if matchers[pat](text) and alive(sess):
                found.append((path, Owner(sess, pids.get(sess), "reserved", reason or pat, created, expires)))
                break
    return found


def alive_checker(conn: sqlite3.Connection) -> Callable[[str], bool]:
    """Memoised liveness by session name (psutil only for sessions we meet)."""
    from gitlane import liveness
    rows = {n: (pid, ct, ended) for n, pid, ct, ended in
            conn.execute("SELECT name, pid, ctime, ended FROM sessions")}
    memo: dict[str, bool] = {}

    def alive(name: str) -> bool:
        if name not in memo:
            pid, ctime, ended = rows.get(name, (None, None, None))
            memo[name] = name in rows and ended is None and liveness.is_alive(pid, ctime)
        return memo[name]
    return alive


def set_staged(conn: sqlite3.Connection, wt: str, me: str, staged: Sequence[bytes]) -> bool:
    """Make `me`'s staged claims exactly `staged`. Returns True if anything changed."""
    old = {bytes(p) for (p,) in conn.execute(
        "SELECT path FROM claims WHERE wt = ? AND session = ? AND kind = 'staged'", (wt, me))}
    new = set(staged)
    if old == new:
        return False
    now = time.time()
    conn.executemany("DELETE FROM claims WHERE wt = ? AND path = ? AND session = ?",
                     [(wt, p, me) for p in old - new])
    conn.executemany("INSERT OR REPLACE INTO claims (wt, path, session, kind, since) VALUES (?, ?, ?, 'staged', ?)",
                     [(wt, p, me, now) for p in new - old])
    return True


def refusal(action: str, found: Sequence[tuple[bytes, Owner]], nothing: str) -> Fatal:
    now = time.time()
    found = dedupe(found)
    width = min(48, max(len(os.fsdecode(p)) for p, _ in found))
    lines = [f"refusing to {action} {len(found)} path{'s' if len(found) != 1 else ''} owned by another live session:"]
    lines += [f"{os.fsdecode(p):<{width}}  {o.describe(now)}" for p, o in found[:20]]
    if len(found) > 20:
        lines.append(f"... and {len(found) - 20} more")
    return Fatal("\n".join(lines),
                 f"{nothing}. Ask the owner to commit or release it (`gitlane who PATH`),\n"
                 "or leave those paths out; a dead owner stops blocking by itself", code=1)


def dedupe(found: Sequence[tuple[bytes, "Owner"]]) -> list[tuple[bytes, "Owner"]]:
    seen: set[bytes] = set()
    return [(p, o) for p, o in found if not (p in seen or seen.add(p))]
