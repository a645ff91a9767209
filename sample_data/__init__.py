"""Small sample videos shipped with napari-mespot (see LICENSES.md and README.md here)."""
