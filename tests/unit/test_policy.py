"""Table tests of the pure guard: `guard.decide(command, args, kind, view, paths)`.

`paths` is what `guardrun.affected()` would compute with git for the command
(the pathspec's matches, `clean -n`'s victims, a merge's incoming paths); here
it is given directly. Every rule has its refused form and its allowed form,
and every refused form is allowed when no other session is live.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import pytest

from gitlane.guard import force
from gitlane.guard import policy as guard
from gitlane.shared.claims import Peer

FORCE = force.HINT  # every refusal ends with the escape hatch guard.force honours (test_force pins its text)

B = Peer("B", 101, frozenset({b"P", b"dir/x", b"new.txt"}), ("docs/**",))
C = Peer("C", 102, frozenset(), ())          # live, nothing staged, nothing reserved
BUSY = guard.View([B, C])
IDLE = guard.View([C])                                 # others live, but no uncommitted work
ALONE = guard.View([])


class Case(NamedTuple):
    id: str
    command: str
    args: Sequence[str]
    kind: str
    paths: Sequence[bytes] | None
    reason: str | None = None   # None: allowed; else the exact refusal reason


STASH_WHOLE = ("refusing `git stash {sub}`: it takes the whole work tree, including the uncommitted "
               "work of other live sessions: B (pid 101), C (pid 102)")
SWITCH = ("refusing `git {cmd}`: switching branches or moving HEAD changes the checkout of every "
          "session, and other sessions are live: B, C")
WHOLE = ("refusing `git {what}`: it rewrites the whole work tree, and other live sessions have "
         "uncommitted work there (B: P, dir/x, new.txt)")


def owned(cmd: str, *paths: str) -> str:
    lines = "\n".join(f"{p}  owned by session B (pid 101)" for p in paths)
    return f"refusing `git {cmd}`: it would touch paths other live sessions own:\n{lines}"


REFUSED = [
    # stash: every whole-tree form, naming every other live session
    Case("stash", "stash", [], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-push", "stash", ["push"], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-save", "stash", ["save"], "refs", None, STASH_WHOLE.format(sub="save")),
    Case("stash-save-msg", "stash", ["save", "wip"], "refs", None, STASH_WHOLE.format(sub="save")),
    Case("stash-u", "stash", ["-u"], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-include-untracked", "stash", ["push", "--include-untracked"], "refs", None,
         STASH_WHOLE.format(sub="push")),
    Case("stash-a", "stash", ["-a"], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-all", "stash", ["push", "--all"], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-keep-index", "stash", ["push", "--keep-index"], "refs", None, STASH_WHOLE.format(sub="push")),
    Case("stash-message-attached", "stash", ["push", "--message=wip"], "refs", None,
         STASH_WHOLE.format(sub="push")),
    Case("stash-push-others-path", "stash", ["push", "--", "P"], "refs", [b"P"], owned("stash", "P")),
    # switching branches / moving HEAD, while any other session is live
    Case("switch", "switch", ["feature"], "refs", None, SWITCH.format(cmd="switch")),
    Case("switch-c", "switch", ["-c", "feature"], "refs", None, SWITCH.format(cmd="switch")),
    Case("switch-detach", "switch", ["--detach", "HEAD~1"], "refs", None, SWITCH.format(cmd="switch")),
    Case("checkout-branch", "checkout", ["feature"], "refs", None, SWITCH.format(cmd="checkout")),
    Case("checkout-b", "checkout", ["-b", "feature"], "refs", None, SWITCH.format(cmd="checkout")),
    Case("checkout-detach", "checkout", ["--detach"], "refs", None, SWITCH.format(cmd="checkout")),
    Case("bisect-start", "bisect", ["start"], "refs", None, SWITCH.format(cmd="bisect")),
    # reset modes that rewrite the work tree, while others have uncommitted work
    Case("reset-hard", "reset", ["--hard"], "refs", None, WHOLE.format(what="reset --hard")),
    Case("reset-hard-rev", "reset", ["--hard", "origin/main"], "refs", None, WHOLE.format(what="reset --hard")),
    Case("reset-merge", "reset", ["--merge"], "refs", None, WHOLE.format(what="reset --merge")),
    Case("reset-keep", "reset", ["--keep", "HEAD~1"], "refs", None, WHOLE.format(what="reset --keep")),
    # checkout/restore of paths that hit claims or reservations
    Case("checkout-dot", "checkout", ["--", "."], "other", [b"README", b"P", b"dir/x"],
         owned("checkout", "P", "dir/x")),
    Case("restore-dot", "restore", ["."], "other", [b"README", b"P"], owned("restore", "P")),
    Case("checkout-rev-paths", "checkout", ["HEAD~1", "--", "dir"], "stage", [b"dir/x", b"dir/y"],
         owned("checkout", "dir/x")),
    Case("restore-source", "restore", ["--source=HEAD~1", "P"], "other", [b"P"], owned("restore", "P")),
    Case("restore-reserved", "restore", ["docs/a.md"], "other", [b"docs/a.md"], owned("restore", "docs/a.md")),
    Case("checkout-reserved-deep", "checkout", ["--", "docs"], "other", [b"docs/x/y.md"],
         owned("checkout", "docs/x/y.md")),
    # clean: paths that are claimed/reserved; whole tree while others are busy
    Case("clean-whole", "clean", ["-fd"], "other", [], WHOLE.format(what="clean -fd")),
    Case("clean-whole-x", "clean", ["-fdx"], "other", [], WHOLE.format(what="clean -fdx")),
    Case("clean-claimed-untracked", "clean", ["-f", "--", "new.txt"], "other", [b"new.txt"],
         owned("clean", "new.txt")),
    Case("clean-reserved", "clean", ["-fx", "docs"], "other", [b"docs/gen.md"], owned("clean", "docs/gen.md")),
    # merge, cherry-pick, revert, rebase: incoming paths hit others' claims
    Case("merge", "merge", ["feature"], "refs", [b"other.txt", b"P"], owned("merge", "P")),
    Case("cherry-pick", "cherry-pick", ["abc123"], "refs", [b"dir/x"], owned("cherry-pick", "dir/x")),
    Case("revert", "revert", ["HEAD"], "refs", [b"P"], owned("revert", "P")),
    Case("rebase", "rebase", ["main"], "refs", [b"docs/r.md"], owned("rebase", "docs/r.md")),
    # flags that bypass view isolation, on others' paths
    Case("no-skip-worktree", "update-index", ["--no-skip-worktree", "P"], "stage", [b"P"],
         owned("update-index", "P")),
    Case("rm-sparse", "rm", ["--sparse", "P"], "stage", [b"P"], owned("rm", "P")),
    Case("add-sparse", "add", ["--sparse", "dir/x"], "stage", [b"dir/x"], owned("add", "dir/x")),
    Case("ignore-skip-worktree-bits", "checkout", ["--ignore-skip-worktree-bits", "--", "P"], "stage", [b"P"],
         owned("checkout", "P")),
]

ALLOWED = [
    Case("stash-push-mine", "stash", ["push", "--", "mine.txt"], "refs", [b"mine.txt"]),
    Case("stash-push-mine-u", "stash", ["push", "-u", "--", "mine.txt", "mine2.txt"], "refs",
         [b"mine.txt", b"mine2.txt"]),
    Case("stash-list", "stash", ["list"], "refs", None),
    Case("stash-pop", "stash", ["pop"], "refs", None),
    Case("stash-apply", "stash", ["apply", "stash@{1}"], "refs", None),
    Case("stash-show", "stash", ["show", "-p"], "refs", None),
    Case("stash-drop", "stash", ["drop"], "refs", None),
    Case("reset-soft", "reset", ["--soft", "HEAD~1"], "refs", None),
    Case("reset-mixed", "reset", ["--mixed"], "refs", None),
    Case("reset-to-commit", "reset", ["HEAD~1"], "refs", None),
    Case("checkout-mine", "checkout", ["--", "mine.txt"], "other", [b"mine.txt"]),
    Case("restore-mine", "restore", ["mine.txt", "sub/"], "other", [b"mine.txt", b"sub/a"]),
    Case("restore-source-mine", "restore", ["--source=HEAD~1", "--", "mine.txt"], "other", [b"mine.txt"]),
    Case("checkout-rev-mine", "checkout", ["HEAD~1", "--", "src"], "stage", [b"src/a.py"]),
    Case("clean-paths-mine", "clean", ["-f", "--", "junk.tmp"], "other", [b"junk.tmp"]),
    Case("clean-dir-mine", "clean", ["-fd", "build"], "other", [b"build/"]),
    Case("merge-disjoint", "merge", ["feature"], "refs", [b"other.txt", b"src/a.py"]),
    Case("merge-nothing-incoming", "merge", ["--ff-only", "feature"], "refs", []),
    Case("cherry-pick-disjoint", "cherry-pick", ["abc123"], "refs", [b"other.txt"]),
    Case("revert-disjoint", "revert", ["HEAD"], "refs", [b"mine.txt"]),
    Case("rebase-continue", "rebase", ["--continue"], "refs", []),
    Case("add-sparse-mine", "add", ["--sparse", "mine.txt"], "stage", [b"mine.txt"]),
    Case("rm-sparse-mine", "rm", ["--sparse", "mine.txt"], "stage", [b"mine.txt"]),
    Case("not-guarded-commit", "commit", ["-m", "x"], "refs", None),
    Case("not-guarded-status", "status", [], "read", None),
    Case("not-guarded-branch-create", "branch", ["feature"], "refs", None),
    Case("reserved-sibling-not-matched", "restore", ["docsx/a.md"], "other", [b"docsx/a.md"]),
]

# Allowed while others are live but none of them has uncommitted work.
IDLE_ALLOWED = [c for c in REFUSED if c.command in ("reset", "clean") and c.paths in (None, [])]
# Refused whenever any other session is live, even one with nothing staged.
IDLE_REFUSED = [c for c in REFUSED if c.command in ("switch", "bisect") or c.id.startswith("checkout-b")
                or c.id in ("checkout-branch", "checkout-detach")
                or (c.command == "stash" and c.paths is None)]


def _ids(cases: Sequence[Case]) -> list[str]:
    return [c.id for c in cases]


@pytest.mark.parametrize("case", REFUSED, ids=_ids(REFUSED))
def test_refused_form(case: Case) -> None:
    d = guard.decide(case.command, case.args, case.kind, BUSY, case.paths)
    assert d.allowed is False
    assert d.reason == case.reason
    assert d.hint.endswith(FORCE), d.hint       # every refusal names the escape hatch


@pytest.mark.parametrize("case", ALLOWED, ids=_ids(ALLOWED))
def test_allowed_form(case: Case) -> None:
    assert guard.decide(case.command, case.args, case.kind, BUSY, case.paths) == guard.Decision(True)


@pytest.mark.parametrize("case", REFUSED, ids=_ids(REFUSED))
def test_nothing_refused_without_other_sessions(case: Case) -> None:
    assert guard.decide(case.command, case.args, case.kind, ALONE, case.paths) == guard.Decision(True)


@pytest.mark.parametrize("case", IDLE_ALLOWED, ids=_ids(IDLE_ALLOWED))
def test_whole_tree_reset_and_clean_allowed_when_others_have_no_claims(case: Case) -> None:
    assert guard.decide(case.command, case.args, case.kind, IDLE, case.paths) == guard.Decision(True)


@pytest.mark.parametrize("case", IDLE_REFUSED, ids=_ids(IDLE_REFUSED))
def test_stash_and_switches_refused_while_any_other_session_is_live(case: Case) -> None:
    d = guard.decide(case.command, case.args, case.kind, IDLE, case.paths)
    assert d.allowed is False
    assert d.reason.endswith(": C") or d.reason.endswith(": C (pid 102)"), d.reason
    assert "B" not in d.reason.rsplit(":", 1)[1]


def test_tables_cover_every_rule() -> None:
    assert len(IDLE_ALLOWED) == 6 and len(IDLE_REFUSED) == 17
    commands = {c.command for c in REFUSED}
    assert commands == {"stash", "switch", "checkout", "bisect", "reset", "restore", "clean", "merge",
                        "cherry-pick", "revert", "rebase", "update-index", "rm", "add"}


def test_owners_lists_each_path_with_its_first_owner() -> None:
    d = Peer("D", None, frozenset({b"P"}), ())
    view = guard.View([B, d])
    found = view.owners([b"P", b"docs/z", b"free"])
    assert [(p, o.name) for p, o in found] == [(b"P", "B"), (b"docs/z", "B")]


def test_owned_refusal_is_capped_at_twenty_lines() -> None:
    many = Peer("M", 7, frozenset(b"f%02d" % i for i in range(25)), ())
    d = guard.decide("checkout", ["--", "."], "other", guard.View([many]), sorted(many.claims))
    lines = d.reason.splitlines()
    assert lines[0] == "refusing `git checkout`: it would touch paths other live sessions own:"
    assert lines[1:21] == [f"f{i:02d}  owned by session M (pid 7)" for i in range(20)]
    assert lines[21:] == ["... and 5 more"]


def test_custom_matcher_is_used_for_reservations() -> None:
    seen: list[tuple[str, str]] = []

    def match(pattern: str, path: str) -> bool:
        seen.append((pattern, path))
        return path == "exact"
    view = guard.View([Peer("R", 9, frozenset(), ("PATTERN",))], match=match)
    assert guard.decide("restore", ["exact"], "other", view, [b"exact"]).allowed is False
    assert guard.decide("restore", ["other"], "other", view, [b"other"]).allowed is True
    assert seen == [("PATTERN", "exact"), ("PATTERN", "other")]


# --- which facts decide() needs -------------------------------------------

@pytest.mark.parametrize("command,args,kind,want", [
    ("stash", [], "refs", None),
    ("stash", ["-u"], "refs", None),
    ("stash", ["list"], "refs", None),
    ("stash", ["push", "--", "a"], "refs", "pathspec"),
    ("stash", ["push", "a"], "refs", "pathspec"),
    ("checkout", ["--", "."], "other", "pathspec"),
    ("checkout", ["feature"], "refs", None),
    ("restore", ["."], "other", "pathspec"),
    ("clean", ["-fd"], "other", "clean"),
    ("merge", ["feature"], "refs", "incoming"),
    ("cherry-pick", ["x"], "refs", "incoming"),
    ("revert", ["x"], "refs", "incoming"),
    ("rebase", ["main"], "refs", "incoming"),
    ("add", ["--sparse", "x"], "stage", "pathspec"),
    ("rm", ["--sparse", "x"], "stage", "pathspec"),
    ("update-index", ["--no-skip-worktree", "x"], "stage", "pathspec"),
    ("add", ["x"], "stage", None),
    ("reset", ["--hard"], "refs", None),
    ("commit", ["-a"], "refs", None),
])
def test_wants(command: str, args: list[str], kind: str, want: str | None) -> None:
    assert guard.wants(command, args, kind) == want


# --- bugs found by these tables ---------------------------------------------

@pytest.mark.parametrize("args", [["push", "-m", "wip"], ["-m", "wip"], ["push", "--message", "wip"]],
                         ids=["push-m", "m", "push-message"])
def test_stash_with_message_is_whole_tree(args: list[str]) -> None:
    # guardrun._spec_words skips -m's value, so the paths it computes are []
    d = guard.decide("stash", args, "refs", BUSY, [])
    assert d.allowed is False
    assert d.reason == STASH_WHOLE.format(sub="push")


def test_restore_staged_only_touches_my_index() -> None:
    d = guard.decide("restore", ["--staged", "."], "stage", BUSY, [b"P", b"mine.txt"])
    assert d == guard.Decision(True)


@pytest.mark.parametrize("command, args, narrow", [
    ("clean", ["-fd"], "`git clean -fd -- PATH...`"),
    ("clean", ["-f", "-x"], "`git clean -f -x -- PATH...`"),
    ("reset", ["--hard"], "`git restore --source=REV -- PATH`"),
])
def test_whole_tree_hint_names_the_same_command_narrowed(command: str, args: list[str], narrow: str) -> None:
    d = guard.decide(command, args, "refs" if command == "reset" else "other", BUSY, [])
    assert d.allowed is False and d.hint.startswith(f"limit it to your own paths ({narrow})"), d.hint


# --- branches other live sessions have checked out (issue 17) ----------------------

@pytest.mark.parametrize("args,targets", [
    (["-d", "a", "b"], ["a", "b"]), (["-D", "a"], ["a"]), (["--delete", "a"], ["a"]),
    (["-m", "a", "b"], ["a"]), (["-M", "b"], []), (["-c", "a", "b"], []),
    (["-f", "a", "main"], ["a"]), (["--force", "a"], ["a"]), (["a"], []), (["a", "main"], []),
])
def test_branch_targets(args: list[str], targets: list[str]) -> None:
    assert guard.branch_targets(args) == targets


def test_deleting_or_moving_a_branch_a_peer_is_on_is_refused() -> None:
    view = guard.View([B, C], heads={"feat": "B"})
    d = guard.decide("branch", ["-D", "feat"], "refs", view, None)
    assert not d.allowed and d.reason == "refusing `git branch -D feat`: 'feat' is checked out by session B"
    assert guard.decide("branch", ["-D", "other"], "refs", view, None).allowed
    assert guard.decide("branch", ["new", "feat"], "refs", view, None).allowed
    assert guard.decide("branch", ["-D", "feat"], "refs", guard.View([], heads={"feat": "B"}), None).allowed
