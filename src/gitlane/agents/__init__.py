"""The coding agents gitlane integrates with (Claude Code, Codex CLI, Gemini
CLI): what their hooks send (agents.event) and where their hook
configuration lives (agents.config)."""
