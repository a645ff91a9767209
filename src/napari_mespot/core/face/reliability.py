"""When a face video cannot be trusted for spotting: the frames a spotter must not spot in.

Region-flow spotting assumes that what moves in the eye and mouth regions is the face. That
fails in four ways, each detected here without Qt and without a model of its own:

- **Something over the face** (a hand, a cup, hair): the flow from a clean reference frame
  cannot explain the new pixels. :class:`UnexplainedShare` warps the later crop back by
  its flow and counts the region pixels whose grey level, after matching both crops' mean and
  contrast, still differs by more than ``residual_kappa`` standard deviations. An expression
  moves the face (the flow explains it) and changes the look of a minority of a region (teeth,
  a wrinkle, a closing lid); an occluder replaces a large part of it. The spotter follows the
  fraction against each window's reference (:func:`occlusion_onset`, :func:`clear_index`).
- **Landmark jumps**: the mesh leaps from one frame to the next and back (a tracking glitch),
  so the regions and the head registration of that frame are wrong (:func:`jump_mask`).
- **Rigid motion too fast to remove**: the head moves or turns faster than the landmark
  registration and the flow follow (motion blur, tracker lag) (:func:`fast_motion_mask`).
- **Eyes closed for long**: lids shut for longer than any expression lasts (asleep, looking
  down); a blink or an expression's squint is far shorter (:func:`eyes_closed_mask`).

Every limit is in seconds or in units of the face (the inter-ocular distance, IOD, or a share
of a region), never in frames or pixels, so it holds at any frame rate and face size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_mespot.core.face.landmarks import KEY_POINTS, FaceLandmarks
from napari_mespot.core.intervals import runs

#: The flow the unexplained share is measured with: DIS (``medium``), whose small patches follow
#: the lips and lids of an expression, so a grin that bares the teeth leaves about a tenth of the
#: mouth region unexplained; Farneback's smoother field leaves the same grin as unexplained as a
#: hand (a third of the region, on the real fixture clip ``single_face.mp4``), so a run with
#: another flow measures the share with this one.
RESIDUAL_FLOW: tuple[str, dict[str, str]] = ("dis", {"preset": "medium"})
#: Reasons as the spotter reports them (the start of each span's reason text).
OCCLUDED = "face occluded or its appearance changed"
JUMP = "landmarks jump"
FAST_MOTION = "head moves too fast"
EYES_CLOSED = "eyes closed"


@dataclass(frozen=True)
class ReliabilityLimits:
    """The limits beyond which spotting is not trusted (see the module docstring).

    - ``unexplained_high`` / ``unexplained_low``: an occlusion starts where the share of a
      region the flow cannot explain exceeds ``high``; the span reaches back to where it first
      rose above ``low`` and ends where it has stayed below ``low`` for ``clear_s``. On the
      first generator's videos (pure warps) the share is 0 away from pasted occluders and
      0.2–0.6 under them; real expressions leave a few per cent (teeth, wrinkles), so ``high``
      asks for about a sixth of a region.
    - ``residual_kappa``: a pixel is unexplained when its contrast-normalised residual exceeds
      this many standard deviations of the region's grey levels.
    - ``follow_s``: how long an occlusion is followed against the last clean reference; past
      that the face may simply have changed (pose, lighting), and spotting restarts.
    - ``jump_iod``: a frame whose landmarks lie further than this (mean over the points, in
      IODs) from the midpoint of its neighbours' is a jump; the fastest expression moves them
      about 0.02 IOD a frame at 30 fps.
    - ``speed_iod_s`` / ``rotation_deg_s`` / ``scale_per_s``: head translation, in-plane
      rotation and log-scale change per second, measured over ``motion_lag_s``. All three
      limits are one speed: a face point one IOD from the centre moving 2 IODs a second
      (2 rad/s ≈ 115°/s, rounded to 120°/s), which smears it over about 5 px in a 1/60 s
      exposure of a face 150 px wide: more than the 1–2 px a micro-expression moves. The
      first generator's quick head shakes stay below 1.1 IOD/s and 30°/s.
    - ``eyes_closed_ratio`` / ``eyes_closed_s``: eyes count as closed below this share of the
      video's open-eye aspect ratio (its 95th percentile), unreliable when closed for longer
      than ``eyes_closed_s`` (longer than the 4-s macro-expressions the spotter is built for).
    - ``pad_s``: a jump or a too-fast frame also marks this much time on either side (the
      low-pass filter spreads one bad frame over its neighbours).
    """

    unexplained_high: float = 0.15
    unexplained_low: float = 0.10
    residual_kappa: float = 1.0
    clear_s: float = 0.25
    follow_s: float = 14.0
    jump_iod: float = 0.05
    speed_iod_s: float = 2.0
    rotation_deg_s: float = 120.0
    scale_per_s: float = 2.0
    motion_lag_s: float = 0.1
    eyes_closed_ratio: float = 0.4
    eyes_closed_s: float = 4.0
    pad_s: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.unexplained_low <= self.unexplained_high < 1:
            raise ValueError("unexplained limits must satisfy 0 < low <= high < 1")
        positive = (
            "residual_kappa",
            "clear_s",
            "follow_s",
            "jump_iod",
            "speed_iod_s",
            "rotation_deg_s",
            "scale_per_s",
            "motion_lag_s",
            "eyes_closed_s",
        )
        bad = [name for name in positive if not getattr(self, name) > 0]
        if bad or not 0 < self.eyes_closed_ratio < 1 or self.pad_s < 0:
            raise ValueError(f"reliability limits out of range: {bad or 'eyes_closed_ratio / pad_s'}")


#: The limits every spotter's reliability checks use: one set, so both spotters leave out the
#: same landmark spans.
LIMITS = ReliabilityLimits()


#: (outer, inner, upper lid ×2, lower lid ×2) per eye and scheme, for the eye aspect ratio.
EYE_POINTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mediapipe": ((33, 133, 160, 158, 144, 153), (263, 362, 387, 385, 373, 380)),
    "ibug68": ((36, 39, 37, 38, 41, 40), (45, 42, 44, 43, 46, 47)),
}
#: Grid step (region pixels) and border left out of the residual: the flow is smooth over
#: several pixels, and a region's edge repeats the image border.
_STRIDE, _BORDER = 2, 8


class UnexplainedShare:
    """Share of a region (uint8 grey crops) whose grey level its flow from the reference crop
    ``ref`` does not explain: |img(x + flow) − ref(x)| > ``kappa`` after matching both crops'
    mean and standard deviation (a brightness or contrast change explains nothing away).

    One per window and region: the reference's half (the sample grid, the normalised reference)
    is the same for every later frame, so it is computed once, not per frame.
    """

    def __init__(self, ref: np.ndarray, kappa: float = 1.0) -> None:
        h, w = ref.shape
        if h <= 2 * _BORDER or w <= 2 * _BORDER:
            raise ValueError(f"region {w}x{h} is too small for the residual")
        self.kappa = kappa
        self.cut = np.s_[_BORDER : h - _BORDER : _STRIDE, _BORDER : w - _BORDER : _STRIDE]
        self.ys, self.xs = np.mgrid[self.cut].astype(np.float32)
        self.ref = _standardised(ref[self.cut].astype(np.float32))

    def __call__(self, img: np.ndarray, flow: np.ndarray) -> float:
        """The share for the later crop ``img`` and the flow ``ref`` → ``img``."""
        import cv2

        f = flow[self.cut]
        back = cv2.remap(
            img, self.xs + f[..., 0], self.ys + f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        a = _standardised(back.astype(np.float32))
        return float(np.count_nonzero(np.abs(a - self.ref) > self.kappa) / a.size)


def _standardised(x: np.ndarray) -> np.ndarray:
    """``x`` with mean 0 and standard deviation 1 (a flat crop's deviation taken as 1)."""
    return (x - x.mean()) / max(float(x.std()), 1.0)


def occlusion_onset(unexplained: np.ndarray, limits: ReliabilityLimits) -> int | None:
    """Index of the first frame of an occlusion in a window's per-frame unexplained shares
    (against the window's reference), or ``None``: where the share first exceeds ``high``,
    moved back over the frames before it that are above ``low`` (the occluder coming in)."""
    above = np.flatnonzero(unexplained > limits.unexplained_high)
    if not len(above):
        return None
    onset = int(above[0])
    while onset > 0 and unexplained[onset - 1] > limits.unexplained_low:
        onset -= 1
    return onset


def clear_index(unexplained: np.ndarray, after: int, hold: int, low: float) -> int | None:
    """The first index ≥ ``after`` that starts ``hold`` frames in a row at or below ``low``
    (the face explained again), or ``None`` when the shares end before such a run."""
    calm = np.asarray(unexplained[after:]) <= low
    run = 0
    for k, ok in enumerate(calm):
        run = run + 1 if ok else 0
        if run == hold:
            return after + k - hold + 1
    return None


def _iod(points: np.ndarray, scheme: str) -> np.ndarray:
    left = points[:, list(KEY_POINTS["eye_outer_l"][scheme])].mean(axis=1)
    right = points[:, list(KEY_POINTS["eye_outer_r"][scheme])].mean(axis=1)
    return np.hypot(*(right - left).T)


def _padded(mask: np.ndarray, pad: int) -> np.ndarray:
    if pad <= 0 or not mask.any():
        return mask
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, structure=np.ones(2 * pad + 1, dtype=bool))


