"""Issue 7: the Claude Code hook contract (`gitlane hook EVENT`) and
`gitlane install claude` / `gitlane uninstall claude`.

Payloads are shaped like the ones Claude Code sends (session_id,
transcript_path, cwd, hook_event_name, plus the event's own fields). Each
hook runs as Claude Code runs it: a command line through a shell, with the
JSON on stdin, so the owner of the session must be the nearest non-shell
ancestor (here the test process, standing in for Claude Code).
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitlane.testing.lane import SHIM, Lane, shim_env

SID = "7f3c1e52-9a4b-4c1d-8e2f-0b6a5d4c3b21"
GITLANE = str(SHIM / "gitlane")
MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash"


# --- helpers -------------------------------------------------------------------

def payload(lane: Lane, event: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": SID, "transcript_path": f"/home/dev/.claude/projects/-repo/{SID}.jsonl",
            "cwd": str(lane.path), "hook_event_name": event, **fields}


def tool_input(tool: str, path: str) -> dict[str, Any]:
    """tool_input exactly as each Claude Code edit tool sends it."""
    return {
        "Edit": {"file_path": path, "old_string": "a", "new_string": "b", "replace_all": False},
        "Write": {"file_path": path, "content": "written\n"},
        "MultiEdit": {"file_path": path, "edits": [{"old_string": "a", "new_string": "b"}]},
        "NotebookEdit": {"notebook_path": path, "cell_id": "cell-1", "new_source": "print(1)",
                         "cell_type": "code", "edit_mode": "replace"},
    }[tool]


def pre(lane: Lane, tool: str, path: str, **fields: Any) -> dict[str, Any]:
    return payload(lane, "PreToolUse", permission_mode="default", tool_name=tool,
                   tool_input=tool_input(tool, path) if tool in EDIT_TOOLS else {"command": "ls"},
                   tool_use_id="toolu_01ABCDEF", **fields)


def post(lane: Lane, tool: str, path: str) -> dict[str, Any]:
    p = pre(lane, tool, path)
    p.update(hook_event_name="PostToolUse", tool_response={"filePath": path, "success": True})
    return p


EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")


def hook(lane: Lane, event: str, data: dict[str, Any] | bytes, **env: str) -> subprocess.CompletedProcess:
    """`gitlane hook EVENT` run through bash (kept alive by `; exit $?`), as a
    hook command is run."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return subprocess.run(["bash", "-c", f"'{GITLANE}' hook {event}; exit $?"], cwd=lane.path, input=raw,
                          capture_output=True, env={**shim_env(), **env}, timeout=60)


def quiet(res: subprocess.CompletedProcess) -> None:
    assert (res.returncode, res.stdout, res.stderr.decode()) == (0, b"", "")


def output(res: subprocess.CompletedProcess) -> dict[str, Any]:
    """The hook printed exactly one JSON object on one line, and nothing on stderr."""
    assert (res.returncode, res.stderr.decode()) == (0, "")
    text = res.stdout.decode()
    assert text.endswith("\n") and text.count("\n") == 1, text
    return json.loads(text)


