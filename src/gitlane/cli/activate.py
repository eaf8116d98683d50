"""`gitlane activate` / `gitlane deactivate`: shell code to eval, one
interface per shell (direnv's and pyenv's conventions). Idempotent: PATH gets
the shim once. The code keeps `$?` as it was."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gitlane import session
from gitlane.errors import Fatal

SHELLS = ("bash", "zsh", "sh", "fish")
_ADJ = "amber brisk calm deft eager fair gentle hardy keen lucid mellow nimble quiet rapid sly tidy vivid witty".split()
_NOUN = "otter lark heron lynx marten finch badger ibis koala newt puffin quail raven stoat tern wren yak zebu".split()


def configure(p: argparse.ArgumentParser, name: str) -> None:
    if name == "activate":
        p.add_argument("name", nargs="?", help="session name (default: a generated readable one)")
        p.add_argument("--label", help="free text shown by `gitlane status`")
    p.add_argument("--shell", choices=SHELLS, help="shell dialect (default: from $SHELL)")


def run(args: argparse.Namespace) -> int:
    shell = args.shell or _guess_shell()
    if sys.stdout.isatty():
        return _explain(args.command, shell)
    if args.command == "deactivate":
        return _deactivate(shell)
    name = session.validate(args.name) if args.name else _generate_name()
    _register(name, getattr(args, "label", None))
    sys.stdout.write(activate_code(shell, shim_dir(), name))
    return 0


def shim_dir() -> str:
    return os.environ.get("GITLANE_SHIM_DIR") or str(Path(__file__).resolve().parents[3] / "shim")


def _guess_shell() -> str:
    base = os.path.basename(os.environ.get("SHELL", "sh"))
    return base if base in SHELLS else "sh"


def _generate_name() -> str:
    raw = os.urandom(3)
    return f"{_ADJ[raw[0] % len(_ADJ)]}-{_NOUN[raw[1] % len(_NOUN)]}-{raw[2]:02x}"


def _explain(command: str, shell: str) -> int:
    run_it = f"gitlane {command} --shell fish | source" if shell == "fish" else f'eval "$(gitlane {command})"'
    what = "open a gitlane session in this shell" if command == "activate" else "close this shell's session"
    sys.stderr.write(f"gitlane {command} prints shell code; to {what}, run:\n\n    {run_it}\n\n")
    return 1


def _register(name: str, label: str | None) -> None:
    """Record the session now if we are in a repository (the shell is the
    owner); elsewhere the first git command in a repository records it."""
    from gitlane import registry
    from gitlane.cli.common import open_env
    env = open_env(need_repo=False)
    if env is None:
        return
    try:
        registry.register(env.conn, name, os.environ, os.getcwd(), label=label, pid=os.getppid())
    except (Fatal, OSError):
        pass  # a read-only repository: the session still works for reading


def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def activate_code(shell: str, shim: str, name: str) -> str:
    q = sh_quote(shim)
    if shell == "fish":
        return (f"if not contains -- {q} $PATH; set -gx PATH {q} $PATH; set -gx GITLANE_PATH_ADDED 1; end\n"
                f"set -gx GITLANE_SESSION {sh_quote(name)}\nset -gx GITLANE_SESSION_PID $fish_pid\n")
    return (f"__gitlane_s=$?\n"
            f"case \":${{PATH}}:\" in *:{q}:*) ;; *) PATH={q}\"${{PATH:+:$PATH}}\"; "
            f"export PATH; GITLANE_PATH_ADDED=1; export GITLANE_PATH_ADDED ;; esac\n"
            f"GITLANE_SESSION={sh_quote(name)}; export GITLANE_SESSION\n"
            f"GITLANE_SESSION_PID=$$; export GITLANE_SESSION_PID\n"
            f"eval \"unset __gitlane_s; (exit $__gitlane_s)\"\n")


def _deactivate(shell: str) -> int:
    name = os.environ.get("GITLANE_SESSION")
    if name:
        _end(name)
    shim = shim_dir()
    path = os.environ.get("PATH", "")
    if os.environ.get("GITLANE_PATH_ADDED"):
        path = remove_first(path, shim)
    sys.stdout.write(deactivate_code(shell, path))
    return 0


def _end(name: str) -> None:
    from gitlane import registry
    from gitlane.cli.common import open_env
    try:
        env = open_env(need_repo=False)
        if env is not None and registry.get(env.conn, name) is not None:
            registry.end(env.conn, name)
    except (Fatal, OSError):
        pass


def remove_first(path: str, entry: str) -> str:
    parts = path.split(":")
    if entry in parts:
        parts.remove(entry)
    return ":".join(parts)


def deactivate_code(shell: str, path: str) -> str:
    if shell == "fish":
        entries = " ".join(sh_quote(p) for p in path.split(":") if p)
        return (f"set -gx PATH {entries}\n"
                "set -e GITLANE_SESSION; set -e GITLANE_SESSION_PID; set -e GITLANE_PATH_ADDED\n")
    return ("__gitlane_s=$?\n"
            f"if [ -n \"${{GITLANE_PATH_ADDED:-}}\" ]; then PATH={sh_quote(path)}; export PATH; fi\n"
            "unset GITLANE_SESSION GITLANE_SESSION_PID GITLANE_PATH_ADDED\n"
            "eval \"unset __gitlane_s; (exit $__gitlane_s)\"\n")
