"""The on-disk format, and the rules the fast path shares with the rest.

Everything gitlane keeps lives in one state folder, `<common git dir>/gitlane/`.
docs/DESIGN.md ("On-disk format") describes each file; this module is the
only place that names them. It imports nothing but the built-in `posix`
module, because `fastpath` (the in-step read, which must cost no more than
the interpreter itself) reads the same files: importing `os` alone costs
~1.1 ms under `python -I -S`. Paths are therefore joined by hand.

    gitlane/
      state.db            sessions, claims, reservations, audit (sqlite, WAL)
      generation          a counter bumped on every ownership change
      global.lock         held by every command that moves HEAD
      maintenance.lock    held by `doctor --fix/--repair` and `gc` (fasteners)
      main-index.pending  session commits .git/index has yet to follow
      sessions/<name>/    one folder per session (worktrees/<id>/sessions/ for
                          linked worktrees): index, base, lock, owner, ...
        gitdir/           the session's own HEAD once it switched branches
                          while a peer was live: HEAD, commondir
"""
import posix

STATE_DIR = "gitlane"
DB = "state.db"
GENERATION = "generation"
GLOBAL_LOCK = "global.lock"
MAINTENANCE_LOCK = "maintenance.lock"    # fasteners: one `doctor --fix/--repair` or `gc` at a time
MAIN_INDEX_PENDING = "main-index.pending"  # "<old> <new>" / "<old> -" (intent) lines: commits .git/index must follow
MAIN_INDEX_RETRY_LOCK = "main-index.retry.lock"  # fasteners: one background .git/index retry at a time
MAIN_INDEX_PENDING_LOCK = "main-index.pending.lock"  # flock: every change to the pending file, serialised
SESSIONS = "sessions"
WORKTREES = "worktrees"

# Files in a session folder.
INDEX = "index"            # the session's staging area (a git index file)
VERIFIED = "index.verified"  # "<inode> <size> <mtime_ns>" of the last index version that passed its checksum
BASE = "base"              # the full object id of the commit the index is based on
LOCK = "lock"              # the session lock: flock + lockf, writers exclusive, readers shared
OWNER = "owner"            # "<pid> <create time>" of the owner process, for `doctor --repair`
STAMP = "isolated"         # view isolation: generation, owner pids, hidden paths (see read_stamp)
EXCLUDE = "exclude"        # core.excludesFile for peers' untracked files
STAGED_COUNT = "staged"    # how many paths the session stages, for `gitlane prompt`
GITDIR = "gitdir"          # the session's private git dir (HEAD, commondir) once it switched
SWITCH = "switch"          # the journal of a branch switch in progress (run.switch)
BEFORE_SWITCH = "index.before-switch"  # the session index as it was before that switch
ENDED_ON = "ended-on"      # the private HEAD a session ended on, for `gitlane status` (unmerged branches)
PREVIOUS = "previous"      # the HEAD the session switched away from last, for `git switch -`
WARNED = "warned"          # "<base> <head>" of the last rebase conflict we warned about
WINDOW = "window"          # the open shell window: start (fs clock, ns), then the dirty set's lstat (session.window)
WINDOWS = "windows"        # "<start> <end>" of recent closed shell windows, for peers' overlap checks
STAGED_SET = "staged.set"  # "<index trailer> <base>\n" + NUL-separated paths the index stages against base
ADOPTED_PATCH = "adopted.patch"  # the staged work `gitlane adopt` took over, kept

# Session names end up in file names and in ref names (see name_problem).
MAX_NAME = 128
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+")

# Read-only whatever their arguments (run.classify checks this set first).
READ_COMMANDS = frozenset("""
status diff log show rev-parse ls-files ls-tree cat-file rev-list blame annotate grep
describe shortlog show-ref for-each-ref diff-files diff-index diff-tree name-rev merge-base
show-branch whatchanged cherry check-ignore check-attr check-mailmap count-objects var
version help verify-commit verify-tag range-diff format-patch archive ls-remote
check-ref-format get-tar-commit-id patch-id show-index verify-pack fsck fsck-objects
""".split())

# Python ignores these at start-up, and an ignored signal stays ignored
# across exec: git's pager, hooks and diff tools would see EPIPE instead of
# dying quietly (`yes | head` prints "Broken pipe"). Every git we start or
# exec gets the default disposition back (git.proc and fastpath).
CHILD_DEFAULT_SIGNALS = ("SIGPIPE", "SIGXFSZ")

