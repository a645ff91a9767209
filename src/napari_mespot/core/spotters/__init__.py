"""Spotting methods, one sub-package per method; :mod:`.base` holds the contract they share."""

from napari_mespot.core.spotters.base import SkippedSpan, SpotResult, Spotter

__all__ = ["SkippedSpan", "SpotResult", "Spotter"]
