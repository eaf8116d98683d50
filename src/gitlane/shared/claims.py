"""Who owns a path: claims (staged, or edited) and glob reservations.

This module owns every row of the `claims` and `reservations` tables, the
SQL of `shared_state` (merges in progress, run.merge_state) and of commit
attribution (who made a commit, from the audit log), and the generation counter: each function that changes ownership bumps the counter
in the same transaction and writes it to the plain `generation` file, so the
hot path learns "nothing changed" with one read and no sqlite
(layout.isolation_in_step). Only live sessions block; liveness is
shared.liveness's (pid plus create time).
"""
from __future__ import annotations

import os
import time

from gitlane import files, layout
from gitlane.errors import Fatal
from gitlane.shared import db

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Callable, Iterable, Sequence

DEFAULT_TTL = 30 * 60
MAX_TTL = 24 * 3600
MAX_PATTERN = 1000
STAGED, EDIT, RESERVED = "staged", "edit", "reserved"
# A file on disk at the version of a session's own branch, not the shared
# HEAD's (run.switch): its session's until it switches back or ends.
BRANCH = "branch"
COMMITTED = "committed"  # not a claim: a live session's commit, named in refusals


class Owner:
    __slots__ = ("session", "pid", "kind", "reason", "since", "expires")

    def __init__(self, session: str, pid: int | None, kind: str, reason: str = "",
                 since: float = 0.0, expires: float | None = None) -> None:
        self.session = session
        self.pid = pid
        self.kind = kind          # STAGED, EDIT, RESERVED
        self.reason = reason
        self.since = since
        self.expires = expires

    def describe(self, now: float | None = None) -> str:
        now = now or time.time()
        verb = {STAGED: "staged by", EDIT: "being edited by", RESERVED: "reserved by",
                BRANCH: "on disk from the branch of", COMMITTED: "committed by"}[self.kind]
        bits = [f"pid {self.pid}" if self.pid else "pid ?"]
        if self.kind == COMMITTED:
            return f"committed by session {self.session} in {self.reason} ({bits[0]})"
        if self.reason:
            bits.append(repr(self.reason))
        if self.expires is not None:
            bits.append(f"{human_duration(self.expires - now)} left")
        else:
            bits.append(f"for {human_duration(now - self.since)}")
        return f"{verb} session {self.session} ({', '.join(bits)})"


class Peer:
    """Another session with its claims and exclusive reservations."""
    __slots__ = ("name", "pid", "claims", "reserved")

    def __init__(self, name: str, pid: int | None, claims: frozenset[bytes] = frozenset(),
                 reserved: tuple[str, ...] = ()) -> None:
        self.name = name
        self.pid = pid
        self.claims = claims
        self.reserved = reserved

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Peer) and (self.name, self.pid, self.claims, self.reserved) == \
            (other.name, other.pid, other.claims, other.reserved)

    def __hash__(self) -> int:
        return hash((self.name, self.pid))


class Change:
    """The generation before and after one ownership change."""
    __slots__ = ("before", "after")

    def __init__(self, before: int, after: int) -> None:
        self.before = before
        self.after = after


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


# --- the generation ------------------------------------------------------------

def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def _bump(conn: sqlite3.Connection) -> Change:
    before = generation(conn)
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    after = generation(conn)
    target = db.state_file(conn, layout.GENERATION)
    if target:
        try:
            files.write_atomic(target, b"%d\n" % after, durable=False)
        except OSError:
            pass  # readers then see an old value and sync once more than needed
    return Change(before, after)


def bump(conn: sqlite3.Connection) -> Change:
    """Ownership changed in a way no other function here records (a revived owner)."""
    with db.tx(conn):
        return _bump(conn)


# --- reading ---------------------------------------------------------------------

def matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """gitwildmatch globs relative to the top of the work tree (pathspec). A
    glob too complex to match in bounded time (shared.globs; refused by
    `reserve`, so only a database from an older gitlane has one) matches
    only the path spelled exactly like it."""
    import pathspec
    from gitlane.shared import globs
    literal = {p for p in patterns if globs.problem(p)}
    safe = [p for p in patterns if p not in literal]
    try:  # pathspec >= 1.0 renamed the factory; 'gitwildmatch' warns there
        spec = pathspec.PathSpec.from_lines("gitignore", safe)
    except (KeyError, LookupError):
        spec = pathspec.PathSpec.from_lines("gitwildmatch", safe)
    if not literal:
        return spec.match_file
    return lambda path: path in literal or spec.match_file(path)


def alive_checker(conn: sqlite3.Connection) -> Callable[[str], bool]:
    """Memoised liveness by session name (psutil only for sessions we meet)."""
    from gitlane.shared import liveness
    rows = {n: (pid, ct, ended) for n, pid, ct, ended in
            conn.execute("SELECT name, pid, ctime, ended FROM sessions")}
    memo: dict[str, bool] = {}

    def alive(name: str) -> bool:
        if name not in memo:
            pid, ctime, ended = rows.get(name, (None, None, None))
            memo[name] = name in rows and ended is None and liveness.is_alive(pid, ctime)
        return memo[name]
    return alive


def find(conn: sqlite3.Connection, wt: str, me: str, paths: Iterable[bytes],
         alive: Callable[[str], bool], now: float | None = None) -> list[tuple[bytes, Owner]]:
    """Every (path, owner) where a live session other than `me` owns path."""
    now = now or time.time()
    pids = dict(conn.execute("SELECT name, pid FROM sessions").fetchall())
    claimed = {bytes(p): (s, k, t) for p, s, k, t in conn.execute(
        "SELECT path, session, kind, since FROM claims WHERE wt = ? AND session != ?", (wt, me))}
    reserved = _reservation_rows(conn, me, now)
    matchers = {pat: matcher([pat]) for _, pat, _, _, _ in reserved}
    found: list[tuple[bytes, Owner]] = []
    for path in paths:
        claim = claimed.get(path)
        if claim and alive(claim[0]):
            found.append((path, Owner(claim[0], pids.get(claim[0]), claim[1], since=claim[2])))
            continue
        text = os.fsdecode(path)
        for sess, pat, reason, created, expires in reserved:
            if matchers[pat](text) and alive(sess):
                found.append((path, Owner(sess, pids.get(sess), RESERVED, reason or pat, created, expires)))
                break
    return found


def owners_of(conn: sqlite3.Connection, wt: str, path: bytes, now: float | None = None) -> list[Owner]:
    """Everyone with a claim on or a reservation over path, live or not (`gitlane who`)."""
    return [o for _, o in find(conn, wt, "", [path], lambda _name: True, now)]


def _reservation_rows(conn: sqlite3.Connection, me: str, now: float) -> list[tuple[str, str, str, float, float]]:
    return conn.execute("SELECT session, pattern, reason, created, expires FROM reservations "
                        "WHERE exclusive = 1 AND session != ? AND expires > ?", (me, now)).fetchall()


def peers(conn: sqlite3.Connection, wt: str, me: str, alive: Callable[[str], bool]) -> list[Peer]:
    """The other live sessions with their claims here and exclusive reservations."""
    now = time.time()
    pids = dict(conn.execute("SELECT name, pid FROM sessions WHERE ended IS NULL AND name != ?", (me,)))
    claimed: dict[str, set[bytes]] = {n: set() for n in pids}
    for path, sess in conn.execute("SELECT path, session FROM claims WHERE wt = ? AND session != ?", (wt, me)):
        claimed.setdefault(sess, set()).add(bytes(path))
    reserved: dict[str, list[str]] = {}
    for sess, pat, _, _, _ in _reservation_rows(conn, me, now):
        reserved.setdefault(sess, []).append(pat)
    return [Peer(n, pids.get(n), frozenset(claimed.get(n, ())), tuple(reserved.get(n, ())))
            for n in sorted(set(pids) | set(claimed) | set(reserved)) if alive(n)]


