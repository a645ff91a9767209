"""napari dock widgets: Qt and layer plumbing only; the science they show lives in ``core``."""
