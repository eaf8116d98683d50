"""`gitlane install claude` / `gitlane uninstall claude`: merge our hooks into
a Claude Code settings file without touching anyone else's."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from gitlane.errors import Fatal

MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash"  # Bash: the shell window (session.window)
EVENTS = {"SessionStart": ("session-start", None), "PreToolUse": ("pre-tool-use", MATCHER),
          "PostToolUse": ("post-tool-use", MATCHER), "SessionEnd": ("session-end", None)}
MARK = " hook "


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("target", choices=["claude"])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--project", action="store_true", help=".claude/settings.json of this repository (default)")
    where.add_argument("--user", action="store_true", help="~/.claude/settings.json")
    p.add_argument("--settings", help="an explicit settings file")


def run(args: argparse.Namespace) -> int:
    path = _settings_path(args)
    data = _load(path)
    changed = install(data, _command_prefix()) if args.command == "install" else uninstall(data)
    if changed:
        _save(path, data)
    verb = "installed into" if args.command == "install" else "removed from"
    print(f"gitlane hooks {verb} {path}" if changed else f"nothing to change in {path}")
    return 0


def _command_prefix() -> str:
    from gitlane.cli.activate import sh_quote, shim_dir
    return sh_quote(os.path.join(shim_dir(), "gitlane"))


def _settings_path(args: argparse.Namespace) -> Path:
    if args.settings:
        return Path(args.settings)
    if args.user:
        return Path(os.path.expanduser("~")) / ".claude" / "settings.json"
    from gitlane.cli.common import open_env
    env = open_env()
    assert env is not None
    return Path(env.repo.top) / ".claude" / "settings.json"


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise Fatal(f"{path} is not valid JSON: {exc}", "fix or move the file, then run this again") from None
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise Fatal(f"{path} does not look like a Claude Code settings file", "expected a JSON object with 'hooks'")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    from gitlane.files import write_atomic
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(str(path), (json.dumps(data, indent=2) + "\n").encode())


def _ours(hook: Any) -> bool:
    cmd = hook.get("command", "") if isinstance(hook, dict) else ""
    return "gitlane" in cmd and MARK in cmd and any(cmd.endswith(" hook " + e) for e, _ in EVENTS.values())


def install(data: dict[str, Any], prefix: str) -> bool:
    hooks = data.setdefault("hooks", {})
    changed = False
    for event, (arg, matcher) in EVENTS.items():
        command = f"{prefix} hook {arg}"
        groups = hooks.setdefault(event, [])
        mine = [g for g in groups if any(isinstance(h, dict) and h.get("command") == command
                                         for h in g.get("hooks", []))]
        if mine:
            for g in mine:  # an older install without the Bash matcher
                if matcher and g.get("matcher") != matcher and len(g.get("hooks", [])) == 1:
                    g["matcher"] = matcher
                    changed = True
            continue
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": 10}]}
        if matcher:
            group = {"matcher": matcher, **group}
        groups.append(group)
        changed = True
    return changed


def uninstall(data: dict[str, Any]) -> bool:
    """Remove our hook commands; drop only the groups and event lists that we
    emptied, never ones that were empty already."""
    hooks = data.get("hooks", {})
    changed = False
    for event in list(hooks):
        groups = hooks[event]
        emptied = []
        for group in groups:
            kept = [h for h in group.get("hooks", []) if not _ours(h)]
            if len(kept) != len(group.get("hooks", [])):
                group["hooks"] = kept
                changed = True
                if not kept:
                    emptied.append(group)
        if emptied:
            hooks[event] = [g for g in groups if not any(g is e for e in emptied)]
            if not hooks[event]:
                del hooks[event]
    if changed and not hooks:
        del data["hooks"]
    return changed
