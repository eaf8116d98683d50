"""Every git command gitlane runs for itself, as a small verb.

Each call names the git dir and work tree explicitly, so it never depends on
discovery, and names its index file, so it never touches an index by
accident. Output is read with -z. A failed call raises GitError, which
callers that can recover catch; nothing else raises it. The user's own
command never goes through here (run.dispatch execs it).
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Sequence

from gitlane import layout
from gitlane.errors import GitError
from gitlane.git import proc
from gitlane.git.repo import Repo

# Our own environment must not steer git: gitlane decides the index and the
# pathspec rules of its own calls, and git's trace output belongs to the
# user's command alone (GIT_TRACE2_EVENT etc. would get our calls too).
_SCRUB = ("GIT_INDEX_FILE", "GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS",
          "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS")
_SCRUB_PREFIXES = ("GIT_TRACE", "GIT_REDIRECT_")  # GIT_TRACE2*, GIT_TRACE_SETUP, ...
# Our plumbing must not run the user's hooks (post-index-change fires on every
# index write) nor ask their fsmonitor: both would see calls plain git never makes.
_QUIET = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def internal_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of gitlane's own git calls."""
    out = {k: v for k, v in env.items() if k not in _SCRUB and not k.startswith(_SCRUB_PREFIXES)}
    out["GIT_OPTIONAL_LOCKS"] = "0"
    out["GIT_LITERAL_PATHSPECS"] = "1"
    return out


