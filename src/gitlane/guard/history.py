"""The history guard: while other sessions are live, a session moves its
branch backwards or rewrites history only over its own commits
(docs/DESIGN.md, "Invariants", 10; "Refs and reachability": git offers no
hook for reset, rebase or update-ref, only the shim sees them).

`rewrite()` (pure) reads from the arguments which commits a command would
take off the checked-out branch: `reset <rev>` (every mode), `rebase`
(`-i`, `--onto`, `--root`), `commit --amend`, `update-ref` of HEAD or the
branch, `checkout -B`/`switch -C` of the branch, `cherry-pick`/`revert
--abort`. `check()` lists them with git and refuses when one was made by
anyone but this session (another session, or a person). The audit log
records which session made each commit; a commit not recorded there was made
by a person or another tool. Alone, every command is plain git.
"""
from __future__ import annotations

import os

from gitlane.errors import Fatal, GitError
from gitlane.guard import force
from gitlane.run import classify

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Sequence

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session

ALL = "ALL"   # rewrite(): every commit of the branch (rebase --root, update-ref -d)
TIP = "TIP"   # rewrite(): the tip alone (commit --amend)


def maker(conn: sqlite3.Connection, commit: str | None) -> str | None:
    """The session that made this commit, or None (a person, or unknown)."""
    from gitlane.shared import claims
    return claims.commit_maker(conn, commit)


def rewrite(command: str, args: Sequence[str], branch: str | None) -> str | tuple[str, str] | None:
    """What the command takes off the checked-out branch `branch`
    ('refs/heads/x', None when detached): a revision R (the commits in
    R..HEAD), ALL, TIP, (X, U) (the commits of U..HEAD's complement that X
    lacks: `rebase --onto X U`), or None (nothing, or not a rewrite)."""
    before, after = classify.positionals(args)
    if command == "reset" and not after and len(before) <= 1:
        return before[0] if before else None
    if command == "commit":
        return TIP if classify.is_amend(command, args) else None
    if command == "rebase":
        return _rebase(args, before)
    if command == "update-ref":
        return _update_ref(args, branch)
    if command in ("checkout", "switch"):
        return _recreate(command, args, branch)
    return None


def _rebase(args: Sequence[str], before: Sequence[str]) -> str | tuple[str, str] | None:
    """A plain rebase replays every commit of U..HEAD (one git finds already
    upstream has its change there): nothing is lost. `-i` may drop any of
    them; `--onto X U` drops the commits of U that are not in X."""
    if any(a in ("--continue", "--abort", "--skip", "--quit", "--edit-todo", "--show-current-patch")
           for a in args):
        return None
    interactive = any(a in ("-i", "--interactive") for a in args)
    words = list(before)
    onto = None
    for i, a in enumerate(args):  # the values of --onto / -x / -s / -X are not the upstream
        if a in ("--onto", "-x", "--exec", "-s", "--strategy", "-X", "--strategy-option") and i + 1 < len(args):
            if args[i + 1] in words:
                words.remove(args[i + 1])
            if a == "--onto":
                onto = args[i + 1]
        elif a.startswith("--onto="):
            onto = a.split("=", 1)[1]
    if len(words) > 1:
        return None  # `rebase U BRANCH` switches to BRANCH first: the switch guard's case
    if "--root" in args:
        return ALL if interactive else None
    upstream = words[0] if words else "@{upstream}"
    if interactive:
        return upstream
    return (onto, upstream) if onto else None


def _update_ref(args: Sequence[str], branch: str | None) -> str | None:
    if "--stdin" in args:
        return None
    words = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "-m":
            skip = True
        elif not a.startswith("-"):
            words.append(a)
    if not words or words[0] not in ("HEAD", *((branch,) if branch else ())):
        return None
    if "-d" in args:
        return ALL
    return words[1] if len(words) >= 2 else None


