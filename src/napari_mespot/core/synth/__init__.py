"""Synthetic face videos with ground truth (the first generator)."""
