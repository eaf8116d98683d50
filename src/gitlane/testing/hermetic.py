"""The hermetic environment: real git with no user or system configuration,
a fixed identity and fixed dates, no session and no shim on PATH.

The one definition used by the test suite (tests/conftest.py), the
benchmarks (bench/benchlib.py) and `gitlane demo` (testing.torture), after
git-revise's hermetic seal. Stdlib only: the demo runs under `python -I -S`.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

from gitlane.git import realgit

FIXED_DATE = "1112911993 -0700"
GITCONFIG = ("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
             "[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n")
# What a caller may want to keep from the outer environment (debugging).
KEEP = ("GITLANE_TRACE", "GITLANE_LOCK_TIMEOUT")


def inherited(key: str) -> bool:
    """Variables of the outer environment that would steer git or gitlane."""
    return key.startswith(("GIT_", "GITLANE_", "CLAUDE_CODE_")) and key not in KEEP


def env(home: str, base: Mapping[str, str] | None = None, real: str | None = None) -> dict[str, str]:
    """A clean environment rooted at `home` (created, with its .gitconfig).
    PATH keeps the outer PATH minus gitlane's shim folders; callers that
    want the shim put it first themselves."""
    base = os.environ if base is None else base
    out = {k: v for k, v in base.items() if not inherited(k)}
    os.makedirs(os.path.join(home, ".config"), exist_ok=True)
    with open(os.path.join(home, ".gitconfig"), "w", encoding="utf-8") as f:
        f.write(GITCONFIG)
    out.update({
        "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.path.join(home, ".gitconfig"),
        "GIT_AUTHOR_NAME": "A U Thor", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "C O Mitter", "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE,
        "GIT_EDITOR": "false", "GIT_PAGER": "cat", "PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
        "PATH": realgit.path_without_shims(base.get("PATH", "/usr/bin:/bin")),
    })
    out["GITLANE_REAL_GIT"] = real or realgit.find({"PATH": out["PATH"]})
    return out


def session_env(base: Mapping[str, str], shim_dir: str, name: str, pid: int | None = None) -> dict[str, str]:
    """`base` as a session `name` owned by `pid` (this process by default)
    sees it: the shim first on PATH."""
    out = dict(base)
    out["PATH"] = shim_dir + os.pathsep + out.get("PATH", "")
    out["GITLANE_SESSION"] = name
    out["GITLANE_SESSION_PID"] = str(pid if pid is not None else os.getpid())
    return out
