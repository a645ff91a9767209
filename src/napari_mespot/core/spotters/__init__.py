"""Spotting methods, one sub-package per method; :mod:`.base` holds the contract they share."""

from .base import SkippedSpan, SpotResult, Spotter

__all__ = ["SkippedSpan", "SpotResult", "Spotter"]
