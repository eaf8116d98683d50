"""Atomic file writes and stat-preserving copies (stdlib only, no shutil)."""
from __future__ import annotations

import os
import time


def copy_keep_stat(src: str, dst: str) -> None:
    """Copy with mtime kept, like `cp -p`: an index copied with a fresh mtime
    would hide the changes git considers racy (docs/DESIGN.md, "Session index")."""
    st = os.stat(src)
    remove(dst)  # a leftover of a killed run may be a link to a live index: never write through it
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            block = fin.read(1 << 20)
            if not block:
                break
            fout.write(block)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def link_or_copy(src: str, dst: str) -> None:
    """A second name for src, or a stat-preserving copy where links fail.
    Safe for index files only because git never writes one in place: it
    writes `<index>.lock` and renames it over, which gives that name a new
    inode and leaves the other name untouched (and so do we: write_atomic)."""
    remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        copy_keep_stat(src, dst)


def write_atomic(path: str, data: bytes, durable: bool = True, tmp_dir: str | None = None) -> None:
    """Write to a temporary file, (fsync,) rename: all or nothing. Caches that
    are rebuilt when missing or stale skip the fsync. `tmp_dir` (same file
    system) keeps the temporary file out of folders git reads, like refs/."""
    name = f"{os.path.basename(path)}.tmp.{os.getpid()}"
    tmp = os.path.join(tmp_dir, name) if tmp_dir else f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def set_aside(path: str, why: str) -> str:
    """Move a damaged file out of the way, never deleting it, under a name no
    other recovery takes, even in the same second; returns that name."""
    stem = f"{path}.{why}-{int(time.time())}"
    target, n = stem, 1
    while os.path.lexists(target):
        n += 1
        target = f"{stem}.{n}"
    os.replace(path, target)
    return target


def refuse_links(common_dir: str, path: str) -> None:
    """A state or session folder that is a symlink would have gitlane write
    through it, outside the repository: refuse, naming it."""
    from gitlane import layout
    from gitlane.errors import StateError
    link = layout.symlink_in(common_dir, path)
    if link:
        raise StateError(f"refusing to use {link}: it is a symlink or not a folder, and gitlane state "
                         "must stay inside the repository",
                         f"remove it (`rm {link}`, the link only) or move it aside; nothing was changed")