def jump_mask(landmarks: FaceLandmarks, fps: float, limits: ReliabilityLimits) -> np.ndarray:
    """Frames whose landmarks jump: mean distance to the midpoint of both neighbours' points
    above ``jump_iod`` (padded by ``pad_s``). A smooth motion of any speed has a small
    midpoint distance; a glitch, there and back or a leap to a new place, has a large one."""
    p = landmarks.points.astype(np.float64)
    out = np.zeros(len(p), dtype=bool)
    if len(p) < 3:
        return out
    mid = 0.5 * (p[:-2] + p[2:])
    dist = np.hypot(*(p[1:-1] - mid).transpose(2, 0, 1)).mean(axis=1) / _iod(p[1:-1], landmarks.scheme)
    with np.errstate(invalid="ignore"):
        out[1:-1] = dist > limits.jump_iod
    return _padded(out, round(limits.pad_s * fps))


def _similarity_steps(points: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarity from frame i − lag to frame i on (n, k, 2) points, as complex
    numbers z' = a·z + b: the centroid shift, |angle(a)| and |log |a||, per frame (NaN first)."""
    z = points[..., 0] + 1j * points[..., 1]
    c = z.mean(axis=1, keepdims=True)
    zc = z - c
    a = np.full(len(z), np.nan + 0j)
    with np.errstate(invalid="ignore", divide="ignore"):
        a[lag:] = (np.conj(zc[:-lag]) * zc[lag:]).sum(axis=1) / (np.abs(zc[:-lag]) ** 2).sum(axis=1)
    shift = np.full(len(z), np.nan)
    shift[lag:] = np.abs(c[lag:, 0] - c[:-lag, 0])
    return shift, np.abs(np.angle(a)), np.abs(np.log(np.abs(a)))


def fast_motion_mask(landmarks: FaceLandmarks, fps: float, limits: ReliabilityLimits) -> np.ndarray:
    """Frames where the head translates, rotates or scales faster than the limits allow,
    measured on the rigid landmarks over ``motion_lag_s`` (padded by ``pad_s``)."""
    from napari_mespot.core.face.head_motion import RIGID_POINTS

    p = landmarks.points.astype(np.float64)
    lag = max(1, round(limits.motion_lag_s * fps))
    if len(p) <= lag:
        return np.zeros(len(p), dtype=bool)
    seconds = lag / fps
    shift, angle, scale = _similarity_steps(p[:, list(RIGID_POINTS[landmarks.scheme])], lag)
    with np.errstate(invalid="ignore"):
        out = (
            (shift / _iod(p, landmarks.scheme) / seconds > limits.speed_iod_s)
            | (np.degrees(angle) / seconds > limits.rotation_deg_s)
            | (scale / seconds > limits.scale_per_s)
        )
    return _padded(out, round(limits.pad_s * fps))


def eye_aspect_ratio(landmarks: FaceLandmarks) -> np.ndarray:
    """Mean of both eyes' aspect ratio (lid gap over eye width) per frame; NaN without a face."""
    p = landmarks.points.astype(np.float64)
    ratios = []
    for outer, inner, up1, up2, low1, low2 in EYE_POINTS[landmarks.scheme]:
        gap = np.hypot(*(p[:, up1] - p[:, low1]).T) + np.hypot(*(p[:, up2] - p[:, low2]).T)
        ratios.append(gap / (2 * np.hypot(*(p[:, outer] - p[:, inner]).T)))
    return np.mean(ratios, axis=0)


def eyes_closed_mask(landmarks: FaceLandmarks, fps: float, limits: ReliabilityLimits) -> np.ndarray:
    """Frames inside runs of closed eyes longer than ``eyes_closed_s``."""
    ear = eye_aspect_ratio(landmarks)
    out = np.zeros(len(ear), dtype=bool)
    found = np.isfinite(ear)
    if not found.any():
        return out
    open_ratio = float(np.quantile(ear[found], 0.95))
    closed = found & (ear < limits.eyes_closed_ratio * open_ratio)
    longest = limits.eyes_closed_s * fps
    for s, e in runs(closed):
        if e - s + 1 > longest:
            out[s : e + 1] = True
    return out


def landmark_flags(
    landmarks: FaceLandmarks, fps: float, limits: ReliabilityLimits
) -> list[tuple[str, np.ndarray]]:
    """Every landmark-based reason with its frame mask, in order of precedence."""
    return [
        (JUMP, jump_mask(landmarks, fps, limits)),
        (FAST_MOTION, fast_motion_mask(landmarks, fps, limits)),
        (EYES_CLOSED, eyes_closed_mask(landmarks, fps, limits)),
    ]


def landmark_spans(
    landmarks: FaceLandmarks, fps: float, limits: ReliabilityLimits
) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """The frames the landmark checks reject (a mask over frames with a face) and their spans
    ``(start, end, reason)``, each frame under the first reason of :func:`landmark_flags` that
    rejects it: what every spotter leaves out before any flow is computed."""
    found = landmarks.found
    label = np.full(len(found), -1)
    flags = landmark_flags(landmarks, fps, limits)
    for k, (_, mask) in reversed(list(enumerate(flags))):
        label[mask & found] = k
    spans = [(s, e, reason) for k, (reason, _) in enumerate(flags) for s, e in runs(label == k)]
    return label >= 0, spans
