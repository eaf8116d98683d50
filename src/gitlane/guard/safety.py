"""The safety net: while another session is live, a change nobody can
attribute is nobody's to take or destroy (docs/DESIGN.md, "Attribution").

Pure decisions over paths, tested by tables (tests/unit/test_safety.py);
guard.facts, run.stage and run.commit gather the paths with git:
- whole-tree staging (`add -A/./-u/DIR/GLOB`, `commit -a`, `commit DIR`)
  takes this session's changes and refuses when it would also take a change
  nobody owns; a path named literally (`git add PATH`) is claimed by naming;
- whole-tree discards (reset --hard/--merge/--keep, `checkout -- .`,
  `restore .`, `restore --source`, clean, whole-tree stash, --autostash)
  refuse when they would discard a change that is not this session's.
Alone, nothing here runs: the caller asks only while another session is live.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Sequence

from gitlane.errors import Fatal
from gitlane.run import classify

NOBODY = "nobody (unattributed)"
FORCE_HINT = "GITLANE_FORCE=1 overrides for one command (audited)"
SHOWN = 20

# What a discard would throw away: only the tracked changes, tracked and
# untracked ones, or what `clean -n` lists.
TRACKED, WITH_UNTRACKED, CLEAN = "tracked", "untracked", "clean"
_STASH_UNTRACKED = ("-u", "--include-untracked", "-a", "--all")


def discard_scope(command: str, args: Sequence[str], kind: str, autostash: bool = False) -> str | None:
    """Which uncommitted changes this command may discard (None: none it
    guards here). `autostash`: rebase.autoStash is set for rebase/pull."""
    if command == "reset" and classify.reset_mode(args) in ("--hard", "--merge", "--keep"):
        return TRACKED
    if command == "clean":
        return CLEAN
    if command == "stash":
        if classify.stash_sub(args) not in ("push", "save") or classify.stash_paths(args):
            return None
        return WITH_UNTRACKED if any(a in _STASH_UNTRACKED for a in args) else TRACKED
    if command in ("pull", "rebase", "merge"):
        wants = [a for a in args if a in ("--autostash", "--no-autostash")]
        on = wants[-1] == "--autostash" if wants else autostash and command != "merge"
        return TRACKED if on else None
    if command == "restore" and classify.restores_worktree(args):
        return TRACKED
    if command == "checkout" and kind != classify.REFS:
        return TRACKED
    return None


def named(words: Sequence[str], top_rel) -> set[bytes]:  # type: ignore[no-untyped-def]
    """The top-relative paths the pathspec words name literally (a glob, a
    magic word or `.` names none)."""
    out = set()
    for word in words:
        lit = classify.literal_path(word)
        if lit is None or any(c in lit[1] for c in "*?["):
            continue
        if os.path.normpath(lit[1]) == ".":
            continue
        rel = os.fsencode(os.path.normpath(lit[1])) if lit[0] else top_rel(lit[1])
        if rel in (b".", b"") or rel.startswith(b".."):
            continue
        out.add(rel)
    return out


def not_ours(paths: Sequence[bytes], mine: set[bytes] | Mapping[bytes, str], named_: set[bytes],
             owners: Mapping[bytes, str]) -> list[tuple[bytes, str]]:
    """(path, owner) for each path the command would take or discard that is
    not this session's: a live peer's ("session B (pid 7)") or NOBODY."""
    return [(p, owners.get(p, NOBODY)) for p in sorted(set(paths))
            if p not in mine and p not in named_]


def _lines(found: Sequence[tuple[bytes, str]]) -> str:
    shown = [f"{os.fsdecode(p)}  owned by {o}" for p, o in found[:SHOWN]]
    if len(found) > SHOWN:
        shown.append(f"... and {len(found) - SHOWN} more")
    return "\n".join(shown)


def staging_refusal(what: str, found: Sequence[tuple[bytes, str]]) -> Fatal:
    """`add -A` or `commit -a` would take changes that are not ours."""
    n = len(found)
    return Fatal(f"refusing `git {what}`: it would also take {n} change{'s' if n != 1 else ''} "
                 f"this session did not make, while other sessions are live:\n{_lines(found)}",
                 "nothing was staged or committed. Stage your own paths by name (`git add PATH...` claims "
                 "a path,\nthen `git commit`), or ask whoever made them (`gitlane who PATH`)", code=1)


def discard_refusal(what: str, found: Sequence[tuple[bytes, str]]) -> Fatal:
    n = len(found)
    return Fatal(f"refusing `git {what}`: it would discard {n} uncommitted change{'s' if n != 1 else ''} "
                 f"that {'are' if n != 1 else 'is'} not this session's, while other sessions are live:\n"
                 f"{_lines(found)}",
                 "nothing was changed. Name only your own paths (`git restore -- PATH...`, "
                 "`git clean -f -- PATH...`),\nor ask the owners (`gitlane who PATH`); " + FORCE_HINT, code=1)


def left_out_note(found: Sequence[tuple[bytes, str]]) -> str:
    """What `commit -a` did not take because other sessions own it."""
    n = len(found)
    head = f"gitlane: commit -a left out {n} path{'s' if n != 1 else ''} other live sessions changed:"
    return head + "\n" + "\n".join("  " + line for line in _lines(found).splitlines()) + "\n"
