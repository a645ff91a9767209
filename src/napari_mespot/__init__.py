"""napari-mespot: spot, explain, review and export facial micro- and macro-expressions."""

__version__ = "0.1.0"
