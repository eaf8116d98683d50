"""Small verbs over the real git, always with -z and absolute paths.

Every internal call names the git dir and work tree explicitly, so it never
depends on discovery, and names its index file, so it never touches an index
by accident.
"""
from __future__ import annotations

import os
# typing costs ~10 ms to import under -I -S: annotations only, never at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Sequence

from gitlane import proc
from gitlane.errors import Fatal
from gitlane.repo import Repo

# Our own environment must not steer git: the shim decides the index.
_SCRUB = ("GIT_INDEX_FILE", "GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS",
          "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS", "GIT_DEPTH_GUARD")


class Git:
    def __init__(self, real: str, repo: Repo, env: Mapping[str, str]) -> None:
        self.real = real
        self.repo = repo
        self.base_env = {k: v for k, v in env.items() if k not in _SCRUB}
        self.base_env["GIT_OPTIONAL_LOCKS"] = "0"
        self.base_env["GIT_LITERAL_PATHSPECS"] = "1"
        self.spawned = 0

    def argv(self, args: Sequence[str]) -> list[str]:
        r = self.repo
        return [self.real, "-C", r.top, f"--git-dir={r.git_dir}", f"--work-tree={r.top}", *args]

    def env(self, index: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        if index:
            env["GIT_INDEX_FILE"] = index
        if extra:
            env.update(extra)
        return env

    def run(self, *args: str, index: str | None = None, input: bytes | None = None,
            check: bool = True, extra: Mapping[str, str] | None = None) -> proc.Result:
        self.spawned += 1
        res = proc.run(self.argv(args), self.env(index, extra), input)
        if check and res.rc != 0:
            raise Fatal(f"git {' '.join(args[:3])} failed (exit {res.rc}): "
                        f"{res.err.decode('utf-8', 'replace').strip()}",
                        "run `gitlane doctor`; GITLANE_TRACE=1 shows details")
        return res

    def start(self, *args: str, index: str | None = None) -> proc.Child:
        """run() in the background, for the exit code only."""
        self.spawned += 1
        return proc.start(self.argv(args), self.env(index))

    # --- verbs -----------------------------------------------------------

    def write_tree(self, index: str) -> str | None:
        res = self.run("write-tree", index=index, check=False)
        return res.out.decode().strip() if res.rc == 0 else None

    def read_tree(self, index: str, *args: str) -> None:
        self.run("read-tree", *args, index=index)

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

    def update_entries(self, index: str, entries: dict[bytes, bytes]) -> None:
        """Apply index-info lines, removals first, so that a file turning into
        a directory (or back) never collides with itself."""
        lines = sorted(entries.values(), key=lambda line: not line.startswith(b"0 "))
        self.run("update-index", "-z", "--index-info", index=index, input=b"\0".join(lines) + b"\0")

    def config(self, key: str) -> str | None:
        res = self.run("config", "--get", key, check=False)
        return res.out.decode("utf-8", "replace").strip() if res.rc == 0 else None

    def ls_files(self, index: str, paths: Sequence[bytes], *flags: str) -> list[bytes]:
        """ls-files limited to paths, in chunks (ls-files has no --pathspec-from-file)."""
        found: list[bytes] = []
        for i in range(0, len(paths), 2000):
            chunk = [os.fsdecode(p) for p in paths[i:i + 2000]]
            out = self.run("ls-files", "-z", *flags, "--", *chunk, index=index).out
            found += [p for p in out.split(b"\0") if p]
        return found

    def commit_subject(self, rev_range: str, path: bytes) -> str:
        res = self.run("log", "-1", "--format=%h %s", rev_range, "--",
                       os.fsdecode(path), check=False)
        return res.out.decode("utf-8", "replace").strip()
