"""The entry point of `shim/git` and `shim/gitlane`: the in-step read, and
the prompt, decided with nothing but `posix` (and `layout`, which is posix
only).

Most in-session invocations are reads (`status`, `diff`, `log`) in a session
whose index is already on HEAD. For those the full path (run.dispatch) would
do nothing but take the session lock shared and exec git with the session
index. This module recognises exactly that case and does it itself; when it
declines, `main()` returns and the launcher runs the full path (this module
never imports it: it sits below everything else). Importing `os` alone costs
~1.1 ms under `python -I -S`, which is why only `posix`, `sys` and `fcntl`
are used, why there is no `from __future__ import annotations`, and why
paths are joined by hand.

The rule is: any doubt, return, and the full path decides. It is never
wrong to fall back; it is only slower. Every check below mirrors a check of
the full path, and tests/unit/test_fastpath.py holds them equal.
"""
import posix
import sys

from gitlane import layout

# Any of these changes where git looks or what it reads: the full path knows them.
_ENV_DOUBTS = (b"GIT_DIR", b"GIT_WORK_TREE", b"GIT_COMMON_DIR", b"GIT_INDEX_FILE",
               b"GIT_CEILING_DIRECTORIES", b"GIT_CONFIG_COUNT")


def main() -> None:
    """`shim/git` in a session: exec git if this is an in-step read, else
    return (the launcher then runs gitlane.run.dispatch)."""
    real, argv = sys.argv[1], sys.argv[2:]
    plan = _plan_or_none(argv)
    if plan is not None:
        _exec(real, argv, plan)


def cli() -> None:
    """`shim/gitlane`: `prompt` runs on every shell prompt, so it is answered
    here when it can be; otherwise return (the launcher runs gitlane.cli.main)."""
    args = sys.argv[1:]
    if args[:1] == ["prompt"] and "-h" not in args and "--help" not in args:
        line = prompt_line(args[1:])
        if line is not None:
            sys.stdout.write(line)
            sys.stdout.flush()
            posix._exit(0)


def _plan_or_none(argv: list[str]) -> tuple[dict[bytes, bytes], int] | None:
    try:
        return read_plan(argv, posix.environ, posix.getcwd())
    except Exception:  # whatever it was, the full path reports it properly
        return None


def _shows_ignored(argv: list[str]) -> bool:
    for word in argv:
        if word == "--":
            return False
        if word.startswith("--ignored"):
            return word != "--ignored=no"
    return False


def read_plan(argv: list[str], env: dict[bytes, bytes], cwd: str) -> tuple[dict[bytes, bytes], int] | None:
    """(git's environment, the session lock's fd held shared) when this is a
    read in a session that is in step; None when the full path must decide."""
    name = session_name(env)
    if name is None or not argv or argv[0] not in layout.READ_COMMANDS or any(k in env for k in _ENV_DOUBTS):
        return None
    git_dir = find_git_dir(cwd)
    if git_dir is None:
        return None
    state = layout.state_dir(git_dir)
    sdir = layout.session_dir(git_dir, "", name)
    if not layout.is_dir(sdir) or layout.symlink_in(git_dir, sdir):
        return None
    if argv[0] == "status" and layout.is_file(sdir + "/" + layout.EXCLUDE) and _shows_ignored(argv):
        return None  # peers' new files would show as `!!`: the full path says so (run.dispatch)
    fd = _lock_shared(sdir + "/" + layout.LOCK)
    if fd < 0:
        return None
    try:
        head_dir = layout.head_dir(git_dir, sdir)  # one lstat: the session's own HEAD, if any
        if in_step(git_dir, state, sdir, head_dir):
            return _git_env(env, argv[0], sdir, git_dir, head_dir), fd
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
    pid = env.get(b"GITLANE_SESSION_PID")
    if pid and layout.pid_problem(pid.decode("utf-8", "surrogateescape")):
        return None  # the full path says what is wrong with it
    return None if layout.name_problem(name) else name


def find_git_dir(cwd: str) -> str | None:
    """The `.git` folder of a plain, non-bare repository above cwd; None for
    everything else (gitfiles, worktrees, bare repos, inside .git, ceilings):
    git.repo.discover() handles those."""
    d = cwd.rstrip("/") or "/"
    while True:
        dotgit = (d if d != "/" else "") + "/.git"
        kind = layout.mode(dotgit)
        if kind == 0o040000:
            return dotgit if _plain_git_dir(dotgit) else None
        if kind is not None or _is_git_dir(d):
            return None
        if d == "/":
            return None
        d = d[:d.rindex("/")] or "/"