def _recreate(command: str, args: Sequence[str], branch: str | None) -> str | None:
    flag = "-B" if command == "checkout" else "-C"
    long = None if command == "checkout" else "--force-create"
    for i, a in enumerate(args):
        if (a == flag or a == long) and i + 1 < len(args):
            name = args[i + 1]
            if branch is None or f"refs/heads/{name}" != branch:
                return None
            rest = [w for w in args[i + 2:] if not w.startswith("-")]
            return rest[0] if rest else None
    return None


def taken(s: Session, inv: Invocation) -> list[tuple[str, str]]:
    """(id, 'short subject') of each commit the command would take off the
    branch."""
    what = rewrite(inv.command, inv.args, s.repo.head_ref())
    if what is None and inv.command in ("cherry-pick", "revert") and "--abort" in inv.args:
        what = _sequencer_start(s)
    tip = s.repo.head()
    if what is None or tip is None:
        return []
    if what == TIP:
        return _listed(s, [f"{tip}^!"])
    if what == ALL:
        return _listed(s, [tip])
    words = list(what) if isinstance(what, tuple) else [what]
    ids = [s.git.resolve_commit(w) if not w.startswith("-") else None for w in words]  # never an option
    if None in ids:
        return []  # not a revision: git refuses it on its own
    dropped = _listed(s, [tip, f"^{ids[0]}"])
    if isinstance(what, tuple):  # --onto X U: replayed are U..HEAD, dropped the rest of HEAD ^X
        replayed = {c for c, _ in _listed(s, [tip, f"^{ids[1]}"])}
        dropped = [c for c in dropped if c[0] not in replayed]
    return dropped


def _listed(s: Session, spec: list[str]) -> list[tuple[str, str]]:
    try:
        out = s.git.run("rev-list", "--format=%H %h %s", "--no-commit-header", *spec).out
    except GitError:
        return []
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        full, _, subject = line.partition(" ")
        found.append((full, subject))
    return found


def _sequencer_start(s: Session) -> str | None:
    """Where `cherry-pick --abort`/`revert --abort` takes HEAD back to."""
    from gitlane import files
    text = (files.read_text(os.path.join(s.repo.git_dir, "sequencer", "head")) or "").strip()
    from gitlane import layout
    return text if layout.is_object_id(text) else None


def protected(commits: Sequence[tuple[str, str]], makers: dict[str, str | None],
              me: str) -> list[tuple[str, str]]:
    """Pure: (short subject, who) of the commits that are not ours to take:
    another session's, or a person's (any commit the audit log does not
    name this session as making; a person may be driving another session)."""
    found = []
    for full, subject in commits:
        who = makers.get(full)
        if who != me:
            found.append((subject, f"session {who}" if who else "a person"))
    return found


def check(s: Session, inv: Invocation, conn: sqlite3.Connection) -> None:
    """Under the global lock (HEAD is stable): refuse taking others' commits
    off the branch while other sessions are live."""
    what = rewrite(inv.command, inv.args, s.repo.head_ref())
    if what is None and not (inv.command in ("cherry-pick", "revert") and "--abort" in inv.args):
        return
    from gitlane.guard import facts
    if not facts.build_view(s, conn).others:
        return  # alone: plain git
    commits = taken(s, inv)
    if not commits:
        return
    theirs = protected(commits, {c[0]: maker(conn, c[0]) for c in commits}, s.name)
    if theirs:
        force.override(conn, s.name, inv.line, refusal(inv, theirs))


def refusal(inv: Invocation, theirs: Sequence[tuple[str, str]]) -> Fatal:
    lines = "\n".join(f"{subject} ({who})" for subject, who in theirs[:20])
    more = f"\n... and {len(theirs) - 20} more" if len(theirs) > 20 else ""
    return Fatal(f"refusing `git {inv.command}`: it would take commits that are not this session's off "
                 f"the branch, while other sessions are live:\n{lines}{more}",
                 "nothing was changed. Undo a change with a new commit (`git revert COMMIT`), or wait until\n"
                 "the other sessions end; " + force.HINT, code=1)
