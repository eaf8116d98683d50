"""`gitlane hook [--agent AGENT] EVENT`: agent hooks (Claude Code, Codex CLI,
Gemini CLI). Input is the hook JSON on stdin, parsed by gitlane.agents.event
into one Event; output follows the agent's hook output contract. Any internal error fails open: a
message on stderr, exit 0, no decision, so a gitlane bug never stops an agent."""
from __future__ import annotations

import argparse
import json
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from gitlane.agents.event import AGENTS, PHASES as EVENTS
if TYPE_CHECKING:
    from gitlane.agents.event import Event
CONTEXT = ("This checkout is shared with other agents through gitlane: use plain git as usual, because your "
           "`git add` stages into your own index and `git commit` records only your staged work. "
           "If git or an edit is refused because another session owns a path, work on other files or run "
           "`gitlane who PATH`, and never bypass it with GITLANE_FORCE, `git stash`, `reset --hard` or a branch switch.")


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--agent", choices=AGENTS, default="claude", help="whose hook this is (default: claude)")
    p.add_argument("event", choices=EVENTS)


def run(args: argparse.Namespace) -> int:
    try:
        payload = json.load(sys.stdin)
        if not isinstance(payload, dict):
            raise ValueError("hook input is not a JSON object")
        from gitlane.agents import event as agent_event
        ev = agent_event.parse(args.agent, args.event, payload)
        out = HANDLERS[args.event](ev)
        out, code, err = agent_event.reply(ev, out, _session_env(ev) if args.event == "session-start" else None)
    except Exception as exc:  # fail open, loudly
        if os.environ.get("GITLANE_TRACE") == "1":
            raise
        sys.stderr.write(f"gitlane hook {args.event}: {type(exc).__name__}: {exc} (allowed anyway)\n")
        return 0
    if out is not None:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    sys.stderr.write(err)
    return code


def _session(ev: Event) -> str:
    from gitlane import session
    return session.validate(ev.session)


def _session_env(ev: Event) -> dict[str, str]:
    """The environment the agent's later shell commands need: the shim first
    on PATH and the session named (Codex applies it from the reply)."""
    from gitlane.cli.activate import remove_first, shim_dir
    shim = shim_dir()
    return {"PATH": ":".join(p for p in (shim, remove_first(os.environ.get("PATH", ""), shim)) if p),
            "GITLANE_SESSION": _session(ev)}


def _env_for(path: str):  # type: ignore[no-untyped-def]
    """The repository containing path (which may not exist yet)."""
    from gitlane.cli.common import Env
    from gitlane.git import args as gitargs
    from gitlane.git import realgit
    from gitlane.git.repo import discover
    from gitlane.git.verbs import Git
    d = path if os.path.isdir(path) else os.path.dirname(path)
    while d and not os.path.isdir(d):
        d = os.path.dirname(d)
    repo = discover(gitargs.Split(), os.environ, d or os.getcwd())
    if repo is None:
        return None
    return Env(repo, Git(realgit.find(), repo, os.environ), None)


def session_start(ev: Event) -> dict[str, Any]:
    from gitlane.cli.activate import sh_quote, shim_dir
    from gitlane.shared import sessions
    name = _session(ev)
    env = _env_for(ev.cwd)
    if env is not None:
        sessions.register(env.conn, name, {}, ev.cwd, label=ev.label)
    env_file = os.environ.get("CLAUDE_ENV_FILE")
    if env_file:
        with open(env_file, "a", encoding="utf-8") as f:
            f.write(f"export PATH={sh_quote(shim_dir())}:\"$PATH\"\n"
                    f"export GITLANE_SESSION={sh_quote(name)}\n")
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": CONTEXT}}


def pre_tool_use(ev: Event) -> dict[str, Any] | None:
    if ev.is_shell and ev.agent == "gemini":
        return _gemini_shell(ev)
    for path in ev.paths:  # every path is checked before any is claimed: a refusal changes nothing
        out = _pre_edit(ev, path, claim=False)
        if out is not None:
            return out
    for path in ev.paths:
        out = _pre_edit(ev, path)
        if out is not None:
            return out
    return None


def _gemini_shell(ev: Event) -> dict[str, Any]:
    """Gemini CLI has no way to set its shell commands' environment but lets
    BeforeTool rewrite the tool's input: the command runs in the session."""
    from gitlane.agents.event import shell_prefix
    from gitlane.cli.activate import shim_dir
    return {"hookSpecificOutput": {"tool_input": {"command": shell_prefix(shim_dir(), _session(ev)) + (ev.command or "")}}}


def _pre_edit(ev: Event, path: str, claim: bool = True) -> dict[str, Any] | None:
    name = _session(ev)
    env = _env_for(path)
    if env is None:
        return None
    rel = _rel(env, path)
    if rel is None:
        return None
    from gitlane.shared import claims
    found = claims.find(env.conn, env.repo.worktree_id, name, [rel], claims.alive_checker(env.conn))
    if not found:
        if claim:
            _claim(env, name, rel, ev.label)
        return None
    reason = (f"{os.fsdecode(rel)} is {found[0][1].describe()}. Edit other files, or ask that session "
              f"to commit or release it (`gitlane who {os.fsdecode(rel)}`).")
    policy = (env.git.config("lane.editPolicy") or "deny").lower()
    if policy != "warn":  # the refusal feed of `gitlane top` and `gitlane log --event refuse`
        from gitlane.shared import db
        db.audit(env.conn, "refuse", name, argv=f"{ev.tool} {os.fsdecode(rel)}", detail=reason)
    if policy == "warn":
        return {"systemMessage": f"gitlane: {reason}",
                "hookSpecificOutput": {"hookEventName": "PreToolUse", "additionalContext": f"Warning: {reason}"}}
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                   "permissionDecisionReason": f"gitlane: {reason}"}}


def post_tool_use(ev: Event) -> None:
    for path in ev.paths:
        env = _env_for(path)
        rel = _rel(env, path) if env is not None else None
        if rel is not None:
            _claim(env, _session(ev), rel, ev.label)
    return None


def session_end(ev: Event) -> None:
    from gitlane.shared import sessions
    env = _env_for(ev.cwd)
    name = _session(ev)
    if env is not None and sessions.get(env.conn, name) is not None:
        from gitlane.run import switch
        switch.leave(env.repo, env.git, name, env.conn)  # its files go back to the shared HEAD's
        sessions.end(env.conn, name)
    return None


def _rel(env, path: str) -> bytes | None:  # type: ignore[no-untyped-def]
    rel = os.path.relpath(os.path.abspath(path), env.repo.top)
    if rel.startswith(".." + os.sep) or rel == ".." or rel.startswith(".git" + os.sep):
        return None
    return os.fsencode(rel)


def _claim(env, name: str, rel: bytes, label: str) -> None:  # type: ignore[no-untyped-def]
    """An edit claim, unless someone (a dead session, or us) already has the
    path: ours stays as it is, a dead owner's is taken over."""
    from gitlane.shared import claims, sessions
    conn = env.conn
    if sessions.get(conn, name) is None:
        sessions.register(conn, name, {}, os.getcwd(), label=label)
    claims.claim_edit(conn, env.repo.worktree_id, name, rel, claims.alive_checker(conn))


HANDLERS = {"session-start": session_start, "pre-tool-use": pre_tool_use,
            "post-tool-use": post_tool_use, "session-end": session_end}
