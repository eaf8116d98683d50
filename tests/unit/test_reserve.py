"""cli.reserve: parse_ttl() by table (seconds, minutes, hours, days; capped
at 24 h; anything else refused with exit code 2 and a hint)."""
from __future__ import annotations

import pytest

from gitlane.cli.reserve import parse_ttl
from gitlane.errors import Fatal


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("45m", 2700), ("2h", 7200), ("1.5h", 5400),
                                           ("10", 600), ("48h", 86400), ("7d", 86400)])
def test_parse_ttl(text: str, seconds: float) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["0m", "-5m", "soon", "", "5y", "m"])
def test_parse_ttl_rejects(text: str) -> None:
    with pytest.raises(Fatal) as info:
        parse_ttl(text)
    assert (info.value.what.startswith("invalid --ttl"), info.value.code, bool(info.value.hint)) == (True, 2, True)


def test_an_invalid_pattern_is_echoed_readably() -> None:
    from gitlane.cli import reserve as reserve_cli
    from gitlane.errors import Fatal
    with pytest.raises(Fatal) as exc:
        reserve_cli.check_pattern("ünï\x01")
    assert exc.value.what.startswith("invalid reservation pattern 'ünï\\x01': ")
