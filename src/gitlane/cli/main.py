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
    from gitlane.cli import parser
    return parser.run(args)
