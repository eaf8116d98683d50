"""guard.safety: the safety net's pure decisions, by table."""
from __future__ import annotations

import os
import shlex

import pytest

from gitlane.guard import safety
from gitlane.run import classify


def scope(argv: str, autostash: bool = False) -> str | None:
    words = shlex.split(argv)
    kind = classify.classify(words[0], words[1:], lambda p: p in ("a", "."))
    return safety.discard_scope(words[0], words[1:], kind, autostash)


@pytest.mark.parametrize("argv, want", [
    ("reset --hard", "tracked"), ("reset --merge HEAD~1", "tracked"), ("reset --keep", "tracked"),
    ("reset --soft HEAD~1", None), ("reset -- a", None),
    ("checkout -- .", "tracked"), ("checkout HEAD -- .", "tracked"), ("checkout .", "tracked"),
    ("checkout main", None), ("checkout -f", None),          # switches: the switch rule refuses them
    ("restore .", "tracked"), ("restore --source=HEAD~1 .", "tracked"), ("restore --staged .", None),
    ("clean -fd", "clean"), ("clean -fdx", "clean"), ("clean -fX", "clean"),
    ("stash", "tracked"), ("stash push", "tracked"), ("stash save wip", "tracked"), ("stash -u", "untracked"),
    ("stash --all", "untracked"), ("stash push -- a", None), ("stash list", None), ("stash pop", None),
    ("pull --autostash", "tracked"), ("rebase --autostash main", "tracked"), ("rebase main", None),
    ("merge --autostash x", "tracked"), ("merge x", None),
])
def test_discard_scope(argv: str, want: str | None) -> None:
    assert scope(argv) == want


def test_autostash_by_config_only_for_rebase_and_pull() -> None:
    assert scope("rebase main", autostash=True) == "tracked"
    assert scope("pull --rebase", autostash=True) == "tracked"
    assert scope("rebase --no-autostash main", autostash=True) is None
    assert scope("merge x", autostash=True) is None


@pytest.mark.parametrize("words, want", [
    (["a.txt"], {b"sub/a.txt"}), ([":/top.txt"], {b"top.txt"}), (["."], set()), (["*.txt"], set()),
    ([":(glob)**"], set()), ([":(top)x/y"], {b"x/y"}), (["../out"], {b"out"}), (["d/../e"], {b"sub/e"}),
])
def test_named(words: list[str], want: set[bytes]) -> None:
    def top_rel(p: str) -> bytes:
        return os.fsencode(os.path.normpath(os.path.join("sub", p)))
    assert safety.named(words, top_rel) == want


@pytest.mark.parametrize("paths, mine, named, owners, want", [
    ([], set(), set(), {}, []),
    ([b"a"], {b"a"}, set(), {}, []),                                      # ours
    ([b"a"], set(), {b"a"}, {}, []),                                      # named: claimed by naming
    ([b"a", b"b"], {b"a"}, set(), {}, [(b"b", safety.NOBODY)]),
    ([b"p", b"p"], set(), set(), {b"p": "session B (pid 7)"}, [(b"p", "session B (pid 7)")]),
    ([b"z", b"a"], set(), set(), {}, [(b"a", safety.NOBODY), (b"z", safety.NOBODY)]),
])
def test_not_ours(paths: list, mine: set, named: set, owners: dict, want: list) -> None:
    assert safety.not_ours(paths, mine, named, owners) == want


def test_refusals_name_every_path_and_owner_and_cap_the_list() -> None:
    found = [(b"f%02d" % i, safety.NOBODY) for i in range(25)]
    err = safety.discard_refusal("reset --hard", found)
    lines = err.what.splitlines()
    assert lines[0] == ("refusing `git reset --hard`: it would discard 25 uncommitted changes that are not "
                        "this session's, while other sessions are live:")
    assert lines[1] == "f00  owned by nobody (unattributed)" and lines[-1] == "... and 5 more"
    assert "GITLANE_FORCE=1" in err.hint and err.code == 1
    one = safety.staging_refusal("add -A", [(b"x", safety.NOBODY)])
    assert one.what.splitlines()[0].endswith("take 1 change this session did not make, while other sessions are live:")
    assert "`git add PATH...` claims" in one.hint
