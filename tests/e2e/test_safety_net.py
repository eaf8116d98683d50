"""Issue 13, the safety net end to end: agents that never stage, and every
whole-tree discard against a peer's staged, attributed-unstaged and
unattributed work. Real sessions owned by real processes, real hooks."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from gitlane.testing.lane import SHIM, Lane, shim_env
from gitlane.testing.processes import bash_tool, claude_hook as hook, edit_tool

GITLANE = str(SHIM / "gitlane")


def listed(err: str) -> set[str]:
    return set(re.findall(r"^  (\S+)  owned by nobody \(unattributed\)$", err, re.M))


def test_agents_never_stage(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    """6 sessions edit their own files through each source (edit tool, Bash
    window, no hook) and never stage; each finishes with `git add -A && git
    commit` or `git commit -am`. No commit holds a peer's change; refusals
    name exactly the unattributed paths; each session then commits its own."""
    names = [f"s{i}" for i in range(6)]
    for n in names:
        lane.write(f"{n}.txt", f"{n} at HEAD\n")
    lane.plain("add", ".")
    lane.plain("commit", "-qm", "seed")
    seed = lane.head()
    pids = {n: owner_proc().pid for n in names}
    for n in names:
        lane.git("status", session=n, pid=pids[n])
    source = {n: ("edit", "bash", "none")[i % 3] for i, n in enumerate(names)}
    for n in names:
        if source[n] == "edit":
            edit_tool(lane, n, f"{n}.txt", f"{n} edited\n")
            edit_tool(lane, n, f"{n}-new.txt", f"{n} new\n")
        elif source[n] == "bash":
            bash_tool(lane, n, f"echo '{n} edited' > {n}.txt && echo '{n} new' > {n}-new.txt")
        else:
            lane.write(f"{n}.txt", f"{n} edited\n")
            lane.write(f"{n}-new.txt", f"{n} new\n")
    pending = {n for n in names if source[n] == "none"}  # uncommitted and nobody's
    for i, n in enumerate(names):
        head = lane.head()
        own = {f"{n}.txt", f"{n}-new.txt"}
        if i % 2 == 0:
            res = lane.git("add", "-A", session=n, pid=pids[n], check=False)
            if res.returncode == 0:
                res = lane.git("commit", "-qm", n, session=n, pid=pids[n], check=False)
        else:
            res = lane.git("commit", "-qam", n, session=n, pid=pids[n], check=False)
        unattributed = {f"{m}{s}" for m in pending for s in ((".txt", "-new.txt") if i % 2 == 0 else (".txt",))}
        if source[n] == "none":
            unattributed |= own if i % 2 == 0 else {f"{n}.txt"}
        if unattributed:
            err = res.stderr.decode()
            assert res.returncode == 1 and listed(err) == unattributed, err
            assert lane.head() == head and lane.staged(n) == set()
            lane.git("add", *sorted(own), session=n, pid=pids[n])       # naming claims them
            lane.git("commit", "-qm", n, session=n, pid=pids[n])
        else:
            assert res.returncode == 0, res.stderr.decode()
            if i % 2:  # commit -am leaves the new file; it is ours: add it by name
                lane.git("add", f"{n}-new.txt", session=n, pid=pids[n])
                lane.git("commit", "-qm", n + " new", session=n, pid=pids[n])
        pending.discard(n)
    commits = lane.plain("rev-list", f"{seed}..HEAD").stdout.split()
    touched: dict[str, set[str]] = {}
    for c in commits:
        subject = lane.plain("log", "-1", "--format=%s", c.decode()).stdout.decode().split()[0]
        touched.setdefault(subject, set()).update(lane.commit_files(c.decode()))
    assert touched == {n: {f"{n}.txt", f"{n}-new.txt"} for n in names}
    assert lane.tree_files() == {"README": "hello\n", **{f"{n}.txt": f"{n} edited\n" for n in names},
                                 **{f"{n}-new.txt": f"{n} new\n" for n in names}}
    lane.fsck()


DISCARDS = [
    ["checkout", "--", "."], ["checkout", "HEAD", "--", "."], ["checkout", "."], ["restore", "."],
    ["restore", "--source=HEAD", "."], ["restore", "--source", "HEAD~1", "--", "."],
    ["reset", "--hard"], ["reset", "--merge"], ["reset", "--keep"], ["reset", "--hard", "HEAD~1"],
    ["checkout", "-f"], ["checkout", "-f", "side"],
    ["clean", "-f"], ["clean", "-fd"], ["clean", "-fdx"], ["clean", "-fX"], ["clean", "-fxd", "--", "."],
    ["stash"], ["stash", "-u"], ["stash", "-a"], ["stash", "push"], ["stash", "save", "wip"],
    ["stash", "push", "-m", "x"], ["rebase", "--autostash", "HEAD~1"], ["pull", "--autostash"],
    ["merge", "--autostash", "side"],
]


@pytest.fixture
def peers(lane: Lane, owner_proc) -> tuple[Lane, int, dict[str, bytes]]:  # type: ignore[no-untyped-def]
    """B has a staged path, an edit-tool edit, a Bash-window edit and new file;
    nobody owns a tracked edit, a new file and an ignored build output."""
    for rel in ("staged.txt", "edited.txt", "bashed.txt", "nobodys.txt"):
        lane.write(rel, f"{rel} v1\n")
    lane.write(".gitignore", "build/\n")
    lane.plain("add", ".")
    lane.plain("commit", "-qm", "v1")
    lane.plain("branch", "side")
    lane.write("nobodys.txt", "nobodys.txt v2\n")
    lane.plain("commit", "-qam", "v2")
    a, b = owner_proc().pid, owner_proc().pid
    lane.git("status", session="A", pid=a)
    lane.git("status", session="B", pid=b)
    lane.write("staged.txt", "B staged\n")
    lane.git("add", "staged.txt", session="B", pid=b)
    edit_tool(lane, "B", "edited.txt", "B's edit-tool edit\n")
    bash_tool(lane, "B", "echo \"B's bash edit\" > bashed.txt && echo 'B new' > bnew.txt")
    lane.write("nobodys.txt", "nobody's edit\n")
    lane.write("nobodys-new.txt", "nobody's new file\n")
    lane.write("build/out.o", "nobody's build output\n")
    names = ("staged.txt", "edited.txt", "bashed.txt", "bnew.txt", "nobodys.txt", "nobodys-new.txt", "build/out.o")
    return lane, a, {n: (lane.path / n).read_bytes() for n in names}


@pytest.mark.parametrize("argv", DISCARDS, ids=[" ".join(a) for a in DISCARDS])
def test_whole_tree_discards_keep_every_peer_and_unattributed_byte(peers, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    lane, a, before = peers
    head = lane.head()
    res = lane.git(*argv, session="A", pid=a, check=False)
    err = res.stderr.decode()
    assert res.returncode != 0, err
    assert err.startswith("gitlane: refusing"), err
    assert {n: (lane.path / n).read_bytes() for n in before} == before
    assert lane.head() == head
    assert lane.staged("B") == {"staged.txt"}
    assert lane.plain("rev-parse", "-q", "--verify", "refs/stash", check=False).returncode == 1


def test_alone_a_whole_tree_discard_is_plain_git(lane: Lane) -> None:
    lane.write("README", "an edit nobody can attribute\n")
    lane.write("junk", "x\n")
    res = lane.git("reset", "--hard", "-q", session="A")
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    res = lane.git("clean", "-fq", session="A")
    assert (res.returncode, res.stdout, res.stderr) == (0, b"", b"")
    assert lane.read("README") == "hello\n" and not (lane.path / "junk").exists()
