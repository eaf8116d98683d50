"""The session index: a private staging area based on a recorded commit.

Invariant: the index is always `base + the session's staged changes`. The
base is written after the index, never before: a crash between the two leaves
the new index with the old base, and the 3-way rebase B -> (H + S) -> H is
idempotent, so the next command heals it. The reverse order could record a
base the index is not built on, and the next commit would revert (docs/DESIGN.md,
"Session index").
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

from gitlane import files, layout

if TYPE_CHECKING:
    from gitlane.git.verbs import Git


class Conflict(Exception):
    """Both this session's index and the commits since its base changed paths."""

    def __init__(self, base: str, head: str, paths: list[bytes]) -> None:
        super().__init__("rebase conflict")
        self.base = base
        self.head = head
        self.paths = paths


class Unmerged(Exception):
    """The index holds an unfinished merge; it cannot be rebased until resolved."""


class SessionIndex:
    def __init__(self, git: "Git", sdir: str) -> None:
        self.git = git
        self.sdir = sdir
        self.path = os.path.join(sdir, layout.INDEX)
        self.base_path = os.path.join(sdir, layout.BASE)

    def exists(self) -> bool:
        return os.path.exists(self.path) and os.path.exists(self.base_path)

    def base(self) -> str | None:
        """The base commit; None when missing or damaged (layout.read_base)."""
        return layout.read_base(self.sdir)

    def head(self) -> str:
        return self.git.repo.head() or self.git.repo.empty_tree()

    def stale(self) -> bool:
        """Needs work under the lock: missing, truncated, or based on an old HEAD."""
        try:
            if os.path.getsize(self.path) < 32:
                return True
        except OSError:
            return True
        return not os.path.exists(self.base_path) or self.base() != self.head()

    def _tmp(self) -> str:
        return os.path.join(self.sdir, f"index.new.{os.getpid()}")

    def create(self, meanwhile: Callable[[], None] = lambda: None,
               adopt: Callable[[], bool] = lambda: False) -> list[bytes]:
        """Copy .git/index with its stat cache, then reset its entries to HEAD:
        the first `status` of a new session then rehashes nothing. `meanwhile`
        (work that does not need the index) runs while git checks the copy.

        When .git/index stages something and `adopt()` says so (a lone session,
        docs/DESIGN.md "Session index"), the copy keeps it, as plain git would:
        a merge, a conflict or an `add` made without a session is then this
        session's to commit. Returns the paths so adopted."""
        os.makedirs(self.sdir, exist_ok=True)
        head = self.git.repo.head()
        tmp = self._tmp()
        try:
            adopted = self._fill(tmp, head, meanwhile, adopt)
        except BaseException:
            files.remove(tmp)
            raise
        base = head or self.git.repo.empty_tree()
        self._commit(tmp, base)
        if adopted:
            return adopted
        remember_staged(self, self.path, base, [])  # exactly HEAD: nothing staged
        return []

    def _fill(self, tmp: str, head: str | None, meanwhile: Callable[[], None],
              adopt: Callable[[], bool]) -> list[bytes]:
        shared = os.path.join(self.git.repo.git_dir, "index")
        if not os.path.exists(shared):
            # No .git/index: git reads an "unborn" index (no entries, no
            # timestamp), which `checkout`, `read-tree -m`, `pull` and
            # `sparse-checkout` treat as a first checkout. Alone the session
            # gets exactly that (it stages the removal of HEAD's files, as
            # plain git's missing index does); with a live peer, HEAD.
            meanwhile()
            if not head or adopt():
                _write_empty(tmp, self.git.repo.empty_tree(), unborn=True)
                return self.git.changed_paths(tmp, head) if head else []
            self.git.read_tree(tmp, head)
            return []
        if not head:
            meanwhile()
            if adopt():  # what `git add` staged before the first commit
                files.link_or_copy(shared, tmp)
                adopted = self._staged_in(tmp, self.git.repo.empty_tree())
                if adopted:
                    self._stand_alone(tmp)
                    return adopted
            _write_empty(tmp, self.git.repo.empty_tree())
            return []
        files.link_or_copy(shared, tmp)  # 30k files: a 3 MB copy saved
        # Usually .git/index already matches HEAD: a read-only check (no index
        # write) is much cheaper than read-tree on a big index.
        check = self.git.index_matches_start(tmp, head)
        try:
            meanwhile()
        finally:
            same = check.wait() == 0
        adopted: list[bytes] = []
        if not same and adopt():
            adopted = self._staged_in(tmp, head)
        if not same and not adopted:
            self.git.read_tree(tmp, "--reset", head)
        else:
            self._stand_alone(tmp)
        return adopted

    def _staged_in(self, index: str, tree: str) -> list[bytes]:
        """What an index stages over tree, unmerged paths included."""
        return sorted(set(self.git.changed_paths(index, tree)) | set(self.git.unmerged(index)))

    def _stand_alone(self, tmp: str) -> None:
        if layout.split_index_in_use(self.git.repo.git_dir):
            # .git/index may name a shared index git will expire: a session
            # index must stand alone (layout.session_config).
            self.git.run("update-index", "--no-split-index", index=tmp)

    def rebase(self) -> list[bytes] | None:
        """Move the index onto HEAD. Returns the paths HEAD changed (None when
        there was nothing to do). Raises Conflict, leaving the index untouched,
        when a path changed on both sides.

        Usually no path HEAD changed is staged here: then we copy HEAD's entries
        for exactly those paths (two small spawns and one index write), which is
        what the 3-way merge would give. Otherwise we run the 3-way merge, which
        costs a full unpack_trees (150-220 ms on 30k files)."""
        base, head = self.base(), self.head()
        if base == head:
            return None
        if base is None or not os.path.exists(self.path):
            self.create()
            return []
        entries = self.git.diff_tree_entries(base, head)
        moved = list(entries)
        known = known_staged(self, self.path, base)
        if known is not None:  # what we stage is known: no index read to learn the overlap
            overlap = bool(set(moved) & set(known))
        else:
            overlap = bool(moved) and bool(self.git.changed_paths(self.path, base, limit=moved))
        if moved and not overlap:
            self._take_entries(head, entries, known)
        elif moved:
            self._merge3(base, head)
        else:
            self.set_base(head)
            if known is not None:
                remember_staged(self, self.path, head, known)
        return moved

    def _take_entries(self, head: str, entries: dict[bytes, bytes], known: list[bytes] | None = None) -> None:
        tmp = self._tmp()
        files.copy_keep_stat(self.path, tmp)
        try:
            self.git.update_entries(tmp, entries)
        except BaseException:
            files.remove(tmp)
            raise
        self._commit(tmp, head)
        if known is not None:  # none of the moved paths is staged: the staged set stays as it was
            remember_staged(self, self.path, head, known)

    def _merge3(self, base: str, head: str) -> None:
        staged = tree_without_writing(self.git, self.path) or self.git.write_tree(self.path)
        if staged is None:
            raise Unmerged()
        tmp = self._tmp()
        files.copy_keep_stat(self.path, tmp)
        try:
            self.git.read_tree(tmp, "-m", "-i", "--aggressive", base, staged, head)
            conflicts = self.git.unmerged(tmp)
        except BaseException:
            files.remove(tmp)
            raise
        if conflicts:
            files.remove(tmp)
            raise Conflict(base, head, conflicts)
        self._commit(tmp, head)

    def set_base(self, head: str) -> None:
        # Not fsynced: git does not fsync the index it pairs with (core.fsync
        # leaves the index out by default), so a synced base would outlive a
        # power cut no better than the index it describes. Order is what
        # matters, and a rename after the index's rename keeps it.
        files.write_atomic(self.base_path, head.encode() + b"\n", durable=False)

    def _commit(self, tmp: str, head: str) -> None:
        os.replace(tmp, self.path)
        self.set_base(head)


