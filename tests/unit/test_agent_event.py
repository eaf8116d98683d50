"""gitlane.agents.event: every agent's documented hook payloads parse into
one Event, and gitlane's answers come back in each agent's own dialect.
The payloads (and where each one is documented) are in
fixtures/agent_payloads.json."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitlane.agents import event as agent_event

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "agent_payloads.json").read_text())
DENY = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                               "permissionDecisionReason": "gitlane: a.py is owned by x"}}
WARN = {"systemMessage": "gitlane: a.py is owned", "hookSpecificOutput": {"hookEventName": "PreToolUse",
                                                                           "additionalContext": "Warning: a.py"}}
START = {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "two sentences"}}


def test_every_agent_is_documented() -> None:
    assert set(FIXTURE["_sources"]) == set(agent_event.AGENTS)
    assert {c["agent"] for c in FIXTURE["cases"]} == set(agent_event.AGENTS)


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: f"{c['agent']}-{c['phase']}-{c['payload'].get('tool_name', '')}")
def test_documented_payload_parses(case: dict) -> None:
    ev = agent_event.parse(case["agent"], case["phase"], case["payload"], environ={}, default_cwd="/elsewhere")
    got = ev.as_dict()
    got["paths"] = list(got["paths"])
    assert got == {"agent": case["agent"], "phase": case["phase"], **case["event"]}


@pytest.mark.parametrize("agent,var", [("claude", "CLAUDE_CODE_SESSION_ID"), ("codex", "CODEX_SESSION_ID"),
                                       ("gemini", "GEMINI_SESSION_ID")])
def test_session_from_the_agents_variable_when_the_payload_has_none(agent: str, var: str) -> None:
    ev = agent_event.parse(agent, "session-end", {"cwd": "/r"}, environ={var: "from-env"})
    assert ev.session == "from-env"
    assert agent_event.parse(agent, "session-end", {"cwd": "/r", "session_id": "p"}, environ={var: "e"}).session == "p"


@pytest.mark.parametrize("payload", [
    {"tool_name": "Edit", "tool_input": "not an object"},
    {"tool_name": "Edit", "tool_input": {"file_path": 7}},
    {"tool_name": 3, "tool_input": {}},
    {"tool_name": "Bash", "tool_input": {"command": None}},
])
def test_odd_payloads_give_an_event_without_paths(payload: dict) -> None:
    ev = agent_event.parse("claude", "pre-tool-use", {"session_id": "s", "cwd": "/r", **payload}, environ={})
    assert ev.paths == ()


def test_unknown_agent_or_phase_is_refused() -> None:
    with pytest.raises(ValueError):
        agent_event.parse("cursor", "pre-tool-use", {}, environ={})
    with pytest.raises(ValueError):
        agent_event.parse("claude", "stop", {}, environ={})


def test_claude_replies_unchanged() -> None:
    ev = agent_event.Event("claude", "pre-tool-use", "s", "/r")
    assert agent_event.reply(ev, DENY) == (DENY, 0, "")
    assert agent_event.reply(ev, None) == (None, 0, "")


@pytest.mark.parametrize("phase,out,want", [
    ("pre-tool-use", DENY, DENY),
    ("pre-tool-use", WARN, WARN),
    ("pre-tool-use", None, None),
    ("post-tool-use", None, None),
    ("session-start", START, {"hookSpecificOutput": {"hookEventName": "SessionStart",
                                                     "additionalContext": "two sentences",
                                                     "env": {"GITLANE_SESSION": "s", "PATH": "/shim:/usr/bin"}}}),
])
def test_codex_replies(phase: str, out: dict | None, want: dict | None) -> None:
    ev = agent_event.Event("codex", phase, "s", "/r")
    extra = {"GITLANE_SESSION": "s", "PATH": "/shim:/usr/bin"} if phase == "session-start" else None
    assert agent_event.reply(ev, out, extra) == (want, 0, "")


def test_codex_replies_carry_only_fields_its_schema_allows() -> None:
    """Codex's output schemas say additionalProperties: false (openai/codex,
    codex-rs/hooks/schema/generated/*.command.output.schema.json)."""
    top = {"continue", "hookSpecificOutput", "stopReason", "suppressOutput", "systemMessage"}
    inner = {"pre-tool-use": {"additionalContext", "hookEventName", "permissionDecision", "permissionDecisionReason",
                              "updatedInput"},
             "session-start": {"additionalContext", "env", "hookEventName"}}
    for phase, out in (("pre-tool-use", DENY), ("pre-tool-use", WARN), ("session-start", START)):
        got, _, _ = agent_event.reply(agent_event.Event("codex", phase, "s", "/r"), out, {"PATH": "/x"})
        assert set(got) <= top
        assert set(got.get("hookSpecificOutput", {})) <= inner[phase]


@pytest.mark.parametrize("phase,out,want", [
    ("pre-tool-use", DENY, {"decision": "deny", "reason": "gitlane: a.py is owned by x"}),
    ("pre-tool-use", WARN, {"systemMessage": "gitlane: a.py is owned"}),
    ("pre-tool-use", {"hookSpecificOutput": {"tool_input": {"command": "X; ls"}}},
     {"hookSpecificOutput": {"hookEventName": "BeforeTool", "tool_input": {"command": "X; ls"}}}),
    ("session-start", START, START),
    ("session-end", None, None),
])
def test_gemini_replies(phase: str, out: dict | None, want: dict | None) -> None:
    assert agent_event.reply(agent_event.Event("gemini", phase, "s", "/r"), out) == (want, 0, "")


def test_shell_prefix_runs_the_command_in_the_session(tmp_path: Path) -> None:
    shim = tmp_path / "it's shim"
    shim.mkdir()
    prefix = agent_event.shell_prefix(str(shim), "gem-1")
    res = subprocess.run(["bash", "-c", prefix + 'echo "$GITLANE_SESSION"; echo "${PATH%%:*}"'],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=True)
    assert res.stdout.splitlines() == ["gem-1", str(shim)]
