"""`gitlane status` and `gitlane sessions`."""
from __future__ import annotations

import argparse
import os
import time

from gitlane import files, layout, session
from gitlane.cli.common import add_json, emit_json, open_env, plural, table
from gitlane.run import merge_state
from gitlane.shared import claims, sessions
from gitlane.shared.claims import human_duration


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
    owned = claims.by_session(conn)
    reservations = [dict(id=r.id, session=r.session, pattern=r.pattern, exclusive=r.exclusive, reason=r.reason,
                         expires_in=round(r.expires - now)) for r in claims.reservations(conn, now)]
    listed = []
    for rec in sessions.records(conn):
        sdir = session.dir_for(env.repo, rec.name)
        base = layout.read_base(sdir) or ""
        mine = owned.get(rec.name, {})
        staged = _staged_in_index(env, sdir, base) or [os.fsdecode(p) for p in mine.get(claims.STAGED, [])]
        listed.append(dict(name=rec.name, state=rec.state, pid=rec.pid, label=rec.label, base=base,
                           branch=_branch(env, sdir, rec.state),
                           age=round(now - rec.started), last_seen=round(now - rec.last_seen),
                           staged=staged, edits=[os.fsdecode(p) for p in mine.get(claims.EDIT, [])],
                           reservations=[r for r in reservations if r["session"] == rec.name],
                           current=rec.name == env.name))
    shared = [dict(what=w, session=sess, age=round(now - t)) for w, sess, t in merge_state.in_progress(conn, env.repo.git_dir)]
    return dict(repository=env.repo.top, session=env.name, sessions=listed,
                reservations=reservations, shared_state=shared)


def _branch(env, sdir: str, state: str) -> str | None:  # type: ignore[no-untyped-def]
    """The session's branch (its own HEAD's, else the shared HEAD's); for an
    ended session, the branch it ended on while that is not merged into the
    shared HEAD ("feat (unmerged)"), else None."""
    from gitlane.session import head
    if state != "ended" or head.has_private(sdir):
        return head.describe(env.repo, sdir)
    ended = (files.read_text(os.path.join(sdir, layout.ENDED_ON)) or "").strip()
    if not ended.startswith("ref: refs/heads/"):
        return None
    ref = ended[5:]
    shared = head.shared_commit(env.repo)
    tip = env.git.resolve_commit(ref)
    if tip is None:
        return None  # deleted
    merged = env.git.run("merge-base", "--is-ancestor", tip, shared, check=False).rc == 0
    return None if merged else ref[len("refs/heads/"):] + " (unmerged)"


def _staged_in_index(env, sdir: str, base: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What the session's own index stages: the truth, even when a peer has
    since taken over the claim of a dead session's path."""
    index = os.path.join(sdir, layout.INDEX)
    if not base or not os.path.exists(index):
        return []
    try:
        return sorted(os.fsdecode(p) for p in env.git.changed_paths(index, base))
    except Exception:
        return []


def render_sessions(sessions: list[dict]) -> str:
    if not sessions:
        return "no sessions yet in this repository"
    rows = [(("* " if s["current"] else "  ") + s["name"], s["state"], s.get("branch") or "-", s["pid"] or "?",
             len(s["staged"]), len(s["reservations"]), (s["base"] or "-")[:10],
             human_duration(s["age"]), s["label"] or "") for s in sessions]
    return table(rows, ("  SESSION", "STATE", "BRANCH", "PID", "STAGED", "RESERVED", "BASE", "AGE", "LABEL"))


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
