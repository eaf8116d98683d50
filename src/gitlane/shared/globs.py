"""How complex a reservation glob may be. pathspec compiles gitwildmatch
globs to Python regular expressions, which backtrack: `*a*a*a…b` against a
long name of a's takes exponential time, and so would every `git add` and
`gitlane who` of every session. A glob within these limits is matched in
bounded time (measured worst cases in tests/unit/test_globs.py): wildcards
are what backtrack, so they are what we count.

Pure functions, no imports: pattern_problem refuses a glob at `reserve`,
and claims.matcher never hands pathspec one that breaks the limits.
"""
from __future__ import annotations

MAX_STARS_PER_PART = 2    # `*` runs in one path component: 3 cost 0.17 s on a 255-byte name, 4 cost 10 s
MAX_SPANNING = 2          # `**` that are not last: each one multiplies by the number of components
MAX_WILDCARDS = 8         # every `*`, `?` and `[` together


def problem(pattern: str) -> str | None:
    """Why the glob is too complex to match in bounded time, or None."""
    parts = pattern.strip("/").split("/")
    spanning = sum(1 for part in parts[:-1] if part == "**")
    stars = max((_star_runs(part) for part in parts if part != "**"), default=0)
    wildcards = sum(_star_runs(part) for part in parts) + _count(pattern, "?") + _count(pattern, "[")
    if stars > MAX_STARS_PER_PART:
        return f"it has {stars} '*' in one path component (at most {MAX_STARS_PER_PART})"
    if spanning > MAX_SPANNING:
        return f"it has {spanning} '**' before its last component (at most {MAX_SPANNING})"
    if wildcards > MAX_WILDCARDS:
        return f"it has {wildcards} wildcards (at most {MAX_WILDCARDS})"
    return None


def _star_runs(part: str) -> int:
    """`*` runs not escaped with a backslash (`**` inside a name is one run)."""
    runs, i, inside = 0, 0, False
    while i < len(part):
        ch = part[i]
        if ch == "\\":
            i += 2
            inside = False
            continue
        if ch == "*" and not inside:
            runs += 1
        inside = ch == "*"
        i += 1
    return runs


def _count(pattern: str, char: str) -> int:
    count, i = 0, 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        count += pattern[i] == char
        i += 1
    return count
