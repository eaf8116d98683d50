"""Branch switches in a session: `checkout -b`, `switch -c`, `checkout X`,
`switch X`, `--detach` move only this session's HEAD (docs/DESIGN.md,
"Session branches").

Alone on the shared HEAD, a session is plain git: the real `git checkout`
runs and moves the work tree's HEAD (run.commit). Once a peer is live, or
once the session has a HEAD of its own, the switch is done here:

1. decide (pure): refuse when another live session has the target branch,
   when the switch would change a file a peer owns, or a file whose content
   on disk is neither this session's old nor its new version;
2. journal: the session index as it was and the plan, before anything moves;
3. apply (idempotent, also the recovery): create the branch, move the index
   onto the new commit (carrying staged changes), write the files that
   differ, point the private HEAD, record which files are now the
   session's branch files. A crash anywhere is finished by the next command.
"""
from __future__ import annotations

import json
import os
import sys
TYPE_CHECKING = False

from gitlane import files, layout
from gitlane.errors import Fatal
from gitlane.run import classify
from gitlane.session import head as own_head
from gitlane.session import index as session_index
from gitlane.session import isolation, refresh
from gitlane.shared import claims, db, locks

if TYPE_CHECKING:
    import sqlite3
    from typing import Sequence

    from gitlane.git.repo import Repo
    from gitlane.git.verbs import Git
    from gitlane.run.invocation import Invocation
    from gitlane.session import Session

SWITCH_INDEX = "index.switch"  # the new index being built (a layout-style name of this module)


class Target:
    """What the user asked for, read from the arguments."""
    __slots__ = ("create", "force", "start", "detach", "name", "quiet")

    def __init__(self, create: str | None = None, force: bool = False, start: str | None = None,
                 detach: bool = False, name: str | None = None, quiet: bool = False) -> None:
        self.create, self.force, self.start, self.detach, self.name, self.quiet = (
            create, force, start, detach, name, quiet)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return "Target(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


_CREATE = {"checkout": {"-b": False, "-B": True}, "switch": {"-c": False, "-C": True, "--create": False,
                                                             "--force-create": True}}
_IGNORED = frozenset(("--guess", "--no-guess", "--progress", "--no-progress", "--ignore-other-worktrees"))


def parse(command: str, args: Sequence[str]) -> Target | None:
    """The switch a `checkout`/`switch` asks for, or None for forms this
    module does not do (-f, -m, --orphan, --track, paths): the guard then
    decides as before."""
    t = Target()
    words: list[str] = []
    creates = _CREATE[command]
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        name, eq, value = word.partition("=")
        if word in ("-q", "--quiet"):
            t.quiet = True
        elif word in ("--detach",) or (command == "switch" and word == "-d"):
            t.detach = True
        elif word in _IGNORED:
            continue
        elif name in creates and (eq or word in creates):
            if not eq:
                if i >= len(args):
                    return None
                value, i = args[i], i + 1
            t.create, t.force = value, creates[name]
        elif len(word) > 2 and word[:2] in creates and word[1] != "-":
            t.create, t.force = word[2:], creates[word[:2]]
        elif word.startswith("-") and word != "-":
            return None
        else:
            words.append(word)
    if len(words) > 1 + (t.create is not None or t.detach) - (t.create is not None and t.detach):
        return None
    if t.create is not None and t.detach:
        return None
    if t.create is not None or t.detach:
        t.start = words[0] if words else None
    elif words:
        t.name = words[0]
    else:
        return None
    return t


# --- the decision ----------------------------------------------------------------

class Refusal:
    __slots__ = ("what", "hint", "code", "git_style")

    def __init__(self, what: str, hint: str = "", code: int = 1, git_style: bool = False) -> None:
        self.what, self.hint, self.code, self.git_style = what, hint, code, git_style

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Refusal) and (self.what, self.code) == (other.what, other.code)

    def __repr__(self) -> str:
        return f"Refusal({self.what!r})"


