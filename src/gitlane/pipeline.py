"""The write paths: staging (session lock) and ref moves (global lock, then
session lock, always in that order)."""
from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False  # `typing` costs ~10 ms to import: annotations only

from gitlane import commands, freshen, fsutil, isolation, locks, ownership, proc, registry, sindex, snapshot, state
from gitlane.errors import Fatal

if TYPE_CHECKING:
    from typing import NoReturn
    import sqlite3

    from gitlane.shim import Ctx

# Commands that write only the index: we run them on a copy and keep the copy
# only if every path they stage is ours to stage (all or nothing).
_INDEX_ONLY = frozenset(("add", "stage", "update-index", "reset", "restore", "apply"))
_SHARED_MARKERS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")


def global_lock_path(ctx: "Ctx") -> str:
    return os.path.join(ctx.repo.state_dir(), "global.lock")


def _session_lock(ctx: "Ctx") -> locks.Lock:
    return locks.acquire(ctx.lock_path(), ctx.holder(), f"session {ctx.name}'s lock",
                         lambda: freshen.lock_timeout(ctx))


def _db(ctx: "Ctx") -> "sqlite3.Connection":
    conn = state.connect(ctx.repo.state_dir())
    current = registry.get(conn, ctx.name)
    if current is None or current.ended is not None:
        registry.write_owner(ctx.sdir, registry.register(conn, ctx.name, os.environ, ctx.repo.cwd))
    return conn


def _index_only(ctx: "Ctx") -> bool:
    if ctx.command == "apply":
        return "--index" not in ctx.args
    if ctx.command == "restore":
        return not any(a in ("--worktree", "-W") or (a.startswith("-") and not a.startswith("--") and "W" in a)
                       for a in ctx.args)
    return ctx.command in _INDEX_ONLY


# --- staging ---------------------------------------------------------------

def _clear_stale(ctx: "Ctx", stale_ref_locks: bool) -> None:
    """Under our locks, leftover git locks are either a live git outside
    gitlane (wait) or stale (reclaim, audited)."""
    from gitlane import stale
    freshen.drop_stale_index_lock(ctx)  # we hold the session lock exclusively
    paths = stale.ref_locks(ctx.repo, ctx.command) if stale_ref_locks else []
    if not any(os.path.exists(p) for p in paths):
        return

    def audit(event: str, detail: str) -> None:
        conn = _db(ctx)
        try:
            with state.tx(conn):
                state.audit(conn, event, ctx.name, argv=" ".join(ctx.argv), detail=detail)
        finally:
            conn.close()
    stale.clear(ctx.repo, paths, freshen.lock_timeout(ctx), audit)


def stage(ctx: "Ctx") -> int:
    with _session_lock(ctx) as lock:
        _clear_stale(ctx, stale_ref_locks=False)
        _freshen_tolerant(ctx)
        _isolate_and_guard(ctx)
        _named_hidden_paths(ctx)
        if _index_only(ctx):
            _stage_on_copy(ctx, lock)
        _stage_in_place(ctx, lock)


def _isolate_and_guard(ctx: "Ctx", conn: "sqlite3.Connection | None" = None) -> None:
    from gitlane import guardrun, isolation
    own = conn is None
    if own and isolation.in_step(ctx) and not guardrun.relevant(ctx):
        return
    conn = conn or _db(ctx)
    try:
        isolation.sync(ctx, conn)
        guardrun.check(ctx, conn)
    finally:
        if own:
            conn.close()


def _named_hidden_paths(ctx: "Ctx") -> None:
    """`git add P` for a path a peer owns would meet view isolation first and
    get git's sparse-checkout or "ignored" message. Refuse it in our words,
    naming the owner; if the owner has died since, show the path again so git
    can stage it."""
    from gitlane import isolation
    before, after = commands.positionals(ctx.args)
    named = sorted({p for p in (_named_path(ctx, w) for w in before + after) if p is not None})
    if not named:
        return
    conn = _db(ctx)
    try:
        found = ownership.find(conn, ctx.repo.worktree_id, ctx.name, named, ownership.alive_checker(conn))
    finally:
        conn.close()
    if found:
        raise ownership.refusal("stage" if _index_only(ctx) else ctx.command, found, "nothing was changed")
    hidden = set(isolation.isolated_paths(ctx))
    if hidden & set(named):
        isolation.release(ctx, sorted(hidden & set(named)))


