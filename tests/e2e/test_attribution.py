"""Issue 13: attribution of unstaged work. The Claude Code hook contract for
Bash (real PreToolUse/PostToolUse JSON on stdin), writes by child processes,
overlapping windows of two sessions, `gitlane who`/`release`/`status`."""
from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from gitlane.testing.lane import SHIM, Lane, shim_env

GITLANE = str(SHIM / "gitlane")
ALICE = "0b7e6a61-1c2d-4e5f-8a9b-0c1d2e3f4a51"
BOB = "1c8f7b72-2d3e-4f60-9bac-1d2e3f405b62"


def bash_payload(lane: Lane, sid: str, event: str, command: str) -> dict[str, Any]:
    """What Claude Code sends to a PreToolUse / PostToolUse hook for Bash."""
    data: dict[str, Any] = {
        "session_id": sid, "transcript_path": f"/home/dev/.claude/projects/-repo/{sid}.jsonl",
        "cwd": str(lane.path), "permission_mode": "default", "hook_event_name": event,
        "tool_name": "Bash", "tool_input": {"command": command, "description": "run it"},
        "tool_use_id": "toolu_01" + sid[:8]}
    if event == "PostToolUse":
        data["tool_response"] = {"stdout": "", "stderr": "", "interrupted": False, "isImage": False}
    return data


def hook(lane: Lane, event: str, data: dict[str, Any]) -> None:
    res = subprocess.run(["bash", "-c", f"'{GITLANE}' hook {event}; exit $?"], cwd=lane.path,
                         input=json.dumps(data).encode(), capture_output=True, env=shim_env(), timeout=60)
    assert (res.returncode, res.stdout, res.stderr.decode()) == (0, b"", "")


def pre(lane: Lane, sid: str, command: str = "true") -> None:
    hook(lane, "pre-tool-use", bash_payload(lane, sid, "PreToolUse", command))


def post(lane: Lane, sid: str, command: str = "true") -> None:
    hook(lane, "post-tool-use", bash_payload(lane, sid, "PostToolUse", command))


def child(lane: Lane, sid: str, script: str) -> None:
    """A write by a child process carrying the session's environment, the way
    Claude Code's Bash tool runs commands."""
    subprocess.run(["sh", "-c", script], cwd=lane.path, check=True,
                   env={**shim_env(), "CLAUDE_CODE_SESSION_ID": sid})


def who(lane: Lane, *paths: str) -> dict[str, list[tuple[str, str]]]:
    res = subprocess.run([GITLANE, "who", "--json", *paths], cwd=lane.path, capture_output=True,
                         env=shim_env(), check=True)
    return {i["path"]: [(o["session"], o["source"]) for o in i["owners"]] or
            ([("nobody", "unattributed")] if i["changed"] else []) for i in json.loads(res.stdout)}


def seed(lane: Lane, *names: str) -> None:
    for n in names:
        lane.write(n, f"{n} at HEAD\n")
    lane.plain("add", *names)
    lane.plain("commit", "-qm", "seed")


def test_bash_window_attributes_every_kind_of_change(lane: Lane) -> None:
    seed(lane, "mod.txt", "del.txt", "exe.sh", "old-name.txt", "before.txt")
    lane.write("before.txt", "dirty before the window\n")  # a person's edit: not the agent's
    pre(lane, ALICE, "sed -i ...")
    child(lane, ALICE, "echo more >> mod.txt && rm del.txt && chmod +x exe.sh && "
                       "mv old-name.txt new-name.txt && mkdir -p gen && echo x > gen/out.txt")
    post(lane, ALICE, "sed -i ...")
    got = who(lane, "mod.txt", "del.txt", "exe.sh", "old-name.txt", "new-name.txt", "gen/out.txt", "before.txt")
    assert got == {p: [(ALICE, "bash")] for p in
                   ("mod.txt", "del.txt", "exe.sh", "old-name.txt", "new-name.txt", "gen/out.txt")} \
        | {"before.txt": [("nobody", "unattributed")]}


