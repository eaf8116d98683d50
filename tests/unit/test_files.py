"""files: atomic writes (all or nothing, never through a link) and
stat-preserving copies (`cp -p`), on real files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitlane import files


def test_copy_keep_stat_keeps_the_mtime_to_the_nanosecond(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(3 << 20))              # more than one block
    os.utime(src, ns=(1_000_000_123, 2_000_000_456))
    files.copy_keep_stat(str(src), str(dst))
    assert dst.read_bytes() == src.read_bytes()
    assert os.stat(dst).st_mtime_ns == 2_000_000_456
    assert os.stat(dst).st_ino != os.stat(src).st_ino


def test_copy_never_writes_through_a_leftover_link(tmp_path: Path) -> None:
    live, src, dst = tmp_path / "live", tmp_path / "src", tmp_path / "dst"
    live.write_bytes(b"live index\n")
    src.write_bytes(b"other\n")
    os.link(live, dst)  # what a killed create() may leave behind
    files.copy_keep_stat(str(src), str(dst))
    assert live.read_bytes() == b"live index\n" and dst.read_bytes() == b"other\n"


def test_copy_never_writes_through_a_symlink(tmp_path: Path) -> None:
    target, src, dst = tmp_path / "target", tmp_path / "src", tmp_path / "dst"
    target.write_bytes(b"keep\n")
    src.write_bytes(b"new\n")
    dst.symlink_to(target)
    files.copy_keep_stat(str(src), str(dst))
    assert target.read_bytes() == b"keep\n" and not dst.is_symlink() and dst.read_bytes() == b"new\n"


def test_link_or_copy_links(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"index\n")
    dst.write_bytes(b"old leftover\n")
    files.link_or_copy(str(src), str(dst))
    assert os.stat(dst).st_ino == os.stat(src).st_ino
    # a writer that replaces by rename gives each name its own file again
    (tmp_path / "new").write_bytes(b"rewritten\n")
    os.replace(tmp_path / "new", dst)
    assert src.read_bytes() == b"index\n"


def test_link_or_copy_copies_where_links_fail(tmp_path: Path) -> None:
    other_fs = Path("/dev/shm")
    if not other_fs.is_dir() or os.stat(other_fs).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to link across")
    src = other_fs / f"gitlane-unit-{os.getpid()}"
    try:
        src.write_bytes(b"index\n")
        os.utime(src, ns=(5_000_000_000, 6_000_000_007))
        dst = tmp_path / "dst"
        files.link_or_copy(str(src), str(dst))            # EXDEV: a copy with the stat kept
        assert dst.read_bytes() == b"index\n" and os.stat(dst).st_mtime_ns == 6_000_000_007
    finally:
        src.unlink(missing_ok=True)


def test_write_atomic_replaces_whole(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"old content that is longer\n")
    files.write_atomic(str(p), b"new\n")
    assert p.read_bytes() == b"new\n"
    files.write_atomic(str(p), b"cache\n", durable=False)
    assert p.read_bytes() == b"cache\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f"]


def test_write_atomic_replaces_a_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    target, p = tmp_path / "target", tmp_path / "f"
    target.write_bytes(b"keep\n")
    p.symlink_to(target)
    files.write_atomic(str(p), b"mine\n")
    assert target.read_bytes() == b"keep\n" and not p.is_symlink() and p.read_bytes() == b"mine\n"


def test_write_atomic_keeps_its_temporary_file_in_tmp_dir(tmp_path: Path) -> None:
    refs, aside = tmp_path / "refs", tmp_path / "aside"
    refs.mkdir()
    aside.mkdir()
    seen: list[list[str]] = []
    real_replace = os.replace

    def watch(src: str, dst: str) -> None:            # what is on disk just before the rename
        seen.append(sorted(os.listdir(refs)) + sorted(os.listdir(aside)))
        real_replace(src, dst)
    os.replace = watch  # type: ignore[assignment]
    try:
        files.write_atomic(str(refs / "A"), b"sha\n", tmp_dir=str(aside))
    finally:
        os.replace = real_replace  # type: ignore[assignment]
    assert seen == [[f"A.tmp.{os.getpid()}"]]             # in aside/, never in refs/
    assert os.listdir(refs) == ["A"] and os.listdir(aside) == []


def test_write_atomic_refuses_a_planted_temporary_symlink(tmp_path: Path) -> None:
    target, p = tmp_path / "target", tmp_path / "f"
    target.write_bytes(b"keep\n")
    (tmp_path / f"f.tmp.{os.getpid()}").symlink_to(target)
    with pytest.raises(OSError):
        files.write_atomic(str(p), b"evil\n")
    assert target.read_bytes() == b"keep\n" and not p.exists()


def test_read_text_and_remove(tmp_path: Path) -> None:
    p = tmp_path / "f"
    assert files.read_text(str(p)) is None
    p.write_bytes(b"caf\xe9\n")
    assert files.read_text(str(p)) == "caf\ufffd\n"
    assert files.remove(str(p)) is True
    assert files.remove(str(p)) is False


def test_set_aside_never_overwrites(tmp_path) -> None:
    names = []
    for n in range(3):
        (tmp_path / "f").write_text(str(n))
        names.append(files.set_aside(str(tmp_path / "f"), "corrupt"))
    assert len(set(names)) == 3 and sorted(open(p).read() for p in names) == ["0", "1", "2"]
    assert not (tmp_path / "f").exists()
