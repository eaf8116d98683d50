"""shared.globs: reservation globs that would backtrack are refused; the
ones allowed match in bounded time against paths built to backtrack."""
from __future__ import annotations

import time

import pytest

from gitlane.shared import claims, globs

CATASTROPHIC = "*a" * 25 + "b"


@pytest.mark.parametrize("pattern, problem", [
    ("*.md", None),
    ("src/**", None),
    ("src/**/*_test.py", None),
    ("**/docs/**/*.txt", None),
    ("*a*b", None),
    ("a**b", None),                                   # one run inside a name
    ("\\*\\*\\*x", None),                             # escaped stars are literal
    ("*a*a*b", "it has 3 '*' in one path component (at most 2)"),
    (CATASTROPHIC, "it has 25 '*' in one path component (at most 2)"),
    ("**/a/**/b/**/c", "it has 3 '**' before its last component (at most 2)"),
    ("*a/*b/*c/*d/*e/*f/*g/*h/*i", "it has 9 wildcards (at most 8)"),
    ("?????????", "it has 9 wildcards (at most 8)"),
])
def test_problem_table(pattern: str, problem: str | None) -> None:
    assert globs.problem(pattern) == problem


def test_reserve_refuses_the_catastrophic_pattern() -> None:
    assert claims.pattern_problem(CATASTROPHIC) == ("it has 25 '*' in one path component (at most 2): "
                                                    "such a glob takes too long to match")


def test_a_stored_catastrophic_pattern_matches_only_itself_and_quickly() -> None:
    match = claims.matcher([CATASTROPHIC, "*.md"])
    start = time.monotonic()
    assert not match("a" * 60) and match(CATASTROPHIC) and match("x.md")
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("pattern", ["*a*b", "**/*a*b", "**/a*/*a*b", "a/**/b/*a*c"])
def test_the_worst_allowed_patterns_stay_fast_on_paths_built_to_backtrack(pattern: str) -> None:
    """Upper bounds, generous for a loaded machine: without the limits the
    first row alone takes longer than the universe has left."""
    assert globs.problem(pattern) is None
    match = claims.matcher([pattern])
    paths = ["a" * 255, "/".join(["a" * 40] * 100), "/".join(["a" * 3] * 300)]
    start = time.monotonic()
    for path in paths:
        match(path)
    assert time.monotonic() - start < 2.0
