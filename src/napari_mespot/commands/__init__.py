"""Sub-commands of ``mespot``: one module each, each with ``register(subparsers)``.

Modules import heavy dependencies (torch, mediapipe, napari) inside their functions, so that
``mespot --help`` stays fast.
"""
