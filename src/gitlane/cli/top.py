"""`gitlane top`: a live view of the lanes. Who is live (owner pids, agent),
the branch, what each session stages and edits, reservations, who holds and
who waits for the global lock (and for how long), the last commits by
session, and the refusal feed from the audit log. Redraws when the state
changes, quits on `q`; when stdout is not a terminal it prints one snapshot.

It only looks: sqlite is opened read-only (`mode=ro`, a fresh connection per
look, closed at once, so it never holds a read snapshot that would keep a
checkpoint waiting), locks are inspected with fcntl(F_GETLK) and
/proc/locks, never taken, and git runs with GIT_OPTIONAL_LOCKS=0. rich is
imported here and nowhere else.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gitlane.git.repo import Repo
    from gitlane.git.verbs import Git

REFUSAL_EVENTS = ("refuse", "force", "reclaim")
COMMITS_PER_SESSION = 3
PATHS_SHOWN = 6


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--once", action="store_true", help="print one snapshot and exit (the default when not a terminal)")
    p.add_argument("--interval", type=float, default=2.0, help="redraw at least this often, seconds (default 2)")


def run(args: argparse.Namespace) -> int:
    from gitlane.errors import Fatal
    from gitlane.git import args as gitargs
    from gitlane.git import realgit
    from gitlane.git.repo import discover
    from gitlane.git.verbs import Git
    repo = discover(gitargs.Split(), os.environ, os.getcwd())
    if repo is None:
        raise Fatal("not inside a git work tree", "cd into the repository you share with other sessions")
    git = Git(realgit.find(), repo, os.environ)
    from rich.console import Console
    if args.once or not sys.stdout.isatty():
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 120
        Console(highlight=False, width=width).print(view(collect(repo, git)))
        return 0
    return live(repo, git, max(0.2, args.interval))


# --- what is there (read-only) ---------------------------------------------------------

def open_readonly(state_dir: str):  # type: ignore[no-untyped-def]
    """The state database opened read-only, or None when there is none yet.
    A reader that closes last leaves the -wal file in place (it cannot
    checkpoint); the next writer recovers it (tests/unit/test_top.py)."""
    from urllib.request import pathname2url

    from gitlane import layout
    from gitlane.shared import db
    path = os.path.join(state_dir, layout.DB)
    if not os.path.isfile(path):
        return None
    return db.connect_readonly(f"file:{pathname2url(path)}?mode=ro")


def collect(repo: Repo, git: Git, now: float | None = None) -> dict[str, Any]:
    from gitlane import layout
    from gitlane.shared import claims, db, sessions
    now = time.time() if now is None else now
    data: dict[str, Any] = dict(repository=repo.top, branch=_branch(repo), time=now, sessions=[],
                                reservations=[], locks=[], refusals=[], problem=None)
    state = repo.state_dir()
    try:
        conn = open_readonly(state)
    except db.DatabaseError as exc:
        conn, data["problem"] = None, f"the state database is unreadable right now ({exc})"
    if conn is not None:
        try:
            data.update(_read_db(conn, now))
        except db.DatabaseError as exc:
            data["problem"] = f"the state database is unreadable right now ({exc})"
        finally:
            conn.close()
    ids = [c["commit"] for s in data["sessions"] for c in s["commits"]]
    subjects = git.subjects(ids) if ids else {}
    for s in data["sessions"]:
        s["commits"] = [dict(c, subject=subjects.get(c["commit"])) for c in s["commits"]
                        if c["commit"] in subjects]
    data["locks"] = _locks(state, repo, data["sessions"], now)
    return data


def _read_db(conn, now: float) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from gitlane.shared import claims, db, sessions
    owned = claims.by_session(conn)
    reservations = claims.reservations(conn, now)
    commits: dict[str, list[dict[str, Any]]] = {}
    for sess, commit, when in db.recent_commits(conn, 500):
        mine = commits.setdefault(sess, [])
        if len(mine) < COMMITS_PER_SESSION and all(c["commit"] != commit for c in mine):
            mine.append(dict(commit=commit, age=now - when))
    listed = []
    for rec in sessions.records(conn):
        mine = owned.get(rec.name, {})
        listed.append(dict(name=rec.name, state=rec.state, pid=rec.pid, label=rec.label or "",
                           age=now - rec.started,
                           staged=[os.fsdecode(p) for p in mine.get(claims.STAGED, [])],
                           edits=[os.fsdecode(p) for p in mine.get(claims.EDIT, [])],
                           reservations=[r.pattern for r in reservations if r.session == rec.name],
                           commits=commits.get(rec.name, [])))
    refusals = [dict(age=now - t, session=s, event=e, command=a or "", detail=d or "")
                for t, s, e, a, d in db.recent_refusals(conn, REFUSAL_EVENTS, 8)]
    return dict(sessions=listed, refusals=refusals,
                reservations=[dict(session=r.session, pattern=r.pattern, exclusive=r.exclusive,
                                   left=r.expires - now, reason=r.reason) for r in reservations])


def _branch(repo: Repo) -> str:
    ref = repo.head_ref()
    if ref and ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):]
    head = repo.head()
    return f"detached at {head[:10]}" if head else "(no commit yet)"


def lock_files(state: str, repo: Repo) -> list[tuple[str, str]]:
    """(what, path) of every lock a session may wait for."""
    from gitlane import layout
    found = [("global lock", os.path.join(state, layout.GLOBAL_LOCK))]
    root = repo.sessions_root()
    try:
        names = sorted(os.listdir(root))
    except OSError:
        names = []
    found += [(f"lock of {n}", os.path.join(root, n, layout.LOCK)) for n in names]
    return found


def _locks(state: str, repo: Repo, listed: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    from gitlane.shared import liveness, locks
    probed = [(what, path, *locks.probe(path)) for what, path in lock_files(state, repo)]
    waiting = locks.waiters({key for *_, key in probed if key is not None})
    by_pid = {s["pid"]: s["name"] for s in listed if s["pid"]}
    out = []
    for what, path, holder_pid, key in probed:
        queue = waiting.get(key, []) if key else []
        if holder_pid is None and not queue:
            continue
        info = locks.read_holder(path) or {}
        try:
            since = float(info.get("since", ""))
        except ValueError:
            since = None
        holder_is_line = info.get("pid") == str(holder_pid)
        waits = []
        for pid in queue:
            started = liveness.create_time(pid)
            waits.append(dict(pid=pid, session=_session_of(pid, by_pid),
                              waited=(now - started) if started else None))
        out.append(dict(what=what, holder_pid=holder_pid,
                        holder_session=info.get("session") if holder_is_line else _session_of(holder_pid, by_pid),
                        command=info.get("command", "") if holder_is_line else "",
                        held_for=(now - since) if since and holder_is_line else None, waiting=waits))
    return out


def _session_of(pid: int | None, by_pid: dict[int, str]) -> str | None:
    """The session a process runs in: its GITLANE_SESSION, else the session
    whose owner is one of its ancestors."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"GITLANE_SESSION="):
                    return item.split(b"=", 1)[1].decode("utf-8", "replace")
    except OSError:
        pass
    try:
        import psutil
        proc = psutil.Process(pid)
        for p in [proc, *proc.parents()]:
            if p.pid in by_pid:
                return by_pid[p.pid]
    except Exception:  # gone, or not ours to look at
        pass
    return None


