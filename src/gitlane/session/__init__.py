"""A session: its name, its folder, its index, and the environment its git
commands get.

Session names come from the environment and end up in file and ref names, so
they are untrusted input: layout.name_problem() is the rule.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

from gitlane import files, layout
from gitlane.errors import Fatal
from gitlane.session.index import SessionIndex

if TYPE_CHECKING:
    from gitlane.git.repo import Repo
    from gitlane.git.verbs import Git


def current(env: Mapping[str, str]) -> str | None:
    """GITLANE_SESSION, else CLAUDE_CODE_SESSION_ID, else no session."""
    name = env.get("GITLANE_SESSION") or env.get("CLAUDE_CODE_SESSION_ID")
    if not name:
        return None
    raw = env.get("GITLANE_SESSION_PID")
    if raw:  # empty is unset
        problem = layout.pid_problem(raw)
        if problem:
            raise Fatal(f"invalid GITLANE_SESSION_PID '{layout.shown(raw[:40])}': {problem}",
                        "set it to the pid of the process that owns the session (a shell: $$), "
                        "or unset it to let gitlane find the owner; nothing was changed", code=2)
    return validate(name)


def validate(name: str) -> str:
    problem = layout.name_problem(name)
    if problem:
        shown = layout.shown(name[:40]) + ("…" if len(name) > 40 else "")
        raise Fatal(f"invalid session name '{shown}': {problem}",
                    "session names use letters, digits and . _ - @ + (at most "
                    f"{layout.MAX_NAME}, not starting with '.' or '-', no '..', "
                    "not ending in '.' or '.lock'); fix GITLANE_SESSION or pass a valid NAME", code=2)
    return name


def own_repo(repo: Repo, name: str, explicit: bool) -> Repo:
    """The repository as this session sees it: through its private git dir
    when it has one (session.head). A user's own --git-dir/GIT_DIR wins."""
    if explicit or repo.private or repo.worktree_id:
        return repo
    private = os.path.join(layout.session_dir(repo.common_dir, "", name), layout.GITDIR)
    return repo.with_git_dir(private) if layout.is_file(os.path.join(private, "HEAD")) else repo


def dir_for(repo: Repo, name: str) -> str:
    return layout.session_dir(repo.common_dir, repo.worktree_id, validate(name))


class Session:
    """One session in one worktree of one repository."""

    __slots__ = ("name", "repo", "git", "dir", "index")

    def __init__(self, name: str, repo: Repo, git: Git) -> None:
        self.name = validate(name)
        self.repo = repo
        self.git = git
        self.dir = layout.session_dir(repo.common_dir, repo.worktree_id, name)
        files.refuse_links(repo.common_dir, self.dir)
        self.index = SessionIndex(git, self.dir)

    def path(self, name: str) -> str:
        """A file of this session's folder (a layout name)."""
        return os.path.join(self.dir, name)

    @property
    def lock_path(self) -> str:
        return self.path(layout.LOCK)

    def git_env(self, env: Mapping[str, str], command: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of the user's own git command in this session: the
        session index, and our excludes file when peers' files are hidden
        (fastpath._git_env is the posix twin). `command`: the git command, when
        it is known (layout.session_config leaves out what it does not need)."""
        out = dict(env)
        out["GIT_INDEX_FILE"] = self.index.path
        if self.repo.private:  # the session's own HEAD (session.head)
            out["GIT_DIR"] = self.repo.git_dir
            out["GIT_WORK_TREE"] = self.repo.top
        count = out.get("GIT_CONFIG_COUNT", "0")
        n = int(count) if count.isdigit() else 0
        exclude = self.path(layout.EXCLUDE)
        split = layout.split_index_in_use(self.repo.wt_git_dir, self.dir)
        for key, value in layout.session_config(exclude if os.path.exists(exclude) else None, split, command):
            out[f"GIT_CONFIG_KEY_{n}"] = key
            out[f"GIT_CONFIG_VALUE_{n}"] = value
            n += 1
            out["GIT_CONFIG_COUNT"] = str(n)
        out.update(extra)
        return out

    def note_staged(self, count: int) -> None:
        """How many paths the session stages, for `gitlane prompt` (no sqlite there)."""
        try:
            files.write_atomic(self.path(layout.STAGED_COUNT), b"%d\n" % count, durable=False)
        except OSError:
            pass
