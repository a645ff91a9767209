"""The house rules that keep the layers apart (DESIGN.md §3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
    lint = ROOT / ".venv" / "bin" / "lint-imports"
    exe = str(lint) if lint.exists() else "lint-imports"
    result = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "core is Qt-free and napari-free KEPT" in result.stdout