def decide(command: str, branch: str | None, shared_branch: str | None, holders: dict[str, str],
           owned: Sequence[tuple[bytes, claims.Owner]], foreign: Sequence[bytes],
           dirty: Sequence[bytes], untracked: Sequence[bytes]) -> Refusal | None:
    """None: the switch may go ahead. `branch` is the target branch (None:
    detached); `holders` maps branches to the live peer sessions on them;
    `owned` are the changed paths peers own; `foreign` the changed paths on
    disk in a version a peer committed on another branch; `dirty` and
    `untracked` this session's (or nobody's) changes the switch would lose."""
    if branch is not None and branch != shared_branch and branch in holders:
        return Refusal(f"refusing `git {command}`: branch '{branch}' is checked out by session "
                       f"{holders[branch]}, and a branch can have one session at a time",
                       f"work on a branch of your own (`git {command} {'-c' if command == 'switch' else '-b'} "
                       f"NEW {branch}`), or wait until session {holders[branch]} switches away or ends")
    if owned:
        lines = "\n".join(f"{os.fsdecode(p)}  {o.describe()}" for p, o in owned[:20])
        return Refusal(f"refusing `git {command}`: it would change files other live sessions own:\n{lines}",
                       "nothing was changed; commit or stash your own work and ask their owners "
                       "(`gitlane who PATH`),\nor switch to a branch that leaves those files alone")
    if foreign:
        lines = "\n".join(f"{os.fsdecode(p)}  on disk as committed by another session on another branch"
                          for p in foreign[:20])
        return Refusal(f"refusing `git {command}`: it would overwrite files that are not this session's:\n{lines}",
                       "nothing was changed; switch to a branch based on the current one "
                       f"(`git {command} {'-c' if command == 'switch' else '-b'} NEW`), or wait for the other "
                       "sessions to end")
    if dirty:
        return Refusal("error: Your local changes to the following files would be overwritten by checkout:\n"
                       + "".join(f"\t{os.fsdecode(p)}\n" for p in dirty)
                       + "Please commit your changes or stash them before you switch branches.\nAborting",
                       code=1, git_style=True)
    if untracked:
        return Refusal("error: The following untracked working tree files would be overwritten by checkout:\n"
                       + "".join(f"\t{os.fsdecode(p)}\n" for p in untracked)
                       + "Please move or remove them before you switch branches.\nAborting",
                       code=1, git_style=True)
    return None


# --- the pipeline --------------------------------------------------------------------

def handles(inv: Invocation) -> bool:
    return inv.command in ("checkout", "switch") and inv.kind == classify.REFS and parse(inv.command, inv.args) is not None


def maybe_run(s: Session, inv: Invocation) -> int | None:
    """Do this switch here (the session's own HEAD), or None: git does it
    (alone on the shared HEAD: plain git; linked worktrees: as before)."""
    if s.repo.worktree_id or not handles(inv):
        return None
    from gitlane.guard import facts
    from gitlane.run import stage
    with refresh.session_lock(s, inv.holder(s.name)):
        conn = stage.connect(s)
        try:
            if not s.repo.private and not facts.build_view(s, conn).others:
                return None
            stage.refresh_tolerant(s)
            isolation.sync(s, conn)
            return run(s, inv, conn)
        finally:
            conn.close()


def run(s: Session, inv: Invocation, conn: sqlite3.Connection) -> int:
    try:
        return _run(s, inv, conn)
    except _GitStyle as exc:
        sys.stderr.write(exc.what + "\n")
        return exc.code


def _run(s: Session, inv: Invocation, conn: sqlite3.Connection) -> int:
    target = parse(inv.command, inv.args)
    assert target is not None
    from gitlane.run import commit
    with locks.acquire(commit.global_lock_path(s), inv.holder(s.name), "the global lock",
                       lambda: locks.timeout(s.git)):
        # HEAD may have moved since the unlocked refresh: the index must be
        # on the HEAD we switch from, or the switch would record a peer's
        # newer commit as staged deletions (a stealth revert).
        commit._rebase_or_refuse(s, inv)
        isolation.sync(s, conn)
        journal = _plan(s, inv, target, conn)
        if journal is None:
            return 0
        _write_journal(s, journal)
        apply(s, journal, conn)
    db.audit(conn, "switch", s.name, argv=inv.line, exit=0, commit_id=journal["new"])
    if not target.quiet:
        sys.stderr.write(journal["say"] + "\n")
    return 0


def _fail(message: str, code: int = 128) -> Fatal:
    """git's own wording for git's own errors (no `gitlane:` prefix)."""
    return _GitStyle(message, code)


class _GitStyle(Fatal):
    pass


