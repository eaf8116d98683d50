"""`gitlane install AGENT` / `gitlane uninstall AGENT` (claude, codex,
gemini): merge our hooks into the agent's own configuration file without
touching anyone else's, in the project (default) or the user's home, and
say what changed. The file formats are gitlane.agents.config's."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from gitlane.agents import config
from gitlane.errors import Fatal

NAMES = {"claude": "Claude Code", "codex": "Codex CLI", "gemini": "Gemini CLI"}


def configure(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("target", choices=list(config.AGENTS))
    where = p.add_mutually_exclusive_group()
    where.add_argument("--project", action="store_true",
                       help="this repository's .claude/, .codex/ or .gemini/ (default)")
    where.add_argument("--user", action="store_true", help="the same folder in your home directory")
    p.add_argument("--settings", help="an explicit hook settings file")


def run(args: argparse.Namespace) -> int:
    agent = config.AGENTS[args.target]
    folder = _folder(args, agent)
    path = Path(args.settings) if args.settings else folder / agent.file
    data = _load(path, agent)
    if args.command == "install":
        changed = config.install(agent, data, _command_prefix())
    else:
        changed = config.uninstall(data)
    if changed:
        _save(path, data)
    verb = "installed into" if args.command == "install" else "removed from"
    if agent.name == "claude":  # the wording issue 7 fixed
        print(f"gitlane hooks {verb} {path}" if changed else f"nothing to change in {path}")
    else:
        print(f"gitlane hooks {verb} {path} ({', '.join(changed)})" if changed else f"nothing to change in {path}")
    if agent.name == "codex":
        _codex_feature(args, folder / "config.toml")
    if agent.name == "gemini" and args.command == "install":
        _gemini_enable(path)
    return 0


def _command_prefix() -> str:
    from gitlane.cli.activate import sh_quote, shim_dir
    return sh_quote(os.path.join(shim_dir(), "gitlane"))


def _folder(args: argparse.Namespace, agent: config.Agent) -> Path:
    if args.settings:
        return Path(args.settings).parent
    if args.user:
        return Path(os.path.expanduser("~")) / agent.folder
    from gitlane.cli.common import open_env
    env = open_env()
    assert env is not None
    return Path(env.repo.top) / agent.folder


def _load(path: Path, agent: config.Agent) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Fatal(f"{path} is not valid JSON: {exc}", "fix or move the file, then run this again") from None
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise Fatal(f"{path} does not look like a {NAMES[agent.name]} hook settings file",
                    "expected a JSON object with 'hooks'")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    from gitlane.files import write_atomic
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(str(path), (json.dumps(data, indent=2) + "\n").encode())


def _codex_feature(args: argparse.Namespace, toml: Path) -> None:
    """Codex runs hooks.json only with `[features] codex_hooks = true`
    (newer releases have hooks on by default and still accept the key)."""
    text = toml.read_text(encoding="utf-8") if toml.exists() else ""
    if args.command == "install":
        new, what = config.enable_codex_hooks(text)
        if new is not None:
            _write(toml, new)
        print(f"{toml}: {what}")
        if not args.user and not args.settings:
            print("note: Codex reads a project's .codex/ only once you trust the project")
    else:
        new = config.disable_codex_hooks(text)
        if new is not None:
            _write(toml, new)
            print(f"{toml}: removed the codex_hooks line gitlane added")


def _gemini_enable(path: Path) -> None:
    """Gemini CLI runs hooks by default since hooksConfig.enabled became true
    (google-gemini/gemini-cli#17247); newer releases reject unknown settings,
    so nothing is added: a setting that turns hooks off is only reported."""
    data = _load(path, config.AGENTS["gemini"])
    for section, key in (("hooksConfig", "enabled"), ("tools", "enableHooks")):
        value = data.get(section)
        if isinstance(value, dict) and value.get(key) is False:
            print(f"note: {path} sets {section}.{key} = false: gitlane's hooks stay off until you change it")


def _write(path: Path, text: str) -> None:
    from gitlane.files import write_atomic
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(str(path), text.encode())
