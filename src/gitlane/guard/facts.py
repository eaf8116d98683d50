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
                     "merge", "cherry-pick", "revert", "rebase", "update-index", "rm", "add", "branch", "pull"))


def relevant(inv: Invocation) -> bool:
    if inv.command not in GUARDED:
        return False
    if inv.command == "pull":
        return "--autostash" in inv.args or "--rebase" in inv.args or "-r" in inv.args
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
        return  # forced: once is enough
    _safety_net(s, inv, conn, view)


def _safety_net(s: Session, inv: Invocation, conn: sqlite3.Connection, view: policy.View) -> None:
    """A discard that would throw away changes that are not ours (a peer's
    or nobody's) is refused, naming each (guard.safety)."""
    from gitlane.guard import safety
    from gitlane.shared import claims
    auto = inv.command in ("rebase", "pull") and bool(s.git.config("rebase.autoStash") in ("true", "1", "yes", "on"))
    scope = safety.discard_scope(inv.command, inv.args, inv.kind, auto)
    if scope is None:
        return
    victims = discarded(s, inv, scope)
    if not victims:
        return
    mine = claims.mine(conn, s.repo.worktree_id, s.name)
    words = classify.pathspec_words(inv.command, inv.args) if inv.command != "clean" else \
        classify.positionals(inv.args)[0] + classify.positionals(inv.args)[1]
    named = safety.named(words, s.repo.top_rel) if inv.command in ("restore", "checkout", "clean") else set()
    owners = {p: f"session {o.name} (pid {o.pid})" for p, o in view.owners(victims)}
    found = safety.not_ours(victims, mine, named, owners)
    if found:
        force.override(conn, s.name, inv.line, safety.discard_refusal(inv.command + _flags(inv), found))


def _flags(inv: Invocation) -> str:
    flags = [a for a in inv.args if a.startswith("-") and a != "--"][:3]
    return (" " + " ".join(flags)) if flags else ""


def discarded(s: Session, inv: Invocation, scope: str) -> list[bytes]:
    """The uncommitted changes (paths) this discard would throw away, as git
    sees them without view isolation: this session's dirty set plus the
    peers' claimed paths that still differ from HEAD."""
    from gitlane.guard import safety
    from gitlane.session import window
    if scope == safety.CLEAN:
        return _clean_victims(s, inv)
    tracked, untracked = window.dirty(s.git, s.index.path)
    found = tracked + (untracked if scope == safety.WITH_UNTRACKED else [])
    if inv.command in ("restore", "checkout"):
        words = classify.pathspec_words(inv.command, inv.args)
        if not words:
            return []
        scope_paths = set(_pathspec(s, inv))
        found = [p for p in found if p in scope_paths]
    return found


def _clean_victims(s: Session, inv: Invocation) -> list[bytes]:
    from gitlane.session import window
    lines = s.git.clean_dry_run(s.index.path, classify.clean_dry_run_args(inv.args))
    _, untracked = window.dirty(s.git, s.index.path) if any(line.endswith(b"/") for line in lines) else ([], [])
    out: list[bytes] = []
    for line in lines:
        rel = s.repo.top_rel(os.fsdecode(line))
        if line.endswith(b"/"):
            inside = [u for u in untracked if u.startswith(rel.rstrip(b"/") + b"/")]
            out += inside or [rel.rstrip(b"/") + b"/"]  # ignored-only folders: the folder itself
        else:
            out.append(rel)
    return out


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
