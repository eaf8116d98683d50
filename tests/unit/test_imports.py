"""The package's import graph: acyclic, counting imports inside functions,
and fastpath (the entry of every in-session git call) importing nothing but
layout and the interpreter's built-in posix modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "gitlane"
FASTPATH_ALLOWED = {"posix", "sys", "fcntl", "_signal", "gitlane.layout"}
LAYOUT_ALLOWED = {"posix"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `name` imports, anywhere in the file (function bodies and
    TYPE_CHECKING blocks included: a circle through them is still a circle
    for a reader)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[:len(parent) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: {m for m in imports_of(name, path, known) if m in known and m != name}
            for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None
    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_imports_no_circle() -> None:
    edges = graph()
    # A package's __init__ imported by its own submodules is a parent, not a circle.
    for name in edges:
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_fastpath_imports_only_layout_and_posix() -> None:
    path = PACKAGE / "fastpath.py"
    found = imports_of("gitlane.fastpath", path, set(modules()))
    assert found <= FASTPATH_ALLOWED, sorted(found - FASTPATH_ALLOWED)


def test_layout_imports_only_posix() -> None:
    found = imports_of("gitlane.layout", PACKAGE / "layout.py", set(modules()))
    assert found <= LAYOUT_ALLOWED, sorted(found - LAYOUT_ALLOWED)


@pytest.mark.parametrize("edges,cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
])
def test_find_cycle_finds_circles(edges: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(edges) == cycle


def test_imports_inside_functions_are_counted(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from gitlane.shared import db\n    import gitlane.layout\n")
    assert imports_of("gitlane.m", src, {"gitlane.shared.db", "gitlane.layout"}) == {
        "gitlane.shared.db", "gitlane.layout"}