def _content_key(path: str) -> str | None:
    """Names one exact content of an index file: its trailer, the checksum
    git writes over everything before it (the last 32 bytes cover both
    SHA-1 and SHA-256). None when git wrote no checksum (index.skipHash)."""
    try:
        with open(path, "rb") as f:
            f.seek(-32, 2)
            tail = f.read(32)
    except OSError:
        return None
    if len(tail) < 32 or not tail[-20:].strip(b"\0"):
        return None
    return tail.hex()


def remember_staged(si: SessionIndex, index: str, base: str, staged: list[bytes]) -> None:
    """Record what `index` (this content exactly) stages against `base`, so
    that the next write need not ask git again. A cache: any other content
    or base misses, and a miss asks git (docs/DESIGN.md, "Performance budget")."""
    key = _content_key(index)
    if key is None or not layout.is_object_id(base):
        files.remove(os.path.join(si.sdir, layout.STAGED_SET))
        return
    try:
        files.write_atomic(os.path.join(si.sdir, layout.STAGED_SET),
                           f"{key} {base}\n".encode() + b"\0".join(staged), durable=False)
    except OSError:
        pass


def known_staged(si: SessionIndex, index: str, base: str) -> list[bytes] | None:
    """The staged set remember_staged() recorded for this exact content of
    `index` and this base; None when unknown."""
    try:
        with open(os.path.join(si.sdir, layout.STAGED_SET), "rb") as f:
            data = f.read()
    except OSError:
        return None
    head, sep, body = data.partition(b"\n")
    key = _content_key(index)
    if not sep or key is None or head != f"{key} {base}".encode():
        return None
    return [p for p in body.split(b"\0") if p]


