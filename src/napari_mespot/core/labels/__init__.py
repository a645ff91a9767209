"""Readers and writers of the label formats of DESIGN.md §5."""
