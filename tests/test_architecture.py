"""The house rules that keep the layers apart (docs/architecture.md, "Layers").

import-linter holds the layer contracts (pyproject.toml); the import graph below — built from the
source with lazy imports included — holds what it cannot say: no circles, small modules, a
core whose top level stays small enough to read."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ROOT

FORBIDDEN = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "superqt", "vispy")


def test_core_imports_without_qt_or_napari():
    """Import every core module in a fresh interpreter where Qt and napari cannot be imported."""
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        FORBIDDEN = {FORBIDDEN!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in FORBIDDEN:
                    raise ImportError(f"core imported {{name}}")

        sys.meta_path.insert(0, Block())
        import napari_mespot.core as core
        names = [m.name for m in pkgutil.walk_packages(core.__path__, core.__name__ + ".")]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 5  # the walk really found the modules


def test_import_linter_contract_holds():
    # The interpreter's own environment first: whichever Python runs the suite (3.11 or 3.12).
    lint = Path(sys.executable).parent / "lint-imports"
    exe = str(lint) if lint.exists() else "lint-imports"
    result = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "core is Qt-free and napari-free KEPT" in result.stdout
    assert "core never imports the layers above it KEPT" in result.stdout
    assert "the two spotters are independent of each other KEPT" in result.stdout
    assert " 0 broken" in result.stdout


PACKAGE = ROOT / "src" / "napari_mespot"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports, at module level or inside functions."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{node.module}" if node.module else anchor
                targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        found = {resolve(t) for t in targets if t.startswith("napari_mespot")}
        graph[name] = {t for t in found if t and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, if there is any (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_circle():
    graph = _import_graph()
    assert len(graph) > 50  # the walk really found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_is_over_600_lines():
    sizes = {
        p.relative_to(PACKAGE): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")
    }
    assert {path: n for path, n in sizes.items() if n > 600} == {}


def test_core_keeps_a_small_top_level():
    """Sub-packages carry the pipeline; at most 12 modules sit at core's top level."""
    top = sorted(p.stem for p in (PACKAGE / "core").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 12, top


def _repo_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    suffixes = {".py", ".md", ".toml", ".yaml", ".sh", ".txt", ".cfg"}
    return [ROOT / f for f in listed if Path(f).suffix in suffixes and (ROOT / f).is_file()]


def test_the_code_cites_the_design_in_the_repository_and_its_sections_exist():
    import re

    design = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", design, flags=re.M))
    cited, outside = set(), []
    for path in _repo_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if "DESIGN" + ".md" in text:  # a design file outside the repository
            outside.append(path.relative_to(ROOT))
        cited |= set(re.findall(r"docs/architecture\.md §(\d+(?:\.\d+)?)", text))
    assert outside == []
    assert len(cited) >= 5 and cited <= sections, sorted(cited - sections)