def _named_path(ctx: "Ctx", word: str) -> bytes | None:
    """The top-relative path a pathspec word names literally, if it does:
    plain words, `:/path`, and `:(top)`/`:(literal)` magic. Globs and
    excludes name sets, which the staging run itself checks."""
    if not word.startswith(":"):
        return _top_rel(ctx, word)
    if word.startswith(":/"):
        return os.fsencode(os.path.normpath(word[2:] or "."))
    if word.startswith(":(") and ")" in word:
        magic, rest = word[2:].split(")", 1)
        words = {m.strip() for m in magic.split(",")}
        if not words <= {"top", "literal"} or not rest:
            return None
        return os.fsencode(os.path.normpath(rest)) if "top" in words else _top_rel(ctx, rest)
    return None


def guarded_other(ctx: "Ctx") -> NoReturn:
    """clean, worktree-only restore/checkout and friends: under the session
    lock, after the guard."""
    with _session_lock(ctx) as lock:
        _freshen_tolerant(ctx)
        _isolate_and_guard(ctx)
        status = proc.call([ctx.real, *ctx.argv], ctx.env(), pass_fds=[lock.fd])
        sindex.stamp_verified(ctx.index.path)
    proc.exit_like(status)


def _freshen_tolerant(ctx: "Ctx") -> None:
    try:
        freshen.update(ctx, reading=False)
    except sindex.Conflict as exc:
        freshen._warn_once(ctx, exc)


def _stage_on_copy(ctx: "Ctx", lock: locks.Lock) -> NoReturn:
    si = ctx.index
    tmp = os.path.join(ctx.sdir, f"index.stage.{os.getpid()}")
    fsutil.copy_keep_stat(si.path, tmp)
    before = os.stat(tmp).st_ino
    try:
        status = proc.call([ctx.real, *ctx.argv], ctx.env(GIT_INDEX_FILE=tmp), pass_fds=[lock.fd])
        if os.stat(tmp).st_ino != before:  # git rewrote it: check, then keep
            _claim_or_refuse(ctx, tmp, "stage", "nothing was staged")
            os.replace(tmp, si.path)
            sindex.stamp_verified(si.path)
    finally:
        fsutil.remove(tmp)
    proc.exit_like(status)


def _stage_in_place(ctx: "Ctx", lock: locks.Lock) -> NoReturn:
    """rm, mv and friends also change the work tree, so they cannot run on a
    copy: predict their paths first, then run them for real."""
    predicted = _predict(ctx)
    if predicted:
        conn = _db(ctx)
        try:
            found = ownership.find(conn, ctx.repo.worktree_id, ctx.name, predicted,
                                   ownership.alive_checker(conn))
        finally:
            conn.close()
        if found:
            raise ownership.refusal(f"{ctx.command}", found, "nothing was changed")
    status = proc.call([ctx.real, *ctx.argv], ctx.env(), pass_fds=[lock.fd])
    sindex.stamp_verified(ctx.index.path)
    _claim_or_refuse(ctx, ctx.index.path, None, "")
    proc.exit_like(status)


def _predict(ctx: "Ctx") -> list[bytes]:
    """The paths rm/mv would change: everything tracked under their arguments
    (and for mv, the destinations)."""
    before, after = commands.positionals(ctx.args)
    words = before + after
    if ctx.command == "mv" and len(words) >= 2:
        dest = words[-1]
        sources = ctx.git.ls_files(ctx.index.path, [_top_rel(ctx, w) for w in words[:-1]])
        targets = [_top_rel(ctx, os.path.join(dest, os.path.basename(w))) if os.path.isdir(os.path.join(ctx.repo.cwd, dest))
                   else _top_rel(ctx, dest) for w in words[:-1]]
        return sources + targets
    if ctx.command == "rm" and words:
        return ctx.git.ls_files(ctx.index.path, [_top_rel(ctx, w) for w in words])
    return []


