"""The hot path: `shim/git` runs this with `python -I -S` when a session is set.

Read it top to bottom: find the session, the command and the repository; make
sure the session index is based on HEAD; then hand over to git. Only stdlib
and our own small modules are imported here; the rest loads when needed.
"""
from __future__ import annotations

import os
import sys
# typing costs ~10 ms to import under -I -S: annotations only, never at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

from gitlane import commands, gitargs, proc, session
from gitlane.errors import guarded
from gitlane.git import Git
from gitlane.repo import Repo, discover
from gitlane.sindex import SessionIndex


class Ctx:
    """Everything one invocation knows about itself."""

    def __init__(self, real: str, argv: list[str], name: str, inv: gitargs.Invocation,
                 repo: Repo, git: Git) -> None:
        self.real = real
        self.argv = argv           # git's argv, untouched, for the real run
        self.name = name
        self.inv = inv
        self.repo = repo
        self.git = git
        self.command = inv.command or ""
        self.args = inv.args
        self.sdir = session.dir_for(repo, name)
        self.index = SessionIndex(git, self.sdir)
        self.kind = commands.OTHER

    def env(self, **extra: str) -> dict[str, str]:
        from gitlane import isolation
        env = dict(os.environ)
        env["GIT_INDEX_FILE"] = self.index.path
        isolation.config_env(self, env)
        env.update(extra)
        return env

    def lock_path(self) -> str:
        return os.path.join(self.sdir, "lock")

    def holder(self) -> str:
        from gitlane.locks import holder_line
        return holder_line(self.name, "git " + " ".join(self.argv)[:150])


def main() -> None:
    real, argv = sys.argv[1], sys.argv[2:]
    sys.exit(guarded(dispatch, real, argv))


def passthrough(real: str, argv: list[str], **extra: str) -> NoReturn:
    env = dict(os.environ)
    env.update(extra)
    proc.exec_([real, *argv], env)


def dispatch(real: str, argv: list[str]) -> int:
    env = os.environ
    name = session.current(env)
    inv = gitargs.split(argv)
    if name is None or inv.query or inv.command is None or "GIT_INDEX_FILE" in env:
        passthrough(real, argv)  # no session, a query, or inside a hook: git's own index
    try:
        cwd = os.getcwd()
    except OSError:
        passthrough(real, argv)
    repo = discover(inv, env, cwd)
    if repo is None:
        passthrough(real, argv)
    git = Git(real, repo, env)
    command, args = _resolve(git, inv)
    if command is None:  # a `!` alias runs a shell: like hooks, it gets git's own index
        passthrough(real, argv)
    ctx = Ctx(real, argv, name, inv, repo, git)
    ctx.command, ctx.args = command, args
    kind = ctx.kind = commands.classify(command, args, lambda p: os.path.lexists(os.path.join(ctx.repo.cwd, p)))
    if kind == commands.READ:
        _run_read(ctx)
    if kind == commands.OTHER:
        _run_other(ctx)
    from gitlane import pipeline
    if kind == commands.STAGE:
        return pipeline.stage(ctx)
    return pipeline.move_refs(ctx)


def _resolve(git: Git, inv: gitargs.Invocation) -> tuple[str | None, list[str]]:
    assert inv.command is not None
    if inv.command in commands.BUILTINS:
        return inv.command, inv.args
    from gitlane import alias
    return alias.resolve(git, _config_options(inv.options), inv.command, inv.args)


def _config_options(options: list[str]) -> list[str]:
    """Only the -c/--config-env options matter when asking git for an alias."""
    picked: list[str] = []
    for i, word in enumerate(options):
        if word in ("-c", "--config-env") and i + 1 < len(options):
            picked += [word, options[i + 1]]
        elif word.startswith("--config-env="):
            picked.append(word)
    return picked


def _run_read(ctx: Ctx) -> NoReturn:
    """Read-only: bring the index onto HEAD if needed, then exec git holding
    the session lock shared, so no rebase can replace the index under it.
    `status` may refresh the stat cache (a content-neutral write, serialised
    by git's own index.lock), so it never slows down as files are touched;
    everything else runs without optional locks."""
    from gitlane import freshen
    if not freshen.ensure(ctx, reading=True):
        if not ctx.index.exists():  # a read-only repository this session never wrote
            passthrough(ctx.real, ctx.argv, GIT_OPTIONAL_LOCKS="0")
        proc.exec_([ctx.real, *ctx.argv], ctx.env(GIT_OPTIONAL_LOCKS="0"))
    extra = {} if ctx.command == "status" else {"GIT_OPTIONAL_LOCKS": "0"}
    proc.exec_([ctx.real, *ctx.argv], ctx.env(**extra), pass_fds=freshen.read_lock_fds(ctx))


def _run_other(ctx: Ctx) -> NoReturn:
    from gitlane import freshen, guardrun
    if guardrun.relevant(ctx):
        from gitlane import pipeline
        pipeline.guarded_other(ctx)
    freshen.ensure(ctx, reading=False)
    proc.exec_([ctx.real, *ctx.argv], ctx.env(), pass_fds=freshen.read_lock_fds(ctx))
