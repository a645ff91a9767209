"""Dense optical flow behind one signature: ``flow(ref, img) -> (H, W, 2) float32``.

``flow[y, x] = (dx, dy)`` is the displacement that takes the pixel at (x, y) of ``ref`` to its
position in ``img``: ref(x, y) ≈ img(x + dx, y + dy) (OpenCV's convention). Built-in methods:

- ``farneback`` — polynomial-expansion flow, the AU-prototype paper's method (eq. 1–7).
- ``tvl1`` — dual TV-L1 (``cv2.optflow``, contrib build), the VoVNet paper's input.
- ``dis`` — dense inverse search, an order of magnitude faster, for the fast preset.

Plugins add methods through :mod:`napari_mespot.plugins`; :func:`flow` resolves a name there.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from napari_mespot.core import registry
from napari_mespot.core.errors import MespotError

FlowFunction = Callable[..., np.ndarray]


class FlowParameterError(MespotError, ValueError):
    """A flow parameter of the wrong type or outside the range its method accepts."""


@dataclass(frozen=True)
class ParamRule:
    """What one flow parameter accepts: a type (``int`` excludes bools and fractions, ``float``
    must be finite), a test of the value, and the words for both in an error."""

    kind: type
    accepts: Callable[[Any], bool]
    wanted: str

    def holds(self, value: Any) -> bool:
        if self.kind is bool or isinstance(value, bool):
            return self.kind is bool and isinstance(value, bool)
        if self.kind is float:
            typed = isinstance(value, int | float) and math.isfinite(value)
        else:
            typed = isinstance(value, self.kind)
        return typed and self.accepts(value)


def check_params(method: str, rules: Mapping[str, ParamRule], params: Mapping[str, Any]) -> None:
    """Refuse, with the valid range, every parameter in ``params`` that its rule does not accept.

    OpenCV takes whatever it is given: a negative Farneback window crashes the process, a zero
    window returns NaN flow, a string raises from deep inside; checked here, each is one line.
    """
    for name, value in params.items():
        rule = rules.get(name)
        if rule is not None and not rule.holds(value):
            raise FlowParameterError(f"{method} flow parameter {name}={value!r}: expected {rule.wanted}")


def _whole(low: int) -> ParamRule:
    return ParamRule(int, lambda v: v >= low, f"a whole number >= {low}")


def _above(low: float, high: float | None = None, high_closed: bool = False) -> ParamRule:
    if high is None:
        return ParamRule(float, lambda v: v > low, f"a finite number > {low:g}")
    bracket = "]" if high_closed else ")"
    return ParamRule(
        float,
        lambda v: low < v and (v <= high if high_closed else v < high),
        f"a number in ({low:g}, {high:g}{bracket}",
    )


#: The ranges OpenCV's methods accept and compute something meaningful in (its documentation
#: and assertions; e.g. pyr_scale < 1 is asserted, winsize <= 0 or iterations 0 return no flow).
FARNEBACK_RULES: Mapping[str, ParamRule] = MappingProxyType(
    {
        "pyr_scale": _above(0, 1),
        "levels": _whole(0),
        "winsize": _whole(1),
        "iterations": _whole(1),
        "poly_n": _whole(1),
        "poly_sigma": _above(0),
    }
)
TVL1_RULES: Mapping[str, ParamRule] = MappingProxyType(
    {
        # Chambolle's projection converges for time steps up to 1/4 (OpenCV's default).
        "tau": _above(0, 0.25, high_closed=True),
        "lambda_": _above(0),
        "theta": _above(0),
        "nscales": _whole(1),
        "warps": _whole(1),
        # the stopping tolerance; 0 runs every iteration (no early stop)
        "epsilon": ParamRule(float, lambda v: v >= 0, "a finite number >= 0"),
        "inner_iterations": _whole(1),
        "outer_iterations": _whole(1),
        "scale_step": _above(0, 1, high_closed=True),
        "gamma": ParamRule(float, lambda v: v >= 0, "a finite number >= 0"),
        # OpenCV's median of float images has kernels 3 and 5 only; 1 filters nothing.
        "median_filtering": ParamRule(int, lambda v: v in (1, 3, 5), "1 (none), 3 or 5"),
    }
)


@dataclass(frozen=True)
class FlowMethod:
    """A named flow method: ``compute(ref_gray, img_gray, **params)`` plus its default parameters.

    ``compute`` receives two same-shape uint8 grey images and returns (H, W, 2) float32; calling
    the method itself accepts RGB or grey input of any numeric type and merges the defaults.
    """

    name: str
    compute: FlowFunction
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: What each parameter accepts (:func:`check_params`); a parameter without a rule is passed on.
    rules: Mapping[str, ParamRule] = field(default_factory=dict)

    def check(self, params: Mapping[str, Any]) -> None:
        """:class:`FlowParameterError` for a parameter its rule refuses (unknown names included)."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known, asked = ", ".join(self.defaults), ", ".join(unknown)
            raise FlowParameterError(f"{self.name} flow has no parameter(s) {asked}; it takes {known}")
        check_params(self.name, self.rules, params)

    def __call__(self, ref: np.ndarray, img: np.ndarray, **params: Any) -> np.ndarray:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise TypeError(f"flow method {self.name!r} has no parameter(s) {sorted(unknown)}")
        check_params(self.name, self.rules, params)
        a, b = to_gray(ref), to_gray(img)
        if a.shape != b.shape:
            raise ValueError(f"flow needs same-size images, got {a.shape} and {b.shape}")
        out = self.compute(a, b, **{**self.defaults, **params})
        return np.asarray(out, dtype=np.float32)


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W) uint8 from RGB or grey; floats are taken as 0..1 when their maximum is ≤ 1."""
    import cv2

    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype != np.uint8:
        scale = (
            255.0
            if np.issubdtype(arr.dtype, np.floating) and float(np.nanmax(arr, initial=0)) <= 1.0
            else 1.0
        )
        arr = np.clip(np.nan_to_num(arr.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if arr.ndim == 3:
        if arr.shape[2] != 3:
            raise ValueError(f"expected an RGB or grey image, got shape {arr.shape}")
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2:
        raise ValueError(f"expected an RGB or grey image, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _farneback(ref: np.ndarray, img: np.ndarray, **p: Any) -> np.ndarray:
    import cv2

    return cv2.calcOpticalFlowFarneback(
        ref,
        img,
        None,
        p["pyr_scale"],
        p["levels"],
        p["winsize"],
        p["iterations"],
        p["poly_n"],
        p["poly_sigma"],
        0,
    )


def _tvl1(ref: np.ndarray, img: np.ndarray, **p: Any) -> np.ndarray:
    import cv2

    # A fresh solver per call: OpenCV algorithm objects are not safe to share across threads.
    solver = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p["tau"],
        lambda_=p["lambda_"],
        theta=p["theta"],
        nscales=p["nscales"],
        warps=p["warps"],
        epsilon=p["epsilon"],
        innnerIterations=p["inner_iterations"],
        outerIterations=p["outer_iterations"],
        scaleStep=p["scale_step"],
        gamma=p["gamma"],
        medianFiltering=p["median_filtering"],
    )
    return solver.calc(ref, img, None)


_DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


DIS_RULES: Mapping[str, ParamRule] = MappingProxyType(
    {"preset": ParamRule(str, lambda v: v in _DIS_PRESETS, f"one of {', '.join(_DIS_PRESETS)}")}
)


class _DisSolvers:
    """DIS solvers not in use, by preset and image size, handed out to one call at a time.

    A fresh solver allocates its pyramid buffers afresh on every call: on a spotter's region
    crops that was a quarter of the call's CPU time (bench/bench_spot.py, 2026-12-04). A solver
    keeps nothing from one call to the next that changes the flow (tests/test_flow.py compares
    a reused one with fresh ones), but must not run in two threads at once, and a new size
    reallocates its buffers: so each call takes an idle solver of its size and gives it back.
    Kept here rather than per thread: the flow thread pools live one batch of frames each.
    """

    #: Image sizes whose solvers are kept (a spotter uses two or three region sizes).
    SIZES_KEPT = 8

    def __init__(self) -> None:
        self._idle: dict[tuple[str, tuple[int, ...]], list[Any]] = {}
        self._lock = threading.Lock()

    def take(self, preset: str, shape: tuple[int, ...]) -> Any:
        import cv2

        with self._lock:
            idle = self._idle.get((preset, shape))
            if idle:
                return idle.pop()
        return cv2.DISOpticalFlow_create(_DIS_PRESETS[preset])

    def give(self, preset: str, shape: tuple[int, ...], solver: Any) -> None:
        with self._lock:
            if (preset, shape) not in self._idle and len(self._idle) >= self.SIZES_KEPT:
                self._idle.clear()
            self._idle.setdefault((preset, shape), []).append(solver)


_DIS_SOLVERS = _DisSolvers()


def _dis(ref: np.ndarray, img: np.ndarray, **p: Any) -> np.ndarray:
    solver = _DIS_SOLVERS.take(p["preset"], ref.shape)
    try:
        return solver.calc(ref, img, None)
    finally:
        _DIS_SOLVERS.give(p["preset"], ref.shape, solver)


FARNEBACK = FlowMethod(
    "farneback",
    _farneback,
    MappingProxyType(
        # OpenCV's usual settings with 5 iterations (the paper names the method, not its parameters).
        {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 5, "poly_n": 5, "poly_sigma": 1.2}
    ),
    "Farneback polynomial expansion (AU-prototype paper)",
    FARNEBACK_RULES,
)
TVL1 = FlowMethod(
    "tvl1",
    _tvl1,
    MappingProxyType(
        # cv2.optflow's defaults, named here so they can be overridden and recorded.
        {
            "tau": 0.25,
            "lambda_": 0.15,
            "theta": 0.3,
            "nscales": 5,
            "warps": 5,
            "epsilon": 0.01,
            "inner_iterations": 30,
            "outer_iterations": 10,
            "scale_step": 0.8,
            "gamma": 0.0,
            "median_filtering": 5,
        }
    ),
    "dual TV-L1 (VoVNet paper; slow)",
    TVL1_RULES,
)
DIS = FlowMethod(
    "dis", _dis, MappingProxyType({"preset": "medium"}), "dense inverse search (fast)", DIS_RULES
)

#: The methods registered by :mod:`napari_mespot.plugins` as built-ins.
BUILTIN_METHODS: tuple[FlowMethod, ...] = (FARNEBACK, TVL1, DIS)


def get_method(method: str | FlowMethod) -> FlowMethod:
    """A method object from a name (built-in or registered by a plugin) or the object itself."""
    if isinstance(method, FlowMethod):
        return method
    return registry.flow_methods.get(method)


def flow(
    ref: np.ndarray, img: np.ndarray, method: str | FlowMethod = "farneback", **params: Any
) -> np.ndarray:
    """Dense flow from ``ref`` to ``img`` as (H, W, 2) float32 (dx, dy) per pixel of ``ref``."""
    return get_method(method)(ref, img, **params)


def magnitude(flow_field: np.ndarray) -> np.ndarray:
    """Per-pixel flow magnitude sqrt(dx² + dy²) (the paper's heatmap, eq. 32)."""
    return np.hypot(flow_field[..., 0], flow_field[..., 1])
