"""run.switch: what a checkout/switch asks for (parse) and whether it may
go ahead (decide), as tables; the pipeline itself is covered through the
shim in tests/e2e/test_branches.py."""
from __future__ import annotations

import pytest

from gitlane.run.switch import Target, decide, parse
from gitlane.shared.claims import STAGED, Owner


@pytest.mark.parametrize("command,args,want", [
    ("checkout", ["-b", "feat"], Target(create="feat")),
    ("checkout", ["-bfeat", "main"], Target(create="feat", start="main")),
    ("checkout", ["-B", "feat", "v1"], Target(create="feat", force=True, start="v1")),
    ("checkout", ["-q", "main"], Target(name="main", quiet=True)),
    ("checkout", ["--detach"], Target(detach=True)),
    ("checkout", ["--detach", "v1"], Target(detach=True, start="v1")),
    ("checkout", ["-"], Target(name="-")),
    ("switch", ["-c", "feat"], Target(create="feat")),
    ("switch", ["--create=feat", "origin/x"], Target(create="feat", start="origin/x")),
    ("switch", ["-C", "feat"], Target(create="feat", force=True)),
    ("switch", ["-d", "HEAD~1"], Target(detach=True, start="HEAD~1")),
    ("switch", ["--no-guess", "main"], Target(name="main")),
    ("switch", ["main"], Target(name="main")),
])
def test_parse_reads_the_switches_it_does(command: str, args: list[str], want: Target) -> None:
    assert parse(command, args) == want


@pytest.mark.parametrize("command,args", [
    ("checkout", ["-f", "main"]), ("checkout", ["-m", "main"]), ("checkout", ["--orphan", "x"]),
    ("switch", ["--discard-changes", "main"]), ("switch", ["-t", "origin/x"]), ("switch", []),
    ("checkout", ["main", "extra"]), ("checkout", ["-b"]), ("switch", ["-c", "x", "--detach"]),
    ("switch", ["--orphan", "x"]), ("checkout", ["-p"]),
])
def test_parse_leaves_other_forms_to_the_guard(command: str, args: list[str]) -> None:
    assert parse(command, args) is None


BOB = Owner("bob", 42, STAGED, since=1.0)


@pytest.mark.parametrize("case,kwargs,first", [
    ("clear", {}, None),
    ("held", dict(branch="feat", holders={"feat": "bob"}),
     "refusing `git switch`: branch 'feat' is checked out by session bob, and a branch can have one session at a time"),
    ("shared branch is everybody's", dict(branch="main", holders={"main": "bob"}), None),
    ("detached is never held", dict(branch=None, holders={"feat": "bob"}), None),
    ("owned", dict(owned=[(b"README", BOB)]),
     "refusing `git switch`: it would change files other live sessions own:"),
    ("foreign", dict(foreign=[b"b.txt"]),
     "refusing `git switch`: it would overwrite files that are not this session's:"),
    ("dirty", dict(dirty=[b"a.txt"]),
     "error: Your local changes to the following files would be overwritten by checkout:"),
    ("untracked", dict(untracked=[b"n.txt"]),
     "error: The following untracked working tree files would be overwritten by checkout:"),
    ("held before owned", dict(branch="feat", holders={"feat": "bob"}, owned=[(b"README", BOB)]),
     "refusing `git switch`: branch 'feat' is checked out by session bob, and a branch can have one session at a time"),
])
def test_decide(case: str, kwargs: dict, first: str | None) -> None:  # type: ignore[type-arg]
    args = dict(branch="x", shared_branch="main", holders={}, owned=[], foreign=[], dirty=[], untracked=[])
    args.update(kwargs)
    got = decide("switch", **args)
    if first is None:
        assert got is None
    else:
        assert got is not None and got.what.splitlines()[0] == first


def test_refusals_name_each_path_and_owner() -> None:
    got = decide("checkout", "x", "main", {}, [(b"README", BOB)], [], [], [])
    assert got is not None and got.what.splitlines()[1].startswith("README  staged by session bob (pid 42")
    got = decide("checkout", "x", "main", {}, [], [], [b"a.txt", b"b.txt"], [])
    assert got is not None and got.git_style and "\ta.txt\n\tb.txt\n" in got.what


def _journal(**change: object) -> dict:  # type: ignore[type-arg]
    j = {"old": "a" * 40, "new": "b" * 40, "head": "ref: refs/heads/feat", "ref": None, "upstream": None,
         "message": "checkout: moving from main to feat", "paths": [b"src/x.py".hex()]}
    j.update(change)
    return j


@pytest.mark.parametrize("change,sound", [
    ({}, True),
    ({"head": "c" * 40}, True),
    ({"paths": [b"../outside".hex()]}, False),
    ({"paths": [b"/etc/passwd".hex()]}, False),
    ({"paths": [b".git/config".hex()]}, False),
    ({"paths": ["not hex"]}, False),
    ({"head": "ref: refs/heads/../../x"}, False),
    ({"head": "ref: refs/tags/v1"}, False),
    ({"ref": ["refs/heads/--force", "b" * 40, False]}, False),
    ({"ref": ["refs/heads/feat", "b" * 40, False]}, True),
    ({"upstream": "--delete"}, False),
    ({"upstream": "refs/remotes/origin/feat"}, True),
])
def test_a_journal_read_back_is_untrusted(change: dict, sound: bool) -> None:  # type: ignore[type-arg]
    from gitlane.run.switch import _journal_sound
    assert _journal_sound(_journal(**change)) is sound