def tree_without_writing(git: "Git", path: str) -> str | None:
    """The empty tree when the index at `path` holds no entry, else None.
    `write-tree` of an empty index writes the empty tree object, which plain
    git never stores (it knows that tree without it): fsck would then report
    it dangling. A split index (its `link` extension) may hold entries in its
    shared file: None, to be safe."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"DIRC" or int.from_bytes(head[8:12], "big") != 0:
                return None
            rest = f.read(1 << 16)
    except OSError:
        return None
    return None if b"link" in rest else git.repo.empty_tree()


def looks_broken(path: str) -> bool:
    """A cheap check for the hot path: present but too short, or a bad header.
    Deeper damage is caught by git's own checksum when it reads the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except FileNotFoundError:
        return False
    return len(head) < 12 or head[:4] != b"DIRC" or int.from_bytes(head[4:8], "big") not in (2, 3, 4)


def verified(path: str) -> bool:
    """Has this exact file (inode, size, mtime) passed a checksum check? git
    2.39 does not verify the index checksum when reading, so damage behind a
    good header would show as garbage. We verify each new version once and
    remember it beside the index: one stat and one small read per command."""
    try:
        st = os.stat(path)
    except OSError:
        return True  # missing: create() will make it
    key = layout.verified_key(st)
    if (files.read_text(_verified_path(path)) or "").strip() == key:
        return True
    if is_corrupt(path):
        return False
    _write_stamp(path, key)
    return True


def stamp_verified(path: str) -> None:
    """Record the current version as good without hashing it. Only for a
    version git just wrote under our exclusive session lock, from an index
    that verified() had passed (session.refresh.update runs it first on every write
    path): nothing else can have written it in between. git replaces an
    index by renaming its lock file, so a git killed mid-way leaves the old,
    verified version, and stamping that is still true."""
    try:
        _write_stamp(path, layout.verified_key(os.stat(path)))
    except OSError:
        pass


def _verified_path(index: str) -> str:
    return os.path.join(os.path.dirname(index), layout.VERIFIED)


def _write_stamp(path: str, key: str) -> None:
    try:
        files.write_atomic(_verified_path(path), key.encode(), durable=False)
    except OSError:
        pass


def is_corrupt(path: str) -> bool:
    """git's own check: header, then the SHA-1 trailer over the whole file.
    Truncation and bit rot both fail it. A missing file is not corrupt."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    import hashlib  # ~2.3 ms (OpenSSL): only when there is something to hash
    if len(data) < 32 or data[:4] != b"DIRC" or int.from_bytes(data[4:8], "big") not in (2, 3, 4):
        return True
    return hashlib.sha1(data[:-20]).digest() != data[-20:] and hashlib.sha256(data[:-32]).digest() != data[-32:]


def _write_empty(path: str, empty_tree: str, unborn: bool = False) -> None:
    """An index with no entries and no cache-tree, as plain git would have none
    at all on an unborn branch. `read-tree --empty` records the empty tree in a
    cache-tree, and that object is not in the repository: fsck then reports it
    missing. `unborn`: also no timestamp (mtime 0), which is how git tells a
    missing index from an empty one (read-cache.c is_index_unborn); the first
    index git writes has a real one."""
    import hashlib
    body = b"DIRC" + (2).to_bytes(4, "big") + (0).to_bytes(4, "big")
    digest = hashlib.sha256 if len(empty_tree) == 64 else hashlib.sha1
    files.write_atomic(path, body + digest(body).digest(), durable=False)
    if unborn:
        os.utime(path, ns=(0, 0))
