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
    changed = env.git.differs_from_head(rels)
    earlier = claims.sources(conn, env.repo.worktree_id, rels)
    for rel in rels:
        entries = [dict(session=o.session, kind=o.kind, source=_source(o, earlier.get(rel)), pid=o.pid,
                        live=alive(o.session), reason=o.reason, describe=_describe(o, earlier.get(rel)))
                   for o in claims.owners_of(conn, env.repo.worktree_id, rel, time.time())]
        result.append(dict(path=os.fsdecode(rel), changed=rel in changed, owners=entries))
    if args.json:
        return emit_json(result)
    for item in result:
        if not item["owners"]:
            print(f"{item['path']}: " + (f"changed, owned by {claims.NOBODY}" if item["changed"] else "free"))
        for o in item["owners"]:
            print(f"{item['path']}: {o['describe']}{'' if o['live'] else ' [dead: does not block]'}")
    return 0


def _source(o: claims.Owner, row: tuple[str, str, str | None] | None) -> str:
    """How the change came to be this session's: staged, edit (an edit
    tool), bash (its shell window), reserved; `staged (was bash)` kept."""
    if o.kind == claims.STAGED and row and row[0] == o.session and row[2]:
        return f"staged (was {row[2]})"
    return o.kind


def _describe(o: claims.Owner, row: tuple[str, str, str | None] | None) -> str:
    text = o.describe()  # its verb names the source: staged by, being edited by, changed in a Bash call of
    source = _source(o, row)
    return f"{text} ({source})" if source != o.kind else text
