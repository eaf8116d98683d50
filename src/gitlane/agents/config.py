"""Where each agent keeps its hooks, and how gitlane's hooks are merged into
(and removed from) that file without touching anything else in it.

All three agents read the same shape, event -> [matcher group -> hooks]:
Claude Code's `.claude/settings.json`, Codex CLI's `.codex/hooks.json`
(hooks behind `[features] codex_hooks = true` in `.codex/config.toml`), and
Gemini CLI's `.gemini/settings.json` (whose `hooks` object may also hold
`disabled`, a list of names, which is left alone). Claude Code and Codex
take `timeout` in seconds, Gemini CLI in milliseconds and a `name`.
"""
from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CLAUDE_EDITS = "Edit|Write|MultiEdit|NotebookEdit"
CLAUDE_TOOLS = CLAUDE_EDITS + "|Bash"  # Bash: the shell window (session.window)
CODEX_TOOLS = "Bash|apply_patch"
GEMINI_EDITS = "write_file|replace|edit"


class Agent:
    """One agent's hook file (relative to the project or the home folder),
    its events (event -> (our hook argument, matcher or None)) and the hook
    entry fields it wants."""

    def __init__(self, name: str, folder: str, file: str, events: dict[str, tuple[str, str | None]],
                 timeout: int, named: bool = False) -> None:
        self.name, self.folder, self.file, self.events = name, folder, file, events
        self.timeout, self.named = timeout, named

    def command(self, prefix: str, arg: str) -> str:
        agent = "" if self.name == "claude" else f" --agent {self.name}"  # claude: as installed since issue 7
        return f"{prefix} hook{agent} {arg}"

    def entry(self, prefix: str, arg: str) -> dict[str, Any]:
        hook: dict[str, Any] = {"type": "command", "command": self.command(prefix, arg), "timeout": self.timeout}
        if self.named:
            hook = {"name": f"gitlane-{arg}", **hook}
        return hook


AGENTS = {
    "claude": Agent("claude", ".claude", "settings.json", {
        "SessionStart": ("session-start", None), "PreToolUse": ("pre-tool-use", CLAUDE_TOOLS),
        "PostToolUse": ("post-tool-use", CLAUDE_TOOLS), "SessionEnd": ("session-end", None)}, timeout=10),
    # Codex has no session-end event (Stop ends a turn): liveness ends the session.
    "codex": Agent("codex", ".codex", "hooks.json", {
        "SessionStart": ("session-start", None), "PreToolUse": ("pre-tool-use", CODEX_TOOLS),
        "PostToolUse": ("post-tool-use", CODEX_TOOLS)}, timeout=10),
    "gemini": Agent("gemini", ".gemini", "settings.json", {
        "SessionStart": ("session-start", None),
        "BeforeTool": ("pre-tool-use", GEMINI_EDITS + "|run_shell_command"),
        "AfterTool": ("post-tool-use", GEMINI_EDITS + "|run_shell_command"), "SessionEnd": ("session-end", None)},
        timeout=10000, named=True),
}
_OURS = re.compile(r"gitlane'? hook(?: --agent [a-z]+)? (?:session-start|pre-tool-use|post-tool-use|session-end)$")


def is_ours(hook: Any) -> bool:
    cmd = hook.get("command", "") if isinstance(hook, dict) else ""
    return isinstance(cmd, str) and bool(_OURS.search(cmd))


def _groups(hooks: dict[str, Any], event: str) -> list[Any]:
    groups = hooks.get(event)
    return groups if isinstance(groups, list) else []


def install(agent: Agent, data: dict[str, Any], prefix: str) -> list[str]:
    """Add our hook to each event that lacks it; the events changed."""
    hooks = data.setdefault("hooks", {})
    changed = []
    for event, (arg, matcher) in agent.events.items():
        command = agent.command(prefix, arg)
        if event in hooks and not isinstance(hooks[event], list):
            continue  # not ours to reshape; `is_valid` reports it
        groups = hooks.setdefault(event, [])
        mine = [g for g in groups if isinstance(g, dict) and any(
            isinstance(h, dict) and h.get("command") == command for h in (g.get("hooks") or []))]
        if mine:
            for g in mine:  # an older install, before the shell tools joined the matcher
                if matcher and g.get("matcher") != matcher and len(g.get("hooks") or []) == 1:
                    g["matcher"] = matcher
                    changed.append(event)
            continue
        group: dict[str, Any] = {"hooks": [agent.entry(prefix, arg)]}
        if matcher:
            group = {"matcher": matcher, **group}
        groups.append(group)
        changed.append(event)
    return changed


def uninstall(data: dict[str, Any]) -> list[str]:
    """Remove our hook commands; drop only the groups and event lists that we
    emptied, never ones that were empty already. The events changed."""
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        return []
    changed = []
    for event in list(hooks):
        groups = _groups(hooks, event)
        emptied = []
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                continue
            kept = [h for h in group["hooks"] if not is_ours(h)]
            if len(kept) != len(group["hooks"]):
                group["hooks"] = kept
                if event not in changed:
                    changed.append(event)
                if not kept:
                    emptied.append(group)
        if emptied:
            hooks[event] = [g for g in groups if not any(g is e for e in emptied)]
            if not hooks[event]:
                del hooks[event]
    if changed and not hooks:
        del data["hooks"]
    return changed


# --- Codex's feature flag in config.toml ------------------------------------------

FEATURE_LINE = "codex_hooks = true  # added by gitlane install codex"
FEATURE_HEADER = "[features]  # added by gitlane install codex"
_HEADER = re.compile(r"^[ \t]*\[features\][ \t]*(?:#.*)?$", re.M)


def enable_codex_hooks(text: str) -> tuple[str | None, str]:
    """(new config.toml text or None to leave it, what happened). Only a
    line (and a header if there was no [features] table) is added, and only
    if the result still parses to the same settings plus the flag."""
    import tomllib
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, f"is not valid TOML ({exc}); add `[features]` `codex_hooks = true` yourself"
    features = before.get("features")
    if isinstance(features, dict):
        for key in ("codex_hooks", "hooks"):
            if features.get(key) is True:
                return None, "already enables hooks"
            if features.get(key) is False:
                return None, f"sets features.{key} = false: gitlane's hooks stay off until you change it"
    m = _HEADER.search(text)
    if m:
        new = text[:m.end()] + "\n" + FEATURE_LINE + text[m.end():]
    else:
        new = text + ("" if not text or text.endswith("\n") else "\n") + ("\n" if text.strip() else "") \
            + FEATURE_HEADER + "\n" + FEATURE_LINE + "\n"
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        after = None
    want = {**before, "features": {**(features if isinstance(features, dict) else {}), "codex_hooks": True}}
    if after != want:
        return None, "keeps [features] in a form gitlane does not edit; add `codex_hooks = true` to it yourself"
    return new, "enabled [features] codex_hooks"


def disable_codex_hooks(text: str) -> str | None:
    """The text without the lines enable_codex_hooks added (None: none there)."""
    lines = text.split("\n")
    kept = [ln for ln in lines if ln != FEATURE_LINE]
    if len(kept) == len(lines):
        return None
    for i, ln in enumerate(kept):
        if ln == FEATURE_HEADER:
            rest = next((x for x in kept[i + 1:] if x.strip()), None)
            if rest is None or rest.lstrip().startswith("["):  # our table, now empty
                del kept[i]
                if i > 0 and kept[i - 1] == "" and (i == len(kept) or kept[i] in ("",)):
                    del kept[i - 1]
            break
    return "\n".join(kept)
