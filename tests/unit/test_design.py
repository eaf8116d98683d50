"""docs/DESIGN.md is what comments cite (`docs/DESIGN.md, "<Section name>"`):
every cited section exists, under exactly that name."""
from __future__ import annotations

import re
from pathlib import Path

from gitlane.testing.lane import ROOT

DESIGN = ROOT / "docs" / "DESIGN.md"
CITED_IN = ("src", "tests", "bench", "shim", "install.sh", "README.md")
_QUOTED = re.compile(r'"([^"\n]+)"')


def sections() -> set[str]:
    return {line.lstrip("#").strip() for line in DESIGN.read_text().splitlines() if line.startswith("#")}


def citations() -> list[tuple[str, str]]:
    """(where, section) for every quoted name after a mention of DESIGN.md on a line."""
    found = []
    for top in CITED_IN:
        base = ROOT / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            if path == Path(__file__) or path.suffix not in ("", ".py", ".md", ".in", ".sh"):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                at = line.find("DESIGN.md")
                if at < 0:
                    continue
                rest = line[at:].split(")")[0]
                found += [(f"{path.relative_to(ROOT)}:{n}", name) for name in _QUOTED.findall(rest)]
    return found


def test_every_cited_section_exists() -> None:
    have = sections()
    cited = citations()
    assert len(cited) >= 10  # the scan itself works
    assert [(where, name) for where, name in cited if name not in have] == []


def test_the_sections_helpers_extend_exist() -> None:
    have = sections()
    assert {"Verified git facts", "On-disk format", "Invariants", "Locks", "Git locks", "Session index",
            "View isolation", "Performance budget", "Layers", "Flows"} <= have
