"""`gitlane export`, `gitlane adopt`, `gitlane gc`: what happens to the
staged work of sessions whose owner died. Nothing here deletes staged work:
gc prunes only sessions with nothing staged."""
from __future__ import annotations

import argparse
import os
import shutil
import sys

from gitlane import files, layout, session
from gitlane.cli.common import add_json, emit_json, maintenance, open_env, plural
from gitlane.errors import Fatal
from gitlane.session.index import SessionIndex
from gitlane.shared import claims, db, sessions


def configure(p: argparse.ArgumentParser, name: str) -> None:
    if name in ("export", "adopt"):
        p.add_argument("session", metavar="SESSION")
    if name == "export":
        p.add_argument("-o", "--output", help="write the patch here instead of stdout")
    if name == "adopt":
        p.add_argument("--force", action="store_true", help="adopt even if the session looks live")
    if name == "gc":
        p.add_argument("--dry-run", action="store_true")
        add_json(p)


def run(args: argparse.Namespace) -> int:
    return {"export": _export, "adopt": _adopt, "gc": _gc}[args.command](args)


def _index_of(env, name: str) -> SessionIndex:  # type: ignore[no-untyped-def]
    si = SessionIndex(env.git, session.dir_for(env.repo, session.validate(name)))
    if not os.path.exists(si.path):
        raise Fatal(f"session {name} has no index in this work tree", "`gitlane sessions` lists the sessions")
    return si


def patch(env, si: SessionIndex) -> bytes:  # type: ignore[no-untyped-def]
    base = si.base() or env.repo.empty_tree()
    return env.git.staged_patch(si.path, base)


def _export(args: argparse.Namespace) -> int:
    env = open_env()
    si = _index_of(env, args.session)
    data = patch(env, si)
    if args.output:
        with open(args.output, "wb") as f:
            f.write(data)
        print(f"wrote session {args.session}'s staged work ({len(data)} bytes) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _adopt(args: argparse.Namespace) -> int:
    """Apply the dead session's staged diff to our index (3-way), then empty
    theirs. Their patch is saved first, so nothing can be lost in between."""
    env = open_env()
    me = env.need_session()
    sessions.ensure(env.conn, me, session.dir_for(env.repo, me), os.environ, os.getcwd())
    if args.session == me:
        raise Fatal("a session cannot adopt itself", "name the dead session: `gitlane sessions`", code=2)
    other = sessions.get(env.conn, args.session)
    if other is not None and other.live and not other.ended and not args.force:
        raise Fatal(f"session {args.session} is live (pid {other.pid})",
                    "ask it to commit, or wait for it to end; --force adopts anyway")
    theirs = _index_of(env, args.session)
    data = patch(env, theirs)
    if not data:
        print(f"session {args.session} has nothing staged")
        return 0
    backup = os.path.join(theirs.sdir, layout.ADOPTED_PATCH)
    files.write_atomic(backup, data)
    mine = SessionIndex(env.git, session.dir_for(env.repo, me))
    if not mine.exists():
        mine.create()
    mine.rebase()
    res = env.git.apply_cached(mine.path, data)
    if res.rc != 0:
        raise Fatal(f"could not apply session {args.session}'s staged work onto yours:\n"
                    + res.err.decode("utf-8", "replace").strip(),
                    f"nothing was moved; the patch is in {backup} (`gitlane export {args.session}`)")
    theirs.create()  # empty theirs: reset to HEAD
    with db.tx(env.conn):
        claims.transfer(env.conn, args.session, me)
        db.audit(env.conn, "adopt", me, detail=f"from session {args.session}")
    print(f"adopted session {args.session}'s staged work into session {me}")
    return 0


def _gc(args: argparse.Namespace) -> int:
    env = open_env()
    with maintenance(env):
        pruned = _prune_dead(env, args)
    if getattr(args, "json", False):
        return emit_json(dict(pruned=pruned, dry_run=args.dry_run))
    print(f"{'would prune' if args.dry_run else 'pruned'} {plural(len(pruned), 'session')}"
          + (f": {', '.join(pruned)}" if pruned else ""))
    return 0


def _prune_dead(env, args: argparse.Namespace) -> list[str]:  # type: ignore[no-untyped-def]
    pruned = []
    for s in sessions.records(env.conn):
        if s.name == env.name or (s.ended is None and s.live):
            continue
        sdir = session.dir_for(env.repo, s.name)
        si = SessionIndex(env.git, sdir)
        if os.path.exists(si.path) and patch(env, si):
            continue  # staged work: keep it for export/adopt
        pruned.append(s.name)
        if not args.dry_run:
            _prune(env, s.name, sdir)
    return pruned


def _prune(env, name: str, sdir: str) -> None:  # type: ignore[no-untyped-def]
    from gitlane.session import snapshot
    with db.tx(env.conn):
        sessions.forget(env.conn, name)
        db.audit(env.conn, "gc", name)
    snapshot.drop(env.git, name)
    shutil.rmtree(sdir, ignore_errors=True)
