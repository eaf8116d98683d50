"""`gitlane doctor [--fix]`: report, and with --fix repair, what can go wrong:
the shim and PATH, stale locks, dead sessions holding staged work, orphaned
indexes, missing bases, core.sparseCheckout, and the state database."""
from __future__ import annotations

import argparse
import os
import shutil
import time

from gitlane import files, layout
from gitlane.cli.common import add_json, emit_json, open_env
from gitlane.errors import Fatal, GitError, StateError
from gitlane.git import realgit
from gitlane.session import index as session_index
from gitlane.session import repair
from gitlane.shared import claims, db, git_locks, locks, sessions, storage


class Report:
    def __init__(self, fix: bool) -> None:
        self.fix = fix
        self.items: list[dict[str, str]] = []

    def add(self, level: str, what: str, hint: str = "", fixed: bool = False) -> None:
        self.items.append(dict(level=level, what=what, hint=hint, fixed="yes" if fixed else ""))

    @property
    def problems(self) -> int:
        return sum(1 for i in self.items if i["level"] in ("error", "warn") and not i["fixed"])


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--fix", action="store_true", help="repair what can be repaired safely")
    p.add_argument("--repair", action="store_true", help="also rebuild an unreadable state database")
    add_json(p)


def run(args: argparse.Namespace) -> int:
    rep = Report(args.fix or args.repair)
    _check_shim(rep)
    env = open_env(need_repo=False)
    if env is not None:
        with _maintenance(env, rep.fix):
            conn = _check_db(rep, env, args.repair)
            _check_locks(rep, env, conn)
            if conn is not None:
                _check_sessions(rep, env, conn)
            _check_main_index(rep, env, conn)
            _check_sparse(rep, env)
    if args.json:
        emit_json(dict(items=rep.items, problems=rep.problems))
    else:
        for item in rep.items:
            mark = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}[item["level"]]
            print(f"{mark} {item['what']}{'  [fixed]' if item['fixed'] else ''}")
            if item["hint"] and not item["fixed"] and item["level"] != "ok":
                print(f"      hint: {item['hint']}")
        print(f"{rep.problems} problem{'s' if rep.problems != 1 else ''} left")
    return 1 if rep.problems else 0


def _maintenance(env, fixing: bool):  # type: ignore[no-untyped-def]
    """One repair at a time per repository (cli.common.maintenance); a
    report that changes nothing needs no lock."""
    import contextlib
    from gitlane.cli.common import maintenance
    return maintenance(env) if fixing else contextlib.nullcontext()


def _check_shim(rep: Report) -> None:
    from gitlane.cli.activate import shim_dir
    shim = os.path.join(shim_dir(), "git")
    if not os.access(shim, os.X_OK):
        rep.add("error", f"shim missing: {shim}", "run ./install.sh in the gitlane checkout")
    try:
        real = realgit.find()
        rep.add("ok", f"real git: {real}")
    except Fatal as exc:
        rep.add("error", exc.what, exc.hint)
    on_path = shutil.which("git") or ""
    active = on_path and realgit.is_shim_dir(os.path.dirname(on_path))
    rep.add("ok" if active or not os.environ.get("GITLANE_SESSION") else "warn",
            f"git on PATH: {on_path or 'none'}" + (" (gitlane shim)" if active else ""),
            "" if active else 'GITLANE_SESSION is set but the shim is not first on PATH: eval "$(gitlane activate)"')
    depth = os.environ.get("GITLANE_DEPTH", "0")
    if depth.isdigit() and int(depth) > 2:
        rep.add("warn", f"GITLANE_DEPTH={depth}: git wrappers call each other", "set GITLANE_REAL_GIT")


def _check_db(rep: Report, env, repair: bool):  # type: ignore[no-untyped-def]
    path = db.path(env.repo.state_dir())
    try:
        conn = db.connect(env.repo.state_dir())
        if db.quick_check(conn):
            _check_db_writable(rep, path)
            return conn
        conn.close()
    except StateError as exc:
        if exc.kind != storage.DAMAGED:  # a full disk, a read-only mount, a busy database: not damage
            rep.add("error", exc.what, exc.hint.replace("\n", " "))
            return None
    except db.DatabaseError:
        pass
    if db.integrity_ok(path):
        rep.add("error", f"state database {path} passes its integrity check but cannot be used now",
                "retry; it is not rebuilt, because nothing in it is damaged")
        return None
    if not repair:
        rep.add("error", f"state database unreadable: {path}", "gitlane doctor --repair rebuilds it from the session folders")
        return None
    conn = rebuild_db(env)
    rep.add("error", "state database was unreadable: rebuilt from the session folders", fixed=True)
    return conn


