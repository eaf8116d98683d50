"""gitlane: several agents, one git working tree, nothing lost."""
# No `from __future__ import annotations` here: it imports __future__ (0.14 ms)
# before the fast path even starts, and this file has no annotations.
__version__ = "0.1.0"
