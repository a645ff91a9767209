"""FACS-like action units as displacements of Face Mesh landmarks (the warped generator's motion).

An action unit is a list of landmark groups, each moved in one direction with a weight per
point; the spline of :mod:`.tps` carries the skin between them. Directions are written for the
image-left half of the face as (outwards, downwards) in the face's own frame (x along the outer
eye corners), and mirrored onto the other half, so one table serves both sides and a tilted face.
Landmarks that no active unit moves stay where they are: the nose, the forehead and the face
outline are always pinned, which keeps every unit's motion on the skin it belongs to.

Each unit's strongest point moves ``amplitude x GAIN[au]`` IOD: the gains keep the units within
what faces do (a lid tightener moves less than a jaw drop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Mirrored landmark groups: (image-left, image-right) index pairs in a fixed order along the group.
PAIRED: dict[str, tuple[tuple[int, int], ...]] = {
    # outer -> inner
    "brow_upper": ((70, 300), (63, 293), (105, 334), (66, 296), (107, 336)),
    "brow_lower": ((46, 276), (53, 283), (52, 282), (65, 295), (55, 285)),
    "lid_crease": ((247, 467), (30, 260), (29, 259), (27, 257), (28, 258), (56, 286), (190, 414)),
    "lid_upper": ((246, 466), (161, 388), (160, 387), (159, 386), (158, 385), (157, 384), (173, 398)),
    "lid_lower": ((7, 249), (163, 390), (144, 373), (145, 374), (153, 380), (154, 381), (155, 382)),
    "eye_corner_outer": ((33, 263),),
    "infraorbital": ((111, 340), (117, 346), (118, 347), (119, 348), (120, 349), (121, 350)),
    "cheek": ((116, 345), (123, 352), (50, 280), (101, 330), (36, 266), (205, 425), (187, 411), (147, 376)),
    "temple": ((143, 372), (156, 383), (124, 353), (35, 265)),
    "nasolabial": ((203, 423), (206, 426), (216, 436), (92, 322)),
    # outer corner, inner corner
    "mouth_corner": ((61, 291), (78, 308)),
    "modiolus": ((57, 287), (43, 273), (106, 335), (212, 432), (214, 434), (186, 410), (202, 422)),
    # corner -> midline
    "lip_upper_outer": ((185, 409), (40, 270), (39, 269), (37, 267)),
    "lip_lower_outer": ((146, 375), (91, 321), (181, 405), (84, 314)),
    "lip_upper_inner": ((191, 415), (80, 310), (81, 311), (82, 312)),
    "lip_lower_inner": ((95, 324), (88, 318), (178, 402), (87, 317)),
    "chin_side": ((201, 421), (208, 428), (32, 262), (171, 396)),
    # chin -> angle of the jaw
    "jaw": ((148, 377), (176, 400), (149, 378), (150, 379), (136, 365)),
}
#: Midline groups (one point each side of nothing): moved only by units acting on both sides.
MIDLINE: dict[str, tuple[int, ...]] = {
    "lip_upper_outer_mid": (0,),
    "lip_lower_outer_mid": (17,),
    "lip_upper_inner_mid": (13,),
    "lip_lower_inner_mid": (14,),
    "chin_boss": (18, 200, 199, 175),
    "chin": (152,),
}
#: Always-present control points that no unit moves unless it names them (nose, forehead, outline).
PINNED: tuple[int, ...] = (
    1, 2, 4, 5, 6, 168, 197, 195, 98, 327, 129, 358, 94,
    10, 109, 338, 67, 297, 103, 332, 54, 284, 151,
    21, 251, 162, 389, 127, 356, 234, 454, 93, 323, 132, 361, 58, 288, 172, 397,
)


@dataclass(frozen=True)
class Move:
    """One group moved in ``direction`` = (outwards, downwards), scaled by ``weights`` per point."""

    group: str
    direction: tuple[float, float]
    weights: float | tuple[float, ...] = 1.0


#: The action units: FACS names, and where the skin goes.
UNITS: dict[int, tuple[Move, ...]] = {
    # Inner brow raiser: the inner ends rise most, a little towards the midline.
    1: (Move("brow_upper", (-0.1, -1.0), (0.15, 0.3, 0.55, 0.85, 1.0)),
        Move("brow_lower", (-0.1, -1.0), (0.12, 0.27, 0.5, 0.8, 0.9))),
    # Outer brow raiser.
    2: (Move("brow_upper", (0.15, -1.0), (1.0, 0.9, 0.6, 0.3, 0.1)),
        Move("brow_lower", (0.15, -1.0), (0.9, 0.8, 0.55, 0.25, 0.1)),
        Move("lid_crease", (0.0, -1.0), (0.3, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05))),
    # Brow lowerer: brows down and together, the upper lid skin pushed down a little.
    4: (Move("brow_upper", (-0.6, 0.8), (0.3, 0.5, 0.75, 0.95, 1.0)),
        Move("brow_lower", (-0.6, 0.8), (0.25, 0.45, 0.7, 0.9, 0.95)),
        Move("lid_crease", (0.0, 1.0), 0.2)),
    # Cheek raiser: cheeks and the skin below the eye lift, crow's feet gather.
    6: (Move("cheek", (0.1, -1.0), (0.6, 0.7, 1.0, 0.8, 0.9, 0.6, 0.8, 0.4)),
        Move("infraorbital", (0.0, -1.0), 0.8),
        Move("lid_lower", (0.0, -1.0), 0.35),
        Move("temple", (-0.7, -0.7), 0.35),
        Move("eye_corner_outer", (-0.3, -1.0), 0.2),
        Move("nasolabial", (0.3, -1.0), 0.3)),
    # Lid tightener: the lower lid rises, the upper lid drops a little.
    7: (Move("lid_lower", (0.0, -1.0), (0.3, 0.7, 1.0, 1.0, 1.0, 0.7, 0.3)),
        Move("lid_upper", (0.0, 1.0), (0.1, 0.25, 0.35, 0.35, 0.35, 0.25, 0.1)),
        Move("infraorbital", (0.0, -1.0), 0.3)),
    # Lip corner puller: corners up and out, dragging the lips, the modiolus and the nasolabial fold.
    12: (Move("mouth_corner", (0.6, -0.8), (1.0, 0.9)),
         Move("modiolus", (0.6, -0.8), (0.7, 0.6, 0.4, 0.6, 0.5, 0.5, 0.5)),
         Move("lip_upper_outer", (0.6, -0.6), (0.7, 0.5, 0.3, 0.1)),
         Move("lip_lower_outer", (0.6, -0.5), (0.7, 0.5, 0.3, 0.1)),
         Move("lip_upper_inner", (0.6, -0.6), (0.7, 0.5, 0.3, 0.1)),
         Move("lip_lower_inner", (0.6, -0.5), (0.7, 0.5, 0.3, 0.1)),
         Move("nasolabial", (0.4, -0.9), 0.35),
         Move("cheek", (0.2, -1.0), (0.0, 0.0, 0.3, 0.3, 0.2, 0.5, 0.4, 0.2))),
    # Dimpler: corners pulled in (towards the midline in a frontal view).
    14: (Move("mouth_corner", (-1.0, -0.1), 1.0),
         Move("modiolus", (-1.0, 0.0), (0.6, 0.6, 0.3, 0.5, 0.4, 0.3, 0.4)),
         Move("lip_upper_outer", (-1.0, 0.0), (0.5, 0.3, 0.1, 0.0)),
         Move("lip_lower_outer", (-1.0, 0.0), (0.5, 0.3, 0.1, 0.0))),
    # Lip corner depressor.
    15: (Move("mouth_corner", (0.25, 1.0), (1.0, 0.9)),
         Move("modiolus", (0.1, 1.0), 0.6),
         Move("lip_lower_outer", (0.0, 1.0), (0.6, 0.4, 0.2, 0.05)),
         Move("lip_upper_outer", (0.1, 1.0), (0.5, 0.3, 0.1, 0.0)),
         Move("chin_side", (0.0, 1.0), 0.25)),
    # Chin raiser: the chin boss pushes the lower lip up.
    17: (Move("chin_boss", (0.0, -1.0), (0.8, 1.0, 0.9, 0.5)),
         Move("chin_side", (0.0, -1.0), (0.6, 0.5, 0.3, 0.2)),
         Move("lip_lower_outer", (0.0, -1.0), (0.2, 0.4, 0.6, 0.7)),
         Move("lip_lower_outer_mid", (0.0, -1.0), 0.75),
         Move("lip_lower_inner", (0.0, -1.0), (0.15, 0.3, 0.45, 0.5)),
         Move("lip_lower_inner_mid", (0.0, -1.0), 0.5),
         Move("mouth_corner", (0.0, 1.0), 0.15)),
    # Lips part: the lower lip drops, the upper lip lifts a little.
    25: (Move("lip_lower_inner", (0.0, 1.0), (0.3, 0.6, 0.85, 1.0)),
         Move("lip_lower_inner_mid", (0.0, 1.0), 1.0),
         Move("lip_lower_outer", (0.0, 1.0), (0.2, 0.5, 0.7, 0.8)),
         Move("lip_lower_outer_mid", (0.0, 1.0), 0.8),
         Move("lip_upper_inner", (0.0, -1.0), (0.1, 0.2, 0.3, 0.35)),
         Move("lip_upper_inner_mid", (0.0, -1.0), 0.35),
         Move("lip_upper_outer_mid", (0.0, -1.0), 0.2)),
    # Jaw drop: chin, jaw line and lower lip go down together.
    26: (Move("chin_boss", (0.0, 1.0), 1.0),
         Move("chin", (0.0, 1.0), 1.0),
         Move("jaw", (0.0, 1.0), (0.9, 0.8, 0.6, 0.4, 0.15)),
         Move("chin_side", (0.0, 1.0), 0.9),
         Move("lip_lower_outer", (0.0, 1.0), 0.85),
         Move("lip_lower_outer_mid", (0.0, 1.0), 0.9),
         Move("lip_lower_inner", (0.0, 1.0), 0.9),
         Move("lip_lower_inner_mid", (0.0, 1.0), 0.95)),
}
#: Talking: a rhythmic open-close of jaw and lips with the corners drawn in. Not an expression.
SPEECH: tuple[Move, ...] = (
    Move("chin_boss", (0.0, 1.0), 0.7),
    Move("chin", (0.0, 1.0), 0.6),
    Move("jaw", (0.0, 1.0), (0.55, 0.5, 0.35, 0.2, 0.05)),
    Move("chin_side", (0.0, 1.0), 0.6),
    Move("lip_lower_outer", (0.0, 1.0), 0.8),
    Move("lip_lower_outer_mid", (0.0, 1.0), 0.85),
    Move("lip_lower_inner", (0.0, 1.0), 1.0),
    Move("lip_lower_inner_mid", (0.0, 1.0), 1.0),
    Move("lip_upper_inner_mid", (0.0, -1.0), 0.3),
    Move("lip_upper_inner", (0.0, -1.0), 0.25),
    Move("mouth_corner", (-1.0, 0.0), 0.3),
)
#: Peak displacement of each unit per unit of amplitude (see the module docstring).
GAIN: dict[int, float] = {1: 1.0, 2: 1.0, 4: 0.8, 6: 0.6, 7: 0.45, 12: 1.0, 14: 0.6, 15: 0.8, 17: 0.8,
                          25: 0.8, 26: 1.2}
SUPPORTED_AUS: tuple[int, ...] = tuple(UNITS)
SIDES = ("both", "left", "right")


@dataclass(frozen=True)
class FaceFrame:
    """A face's own axes: ``x`` from the image-left to the image-right outer eye corner, ``y``
    down the face; ``iod`` the distance between those corners (px)."""

    x: np.ndarray
    y: np.ndarray
    iod: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame:
        across = np.asarray(landmarks[263] - landmarks[33], dtype=np.float64)
        iod = float(np.linalg.norm(across))
        x = across / iod
        return cls(x=x, y=np.array([-x[1], x[0]]), iod=iod)


def control_indices() -> np.ndarray:
    """Every landmark that is a control point of the warp, sorted (the order of all the fields)."""
    idx = set(PINNED)
    for pairs in PAIRED.values():
        for left, right in pairs:
            idx.update((left, right))
    for points in MIDLINE.values():
        idx.update(points)
    return np.array(sorted(idx))


def _blank(landmarks: np.ndarray) -> tuple[FaceFrame, dict[int, int], np.ndarray]:
    """The face's frame, each control landmark's row, and a zero field to fill."""
    controls = control_indices()
    return FaceFrame.of(landmarks), {int(i): k for k, i in enumerate(controls)}, np.zeros((controls.size, 2))


def _weights(move: Move, n: int) -> np.ndarray:
    w = np.broadcast_to(np.asarray(move.weights, dtype=np.float64), (n,))
    if w.shape != (n,):
        raise ValueError(f"{move.group}: {n} points, {np.size(move.weights)} weights")
    return w


def displacement(moves: Sequence[Move], landmarks: np.ndarray, side: str = "both") -> np.ndarray:
    """Control-point displacements (n_controls, 2) in px of ``moves``, strongest point = 1 IOD.

    ``side`` is ``both`` or the image half (``left``/``right``) of a unilateral unit; midline
    groups move only with ``both``.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    frame, column, field = _blank(landmarks)
    for move in moves:
        unit = np.asarray(move.direction, dtype=np.float64)
        unit = unit / np.linalg.norm(unit)
        if move.group in MIDLINE:
            if side == "both":
                points = MIDLINE[move.group]
                for i, w in zip(points, _weights(move, len(points)), strict=True):
                    field[column[i]] += w * unit[1] * frame.y  # no outwards on the midline
            continue
        pairs = PAIRED[move.group]
        weights = _weights(move, len(pairs))
        for (left, right), w in zip(pairs, weights, strict=True):
            if side in ("both", "left"):
                field[column[left]] += w * (-unit[0] * frame.x + unit[1] * frame.y)
            if side in ("both", "right"):
                field[column[right]] += w * (unit[0] * frame.x + unit[1] * frame.y)
    peak = float(np.linalg.norm(field, axis=1).max())
    return field * (frame.iod / peak) if peak > 0 else field


def unit_displacement(au: int, landmarks: np.ndarray, side: str = "both") -> np.ndarray:
    """Control-point displacements (px) of action unit ``au`` at amplitude 1 (IOD), its gain included."""
    if au not in UNITS:
        raise ValueError(f"AU {au} has no motion; supported: {SUPPORTED_AUS}")
    return GAIN[au] * displacement(UNITS[au], landmarks, side)


def blink_displacement(landmarks: np.ndarray) -> np.ndarray:
    """Control-point displacements (px) of closed eyes: each upper-lid point comes down to 92 % of
    the way to the lower-lid point below it, the crease above follows, the lower lid rises a bit."""
    frame, column, field = _blank(landmarks)
    lids = zip(PAIRED["lid_upper"], PAIRED["lid_lower"], PAIRED["lid_crease"], strict=True)
    for upper_pair, lower_pair, crease_pair in lids:
        for upper, lower, crease in zip(upper_pair, lower_pair, crease_pair, strict=True):
            opening = float(np.dot(landmarks[lower] - landmarks[upper], frame.y))
            field[column[upper]] += 0.92 * opening * frame.y
            field[column[crease]] += 0.45 * opening * frame.y
            field[column[lower]] -= 0.05 * opening * frame.y
    return field
