"""`gitlane log`: the audit trail (commits, refusals overridden, forced
releases, reclaimed locks), newest first."""
from __future__ import annotations

import argparse
import time

from gitlane.cli.common import add_json, decode_paths, emit_json, open_env, table
from gitlane.shared import db


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--session", help="only this session")
    p.add_argument("--event", help="only this event and its kinds (commit, amend, force (with force-release), reclaim, reserve, ...)")
    p.add_argument("--since", help="only newer than this, e.g. 30m, 2h")
    p.add_argument("-n", "--limit", type=int, default=50)
    add_json(p)


def run(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    since = None
    if args.since:
        from gitlane.cli.reserve import parse_ttl
        since = time.time() - parse_ttl(args.since)
    rows = db.audit_records(env.conn, args.session or None, args.event or None, since, args.limit)
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
