"""Resolve git aliases to the command git will really run.

Aliases chain, keys are case-insensitive, a built-in is never overridden, and
`!` aliases run a shell (we pass those through). One `git config` spawn per
non-built-in word, and none for built-ins.
"""
from __future__ import annotations

from gitlane import gitargs
from gitlane.commands import BUILTINS
from gitlane.git import Git


def resolve(git: Git, options: list[str], command: str, args: list[str]) -> tuple[str | None, list[str]]:
    """(real command, its args), or (None, []) for a shell alias or a loop."""
    seen: set[str] = set()
    while command not in BUILTINS:
        key = command.lower()
        if key in seen or len(seen) > 16:
            return None, []
        seen.add(key)
        res = git.run(*options, "config", "--get", f"alias.{command}", check=False,
                      extra={"GIT_LITERAL_PATHSPECS": "0"})
        # Drop only the newline `git config` adds: blanks inside the value are
        # words to split_cmdline(), as they are to git.
        value = res.out.decode("utf-8", "surrogateescape").removesuffix("\n") if res.rc == 0 else ""
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