def hidden_from(conn: sqlite3.Connection, wt: str, me: str) -> tuple[set[bytes], set[int]]:
    """Paths other running sessions claim here, and their owner pids: what
    view isolation hides from `me`.

    Liveness here is kill(0), not psutil: hiding a path of an owner whose pid
    was reused errs on the safe side, and the ownership checks that refuse
    work still use the full (pid, create time) test."""
    owners = {n: pid for n, pid in conn.execute("SELECT name, pid FROM sessions WHERE ended IS NULL")}
    rows = conn.execute("SELECT path, session FROM claims WHERE wt = ? AND session != ?", (wt, me)).fetchall()
    live = [(bytes(p), s) for p, s in rows if s in owners and (not owners[s] or layout.pid_exists(owners[s]))]
    return {p for p, _ in live}, {owners[s] for _, s in live if owners[s]}


def by_session(conn: sqlite3.Connection) -> dict[str, dict[str, list[bytes]]]:
    """{session: {kind: [paths]}} over every worktree (`gitlane status`)."""
    out: dict[str, dict[str, list[bytes]]] = {}
    for path, sess, kind in conn.execute("SELECT path, session, kind FROM claims ORDER BY path"):
        out.setdefault(sess, {}).setdefault(kind, []).append(bytes(path))
    return out


