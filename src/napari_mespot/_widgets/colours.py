"""The review docks' one colour scheme, as hex strings that Qt and matplotlib both take.

An expression type has one colour wherever it is drawn — the timeline's lanes, the Curves and
Compare plots' shaded intervals, the legends — so an annotator who learnt "blue is ME" on one
dock is not misled on the next. Only names live here; each dock turns them into its toolkit's
colour objects.
"""

from __future__ import annotations

#: Expression types: ME blue, MaE orange (readable on napari's dark theme and on white plots).
TYPE_COLOURS = {"me": "#4fa3f7", "mae": "#f0a030"}
#: A reviewed interval's border, by its status (a candidate has none; a rejected one is hatched).
STATUS_COLOURS = {"accepted": "#5fd35f", "edited": "#ffd84a", "added": "#55e0e0", "rejected": "#e05050"}
#: A comparison's outcome strips: found, false alarm, missed.
OUTCOME_COLOURS = {"tp": "#3cc85a", "fp": "#e63c3c", "fn": "#ffa000"}
#: Annotators' disagreements, seen from annotator A (in the reference's role, as in Compare):
#: only A marked it (B missed it), only B marked it (a false alarm to A), typed differently.
DISAGREEMENT_COLOURS = {
    "only_a": OUTCOME_COLOURS["fn"],
    "only_b": OUTCOME_COLOURS["fp"],
    "type": STATUS_COLOURS["edited"],
}
#: The playhead (the current frame) on the timeline.
PLAYHEAD = "#ff4d4d"
#: Frames a spotter did not analyse (no face), shaded in the plots.
SKIPPED = "#000000"


def swatch(colour: str, text: str) -> str:
    """Rich text: a square of ``colour`` before ``text`` (the docks' legends)."""
    return f"<span style='color:{colour}'>■</span> {text}"


def coloured(colour: str, text: str) -> str:
    """Rich text: ``text`` in ``colour``."""
    return f"<span style='color:{colour}'>{text}</span>"
