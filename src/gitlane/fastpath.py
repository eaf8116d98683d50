"""The in-step read, decided with nothing but `posix`.

Most in-session invocations are reads (`status`, `diff`, `log`) in a session
whose index is already on HEAD. For those the full path (shim.py) would do
nothing but take the session lock shared and exec git with the session index.
This module recognises exactly that case and does it itself. Importing `os`
alone costs ~1.1 ms under `python -I -S` (its _collections_abc), which is why
only the built-in `posix` and `sys` are used here, why there is no
`from __future__ import annotations` (another 0.14 ms; every annotation below
is a built-in type that evaluates at run time), and why paths are joined by
hand.

The rule is: any doubt, return None, and the full path decides. It is never
wrong to fall back; it is only slower. Every check below mirrors a check of
the full path, and tests/test_fastpath.py holds them equal.
"""
import posix
import sys

# Session names end up in file names: the same rule as session.validate().
MAX_NAME = 128
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+")

# Read-only whatever their arguments (commands.classify checks this set first).
READ_COMMANDS = frozenset("""
status diff log show rev-parse ls-files ls-tree cat-file rev-list blame annotate grep
describe shortlog show-ref for-each-ref diff-files diff-index diff-tree name-rev merge-base
show-branch whatchanged cherry check-ignore check-attr check-mailmap count-objects var
version help verify-commit verify-tag range-diff format-patch archive ls-remote
check-ref-format get-tar-commit-id patch-id show-index verify-pack fsck fsck-objects
""".split())

# Any of these changes where git looks or what it reads: the full path knows them.
_ENV_DOUBTS = (b"GIT_DIR", b"GIT_WORK_TREE", b"GIT_COMMON_DIR", b"GIT_INDEX_FILE",
               b"GIT_CEILING_DIRECTORIES", b"GIT_CONFIG_COUNT")
STAMP_FILE = "isolated"         # isolation.sync() writes it in the session folder
GENERATION_FILE = "generation"  # state.bump_generation() writes it in the state folder
_S_IFMT, _S_IFDIR, _S_IFREG = 0o170000, 0o040000, 0o100000
_TRUE = ("true", "yes", "on", "1")