def has_claims(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM claims WHERE session = ? LIMIT 1", (name,)).fetchone() is not None


def others_hold_any(conn: sqlite3.Connection, wt: str, me: str, now: float | None = None) -> bool:
    """Could find() name any owner for `me` at all? False when no other
    session claims a path here or holds an exclusive reservation: then no
    path list needs computing to know that nothing is refused."""
    if conn.execute("SELECT 1 FROM claims WHERE wt = ? AND session != ? LIMIT 1", (wt, me)).fetchone():
        return True
    return bool(_reservation_rows(conn, me, now or time.time()))


# --- writing: claims ------------------------------------------------------------

def set_staged(conn: sqlite3.Connection, wt: str, me: str, staged: Sequence[bytes]) -> Change | None:
    """Make `me`'s staged claims exactly `staged`; the Change if anything changed."""
    with db.tx(conn):
        old = {bytes(p) for (p,) in conn.execute(
            "SELECT path FROM claims WHERE wt = ? AND session = ? AND kind = ?", (wt, me, STAGED))}
        new = set(staged)
        if old == new:
            return None
        now = time.time()
        conn.executemany("DELETE FROM claims WHERE wt = ? AND path = ? AND session = ?",
                         [(wt, p, me) for p in old - new])
        conn.executemany("INSERT OR REPLACE INTO claims (wt, path, session, kind, since) VALUES (?, ?, ?, ?, ?)",
                         [(wt, p, me, STAGED, now) for p in new - old])
        return _bump(conn)


def claim_edit(conn: sqlite3.Connection, wt: str, me: str, path: bytes, alive: Callable[[str], bool]) -> bool:
    """An edit claim, unless someone already has the path: ours stays as it
    is, a live peer's is never taken over, a dead owner's is. True if claimed."""
    with db.tx(conn):
        row = conn.execute("SELECT session FROM claims WHERE wt = ? AND path = ?", (wt, path)).fetchone()
        if row and (row[0] == me or alive(row[0])):
            return False
        conn.execute("INSERT OR REPLACE INTO claims (wt, path, session, kind, since) VALUES (?, ?, ?, ?, ?)",
                     (wt, path, me, EDIT, time.time()))
        _bump(conn)
        return True


def branch_paths(conn: sqlite3.Connection, wt: str, me: str) -> set[bytes]:
    return {bytes(p) for (p,) in conn.execute(
        "SELECT path FROM claims WHERE wt = ? AND session = ? AND kind = ?", (wt, me, BRANCH))}


def own_paths(conn: sqlite3.Connection, wt: str, me: str) -> set[bytes]:
    """Every path `me` claims here, whatever the kind."""
    return {bytes(p) for (p,) in conn.execute("SELECT path FROM claims WHERE wt = ? AND session = ?", (wt, me))}


def set_branch(conn: sqlite3.Connection, wt: str, me: str, paths: Iterable[bytes]) -> Change | None:
    """Make `me`'s branch claims exactly `paths`. A path `me` already claims
    otherwise keeps that claim; a path a peer claims is never taken (the
    switch refused those)."""
    with db.tx(conn):
        old = branch_paths(conn, wt, me)
        new = set(paths)
        if old == new:
            return None
        conn.executemany("DELETE FROM claims WHERE wt = ? AND path = ? AND session = ? AND kind = ?",
                         [(wt, p, me, BRANCH) for p in old - new])
        conn.executemany("INSERT OR IGNORE INTO claims (wt, path, session, kind, since) VALUES (?, ?, ?, ?, ?)",
                         [(wt, p, me, BRANCH, time.time()) for p in new - old])
        return _bump(conn)


def drop_edits(conn: sqlite3.Connection, wt: str, me: str, paths: Sequence[bytes]) -> Change | None:
    """`me`'s edit claims on these paths end (they were committed)."""
    with db.tx(conn):
        cur = conn.executemany("DELETE FROM claims WHERE wt = ? AND path = ? AND session = ? AND kind = ?",
                               [(wt, p, me, EDIT) for p in paths])
        return _bump(conn) if cur.rowcount else None


def end_session(conn: sqlite3.Connection, name: str) -> None:
    """A session ended: its reservations and edit claims go; its staged
    claims stay with its staged work (export/adopt)."""
    with db.tx(conn):
        conn.execute("DELETE FROM reservations WHERE session = ?", (name,))
        conn.execute("DELETE FROM claims WHERE session = ? AND kind = ?", (name, EDIT))
        _bump(conn)


def forget_session(conn: sqlite3.Connection, name: str) -> None:
    """Everything a pruned session owned."""
    with db.tx(conn):
        conn.execute("DELETE FROM claims WHERE session = ?", (name,))
        conn.execute("DELETE FROM reservations WHERE session = ?", (name,))
        _bump(conn)


def transfer(conn: sqlite3.Connection, src: str, dst: str) -> None:
    """`gitlane adopt`: src's claims become dst's."""
    with db.tx(conn):
        conn.execute("UPDATE claims SET session = ? WHERE session = ?", (dst, src))
        _bump(conn)


# --- who made a commit; who owns a merge in progress ------------------------------------

# Audit events whose commit_id is a commit the session made (a `reset` records
# the commit it moved to, which it did not make).
MAKING_EVENTS = ("commit", "amend", "merge", "cherry-pick", "revert", "am", "pull", "rebase")


def commit_maker(conn: sqlite3.Connection, commit: str | None) -> str | None:
    """The session that made this commit (its last audit record of a making
    event), or None: a person, another tool, or unknown."""
    marks = ",".join("?" * len(MAKING_EVENTS))
    row = conn.execute(f"SELECT session FROM audit WHERE commit_id = ? AND event IN ({marks}) "
                       "ORDER BY id DESC LIMIT 1", (commit, *MAKING_EVENTS)).fetchone()
    return row[0] if row else None


def marker_rows(conn: sqlite3.Connection) -> list[tuple[str, str, float]]:
    """(marker, owning session, since) of every merge-state marker on record
    (run.merge_state says what they mean)."""
    return [(w, s, t) for w, s, t in conn.execute("SELECT what, session, since FROM shared_state")]


def claim_markers(conn: sqlite3.Connection, me: str, markers: Sequence[str], now: float) -> None:
    """Markers not on record become `me`'s; one already on record keeps its owner."""
    with db.tx(conn):
        conn.executemany("INSERT OR IGNORE INTO shared_state VALUES (?, ?, ?)", [(m, me, now) for m in markers])


def drop_markers(conn: sqlite3.Connection, markers: Sequence[str]) -> None:
    with db.tx(conn):
        conn.executemany("DELETE FROM shared_state WHERE what = ?", [(m,) for m in markers])


# --- reservations -------------------------------------------------------------------

class Reservation:
    __slots__ = ("id", "session", "pattern", "exclusive", "reason", "created", "expires")

    def __init__(self, row: tuple) -> None:  # type: ignore[type-arg]
        self.id, self.session, self.pattern, exclusive, self.reason, self.created, self.expires = row
        self.exclusive = bool(exclusive)


def reservations(conn: sqlite3.Connection, now: float | None = None) -> list[Reservation]:
    now = now or time.time()
    return [Reservation(r) for r in conn.execute(
        "SELECT id, session, pattern, exclusive, reason, created, expires FROM reservations "
        "WHERE expires > ? ORDER BY session, pattern", (now,))]


def pattern_problem(pattern: str) -> str | None:
    """Why a reservation pattern is unusable, or None."""
    if not pattern.strip() or len(pattern) > MAX_PATTERN or "\0" in pattern or any(ord(c) < 32 for c in pattern):
        return "it is empty, too long or has control characters"
    if pattern.startswith(("/..", "../")) or "/../" in pattern or pattern in ("..", "."):
        return "it points outside the work tree"
    from gitlane.shared import globs
    too_complex = globs.problem(pattern)
    if too_complex:
        return too_complex + ": such a glob takes too long to match"
    try:
        matcher([pattern])
    except Exception as exc:  # pathspec's own errors: bad glob syntax
        return str(exc)
    return None


def clashes(conn: sqlite3.Connection, me: str, patterns: Sequence[str], exclusive: bool,
            candidates: Sequence[str], alive: Callable[[str], bool]) -> list[tuple[str, Reservation]]:
    """(my pattern, their reservation) for every live reservation ours would overlap."""
    found = []
    for theirs in reservations(conn):
        if theirs.session == me or not (theirs.exclusive or exclusive) or not alive(theirs.session):
            continue
        found += [(mine, theirs) for mine in patterns if overlap(mine, theirs.pattern, candidates)]
    return found


def reserve(conn: sqlite3.Connection, me: str, patterns: Sequence[str], exclusive: bool,
            reason: str, ttl: float) -> None:
    with db.tx(conn):
        now = time.time()
        for pat in patterns:
            conn.execute("DELETE FROM reservations WHERE session = ? AND pattern = ?", (me, pat))
            conn.execute("INSERT INTO reservations (session, pattern, exclusive, reason, created, expires) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (me, pat, int(exclusive), reason, now, now + ttl))
        _bump(conn)


def release(conn: sqlite3.Connection, session: str, patterns: Sequence[str] = ()) -> int:
    """Release these patterns of the session (all of them when none given)."""
    with db.tx(conn):
        if patterns:
            cur = conn.executemany("DELETE FROM reservations WHERE session = ? AND pattern = ?",
                                   [(session, p) for p in patterns])
        else:
            cur = conn.execute("DELETE FROM reservations WHERE session = ?", (session,))
        _bump(conn)
        return cur.rowcount


def overlap(a: str, b: str, candidates: Sequence[str]) -> bool:
    """Do two globs cover a common path? Glob intersection is hard in general,
    so we test both matchers on every path that exists today plus paths built
    from the patterns themselves: each instantiated, and each one's file name
    placed in the other's directories (so `*.md` meets `docs/**`)."""
    ma, mb = matcher([a]), matcher([b])
    return a == b or any(ma(p) and mb(p) for p in _probes(a, b) + list(candidates))


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


# --- refusals -----------------------------------------------------------------------

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


def dedupe(found: Sequence[tuple[bytes, Owner]]) -> list[tuple[bytes, Owner]]:
    seen: set[bytes] = set()
    return [(p, o) for p, o in found if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
