"""Commands that move HEAD or shared state (commit, merge, reset to a commit,
stash, ...): the global lock, the rebase onto HEAD, the real git, and the
bookkeeping after it.

Lock order: the session lock, then the global lock (every path agrees).
Only what must see a stable HEAD runs under the global lock: stale-lock
checks, the rebase, the shared-state check and git itself. Ownership and
isolation depend only on this session's index (a rebase never changes which
paths it stages), so they run before; claims, audit, snapshot and the
.git/index sync run after, so peers are not kept waiting for them.
"""
from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.errors import Fatal
from gitlane.git import proc
from gitlane.guard import force, history
from gitlane.run import classify, merge_state, stage
from gitlane.session import index as session_index
from gitlane.session import isolation, refresh, settled
from gitlane.shared import claims, db, locks, sessions

if TYPE_CHECKING:
    import sqlite3

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session

_NO_INDEX = ("tag", "branch", "notes")  # they do not use the index


def global_lock_path(s: Session) -> str:
    return os.path.join(s.repo.state_dir(), layout.GLOBAL_LOCK)


def run(s: Session, inv: Invocation) -> int:
    start = time.time()
    from gitlane.shared import main_index
    main_index.catch_up(s.git)
    with refresh.session_lock(s, inv.holder(s.name)) as slock:
        conn = stage.connect(s)
        try:
            stage.refresh_tolerant(s)  # most of the rebase happens here, unlocked for peers
            stage.isolate_and_guard(s, inv, conn)
            staged = _check_commit(s, inv, conn) if inv.command == "commit" else None
            with _hidden_while_committing(s, conn, staged):
                old, new, status, intent = _run_locked(s, inv, conn, slock)
            try:
                _after(s, inv, conn, old, new, status, start, intent)
            except Exception as exc:  # git already did its work: report, never undo
                if os.environ.get("GITLANE_TRACE") == "1":
                    raise
                sys.stderr.write(f"gitlane: bookkeeping after `git {inv.command}` failed: {exc}\n"
                                 "hint: your commit is safe; run `gitlane doctor`\n")
        finally:
            conn.close()
    proc.exit_like(status)


def _run_locked(s: Session, inv: Invocation, conn: sqlite3.Connection,
                slock: locks.Lock) -> tuple[str, str, int, str | None]:
    with locks.acquire(global_lock_path(s), inv.holder(s.name), "the global lock",
                       lambda: locks.timeout(s.git)) as glock:
        stage.clear_stale(s, inv, ref_locks=True)
        if inv.command in _NO_INDEX:
            stage.refresh_tolerant(s)
        else:
            _rebase_or_refuse(s, inv)
        merge_state.check(s, inv, conn)
        history.check(s, inv, conn)
        old = s.index.head()
        merge_state.claim(s, inv, conn)
        intent = _intend(s, inv, old)
        status = proc.call(inv.real_argv(), s.git_env(os.environ), pass_fds=[glock.fd, slock.fd])
        session_index.stamp_verified(s.index.path)
        new = s.index.head()
        if _landed(s, inv, status, old, new):
            s.index.set_base(new)
    return old, new, status, intent


def _intend(s: Session, inv: Invocation, old: str) -> str | None:
    """docs/DESIGN.md, "Invariants" 10: before git may move HEAD, record that
    .git/index will have to follow, and fork the follower that completes it
    even if this process is killed right after git's ref update."""
    from gitlane.shared import main_index
    if inv.command in _NO_INDEX or s.repo.private:
        return None  # on its own HEAD a session never moves the work tree's HEAD: .git/index stays
    intent = main_index.intend(s.git, old)
    main_index.follow(s.git)
    return intent


def _landed(s: Session, inv: Invocation, status: int, old: str, new: str) -> bool:
    """docs/DESIGN.md, "Invariants" 10: the base moves only with our own commit."""
    from gitlane.run import landing
    is_commit = inv.command == "commit"
    amend = classify.is_amend(inv.command, inv.args)
    if new == old or not is_commit or status != 0:
        return landing.moves_base(is_commit, amend, status, old, new, None, None, s.repo.empty_tree())
    return landing.moves_base(True, amend, status, old, new, _parents(s, new),
                              _parents(s, old) if amend else None, s.repo.empty_tree())


