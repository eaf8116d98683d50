"""The full path: `shim/git` runs this in a session when fastpath declined.

Read it top to bottom: find the session, the command and the repository; make
sure the session index is based on HEAD; then hand over to git, through the
staging or ref-moving pipeline when the command writes. Only stdlib and our
own small modules are imported here; the rest loads when needed.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

from gitlane import layout
from gitlane import session as sessions
from gitlane.errors import guarded
from gitlane.git import args as gitargs
from gitlane.git import proc
from gitlane.git.repo import discover
from gitlane.git.verbs import Git
from gitlane.run import classify
from gitlane.run.invocation import Invocation
from gitlane.session import Session


# clone and `worktree add` check out into the new repository's (worktree's)
# index, which an inherited GIT_INDEX_FILE would replace with ours: the new
# checkout's entries would land in this session's index.
_NEW_REPOSITORY = frozenset(("clone", "init", "worktree"))


def main() -> None:
    real, argv = sys.argv[1], sys.argv[2:]
    from gitlane.shared import storage
    sys.exit(guarded(dispatch, real, argv, translate=storage.failure))


def passthrough(real: str, argv: list[str], **extra: str) -> NoReturn:
    env = dict(os.environ)
    env.update(extra)
    proc.exec_([real, *argv], env)


def dispatch(real: str, argv: list[str]) -> int:
    env = os.environ
    name = sessions.current(env)
    split = gitargs.split(argv)
    if name is None or split.query or split.command is None:
        passthrough(real, argv)  # no session or a query
    if "GIT_INDEX_FILE" in env:  # inside a hook, or the user's own index: git's own index
        from gitlane.run import own_index
        if split.command in _NEW_REPOSITORY or own_index.is_gits_own(env["GIT_INDEX_FILE"], os.getcwd()):
            passthrough(real, argv)
        own_index.run(real, argv, split, name, os.getcwd())
    if split.command in _NEW_REPOSITORY:
        passthrough(real, argv)  # they write the index of the repository they make, never ours
    try:
        cwd = os.getcwd()
    except OSError:
        passthrough(real, argv)
    repo = discover(split, env, cwd)
    if repo is None:
        passthrough(real, argv)
    explicit = split.git_dir is not None or split.work_tree is not None or "GIT_DIR" in env or "GIT_WORK_TREE" in env
    repo = sessions.own_repo(repo, name, explicit)
    git = Git(real, repo, env)
    command, args = _resolve(git, split)
    if command is None:  # a `!` alias runs a shell: like hooks, it gets git's own index
        passthrough(real, argv)
    kind = classify.classify(command, args, lambda p: os.path.lexists(os.path.join(repo.cwd, p)))
    inv = Invocation(real, argv, split, command, args, kind)
    s = Session(name, repo, git)
    if os.path.exists(s.path(layout.SWITCH)):  # a switch was interrupted: finish it first
        from gitlane.run import switch
        switch.recover(s)
        repo = sessions.own_repo(repo.with_git_dir(repo.wt_git_dir), name, explicit)
        git = git.through(repo)
        s = Session(name, repo, git)
    if kind == classify.READ:
        _run_read(s, inv)
    if kind == classify.OTHER:
        _run_other(s, inv)
    from gitlane.shared import db
    db.keep_open()  # writes leave by os._exit: no WAL checkpoint and fsync on every command
    if kind == classify.STAGE:
        from gitlane.run import stage
        return stage.run(s, inv)
    from gitlane.run import switch
    if switch.handles(inv):
        done = switch.maybe_run(s, inv)
        if done is not None:
            return done
    from gitlane.run import commit
    return commit.run(s, inv)


def _resolve(git: Git, split: gitargs.Split) -> tuple[str | None, list[str]]:
    assert split.command is not None
    if split.command in gitargs.BUILTINS:
        return split.command, split.args
    from gitlane.git import alias
    return alias.resolve(git, alias.config_options(split.options), split.command, split.args)


def _run_read(s: Session, inv: Invocation) -> NoReturn:
    """Read-only: bring the index onto HEAD if needed, then exec git holding
    the session lock shared, so no rebase can replace the index under it.
    `status` may refresh the stat cache (a content-neutral write, serialised
    by git's own index.lock), so it never slows down as files are touched;
    everything else runs without optional locks."""
    from gitlane.errors import GitError
    from gitlane.session import refresh
    if inv.command == "status":
        _note_hidden_as_ignored(s, inv)
    from gitlane.shared.locks import Yielded
    plain = s.git_env(os.environ, inv.command, GIT_OPTIONAL_LOCKS="0")
    own = _own_writer(s)
    try:
        ready = refresh.ensure(s, inv.holder(s.name), inv.line, reading=True, yield_to=own)
    except GitError:  # HEAD or the base is unreadable: let git say what it says about it
        ready = False
    except Yielded:
        proc.exec_(inv.real_argv(), plain)
    if not ready:
        if not s.index.exists():  # a read-only repository this session never wrote
            passthrough(inv.real, inv.argv, GIT_OPTIONAL_LOCKS="0")
        proc.exec_(inv.real_argv(), plain)
    extra = {} if inv.command == "status" else {"GIT_OPTIONAL_LOCKS": "0"}
    try:
        fds = refresh.read_lock_fds(s, yield_to=own)
    except Yielded:
        proc.exec_(inv.real_argv(), plain)
    proc.exec_(inv.real_argv(), s.git_env(os.environ, inv.command, **extra), pass_fds=fds)


def _note_hidden_as_ignored(s: Session, inv: Invocation) -> None:
    """`status --ignored` shows peers' new files, hidden by our excludes
    file, as `!!`: say so on stderr (stdout stays git's own)."""
    from gitlane import fastpath, layout
    path = s.path(layout.EXCLUDE)
    if not fastpath._shows_ignored(inv.args) or not os.path.exists(path):
        return
    data = layout.read_bytes(path) or b""
    marker = b"# gitlane: files other live sessions claim\n"
    count = data.partition(marker)[2].count(b"\n") if marker in data else 0
    if count:
        sys.stderr.write(f"gitlane: {count} of the files shown as ignored (!!) are other live sessions' "
                         "new files, hidden from this session; `gitlane status` lists them\n")


def _run_other(s: Session, inv: Invocation) -> NoReturn:
    from gitlane.guard import facts
    from gitlane.session import refresh
    if facts.relevant(inv):
        from gitlane.run import stage
        stage.guarded_other(s, inv)
    from gitlane.shared.locks import Yielded
    own = _own_writer(s)
    try:
        refresh.ensure(s, inv.holder(s.name), inv.line, reading=False, yield_to=own)
        fds = refresh.read_lock_fds(s, yield_to=own)
    except Yielded:
        proc.exec_(inv.real_argv(), s.git_env(os.environ, inv.command))
    from gitlane.run import pruning
    if inv.command in pruning.PRUNING:
        pruning.run(s.git, inv.real_argv(), s.git_env(os.environ, inv.command), skip=s.dir, pass_fds=fds)
    proc.exec_(inv.real_argv(), s.git_env(os.environ, inv.command), pass_fds=fds)


def _own_writer(s: Session):  # type: ignore[no-untyped-def]
    """For locks.acquire's yield_to: is the session lock held by a writer of
    this same session? Then it is a pipeline partner (`git ls-files -s | git
    update-index --index-info`, a loop of `git hash-object -w` feeding it) or
    a nested git, and waiting would deadlock. Plain git's readers never wait
    for index.lock either: we run on the index as it is (git replaces it only
    by rename), without a rebase."""
    def own(holder: dict[str, str] | None) -> bool:
        return holder is not None and holder.get("session") == s.name
    return own
