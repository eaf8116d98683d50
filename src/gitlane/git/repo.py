"""Find the repository the way git would, in Python: 0.02 ms against ~3 ms
for spawning `git rev-parse`. Anything unusual returns None and the caller
passes the command through untouched."""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

from gitlane import layout
from gitlane.git.args import Split

EMPTY_TREE = {"sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
              "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}


class Repo:
    __slots__ = ("git_dir", "common_dir", "top", "cwd", "wt_git_dir")

    def __init__(self, git_dir: str, common_dir: str, top: str, cwd: str, wt_git_dir: str | None = None) -> None:
        self.git_dir = git_dir        # per-worktree git dir (HEAD, index live here)
        self.common_dir = common_dir  # objects, refs, config: shared by worktrees
        self.top = top                # top of the work tree
        self.cwd = cwd                # where git will run (after every -C)
        # The work tree's own git dir (its shared HEAD, `.git/index`): git_dir
        # itself, unless git_dir is a session's private git dir
        # (docs/DESIGN.md, "Session branches").
        self.wt_git_dir = wt_git_dir or git_dir

    @property
    def worktree_id(self) -> str:
        """'' for the main worktree, the linked worktree's name otherwise."""
        if os.path.samefile(self.wt_git_dir, self.common_dir):
            return ""
        return os.path.basename(self.wt_git_dir.rstrip("/"))

    @property
    def private(self) -> bool:
        """HEAD is a session's own (a private git dir), not the work tree's."""
        return self.git_dir != self.wt_git_dir

    def with_git_dir(self, git_dir: str) -> Repo:
        """The same work tree seen through a session's private git dir."""
        return Repo(git_dir, self.common_dir, self.top, self.cwd, self.wt_git_dir)

    def shared_head_ref(self) -> str | None:
        """The branch the work tree's own HEAD names, None when detached."""
        text = _read(os.path.join(self.wt_git_dir, "HEAD"))
        if text and text.startswith("ref: "):
            return text[5:].strip()
        return None

    def shared_head(self) -> str | None:
        return resolve_ref(Repo(self.wt_git_dir, self.common_dir, self.top, self.cwd), "HEAD")

    def state_dir(self) -> str:
        return layout.state_dir(self.common_dir)

    def sessions_root(self) -> str:
        return layout.sessions_root(self.common_dir, self.worktree_id)

    def head(self) -> str | None:
        """The commit HEAD names, or None on an unborn branch."""
        return resolve_ref(self, "HEAD")

    def head_ref(self) -> str | None:
        """The branch HEAD points at ('refs/heads/x'), None when detached."""
        text = _read(os.path.join(self.git_dir, "HEAD"))
        if text and text.startswith("ref: "):
            return text[5:].strip()
        return None

    def empty_tree(self) -> str:
        fmt = self.config("extensions").get("objectformat", "sha1").lower()
        return EMPTY_TREE.get(fmt, EMPTY_TREE["sha1"])

    def config(self, section: str) -> dict[str, str]:
        """The simple `key = value` lines of one section of the repository's
        own config file (layout.config_values)."""
        return layout.config_values(_read(os.path.join(self.common_dir, "config")) or "", section)

    def top_rel(self, word: str) -> bytes:
        """A path as the user typed it (relative to cwd), relative to the top
        of the work tree, normalised: what git's pathspec code would make of
        a literal path. From outside the work tree (`--work-tree=DIR`) git has
        no prefix: paths are relative to the top."""
        rel = os.path.relpath(self.cwd, self.top)
        base = self.top if rel == ".." or rel.startswith("../") else self.cwd
        full = os.path.normpath(os.path.join(base, word))
        return os.fsencode(os.path.relpath(full, self.top))


def discover(inv: Split, env: Mapping[str, str], cwd: str) -> Repo | None:
    for d in inv.cdirs:
        cwd = os.path.normpath(os.path.join(cwd, d))
    git_dir = inv.git_dir if inv.git_dir is not None else env.get("GIT_DIR")
    work_tree = inv.work_tree if inv.work_tree is not None else env.get("GIT_WORK_TREE")
    if inv.bare or env.get("GIT_COMMON_DIR"):
        return None
    if git_dir:
        return _explicit(os.path.join(cwd, git_dir), work_tree, cwd)
    found = _walk(cwd, env)
    if found is None:
        return None
    top, gdir = found
    if work_tree:
        top = os.path.join(cwd, work_tree)
    return _make(gdir, top, cwd)


def _explicit(git_dir: str, work_tree: str | None, cwd: str) -> Repo | None:
    if not is_git_dir(git_dir):
        return None
    top = os.path.join(cwd, work_tree) if work_tree else cwd
    return _make(git_dir, top, cwd)


def _walk(cwd: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    ceilings = {os.path.normpath(c) for c in env.get("GIT_CEILING_DIRECTORIES", "").split(":") if c}
    d = cwd
    while True:
        dotgit = os.path.join(d, ".git")
        if os.path.isdir(dotgit):
            return (d, dotgit) if is_git_dir(dotgit) else None
        if os.path.isfile(dotgit):
            target = _gitfile(dotgit)
            return (d, target) if target and is_git_dir(target) else None
        if is_git_dir(d):
            return None  # a bare repository, or inside .git: pass through
        parent = os.path.dirname(d)
        if parent == d or parent in ceilings:
            return None
        d = parent


def _make(git_dir: str, top: str, cwd: str) -> Repo | None:
    git_dir = os.path.abspath(git_dir)
    common = git_dir
    rel = _read(os.path.join(git_dir, "commondir"))
    if rel:
        common = os.path.normpath(os.path.join(git_dir, rel.strip()))
        private = _private_owner(git_dir, common)
        if private:
            return Repo(git_dir, common, os.path.abspath(top), cwd, private)
    elif layout.git_bool(layout.config_values(_read(os.path.join(common, "config")) or "", "core").get("bare")):
        # Only the main worktree is made bare by core.bare: git ignores the
        # common config's core.bare in a linked worktree (setup.c), which is
        # how `clone --bare` + `worktree add` layouts work.
        return None
    return Repo(git_dir, common, os.path.abspath(top), cwd)


def _private_owner(git_dir: str, common: str) -> str | None:
    """The main work tree's git dir when git_dir is a session's private git
    dir (`<common>/gitlane/sessions/NAME/gitdir`, as GIT_DIR in a session's
    git children), else None."""
    root = layout.sessions_root(common, "")
    parent = os.path.dirname(git_dir.rstrip("/"))
    if os.path.basename(git_dir.rstrip("/")) == layout.GITDIR and os.path.dirname(parent) == root:
        return common
    return None


def _gitfile(path: str) -> str | None:
    text = _read(path)
    if not text or not text.startswith("gitdir: "):
        return None
    return os.path.normpath(os.path.join(os.path.dirname(path), text[8:].strip()))


def is_git_dir(path: str) -> bool:
    """HEAD, and objects/ or a commondir file (fastpath has the posix twin)."""
    return (os.path.isfile(os.path.join(path, "HEAD"))
            and (os.path.isdir(os.path.join(path, "objects"))
                 or os.path.isfile(os.path.join(path, "commondir"))))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def resolve_ref(repo: Repo, name: str) -> str | None:
    """Follow symbolic refs through loose files and packed-refs."""
    for _ in range(5):
        per_worktree = name == "HEAD" or not name.startswith("refs/") or name.startswith(("refs/bisect/", "refs/worktree/"))
        base = repo.git_dir if per_worktree else repo.common_dir
        text = _read(os.path.join(base, name))
        if text is None:
            return _packed(repo, name)
        text = text.strip()
        if not text.startswith("ref: "):
            return text if layout.is_object_id(text) else None
        name = text[5:].strip()
    return None


def _packed(repo: Repo, name: str) -> str | None:
    text = _read(os.path.join(repo.common_dir, "packed-refs")) or ""
    suffix = " " + name
    for line in text.splitlines():
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            return line.split(" ", 1)[0]
    return None
