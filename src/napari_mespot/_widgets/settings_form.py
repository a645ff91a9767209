"""A magicgui form for a frozen settings dataclass, so docks show every core setting without
restating it: the dataclass (and its docstring) stays the one place a setting is defined."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from magicgui import widgets


def settings_form(
    cls: type, choices: Mapping[str, Sequence[Any]] | None = None, skip: Sequence[str] = ()
) -> widgets.Container:
    """One widget per simple field of ``cls`` (float, int, bool, str, optional choice).

    ``choices`` turns a field into a combo box (``None`` among them means "use the default");
    fields of other types (mappings, …) and those in ``skip`` are left out and keep their default.
    """
    choices = dict(choices or {})
    hints = typing.get_type_hints(cls)
    form = widgets.Container(labels=True)
    for f in dataclasses.fields(cls):
        if f.name in skip or f.default is dataclasses.MISSING:
            continue
        label = f.name.replace("_", " ")
        if f.name in choices:
            options = list(choices[f.name])
            widget = widgets.ComboBox(
                name=f.name,
                label=label,
                choices=[(("default" if c is None else str(c)), c) for c in options],
                value=f.default,
            )
        elif hints[f.name] is bool:
            widget = widgets.CheckBox(name=f.name, label=label, value=f.default)
        elif hints[f.name] is int:
            widget = widgets.SpinBox(name=f.name, label=label, value=f.default, min=0, max=10_000)
        elif hints[f.name] is float:
            widget = widgets.FloatSpinBox(
                name=f.name, label=label, value=f.default, min=0.0, max=1e6, step=0.01
            )
        elif hints[f.name] is str:
            widget = widgets.LineEdit(name=f.name, label=label, value=f.default)
        else:
            continue
        form.append(widget)
    return form


def form_values(form: widgets.Container) -> dict[str, Any]:
    return {w.name: w.value for w in form}
