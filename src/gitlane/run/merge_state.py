"""Merges, cherry-picks, reverts and rebases in progress: git keeps their
state (MERGE_HEAD, rebase-merge/, ...) in the shared git dir, where a
leftover marker of one session would turn another's plain commit into a
merge. This module owns the `shared_state` table: which session a marker
belongs to. Its rows are written through shared.claims, which owns the SQL."""
from __future__ import annotations

import os
import time

from gitlane.errors import Fatal
from gitlane.guard import force
from gitlane.shared import claims, db

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session

MARKERS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")
_MARKERS_OF = {"merge": ("MERGE_HEAD",), "pull": ("MERGE_HEAD", "rebase-merge", "rebase-apply"),
               "cherry-pick": ("CHERRY_PICK_HEAD",), "revert": ("REVERT_HEAD",),
               "rebase": ("rebase-merge", "rebase-apply"), "am": ("rebase-apply",)}
_NOT_CHECKED = ("tag", "branch", "stash", "notes")


def present(s: Session) -> list[str]:
    return [m for m in MARKERS if os.path.exists(os.path.join(s.repo.git_dir, m))]


def owners(conn: sqlite3.Connection) -> dict[str, str]:
    return {w: sess for w, sess, _ in claims.marker_rows(conn)}


def in_progress(conn: sqlite3.Connection, git_dir: str) -> list[tuple[str, str, float]]:
    """(marker, owning session, since) for markers that exist now."""
    return [(w, sess, t) for w, sess, t in claims.marker_rows(conn) if os.path.exists(os.path.join(git_dir, w))]


def claim(s: Session, inv: Invocation, conn: sqlite3.Connection) -> None:
    """Record, before git runs, that any merge/rebase state it leaves is ours:
    if we are killed mid-way, the state still has an owner (who can --abort)."""
    markers = [m for m in _MARKERS_OF.get(inv.command, ())
               if not os.path.exists(os.path.join(s.repo.git_dir, m))]
    if markers:
        claims.claim_markers(conn, s.name, markers, time.time())


def check(s: Session, inv: Invocation, conn: sqlite3.Connection) -> None:
    """Refuse to build on another session's (or an unknown process's) merge state."""
    if inv.command in _NOT_CHECKED:
        return
    markers = present(s)
    if not markers:
        return
    from gitlane.shared import sessions
    if not sessions.peer_live(conn, s.name):
        return  # alone, a session is plain git: whatever state is there is ours to use
    known = owners(conn)
    for marker in markers:
        owner = known.get(marker)
        if owner == s.name:
            continue
        who = f"session {owner}" if owner else "a process outside gitlane"
        force.override(conn, s.name, inv.line, Fatal(
            f"cannot {inv.command}: {marker} from {who} is in progress in the shared git dir",
            f"let {who} finish (`git {_finish_verb(marker)} --continue` or `--abort`),\n" + force.HINT))


def record(s: Session, conn: sqlite3.Connection) -> None:
    """After git ran: markers that exist are ours, markers that are gone are nobody's."""
    here = [m for m in MARKERS if os.path.exists(os.path.join(s.repo.git_dir, m))]
    with db.tx(conn):
        claims.claim_markers(conn, s.name, here, time.time())
        claims.drop_markers(conn, [m for m in MARKERS if m not in here])


def _finish_verb(marker: str) -> str:
    return {"MERGE_HEAD": "merge", "CHERRY_PICK_HEAD": "cherry-pick", "REVERT_HEAD": "revert"}.get(marker, "rebase")
