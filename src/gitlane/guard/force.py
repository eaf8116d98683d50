"""GITLANE_FORCE=1: the one escape hatch, and its audit.

Every refusal that may be overridden goes through override(): without the
variable it raises; with it, it writes a `force` record to the audit log
(`gitlane log --event force`) and says on stderr what it let through.
Ownership refusals (a path another live session owns) cannot be forced.
"""
from __future__ import annotations

import os
import sys

from gitlane.errors import Fatal

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

HINT = "GITLANE_FORCE=1 overrides for one command (audited)"
EVENT = "force"


def forced() -> bool:
    return os.environ.get("GITLANE_FORCE") == "1"


def override(conn: sqlite3.Connection, session: str, command: str, refusal: Fatal) -> None:
    """Raise `refusal`, unless GITLANE_FORCE=1 lets it through (audited)."""
    if not forced():
        raise refusal
    from gitlane.shared import db
    db.audit(conn, EVENT, session, argv=command, detail=refusal.what[:500])
    sys.stderr.write(f"gitlane: GITLANE_FORCE=1: allowing what gitlane refuses ({refusal.what.splitlines()[0]})\n")
