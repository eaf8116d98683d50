"""gitlane: several agents, one git working tree, nothing lost."""
from __future__ import annotations

__version__ = "0.1.0"
