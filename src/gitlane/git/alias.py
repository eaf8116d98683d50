"""Resolve git aliases to the command git will really run.

Aliases chain, keys are case-insensitive, a built-in is never overridden, and
`!` aliases run a shell (we pass those through). One `git config` spawn per
non-built-in word, and none for built-ins.
"""
from __future__ import annotations

from gitlane.git import args as gitargs
from gitlane.git.verbs import Git


def resolve(git: Git, options: list[str], command: str, args: list[str]) -> tuple[str | None, list[str]]:
    """(real command, its args), or (None, []) for a shell alias or a loop."""
    seen: set[str] = set()
    while command not in gitargs.BUILTINS:
        key = command.lower()
        if key in seen or len(seen) > 16:
            return None, []
        seen.add(key)
        # Blanks inside the value are words to split_cmdline(), as they are to git.
        value = git.alias(options, command) or ""
        if not value:
            return command, args  # an external git-foo or an unknown word
        if value.startswith("!"):
            return None, []
        try:
            words = gitargs.split_cmdline(value)
        except ValueError:
            return None, []
        inner = gitargs.split(words)
        if inner.command is None:
            return None, []
        command, args = inner.command, inner.args + args
    return command, args


def config_options(options: list[str]) -> list[str]:
    """Only the -c/--config-env global options matter when asking git for an alias."""
    picked: list[str] = []
    for i, word in enumerate(options):
        if word in ("-c", "--config-env") and i + 1 < len(options):
            picked += [word, options[i + 1]]
        elif word.startswith("--config-env="):
            picked.append(word)
    return picked
