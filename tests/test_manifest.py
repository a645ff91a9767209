"""The npe2 manifest is valid and every reference in it resolves."""

from __future__ import annotations

import importlib

import npe2
import pytest


@pytest.fixture(scope="module")
def manifest() -> npe2.PluginManifest:
    return npe2.PluginManifest.from_distribution("napari-mespot")


def test_manifest_is_found_through_the_entry_point(manifest):
    assert manifest.name == "napari-mespot"


def test_every_command_points_at_a_callable(manifest):
    for command in manifest.contributions.commands:
        module_name, _, attr = command.python_name.partition(":")
        target = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        assert callable(target), command.id


def test_every_contribution_refers_to_a_declared_command(manifest):
    declared = {c.id for c in manifest.contributions.commands}
    contributions = manifest.contributions
    referenced = [r.command for r in contributions.readers or []]
    referenced += [w.command for w in contributions.writers or []]
    referenced += [w.command for w in contributions.widgets or []]
    referenced += [s.command for s in contributions.sample_data or [] if hasattr(s, "command")]
    for menu_items in (contributions.menus or {}).values():
        referenced += [m.command for m in menu_items if hasattr(m, "command")]
    missing = sorted(set(referenced) - declared)
    assert not missing, f"manifest references undeclared commands: {missing}"
    unused = sorted(declared - set(referenced))
    assert not unused, f"declared commands nothing uses: {unused}"


def test_npe2_validate_accepts_the_manifest():
    from npe2.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["validate", "napari-mespot"])
    assert result.exit_code == 0, result.output
