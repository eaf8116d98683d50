"""The history guard: a session rewrites history only over its own commits.

The audit log records which session made each commit (`commit`, `amend`
events); a commit not recorded there was made by a person or another tool.
"""
from __future__ import annotations

from gitlane.errors import Fatal
from gitlane.guard import force

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session


def maker(conn: sqlite3.Connection, commit: str | None) -> str | None:
    """The session that made this commit, or None (a person, or unknown)."""
    from gitlane.shared import claims
    return claims.commit_maker(conn, commit)


def check_amend(s: Session, inv: Invocation, conn: sqlite3.Connection) -> None:
    head = s.repo.head()
    made_by = maker(conn, head)
    if made_by == s.name:
        return
    who = f"session {made_by}" if made_by else "someone outside this session"
    force.override(conn, s.name, inv.line, Fatal(
        f"refusing to amend HEAD ({(head or '')[:10]}): it was made by {who}, not by session {s.name}",
        "make a new commit instead (`git commit --fixup=HEAD` keeps history honest);\n" + force.HINT))
