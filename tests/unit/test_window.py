"""session.window: the shell window's decisions (pure, by table) and its
scan over a real repository."""
from __future__ import annotations

import os

import pytest

from gitlane.session import window
from gitlane.testing.lane import Lane

S = (10, 11, 5, 0o100644, 7)  # (mtime, ctime, size, mode, ino)


@pytest.mark.parametrize("pre, post, start, expected", [
    ({}, {}, 100, []),
    ({b"a": S}, {b"a": S}, 100, []),                                  # dirty before, untouched
    ({b"a": S}, {b"a": (12, 150, 5, 0o100644, 7)}, 100, [b"a"]),      # content changed
    ({b"a": S}, {b"a": (10, 150, 5, 0o100755, 7)}, 100, [b"a"]),      # mode changed
    ({b"a": S}, {b"a": None}, 100, [b"a"]),                           # deleted after being dirty
    ({b"a": None}, {b"a": None}, 100, []),                            # deleted before, still gone
    ({}, {b"n": (120, 120, 1, 0o100644, 9)}, 100, [b"n"]),            # new (or newly dirty) in the window
    ({}, {b"n": (20, 20, 1, 0o100644, 9)}, 100, []),                  # only looks new: HEAD moved, file old
    ({}, {b"d": None}, 100, [b"d"]),                                  # was clean at the start, gone now
    ({b"a": S}, {}, 100, []),                                         # clean again: nothing to attribute
])
def test_changed(pre: dict, post: dict, start: int, expected: list) -> None:
    assert window.changed(pre, post, start) == expected


@pytest.mark.parametrize("when, peers, expected", [
    (150, [], "me"),                                  # nobody else had a window open
    (None, [], "me"),                                 # a deletion, no peer window: ours
    (150, [("bob", 300, 400)], "me"),                 # bob's window does not overlap ours
    (150, [("bob", 0, 99)], "me"),
    (150, [("bob", 120, 400)], None),                 # both windows contain the change
    (110, [("bob", 120, 400)], "me"),                 # before bob's window opened
    (190, [("bob", 50, 120)], "me"),                  # after bob's closed
    (None, [("bob", 120, 400)], None),                # a deletion during an overlap: no time to tell
    (50, [("bob", 40, 150)], "bob"),                  # fits only bob's (seen changed in ours: bob's)
    (150, [("bob", 120, 400), ("carol", 140, 160)], None),
    (500, [("bob", 120, 180)], None),                 # fits no window at all
])
def test_owner(when: int | None, peers: list, expected: str | None) -> None:
    assert window.owner(when, "me", (100, 200), peers) == expected


def test_parse_status_records() -> None:
    out = (b"1 .M N... 100644 100644 100644 " + b"a" * 40 + b" " + b"b" * 40 + b" dir/with space.txt\0"
           b"? new file\0! ignored\0u UU N... 100644 100644 100644 100644 " + b"c" * 40 + b" " + b"d" * 40
           + b" " + b"e" * 40 + b" conflict\0")
    assert window.parse_status_kinds(out) == ([b"dir/with space.txt", b"conflict"], [b"new file"])


def test_decode_rejects_damage() -> None:
    good = window._encode(5, {b"a b": (1, 2, 3, 4, 5), b"gone": None})
    assert window._decode(good) == (5, {b"a b": (1, 2, 3, 4, 5), b"gone": None})
    for bad in (b"", b"x", b"5\0nonsense", b"5\01 2\tp", b"5\0-"):
        assert window._decode(bad) is None


def test_scan_sees_every_kind_of_change(lane: Lane, git) -> None:  # type: ignore[no-untyped-def]
    lane.write("t.txt", "t\n")
    lane.write("gone.txt", "g\n")
    lane.plain("add", "t.txt", "gone.txt")
    lane.plain("commit", "-qm", "two")
    lane.write("t.txt", "changed\n")
    os.unlink(lane.path / "gone.txt")
    lane.write("sub/new.txt", "n\n")
    prints = window.scan(git, None)
    assert set(prints) == {b"t.txt", b"gone.txt", b"sub/new.txt"}
    assert prints[b"gone.txt"] is None and prints[b"t.txt"][2] == len("changed\n")
