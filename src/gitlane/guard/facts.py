"""Apply the guard: build the view of other live sessions, compute the paths
a command would touch, decide, and refuse (or let guard.force override)."""
from __future__ import annotations

import os
TYPE_CHECKING = False

from gitlane.errors import Fatal
from gitlane.guard import force, policy
from gitlane.run import classify

if TYPE_CHECKING:
    import sqlite3

    from gitlane.run.invocation import Invocation
    from gitlane.session import Session

GUARDED = frozenset(("stash", "switch", "bisect", "checkout", "reset", "clean", "restore",
                     "merge", "cherry-pick", "revert", "rebase", "update-index", "rm", "add", "branch"))


def relevant(inv: Invocation) -> bool:
    if inv.command not in GUARDED:
        return False
    if inv.command == "reset":
        return classify.reset_mode(inv.args) in policy.DISCARDING_RESETS
    if inv.command == "branch":
        return bool(policy.branch_targets(inv.args))
    if inv.command in ("update-index", "rm", "add"):
        return policy.wants(inv.command, inv.args, inv.kind) is not None
    return True


def check(s: Session, inv: Invocation, conn: sqlite3.Connection) -> None:
    if not relevant(inv):
        return
    view = build_view(s, conn)
    if not view.others:
        return
    need = policy.wants(inv.command, inv.args, inv.kind)
    paths = affected(s, inv, need, view) if need else None
    decision = policy.decide(inv.command, inv.args, inv.kind, view, paths)
    if not decision.allowed:
        force.override(conn, s.name, inv.line, Fatal(decision.reason, decision.hint))


def build_view(s: Session, conn: sqlite3.Connection) -> policy.View:
    from gitlane import layout
    from gitlane.session import head
    from gitlane.shared import claims
    others = claims.peers(conn, s.repo.worktree_id, s.name, claims.alive_checker(conn))
    heads: dict[str, str] = {}
    for peer in others:
        text = head.read(layout.session_dir(s.repo.common_dir, s.repo.worktree_id, peer.name)) or ""
        if text.startswith("ref: refs/heads/"):
            heads.setdefault(text[len("ref: refs/heads/"):], peer.name)
    return policy.View(others, heads=heads)


def affected(s: Session, inv: Invocation, need: str, view: policy.View) -> list[bytes]:
    if need == "pathspec":
        return _pathspec(s, inv)
    if need == "clean":
        return _clean(s, inv, view)
    return _incoming(s, inv)


def _pathspec(s: Session, inv: Invocation) -> list[bytes]:
    words = classify.pathspec_words(inv.command, inv.args)
    if not words:
        return []
    found = s.git.user_ls_files(s.index.path, words) + [s.repo.top_rel(w) for w in words]
    return list(dict.fromkeys(found))


def _clean(s: Session, inv: Invocation, view: policy.View) -> list[bytes]:
    lines = s.git.clean_dry_run(s.index.path, classify.clean_dry_run_args(inv.args))
    files: list[bytes] = []
    dirs: list[bytes] = []
    for line in lines:
        rel = s.repo.top_rel(os.fsdecode(line))
        (dirs if line.endswith(b"/") else files).append(rel + b"/" if line.endswith(b"/") else rel)
    claimed = {p for o in view.others for p in o.claims}
    return files + [c for d in dirs for c in claimed if c.startswith(d)]


def _incoming(s: Session, inv: Invocation) -> list[bytes]:
    if any(a in ("--continue", "--abort", "--skip", "--quit") for a in inv.args):
        return []
    before, _ = classify.positionals(inv.args)
    paths: list[bytes] = []
    for rev in before[:8]:
        if inv.command in ("merge", "rebase"):
            paths += s.git.changed_between(f"HEAD...{rev}")
            if inv.command == "rebase":
                paths += s.git.changed_between(f"{rev}...HEAD")
        elif ".." in rev:
            paths += s.git.changed_between(rev)
        else:
            paths += s.git.commit_paths(rev)
    return paths
