"""errors: one exception type for expected failures, printed as
`gitlane: ...` / `hint: ...`; anything unexpected becomes one line (exit 70)
unless GITLANE_TRACE=1 asks for the traceback."""
from __future__ import annotations

import pytest

from gitlane import errors
from gitlane.errors import Fatal, GitError, ReadOnly


def test_report_prints_what_then_hints(capsys: pytest.CaptureFixture[str]) -> None:
    code = errors.report(Fatal("first line\nsecond line", "do this\nor that", code=3))
    assert code == 3
    assert capsys.readouterr().err == "gitlane: first line\n  second line\nhint: do this\nhint: or that\n"
    assert errors.report(Fatal("")) == 1
    assert capsys.readouterr().err == "gitlane: \n"


def test_guarded(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITLANE_TRACE", raising=False)
    assert errors.guarded(lambda x: x + 1, 4) == 5

    def refuse() -> int:
        raise Fatal("refused", "hint", code=2)

    def interrupted() -> int:
        raise KeyboardInterrupt

    def broken() -> int:
        raise ValueError("bad value")
    assert errors.guarded(refuse) == 2
    assert errors.guarded(interrupted) == 130
    assert errors.guarded(broken) == 70
    err = capsys.readouterr().err
    assert "gitlane: refused\nhint: hint\n" in err
    assert "gitlane: internal error: ValueError: bad value\nhint: rerun with GITLANE_TRACE=1" in err
    monkeypatch.setenv("GITLANE_TRACE", "1")
    with pytest.raises(ValueError):
        errors.guarded(broken)


def test_git_error_names_the_call_and_its_stderr() -> None:
    exc = GitError(["read-tree", "-m", "-i", "--aggressive", "a", "b"], 128, b"fatal: bad \xff object\n")
    assert isinstance(exc, Fatal)
    assert exc.args_ == ("read-tree", "-m", "-i", "--aggressive", "a", "b") and exc.rc == 128
    assert exc.stderr == "fatal: bad \ufffd object"
    assert exc.what == "git read-tree -m -i failed (exit 128): fatal: bad \ufffd object"


def test_read_only_says_what_and_where() -> None:
    exc = ReadOnly("/r/.git/gitlane/sessions/A/lock", "Permission denied")
    assert exc.what == "cannot write gitlane state at /r/.git/gitlane/sessions/A/lock: Permission denied"
    assert exc.code == 1 and exc.hint.startswith("the repository looks read-only")
