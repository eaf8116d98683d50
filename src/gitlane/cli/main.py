"""`gitlane` / `git lane`: one function per command, each returning an int."""
from __future__ import annotations

import sys

from gitlane.errors import broken_pipe, guarded


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    from gitlane.shared import storage
    code = guarded(_dispatch, args, translate=storage.failure)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = broken_pipe()
    sys.exit(code)


def _dispatch(args: list[str]) -> int:
    if args[:1] == ["prompt"] and "-h" not in args and "--help" not in args:
        from gitlane.cli import prompt  # runs on every shell prompt: no argparse
        return prompt.fast(args[1:])
    if args[:1] == ["hook"] and len(args) in (2, 4):
        from gitlane.cli import hooks  # runs twice around every shell tool call: no argparse
        agent = args[2] if len(args) == 4 and args[1] == "--agent" else "claude"
        if args[-1] in hooks.EVENTS and agent in hooks.AGENTS and (len(args) == 2 or args[1] == "--agent"):
            return hooks.run_event(args[-1], agent)
    from gitlane.cli import parser
    return parser.run(args)
