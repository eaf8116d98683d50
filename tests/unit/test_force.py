"""guard.force: GITLANE_FORCE=1 (exactly "1") lets one refusal through,
audited in the state database and said on stderr; anything else refuses."""
from __future__ import annotations

import pytest

from gitlane.errors import Fatal
from gitlane.guard import force
from gitlane.shared import db


def refusal() -> Fatal:
    return Fatal("refusing `git stash`: it takes the whole work tree\nsecond line", "a hint")


@pytest.mark.parametrize("value, forced", [(None, False), ("1", True), ("0", False), ("yes", False),
                                           ("true", False), ("", False), (" 1", False)])
def test_forced(monkeypatch: pytest.MonkeyPatch, value: str | None, forced: bool) -> None:
    monkeypatch.delenv("GITLANE_FORCE", raising=False)
    if value is not None:
        monkeypatch.setenv("GITLANE_FORCE", value)
    assert force.forced() is forced


def test_without_force_the_refusal_is_raised_and_nothing_audited(conn: db.Connection) -> None:
    r = refusal()
    with pytest.raises(Fatal) as exc:
        force.override(conn, "A", "stash", r)
    assert exc.value is r
    assert conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_with_force_it_is_let_through_audited_and_said(conn: db.Connection, monkeypatch: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITLANE_FORCE", "1")
    long = Fatal("x" * 900)
    force.override(conn, "A", "stash -u", refusal())
    force.override(conn, "A", "clean -fd", long)
    rows = conn.execute("SELECT event, session, argv, detail FROM audit ORDER BY id").fetchall()
    assert rows == [("force", "A", "stash -u", "refusing `git stash`: it takes the whole work tree second line"),
                    ("force", "A", "clean -fd", "x" * 500)]
    err = capfd.readouterr().err
    assert err.splitlines()[0] == ("gitlane: GITLANE_FORCE=1: allowing what gitlane refuses "
                                   "(refusing `git stash`: it takes the whole work tree)")


def test_the_hint_names_the_escape_hatch() -> None:
    assert force.HINT == "GITLANE_FORCE=1 overrides for one command (audited)"