def _parents(s: Session, commit: str) -> list[str] | None:
    from gitlane.errors import GitError
    try:
        return s.git.tree_and_parents(commit)[1]
    except GitError:
        return None


def _rebase_or_refuse(s: Session, inv: Invocation) -> None:
    try:
        refresh.update(s, reading=False)
    except session_index.Conflict as exc:
        raise _conflict_refusal(s, inv, exc) from None


def _conflict_refusal(s: Session, inv: Invocation, exc: session_index.Conflict) -> Fatal:
    lines = [f"cannot {inv.command}: your staged changes conflict with commits made since your index "
             f"was based on {exc.base[:10]}:"]
    for path in exc.paths[:20]:
        subject = s.git.commit_subject(f"{exc.base}..{exc.head}", path)
        lines.append(f"{os.fsdecode(path)}  changed by {subject or 'a newer commit'}")
    return Fatal("\n".join(lines),
                 "nothing was changed: your index and working tree are as they were.\n"
                 "Unstage the path (`git restore --staged PATH`), bring the new content into your file,\n"
                 "then stage and commit again", code=1)


def _hidden_while_committing(s: Session, conn: sqlite3.Connection, staged: list[bytes] | None) -> isolation.hide_during:
    """Every change that is not ours, hidden from git while our commit and
    its hooks run (isolation.hide_during); nothing at all when alone."""
    if staged is None or not stage.others_live(conn, s):
        return isolation.hide_during(s, [], [])
    from gitlane.session import window
    tracked, untracked = window.dirty(s.git, s.index.path)
    mine = claims.mine(conn, s.repo.worktree_id, s.name)
    ours = set(mine) | set(staged)
    return isolation.hide_during(s, [p for p in tracked if p not in ours], [p for p in untracked if p not in ours])


def _check_commit(s: Session, inv: Invocation, conn: sqlite3.Connection) -> list[bytes]:
    """Refuse what this commit must not take; the paths it will record."""
    if not claims.others_hold_any(conn, s.repo.worktree_id, s.name) and not stage.others_live(conn, s):
        return []  # alone: no need to predict what would be committed
    cargs = classify.commit_args(inv.args)
    staged, swept = _would_commit(s, cargs)
    alive = claims.alive_checker(conn)
    found = settled.unsettled(s, claims.find(conn, s.repo.worktree_id, s.name, staged, alive))
    if found:
        what = "commit -a: it would sweep" if "all" in cargs.flags else "commit"
        raise claims.refusal(what, found, "nothing was committed; your index is as it was.\n"
                             "Commit your own paths by name (`git commit PATH...`) or stage them first")
    if not swept and "all" not in cargs.flags:
        return staged
    from gitlane.guard import safety
    if not stage.others_live(conn, s):
        return staged
    mine = claims.mine(conn, s.repo.worktree_id, s.name)
    bad = safety.not_ours(swept, mine, safety.named(cargs.paths, s.repo.top_rel), {})
    if bad:
        raise safety.staging_refusal("commit -a" if "all" in cargs.flags else "commit " + " ".join(cargs.paths)[:60],
                                     bad)
    if "all" in cargs.flags:
        _note_left_out(s, conn, alive)
    return staged


def _note_left_out(s: Session, conn: sqlite3.Connection, alive) -> None:  # type: ignore[no-untyped-def]
    """`commit -a` does not take peers' changes (view isolation hides them):
    say which, on stderr."""
    from gitlane.guard import safety
    hidden = isolation.isolated_paths(s)
    changed = s.git.differs_from_head(hidden) if hidden else set()
    if not changed:
        return
    owned = claims.find(conn, s.repo.worktree_id, s.name, sorted(changed), alive)
    if owned:
        sys.stderr.write(safety.left_out_note([(p, f"session {o.session} (pid {o.pid})") for p, o in owned]))