def gitlane(lane: Lane, *args: str, session: str | None = None, pid: int | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([GITLANE, *args], cwd=lane.path, capture_output=True, env=shim_env(session, pid),
                          check=check, timeout=60)


def rows(lane: Lane, sql: str) -> list[tuple]:
    db = lane.path / ".git" / "gitlane" / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def claims(lane: Lane) -> list[tuple]:
    return sorted((bytes(p).decode(), s, k) for p, s, k in rows(lane, "SELECT path, session, kind FROM claims"))


def who(lane: Lane, path: str) -> list[tuple]:
    [item] = json.loads(gitlane(lane, "who", "--json", path).stdout)
    return [(o["session"], o["kind"], o["pid"], o["live"]) for o in item["owners"]]


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


# --- session-start --------------------------------------------------------------

@pytest.mark.parametrize("source", ["startup", "resume", "clear", "compact"])
def test_session_start_output_and_registration(lane: Lane, source: str) -> None:
    out = output(hook(lane, "session-start", payload(lane, "SessionStart", source=source)))
    assert list(out) == ["hookSpecificOutput"]
    assert list(out["hookSpecificOutput"]) == ["hookEventName", "additionalContext"]
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    context = out["hookSpecificOutput"]["additionalContext"]
    assert len(sentences(context)) == 2, context
    assert "gitlane who" in context
    # the owner is the process that runs the hook (Claude Code), not the shell in between
    assert rows(lane, "SELECT name, pid, label, ended FROM sessions") == [(SID, os.getpid(), "claude-code", None)]
    [s] = json.loads(gitlane(lane, "sessions", "--json").stdout)
    assert (s["name"], s["state"], s["pid"]) == (SID, "live", os.getpid())


def test_session_start_after_session_end_reopens_the_session(lane: Lane) -> None:
    output(hook(lane, "session-start", payload(lane, "SessionStart", source="startup")))
    quiet(hook(lane, "session-end", payload(lane, "SessionEnd", reason="clear")))
    assert [s["state"] for s in json.loads(gitlane(lane, "sessions", "--json").stdout)] == ["ended"]
    output(hook(lane, "session-start", payload(lane, "SessionStart", source="clear")))
    assert [s["state"] for s in json.loads(gitlane(lane, "sessions", "--json").stdout)] == ["live"]


def test_session_start_writes_env_file_that_puts_the_agent_in_its_session(lane: Lane, tmp_path: Path) -> None:
    env_file = tmp_path / "claude-env.sh"
    env_file.write_text("export FOO='from an earlier hook'\n")
    output(hook(lane, "session-start", payload(lane, "SessionStart", source="startup"),
                CLAUDE_ENV_FILE=str(env_file)))
    text = env_file.read_text()
    assert text.startswith("export FOO='from an earlier hook'\n")
    added = text.splitlines()[1:]
    assert len(added) == 2
    assert [line.split("=")[0] for line in added] == ["export PATH", "export GITLANE_SESSION"]
    # Claude Code sources the file before each Bash command: do the same.
    env = {k: v for k, v in shim_env().items() if not k.startswith("GITLANE_SESSION")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    res = subprocess.run(["bash", "-c", f". '{env_file}'; echo \"git=$(command -v git)\"; "
                          "echo \"session=$GITLANE_SESSION\"; echo \"foo=$FOO\"; "
                          "echo agent > agent.txt; git add agent.txt; echo \"rc=$?\""],
                         cwd=lane.path, capture_output=True, env=env, timeout=60)
    facts = dict(line.split("=", 1) for line in res.stdout.decode().splitlines())
    assert facts == {"git": str(SHIM / "git"), "session": SID, "foo": "from an earlier hook", "rc": "0"}
    assert lane.staged(SID) == {"agent.txt"}
    # a Bash call's short-lived shell does not take over the session's ownership
    assert rows(lane, "SELECT name, pid FROM sessions") == [(SID, os.getpid())]


def test_session_start_without_env_file_writes_none(lane: Lane, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    output(hook(lane, "session-start", payload(lane, "SessionStart", source="startup")))
    after = [p for p in sorted(tmp_path.rglob("*")) if ".git" not in p.relative_to(tmp_path).parts]
    assert after == [p for p in before if ".git" not in p.relative_to(tmp_path).parts]


# --- pre-tool-use ----------------------------------------------------------------

TARGETS = {"Edit": "src/app.py", "Write": "src/new.py", "MultiEdit": "lib/util.py", "NotebookEdit": "nb/analysis.ipynb"}


@pytest.mark.parametrize("tool", EDIT_TOOLS)
def test_pre_tool_use_denies_a_path_staged_by_a_live_peer(lane: Lane, owner_proc, tool: str) -> None:
    p1 = owner_proc()
    rel = TARGETS[tool]
    lane.write(rel, "s1 work\n")
    lane.git("add", rel, session="s1", pid=p1.pid)
    before = claims(lane)
    out = output(hook(lane, "pre-tool-use", pre(lane, tool, str(lane.path / rel))))
    assert list(out) == ["hookSpecificOutput"]
    specific = out["hookSpecificOutput"]
    assert list(specific) == ["hookEventName", "permissionDecision", "permissionDecisionReason"]
    assert (specific["hookEventName"], specific["permissionDecision"]) == ("PreToolUse", "deny")
    assert re.fullmatch(
        rf"gitlane: {re.escape(rel)} is staged by session s1 \(pid {p1.pid}, for \d+s\)\. Edit other files, "
        rf"or ask that session to commit or release it \(`gitlane who {re.escape(rel)}`\)\.",
        specific["permissionDecisionReason"]), specific["permissionDecisionReason"]
    assert claims(lane) == before  # a denied edit claims nothing


def test_pre_tool_use_denies_a_reserved_path(lane: Lane, owner_proc) -> None:
    p1 = owner_proc()
    gitlane(lane, "reserve", "docs/**", "--reason", "docs rewrite", session="s1", pid=p1.pid)
    out = output(hook(lane, "pre-tool-use", pre(lane, "Write", str(lane.path / "docs/new.md"))))
    specific = out["hookSpecificOutput"]
    assert specific["permissionDecision"] == "deny"
    assert re.match(rf"gitlane: docs/new\.md is reserved by session s1 \(pid {p1.pid}, 'docs rewrite', \d+m left\)\. ",
                    specific["permissionDecisionReason"]), specific
    assert claims(lane) == []


@pytest.mark.parametrize("policy, denies", [("warn", False), ("WARN", False), ("deny", True)])
def test_pre_tool_use_edit_policy(lane: Lane, owner_proc, policy: str, denies: bool) -> None:
    p1 = owner_proc()
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.plain("config", "lane.editPolicy", policy)
    out = output(hook(lane, "pre-tool-use", pre(lane, "Edit", str(lane.path / "a.txt"))))
    specific = out["hookSpecificOutput"]
    if denies:
        assert specific["permissionDecision"] == "deny"
        return
    assert list(out) == ["systemMessage", "hookSpecificOutput"]
    assert list(specific) == ["hookEventName", "additionalContext"]  # no permissionDecision: not denied
    assert specific["hookEventName"] == "PreToolUse"
    assert re.match(rf"gitlane: a\.txt is staged by session s1 \(pid {p1.pid}, for \d+s\)\. ", out["systemMessage"])
    assert specific["additionalContext"] == "Warning: " + out["systemMessage"][len("gitlane: "):]
    assert claims(lane) == [("a.txt", "s1", "staged")]


@pytest.mark.parametrize("tool", EDIT_TOOLS)
def test_pre_tool_use_on_a_free_path_is_silent_and_claims_it(lane: Lane, owner_proc, tool: str) -> None:
    rel = TARGETS[tool]
    quiet(hook(lane, "pre-tool-use", pre(lane, tool, str(lane.path / rel))))
    assert claims(lane) == [(rel, SID, "edit")]
    assert who(lane, rel) == [(SID, "edit", os.getpid(), True)]
    # the claim protects the file from a peer's git add while the agent edits it
    p2 = owner_proc()
    lane.write(rel, "the agent's edit\n")
    res = lane.git("add", rel, session="s2", pid=p2.pid, check=False)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert f"{rel}  being edited by session {SID} (pid {os.getpid()}" in err, err
    assert lane.staged("s2") == set()


def test_pre_tool_use_keeps_the_sessions_own_staged_claim(lane: Lane) -> None:
    lane.write("a.txt", "mine\n")
    lane.git("add", "a.txt", session=SID)  # owner: this process, like the hook's
    quiet(hook(lane, "pre-tool-use", pre(lane, "Edit", str(lane.path / "a.txt"))))
    assert claims(lane) == [("a.txt", SID, "staged")]


def test_pre_tool_use_takes_over_a_dead_owners_path(lane: Lane, owner_proc) -> None:
    p1 = owner_proc()
    lane.write("a.txt", "s1\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    p1.kill()
    p1.wait()
    quiet(hook(lane, "pre-tool-use", pre(lane, "Edit", str(lane.path / "a.txt"))))
    assert who(lane, "a.txt") == [(SID, "edit", os.getpid(), True)]


@pytest.mark.parametrize("case", ["Bash", "Read", "outside-repo", "inside-.git", "no-path"])
def test_pre_tool_use_ignores_other_tools_and_paths(lane: Lane, tmp_path: Path, case: str) -> None:
    data = {
        "Bash": payload(lane, "PreToolUse", tool_name="Bash", tool_input={"command": "rm -rf build"}),
        "Read": payload(lane, "PreToolUse", tool_name="Read", tool_input={"file_path": str(lane.path / "README")}),
        "outside-repo": pre(lane, "Edit", str(tmp_path / "elsewhere" / "x.py")),
        "inside-.git": pre(lane, "Write", str(lane.path / ".git" / "config")),
        "no-path": payload(lane, "PreToolUse", tool_name="Edit", tool_input={}),
    }[case]
    quiet(hook(lane, "pre-tool-use", data))
    assert claims(lane) == []
    assert rows(lane, "SELECT name FROM sessions") == []


# --- post-tool-use, session-end ----------------------------------------------------

@pytest.mark.parametrize("tool", EDIT_TOOLS)
def test_post_tool_use_records_the_edit_as_a_claim(lane: Lane, tool: str) -> None:
    rel = TARGETS[tool]
    lane.write(rel, "written by the agent\n")
    data = post(lane, tool, rel)  # relative to cwd
    quiet(hook(lane, "post-tool-use", data))
    assert claims(lane) == [(rel, SID, "edit")]
    assert who(lane, rel) == [(SID, "edit", os.getpid(), True)]


def test_post_tool_use_never_takes_a_live_peers_claim(lane: Lane, owner_proc) -> None:
    p1 = owner_proc()
    lane.write("a.txt", "s1 work\n")
    lane.git("add", "a.txt", session="s1", pid=p1.pid)
    lane.plain("config", "lane.editPolicy", "warn")  # the edit was allowed with a warning
    quiet(hook(lane, "post-tool-use", post(lane, "Edit", str(lane.path / "a.txt"))))
    assert who(lane, "a.txt") == [("s1", "staged", p1.pid, True)]
    lane.git("commit", "-q", "-m", "s1", session="s1", pid=p1.pid)
    assert lane.commit_files("HEAD") == {"a.txt"}


def test_session_end_ends_session_and_drops_its_edit_claims_and_reservations(lane: Lane, owner_proc) -> None:
    output(hook(lane, "session-start", payload(lane, "SessionStart", source="startup")))
    quiet(hook(lane, "pre-tool-use", pre(lane, "Write", str(lane.path / "new.py"))))
    lane.write("staged.txt", "agent work\n")
    lane.git("add", "staged.txt", session=SID)
    gitlane(lane, "reserve", "docs/**", session=SID, pid=os.getpid())
    assert claims(lane) == [("new.py", SID, "edit"), ("staged.txt", SID, "staged")]
    quiet(hook(lane, "session-end", payload(lane, "SessionEnd", reason="exit")))
    [s] = json.loads(gitlane(lane, "sessions", "--json").stdout)
    assert (s["name"], s["state"], s["staged"], s["edits"], s["reservations"]) == (SID, "ended", ["staged.txt"], [], [])
    assert rows(lane, "SELECT * FROM reservations") == []
    assert who(lane, "new.py") == []
    assert b"+agent work" in gitlane(lane, "export", SID).stdout  # its staged work is kept
    p2 = owner_proc()
    lane.write("new.py", "peer\n")
    lane.write("docs/a.md", "peer\n")
    lane.git("add", "new.py", "staged.txt", "docs/a.md", session="s2", pid=p2.pid)
    assert lane.staged("s2") == {"new.py", "staged.txt", "docs/a.md"}


def test_session_end_of_an_unknown_session_is_silent(lane: Lane) -> None:
    quiet(hook(lane, "session-end", payload(lane, "SessionEnd", reason="logout")))
    assert rows(lane, "SELECT * FROM sessions") == []


# --- failing open ----------------------------------------------------------------

@pytest.mark.parametrize("event", ["session-start", "pre-tool-use", "post-tool-use", "session-end"])
@pytest.mark.parametrize("raw, error", [
    (b"{not json", "JSONDecodeError"),
    (b"", "JSONDecodeError"),
    (b"[1, 2]", "ValueError"),
    (b"\xff\xfe", "(?:JSONDecodeError|UnicodeDecodeError)"),  # depends on how stdin decodes
], ids=["bad-json", "empty", "not-an-object", "not-utf8"])
def test_malformed_input_fails_open(lane: Lane, event: str, raw: bytes, error: str) -> None:
    res = hook(lane, event, raw)
    assert (res.returncode, res.stdout) == (0, b"")
    assert re.fullmatch(rf"gitlane hook {event}: {error}: .+ \(allowed anyway\)\n", res.stderr.decode()), res.stderr
    assert rows(lane, "SELECT * FROM sessions") == []


@pytest.mark.parametrize("sid", ["../../etc", "", "a b"])
def test_invalid_session_id_fails_open_and_writes_nothing(lane: Lane, sid: str) -> None:
    data = pre(lane, "Edit", str(lane.path / "README"))
    data["session_id"] = sid
    res = hook(lane, "pre-tool-use", data)
    assert (res.returncode, res.stdout) == (0, b"")
    assert res.stderr.decode().startswith("gitlane hook pre-tool-use: Fatal: invalid session name")
    assert res.stderr.decode().endswith("(allowed anyway)\n")
    assert claims(lane) == [] and rows(lane, "SELECT * FROM sessions") == []


def test_session_id_falls_back_to_CLAUDE_CODE_SESSION_ID(lane: Lane) -> None:
    data = pre(lane, "Edit", str(lane.path / "README"))
    del data["session_id"]
    quiet(hook(lane, "pre-tool-use", data, CLAUDE_CODE_SESSION_ID="from-env"))
    assert claims(lane) == [("README", "from-env", "edit")]


# --- install / uninstall -----------------------------------------------------------

EXISTING: dict[str, Any] = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "permissions": {"allow": ["Bash(npm test:*)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": "/usr/local/bin/audit-bash.sh", "timeout": 5}]}],
        "SessionStart": [{"hooks": [{"type": "command", "command": "echo started >> ~/.claude/log"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
    "env": {"FOO": "bar"},
    "model": "opus",
}


def ours(event: str) -> dict[str, Any]:
    arg = {"SessionStart": "session-start", "PreToolUse": "pre-tool-use",
           "PostToolUse": "post-tool-use", "SessionEnd": "session-end"}[event]
    group: dict[str, Any] = {"hooks": [{"type": "command", "command": f"'{GITLANE}' hook {arg}", "timeout": 10}]}
    return {"matcher": MATCHER, **group} if event in ("PreToolUse", "PostToolUse") else group


def install(lane: Lane, verb: str, *args: str) -> subprocess.CompletedProcess:
    return gitlane(lane, verb, "claude", *args, check=False)


def test_install_merges_is_idempotent_and_uninstall_removes_only_ours(lane: Lane, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(EXISTING, indent=4) + "\n")
    res = install(lane, "install", "--settings", str(settings))
    assert (res.returncode, res.stdout.decode()) == (0, f"gitlane hooks installed into {settings}\n")
    data = json.loads(settings.read_text())
    assert list(data) == list(EXISTING)
    assert {k: v for k, v in data.items() if k != "hooks"} == {k: v for k, v in EXISTING.items() if k != "hooks"}
    assert list(data["hooks"]) == ["PreToolUse", "SessionStart", "Stop", "PostToolUse", "SessionEnd"]
    assert data["hooks"] == {
        "PreToolUse": EXISTING["hooks"]["PreToolUse"] + [ours("PreToolUse")],
        "SessionStart": EXISTING["hooks"]["SessionStart"] + [ours("SessionStart")],
        "Stop": EXISTING["hooks"]["Stop"],
        "PostToolUse": [ours("PostToolUse")],
        "SessionEnd": [ours("SessionEnd")],
    }
    installed = settings.read_bytes()
    res = install(lane, "install", "--settings", str(settings))
    assert (res.returncode, res.stdout.decode()) == (0, f"nothing to change in {settings}\n")
    assert settings.read_bytes() == installed
    res = install(lane, "uninstall", "--settings", str(settings))
    assert (res.returncode, res.stdout.decode()) == (0, f"gitlane hooks removed from {settings}\n")
    after = json.loads(settings.read_text())
    assert json.dumps(after) == json.dumps(EXISTING)  # same content, same key order
    res = install(lane, "uninstall", "--settings", str(settings))
    assert (res.returncode, res.stdout.decode()) == (0, f"nothing to change in {settings}\n")


def test_uninstall_keeps_a_users_hook_sharing_our_group(lane: Lane, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    install(lane, "install", "--settings", str(settings))
    data = json.loads(settings.read_text())
    mine = {"type": "command", "command": "prettier --write \"$CLAUDE_FILE\""}
    data["hooks"]["PostToolUse"][0]["hooks"].append(mine)
    settings.write_text(json.dumps(data))
    install(lane, "uninstall", "--settings", str(settings))
    assert json.loads(settings.read_text()) == {"hooks": {"PostToolUse": [{"matcher": MATCHER, "hooks": [mine]}]}}


def test_uninstall_leaves_unrelated_empty_entries_alone(lane: Lane, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    original = {"hooks": {"Stop": []}, "model": "opus"}
    settings.write_text(json.dumps(original))
    install(lane, "install", "--settings", str(settings))
    install(lane, "uninstall", "--settings", str(settings))
    assert json.loads(settings.read_text()) == original


def test_install_defaults_to_the_projects_settings(lane: Lane) -> None:
    res = install(lane, "install")
    target = lane.path / ".claude" / "settings.json"
    assert res.stdout.decode() == f"gitlane hooks installed into {target}\n"
    data = json.loads(target.read_text())
    assert data == {"hooks": {e: [ours(e)] for e in ("SessionStart", "PreToolUse", "PostToolUse", "SessionEnd")}}
    install(lane, "uninstall", "--project")
    assert json.loads(target.read_text()) == {}


@pytest.mark.parametrize("content", [b"{broken", b"[]", b'{"hooks": []}'])
def test_install_refuses_a_file_it_cannot_read_and_leaves_it(lane: Lane, tmp_path: Path, content: bytes) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(content)
    res = install(lane, "install", "--settings", str(settings))
    err = res.stderr.decode()
    assert res.returncode == 1
    assert err.startswith(f"gitlane: {settings} ") and "\nhint: " in err
    assert settings.read_bytes() == content


def test_installed_hook_commands_run_as_claude_code_runs_them(lane: Lane, owner_proc, tmp_path: Path) -> None:
    """Each command line we install, run through `sh -c` with a payload on stdin."""
    settings = tmp_path / "settings.json"
    install(lane, "install", "--settings", str(settings))
    hooks = json.loads(settings.read_text())["hooks"]
    command = {e: hooks[e][0]["hooks"][0]["command"] for e in hooks}

    def run(event: str, data: dict[str, Any]) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", command[event]], cwd=lane.path, input=json.dumps(data).encode(),
                              capture_output=True, env=shim_env(), timeout=60)
    out = output(run("SessionStart", payload(lane, "SessionStart", source="startup")))
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    quiet(run("PostToolUse", post(lane, "Write", "free.py")))
    p1 = owner_proc()
    lane.write("b.txt", "s1\n")
    lane.git("add", "b.txt", session="s1", pid=p1.pid)
    denied = output(run("PreToolUse", pre(lane, "Edit", str(lane.path / "b.txt"))))
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    quiet(run("SessionEnd", payload(lane, "SessionEnd", reason="exit")))
    assert claims(lane) == [("b.txt", "s1", "staged")]
    assert rows(lane, f"SELECT ended IS NOT NULL FROM sessions WHERE name = '{SID}'") == [(1,)]

