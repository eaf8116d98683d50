"""The shim launchers (`git`, `gitlane`, `git-lane`): generated from the
templates in gitlane/shim/*.in, with the interpreter's absolute path and the
folders to import gitlane from baked in, so the hot path starts Python with
-I -S and no site lookup. One generator for both ways of installing:
install.sh runs `python -m gitlane.launchers SHIM_DIR` for a clone; a
pipx/uv/pip install makes them on first use in `$XDG_DATA_HOME/gitlane/shim`
(default_dir). Idempotent: a launcher is rewritten only when it differs.
"""
from __future__ import annotations

import os
import sys

NAMES = ("git", "gitlane", "git-lane")
MARKER = ".gitlane-shim"  # the git launcher skips folders holding it when it looks for the real git
_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")


def template(name: str) -> str:
    with open(os.path.join(_TEMPLATES, name + ".in"), encoding="utf-8") as f:
        return f.read()


def render(name: str, shim_dir: str, python: str, src: str, site: str) -> str:
    text = template(name)
    for key, value in (("@SHIM_DIR@", shim_dir), ("@PYTHON@", python), ("@SRC@", src), ("@SITE@", site)):
        if "'" in value:
            raise ValueError(f"cannot bake a path containing a single quote into a launcher: {value!r}")
        text = text.replace(key, value)
    return text


def default_dir(environ: "os._Environ[str] | dict[str, str]") -> str:
    data = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "gitlane", "shim")


def package_root() -> str:
    """The folder that holds the gitlane package (a clone's src/, or site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def site_dir() -> str:
    import sysconfig
    return sysconfig.get_paths()["purelib"]


def ensure(shim_dir: str, python: str | None = None, src: str | None = None, site: str | None = None) -> list[str]:
    """Make shim_dir hold current launchers; the names written (none when
    all were already up to date)."""
    python = python or sys.executable
    if not os.path.isabs(python):
        raise ValueError(f"the launcher's interpreter must be an absolute path, not {python!r}")
    src, site = src or package_root(), site or site_dir()
    os.makedirs(shim_dir, exist_ok=True)
    marker = os.path.join(shim_dir, MARKER)
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8") as f:
            f.write("gitlane shim folder: the git launcher skips it when looking for the real git\n")
    written = []
    for name in NAMES:
        text = render(name, shim_dir, python, src, site)
        target = os.path.join(shim_dir, name)
        try:
            with open(target, encoding="utf-8") as f:
                if f.read() == text and os.access(target, os.X_OK):
                    continue
        except OSError:
            pass
        tmp = os.path.join(shim_dir, f".{name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m gitlane.launchers SHIM_DIR [--src DIR]`, for install.sh."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m gitlane.launchers")
    p.add_argument("shim_dir")
    p.add_argument("--src", help="the folder to import gitlane from (default: where it is now)")
    args = p.parse_args(argv)
    ensure(os.path.abspath(args.shim_dir), src=args.src)
    return 0


if __name__ == "__main__":
    sys.exit(main())