def _plan(s: Session, inv: Invocation, t: Target, conn: sqlite3.Connection) -> dict | None:  # type: ignore[type-arg]
    git = s.git
    old = s.index.head()
    if s.index.base() != old:
        raise Fatal("the session index is not on HEAD; nothing was switched", "run the command again")
    old_text = _head_text(s)
    upstream = None
    ref = None
    if t.create is not None:
        if not git.branch_name_ok(t.create):
            raise _fail(f"fatal: '{t.create}' is not a valid branch name")
        new = git.resolve_commit(t.start or "HEAD")
        if new is None:
            raise _fail(f"fatal: invalid reference: {t.start}")
        exists = git.resolve_commit(f"refs/heads/{t.create}") is not None
        if exists and not t.force:
            raise _fail(f"fatal: a branch named '{t.create}' already exists")
        branch: str | None = t.create
        ref = [f"refs/heads/{t.create}", new, t.force]
        say = f"Switched to {'and reset ' if exists else 'a new '}branch '{t.create}'"
    elif t.detach:
        new = git.resolve_commit(t.start or "HEAD")
        if new is None:
            raise _fail(f"fatal: invalid reference: {t.start}")
        branch = None
        say = f"HEAD is now at {git.one_line(new)}"
    else:
        name = t.name or ""
        previous = (files.read_text(s.path(layout.PREVIOUS)) or "").strip()
        if name == "-" and (previous.startswith("ref: refs/heads/") or layout.is_object_id(previous)):
            name = _short(previous)
        if name == "-":
            res = git.run("rev-parse", "--symbolic-full-name", "@{-1}", check=False)
            full = res.out.decode().strip()
            name = full[len("refs/heads/"):] if full.startswith("refs/heads/") else (
                git.resolve_commit("@{-1}") or "")
            if not name:
                raise _fail("fatal: invalid reference: @{-1}")
        new = git.resolve_commit(f"refs/heads/{name}") if not name.startswith("-") else None
        if new is not None:
            branch = name
            say = f"Switched to branch '{name}'"
        else:
            remotes = git.remote_branches_named(name) if git.branch_name_ok(name) else []
            if len(remotes) == 1:
                new = git.resolve_commit(remotes[0])
                assert new is not None
                branch, ref, upstream = name, [f"refs/heads/{name}", new, False], remotes[0]
                say = f"branch '{name}' set up to track '{remotes[0][len('refs/remotes/'):]}'.\n" \
                      f"Switched to a new branch '{name}'"
            elif inv.command == "checkout" and git.resolve_commit(name):
                new = git.resolve_commit(name)
                assert new is not None
                branch = None
                say = f"HEAD is now at {git.one_line(new)}"
            elif inv.command == "switch" and git.resolve_commit(name):
                raise _fail(f"fatal: a branch is expected, got commit '{name}'\n"
                            f"hint: If you want to detach HEAD at the commit, try again with the --detach option.")
            else:
                raise _fail(f"fatal: invalid reference: {name}" if inv.command == "switch" else
                            f"error: pathspec '{name}' did not match any file(s) known to git", 
                            128 if inv.command == "switch" else 1)
    new_text = f"ref: refs/heads/{branch}" if branch is not None else new
    if new_text == old_text and ref is None:
        if not t.quiet:
            sys.stderr.write(f"Already on '{branch}'\n" if branch else f"HEAD is now at {git.one_line(new)}\n")
        return None
    refusal = _check(s, inv.command, branch, old, new, conn)
    if refusal is not None:
        if refusal.git_style:
            raise _fail(refusal.what, refusal.code)
        raise Fatal(refusal.what, refusal.hint, refusal.code)
    moved = list(git.diff_tree_entries(old, new)) if new != old else []
    return {"old": old, "new": new, "head": new_text, "ref": ref, "upstream": upstream,
            "message": f"checkout: moving from {_short(old_text)} to {branch or new}",
            "paths": [p.hex() for p in moved], "say": say, "previous": old_text}


def _head_text(s: Session) -> str:
    return (files.read_text(os.path.join(s.repo.git_dir, "HEAD")) or "").strip()


def _short(text: str) -> str:
    return text[len("ref: refs/heads/"):] if text.startswith("ref: refs/heads/") else text