def _check_db_writable(rep: Report, path: str) -> None:
    full, read_only, writable = storage.facts(path)
    if full or read_only or not writable:
        kind = storage.FULL if full else storage.READ_ONLY if read_only else storage.DENIED
        exc = storage.explain(OSError(0, {storage.FULL: "no space left", storage.READ_ONLY: "read-only file system",
                                          storage.DENIED: "not writable"}[kind]), path)
        rep.add("error", exc.what, exc.hint.replace("\n", " "))
    else:
        rep.add("ok", f"state database: {path}")


def rebuild_db(env):  # type: ignore[no-untyped-def]
    """Move the broken database aside and rebuild sessions and staged claims
    from the session folders, owners included (each folder records its
    owner's pid and create time). A session without a recorded owner is
    marked ended, so it blocks nobody; its staged work stays in its index,
    and if it is still running it revives on its next command."""
    sdir = env.repo.state_dir()
    for suffix in ("", "-wal", "-shm"):
        p = db.path(sdir) + suffix
        if os.path.exists(p):
            files.set_aside(p, "broken")  # kept, never deleted
    conn = db.connect(sdir, repairing=True)
    root = env.repo.sessions_root()
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        si = session_index.SessionIndex(env.git, os.path.join(root, name))
        if layout.symlink_in(env.repo.common_dir, si.sdir) or not os.path.exists(si.path):
            continue
        staged = env.git.changed_paths(si.path, si.base() or env.repo.empty_tree())
        owner = sessions.read_owner(si.sdir)
        pid, ctime = owner if owner else (None, None)
        with db.tx(conn):
            sessions.restore(conn, name, pid, ctime, "rebuilt")
            claims.set_staged(conn, env.repo.worktree_id, name, staged)
            claims.bump(conn)
            db.audit(conn, "rebuild", name, detail=f"{len(staged)} staged paths")
    return conn


def _lock_files(env) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for base in {env.repo.git_dir, env.repo.common_dir}:
        for d, dirs, files in os.walk(base):
            dirs[:] = [x for x in dirs if x not in ("objects", "gitlane", "modules", "worktrees")]
            found += [os.path.join(d, f) for f in files if f.endswith(".lock")]
    root = env.repo.sessions_root()
    if os.path.isdir(root):
        for name in os.listdir(root):
            p = os.path.join(root, name, layout.INDEX + ".lock")
            if os.path.exists(p):
                found.append(p)
    return sorted(set(found))


def _check_locks(rep: Report, env, conn) -> None:  # type: ignore[no-untyped-def]
    paths = _lock_files(env)
    if not paths:
        rep.add("ok", "no git lock files")
        return
    live = git_locks.repo_git_processes(env.repo)
    for path in paths:
        age = time.time() - os.lstat(path).st_mtime
        if live:
            rep.add("info", f"lock {path} ({int(age)}s old) belongs to a running git: "
                            + ", ".join(f"pid {p} (`{cmd[:60]}`)" for p, cmd in live[:3]))
            continue
        if age < git_locks.GRACE:
            rep.add("info", f"lock {path} is {age:.1f}s old and no git process runs here: "
                            "a git may be starting; it is not touched", "run `gitlane doctor` again in a few seconds")
            continue
        fixed = False
        if rep.fix:
            files.remove(path)
            fixed = True
            if conn is not None:
                db.audit(conn, "reclaim", env.name, detail=f"doctor removed {path} ({int(age)}s old)")
        rep.add("warn", f"stale lock {path} ({int(age)}s old, no git process running here)",
                "gitlane doctor --fix removes it", fixed)
    gl = os.path.join(env.repo.state_dir(), layout.GLOBAL_LOCK)
    if locks.is_held(gl):
        rep.add("info", f"global lock held by {locks.describe_holder(gl)}")


def _check_sessions(rep: Report, env, conn) -> None:  # type: ignore[no-untyped-def]
    known = {s.name: s for s in sessions.records(conn)}
    root = env.repo.sessions_root()
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    for name in names:
        sdir = os.path.join(root, name)
        link = layout.symlink_in(env.repo.common_dir, sdir)
        if link:
            kept = files.set_aside(link, "link") if rep.fix else ""
            rep.add("error", f"{link} is a symlink or not a folder: gitlane never writes through it"
                    + (f" (moved aside as {kept})" if kept else ""), f"remove it: `rm {link}` (the link only)", rep.fix)
            continue
        si = session_index.SessionIndex(env.git, sdir)
        try:
            _check_one(rep, env, conn, name, si, known.get(name))
        except GitError as exc:  # one unreadable session must not stop the whole check
            if rep.fix and repair.unreadable(exc):
                rep.add("error", f"session {name}: {repair.recover_index(si, name).replace('corrupt', 'unreadable')}",
                        fixed=True)
            else:
                rep.add("error", f"session {name}: its index cannot be read: {exc.stderr.splitlines()[-1][:200]}",
                        "gitlane doctor --fix rebuilds it from its snapshot ref" if repair.unreadable(exc)
                        else f"`gitlane export {name}` may still save its staged work")
    if not names:
        rep.add("ok", "no sessions in this work tree")


