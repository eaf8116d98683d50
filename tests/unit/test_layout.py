"""layout: the on-disk format and the rules fastpath shares with the rest.

Pure functions by table; the ones that mirror git (session names as ref
components, booleans, config files, HEAD) are also checked against the real
git in a temporary repository.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitlane import layout
from gitlane.testing.lane import Lane, real_git

SHA1 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
SHA256 = "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"


# --- session names ----------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [
    ("", "it is empty"),
    ("x" * 129, "it is 129 characters long"),
    (".hidden", "it starts with '.'"),
    ("..", "it starts with '.'"),
    ("-rf", "it starts with '-'"),
    ("a/b", "it contains '/'"),
    ("a b", "it contains ' '"),
    ("a\x01b", "it contains '\\x01'"),
    ("a\nb", "it contains '\\n'"),
    ("a\0b", "it contains '\\x00'"),
    ("x\x1b[31m", "it contains '\\x1b', '['"),
    ("a/b c:d*e?f~g", "it contains ' ', '*', '/', ':', '?'"),   # sorted, at most five
    ("ünï", "it contains 'ï', 'ü'"),                             # shown as they are
    ("bad\udcffbyte", "it contains '\\xff'"),                  # a byte that was not UTF-8
    ("a..b", "it contains '..'"),
    ("a.", "it ends with '.'"),
    ("topic.lock", "it ends with '.lock'"),
], ids=repr)
def test_name_problem(name: str, problem: str) -> None:
    assert layout.name_problem(name) == problem


VALID_NAMES = ["a", "s1", "x" * 128, "A-b_c.d@e+f", "alice@laptop", "7f3c1e52-9a4b-4c1d-8e2f-0b6a5d4c3b21",
               "a.b", "v1.2.3", "x-", "_"]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names_have_no_problem(name: str) -> None:
    assert layout.name_problem(name) is None


@pytest.mark.parametrize("name", VALID_NAMES + ["a..b", "topic.lock", "a b", "a:b", "a~b", "a^b", "a?b", "a*b",
                                                 "a[b", "a\\b", "a.", ".a"])
def test_a_valid_name_is_a_valid_ref_component(name: str) -> None:
    """Every name we accept makes a valid refs/gitlane/sessions/<name>
    (git check-ref-format); the names git refuses we refuse too."""
    res = subprocess.run([real_git(), "check-ref-format", f"refs/gitlane/sessions/{name}"], capture_output=True)
    if layout.name_problem(name) is None:
        assert res.returncode == 0, name
    elif res.returncode == 0:
        # stricter than git is fine only for characters that are no good in a file name or a shell
        assert set(name) - layout.NAME_CHARS, name


@pytest.mark.parametrize("text, shown", [
    ("plain", "plain"),
    ("ünï", "ünï"),
    ("a\nb", "a\\nb"),
    ("tab\there", "tab\\there"),
    ("\x1b[0m", "\\x1b[0m"),
    ("\x7f", "\\x7f"),
    ("caf\udce9", "caf\\xe9"),
    ("", ""),
])
def test_shown(text: str, shown: str) -> None:
    assert layout.shown(text) == shown


# --- git's booleans and config files -------------------------------------------------

BOOLS = [
    (None, None), ("true", True), ("TRUE", True), ("Yes", True), ("on", True), (" true ", True),
    ("false", False), ("No", False), ("OFF", False), ("", False),
    ("1", True), ("0", False), ("-1", True), ("2", True), ("010", True), ("00", False),
    ("maybe", None), ("tru", None), ("1.0", None),
]


@pytest.mark.parametrize("value, want", BOOLS)
def test_git_bool(value: str | None, want: bool | None) -> None:
    assert layout.git_bool(value) is want


def _git_says(tmp_path: Path, value: str) -> bool | None:
    cfg = tmp_path / "cfg"
    cfg.write_text(f"[x]\n\ty = {value}\n")
    res = subprocess.run([real_git(), "config", "-f", str(cfg), "--type=bool", "--get", "x.y"],
                         capture_output=True, text=True)
    return {"true": True, "false": False}.get(res.stdout.strip()) if res.returncode == 0 else None


@pytest.mark.parametrize("value", [v for v, _ in BOOLS if v is not None and v.strip() == v] + [
    pytest.param("0x1", marks=pytest.mark.xfail(strict=True, reason=(
        "bug: layout.git_bool parses integers in base 10 only; git's git_parse_maybe_bool uses "
        "strtoimax(base 0), so 0x1 (hex) is true to git and None (not a boolean) to gitlane"))),
    pytest.param("1k", marks=pytest.mark.xfail(strict=True, reason=(
        "bug: layout.git_bool ignores git's unit suffixes (k, m, g): `1k` is true and `0k` false "
        "to git, None (not a boolean) to gitlane"))),
])
def test_git_bool_agrees_with_git_config(tmp_path: Path, value: str) -> None:
    assert layout.git_bool(value) is _git_says(tmp_path, value)


@pytest.mark.parametrize("text, section, want", [
    ("[core]\n\tbare = true\n", "core", {"bare": "true"}),
    ("[Core]\n\tBare = TRUE\n", "core", {"bare": "TRUE"}),
    ("[core]\n\tbare\n", "core", {"bare": "true"}),                         # a bare key is "true"
    ("[core]\n\tbare = false # no\n\tsparseCheckout = true ; yes\n", "core",
     {"bare": "false", "sparsecheckout": "true"}),
    ("[core]\n\t# bare = true\n\t; bare = true\n", "core", {}),
    ("[core]\n\tbare = \"true\"\n", "core", {"bare": "true"}),
    ("[user]\n\tname = x\n[core]\n\tbare = true\n[user]\n\tbare = no\n", "core", {"bare": "true"}),
    ("[remote \"origin\"]\n\turl = x\n", "remote", {}),
    ("[extensions]\n\tobjectFormat = sha256\n", "extensions", {"objectformat": "sha256"}),
    ("", "core", {}),
])
def test_config_values(text: str, section: str, want: dict[str, str]) -> None:
    assert layout.config_values(text, section) == want


@pytest.mark.parametrize("text", [
    "[core]\n\tbare = true\n",
    "[core]\n\tbare\n",
    "[CORE]\n\tBARE = yes ; comment\n",
    "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
    pytest.param("[core] bare = true\n", marks=pytest.mark.xfail(strict=True, reason=(
        "bug: layout.config_values drops a key written on its section header's line "
        "(`[core] bare = true` is valid git config syntax): the line is taken for a section "
        "named 'core] bare = true', so a bare repository written this way is not seen as bare"))),
])
def test_config_values_agree_with_git_on_core_bare(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "cfg"
    cfg.write_text(text)
    res = subprocess.run([real_git(), "config", "-f", str(cfg), "--type=bool", "--get", "core.bare"],
                         capture_output=True, text=True)
    assert layout.git_bool(layout.config_values(text, "core").get("bare")) is (res.stdout.strip() == "true")


# --- object ids, the base, the generation, the isolation stamp ---------------------------

@pytest.mark.parametrize("text, ok", [
    (SHA1, True), (SHA256, True), (SHA1[:-1], False), (SHA1 + "0", False), (SHA1.upper(), False),
    ("g" * 40, False), ("", False), (" " + SHA1[1:], False), (SHA256[:63], False),
])
def test_is_object_id(text: str, ok: bool) -> None:
    assert layout.is_object_id(text) is ok


@pytest.mark.parametrize("content, want", [
    (None, None),
    (SHA1 + "\n", SHA1),
    ("  " + SHA256 + "  \n", SHA256),
    ("", None),
    ("ref: refs/heads/main\n", None),
    (SHA1.upper() + "\n", None),
    (SHA1[:20] + "\n", None),
    (SHA1 + "\n" + SHA1 + "\n", None),
    ("\0" * 41, None),
])
def test_read_base(tmp_path: Path, content: str | None, want: str | None) -> None:
    if content is not None:
        (tmp_path / layout.BASE).write_text(content)
    assert layout.read_base(str(tmp_path)) == want


def test_read_base_never_follows_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text(SHA1 + "\n")
    (tmp_path / layout.BASE).symlink_to(tmp_path / "elsewhere")
    assert layout.read_base(str(tmp_path)) is None


@pytest.mark.parametrize("content, want", [(None, "0"), ("12\n", "12"), ("0", "0"), ("x", "0"), ("-1", "0"),
                                           ("", "0"), (" 7 \n", "7")])
def test_read_generation(tmp_path: Path, content: str | None, want: str) -> None:
    if content is not None:
        (tmp_path / layout.GENERATION).write_text(content)
    assert layout.read_generation(str(tmp_path)) == want


@pytest.mark.parametrize("gen, pids, paths", [
    ("7", {3, 1, 20}, {b"b", b"a", b"dir/c d"}),
    ("0", set(), set()),
    ("12", {99}, {b"new\nline.txt", b"tab\there", b"caf\xe9"}),
    ("3", [5, 4], [b"z", b"y"]),
])
def test_stamp_round_trip(tmp_path: Path, gen: str, pids: set[int], paths: set[bytes]) -> None:
    (tmp_path / layout.STAMP).write_bytes(layout.format_stamp(gen, pids, paths))
    assert layout.read_stamp(str(tmp_path)) == (gen, sorted(pids), sorted(paths))


def test_read_stamp_without_a_stamp(tmp_path: Path) -> None:
    assert layout.read_stamp(str(tmp_path)) == ("", [], [])


def test_format_stamp_is_canonical() -> None:
    assert layout.format_stamp("5", [3, 1], [b"b", b"a"]) == b"5\n1 3\na\0b"
    assert layout.format_stamp("5", {1, 3}, {b"a", b"b"}) == layout.format_stamp("5", [3, 1], [b"b", b"a"])


def test_pid_exists(tmp_path: Path) -> None:
    assert layout.pid_exists(os.getpid()) is True
    child = subprocess.Popen(["true"])
    child.wait()                                     # reaped: the pid is free
    assert layout.pid_exists(child.pid) is False


def test_isolation_in_step(tmp_path: Path) -> None:
    state, sdir = tmp_path / "state", tmp_path / "sdir"
    state.mkdir()
    sdir.mkdir()
    assert layout.isolation_in_step(str(state), str(sdir)) is False        # never synced: "" != "0"
    (state / layout.GENERATION).write_text("4\n")
    (sdir / layout.STAMP).write_bytes(layout.format_stamp("4", {os.getpid()}, {b"p"}))
    assert layout.isolation_in_step(str(state), str(sdir)) is True
    (state / layout.GENERATION).write_text("5\n")
    assert layout.isolation_in_step(str(state), str(sdir)) is False        # the claims changed
    dead = subprocess.Popen(["true"])
    dead.wait()
    (sdir / layout.STAMP).write_bytes(layout.format_stamp("5", {os.getpid(), dead.pid}, {b"p"}))
    assert layout.isolation_in_step(str(state), str(sdir)) is False        # an owner died


# --- files and folders ----------------------------------------------------------------

def test_mode_and_kinds_use_lstat(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert layout.is_file(str(tmp_path / "f")) and not layout.is_dir(str(tmp_path / "f"))
    assert layout.is_dir(str(tmp_path / "d")) and not layout.is_file(str(tmp_path / "d"))
    assert not layout.is_file(str(tmp_path / "link"))
    assert layout.mode(str(tmp_path / "link")) == 0o120000
    assert layout.mode(str(tmp_path / "missing")) is None


def test_read_bytes_and_text(tmp_path: Path) -> None:
    big = os.urandom(200_000)                  # more than one read
    (tmp_path / "big").write_bytes(big)
    assert layout.read_bytes(str(tmp_path / "big")) == big
    assert layout.read_bytes(str(tmp_path / "missing")) is None
    assert layout.read_bytes(str(tmp_path)) is None                     # a folder
    (tmp_path / "link").symlink_to(tmp_path / "big")
    assert layout.read_bytes(str(tmp_path / "link")) is None
    (tmp_path / "t").write_bytes(b"caf\xe9\n")
    assert layout.read_text(str(tmp_path / "t")) == "caf\ufffd\n"
    assert layout.read_text(str(tmp_path / "missing"), "dflt") == "dflt"


def test_state_folder_paths() -> None:
    assert layout.state_dir("/r/.git") == "/r/.git/gitlane"
    assert layout.sessions_root("/r/.git", "") == "/r/.git/gitlane/sessions"
    assert layout.sessions_root("/r/.git", "wt1") == "/r/.git/gitlane/worktrees/wt1/sessions"
    assert layout.session_dir("/r/.git", "", "s1") == "/r/.git/gitlane/sessions/s1"
    assert layout.session_dir("/r/.git", "wt1", "s1") == "/r/.git/gitlane/worktrees/wt1/sessions/s1"


def test_verified_key_names_one_version(tmp_path: Path) -> None:
    f = tmp_path / "index"
    f.write_bytes(b"one")
    st = os.stat(f)
    assert layout.verified_key(st) == f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"
    (tmp_path / "new").write_bytes(b"one")
    os.utime(tmp_path / "new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp_path / "new", f)            # same size and mtime, new inode: another version
    assert layout.verified_key(os.stat(f)) != layout.verified_key(st)


# --- HEAD -------------------------------------------------------------------------------

def _head(lane: Lane) -> str | None:
    git_dir = str(lane.path / ".git")
    return layout.head_commit(git_dir, git_dir)


def test_head_commit_follows_git(lane: Lane) -> None:
    assert _head(lane) == lane.head()                                   # a loose branch ref
    lane.plain("pack-refs", "--all")
    assert not (lane.path / ".git/refs/heads/main").exists()
    assert _head(lane) == lane.head()                                   # packed
    lane.plain("checkout", "-q", "--detach")
    assert _head(lane) == lane.head()                                   # detached


def test_head_commit_declines_what_git_repo_handles(lane: Lane) -> None:
    lane.plain("checkout", "-q", "--orphan", "unborn")
    assert _head(lane) is None                                          # unborn branch
    lane.plain("checkout", "-q", "main")
    lane.plain("symbolic-ref", "refs/heads/alias", "refs/heads/main")
    lane.plain("symbolic-ref", "HEAD", "refs/heads/alias")
    assert lane.head() and _head(lane) is None                          # a symbolic chain
    (lane.path / ".git/HEAD").write_text("ref: refs/heads/../../config\n")
    assert _head(lane) is None                                          # never leaves refs/
    (lane.path / ".git/HEAD").write_text("ref: HEAD\n")
    assert _head(lane) is None
    (lane.path / ".git/HEAD").write_text("garbage\n")
    assert _head(lane) is None


def test_symlink_in_names_the_first_link_or_non_folder(tmp_path) -> None:
    common = str(tmp_path)
    sdir = f"{common}/gitlane/sessions/A"
    assert layout.symlink_in(common, sdir) is None                       # nothing made yet
    (tmp_path / "gitlane" / "sessions").mkdir(parents=True)
    assert layout.symlink_in(common, sdir) is None
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "gitlane" / "sessions" / "A").symlink_to(tmp_path / "elsewhere")
    assert layout.symlink_in(common, sdir) == sdir
    (tmp_path / "gitlane" / "sessions" / "A").unlink()
    (tmp_path / "gitlane" / "sessions" / "A").write_text("a file")
    assert layout.symlink_in(common, sdir) == sdir


# State file names whose words mean nothing else in the package (INDEX, BASE,
# LOCK, OWNER, "staged", ... are ordinary words elsewhere: not checked).
_DISTINCT_NAMES = ("DB", "GENERATION", "GLOBAL_LOCK", "MAINTENANCE_LOCK", "MAIN_INDEX_PENDING",
                   "MAIN_INDEX_RETRY_LOCK", "VERIFIED", "STAMP", "EXCLUDE", "WARNED", "ADOPTED_PATCH")


def test_state_file_names_are_spelled_only_in_layout() -> None:
    """layout owns the on-disk format: no other module spells one of its file
    names as a string literal (it would drift from docs/DESIGN.md, "On-disk format")."""
    import ast
    package = Path(layout.__file__).parent
    names = {getattr(layout, n) for n in _DISTINCT_NAMES}
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "layout.py" and path.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(package)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_session_config_leaves_split_index_alone_for_commands_that_never_open_the_index() -> None:
    off = [("core.splitIndex", "false")]
    for command in ("add", "commit", "status", "diff", "update-index", None):
        assert layout.session_config(None, True, command) == off
    for command in ("config", "var"):   # they would show it: `git config core.splitIndex`, `git var -l`
        assert layout.session_config(None, True, command) == []
    assert layout.session_config(None, False, "add") == []
    assert layout.session_config("/x/exclude", True, "config") == [("core.excludesFile", "/x/exclude")]