def _check(s: Session, command: str, branch: str | None, old: str, new: str,
           conn: sqlite3.Connection) -> Refusal | None:
    holders = _holders(s, conn)
    shared = s.repo.shared_head_ref()
    shared_branch = shared[len("refs/heads/"):] if shared and shared.startswith("refs/heads/") else None
    early = decide(command, branch, shared_branch, holders, [], [], [], [])
    if early is not None or new == old:
        return early
    git = s.git
    entries = git.diff_tree_entries(old, new)
    moved = list(entries)
    owned = claims.find(conn, s.repo.worktree_id, s.name, moved, claims.alive_checker(conn))
    if not owned:
        owned = _committed_by_peers(s, conn, old, new, moved)
    if owned:
        return decide(command, branch, shared_branch, holders, owned, [], [], [])
    hidden = set(isolation.isolated_paths(s)) | own_head.foreign_paths(s, conn)
    wrong_old = _differs(s, s.index.path, moved, {})        # disk is not this session's version
    wrong_new = set(_differs(s, s.index.path, wrong_old, entries))  # ... nor the new one
    staged = set(git.changed_paths(s.index.path, old, limit=moved))
    staged_bad = [p for p in staged if p in wrong_new or _entry_line(git, s.index.path, p) != entries[p]]
    foreign = sorted(p for p in wrong_new if p in hidden)
    tracked = set(git.ls_files(s.index.path, moved))
    dirty = sorted({p for p in wrong_new if p not in hidden and p in tracked} | set(staged_bad))
    untracked = sorted(p for p in wrong_new if p not in hidden and p not in tracked)
    return decide(command, branch, shared_branch, holders, [], foreign, dirty, untracked)


def _committed_by_peers(s: Session, conn: sqlite3.Connection, old: str, new: str,
                        moved: Sequence[bytes]) -> list[tuple[bytes, claims.Owner]]:
    """Changed paths whose newest change on the side we leave was committed
    by another live session: their work, on disk for them."""
    last = s.git.last_changes(old, new, moved)
    if not last:
        return []
    by = db.committers(conn, set(last.values()))
    alive = claims.alive_checker(conn)
    from gitlane.shared import sessions
    pids = {r.name: r.pid for r in sessions.records(conn)}
    found = []
    for path in moved:
        commit = last.get(path)
        who = by.get(commit or "")
        if who and who != s.name and alive(who):
            found.append((path, claims.Owner(who, pids.get(who), claims.COMMITTED, reason=(commit or "")[:10])))
    return found


def _entry_line(git: Git, index: str, path: bytes) -> bytes:
    found = git.index_entries(index, [path]).get(path)
    return (found + b"\t" + path) if found else b"0 " + b"0" * 40 + b"\t" + path


def _differs(s: Session, index: str, paths: Sequence[bytes], entries: dict[bytes, bytes]) -> list[bytes]:
    """Among paths, those whose file on disk differs from the entry in
    (a copy of) index, after `entries` are put in and skip-worktree bits
    lifted. A path with no entry differs when a file is there."""
    if not paths:
        return []
    tmp = s.path(f"index.check.{os.getpid()}")
    files.copy_keep_stat(index, tmp)
    try:
        git = s.git
        if entries:
            git.update_entries(tmp, {p: entries[p] for p in paths})
        present = git.ls_files(tmp, paths)
        if present:
            git.set_skip_worktree(tmp, present, False)
        found = set(git.diff_files(tmp, present))
        have = set(present)
        found |= {p for p in paths if p not in have and os.path.lexists(_abs(s, p))}
        return sorted(found)
    finally:
        files.remove(tmp)


def _abs(s: Session, path: bytes) -> str:
    return os.path.join(s.repo.top, os.fsdecode(path))


def _holders(s: Session, conn: sqlite3.Connection) -> dict[str, str]:
    """{branch: live peer session on it through its own HEAD}."""
    from gitlane.guard import facts
    return facts.build_view(s, conn).heads


# --- the journal -------------------------------------------------------------------

def _write_journal(s: Session, journal: dict) -> None:  # type: ignore[type-arg]
    """The index as it was, then the plan: from here on, the next command
    finishes the switch (apply is idempotent)."""
    before = s.path(layout.BEFORE_SWITCH)
    files.copy_keep_stat(s.index.path, before)
    files.write_atomic(s.path(layout.SWITCH), json.dumps(journal).encode())


def read_journal(s: Session) -> dict | None:  # type: ignore[type-arg]
    text = files.read_text(s.path(layout.SWITCH))
    if text is None:
        return None
    try:
        journal = json.loads(text)
    except ValueError:
        return None
    ok = (isinstance(journal, dict) and all(layout.is_object_id(str(journal.get(k, ""))) for k in ("old", "new"))
          and isinstance(journal.get("paths"), list) and isinstance(journal.get("head"), str))
    return journal if ok and _journal_sound(journal) else None


