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
    if name == "deactivate":  # run by the printed code, so only a shell that evaluates it ends the session
        p.add_argument("--end-session", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    shell = args.shell or _guess_shell()
    if getattr(args, "end_session", False):
        name = os.environ.get("GITLANE_SESSION")
        if name:
            _end(name)
        return 0
    if sys.stdout.isatty():
        return _explain(args.command, shell, getattr(args, "name", None))
    if args.command == "deactivate":
        return _deactivate(shell)
    name = session.validate(args.name) if args.name else _generate_name()
    _register(name, getattr(args, "label", None))
    sys.stdout.write(activate_code(shell, shim_dir(), name, os.environ.get("PATH", "")))
    return 0


def shim_dir() -> str:
    """GITLANE_SHIM_DIR; else a clone's shim/ made by install.sh; else (a
    pipx, uv tool or pip install) the per-user one, made or brought up to
    date here, so the first `gitlane activate` creates it."""
    if os.environ.get("GITLANE_SHIM_DIR"):
        return os.environ["GITLANE_SHIM_DIR"]
    clone = Path(__file__).resolve().parents[3]
    if (clone / "install.sh").is_file() and (clone / "shim" / "gitlane").is_file():
        return str(clone / "shim")
    from gitlane import launchers
    folder = launchers.default_dir(os.environ)
    launchers.ensure(folder)
    return folder


def _guess_shell() -> str:
    base = os.path.basename(os.environ.get("SHELL", "sh"))
    return base if base in SHELLS else "sh"


def _generate_name() -> str:
    raw = os.urandom(3)
    return f"{_ADJ[raw[0] % len(_ADJ)]}-{_NOUN[raw[1] % len(_NOUN)]}-{raw[2]:02x}"


def _explain(command: str, shell: str, name: str | None = None) -> int:
    words = f"{command} {sh_quote(name)}" if name else command
    run_it = f"gitlane {words} --shell fish | source" if shell == "fish" else f'eval "$(gitlane {words})"'
    what = "open a gitlane session in this shell" if command == "activate" else "close this shell's session"
    sys.stderr.write(f"gitlane {command} prints shell code; to {what}, run:\n\n    {run_it}\n\n")
    return 1


def _register(name: str, label: str | None) -> None:
    """Record the session now if we are in a repository (the shell is the
    owner); elsewhere the first git command in a repository records it."""
    from gitlane.shared import sessions
    from gitlane.cli.common import open_env
    env = open_env(need_repo=False)
    if env is None:
        return
    try:
        sessions.register(env.conn, name, os.environ, os.getcwd(), label=label, pid=os.getppid())
    except (Fatal, OSError):
        pass  # a read-only repository: the session still works for reading


def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def activate_code(shell: str, shim: str, name: str, path: str) -> str:
    """The shim must come first on PATH (pyenv's rule): if it is elsewhere we
    move it to the front and remember the old PATH so deactivate can restore
    it exactly. If it is first already (eval'd twice), PATH is left alone."""
    parts = path.split(":") if path else []
    lines = []
    if parts[:1] != [shim]:
        new = ":".join([shim] + [p for p in parts if p != shim])
        if shell == "fish":
            entries = " ".join(sh_quote(p) for p in new.split(":") if p)
            lines.append(f"set -gx GITLANE_OLD_PATH {sh_quote(path)}; set -gx PATH {entries}")
        else:
            lines.append(f"GITLANE_OLD_PATH={sh_quote(path)}; export GITLANE_OLD_PATH; "
                         f"PATH={sh_quote(new)}; export PATH")
    if shell == "fish":
        lines += [f"set -gx GITLANE_SESSION {sh_quote(name)}", "set -gx GITLANE_SESSION_PID $fish_pid"]
        return "\n".join(lines) + "\n"
    return ("__gitlane_s=$?\n" + "".join(line + "\n" for line in lines)
            + f"GITLANE_SESSION={sh_quote(name)}; export GITLANE_SESSION\n"
            "GITLANE_SESSION_PID=$$; export GITLANE_SESSION_PID\n"
            "eval \"unset __gitlane_s; (exit $__gitlane_s)\"\n")


def _deactivate(shell: str) -> int:
    """Only prints: the code ends the session when a shell evaluates it, so
    `gitlane deactivate | cat` (to see what it prints) changes nothing."""
    sys.stdout.write(deactivate_code(shell, restored_path(os.environ, shim_dir()),
                                     os.path.join(shim_dir(), "gitlane")))
    return 0


def restored_path(env: "os._Environ[str] | dict[str, str]", shim: str) -> str | None:
    """PATH as it was before activate, if activate changed it: exactly the old
    value when PATH is still what activate made, otherwise (the user changed
    it since) the current PATH without the shim entry activate put in front."""
    old = env.get("GITLANE_OLD_PATH")
    if old is None:
        return None
    path = env.get("PATH", "")
    made = ":".join([shim] + [p for p in (old.split(":") if old else []) if p != shim])
    if path == made:
        return old
    return remove_first(path, shim)


def _end(name: str) -> None:
    from gitlane.shared import sessions
    from gitlane.cli.common import open_env
    try:
        env = open_env(need_repo=False)
        if env is not None and sessions.get(env.conn, name) is not None:
            from gitlane.run import switch
            switch.leave(env.repo, env.git, name, env.conn)  # its files go back to the shared HEAD's
            sessions.end(env.conn, name)
    except (Fatal, OSError):
        pass


def remove_first(path: str, entry: str) -> str:
    parts = path.split(":")
    if entry in parts:
        parts.remove(entry)
    return ":".join(parts)


def deactivate_code(shell: str, path: str | None, cli: str = "") -> str:
    end = f"{sh_quote(cli)} deactivate --end-session >/dev/null 2>&1\n" if cli else ""
    if shell == "fish":
        restore = "" if path is None else "set -gx PATH " + " ".join(sh_quote(p) for p in path.split(":") if p) + "\n"
        return end + restore + "set -e GITLANE_SESSION; set -e GITLANE_SESSION_PID; set -e GITLANE_OLD_PATH\n"
    restore = "" if path is None else f"PATH={sh_quote(path)}; export PATH\n"
    return ("__gitlane_s=$?\n" + end + restore
            + "unset GITLANE_SESSION GITLANE_SESSION_PID GITLANE_OLD_PATH\n"
            "eval \"unset __gitlane_s; (exit $__gitlane_s)\"\n")