_S_IFMT, _S_IFDIR, _S_IFREG, _S_IFLNK = 0o170000, 0o040000, 0o100000, 0o120000
_TRUE = frozenset(("true", "yes", "on"))
_FALSE = frozenset(("false", "no", "off", ""))


def name_problem(name: str) -> str | None:
    """Why a session name is unusable, or None. A name must be a plain file
    name and a valid ref name component (git check-ref-format)."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long"
    if name[0] in ".-":
        return f"it starts with '{name[0]}'"
    bad = sorted({ch for ch in name if ch not in NAME_CHARS})
    if bad:
        return "it contains " + ", ".join(_shown(ch) for ch in bad[:5])
    if ".." in name:
        return "it contains '..'"
    if name.endswith("."):
        return "it ends with '.'"
    if name.endswith(".lock"):
        return "it ends with '.lock'"
    return None


def pid_problem(raw: str) -> str | None:
    """Why GITLANE_SESSION_PID cannot name the session's owner, or None. A
    session owned by no running process would protect nothing, silently."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
        return "it is not a positive process id"
    if not pid_exists(int(raw)):
        return "no process with that id is running"
    return None


def _shown(ch: str) -> str:
    return "'" + shown(ch) + "'"


def shown(text: str) -> str:
    """Text as a message may show it: printable characters as they are
    (`ünï` stays `ünï`), control characters and undecodable bytes escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def git_bool(value: str | None) -> bool | None:
    """git's boolean rules (config.c git_parse_maybe_bool): true/yes/on/false/
    no/off/"" in any case, or an integer (non-zero is true). None: not a
    boolean, or unset."""
    if value is None:
        return None
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    try:
        return int(word, 10) != 0
    except ValueError:
        return None


def config_values(text: str, section: str) -> dict[str, str]:
    """The simple `key = value` lines of one section of a git config file,
    keys lower-cased. Enough for core.bare, core.sparseCheckout and the object
    format; everything else is asked of `git config`. A bare `key` line is
    git's "true"."""
    values: dict[str, str] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line.strip("[]").strip().lower()
        elif current == section and line and line[0] not in "#;":
            key, eq, value = line.partition("=")
            values[key.strip().lower()] = value.split("#")[0].split(";")[0].strip().strip('"') if eq else "true"
    return values


def mode(path: str) -> int | None:
    """The file type bits of path (lstat: a symlink is a symlink), or None."""
    try:
        return posix.lstat(path).st_mode & _S_IFMT
    except OSError:
        return None


def is_dir(path: str) -> bool:
    return mode(path) == _S_IFDIR


def is_file(path: str) -> bool:
    return mode(path) == _S_IFREG


def read_bytes(path: str) -> bytes | None:
    """The whole file, or None. Never follows a symlink at the last step."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC | posix.O_NOFOLLOW)
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


# --- the state folder ----------------------------------------------------

def state_dir(common_dir: str) -> str:
    return common_dir + "/" + STATE_DIR


def sessions_root(common_dir: str, worktree_id: str) -> str:
    """Session folders are per worktree: each worktree has its own HEAD."""
    root = state_dir(common_dir)
    return root + "/" + SESSIONS if not worktree_id else root + "/" + WORKTREES + "/" + worktree_id + "/" + SESSIONS


def session_dir(common_dir: str, worktree_id: str, name: str) -> str:
    return sessions_root(common_dir, worktree_id) + "/" + name


def symlink_in(common_dir: str, path: str) -> str | None:
    """The first folder from the state folder down to `path` (a path inside
    `<common_dir>/gitlane/`) that is a symlink, or anything but a folder;
    None when all are real folders or not made yet. Nothing gitlane writes
    may land outside the state folder through a link (docs/DESIGN.md,
    "On-disk format")."""
    current = common_dir.rstrip("/")
    for part in path[len(current):].strip("/").split("/"):
        current += "/" + part
        kind = mode(current)
        if kind is None:
            return None  # not there yet: makedirs makes real folders
        if kind != _S_IFDIR:
            return current
    return None


# Commands that never open an index: a session's git for them needs no
# core.splitIndex=false (session_config), which they would show (`git config
# -l`, `git config core.splitIndex`, `git var -l`). Not the other reads:
# `git diff` writes a refreshed index when it can (refresh_index_quietly).
NO_INDEX_WRITE = frozenset(("config", "var"))


def session_config(exclude: str | None, split: bool, command: str | None = None) -> list[tuple[str, str]]:
    """The config a session's git gets (GIT_CONFIG_KEY_n/VALUE_n), nothing
    when nothing is needed (alone, a session is plain git).
    core.splitIndex=false, when git keeps shared indexes (split_index_in_use)
    and `command` may write the index (not in NO_INDEX_WRITE; None: it may):
    a split session index names a shared index that git keeps alive only
    while `.git/index` refers to it; once git expires it
    (splitIndex.sharedIndexExpire) the session index could not be read. So
    session indexes are kept whole (docs/DESIGN.md, "Session index").
    core.excludesFile: peers' claimed untracked files, when there are any."""
    pairs = [("core.splitIndex", "false")] if split and command not in NO_INDEX_WRITE else []
    if exclude:
        pairs.append(("core.excludesFile", exclude))
    return pairs


