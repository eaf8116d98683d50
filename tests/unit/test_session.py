"""session: names are untrusted input (layout.name_problem is the rule),
current() reads them from the environment, and git_env() gives the user's
command its index and excludes file."""
from __future__ import annotations

import pytest


def test_nul_in_session_name_is_refused() -> None:
    # a NUL cannot travel through the environment or argv: check the validator
    from gitlane import session
    from gitlane.errors import Fatal
    with pytest.raises(Fatal) as exc:
        session.validate("a\0b")
    assert exc.value.what == "invalid session name 'a\\x00b': it contains '\\x00'"
    assert exc.value.code == 2
