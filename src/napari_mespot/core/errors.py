"""Errors the user can act on.

Every error that reaches the user derives from :class:`MespotError`, so the CLI can print one
readable line and exit non-zero, and the GUI can show the message instead of a traceback.
"""


class MespotError(Exception):
    """Base class of the errors meant for the user."""


class VideoOpenError(MespotError):
    """A path that cannot be opened as a video or an image sequence."""


class VideoReadError(MespotError):
    """A frame that cannot be decoded (truncated or corrupt data)."""


class LabelFormatError(MespotError):
    """A label file that does not follow its format; the message names file, sheet, row, column."""


class UnknownMethodError(MespotError):
    """A spotter, flow method or landmark provider name that nothing registered."""


class DuplicateNameError(MespotError):
    """Two plugins registered the same spotter, method or provider name."""


class OutputError(MespotError):
    """An output that would destroy an input or an existing file, or that cannot be written."""
