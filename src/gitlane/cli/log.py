"""`gitlane log`: the audit trail (commits, refusals overridden, forced
releases, reclaimed locks), newest first."""
from __future__ import annotations

import argparse
import time

from gitlane.cli.common import add_json, decode_paths, emit_json, open_env, table


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--session", help="only this session")
    p.add_argument("--event", help="only this event and its kinds (commit, amend, force (with force-release), reclaim, reserve, ...)")
    p.add_argument("--since", help="only newer than this, e.g. 30m, 2h")
    p.add_argument("-n", "--limit", type=int, default=50)
    add_json(p)


def run(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    where, params = ["1 = 1"], []
    if args.session:
        where.append("session = ?")
        params.append(args.session)
    if args.event:  # an event and its refinements: `force` also finds `force-release`
        where.append("(event = ? OR substr(event, 1, ?) = ?)")
        params += [args.event, len(args.event) + 1, args.event + "-"]
    if args.since:
        from gitlane.cli.reserve import parse_ttl
        where.append("time >= ?")
        params.append(time.time() - parse_ttl(args.since))
    rows = env.conn.execute(
        "SELECT time, session, pid, event, argv, exit, commit_id, paths, duration, detail FROM audit "
        f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*params, max(1, args.limit))).fetchall()
    records = [dict(time=t, session=s, pid=pid, event=e, argv=a, exit=x, commit=c,
                    paths=decode_paths(p), duration=d, detail=det)
               for t, s, pid, e, a, x, c, p, d, det in rows]
    if args.json:
        return emit_json(records)
    if not records:
        print("no audit records")
        return 0
    print(table([(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["time"])), r["session"] or "-",
                  r["event"], "" if r["exit"] is None else r["exit"], (r["commit"] or "")[:10],
                  len(r["paths"]), (r["argv"] or "")[:60] + (f" [{r['detail']}]" if r["detail"] else ""))
                 for r in records], ("TIME", "SESSION", "EVENT", "EXIT", "COMMIT", "PATHS", "COMMAND")))
    return 0
