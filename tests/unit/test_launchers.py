"""gitlane.launchers: the one generator of the shim launchers, for install.sh
and for installs as a tool."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitlane import launchers
from gitlane.testing.lane import ROOT


def test_render_bakes_every_placeholder() -> None:
    for name in launchers.NAMES:
        text = launchers.render(name, "/d/shim", "/v/bin/python", "/v/src", "/v/site")
        assert "@" not in text.replace("$@", "").replace('"$@"', "")
        assert "'/v/bin/python'" in text and "'/v/src'" in text and "'/v/site'" in text
        assert text.startswith("#!/bin/sh\n")
    assert "self='/d/shim/git'" in launchers.render("git", "/d/shim", "/p", "/s", "/t")


def test_render_refuses_a_quote_it_cannot_bake() -> None:
    with pytest.raises(ValueError):
        launchers.render("git", "/it's", "/p", "/s", "/t")


def test_default_dir_follows_xdg() -> None:
    assert launchers.default_dir({"XDG_DATA_HOME": "/x/data"}) == "/x/data/gitlane/shim"
    assert launchers.default_dir({}) == os.path.join(os.path.expanduser("~"), ".local", "share", "gitlane", "shim")


def test_ensure_creates_then_leaves_alone_then_repairs(tmp_path: Path) -> None:
    shim = tmp_path / "data" / "gitlane" / "shim"
    assert launchers.ensure(str(shim)) == list(launchers.NAMES)
    assert (shim / launchers.MARKER).exists()
    stats = {n: (shim / n).stat() for n in launchers.NAMES}
    assert all(os.access(shim / n, os.X_OK) for n in launchers.NAMES)
    assert f"'{sys.executable}'" in (shim / "gitlane").read_text()
    assert launchers.ensure(str(shim)) == []
    assert {n: ((shim / n).stat().st_ino, (shim / n).stat().st_mtime_ns) for n in launchers.NAMES} == \
        {n: (s.st_ino, s.st_mtime_ns) for n, s in stats.items()}
    (shim / "git").write_text("#!/bin/sh\necho stale\n")
    (shim / "gitlane").chmod(0o644)
    assert launchers.ensure(str(shim)) == ["git", "gitlane"]
    assert sorted(p.name for p in shim.iterdir()) == sorted([*launchers.NAMES, launchers.MARKER])


def test_ensure_wants_an_absolute_interpreter(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        launchers.ensure(str(tmp_path / "s"), python="python3")


def test_the_clones_launchers_are_what_the_generator_makes() -> None:
    """install.sh made shim/ with this module (one copy of the shell code)."""
    for name in launchers.NAMES:
        text = (ROOT / "shim" / name).read_text()
        python = text.split("exec '", 1)[1].split("'", 1)[0] if name != "git" else \
            text.rsplit("exec '", 1)[1].split("'", 1)[0]
        site = text.rsplit("' '", 1)[1].split("'", 1)[0]
        assert text == launchers.render(name, str(ROOT / "shim"), python, str(ROOT / "src"), site)


def test_module_entry_point_for_install_sh(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "gitlane.launchers", str(tmp_path / "shim"), "--src", "/s"], check=True)
    assert "'/s'" in (tmp_path / "shim" / "git").read_text()
