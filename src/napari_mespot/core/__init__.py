"""Qt-free core of napari-mespot.

Everything the CLI, the napari widgets and the tests share lives here; nothing in this
package may import Qt or napari (a test enforces it).
"""
