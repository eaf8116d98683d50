"""`gitlane prompt`: a short segment for shell prompts. It runs on every
prompt: fastpath.prompt_line answers the plain case without even `os`; this
module handles the rest (worktrees, gitfiles, GIT_DIR)."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False

from gitlane import fastpath, files, layout, session
from gitlane.git import args as gitargs
from gitlane.git.repo import discover

if TYPE_CHECKING:
    import argparse

DEFAULT = fastpath.PROMPT_FORMAT


def configure(p: "argparse.ArgumentParser", name: str) -> None:
    p.add_argument("--format", default=DEFAULT,
                   help="template with {session}, {marker} and {branch} (default: %(default)s)")


def run(args: "argparse.Namespace") -> int:
    return segment(args.format)


def fast(argv: list[str]) -> int:
    return segment(fastpath.prompt_format(argv))


def segment(fmt: str) -> int:
    name = os.environ.get("GITLANE_SESSION") or os.environ.get("CLAUDE_CODE_SESSION_ID")
    if not name:
        return 0
    marker = branch = ""
    try:
        session.validate(name)
        repo = discover(gitargs.Split(), os.environ, os.getcwd())
        if repo is not None:
            sdir = session.dir_for(repo, name)
            count = (files.read_text(os.path.join(sdir, layout.STAGED_COUNT)) or "0").strip()
            marker = "*" if count not in ("", "0") else ""
            branch = fastpath.branch_shown(layout.head_dir(repo.wt_git_dir, sdir))
    except Exception:
        pass  # a prompt must never fail
    try:
        sys.stdout.write(fmt.format(session=name, marker=marker, branch=branch) + "\n")
    except (KeyError, IndexError, ValueError):
        sys.stdout.write(DEFAULT.format(session=name, marker=marker) + "\n")
    return 0
