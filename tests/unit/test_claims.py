"""shared.claims: who owns a path. Reservation globs are gitwildmatch
(pathspec), checked against git's own .gitignore matching; overlap() by table.
"""
from __future__ import annotations

import pytest

from gitlane.shared import claims as ownership
from gitlane.shared.claims import overlap
from gitlane.testing.lane import Lane

# pathspec >= 0.12 deprecates the name 'gitwildmatch' that ownership.matcher() uses (same semantics).
pytestmark = pytest.mark.filterwarnings("ignore:GitWildMatchPattern:DeprecationWarning")


# --- pattern matching and overlap (tables) --------------------------------------

@pytest.mark.parametrize("pattern, matches, misses", [
    ("src/**", ["src/a.py", "src/x/y.py", "src/sub/deep/z.c"], ["src", "lib/src/a.py", "srcfoo/a", "a.py"]),
    ("*.md", ["README.md", "docs/x.md", "a/b/c.md"], ["README.mdx", "README", "md"]),
    ("docs/", ["docs/x.md", "docs/a/b", "sub/docs/x"], ["docs", "documents/x", "x/docs"]),
    ("/top.txt", ["top.txt"], ["sub/top.txt", "top.txt.bak", "top"]),
    ("top.txt", ["top.txt", "sub/top.txt"], ["top.txt.bak"]),
    ("src/*.py", ["src/a.py"], ["src/sub/x.py", "a.py", "src/a.pyc"]),
    ("a/**/b.txt", ["a/b.txt", "a/x/b.txt", "a/x/y/b.txt"], ["b.txt", "x/a/b.txt", "a/b.txt.orig"]),
    ("**/build/**", ["build/o", "x/build/o", "x/y/build/z/o"], ["build", "builds/o", "x/rebuild/o"]),
    ("src", ["src", "src/a.py", "lib/src/a.py"], ["srcfoo", "source/a"]),
    ("file?.txt", ["file1.txt", "d/fileA.txt"], ["file10.txt", "file.txt", "file/.txt"]),
    ("[ab].c", ["a.c", "b.c", "d/a.c"], ["c.c", "ab.c"]),
])
def test_matcher_is_gitwildmatch(pattern: str, matches: list[str], misses: list[str]) -> None:
    match = ownership.matcher([pattern])
    assert [p for p in matches if not match(p)] == []
    assert [p for p in misses if match(p)] == []


def test_matcher_agrees_with_git_check_ignore(lane: Lane) -> None:
    """The same gitwildmatch semantics as git's own .gitignore matching."""
    patterns = ["src/**", "*.md", "docs/", "/top.txt", "src/*.py", "a/**/b.txt"]
    paths = ["src/a.py", "src/x/y.py", "lib/src/a.py", "README.md", "docs/x.md", "README.mdx",
             "sub/docs/x", "top.txt", "sub/top.txt", "src/sub/x.py", "a/b.txt", "a/x/y/b.txt"]
    for pattern in patterns:
        (lane.path / ".gitignore").write_text(pattern + "\n")
        out = lane.plain("check-ignore", "--no-index", "-z", "--stdin", check=False,
                         input=b"\0".join(p.encode() for p in paths) + b"\0").stdout
        by_git = {p.decode() for p in out.split(b"\0") if p}
        match = ownership.matcher([pattern])
        assert {p for p in paths if match(p)} == by_git, pattern


@pytest.mark.parametrize("a, b, candidates, expected", [
    ("src/**", "src/**", [], True),
    ("src/**", "src/api/x.py", [], True),
    ("src/**", "src/new/**", [], True),
    ("src", "src/**", [], True),
    ("docs/", "docs/**", [], True),
    ("docs/", "docs/guide.md", [], True),
    ("/top.txt", "top.txt", [], True),
    ("/top.txt", "*.txt", [], True),
    ("*.md", "README.md", [], True),
    ("*.md", "docs/**", ["docs/a.md"], True),
    ("docs/", "*.md", ["docs/sub/a.md"], True),
    ("src/**", "lib/**", [], False),
    ("src/a/**", "src/b/**", ["src/a/x", "src/b/y"], False),
    ("*.md", "*.txt", ["a.md", "b.txt"], False),
    ("/top.txt", "sub/**", ["top.txt", "sub/top.txt"], False),
    ("src/*.py", "src/sub/**", ["src/a.py", "src/sub/b.py"], False),
    ("docs/", "*.md", ["README.md", "docs/a.txt"], True),  # docs/x.md would be both
    pytest.param("*.md", "docs/**", [], True),
    pytest.param("*.py", "src/**", [], True),
])
def test_overlap(a: str, b: str, candidates: list[str], expected: bool) -> None:
    assert overlap(a, b, candidates) is expected
    assert overlap(b, a, candidates) is expected
