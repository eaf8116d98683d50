"""`gitlane` / `git lane`: one function per command, each returning an int."""
from __future__ import annotations

import sys

from gitlane.errors import guarded


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    sys.exit(guarded(_dispatch, args))


def _dispatch(args: list[str]) -> int:
    if args[:1] == ["prompt"] and "-h" not in args and "--help" not in args:
        from gitlane.cli import prompt  # runs on every shell prompt: no argparse
        return prompt.fast(args[1:])
    if len(args) == 2 and args[0] == "hook":
        from gitlane.cli import hooks  # runs twice around every Bash call: no argparse
        if args[1] in hooks.EVENTS:
            return hooks.run_event(args[1])
    from gitlane.cli import parser
    return parser.run(args)