def _would_commit(s: Session, cargs: classify.CommitArgs) -> tuple[list[bytes], list[bytes]]:
    """(the paths this commit would record, those of them it sweeps in from
    the work tree). `commit -a` sweeps as git will, with peers' paths hidden
    (they are simply not part of it). For `commit PATH...` view isolation is
    lifted on a copy, so that naming a peer's path refuses (and lists it)."""
    head = s.index.base() or s.repo.empty_tree()  # what the index is built on, not HEAD now
    if "all" not in cargs.flags and not cargs.paths:
        known = session_index.known_staged(s.index, s.index.path, head)
        return (known if known is not None else s.git.changed_paths(s.index.path, head)), []
    before = set(s.git.changed_paths(s.index.path, head))
    tmp = s.path(f"index.predict.{os.getpid()}")
    files.copy_keep_stat(s.index.path, tmp)
    try:
        hidden = isolation.isolated_paths(s)
        if hidden and cargs.paths:
            s.git.set_skip_worktree(tmp, hidden, False)
        s.git.add_update(tmp, cargs.paths)
        staged = s.git.changed_paths(tmp, head)
        return staged, [p for p in staged if p not in before]
    finally:
        files.remove(tmp)


def _after(s: Session, inv: Invocation, conn: sqlite3.Connection, old: str, new: str, status: int,
           start: float, intent: str | None = None) -> None:
    from gitlane.session import snapshot
    from gitlane.shared import main_index
    entries = s.git.diff_tree_entries(old, new) if new != old else {}
    paths = list(entries)
    staged = _still_staged(s, inv, new, status)
    event = "amend" if classify.is_amend(inv.command, inv.args) else inv.command
    with db.tx(conn):
        isolation.carry(s, claims.set_staged(conn, s.repo.worktree_id, s.name, staged))
        if paths:
            isolation.carry(s, claims.drop_edits(conn, s.repo.worktree_id, s.name, paths))
        if new != old:
            _branch_bookkeeping(s, conn, paths, new)
        merge_state.record(s, conn)
        db.audit(conn, event, s.name, argv=inv.line, exit=os.waitstatus_to_exitcode(status),
                 commit_id=new if new != old and s.index.base() == new else None, paths=b"\0".join(paths),
                 duration=round(time.time() - start, 4), detail="GITLANE_FORCE=1" if force.forced() else None)
    if os.path.exists(s.index.path):
        snapshot.take(s.git, s.name, s.index.path, s.index.base() or new, bool(staged),
                      alone=bool(staged) and not sessions.peer_live(conn, s.name))
        session_index.remember_staged(s.index, s.index.path, s.index.base() or new, staged)
    s.note_staged(len(staged))
    landed = new != old and s.index.base() == new and not s.repo.private  # a private HEAD: .git/index stays
    if (intent or (landed and paths)) and not main_index.settle(
            s.git, intent, old, new if landed and paths else None,
            lambda detail: db.audit(conn, "reclaim", s.name, argv=inv.line, detail=detail),
            entries=entries if landed else None):
        main_index.skipped_notice()  # the follower completes it when the lock is free


def _branch_bookkeeping(s: Session, conn: sqlite3.Connection, paths: list[bytes], new: str) -> None:
    """A commit on a session's own branch makes its files branch files; any
    commit changes what sessions on their own HEADs must hide (session.head)."""
    from gitlane.session import head
    if s.repo.private:
        held = claims.branch_paths(conn, s.repo.worktree_id, s.name) | set(paths)
        isolation.carry(s, head.record_branch_files(s, conn, held, new))
        head.keep_reachable(s.git, s.name, s.dir)
    if head.any_private(s.repo):
        change = claims.bump(conn)
        if s.repo.private:
            isolation.sync(s, conn)  # our own view follows our new HEAD now: the next read is fast
        else:
            isolation.carry(s, change)  # a view on the shared HEAD is peers' claims only: unchanged


def _still_staged(s: Session, inv: Invocation, new: str, status: int) -> list[bytes]:
    """What the session stages after the command. A successful commit of the
    whole index (no `--only` paths) leaves nothing: no need to ask git."""
    if inv.command == "commit" and status == 0 and new:
        cargs = classify.commit_args(inv.args)
        if not cargs.paths or "include" in cargs.flags:
            if not cargs.pathspec_file and "dry-run" not in cargs.flags and "patch" not in cargs.flags:
                return []
    if not os.path.exists(s.index.path):
        return []
    return s.git.changed_paths(s.index.path, s.index.base() or new)