def test_a_change_to_an_already_dirty_file_is_attributed(lane: Lane) -> None:
    seed(lane, "f.txt")
    lane.write("f.txt", "a person's edit\n")
    pre(lane, ALICE)
    child(lane, ALICE, "echo agent >> f.txt")
    post(lane, ALICE)
    assert who(lane, "f.txt") == {"f.txt": [(ALICE, "bash")]}


def test_overlapping_windows_fit_by_time_and_ambiguity_is_nobodys(lane: Lane) -> None:
    pre(lane, ALICE)
    child(lane, ALICE, "echo 1 > only-alice.txt")
    pre(lane, BOB)
    child(lane, BOB, "echo 2 > both.txt")
    post(lane, ALICE)
    child(lane, BOB, "echo 3 > only-bob.txt")
    post(lane, BOB)
    assert who(lane, "only-alice.txt", "both.txt", "only-bob.txt") == {
        "only-alice.txt": [(ALICE, "bash")], "both.txt": [("nobody", "unattributed")],
        "only-bob.txt": [(BOB, "bash")]}


def test_a_window_without_its_post_is_closed_by_the_next_pre(lane: Lane) -> None:
    pre(lane, ALICE)
    child(lane, ALICE, "echo x > interrupted.txt")
    pre(lane, ALICE)  # the tool failed or was interrupted: no PostToolUse came
    post(lane, ALICE)
    assert who(lane, "interrupted.txt") == {"interrupted.txt": [(ALICE, "bash")]}


def test_attribution_ends_at_head_content_commit_and_release(lane: Lane) -> None:
    seed(lane, "back.txt", "kept.txt")
    pre(lane, ALICE)
    child(lane, ALICE, "echo x >> back.txt && echo y >> kept.txt && echo z > rel.txt")
    post(lane, ALICE)
    assert who(lane, "back.txt")["back.txt"] == [(ALICE, "bash")]
    pre(lane, ALICE)
    child(lane, ALICE, "git checkout -- back.txt")  # back to HEAD's content inside a window
    post(lane, ALICE)
    assert who(lane, "back.txt") == {"back.txt": []}
    res = subprocess.run([GITLANE, "release", "rel.txt"], cwd=lane.path, capture_output=True,
                         env=shim_env(extra={"GITLANE_SESSION": ALICE}), check=True)
    assert "1 path" in res.stdout.decode()
    assert who(lane, "rel.txt") == {"rel.txt": [("nobody", "unattributed")]}
    lane.git("commit", "-qam", "alice", session=ALICE, env={"GITLANE_SESSION_PID": str(os.getpid())})
    assert who(lane, "kept.txt") == {"kept.txt": []}


def test_status_lists_attributions_and_ignored_peers_files_are_named(lane: Lane, owner_proc) -> None:  # type: ignore[no-untyped-def]
    a, b = owner_proc().pid, owner_proc().pid
    lane.git("status", session="A", pid=a)
    lane.git("status", session="B", pid=b)
    pre(lane, "B")
    child(lane, "B", "echo b > bnew.txt")
    post(lane, "B")
    res = subprocess.run([GITLANE, "status"], cwd=lane.path, capture_output=True, env=shim_env("A", a), check=True)
    assert "    changed   bnew.txt  (unstaged, Bash call)" in res.stdout.decode()
    lane.git("status", session="A", pid=a)  # the view syncs: bnew.txt hidden from A
    res = lane.git("status", "--porcelain", "--ignored", session="A", pid=a)
    assert res.stdout == b"!! bnew.txt\n"
    assert res.stderr.decode() == ("gitlane: 1 of the files shown as ignored (!!) are other live sessions' new "
                                   "files, hidden from this session; `gitlane status` lists them\n")
    assert lane.git("status", "--porcelain", session="A", pid=a).stderr == b""