def _journal_sound(journal: dict) -> bool:  # type: ignore[type-arg]
    """A journal read back is untrusted: paths stay inside the work tree,
    names are branch refs, nothing can reach git as an option."""
    head = journal["head"]
    if not (layout.is_object_id(head) or _is_branch_ref(head[5:] if head.startswith("ref: ") else "")):
        return False
    try:
        paths = [bytes.fromhex(p) for p in journal["paths"]]
    except (TypeError, ValueError):
        return False
    if not all(_inside(p) for p in paths):
        return False
    ref = journal.get("ref")
    if ref is not None and not (isinstance(ref, list) and len(ref) == 3 and _is_branch_ref(str(ref[0]))
                                and layout.is_object_id(str(ref[1]))):
        return False
    upstream = journal.get("upstream")
    if upstream is not None and not (isinstance(upstream, str) and upstream.startswith("refs/remotes/")
                                     and ".." not in upstream):
        return False
    return isinstance(journal.get("message", ""), str)


def _is_branch_ref(ref: str) -> bool:
    name = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ""
    return bool(name) and ".." not in name and not name.startswith("-") and \
        all(ord(c) > 32 and c not in "~^:?*[\\" for c in name)


def _inside(path: bytes) -> bool:
    parts = path.split(b"/")
    return bool(path) and not path.startswith(b"/") and b"\0" not in path and \
        all(part not in (b"", b".", b"..", b".git") for part in parts)


def apply(s: Session, journal: dict, conn: sqlite3.Connection) -> None:  # type: ignore[type-arg]
    """Carry out a journalled switch, from the start or from wherever a
    crash stopped it. The caller holds the session and global locks."""
    old, new, target = journal["old"], journal["new"], journal["head"]
    paths = [bytes.fromhex(p) for p in journal["paths"]]
    before = s.path(layout.BEFORE_SWITCH)
    git = s.git
    ref = journal.get("ref")
    if ref and git.resolve_commit(ref[0]) != ref[1]:
        git.create_ref(ref[0], ref[1], "branch: Created from " + new[:10], force=bool(ref[2]))
        if journal.get("upstream"):
            git.set_upstream(ref[0][len("refs/heads/"):], journal["upstream"])
    tmp = s.path(SWITCH_INDEX)
    files.copy_keep_stat(before, tmp)
    _lift_all_bits(git, tmp)
    if not git.two_way(tmp, old, new):
        files.remove(tmp)
        _finish(s)
        raise Fatal("the switch could not carry your staged changes; nothing was switched",
                    "commit or unstage them (`git restore --staged PATH`), then switch again")
    _write_files(s, tmp, before, paths)
    d = own_head.private_dir(s.dir)
    if not own_head.has_private(s.dir):
        own_head.create(s.repo, s.dir)
    mine = git.through(s.repo.with_git_dir(d))
    mine.set_head(target[5:] if target.startswith("ref: ") else target, journal.get("message") or "checkout")
    os.replace(tmp, s.index.path)
    s.index.set_base(new)
    session_index.stamp_verified(s.index.path)
    isolation.invalidate(s)
    _record_branch_files(s, mine, conn, paths, new)
    own_head.keep_reachable(git, s.name, s.dir)
    if isinstance(journal.get("previous"), str):
        files.write_atomic(s.path(layout.PREVIOUS), journal["previous"].encode() + b"\n", durable=False)
    _finish(s)
    shared = (files.read_text(os.path.join(s.repo.wt_git_dir, "HEAD")) or "").strip()
    if shared == target:
        own_head.remove(s.dir)  # back on the shared branch: the work tree's HEAD is ours again
        own_head.keep_reachable(git, s.name, s.dir)


def _finish(s: Session) -> None:
    files.remove(s.path(layout.SWITCH))
    files.remove(s.path(layout.BEFORE_SWITCH))


def _lift_all_bits(git: Git, index: str) -> None:
    """The new index starts with no skip-worktree bit (isolation sets them
    again on the next command)."""
    out = git.run("ls-files", "-t", "-z", index=index).out
    hidden = [rec[2:] for rec in out.split(b"\0") if rec.startswith(b"S ")]
    if hidden:
        git.set_skip_worktree(index, hidden, False)


