"""`gitlane who PATH...`: who owns these paths, and why."""
from __future__ import annotations

import argparse
import os
import time

from gitlane.shared import claims
from gitlane.cli.common import add_json, emit_json, open_env


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_json(p)


def run(args: argparse.Namespace) -> int:
    env = open_env()
    assert env is not None
    conn = env.conn
    alive = claims.alive_checker(conn)
    rels = [os.fsencode(os.path.relpath(os.path.abspath(p), env.repo.top)) for p in args.paths]
    result = []
    for rel in rels:
        entries = [dict(session=o.session, kind=o.kind, pid=o.pid, live=alive(o.session),
                        reason=o.reason, describe=o.describe())
                   for o in claims.owners_of(conn, env.repo.worktree_id, rel, time.time())]
        result.append(dict(path=os.fsdecode(rel), owners=entries))
    if args.json:
        return emit_json(result)
    for item in result:
        if not item["owners"]:
            print(f"{item['path']}: free")
        for o in item["owners"]:
            print(f"{item['path']}: {o['describe']}{'' if o['live'] else ' [dead: does not block]'}")
    return 0
