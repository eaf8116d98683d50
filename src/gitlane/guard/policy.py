"""Guard the shared work tree from whole-tree commands.

`decide()` is a pure function of the command, the paths it would touch and a
view of the other live sessions; guard.facts (impure) computes those paths
with git. Git has no pre-reset, pre-stash or pre-clean hooks: only a wrapper
on PATH can refuse these for humans and agents alike.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Sequence

from gitlane.guard.force import HINT as FORCE_HINT  # one wording of the escape hatch (guard.force owns it)
from gitlane.run.classify import STASH_READ, positionals, reset_mode, restores_worktree, stash_paths, stash_sub

if TYPE_CHECKING:
    from gitlane.shared.claims import Peer


class View:
    """The other live sessions, as the guard sees them."""

    def __init__(self, others: Sequence[Peer], match: Callable[[str, str], bool] | None = None,
                 heads: dict[str, str] | None = None) -> None:
        self.others = list(others)
        self._match = match or _default_match
        self.heads = heads or {}  # {branch: live peer on it through its own HEAD} (issue 17)

    def busy(self) -> list[Peer]:
        """Other sessions with uncommitted work we know of."""
        return [o for o in self.others if o.claims]

    def owners(self, paths: Sequence[bytes]) -> list[tuple[bytes, Peer]]:
        found = []
        for p in paths:
            for o in self.others:
                if p in o.claims or any(self._match(pat, os.fsdecode(p)) for pat in o.reserved):
                    found.append((p, o))
                    break
        return found


def _default_match(pattern: str, path: str) -> bool:
    from gitlane.shared.claims import matcher
    return matcher([pattern])(path)


class Decision:
    __slots__ = ("allowed", "reason", "hint")

    def __init__(self, allowed: bool, reason: str = "", hint: str = "") -> None:
        self.allowed = allowed
        self.reason = reason
        self.hint = hint

    def _key(self) -> tuple[bool, str, str]:
        return (self.allowed, self.reason, self.hint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Decision({self.allowed!r}, {self.reason!r})"


ALLOW = Decision(True)

DISCARDING_RESETS = ("--hard", "--merge", "--keep")
# What a command needs computed before decide(): None, or a facts() key.
_BYPASS = ("--ignore-skip-worktree-bits", "--sparse", "--no-skip-worktree")


def wants(command: str, args: Sequence[str], kind: str) -> str | None:
    """Which affected-paths computation decide() needs, if any."""
    if command == "stash":
        return "pathspec" if stash_paths(args) else None
    if command == "restore" and not restores_worktree(args):
        return None  # `restore --staged` changes only this session's index
    if command in ("checkout", "restore"):
        return "pathspec" if kind != "refs" else None
    if command == "clean":
        return "clean"
    if command in ("merge", "cherry-pick", "revert", "rebase"):
        return "incoming"
    if command in ("update-index", "rm", "add") and any(a in _BYPASS for a in args):
        return "pathspec"
    return None


def decide(command: str, args: Sequence[str], kind: str, view: View,
           paths: Sequence[bytes] | None) -> Decision:
    if not view.others or (command == "restore" and not restores_worktree(args)):
        return ALLOW
    if command == "stash":
        return _stash(args, view, paths)
    if command in ("switch", "bisect") or (command == "checkout" and kind == "refs"):
        return _switch(command, view)
    if command == "branch":
        return _branch(args, view)
    if command == "reset" and reset_mode(args) in DISCARDING_RESETS:
        return _whole_tree(f"reset {reset_mode(args)}", view)
    if command == "clean":
        return _clean(args, view, paths)
    if paths:
        found = view.owners(paths)
        if found:
            return _owned(command, found)
    return ALLOW


def _stash(args: Sequence[str], view: View, paths: Sequence[bytes] | None) -> Decision:
    sub = stash_sub(args)
    if sub in STASH_READ:
        return ALLOW
    if sub == "push" and stash_paths(args):
        found = view.owners(paths or [])
        return _owned("stash", found) if found else ALLOW
    names = ", ".join(f"{o.name} (pid {o.pid})" for o in view.others)
    return Decision(False, f"refusing `git stash {sub}`: it takes the whole work tree, including the "
                           f"uncommitted work of other live sessions: {names}",
                    "stash only your own paths: `git stash push -- PATH...`, or commit your work;\n" + FORCE_HINT)


def _switch(command: str, view: View) -> Decision:
    names = ", ".join(o.name for o in view.others)
    return Decision(False, f"refusing `git {command}`: switching branches or moving HEAD changes the "
                           f"checkout of every session, and other sessions are live: {names}",
                    "plain `git switch NAME`, `git switch -c NAME` and `git checkout --detach` move only your\n"
                    "own HEAD (without -f, -m, --orphan or --track); or use `git worktree add`,\n"
                    "or wait until the other sessions end; " + FORCE_HINT)


_BRANCH_DELETE = ("-d", "-D", "--delete")
_BRANCH_MOVE = ("-m", "-M", "--move", "-c", "-C", "--copy")
_BRANCH_FORCE = ("-f", "--force")


def branch_targets(args: Sequence[str]) -> list[str]:
    """The branches `git branch ARGS` deletes, renames or resets."""
    names, _ = positionals(args)
    flags = {a for a in args if a.startswith("-")}
    if flags & set(_BRANCH_DELETE):
        return names
    if flags & set(_BRANCH_MOVE):
        return names[:1] if len(names) == 2 and not flags & {"-c", "-C", "--copy"} else []
    if flags & set(_BRANCH_FORCE):
        return names[:1]
    return []


def _branch(args: Sequence[str], view: View) -> Decision:
    held = [(b, view.heads[b]) for b in branch_targets(args) if b in view.heads]
    if not held:
        return ALLOW
    lines = "; ".join(f"'{b}' is checked out by session {who}" for b, who in held)
    return Decision(False, f"refusing `git branch {' '.join(args)}`: {lines}",
                    "wait until that session switches away or ends; " + FORCE_HINT)


def _whole_tree(what: str, view: View, narrow: str = "git restore --source=REV -- PATH") -> Decision:
    """`narrow`: the same command limited to the user's own paths."""
    busy = view.busy()
    if not busy:
        return ALLOW
    lines = "; ".join(f"{o.name}: {', '.join(sorted(os.fsdecode(p) for p in o.claims)[:5])}" for o in busy)
    return Decision(False, f"refusing `git {what}`: it rewrites the whole work tree, and other live "
                           f"sessions have uncommitted work there ({lines})",
                    f"limit it to your own paths (`{narrow}`), or wait for them to commit;\n"
                    + FORCE_HINT)


def _clean(args: Sequence[str], view: View, paths: Sequence[bytes] | None) -> Decision:
    before, after = positionals(args)
    found = view.owners(paths or [])
    if found:
        return _owned("clean", found)
    if not (before or after):
        flags = " ".join(a for a in args if a.startswith("-"))
        return _whole_tree(f"clean {flags}", view, f"git clean {flags} -- PATH...")
    return ALLOW


def _owned(command: str, found: Sequence[tuple[bytes, Peer]]) -> Decision:
    lines = "\n".join(f"{os.fsdecode(p)}  owned by session {o.name} (pid {o.pid})" for p, o in found[:20])
    more = f"\n... and {len(found) - 20} more" if len(found) > 20 else ""
    return Decision(False, f"refusing `git {command}`: it would touch paths other live sessions own:\n{lines}{more}",
                    "leave those paths out of the command, or ask their owners (`gitlane who PATH`);\n" + FORCE_HINT)
