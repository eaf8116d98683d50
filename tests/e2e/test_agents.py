"""Issue 19: Codex CLI and Gemini CLI hooks, end to end. Each hook command
line that `gitlane install codex|gemini` writes is run as the agent runs it
(through `sh -c`, the documented payload on stdin, the test process standing
in for the agent), in real repositories; the merges keep every other setting.
What is not verified here: a real codex or gemini binary (none installed)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitlane.testing.lane import SHIM, Lane, shim_env

GITLANE = str(SHIM / "gitlane")
CODEX_SID = "0199a8f2-6c1e-7d40-9b1a-3f2e1d0c9b8a"
GEMINI_SID = "b5a9e3c0-2f1d-4c7a-9e8b-1a2b3c4d5e6f"


def gitlane(lane: Lane, *args: str, home: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = shim_env()
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([GITLANE, *args], cwd=lane.path, capture_output=True, text=True, env=env,
                          check=check, timeout=60)


def rows(lane: Lane, sql: str) -> list[tuple]:
    import sqlite3
    conn = sqlite3.connect(lane.path / ".git" / "gitlane" / "state.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def claims(lane: Lane) -> list[tuple]:
    return sorted((bytes(p).decode(), s, k) for p, s, k in rows(lane, "SELECT path, session, kind FROM claims"))


def commands(settings: Path) -> dict[str, str]:
    hooks = json.loads(settings.read_text())["hooks"]
    return {e: h["command"] for e, groups in hooks.items() if isinstance(groups, list)
            for g in groups for h in g["hooks"] if "gitlane" in h["command"]}


def run_hook(lane: Lane, command: str, data: dict[str, Any], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command], cwd=lane.path, input=json.dumps(data).encode(),
                          capture_output=True, env={**shim_env(), **env}, timeout=60)


def answer(res: subprocess.CompletedProcess) -> dict[str, Any] | None:
    assert (res.returncode, res.stderr.decode()) == (0, "")
    return json.loads(res.stdout) if res.stdout else None


# --- install / uninstall ---------------------------------------------------------

CODEX_EXISTING = {"hooks": {
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "python3 ~/.codex/policy.py",
                                                  "timeout": 30, "statusMessage": "Checking Bash command"}]}],
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}}
CODEX_TOML = '''model = "gpt-5-codex"
approval_policy = "on-request"

[features]
web_search_request = true

[mcp_servers.docs]
command = "docs-mcp"
'''
GEMINI_EXISTING = {
    "theme": "GitHub", "general": {"vimMode": True},
    "hooksConfig": {"disabled": ["secret-scanner"]},
    "hooks": {"BeforeTool": [{"matcher": "write_file", "hooks": [
        {"name": "secret-scanner", "type": "command", "command": "$GEMINI_PROJECT_DIR/.gemini/hooks/scan.sh",
         "timeout": 5000}]}],
        "AfterAgent": [{"hooks": [{"name": "lint", "type": "command", "command": "npm run lint"}]}]}}


def test_install_codex_merges_into_existing_hooks_and_feature_flag(lane: Lane) -> None:
    folder = lane.path / ".codex"
    folder.mkdir()
    (folder / "hooks.json").write_text(json.dumps(CODEX_EXISTING, indent=2))
    (folder / "config.toml").write_text(CODEX_TOML)
    res = gitlane(lane, "install", "codex")
    assert res.stdout.splitlines() == [
        f"gitlane hooks installed into {folder / 'hooks.json'} (SessionStart, PreToolUse, PostToolUse)",
        f"{folder / 'config.toml'}: enabled [features] codex_hooks",
        "note: Codex reads a project's .codex/ only once you trust the project"]
    data = json.loads((folder / "hooks.json").read_text())
    assert data["hooks"]["Stop"] == CODEX_EXISTING["hooks"]["Stop"]
    assert data["hooks"]["PreToolUse"][0] == CODEX_EXISTING["hooks"]["PreToolUse"][0]
    assert data["hooks"]["PreToolUse"][1] == {"matcher": "Bash|apply_patch", "hooks": [
        {"type": "command", "command": f"'{GITLANE}' hook --agent codex pre-tool-use", "timeout": 10}]}
    assert "SessionEnd" not in data["hooks"]  # Codex has none: liveness ends the session
    import tomllib
    toml = tomllib.loads((folder / "config.toml").read_text())
    assert toml["features"] == {"web_search_request": True, "codex_hooks": True}
    assert toml["mcp_servers"] == {"docs": {"command": "docs-mcp"}} and toml["model"] == "gpt-5-codex"
    again = gitlane(lane, "install", "codex")
    assert again.stdout.splitlines()[:2] == [f"nothing to change in {folder / 'hooks.json'}",
                                             f"{folder / 'config.toml'}: already enables hooks"]
    res = gitlane(lane, "uninstall", "codex")
    assert res.stdout.splitlines() == [
        f"gitlane hooks removed from {folder / 'hooks.json'} (PreToolUse, SessionStart, PostToolUse)",
        f"{folder / 'config.toml'}: removed the codex_hooks line gitlane added"]
    assert json.loads((folder / "hooks.json").read_text()) == CODEX_EXISTING
    assert (folder / "config.toml").read_text() == CODEX_TOML


@pytest.mark.parametrize("toml,kept", [
    ("", True), ('model = "o3"\n', True),
    ("[features]\ncodex_hooks = false\n", False), ("features = { codex_hooks = false }\n", False),
    ("features.other = true\n", False), ("not toml [\n", False),
])
def test_codex_feature_flag_edits_only_what_it_can_undo(lane: Lane, toml: str, kept: bool) -> None:
    home = lane.path.parent / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(toml)
    gitlane(lane, "install", "codex", "--user", home=home)
    text = (home / ".codex" / "config.toml").read_text()
    assert ("codex_hooks = true" in text) is kept
    if not kept:
        assert text == toml
    assert (home / ".codex" / "hooks.json").exists()
    gitlane(lane, "uninstall", "codex", "--user", home=home)
    assert (home / ".codex" / "config.toml").read_text() == toml


def test_install_gemini_merges_and_leaves_other_settings(lane: Lane) -> None:
    settings = lane.path / ".gemini" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(GEMINI_EXISTING))
    res = gitlane(lane, "install", "gemini")
    assert res.stdout == (f"gitlane hooks installed into {settings} "
                          "(SessionStart, BeforeTool, AfterTool, SessionEnd)\n")
    data = json.loads(settings.read_text())
    assert {k: v for k, v in data.items() if k != "hooks"} == {k: v for k, v in GEMINI_EXISTING.items() if k != "hooks"}
    assert data["hooks"]["BeforeTool"][0] == GEMINI_EXISTING["hooks"]["BeforeTool"][0]
    assert data["hooks"]["BeforeTool"][1] == {"matcher": "write_file|replace|edit|run_shell_command", "hooks": [
        {"name": "gitlane-pre-tool-use", "type": "command",
         "command": f"'{GITLANE}' hook --agent gemini pre-tool-use", "timeout": 10000}]}
    assert gitlane(lane, "install", "gemini").stdout == f"nothing to change in {settings}\n"
    gitlane(lane, "uninstall", "gemini")
    assert json.loads(settings.read_text()) == GEMINI_EXISTING


def test_gemini_setting_that_turns_hooks_off_is_reported_not_changed(lane: Lane, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"hooksConfig": {"enabled": False}}))
    res = gitlane(lane, "install", "gemini", "--settings", str(settings))
    assert "hooksConfig.enabled = false" in res.stdout
    assert json.loads(settings.read_text())["hooksConfig"] == {"enabled": False}


# --- the hooks, as each agent runs them ------------------------------------------------

def test_codex_session_start_names_the_session_and_sets_path(lane: Lane, tmp_path: Path) -> None:
    gitlane(lane, "install", "codex", "--settings", str(tmp_path / "hooks.json"))
    cmd = commands(tmp_path / "hooks.json")
    out = answer(run_hook(lane, cmd["SessionStart"], {
        "session_id": CODEX_SID, "transcript_path": None, "cwd": str(lane.path), "hook_event_name": "SessionStart",
        "model": "gpt-5-codex", "source": "startup"}))
    spec = out["hookSpecificOutput"]
    assert set(out) == {"hookSpecificOutput"} and set(spec) == {"hookEventName", "additionalContext", "env"}
    assert spec["env"]["GITLANE_SESSION"] == CODEX_SID
    assert spec["env"]["PATH"].split(":")[0] == str(SHIM)
    assert rows(lane, "SELECT name, label FROM sessions") == [(CODEX_SID, "codex")]


def codex_tool(lane: Lane, phase: str, tool: str, command: str) -> dict[str, Any]:
    data = {"session_id": CODEX_SID, "transcript_path": None, "cwd": str(lane.path),
            "hook_event_name": phase, "model": "gpt-5-codex", "permission_mode": "default",
            "tool_name": tool, "tool_input": {"command": command}, "tool_use_id": "call_1"}
    if phase == "PostToolUse":
        data.update(tool_response="ok", turn_id="turn-1")
    return data


def test_codex_apply_patch_claims_and_a_peers_path_is_denied(lane: Lane, owner_proc, tmp_path: Path) -> None:
    gitlane(lane, "install", "codex", "--settings", str(tmp_path / "hooks.json"))
    cmd = commands(tmp_path / "hooks.json")
    patch = "*** Begin Patch\n*** Add File: free.py\n+x = 1\n*** End Patch\n"
    assert answer(run_hook(lane, cmd["PostToolUse"], codex_tool(lane, "PostToolUse", "apply_patch", patch))) is None
    assert claims(lane) == [("free.py", CODEX_SID, "edit")]
    peer = owner_proc()
    lane.write("b.txt", "peer\n")
    lane.git("add", "b.txt", session="peer", pid=peer.pid)
    patch = "*** Begin Patch\n*** Update File: b.txt\n@@\n-peer\n+codex\n*** End Patch\n"
    out = answer(run_hook(lane, cmd["PreToolUse"], codex_tool(lane, "PreToolUse", "apply_patch", patch)))
    assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "b.txt" in out["hookSpecificOutput"]["permissionDecisionReason"]
    assert set(out["hookSpecificOutput"]) == {"hookEventName", "permissionDecision", "permissionDecisionReason"}
    assert answer(run_hook(lane, cmd["PreToolUse"], codex_tool(lane, "PreToolUse", "Bash", "ls"))) is None
    # a patch naming a free file and a peer's file: denied, and the free one is not claimed either
    patch = "*** Begin Patch\n*** Add File: other.py\n+y\n*** Update File: b.txt\n@@\n-peer\n+x\n*** End Patch\n"
    out = answer(run_hook(lane, cmd["PreToolUse"], codex_tool(lane, "PreToolUse", "apply_patch", patch)))
    assert out["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert claims(lane) == [("b.txt", "peer", "staged"), ("free.py", CODEX_SID, "edit")]


def gemini(lane: Lane, event: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": GEMINI_SID, "transcript_path": "/home/dev/.gemini/tmp/chat.json", "cwd": str(lane.path),
            "hook_event_name": event, "timestamp": "2026-01-01T10:00:00Z", **fields}


def test_gemini_hooks_claim_deny_and_run_shell_commands_in_the_session(lane: Lane, owner_proc, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    gitlane(lane, "install", "gemini", "--settings", str(settings))
    cmd = commands(settings)
    out = answer(run_hook(lane, cmd["SessionStart"], gemini(lane, "SessionStart", source="startup")))
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert rows(lane, "SELECT name, label FROM sessions") == [(GEMINI_SID, "gemini-cli")]
    write = gemini(lane, "AfterTool", tool_name="write_file", tool_input={"file_path": str(lane.path / "g.py"),
                                                                          "content": "g\n"},
                   tool_response={"llmContent": "ok", "returnDisplay": "ok"})
    assert answer(run_hook(lane, cmd["AfterTool"], write)) is None
    assert claims(lane) == [("g.py", GEMINI_SID, "edit")]
    peer = owner_proc()
    lane.write("b.txt", "peer\n")
    lane.git("add", "b.txt", session="peer", pid=peer.pid)
    edit = gemini(lane, "BeforeTool", tool_name="replace",
                  tool_input={"file_path": "b.txt", "old_string": "peer", "new_string": "gemini"})
    out = answer(run_hook(lane, cmd["BeforeTool"], edit))
    assert out["decision"] == "deny" and "b.txt" in out["reason"] and "peer" in out["reason"]
    # run_shell_command: the rewritten command runs git through the shim, in this session
    shell = gemini(lane, "BeforeTool", tool_name="run_shell_command",
                   tool_input={"command": "git add g.py && git lane prompt", "description": "stage"})
    out = answer(run_hook(lane, cmd["BeforeTool"], shell))
    rewritten = out["hookSpecificOutput"]["tool_input"]["command"]
    assert rewritten.endswith("git add g.py && git lane prompt")
    lane.write("g.py", "g\n")
    env = {k: v for k, v in shim_env().items() if k not in ("GITLANE_SESSION", "GITLANE_SESSION_PID")}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if p != str(SHIM))
    subprocess.run(["bash", "-c", rewritten], cwd=lane.path, env=env, check=True, capture_output=True, timeout=60)
    assert lane.staged(GEMINI_SID) == {"g.py"}
    answer(run_hook(lane, cmd["SessionEnd"], gemini(lane, "SessionEnd", reason="exit")))
    assert rows(lane, f"SELECT ended IS NOT NULL FROM sessions WHERE name = '{GEMINI_SID}'") == [(1,)]
