from __future__ import annotations

from lanetest import Lane


def test_staging_is_private_per_session(lane: Lane) -> None:
    lane.write("b", "b\n")
    lane.git("add", "b", session="s1")
    assert lane.staged("s1") == {"b"}
    assert lane.staged("s2") == set()
    assert lane.plain("diff", "--cached", "--name-only").stdout == b""


def test_peer_commit_is_not_shown_reversed(lane: Lane) -> None:
    lane.write("b", "b\n")
    lane.git("add", "b", session="s1")
    lane.git("status", session="s2")
    lane.git("commit", "-q", "-m", "b", session="s1")
    assert lane.git("status", "--porcelain", session="s2").stdout == b""
    assert lane.staged("s2") == set()
