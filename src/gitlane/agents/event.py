"""One hook contract for every agent.

Claude Code, Codex CLI and Gemini CLI all send a JSON object on the hook's
stdin (`session_id`, `cwd`, `hook_event_name`, and for tool events
`tool_name` + `tool_input`), but they name their tools and their events
differently and want different replies on stdout. `parse` turns any of them
into one `Event`; `reply` turns gitlane's answer (written in Claude Code's
dialect, the first one gitlane spoke) into the agent's own. Nothing here
touches the repository: both are pure functions, tested by tables against
the documented payloads in tests/unit/fixtures/agent_payloads.json.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

AGENTS = ("claude", "codex", "gemini")
PHASES = ("session-start", "pre-tool-use", "post-tool-use", "session-end")

# tool name -> the tool_input keys that name the file it writes
EDIT_TOOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "claude": {"Edit": ("file_path",), "Write": ("file_path",), "MultiEdit": ("file_path",),
               "NotebookEdit": ("notebook_path",)},
    "codex": {},  # apply_patch: the paths are inside the patch text (see _patch_paths)
    "gemini": {"write_file": ("file_path",), "replace": ("file_path",), "edit": ("file_path",)},
}
SHELL_TOOLS = {"claude": ("Bash",), "codex": ("Bash", "shell", "local_shell", "exec_command"),
               "gemini": ("run_shell_command",)}
PATCH_TOOLS = {"codex": ("apply_patch",)}
# where an agent keeps its session id in the hook's environment when the payload lacks it
SESSION_ENV = {"claude": "CLAUDE_CODE_SESSION_ID", "codex": "CODEX_SESSION_ID", "gemini": "GEMINI_SESSION_ID"}
LABEL = {"claude": "claude-code", "codex": "codex", "gemini": "gemini-cli"}
_PATCH_LINE = r"^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+?)\s*$"  # re loads only for patches


class Event:
    """What one hook call is about, whichever agent sent it. `paths` are
    absolute (joined to cwd) and say what an edit tool writes; `command` is
    the shell command of a shell tool. A tool that is neither has both empty."""

    __slots__ = ("agent", "phase", "session", "cwd", "tool", "paths", "command")

    def __init__(self, agent: str, phase: str, session: str, cwd: str, tool: str | None = None,
                 paths: tuple[str, ...] = (), command: str | None = None) -> None:
        self.agent, self.phase, self.session, self.cwd = agent, phase, session, cwd
        self.tool, self.paths, self.command = tool, paths, command

    @property
    def is_edit(self) -> bool:
        return bool(self.paths)

    @property
    def is_shell(self) -> bool:
        return self.command is not None

    @property
    def label(self) -> str:
        return LABEL[self.agent]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self) -> str:
        return f"Event({self.as_dict()!r})"


def parse(agent: str, phase: str, payload: Mapping[str, Any], environ: Mapping[str, str] | None = None,
          default_cwd: str | None = None) -> Event:
    """The event in payload. The session is the agent's own session id
    (payload first, then the agent's variable); validation is the caller's."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}")
    if phase not in PHASES:
        raise ValueError(f"unknown hook phase {phase!r}")
    env = os.environ if environ is None else environ
    session = str(payload.get("session_id") or env.get(SESSION_ENV[agent]) or "")
    cwd = str(payload.get("cwd") or default_cwd or os.getcwd())
    tool = payload.get("tool_name")
    if phase not in ("pre-tool-use", "post-tool-use") or not isinstance(tool, str):
        return Event(agent, phase, session, cwd)
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, dict):
        tool_input = {}
    paths: list[str] = []
    command = None
    if tool in EDIT_TOOLS[agent]:
        for key in EDIT_TOOLS[agent][tool]:
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                paths.append(value)
                break
    elif tool in PATCH_TOOLS.get(agent, ()):
        paths = _patch_paths(tool_input)
    elif tool in SHELL_TOOLS[agent]:
        raw = tool_input.get("command")
        if isinstance(raw, list):  # Codex's older local_shell sends argv
            raw = " ".join(str(a) for a in raw)
        command = str(raw) if isinstance(raw, str) else ""
        where = tool_input.get("dir_path") or tool_input.get("workdir") or tool_input.get("directory")
        if isinstance(where, str) and where:
            cwd = os.path.join(cwd, where)
    absolute = tuple(dict.fromkeys(os.path.join(cwd, p) for p in paths))
    return Event(agent, phase, session, cwd, tool, absolute, command)


def _patch_paths(tool_input: Mapping[str, Any]) -> list[str]:
    """The files a Codex apply_patch touches: its patch text names each one on
    an `*** Add File:` / `*** Update File:` / `*** Delete File:` / `*** Move to:` line."""
    text = next((v for k in ("command", "input", "patch") if isinstance(v := tool_input.get(k), str)), "")
    import re
    return re.findall(_PATCH_LINE, text, re.M)


def reply(event: Event, out: dict[str, Any] | None, extra_env: Mapping[str, str] | None = None
          ) -> tuple[dict[str, Any] | None, int, str]:
    """(JSON for stdout or None, exit code, stderr text) in the agent's
    dialect, from gitlane's answer `out` written in Claude Code's. A deny is
    `hookSpecificOutput.permissionDecision == "deny"`; `extra_env` is what
    session start wants in the environment of the agent's later shell
    commands, for agents that take it from the hook's reply (Codex)."""
    if event.agent == "claude":
        return out, 0, ""
    spec = (out or {}).get("hookSpecificOutput") or {}
    context = spec.get("additionalContext")
    message = (out or {}).get("systemMessage")
    if event.agent == "codex":
        # Codex rejects unknown fields (its output schemas say additionalProperties: false).
        if event.phase == "session-start":
            body: dict[str, Any] = {"hookEventName": "SessionStart"}
            if context:
                body["additionalContext"] = context
            if extra_env:
                body["env"] = dict(extra_env)
            return {"hookSpecificOutput": body}, 0, ""
        if event.phase == "pre-tool-use" and spec.get("permissionDecision") == "deny":
            return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                           "permissionDecisionReason": spec.get("permissionDecisionReason", "")}}, 0, ""
        if event.phase == "pre-tool-use" and (context or message):
            shaped: dict[str, Any] = {}
            if message:
                shaped["systemMessage"] = message
            if context:
                shaped["hookSpecificOutput"] = {"hookEventName": "PreToolUse", "additionalContext": context}
            return shaped, 0, ""
        return None, 0, ""
    # gemini: `decision`/`reason` at the top; exit 0 with JSON is its preferred form
    if event.phase == "session-start":
        return ({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}}
                if context else None), 0, ""
    if event.phase == "pre-tool-use" and spec.get("permissionDecision") == "deny":
        return {"decision": "deny", "reason": spec.get("permissionDecisionReason", "")}, 0, ""
    if event.phase == "pre-tool-use" and "tool_input" in spec:
        shaped = {"hookSpecificOutput": {"hookEventName": "BeforeTool", "tool_input": spec["tool_input"]}}
        if message:
            shaped["systemMessage"] = message
        return shaped, 0, ""
    if message:
        return {"systemMessage": message}, 0, ""
    return None, 0, ""


def shell_prefix(shim: str, session: str) -> str:
    """What goes in front of a shell command so that it runs in the session
    with the shim first on PATH: for agents whose only way to set a shell
    command's environment is to rewrite the command (Gemini CLI)."""
    return f"export GITLANE_SESSION={_q(session)} PATH={_q(shim)}:\"$PATH\"; "


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
