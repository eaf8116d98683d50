"""`gitlane status` and `gitlane sessions`."""
from __future__ import annotations

import argparse
import os
import time

from gitlane import fsutil, registry, session
from gitlane.cli.common import add_json, emit_json, open_env, plural, table
from gitlane.ownership import human_duration


def configure(p: argparse.ArgumentParser, name: str) -> None:
    add_json(p)


def run(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    data = collect(env)
    if args.json:
        return emit_json(data if args.command == "status" else data["sessions"])
    print(render_sessions(data["sessions"]))
    if args.command == "status":
        for line in render_details(data, env.name):
            print(line)
    return 0


def collect(env) -> dict:  # type: ignore[no-untyped-def]
    conn = env.conn
    now = time.time()
    staged: dict[str, list[str]] = {}
    for path, sess in conn.execute("SELECT path, session FROM claims WHERE kind = 'staged' ORDER BY path"):
        staged.setdefault(sess, []).append(os.fsdecode(bytes(path)))
    edits: dict[str, list[str]] = {}
    for path, sess in conn.execute("SELECT path, session FROM claims WHERE kind = 'edit' ORDER BY path"):
        edits.setdefault(sess, []).append(os.fsdecode(bytes(path)))
    reservations = [dict(id=i, session=s, pattern=p, exclusive=bool(x), reason=r, expires_in=round(e - now))
                    for i, s, p, x, r, e in conn.execute(
                        "SELECT id, session, pattern, exclusive, reason, expires FROM reservations "
                        "WHERE expires > ? ORDER BY session, pattern", (now,))]
    sessions = []
    for s in registry.all_sessions(conn):
        sdir = session.dir_for(env.repo, s.name)
        base = (fsutil.read_text(os.path.join(sdir, "base")) or "").strip()
        staged[s.name] = _staged_in_index(env, sdir, base) or staged.get(s.name, [])
        state = "ended" if s.ended else ("live" if s.live else "dead")
        sessions.append(dict(name=s.name, state=state, pid=s.pid, label=s.label, base=base,
                             age=round(now - s.started), last_seen=round(now - s.last_seen),
                             staged=staged.get(s.name, []), edits=edits.get(s.name, []),
                             reservations=[r for r in reservations if r["session"] == s.name],
                             current=s.name == env.name))
    shared = [dict(what=w, session=s, age=round(now - t)) for w, s, t in
              conn.execute("SELECT what, session, since FROM shared_state")
              if os.path.exists(os.path.join(env.repo.git_dir, w))]
    return dict(repository=env.repo.top, session=env.name, sessions=sessions,
                reservations=reservations, shared_state=shared)


def _staged_in_index(env, sdir: str, base: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What the session's own index stages: the truth, even when a peer has
    since taken over the claim of a dead session's path."""
    index = os.path.join(sdir, "index")
    if not base or not os.path.exists(index):
        return []
    try:
        return sorted(os.fsdecode(p) for p in env.git.changed_paths(index, base))
    except Exception:
        return []


def render_sessions(sessions: list[dict]) -> str:
    if not sessions:
        return "no sessions yet in this repository"
    rows = [(("* " if s["current"] else "  ") + s["name"], s["state"], s["pid"] or "?",
             len(s["staged"]), len(s["reservations"]), (s["base"] or "-")[:10],
             human_duration(s["age"]), s["label"] or "") for s in sessions]
    return table(rows, ("  SESSION", "STATE", "PID", "STAGED", "RESERVED", "BASE", "AGE", "LABEL"))


def render_details(data: dict, me: str | None) -> list[str]:
    lines: list[str] = []
    for s in data["sessions"]:
        if s["staged"] or s["edits"] or s["reservations"]:
            lines.append("")
            lines.append(f"{s['name']} ({s['state']}): {plural(len(s['staged']), 'staged path')}")
            lines += [f"    staged    {p}" for p in s["staged"][:50]]
            lines += [f"    editing   {p}" for p in s["edits"][:50]]
            lines += [f"    reserved  {r['pattern']} ({'exclusive' if r['exclusive'] else 'shared'}, "
                      f"{human_duration(r['expires_in'])} left{', ' + repr(r['reason']) if r['reason'] else ''})"
                      for r in s["reservations"]]
            if s["state"] == "dead" and s["staged"]:
                lines.append(f"    dead with staged work: `gitlane export {s['name']}` or `gitlane adopt {s['name']}`")
    for st in data["shared_state"]:
        lines.append("")
        lines.append(f"in progress: {st['what']} belongs to session {st['session']} (for {human_duration(st['age'])})")
    if me is None:
        lines.append("")
        lines.append('this shell has no session: eval "$(gitlane activate)" to open one')
    return lines
