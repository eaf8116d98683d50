"""What a git command will do, read from its arguments: the only option
parsers in gitlane.

`classify()` says which lock a command needs; the parsers below say which
paths and modes it names (restore's targets, reset's mode, commit's flags,
stash's subcommand, pathspec words). Pure functions of (command, args),
table-tested in tests/unit/test_classify.py. parse-options accepts any
unambiguous prefix of a long option (`--work` is `--worktree`), so each
command's long options are listed in full: a prefix is resolved against all
of them, exactly as git resolves it.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Sequence

from gitlane import layout

READ = "read"      # reads only: no lock, optional locks off
STAGE = "stage"    # changes this session's index: session lock, ownership
REFS = "refs"      # moves refs or shared state: global lock, rebase first
OTHER = "other"    # everything else: pass through with the session index

_ALWAYS_REFS = frozenset("""
commit merge cherry-pick revert am rebase pull switch stash bisect notes
""".split())
_STAGE = frozenset("add stage rm mv update-index".split())

# Long options of the commands whose arguments we read (git 2.39). Negated
# forms (--no-X) are accepted by git for most of them; long_option() knows.
LONG = {
    "restore": ("--source", "--staged", "--worktree", "--ignore-unmerged", "--overlay", "--quiet",
                "--recurse-submodules", "--progress", "--merge", "--conflict", "--ours", "--theirs",
                "--patch", "--ignore-skip-worktree-bits", "--pathspec-from-file", "--pathspec-file-nul"),
    "reset": ("--quiet", "--refresh", "--mixed", "--soft", "--hard", "--merge", "--keep",
              "--recurse-submodules", "--patch", "--intent-to-add", "--pathspec-from-file",
              "--pathspec-file-nul"),
    "commit": ("--quiet", "--verbose", "--file", "--author", "--date", "--message", "--reedit-message",
               "--reuse-message", "--fixup", "--squash", "--reset-author", "--trailer", "--signoff",
               "--template", "--edit", "--cleanup", "--status", "--gpg-sign", "--all", "--include",
               "--interactive", "--patch", "--only", "--no-verify", "--dry-run", "--short", "--branch",
               "--ahead-behind", "--porcelain", "--long", "--null", "--amend", "--no-post-rewrite",
               "--untracked-files", "--pathspec-from-file", "--pathspec-file-nul", "--allow-empty",
               "--allow-empty-message"),
    "apply": ("--exclude", "--include", "--no-add", "--stat", "--numstat", "--summary", "--check",
              "--index", "--intent-to-add", "--cached", "--apply", "--3way", "--build-fake-ancestor",
              "--binary", "--reject", "--reverse", "--unidiff-zero", "--unsafe-paths", "--allow-overlap",
              "--inaccurate-eof", "--recount", "--directory", "--allow-empty", "--quiet", "--verbose",
              "--whitespace", "--ignore-space-change", "--ignore-whitespace"),
}
_VALUED = {
    "restore": frozenset(("--source", "--conflict", "--pathspec-from-file")),
    "reset": frozenset(("--pathspec-from-file",)),
    "checkout": frozenset(("--conflict", "--pathspec-from-file", "--orphan")),
    "stash": frozenset(("--message", "--pathspec-from-file")),
}
_SHORT_VALUED = {"restore": "s", "checkout": "bB", "stash": "m", "clean": "e"}


def classify(command: str, args: Sequence[str], exists: Callable[[str], bool]) -> str:
    """The `exists` callback lets `reset X` tell a path from a commit the way
    git does, without a git spawn."""
    if command in layout.READ_COMMANDS:
        return READ
    if command in _ALWAYS_REFS:
        return REFS
    if command in _STAGE:
        return STAGE
    handler = _SPECIAL.get(command)
    return handler(args, exists) if handler else OTHER


def long_option(word: str, options: Sequence[str]) -> str | None:
    """The long option `word` means (`--work` -> `--worktree`, `--no-over`
    -> `--no-overlay`), or None when it names none of `options` or is
    ambiguous, as parse-options decides."""
    if not word.startswith("--") or word == "--":
        return None
    name = word.split("=", 1)[0]
    if name in options:
        return name
    negated = name.startswith("--no-")
    # `--no-ver` may be the negation of --verbose or the option --no-verify itself
    pool = [f"--no-{o[2:]}" for o in options] + [o for o in options if o.startswith("--no-")] \
        if negated else list(options)
    if negated and name in pool:
        return name
    hits = [o for o in pool if o.startswith(name)]
    return hits[0] if len(hits) == 1 else None


def positionals(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(words before `--` that are not options, words after `--`)."""
    before: list[str] = []
    for i, word in enumerate(args):
        if word == "--":
            return before, list(args[i + 1:])
        if not word.startswith("-") or word == "-":
            before.append(word)
    return before, []


