"""`gitlane` / `git lane`: one function per command, each returning an int."""
from __future__ import annotations

import sys

from gitlane.errors import guarded


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    sys.exit(guarded(_dispatch, args))


def _dispatch(args: list[str]) -> int:
    from gitlane.cli import parser
    return parser.run(args)