def _plain_git_dir(git_dir: str) -> bool:
    if not _is_git_dir(git_dir) or layout.mode(git_dir + "/commondir") is not None:
        return False
    core = layout.config_values(layout.read_text(git_dir + "/config") or "", "core")
    return not layout.git_bool(core.get("bare"))


def _is_git_dir(path: str) -> bool:
    """git.repo.is_git_dir: HEAD, and objects/ or a commondir file."""
    return layout.is_file(path + "/HEAD") and (layout.is_dir(path + "/objects") or layout.is_file(path + "/commondir"))


def in_step(git_dir: str, state: str, sdir: str, head_dir: str | None = None) -> bool:
    """The session index exists, is based on HEAD, passed its checksum check,
    and its view isolation is current: the full path would change nothing."""
    try:
        st = posix.stat(sdir + "/" + layout.INDEX)
    except OSError:
        return False
    if st.st_size < 32 or (layout.read_text(sdir + "/" + layout.VERIFIED) or "").strip() != layout.verified_key(st):
        return False
    if layout.mode(sdir + "/" + layout.SWITCH) is not None:
        return False  # a switch of this session was interrupted: the full path finishes it
    base = layout.read_base(sdir)
    head = layout.head_commit(head_dir or git_dir, git_dir)
    return base is not None and base == head and layout.isolation_in_step(state, sdir)


def _lock_shared(path: str) -> int:
    """The session lock, shared, without waiting (shared/locks.py explains
    the two locks on one fd). Waiting, and creating folders, is the full
    path's job."""
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


def _git_env(env: dict[bytes, bytes], command: str, sdir: str, git_dir: str,
             head_dir: str = "") -> dict[bytes, bytes]:
    """What session.Session.git_env() gives a read: the session index, our
    excludes file, the session's own HEAD (GIT_DIR, GIT_WORK_TREE) when it
    has one, and no optional locks except for `status`, which may refresh
    the stat cache."""
    out = dict(env)
    out[b"GIT_INDEX_FILE"] = (sdir + "/" + layout.INDEX).encode("utf-8", "surrogateescape")
    if head_dir and head_dir != git_dir:
        out[b"GIT_DIR"] = head_dir.encode("utf-8", "surrogateescape")
        out[b"GIT_WORK_TREE"] = (git_dir[:-5] or "/").encode("utf-8", "surrogateescape")
    exclude = sdir + "/" + layout.EXCLUDE
    pairs = layout.session_config(exclude if layout.mode(exclude) is not None else None,
                                  layout.split_index_in_use(git_dir, sdir), command)
    for n, (key, value) in enumerate(pairs):  # GIT_CONFIG_COUNT was not set (_ENV_DOUBTS)
        out[b"GIT_CONFIG_KEY_%d" % n] = key.encode()
        out[b"GIT_CONFIG_VALUE_%d" % n] = value.encode("utf-8", "surrogateescape")
        out[b"GIT_CONFIG_COUNT"] = b"%d" % (n + 1)
    if command != "status":
        out[b"GIT_OPTIONAL_LOCKS"] = b"0"
    return out


def _exec(real: str, argv: list[str], plan: tuple[dict[bytes, bytes], int]) -> None:
    env, fd = plan
    posix.set_inheritable(fd, True)  # git holds the lock for as long as it runs
    restore_signals()
    posix.execve(real, [real, *argv], env)


def restore_signals() -> None:
    """layout.CHILD_DEFAULT_SIGNALS get their default disposition back."""
    import _signal
    for name in layout.CHILD_DEFAULT_SIGNALS:
        _signal.signal(getattr(_signal, name), _signal.SIG_DFL)


PROMPT_FORMAT = "[{session}{marker}]"


def branch_shown(head_dir: str) -> str:
    """The session's branch for `{branch}`: its short name, or the first 7
    digits of a detached HEAD."""
    text = (layout.read_text(head_dir + "/HEAD") or "").strip()
    if text.startswith("ref: refs/heads/"):
        return text[16:]
    return text[:7] if layout.is_object_id(text) else ""


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
    sdir = layout.session_dir(git_dir, "", name)
    count = (layout.read_text(sdir + "/" + layout.STAGED_COUNT) or "0").strip()
    branch = branch_shown(layout.head_dir(git_dir, sdir)) if "{branch" in fmt else ""
    try:
        return fmt.format(session=name, marker="*" if count not in ("", "0") else "", branch=branch) + "\n"
    except (KeyError, IndexError, ValueError):
        return None