def _write_files(s: Session, new_index: str, before: str, paths: Sequence[bytes]) -> None:
    """Write the files the switch changes: only those still at this
    session's old version (a file in neither version is left alone and
    reported: nothing is lost)."""
    git = s.git
    need = _differs(s, new_index, paths, {})
    if not need:
        return
    unsafe = set(_differs(s, before, need, {}))
    keep = sorted(p for p in unsafe if os.path.lexists(_abs(s, p)))
    if keep:
        sys.stderr.write("gitlane: left alone (changed since the switch began): "
                         + ", ".join(os.fsdecode(p) for p in keep[:10]) + "\n")
    todo = [p for p in need if p not in set(keep)]
    present = set(git.ls_files(new_index, todo))
    for p in todo:
        if p not in present:
            _remove_file(s, p)
    git.checkout_index(new_index, sorted(present))


def _remove_file(s: Session, path: bytes) -> None:
    full = _abs(s, path)
    try:
        os.unlink(full)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        return
    parent = os.path.dirname(full)
    top = s.repo.top.rstrip("/")
    while parent.startswith(top + "/"):
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)


def _record_branch_files(s: Session, mine: Git, conn: sqlite3.Connection, moved: Sequence[bytes],
                         new: str) -> None:
    """Files on disk at this session's version that the shared HEAD has
    differently are the session's branch files: peers neither see nor touch
    them (shared.claims BRANCH)."""
    held = claims.branch_paths(conn, s.repo.worktree_id, s.name) | set(moved)
    own_head.record_branch_files(s, conn, held, new)


def recover(s: Session) -> None:
    """The next command after a crash mid-switch: finish it."""
    from gitlane.run import commit
    with refresh.session_lock(s, s.name + " (finishing a switch)"):
        journal = read_journal(s)
        if journal is None:
            _finish(s)
            files.remove(s.path(SWITCH_INDEX))
            return
        conn = db.connect(s.repo.state_dir())
        try:
            with locks.acquire(commit.global_lock_path(s), s.name + " (finishing a switch)", "the global lock",
                               lambda: locks.timeout(s.git)):
                apply(s, journal, conn)
        finally:
            conn.close()
    sys.stderr.write(f"gitlane: session {s.name}: finished an interrupted switch to "
                     f"{_short(journal['head'])}\n")


# --- the end of a session ------------------------------------------------------------

def leave(repo: Repo, git: Git, name: str, conn: sqlite3.Connection) -> None:
    """A session on its own HEAD ends: its branch files go back to the
    shared HEAD's version (those it left edited stay as they are: nothing
    is lost), its branch claims and private git dir go. Its branch and
    commits stay; a detached HEAD keeps its ref (session.head)."""
    sdir = layout.session_dir(repo.common_dir, "", name)
    if repo.worktree_id or not own_head.has_private(sdir):
        return
    from gitlane.run import commit
    from gitlane.session import Session
    mine = repo.with_git_dir(own_head.private_dir(sdir))
    s = Session(name, mine, git.through(mine))
    with refresh.session_lock(s, f"{name} (ending)"), \
            locks.acquire(commit.global_lock_path(s), f"{name} (ending)", "the global lock",
                          lambda: locks.timeout(s.git)):
        held = sorted(claims.branch_paths(conn, repo.worktree_id, name))
        if held and s.index.exists():
            _restore_shared(s, held)
        files.write_atomic(s.path(layout.ENDED_ON), (own_head.read(sdir) or "").encode() + b"\n", durable=False)
        claims.set_branch(conn, repo.worktree_id, name, [])
        own_head.remove(sdir)
        isolation.invalidate(s)


def _restore_shared(s: Session, held: Sequence[bytes]) -> None:
    own, shared = s.index.head(), own_head.shared_commit(s.repo)
    entries = s.git.diff_tree_entries(own, shared)
    back = [p for p in held if p in entries]
    edited = set(_differs(s, s.index.path, back, {}))
    clean = [p for p in back if p not in edited]
    if edited:
        sys.stderr.write(f"gitlane: session {s.name} ended with edits to its branch files, left as they are: "
                         + ", ".join(os.fsdecode(p) for p in sorted(edited)[:10]) + "\n")
    if not clean:
        return
    tmp = s.path(f"index.leave.{os.getpid()}")
    files.copy_keep_stat(s.index.path, tmp)
    try:
        s.git.update_entries(tmp, {p: entries[p] for p in clean})
        present = set(s.git.ls_files(tmp, clean))
        for p in clean:
            if p not in present:
                _remove_file(s, p)
        s.git.checkout_index(tmp, sorted(present))
    finally:
        files.remove(tmp)