def _top_rel(ctx: "Ctx", word: str) -> bytes:
    full = os.path.normpath(os.path.join(ctx.repo.cwd, word))
    return os.fsencode(os.path.relpath(full, ctx.repo.top))


def _claim_or_refuse(ctx: "Ctx", index: str, action: str | None, nothing: str) -> None:
    """In one transaction: refuse if any path `index` stages is owned by another
    live session (when action is given), else record exactly those claims."""
    base = ctx.index.base() or ctx.repo.empty_tree()
    staged = ctx.git.changed_paths(index, base)
    conn = _db(ctx)
    try:
        with state.tx(conn):
            if action is not None:
                found = ownership.find(conn, ctx.repo.worktree_id, ctx.name, staged,
                                       ownership.alive_checker(conn))
                if found:
                    raise ownership.refusal(action, found, nothing)
            if ownership.set_staged(conn, ctx.repo.worktree_id, ctx.name, staged):
                isolation.bump_own(ctx, conn)
    finally:
        conn.close()
    snapshot.take(ctx.git, ctx.name, index, base, bool(staged))
    note_staged(ctx, len(staged))


def note_staged(ctx: "Ctx", count: int) -> None:
    """How many paths the session stages, for `gitlane prompt` (no sqlite there)."""
    try:
        fsutil.write_atomic(os.path.join(ctx.sdir, "staged"), b"%d\n" % count, durable=False)
    except OSError:
        pass


# --- ref moves -------------------------------------------------------------

def move_refs(ctx: "Ctx") -> int:
    """Lock order: session lock, then the global lock (every path agrees).

    Only what must see a stable HEAD runs under the global lock: stale-lock
    checks, the rebase, the shared-state check and git itself. Ownership and
    isolation depend only on this session's index (a rebase never changes
    which paths it stages), so they run before; claims, audit, snapshot and
    the .git/index sync run after, so peers are not kept waiting for them."""
    start = time.time()
    with _session_lock(ctx) as slock:
        conn = _db(ctx)
        try:
            _freshen_tolerant(ctx)  # most of the rebase happens here, unlocked for peers
            _isolate_and_guard(ctx, conn)
            if ctx.command == "commit":
                _check_commit(ctx, conn)
            old, new, status = _run_locked(ctx, conn, slock)
            try:
                _after(ctx, conn, old, new, status, start)
            except Exception as exc:  # git already did its work: report, never undo
                if os.environ.get("GITLANE_TRACE") == "1":
                    raise
                sys.stderr.write(f"gitlane: bookkeeping after `git {ctx.command}` failed: {exc}\n"
                                 "hint: your commit is safe; run `gitlane doctor`\n")
        finally:
            conn.close()
    proc.exit_like(status)


def _run_locked(ctx: "Ctx", conn: "sqlite3.Connection", slock: locks.Lock) -> tuple[str, str, int]:
    with locks.acquire(global_lock_path(ctx), ctx.holder(), "the global lock",
                       lambda: freshen.lock_timeout(ctx)) as glock:
        _clear_stale(ctx, stale_ref_locks=True)
        if ctx.command in ("tag", "branch", "notes"):
            _freshen_tolerant(ctx)  # they do not use the index
        else:
            _rebase_or_refuse(ctx)
        _check_shared_state(ctx, conn)
        if ctx.command == "commit" and "amend" in commands.commit_args(ctx.args).flags:
            _check_amend(ctx, conn)
        old = ctx.index.head()
        before = _stamp_of(ctx.index.path)
        _claim_shared_state(ctx, conn)
        status = proc.call([ctx.real, *ctx.argv], ctx.env(), pass_fds=[glock.fd, slock.fd])
        sindex.stamp_verified(ctx.index.path)
        new = ctx.index.head()
        # The new HEAD is our base only if git finished writing our index. If
        # git died between its ref update and its index rename, the index is
        # still built on `old`: keeping that base lets the next rebase
        # (old -> index -> new, idempotent) heal it, where a new base would
        # make the next commit revert this one.
        if new != old and (status == 0 or _stamp_of(ctx.index.path) != before):
            ctx.index.set_base(new)
    return old, new, status


