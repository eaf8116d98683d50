"""The `gitlane` command table. Each command lives in its own module with
`configure(parser)` and `run(args) -> int`; modules load only when used."""
from __future__ import annotations

import importlib

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "activate": ("activate", "print shell code that opens a session in this shell"),
    "deactivate": ("activate", "print shell code that closes this shell's session"),
    "prompt": ("prompt", "print a short prompt segment for the current session"),
    "status": ("status", "sessions, staged paths, reservations, shared state"),
    "sessions": ("status", "list sessions, live and dead"),
    "top": ("top", "a live view: sessions, staged and edited paths, lock waits, commits, refusals"),
    "who": ("who", "who owns these paths"),
    "reserve": ("reserve", "reserve paths by glob for this session"),
    "release": ("reserve", "release reservations"),
    "log": ("log", "the audit trail"),
    "export": ("recover", "a dead session's staged work as a patch"),
    "adopt": ("recover", "move a dead session's staged work into this session"),
    "gc": ("recover", "prune dead sessions with nothing staged"),
    "doctor": ("doctor", "check and repair locks, sessions, indexes, PATH"),
    "hook": ("hooks", "agent hooks (Claude Code, Codex CLI, Gemini CLI): session-start, pre-tool-use, ..."),
    "install": ("install", "install agent hooks: `gitlane install claude|codex|gemini`"),
    "uninstall": ("install", "remove agent integrations"),
    "demo": ("demo", "watch several agents commit at once, with and without gitlane"),
}


def build():  # type: ignore[no-untyped-def]
    import argparse
    top = argparse.ArgumentParser(prog="gitlane", description=(
        "Several agents, one git working tree, nothing lost. "
        "Every command also works as `git lane <command>`."))
    top.add_argument("--version", action="version", version=_version())
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    return top, sub


def _version() -> str:
    from gitlane import __version__
    return f"gitlane {__version__}"


def run(argv: list[str]) -> int:
    top, sub = build()
    name = next((a for a in argv if not a.startswith("-")), None)
    if name not in COMMANDS:
        for cmd, (_, help_text) in COMMANDS.items():
            sub.add_parser(cmd, help=help_text)
        if name is None and not argv:
            top.print_help()
            return 0
        top.parse_args(argv)  # prints the error or --help/--version and exits
        return 2
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(f"gitlane.cli.{module_name}")
    p = sub.add_parser(name, help=help_text, description=help_text)
    module.configure(p, name)
    args = top.parse_args(argv)
    return int(module.run(args) or 0)
