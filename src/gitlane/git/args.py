"""Split git's global options from the command, exactly as git.c handle_options().

hub's parser only knew that -c and -C take a value (hub #69, #2095); git knows
more. Option names and forms below follow git 2.39's git.c.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

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

# Take their value as the next word, or after "=" (except -C and -c, which
# only take the next word).
_VALUED = ("--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix")
_SEPARATE_ONLY = ("-C", "-c", "--shallow-file")
_FLAGS = frozenset((
    "-p", "--paginate", "-P", "--no-pager", "--no-replace-objects", "--bare",
    "--literal-pathspecs", "--no-literal-pathspecs", "--glob-pathspecs",
    "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks",
))
# Print something and exit without touching a repository.
_QUERIES = frozenset(("--html-path", "--man-path", "--info-path", "--exec-path"))
# git.c rewrites these into the `help` and `version` commands.
_LEGACY = {"--help": "help", "-h": "help", "--version": "version", "-v": "version"}
# isspace() in git's sane_ctype table: \v and \f are not blanks.
_BLANKS = " \t\n\r"


class Split:
    """What git would make of argv: global options, then the command and its args."""

    __slots__ = ("options", "cdirs", "git_dir", "work_tree", "bare", "command",
                 "args", "query")

    def __init__(self) -> None:
        self.options: list[str] = []   # the global options, verbatim
        self.cdirs: list[str] = []     # every -C, in order (they accumulate)
        self.git_dir: str | None = None
        self.work_tree: str | None = None
        self.bare = False
        self.command: str | None = None
        self.args: list[str] = []
        self.query = False             # git answers without a repository


def split(argv: Sequence[str]) -> Split:
    inv = Split()
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-") or word in _LEGACY:
            break
        i = _one_option(inv, argv, i)
        if inv.query:
            return inv
    if i < len(argv):
        inv.command = _LEGACY.get(argv[i], argv[i])
        inv.args = list(argv[i + 1:])
    if inv.args[:1] == ["--help"]:
        # git.c handle_builtin(): `git CMD --help ARGS` runs `git help
        # --exclude-guides CMD ARGS`, a read. Left as CMD, `git commit --help`
        # would hold the global lock for as long as the manual is open.
        inv.args = ["--exclude-guides", inv.command or "", *inv.args[1:]]
        inv.command = "help"
    return inv


def _one_option(inv: Split, argv: Sequence[str], i: int) -> int:
    """Consume the option at argv[i]; return the index of the next word."""
    word = argv[i]
    if word in _FLAGS:
        inv.bare = inv.bare or word == "--bare"
        inv.options.append(word)
        return i + 1
    if word in _QUERIES or word.startswith("--list-cmds="):
        inv.query = True
        return i + 1
    if word.startswith("--exec-path="):
        inv.options.append(word)
        return i + 1
    name, eq, value = word.partition("=")
    if name in _VALUED and eq:
        _set_valued(inv, name, value)
        inv.options.append(word)
        return i + 1
    if word in _VALUED or word in _SEPARATE_ONLY:
        if i + 1 >= len(argv):
            inv.query = True  # git dies with "no directory given"; let it say so
            return i + 1
        _set_valued(inv, word, argv[i + 1])
        inv.options += [word, argv[i + 1]]
        return i + 2
    inv.query = True  # an unknown option: git prints usage and exits
    return i + 1


def _set_valued(inv: Split, name: str, value: str) -> None:
    if name == "-C":
        if value:  # git ignores `-C ""`
            inv.cdirs.append(value)
    elif name == "--git-dir":
        inv.git_dir = value
    elif name == "--work-tree":
        inv.work_tree = value


def split_cmdline(text: str) -> list[str]:
    """git's split_cmdline() (alias.c), used to expand aliases: words split at
    git's whitespace, '…' and "…" quoting, backslash escapes outside single
    quotes. Like git, a leading or trailing blank makes an empty word, and an
    unclosed quote or a final backslash is an error (ValueError)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and ch in _BLANKS:
            words.append("".join(cur))
            cur = []
            while i + 1 < len(text) and text[i + 1] in _BLANKS:
                i += 1
        elif not quote and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = ""
        else:
            if ch == "\\" and quote != "'":
                i += 1
                if i == len(text):
                    raise ValueError("cmdline ends with \\")
                ch = text[i]
            cur.append(ch)
        i += 1
    if quote:
        raise ValueError("unclosed quote")
    words.append("".join(cur))
    return words
