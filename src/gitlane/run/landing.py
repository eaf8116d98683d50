"""Did the commit land? After the real git returns, the session's base may
become the new HEAD only if git created the very commit it was asked for
(docs/DESIGN.md, "Invariants", 10: no commit is undone).

A commit that fails after git rewrote our index (a refresh, the cache tree)
still leaves the same entries on the old base. If a person committed
meanwhile, HEAD is theirs: taking it as our base would make our retry revert
it (`cannot lock ref 'HEAD': is at ... but expected ...`). Keeping the old
base is always safe: the next rebase (old -> index -> HEAD) is idempotent,
so even a commit that did land is merged back in without loss.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence


def moves_base(commit: bool, amend: bool, status: int, old: str, new: str,
               new_parents: Sequence[str] | None, old_parents: Sequence[str] | None,
               empty_tree: str) -> bool:
    """True when the session's base should become `new`. `commit` is a plain
    `git commit` (the only command whose result we can recognise); other
    ref-moving commands move the base whenever git exited by itself, even
    with a failure: a rebase, `am` or `pull --rebase` that stops at a
    conflict has moved HEAD and written the index on it (git writes the index
    before it moves a ref), so the old base would make `--continue` rebase
    the resolution back onto the pre-rebase tip. A killed git keeps the old
    base (the next rebase is idempotent)."""
    if new == old:
        return False
    if not commit:
        return status & 0x7F == 0  # exited (any code), not killed by a signal
    if status != 0 or new_parents is None:
        return False
    if amend:
        return old_parents is not None and list(new_parents) == list(old_parents)
    if old == empty_tree:
        return list(new_parents) == []
    return bool(new_parents) and new_parents[0] == old