class Git:
    def __init__(self, real: str, repo: Repo, env: Mapping[str, str]) -> None:
        self.real = real
        self.repo = repo
        self.base_env = internal_env(env)
        self.user_env = dict(env)  # for calls that must read paths as the user wrote them
        self.spawned = 0

    def through(self, repo: Repo) -> Git:
        """The same git, seen through another git dir of the same work tree
        (a session's private HEAD, session.head)."""
        other = Git.__new__(Git)
        other.real, other.repo, other.base_env, other.user_env, other.spawned = (
            self.real, repo, self.base_env, self.user_env, 0)
        return other

    def _argv(self, args: Sequence[str]) -> list[str]:
        r = self.repo
        # Never a split session index: layout.session_config.
        return [self.real, *_QUIET, "-C", r.top, f"--git-dir={r.git_dir}", f"--work-tree={r.top}",
                "-c", "core.splitIndex=false", *args]

    def _env(self, index: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        if index:
            env["GIT_INDEX_FILE"] = index
        if extra:
            env.update(extra)
        return env

    def run(self, *args: str, index: str | None = None, input: bytes | None = None,
            check: bool = True, extra: Mapping[str, str] | None = None) -> proc.Result:
        """The one way to run git here; `check` raises GitError on failure."""
        self.spawned += 1
        res = proc.run(self._argv(args), self._env(index, extra), input)
        if check and res.rc != 0:
            raise GitError(args, res.rc, res.err)
        return res

    def _user(self, *args: str, index: str | None, check: bool = False) -> proc.Result:
        """git in the user's cwd with the user's pathspec rules (globs, magic)."""
        literal = self.user_env.get("GIT_LITERAL_PATHSPECS", "0")
        return self.run("-C", self.repo.cwd, *args, index=index, check=check,
                        extra={"GIT_LITERAL_PATHSPECS": literal})

    # --- trees and indexes -------------------------------------------------

    def write_tree(self, index: str) -> str | None:
        res = self.run("write-tree", index=index, check=False)
        return res.out.decode().strip() if res.rc == 0 else None

    def read_tree(self, index: str, *args: str) -> None:
        self.run("read-tree", *args, index=index)

    def index_matches_start(self, index: str, tree: str) -> proc.Child:
        """`diff-index --cached --quiet tree` in the background: exit 0 when
        the index holds exactly tree (reap with .wait())."""
        self.spawned += 1
        return proc.start(self._argv(("diff-index", "--cached", "--quiet", tree)), self._env(index))

    def unmerged(self, index: str) -> list[bytes]:
        out = self.run("ls-files", "-u", "-z", index=index).out
        return sorted({rec.split(b"\t", 1)[1] for rec in out.split(b"\0") if b"\t" in rec})

    def changed_paths(self, index: str, tree: str, limit: Sequence[bytes] = ()) -> list[bytes]:
        """Paths whose index entry differs from tree: what this index stages
        (only among `limit`, when given: a pathspec keeps it cheap)."""
        spec = ["--", *(os.fsdecode(p) for p in limit)] if limit else []
        out = self.run("diff-index", "--cached", "-z", "--name-only", "--no-renames",
                       "--ignore-submodules=none", tree, *spec, index=index).out
        return [p for p in out.split(b"\0") if p]

    def diff_tree_entries(self, a: str, b: str) -> dict[bytes, bytes]:
        """{path: its `update-index --index-info` line in b} for every path that
        differs between trees a and b (a zero mode line means: gone in b).
        One spawn gives both the paths and the entries, no ls-tree needed."""
        out = self.run("diff-tree", "-r", "-z", "--no-renames", "--raw", a, b).out
        fields = out.split(b"\0")
        entries: dict[bytes, bytes] = {}
        for meta, path in zip(fields[0::2], fields[1::2]):
            if not meta.startswith(b":"):
                continue
            _, new_mode, _, new_sha, _ = meta[1:].split(b" ")
            mode = b"0" if new_mode == b"000000" else new_mode
            entries[path] = mode + b" " + new_sha + b"\t" + path
        return entries

    def index_entries(self, index: str, paths: Sequence[bytes]) -> dict[bytes, bytes]:
        """{path: "<mode> <sha>"} of the stage-0 entries of these paths."""
        found: dict[bytes, bytes] = {}
        for rec in self.ls_files(index, paths, "-s"):
            meta, _, path = rec.partition(b"\t")
            mode, sha, stage = meta.split(b" ")
            if stage == b"0":
                found[path] = mode + b" " + sha
        return found

    def update_entries(self, index: str, entries: dict[bytes, bytes]) -> None:
        """Apply index-info lines, removals first, so that a file turning into
        a directory (or back) never collides with itself."""
        lines = sorted(entries.values(), key=lambda line: not line.startswith(b"0 "))
        self.run("update-index", "-z", "--index-info", index=index, input=b"\0".join(lines) + b"\0")

    def set_skip_worktree(self, index: str, paths: Sequence[bytes], on: bool) -> bool:
        """All or nothing, like update-index itself: False when a path is not
        in the index (nothing was changed then)."""
        flag = "--skip-worktree" if on else "--no-skip-worktree"
        res = self.run("update-index", "-z", flag, "--stdin", index=index,
                       input=b"\0".join(paths) + b"\0", check=False)
        return res.rc == 0

    def ls_files(self, index: str, paths: Sequence[bytes], *flags: str) -> list[bytes]:
        """ls-files limited to paths, in chunks (ls-files has no --pathspec-from-file)."""
        found: list[bytes] = []
        for i in range(0, len(paths), 2000):
            chunk = [os.fsdecode(p) for p in paths[i:i + 2000]]
            out = self.run("ls-files", "-z", *flags, "--", *chunk, index=index).out
            found += [p for p in out.split(b"\0") if p]
        return found

    def all_paths(self) -> list[bytes]:
        """Tracked and untracked-but-not-ignored paths, from .git/index."""
        res = self.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
        return [p for p in res.out.split(b"\0") if p]

    def staged_patch(self, index: str, base: str) -> bytes:
        return self.run("diff", "--cached", "--binary", "--no-color", "--no-ext-diff", base, index=index).out

    def apply_cached(self, index: str, patch: bytes) -> proc.Result:
        return self.run("apply", "--cached", "--3way", "--binary", "-", index=index, input=patch, check=False)

    def diff_files(self, index: str, paths: Sequence[bytes]) -> list[bytes]:
        """Tracked paths among `paths` (each in the index) whose work tree file differs from the
        index entry in content, type or mode. Their stat info is refreshed
        first (`add --refresh`): diff-files alone reports every entry whose
        stat differs, whatever the content."""
        found: list[bytes] = []
        for i in range(0, len(paths), 2000):
            chunk = [os.fsdecode(p) for p in paths[i:i + 2000]]
            self.run("add", "--refresh", "--", *chunk, index=index, check=False)
            out = self.run("diff-files", "--name-only", "-z", "--no-renames", "--ignore-submodules=none",
                           "--", *chunk, index=index).out
            found += [p for p in out.split(b"\0") if p]
        return found

    def checkout_index(self, index: str, paths: Sequence[bytes]) -> None:
        """Write these index entries to the work tree (replacing what is
        there) and refresh their stat info in the index."""
        if paths:
            self.run("checkout-index", "-f", "-u", "-z", "--stdin", index=index,
                     input=b"\0".join(paths) + b"\0")

    def two_way(self, index: str, old: str, new: str) -> bool:
        """`read-tree -m -i old new` on index: the index moves to new,
        carrying its staged changes, and the work tree is neither read nor
        written (-i: a half-written work tree after a crash is no obstacle). False when one of them
        cannot be carried (the index is unchanged then)."""
        return self.run("read-tree", "-m", "-i", old, new, index=index, check=False).rc == 0

    # --- the user's pathspecs --------------------------------------------------

    def user_ls_files(self, index: str, words: Sequence[str]) -> list[bytes]:
        """Tracked paths (top-relative) that the user's pathspec words name."""
        out = self._user("ls-files", "-z", "--full-name", "--", *words, index=index).out
        return [p for p in out.split(b"\0") if p]

    def clean_dry_run(self, index: str, args: Sequence[str]) -> list[bytes]:
        """The lines `git clean -n ARGS` prints (paths relative to cwd)."""
        out = self._user("-c", "core.quotePath=false", "clean", "-n", *args, index=index).out
        return [line[13:] for line in out.splitlines() if line.startswith(b"Would remove ")]

    def add_update(self, index: str, paths: Sequence[str]) -> None:
        """`git add -u [-- PATHS]` as the user would run it, on this index."""
        self._user("add", "-u", *(["--", *paths] if paths else []), index=index)

    def changed_between(self, *spec: str) -> list[bytes]:
        """Paths `git diff --name-only SPEC` lists (no index involved)."""
        res = self.run("diff", "--name-only", "-z", "--no-renames", *spec, check=False)
        return [p for p in res.out.split(b"\0") if p] if res.rc == 0 else []

    def last_changes(self, tip: str, exclude: str, paths: Sequence[bytes]) -> dict[bytes, str]:
        """{path: the newest commit of `tip ^exclude` that changed it}."""
        if not paths:
            return {}
        res = self.run("log", "-z", "--format=C%H", "--name-only", "--no-renames", tip, f"^{exclude}",
                       "--", *(os.fsdecode(p) for p in paths), check=False)
        found: dict[bytes, str] = {}
        commit = ""
        for tok in res.out.split(b"\0") if res.rc == 0 else []:
            if tok.startswith(b"C") and len(tok) in (41, 65):
                commit = tok[1:].decode()
            elif tok.lstrip(b"\n") and commit:
                found.setdefault(tok.lstrip(b"\n"), commit)
        return found

    def commit_paths(self, rev: str) -> list[bytes]:
        res = self.run("diff-tree", "-r", "--root", "--name-only", "-z", "--no-renames", "--no-commit-id",
                       rev, check=False)
        return [p for p in res.out.split(b"\0") if p] if res.rc == 0 else []

    # --- objects, refs, config ---------------------------------------------------

    def is_commit(self, rev: str) -> bool:
        return self.run("cat-file", "-e", f"{rev}^{{commit}}", check=False).rc == 0

    def resolve_commit(self, rev: str) -> str | None:
        res = self.run("rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}", check=False)
        return res.out.decode().strip() if res.rc == 0 else None

    def resolve_tree(self, rev: str) -> str | None:
        res = self.run("rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{tree}}", check=False)
        return res.out.decode().strip() if res.rc == 0 else None

    def tree_and_parents(self, commit: str) -> tuple[str, list[str]]:
        fields = self.run("log", "-1", "--format=%T %P", "--end-of-options", commit).out.decode().split()
        return fields[0], fields[1:]

    def write_object(self, kind: str, body: bytes) -> str:
        return self.run("hash-object", "-t", kind, "-w", "--stdin", input=body).out.decode().strip()

    def set_head(self, target: str, message: str) -> None:
        """Point HEAD of this git dir at a branch ('refs/heads/x') or a commit
        (detached), with a reflog entry as `git checkout` writes it."""
        if target.startswith("refs/"):
            self.run("symbolic-ref", "-m", message, "HEAD", target)
        else:
            self.run("update-ref", "--no-deref", "-m", message, "HEAD", target)

    def create_ref(self, ref: str, commit: str, message: str, force: bool) -> bool:
        """Create ref at commit (only if absent, unless force); False when it
        exists and force is off."""
        old = [] if force else [""]
        return self.run("update-ref", "-m", message, ref, commit, *old, check=False).rc == 0

    def branch_name_ok(self, name: str) -> bool:
        return self.run("check-ref-format", "--branch", name, check=False).rc == 0

    def one_line(self, commit: str) -> str:
        res = self.run("log", "-1", "--format=%h %s", "--end-of-options", commit, check=False)
        return res.out.decode("utf-8", "replace").strip()

    def remote_branches_named(self, name: str) -> list[str]:
        """refs/remotes/*/NAME, for `git switch NAME`'s guess of a tracking branch."""
        res = self.run("for-each-ref", "--format=%(refname)", f"refs/remotes/*/{name}", check=False)
        return [line for line in res.out.decode("utf-8", "replace").splitlines() if line]

    def set_upstream(self, branch: str, upstream: str) -> None:
        self.run("branch", "--set-upstream-to", upstream, "--", branch, check=False)

    def delete_ref(self, ref: str) -> None:
        self.run("update-ref", "-d", "--", ref, check=False)

    def commit_subject(self, rev_range: str, path: bytes) -> str:
        res = self.run("log", "-1", "--format=%h %s", rev_range, "--", os.fsdecode(path), check=False)
        return res.out.decode("utf-8", "replace").strip()

    def subjects(self, commits: Sequence[str]) -> dict[str, str]:
        """Full id -> subject of each commit that exists (ids must be object
        ids: they are never options); missing ones are skipped, in one call."""
        ids = [c for c in commits if layout.is_object_id(c)]
        if not ids:
            return {}
        res = self.run("log", "--ignore-missing", "--no-walk=unsorted", "--format=%H%x00%s", *ids, "--",
                       check=False)
        pairs = (line.split("\0", 1) for line in res.out.decode("utf-8", "replace").splitlines() if "\0" in line)
        return {h: s for h, s in pairs}

    def config(self, key: str) -> str | None:
        res = self.run("config", "--get", key, check=False)
        return res.out.decode("utf-8", "replace").strip() if res.rc == 0 else None

    def config_path(self, key: str) -> str | None:
        res = self.run("config", "--path", "--get", key, check=False)
        return os.fsdecode(res.out.strip()) if res.rc == 0 and res.out.strip() else None

    def alias(self, options: Sequence[str], name: str) -> str | None:
        """The value of alias.NAME as git would see it with the user's -c
        options; only the newline `git config` adds is dropped."""
        res = self.run(*options, "config", "--get", f"alias.{name}", check=False,
                       extra={"GIT_LITERAL_PATHSPECS": "0"})
        return res.out.decode("utf-8", "surrogateescape").removesuffix("\n") if res.rc == 0 else None