# --- how it looks -----------------------------------------------------------------------

def _ago(seconds: float | None) -> str:
    from gitlane.shared.claims import human_duration
    return "?" if seconds is None else human_duration(max(0.0, seconds))


def view(data: dict[str, Any]):  # type: ignore[no-untyped-def]
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    parts: list[Any] = [Text.assemble(("gitlane top", "bold"), f"  {data['repository']}  on ",
                                      (data["branch"], "bold cyan"),
                                      f"  {time.strftime('%H:%M:%S', time.localtime(data['time']))}  (q quits)")]
    if data["problem"]:
        parts.append(Text(data["problem"], style="red"))
    if not data["sessions"]:
        parts.append(Text("no sessions yet in this repository"))
    else:
        t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for col in ("SESSION", "STATE", "PID", "AGENT", "STAGED", "EDITING", "RESERVED", "AGE", "LAST COMMIT"):
            t.add_column(col, no_wrap=col != "LAST COMMIT", overflow="ellipsis")
        style = {"live": "green", "dead": "red", "ended": "dim"}
        for s in data["sessions"]:
            last = s["commits"][0] if s["commits"] else None
            t.add_row(s["name"], Text(s["state"], style=style.get(s["state"], "")), str(s["pid"] or "?"),
                      s["label"], str(len(s["staged"])), str(len(s["edits"])), str(len(s["reservations"])),
                      _ago(s["age"]),
                      f"{last['commit'][:8]} {last['subject']} ({_ago(last['age'])} ago)" if last else "")
        parts += [Text(""), t]
    for s in data["sessions"]:
        lines = _paths("staged", s["staged"]) + _paths("editing", s["edits"]) + \
            [f"    reserved  {p}" for p in s["reservations"]] + \
            [f"    commit    {c['commit'][:8]} {c['subject']} ({_ago(c['age'])} ago)" for c in s["commits"]]
        if lines and s["state"] != "ended":
            parts += [Text(""), Text(s["name"], style="bold"), *(Text(x) for x in lines)]
    parts.append(Text(""))
    if not data["locks"]:
        parts.append(Text("locks: nobody holds or waits for a gitlane lock"))
    for lk in data["locks"]:
        who = (f"held by {lk['holder_session'] or 'pid ' + str(lk['holder_pid'])} (pid {lk['holder_pid']}"
               + (f", `{lk['command']}`" if lk["command"] else "")
               + (f", for {_ago(lk['held_for'])}" if lk["held_for"] is not None else "") + ")"
               if lk["holder_pid"] else "free")
        parts.append(Text(f"{lk['what']}: {who}"))
        for w in lk["waiting"]:
            parts.append(Text(f"    waiting  {w['session'] or '?'} (pid {w['pid']}, for {_ago(w['waited'])})",
                              style="yellow"))
    if data["refusals"]:
        parts += [Text(""), Text("refusals and overrides", style="bold")]
        for r in data["refusals"]:
            parts.append(Text(f"    {_ago(r['age'])} ago  {r['session'] or '-'}  {r['event']}  {r['command'][:60]}"
                              + (f"  [{r['detail'][:80]}]" if r["detail"] else "")))
    return Group(*parts)