def words(command: str, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(non-option words before `--`, words after `--`), skipping the values
    of the command's valued options (`restore -s REV`, `stash -m MSG`)."""
    valued = _VALUED.get(command, frozenset())
    short = _SHORT_VALUED.get(command, "")
    before: list[str] = []
    skip = False
    for i, word in enumerate(args):
        if skip:
            skip = False
        elif word == "--":
            return before, list(args[i + 1:])
        elif word.startswith("--"):
            full = long_option(word, tuple(valued)) if valued else None
            skip = full is not None and "=" not in word
        elif word.startswith("-") and word != "-":
            letters = word[1:]
            for j, ch in enumerate(letters):
                if ch in short:
                    skip = j == len(letters) - 1  # `-sREV` carries its value
                    break
        else:
            before.append(word)
    return before, []


# --- restore, reset, apply ---------------------------------------------------

def restore_targets(args: Sequence[str]) -> tuple[bool, bool]:
    """(staged, worktree): what `git restore ARGS` writes. The work tree,
    unless only --staged is given."""
    staged = worktree = False
    for word in args:
        if word == "--":
            break
        if word.startswith("--"):
            full = long_option(word, LONG["restore"])
            staged |= full == "--staged"
            worktree |= full == "--worktree"
        elif word.startswith("-") and word != "-":
            letters = word[1:]
            for ch in letters:
                if ch == "s":
                    break  # -sREV: the rest is the value
                staged |= ch == "S"
                worktree |= ch == "W"
    return staged, worktree or not staged


def restores_worktree(args: Sequence[str]) -> bool:
    return restore_targets(args)[1]


RESET_MODES = ("--soft", "--mixed", "--hard", "--merge", "--keep")


def reset_mode(args: Sequence[str]) -> str | None:
    """The last mode option of `git reset` (git takes the last), or None."""
    mode = None
    for word in args:
        if word == "--":
            break
        full = long_option(word, LONG["reset"])
        if full in RESET_MODES:
            mode = full
    return mode


def apply_target(args: Sequence[str]) -> str:
    """"index" (--cached: the index only), "both" (--index), or "worktree"."""
    target = "worktree"
    for word in args:
        full = long_option(word, LONG["apply"])
        if full == "--cached":
            target = "index"
        elif full == "--index" and target != "index":
            target = "both"
    return target


def index_only(command: str, args: Sequence[str]) -> bool:
    """Staging commands that write only the index, never the work tree: they
    can run on a copy of the index, kept only if every path is ours."""
    if command == "apply":
        return apply_target(args) == "index"
    if command == "restore":
        return not restores_worktree(args)
    return command in ("add", "stage", "update-index", "reset")


def _apply(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    return STAGE if apply_target(args) != "worktree" else OTHER


def _restore(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    return STAGE if restore_targets(args)[0] else OTHER


def _reset(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if reset_mode(args):
        return REFS
    if any(long_option(a, LONG["reset"]) in ("--patch", "--pathspec-from-file") or a == "-p" for a in args):
        return STAGE
    before, after = positionals(args)
    if after or len(before) >= 2:
        return STAGE
    if len(before) == 1 and exists(before[0]):
        return STAGE
    return REFS


# --- checkout, switch, branch, tag -------------------------------------------

_NEW_BRANCH = frozenset(("-b", "-B", "--orphan", "--detach", "-t", "--track"))


def _checkout(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if _NEW_BRANCH & {a.split("=", 1)[0] for a in args} and "--" not in args:
        return REFS  # `checkout -b NEW [START]`: the words are names, not paths
    before, after = positionals(args)
    if "--" in args or any(a in ("-p", "--patch") or a.startswith("--pathspec-from-file") for a in args):
        return STAGE if before or any(a in ("-p", "--patch") for a in args) else OTHER
    if len(before) >= 2 or (len(before) == 1 and exists(before[0]) and not {"-b", "-B", "--orphan", "--detach"} & set(args)):
        return STAGE
    return REFS


# git lists (branch, tag) when there are no names, or with one of these.
_LIST_MODES = frozenset(("-l", "--list", "--contains", "--no-contains", "--merged", "--no-merged",
                         "--points-at"))


def _branch(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if any(a.split("=", 1)[0] in _LIST_MODES or a == "--show-current" for a in args):
        return READ
    return REFS if positionals(args)[0] else READ


def _tag(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if any(a.split("=", 1)[0] in _LIST_MODES or a.startswith("-n") or a in ("-v", "--verify") for a in args):
        return READ
    return REFS if positionals(args)[0] else READ


def _update_ref(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    """update-ref of HEAD or a branch may move the checked-out branch: under
    the global lock, through the history guard (guard.history)."""
    if "--stdin" in args:
        return OTHER
    names = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-m")]
    return REFS if names and (names[0] == "HEAD" or names[0].startswith("refs/heads/")) else OTHER


_SPECIAL: dict[str, Callable[[Sequence[str], Callable[[str], bool]], str]] = {
    "update-ref": _update_ref,
    "apply": _apply,
    "restore": _restore,
    "reset": _reset,
    "checkout": _checkout,
    "branch": _branch,
    "tag": _tag,
}


# --- commit -------------------------------------------------------------------

# commit's options that take a value, as git's parse-options knows them.
_COMMIT_SHORT_VALUED = frozenset("mFCct")
_COMMIT_LONG_VALUED = frozenset((
    "--message", "--file", "--reuse-message", "--reedit-message", "--fixup", "--squash",
    "--author", "--date", "--template", "--cleanup", "--trailer", "--pathspec-from-file",
))


class CommitArgs:
    __slots__ = ("flags", "paths", "pathspec_file")

    def __init__(self) -> None:
        self.flags: set[str] = set()   # normalised: 'all', 'amend', 'include', 'only', 'patch', 'dry-run'
        self.paths: list[str] = []
        self.pathspec_file: str | None = None


_COMMIT_FLAGS = {"-a": "all", "--all": "all", "--amend": "amend", "-i": "include",
                 "--include": "include", "-o": "only", "--only": "only", "-p": "patch",
                 "--patch": "patch", "--dry-run": "dry-run", "--interactive": "patch"}


def commit_args(args: Sequence[str]) -> CommitArgs:
    out = CommitArgs()
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            out.paths += args[i:]
            break
        if word.startswith("--"):
            raw, eq, value = word.partition("=")
            name = long_option(word, LONG["commit"]) or raw  # `--amen` is --amend to git
            if name in _COMMIT_LONG_VALUED and not eq:
                value, i = (args[i] if i < len(args) else ""), i + 1
            if name == "--pathspec-from-file":
                out.pathspec_file = value
            if name in _COMMIT_FLAGS:
                out.flags.add(_COMMIT_FLAGS[name])
        elif word.startswith("-") and len(word) > 1:
            for j, ch in enumerate(word[1:], 1):
                if f"-{ch}" in _COMMIT_FLAGS:
                    out.flags.add(_COMMIT_FLAGS[f"-{ch}"])
                if ch in _COMMIT_SHORT_VALUED:
                    if j == len(word) - 1:
                        i += 1
                    break
                if ch in "Su":  # -S[keyid] and -u[mode] take only an attached value
                    break
        else:
            out.paths.append(word)
    return out


def is_amend(command: str, args: Sequence[str]) -> bool:
    return command == "commit" and "amend" in commit_args(args).flags


# --- stash ----------------------------------------------------------------------

STASH_READ = frozenset(("list", "show", "apply", "pop", "drop", "branch", "create", "store"))


def stash_sub(args: Sequence[str]) -> str:
    """The stash subcommand (`push` when none is named, as git does)."""
    before, _ = words("stash", args)
    return before[0] if before and before[0] in STASH_READ | {"push", "save", "clear"} else "push"


def stash_paths(args: Sequence[str]) -> list[str]:
    """The pathspec of `stash [push] [--] PATH...`; empty for whole-tree stashes."""
    if stash_sub(args) != "push":
        return []
    before, after = words("stash", args)
    return after or [w for w in before if w != "push"]


# --- pathspecs ----------------------------------------------------------------------

def pathspec_words(command: str, args: Sequence[str]) -> list[str]:
    """The pathspec words of a path-taking command (restore, checkout, stash, ...)."""
    if command == "stash":
        return stash_paths(args)
    before, after = words(command, args)
    return before + after


def literal_path(word: str) -> tuple[bool, str] | None:
    """(relative to the top?, path) when a pathspec word names one path
    literally: plain words, `:/path`, and `:(top)`/`:(literal)` magic.
    Globs and excludes name sets: None."""
    if not word.startswith(":"):
        return False, word
    if word.startswith(":/"):
        return True, word[2:] or "."
    if word.startswith(":(") and ")" in word:
        magic, rest = word[2:].split(")", 1)
        names = {m.strip() for m in magic.split(",")}
        if not names <= {"top", "literal"} or not rest:
            return None
        return "top" in names, rest
    return None


def clean_dry_run_args(args: Sequence[str]) -> list[str]:
    """The same clean, as a dry run: drop -f/-i/-q, keep -d/-x/-X/-e and paths."""
    out: list[str] = []
    after = False
    for word in args:
        if after or word == "--":
            after = True
            out.append(word)
        elif word in ("--force", "--interactive", "--quiet", "--dry-run"):
            continue
        elif word.startswith("-") and not word.startswith("--"):
            rest = "".join(c for c in word[1:] if c not in "fiqn")
            if rest:
                out.append("-" + rest)
        else:
            out.append(word)
    return out