def _check_one(rep: Report, env, conn, name: str, si: session_index.SessionIndex, rec) -> None:  # type: ignore[no-untyped-def]
    for tmp in os.listdir(si.sdir):
        if tmp.startswith("index.") and tmp.split(".")[-1].isdigit() and not _pid_alive(int(tmp.split(".")[-1])):
            if rep.fix:
                files.remove(os.path.join(si.sdir, tmp))
            rep.add("warn", f"session {name}: leftover temporary file {tmp}", "gitlane doctor --fix removes it", rep.fix)
    if repair.index_missing(si):
        if rep.fix:
            rep.add("error", f"session {name}: {repair.recover_missing_index(si, name)}", fixed=True)
        else:
            rep.add("error", f"session {name}: its index is missing", "gitlane doctor --fix restores it from its snapshot ref")
            return
    if not os.path.exists(si.path):
        return
    if session_index.is_corrupt(si.path):
        if rep.fix:
            rep.add("error", f"session {name}: {repair.recover_index(si, name)}", fixed=True)
        else:
            rep.add("error", f"session {name}: index is corrupt", "gitlane doctor --fix rebuilds it from its snapshot ref")
        return
    problem = repair.base_problem(si) or (None if repair.base_is_commit(si) else
                                          f"its base {si.base()} is not a commit in this repository")
    if problem:
        _check_base(rep, name, si, problem)
        if not rep.items[-1]["fixed"]:
            return
    base = si.base()
    staged = env.git.changed_paths(si.path, base or env.repo.empty_tree())
    if rec is None:
        rep.add("warn", f"session {name}: orphaned index (not in the database), {len(staged)} staged",
                "gitlane doctor --fix records it as an ended session")
        if rep.fix:
            sessions.restore(conn, name, None, None, "orphan")
            rep.items[-1]["fixed"] = "yes"
        return
    live = rec.ended is None and rec.live
    if not live and staged:
        rep.add("warn", f"session {name} is {'ended' if rec.ended else 'dead'} with {len(staged)} staged path(s)",
                f"`gitlane export {name}` saves it as a patch; `gitlane adopt {name}` takes it over")
    elif not live:
        rep.add("info", f"session {name} is {'ended' if rec.ended else 'dead'} with nothing staged", "gitlane gc prunes it")
    else:
        rep.add("ok", f"session {name}: live (pid {rec.pid}), {len(staged)} staged")


def _check_base(rep: Report, name: str, si: session_index.SessionIndex, problem: str) -> None:
    """Damage to the base file: --fix recovers it from the snapshot, or, when
    nothing can tell the base, keeps the index aside and starts over."""
    if not rep.fix:
        rep.add("error", f"session {name}: {problem}", "gitlane doctor --fix recovers it from the session's snapshot ref")
        return
    try:
        rep.add("error", f"session {name}: {repair.recover_base(si, name, problem)}", fixed=True)
    except StateError:
        rep.add("error", f"session {name}: {repair.start_over(si, problem)}", fixed=True)


def _pid_alive(pid: int) -> bool:
    from gitlane.shared.liveness import is_alive
    return is_alive(pid, None)


def _check_main_index(rep: Report, env, conn) -> None:  # type: ignore[no-untyped-def]
    """.git/index must follow HEAD for what sessions committed
    (docs/DESIGN.md, "Invariants", 10): syncs left pending, and damage no
    record explains (a sync lost, an index planted by hand)."""
    from gitlane.guard import history
    from gitlane.shared import main_index
    waiting = main_index.pending(env.git)
    if waiting:
        fixed = rep.fix and main_index.complete(env.git, patience=5.0)
        rep.add("warn", f".git/index has not yet followed {len(waiting)} session commit(s)",
                "gitlane doctor --fix brings it up to date (it waits for .git/index.lock)", fixed)
    if conn is None:
        return
    found = main_index.stale(env.git, lambda commit: history.maker(conn, commit))
    if not found:
        return
    names = ", ".join(os.fsdecode(p) for p in sorted(found)[:10]) + (" ..." if len(found) > 10 else "")
    fixed = rep.fix and main_index.repair(env.git, found)
    if fixed and conn is not None:
        db.audit(conn, "repair", env.name, detail=f".git/index brought to HEAD for {len(found)} path(s)")
    rep.add("error", f".git/index is behind HEAD on {len(found)} path(s) sessions committed: {names} "
                     "(a plain commit now would revert them)",
            "gitlane doctor --fix brings those paths to HEAD (what a person staged is kept)", fixed)


def _check_sparse(rep: Report, env) -> None:  # type: ignore[no-untyped-def]
    value = (env.git.config("core.sparseCheckout") or "").lower()
    if layout.git_bool(value):
        rep.add("warn", "core.sparseCheckout is true: it clears the skip-worktree bits of view isolation",
                "other sessions' edits are then protected by the guard only; turn it off while sharing")
