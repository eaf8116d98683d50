"""Classify a git command: what it reads, what it writes, which lock it needs.

Pure functions of (command, args): table-tested. The `exists` callback lets
`reset X` tell a path from a commit the way git does, without a git spawn.
"""
from __future__ import annotations

# typing costs ~10 ms to import under -I -S: annotations only, never at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Sequence

from gitlane.fastpath import READ_COMMANDS

READ = "read"      # reads only: no lock, optional locks off
STAGE = "stage"    # changes this session's index: session lock, ownership
REFS = "refs"      # moves refs or shared state: global lock, rebase first
OTHER = "other"    # everything else: pass through with the session index

# git --list-cmds=builtins (2.39) plus the porcelain scripts; never aliased.
BUILTINS = frozenset("""
add am annotate apply archive bisect bisect--helper blame branch bugreport bundle cat-file
check-attr check-ignore check-mailmap check-ref-format checkout checkout--worker
checkout-index cherry cherry-pick clean clone column commit commit-graph commit-tree
config count-objects credential credential-cache credential-cache--daemon
credential-store describe diagnose diff diff-files diff-index diff-tree difftool
env--helper fast-export fast-import fetch fetch-pack fmt-merge-msg for-each-ref
for-each-repo format-patch fsck fsck-objects fsmonitor--daemon gc get-tar-commit-id grep
hash-object help hook index-pack init init-db interpret-trailers log ls-files ls-remote
ls-tree mailinfo mailsplit maintenance merge merge-base merge-file merge-index merge-ours
merge-recursive merge-recursive-ours merge-recursive-theirs merge-subtree merge-tree mktag
mktree multi-pack-index mv name-rev notes pack-objects pack-redundant pack-refs patch-id
pickaxe prune prune-packed pull push range-diff read-tree rebase receive-pack reflog
remote remote-ext remote-fd repack replace rerere reset restore rev-list rev-parse revert
rm send-pack shortlog show show-branch show-index show-ref sparse-checkout stage stash
status stripspace submodule submodule--helper switch symbolic-ref tag unpack-file
unpack-objects update-index update-ref update-server-info upload-archive
upload-archive--writer upload-pack var verify-commit verify-pack verify-tag version
whatchanged worktree write-tree difftool gitk citool gui mergetool request-pull
filter-branch instaweb p4 send-email svn web--browse lane
""".split())

_READ = READ_COMMANDS  # shared with the fast path, which must agree
_ALWAYS_REFS = frozenset("""
commit merge cherry-pick revert am rebase pull switch stash bisect notes
""".split())
_STAGE = frozenset("add stage rm mv update-index".split())


def classify(command: str, args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if command in _READ:
        return READ
    if command in _ALWAYS_REFS:
        return REFS
    if command in _STAGE:
        return STAGE
    handler = _SPECIAL.get(command)
    return handler(args, exists) if handler else OTHER


def positionals(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(words before `--` that are not options, words after `--`)."""
    before: list[str] = []
    for i, word in enumerate(args):
        if word == "--":
            return before, list(args[i + 1:])
        if not word.startswith("-") or word == "-":
            before.append(word)
    return before, []


def _is_opt(word: str, full: str, shortest: int) -> bool:
    """parse-options accepts any unambiguous prefix of a long option; `shortest`
    is the shortest prefix that is unambiguous for that command."""
    name = word.split("=", 1)[0]
    return len(name) >= shortest and full.startswith(name)


def _apply(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    cached = any(_is_opt(a, "--cached", 4) or _is_opt(a, "--index", 5) for a in args if a.startswith("--"))
    return STAGE if cached else OTHER


def _restore(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    for word in args:
        if word == "--":
            break
        if _is_opt(word, "--staged", 4) or (word.startswith("-") and not word.startswith("--") and "S" in word):
            return STAGE
    return OTHER


_MODES = frozenset(("--soft", "--mixed", "--hard", "--merge", "--keep"))


def _reset(args: Sequence[str], exists: Callable[[str], bool]) -> str:
    if _MODES & set(args):
        return REFS
    if any(a in ("-p", "--patch") or a.startswith("--pathspec-from-file") for a in args):
        return STAGE
    before, after = positionals(args)
    if after or len(before) >= 2:
        return STAGE
    if len(before) == 1 and exists(before[0]):
        return STAGE
    return REFS


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


_SPECIAL: dict[str, Callable[[Sequence[str], Callable[[str], bool]], str]] = {
    "apply": _apply,
    "restore": _restore,
    "reset": _reset,
    "checkout": _checkout,
    "branch": _branch,
    "tag": _tag,
}


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
            name, eq, value = word.partition("=")
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
