"""One git invocation as the shim received it, and what it means."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitlane.git.args import Split


class Invocation:
    """argv untouched (for the real run), the global options split off, the
    command after alias resolution, and its kind (run.classify)."""

    __slots__ = ("real", "argv", "split", "command", "args", "kind")

    def __init__(self, real: str, argv: list[str], split: Split, command: str, args: list[str],
                 kind: str) -> None:
        self.real = real
        self.argv = argv
        self.split = split
        self.command = command
        self.args = args
        self.kind = kind

    @property
    def line(self) -> str:
        """git's arguments as the audit log records them."""
        return " ".join(self.argv)

    def holder(self, session: str) -> str:
        from gitlane.shared.locks import holder_line
        return holder_line(session, ("git " + self.line)[:150])

    def real_argv(self) -> list[str]:
        return [self.real, *self.argv]