def name_problem(name: str) -> str | None:
    """Why a session name is unusable, or None."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long"
    if name[0] in ".-":
        return f"it starts with '{name[0]}'"
    bad = sorted({ch for ch in name if ch not in NAME_CHARS})
    if bad:
        return "it contains " + ", ".join(repr(ch) for ch in bad[:5])
    return None


def main() -> None:
    """`shim/git` in a session: the fast path, else the full one."""
    real, argv = sys.argv[1], sys.argv[2:]
    plan = _plan_or_none(argv)
    if plan is not None:
        _exec(real, argv, plan)
    from gitlane.shim import main as full
    full()


def cli() -> None:
    """`shim/gitlane`: `prompt` runs on every shell prompt, so it stays here."""
    args = sys.argv[1:]
    if args[:1] == ["prompt"] and "-h" not in args and "--help" not in args:
        line = prompt_line(args[1:])
        if line is not None:
            sys.stdout.write(line)
            sys.exit(0)
    from gitlane.cli.main import main as full
    full()


def _plan_or_none(argv: list[str]) -> tuple[dict[bytes, bytes], int] | None:
    try:
        return read_plan(argv, posix.environ, posix.getcwd())
    except Exception:  # whatever it was, the full path reports it properly
        return None


def read_plan(argv: list[str], env: dict[bytes, bytes], cwd: str) -> tuple[dict[bytes, bytes], int] | None:
    """(git's environment, the session lock's fd held shared) when this is a
    read in a session that is in step; None when the full path must decide."""
    name = session_name(env)
    if name is None or not argv or argv[0] not in READ_COMMANDS or any(k in env for k in _ENV_DOUBTS):
        return None
    git_dir = find_git_dir(cwd)
    if git_dir is None:
        return None
    state = git_dir + "/gitlane"
    sdir = state + "/sessions/" + name
    fd = _lock_shared(sdir + "/lock")
    if fd < 0:
        return None
    try:
        if in_step(git_dir, state, sdir):
            return _git_env(env, argv[0], sdir), fd
    except BaseException:
        posix.close(fd)  # never leave our own shared lock behind for the full path to wait on
        raise
    posix.close(fd)
    return None


def session_name(env: dict[bytes, bytes]) -> str | None:
    raw = env.get(b"GITLANE_SESSION") or env.get(b"CLAUDE_CODE_SESSION_ID")
    if not raw:
        return None
    name = raw.decode("utf-8", "surrogateescape")
    return None if name_problem(name) else name


def find_git_dir(cwd: str) -> str | None:
    """The `.git` folder of a plain, non-bare repository above cwd; None for
    everything else (gitfiles, worktrees, bare repos, inside .git, ceilings):
    repo.discover() handles those."""
    d = cwd.rstrip("/") or "/"
    while True:
        dotgit = (d if d != "/" else "") + "/.git"
        mode = _mode(dotgit)
        if mode == _S_IFDIR:
            return dotgit if _plain_git_dir(dotgit) else None
        if mode is not None or _is_git_dir(d):
            return None
        if d == "/":
            return None
        d = d[:d.rindex("/")] or "/"


def _plain_git_dir(git_dir: str) -> bool:
    if not _is_git_dir(git_dir) or _mode(git_dir + "/commondir") is not None:
        return False
    return config_values(read_text(git_dir + "/config") or "", "core").get("bare") not in _TRUE


def _is_git_dir(path: str) -> bool:
    """repo._is_git_dir: HEAD, and objects/ or a commondir file."""
    return _mode(path + "/HEAD") == _S_IFREG and (
        _mode(path + "/objects") == _S_IFDIR or _mode(path + "/commondir") == _S_IFREG)


def config_values(text: str, section: str) -> dict[str, str]:
    """The simple `key = value` lines of one section of a git config file,
    lower-cased. Enough for core.bare and the object format; real lookups go
    through `git config`."""
    values: dict[str, str] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip().lower()
        if line.startswith("["):
            current = line.strip("[]").strip()
        elif current == section and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.split("#")[0].split(";")[0].strip().strip('"')
    return values


def in_step(git_dir: str, state: str, sdir: str) -> bool:
    """The session index exists, is based on HEAD, passed its checksum check,
    and its view isolation is current: the full path would change nothing."""
    index = sdir + "/index"
    try:
        st = posix.stat(index)
    except OSError:
        return False
    if st.st_size < 32 or read_text(index + ".verified", "").strip() != verified_key(st):
        return False
    base = read_text(sdir + "/base", "").strip()
    return bool(base) and base == _head(git_dir) and isolation_in_step(state, sdir)


def verified_key(st: posix.stat_result) -> str:
    """Names one version of the index file (sindex.verified writes it)."""
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


def isolation_in_step(state: str, sdir: str) -> bool:
    """The claims did not change since the last sync (same generation) and
    every owner we hide paths for still runs. A dying owner bumps no counter,
    so we check its pid with kill(0): a reused pid errs towards 'alive'."""
    gen, pids, _ = read_stamp(sdir)
    return gen == current_generation(state) and all(pid_exists(p) for p in pids)


def current_generation(state: str) -> str:
    return read_text(state + "/" + GENERATION_FILE, "").strip() or "0"


def read_stamp(sdir: str) -> tuple[str, list[int], list[bytes]]:
    """(generation, owner pids, isolated paths) as of the last isolation
    sync; ("", [], []) when there was none."""
    data = read_bytes(sdir + "/" + STAMP_FILE)
    if data is None:
        return "", [], []
    gen, _, rest = data.partition(b"\n")
    pids, _, rest = rest.partition(b"\n")
    return (gen.decode("utf-8", "replace").strip(), [int(p) for p in pids.split() if p.isdigit()],
            [p for p in rest.split(b"\0") if p])


def pid_exists(pid: int) -> bool:
    try:
        posix.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _head(git_dir: str) -> str | None:
    """HEAD's commit for the plain cases: detached, or a branch in a loose or
    packed ref. None (fall back) for anything else, an unborn branch included."""
    text = read_text(git_dir + "/HEAD", "").strip()
    if not text.startswith("ref: "):
        return text or None
    ref = text[5:].strip()
    if not ref.startswith("refs/") or ".." in ref:
        return None
    loose = read_text(git_dir + "/" + ref)
    if loose is not None:
        loose = loose.strip()
        return None if not loose or loose.startswith("ref:") else loose
    suffix = " " + ref
    for line in (read_text(git_dir + "/packed-refs") or "").splitlines():
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            return line.split(" ", 1)[0]
    return None


def _lock_shared(path: str) -> int:
    """The session lock, shared, without waiting (locks.py explains the two
    locks on one fd). Waiting, and creating folders, is the full path's job."""
    import fcntl
    try:
        fd = posix.open(path, posix.O_RDWR | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    except OSError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        posix.close(fd)  # drops the flock too, if we got it
        return -1
    return fd


def _git_env(env: dict[bytes, bytes], command: str, sdir: str) -> dict[bytes, bytes]:
    """What shim.Ctx.env() gives a read: the session index, our excludes file,
    and no optional locks except for `status`, which may refresh the stat cache."""
    out = dict(env)
    out[b"GIT_INDEX_FILE"] = (sdir + "/index").encode("utf-8", "surrogateescape")
    exclude = sdir + "/exclude"
    if _mode(exclude) is not None:
        out[b"GIT_CONFIG_KEY_0"] = b"core.excludesFile"
        out[b"GIT_CONFIG_VALUE_0"] = exclude.encode("utf-8", "surrogateescape")
        out[b"GIT_CONFIG_COUNT"] = b"1"
    if command != "status":
        out[b"GIT_OPTIONAL_LOCKS"] = b"0"
    return out


def _exec(real: str, argv: list[str], plan: tuple[dict[bytes, bytes], int]) -> None:
    env, fd = plan
    posix.set_inheritable(fd, True)  # git holds the lock for as long as it runs
    restore_signals()
    posix.execve(real, [real, *argv], env)


def restore_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ at start-up, and an ignored signal
    stays ignored across exec: git's pager, hooks and external diff tools
    would then see EPIPE instead of dying quietly (`yes | head` prints
    'Broken pipe'). Give them the defaults, as subprocess does."""
    import _signal
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)


PROMPT_FORMAT = "[{session}{marker}]"


def prompt_format(args: list[str]) -> str:
    """--format from argv without argparse (~6 ms to import)."""
    fmt = PROMPT_FORMAT
    for i, word in enumerate(args):
        if word.startswith("--format="):
            fmt = word.split("=", 1)[1]
        elif word == "--format" and i + 1 < len(args):
            fmt = args[i + 1]
    return fmt


def prompt_line(args: list[str]) -> str | None:
    """`gitlane prompt` for the plain case; None when the full CLI must answer."""
    fmt = prompt_format(args)
    env = posix.environ
    if not (env.get(b"GITLANE_SESSION") or env.get(b"CLAUDE_CODE_SESSION_ID")):
        return ""
    name = session_name(env)
    if name is None or any(k in env for k in _ENV_DOUBTS):
        return None
    try:
        git_dir = find_git_dir(posix.getcwd())
    except OSError:
        return None
    if git_dir is None:
        return None
    count = read_text(git_dir + "/gitlane/sessions/" + name + "/staged", "0").strip()
    try:
        return fmt.format(session=name, marker="*" if count not in ("", "0") else "") + "\n"
    except (KeyError, IndexError, ValueError):
        return None


def _mode(path: str) -> int | None:
    try:
        return posix.stat(path).st_mode & _S_IFMT
    except OSError:
        return None


def read_bytes(path: str) -> bytes | None:
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            block = posix.read(fd, 65536)
            if not block:
                return b"".join(chunks)
            chunks.append(block)
    except OSError:
        return None
    finally:
        posix.close(fd)


def read_text(path: str, default: str | None = None) -> str | None:
    data = read_bytes(path)
    return default if data is None else data.decode("utf-8", "replace")