def _stamp_of(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


_MARKERS_OF = {"merge": ("MERGE_HEAD",), "pull": ("MERGE_HEAD", "rebase-merge", "rebase-apply"),
               "cherry-pick": ("CHERRY_PICK_HEAD",), "revert": ("REVERT_HEAD",),
               "rebase": ("rebase-merge", "rebase-apply"), "am": ("rebase-apply",)}


def _claim_shared_state(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    """Record, before git runs, that any merge/rebase state it leaves is ours:
    if we are killed mid-way, the state still has an owner (who can --abort)."""
    markers = _MARKERS_OF.get(ctx.command, ())
    if markers:
        with state.tx(conn):
            conn.executemany("INSERT OR IGNORE INTO shared_state VALUES (?, ?, ?)",
                             [(m, ctx.name, time.time()) for m in markers
                              if not os.path.exists(os.path.join(ctx.repo.git_dir, m))])


def _rebase_or_refuse(ctx: "Ctx") -> None:
    try:
        freshen.update(ctx, reading=False)
    except sindex.Conflict as exc:
        raise _conflict_refusal(ctx, exc) from None


def _conflict_refusal(ctx: "Ctx", exc: sindex.Conflict) -> Fatal:
    lines = [f"cannot {ctx.command}: your staged changes conflict with commits made since your index was based on {exc.base[:10]}:"]
    for path in exc.paths[:20]:
        subject = ctx.git.commit_subject(f"{exc.base}..{exc.head}", path)
        lines.append(f"{os.fsdecode(path)}  changed by {subject or 'a newer commit'}")
    return Fatal("\n".join(lines),
                 "nothing was changed: your index and working tree are as they were.\n"
                 "Unstage the path (`git restore --staged PATH`), bring the new content into your file,\n"
                 "then stage and commit again", code=1)


def _check_shared_state(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    if ctx.command in ("tag", "branch", "stash", "notes"):
        return
    owners = dict(conn.execute("SELECT what, session FROM shared_state").fetchall())
    for marker in _SHARED_MARKERS:
        if os.path.exists(os.path.join(ctx.repo.git_dir, marker)):
            owner = owners.get(marker)
            if owner != ctx.name and os.environ.get("GITLANE_FORCE") != "1":
                who = f"session {owner}" if owner else "a process outside gitlane"
                raise Fatal(f"cannot {ctx.command}: {marker} from {who} is in progress in the shared git dir",
                            f"let {who} finish (`git {_finish_verb(marker)} --continue` or `--abort`),\n"
                            "or GITLANE_FORCE=1 for one command (audited)")


def _finish_verb(marker: str) -> str:
    return {"MERGE_HEAD": "merge", "CHERRY_PICK_HEAD": "cherry-pick", "REVERT_HEAD": "revert"}.get(marker, "rebase")


def _check_commit(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    cargs = commands.commit_args(ctx.args)
    staged = _would_commit(ctx, cargs)
    found = ownership.find(conn, ctx.repo.worktree_id, ctx.name, staged, ownership.alive_checker(conn))
    if found:
        what = "commit -a: it would sweep" if "all" in cargs.flags else "commit"
        raise ownership.refusal(what, found, "nothing was committed; your index is as it was.\n"
                                "Commit your own paths by name (`git commit PATH...`) or stage them first")


def _would_commit(ctx: "Ctx", cargs: commands.CommitArgs) -> list[bytes]:
    """The paths this commit would record. For -a and paths we replay the
    sweep on a copy with view isolation lifted, so that `commit -a` refuses
    (and lists) a peer's path instead of silently leaving it out."""
    from gitlane import isolation
    head = ctx.index.base() or ctx.repo.empty_tree()  # what the index is built on, not HEAD now
    if "all" not in cargs.flags and not cargs.paths:
        return ctx.git.changed_paths(ctx.index.path, head)
    tmp = os.path.join(ctx.sdir, f"index.predict.{os.getpid()}")
    fsutil.copy_keep_stat(ctx.index.path, tmp)
    try:
        hidden = isolation.isolated_paths(ctx)
        if hidden:
            ctx.git.run("update-index", "-z", "--no-skip-worktree", "--stdin", index=tmp,
                        input=b"\0".join(hidden) + b"\0", check=False)
        spec = ["--", *cargs.paths] if cargs.paths else []
        ctx.git.run("-C", ctx.repo.cwd, "add", "-u", *spec, index=tmp, check=False,
                    extra={"GIT_LITERAL_PATHSPECS": os.environ.get("GIT_LITERAL_PATHSPECS", "0")})
        return ctx.git.changed_paths(tmp, head)
    finally:
        fsutil.remove(tmp)


def _check_amend(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    head = ctx.repo.head()
    row = conn.execute("SELECT session FROM audit WHERE commit_id = ? AND event IN ('commit', 'amend') "
                       "ORDER BY id DESC LIMIT 1", (head,)).fetchone()
    if row and row[0] == ctx.name:
        return
    if os.environ.get("GITLANE_FORCE") == "1":
        state.audit(conn, "force", ctx.name, argv=" ".join(ctx.argv), detail="amend of a commit not made by this session")
        return
    maker = f"session {row[0]}" if row else "someone outside this session"
    raise Fatal(f"refusing to amend HEAD ({(head or '')[:10]}): it was made by {maker}, not by session {ctx.name}",
                "make a new commit instead (`git commit --fixup=HEAD` keeps history honest);\n"
                "GITLANE_FORCE=1 overrides for one command (audited)")


def _after(ctx: "Ctx", conn: "sqlite3.Connection", old: str, new: str, status: int, start: float) -> None:
    from gitlane import mainindex
    entries = ctx.git.diff_tree_entries(old, new) if new != old else {}
    paths = list(entries)
    staged = _still_staged(ctx, new, status)
    event = ctx.command
    if ctx.command == "commit" and "amend" in commands.commit_args(ctx.args).flags:
        event = "amend"
    with state.tx(conn):
        if ownership.set_staged(conn, ctx.repo.worktree_id, ctx.name, staged):
            isolation.bump_own(ctx, conn)
        if paths:
            conn.executemany("DELETE FROM claims WHERE wt = ? AND path = ? AND session = ? AND kind = 'edit'",
                             [(ctx.repo.worktree_id, p, ctx.name) for p in paths])
        _record_shared_state(ctx, conn)
        state.audit(conn, event, ctx.name, argv=" ".join(ctx.argv), exit=os.waitstatus_to_exitcode(status),
                    commit_id=new if new != old else None, paths=b"\0".join(paths),
                    duration=round(time.time() - start, 4),
                    detail="GITLANE_FORCE=1" if os.environ.get("GITLANE_FORCE") == "1" else None)
    if os.path.exists(ctx.index.path):
        snapshot.take(ctx.git, ctx.name, ctx.index.path, ctx.index.base() or new, bool(staged))
    note_staged(ctx, len(staged))
    if paths:
        mainindex.sync(ctx.git, old, entries, lambda detail: _audit_reclaim(ctx, conn, detail))


def _audit_reclaim(ctx: "Ctx", conn: "sqlite3.Connection", detail: str) -> None:
    with state.tx(conn):
        state.audit(conn, "reclaim", ctx.name, argv=" ".join(ctx.argv), detail=detail)


def _still_staged(ctx: "Ctx", new: str, status: int) -> list[bytes]:
    """What the session stages after the command. A successful commit of the
    whole index (no `--only` paths) leaves nothing: no need to ask git."""
    if ctx.command == "commit" and status == 0 and new:
        cargs = commands.commit_args(ctx.args)
        if not cargs.paths or "include" in cargs.flags:
            if not cargs.pathspec_file and "dry-run" not in cargs.flags and "patch" not in cargs.flags:
                return []
    if not os.path.exists(ctx.index.path):
        return []
    return ctx.git.changed_paths(ctx.index.path, ctx.index.base() or new)


def _record_shared_state(ctx: "Ctx", conn: "sqlite3.Connection") -> None:
    for marker in _SHARED_MARKERS:
        if os.path.exists(os.path.join(ctx.repo.git_dir, marker)):
            conn.execute("INSERT OR IGNORE INTO shared_state VALUES (?, ?, ?)", (marker, ctx.name, time.time()))
        else:
            conn.execute("DELETE FROM shared_state WHERE what = ?", (marker,))