def _paths(kind: str, paths: list[str]) -> list[str]:
    shown = [f"    {kind:<9} {p}" for p in paths[:PATHS_SHOWN]]
    if len(paths) > PATHS_SHOWN:
        shown.append(f"    {'':<9} … {len(paths) - PATHS_SHOWN} more")
    return shown


# --- the live loop ------------------------------------------------------------------------

def signature(repo: Repo) -> tuple:
    """Cheap to compute, different whenever what top shows may have changed:
    the state files' stats, HEAD and the index, and the lock table lines."""
    from gitlane import layout
    from gitlane.shared import locks
    state = repo.state_dir()
    paths = [os.path.join(state, n) for n in (layout.DB, layout.DB + "-wal", layout.GENERATION)]
    paths += [os.path.join(repo.git_dir, n) for n in ("HEAD", "index", "logs/HEAD")]
    files = [p for _, p in lock_files(state, repo)]
    stats = []
    for p in paths + files:
        try:
            st = os.stat(p)
            stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append(None)
    keys = {key for key in (locks.probe(p)[1] for p in files) if key}
    return tuple(stats), tuple(sorted((k, tuple(v)) for k, v in locks.waiters(keys).items()))


def live(repo: Repo, git: Git, interval: float) -> int:
    import select
    import termios
    import tty

    from rich.console import Console
    from rich.live import Live
    console = Console(highlight=False)
    fd = sys.stdin.fileno() if sys.stdin.isatty() else None
    saved = termios.tcgetattr(fd) if fd is not None else None
    try:
        if fd is not None:
            tty.setcbreak(fd)
        with Live(view(collect(repo, git)), console=console, screen=True, auto_refresh=False) as screen:
            seen, drawn = signature(repo), time.monotonic()
            while True:
                ready = select.select([fd] if fd is not None else [], [], [], 0.2)[0]
                if ready and any(ch in b"qQ\x03\x04" for ch in os.read(fd, 64)):  # type: ignore[arg-type]
                    return 0
                now_sig = signature(repo)
                if now_sig != seen or time.monotonic() - drawn >= interval:
                    screen.update(view(collect(repo, git)), refresh=True)
                    seen, drawn = now_sig, time.monotonic()
    except KeyboardInterrupt:
        return 0
    finally:
        if fd is not None and saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