def split_index_in_use(*folders: str) -> bool:
    """Are there shared index files (`sharedindex.<id>`) in these folders?"""
    for folder in folders:
        try:
            if any(name.startswith("sharedindex.") for name in posix.listdir(folder)):
                return True
        except OSError:
            continue
    return False


# --- formats ----------------------------------------------------------------

def verified_key(st: posix.stat_result) -> str:
    """Names one version of a file: git and gitlane replace an index only
    by rename, which gives it a new inode."""
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


def is_object_id(text: str) -> bool:
    """A full SHA-1 or SHA-256 object id in lower-case hex."""
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def read_base(sdir: str) -> str | None:
    """The session's base commit, or None when the file is missing or holds
    anything but a full object id (damage: never passed on to git)."""
    text = (read_text(sdir + "/" + BASE) or "").strip()
    return text if is_object_id(text) else None


def read_generation(state: str) -> str:
    text = (read_text(state + "/" + GENERATION) or "").strip()
    return text if text.isdigit() else "0"


def format_stamp(generation: str, pids: "set[int] | list[int]", paths: "set[bytes] | list[bytes]") -> bytes:
    return (generation.encode() + b"\n" + " ".join(str(p) for p in sorted(pids)).encode() + b"\n"
            + b"\0".join(sorted(paths)))


def read_stamp(sdir: str) -> tuple[str, list[int], list[bytes]]:
    """(generation, owner pids, isolated paths) as of the last isolation
    sync; ("", [], []) when there was none."""
    data = read_bytes(sdir + "/" + STAMP)
    if data is None:
        return "", [], []
    gen, _, rest = data.partition(b"\n")
    pids, _, rest = rest.partition(b"\n")
    return (gen.decode("utf-8", "replace").strip(), [int(p) for p in pids.split() if p.isdigit()],
            [p for p in rest.split(b"\0") if p])


def pid_exists(pid: int) -> bool:
    """kill(0): a reused pid errs towards 'alive', which errs towards hiding."""
    try:
        posix.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def isolation_in_step(state: str, sdir: str) -> bool:
    """The claims did not change since the session's last isolation sync
    (same generation) and every owner it hides paths for still runs. A dying
    owner bumps no counter, so its pid is checked with kill(0)."""
    gen, pids, _ = read_stamp(sdir)
    return gen == read_generation(state) and all(pid_exists(p) for p in pids)


def head_dir(git_dir: str, sdir: str) -> str:
    """Where the session's HEAD lives: its private git dir when it has one
    (one lstat), else the work tree's git dir."""
    private = sdir + "/" + GITDIR
    return private if mode(private + "/HEAD") == _S_IFREG else git_dir


def head_commit(git_dir: str, common_dir: str) -> str | None:
    """HEAD's commit for the plain cases: detached, or a branch in a loose or
    packed ref. None for anything else (an unborn branch, a symbolic chain):
    git.repo.resolve_ref handles those."""
    text = (read_text(git_dir + "/HEAD") or "").strip()
    if not text.startswith("ref: "):
        return text if is_object_id(text) else None
    ref = text[5:].strip()
    if not ref.startswith("refs/") or ".." in ref:
        return None
    loose = read_text(common_dir + "/" + ref)
    if loose is not None:
        loose = loose.strip()
        return loose if is_object_id(loose) else None
    suffix = " " + ref
    for line in (read_text(common_dir + "/packed-refs") or "").splitlines():
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            sha = line.split(" ", 1)[0]
            return sha if is_object_id(sha) else None
    return None
