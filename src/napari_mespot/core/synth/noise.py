"""Sensor noise for rendered videos: a fresh-looking Gaussian field per frame, cheaply.

Drawing a normal number per pixel and channel of every frame costs more than rendering the
frame; a small bank of fields, each a little larger than the frame, read at a random offset
per frame gives thousands of distinct, mutually uncorrelated noise frames, still a pure
function of (seed, frame index).
"""

from __future__ import annotations

import numpy as np

#: Fields in the bank, and how much larger than the frame (px, in x and y) each one is.
FIELDS, SHIFT = 4, 32


class NoiseBank:
    """Gaussian noise of ``sigma`` grey levels for (H, W, 3) frames of ``size`` (W, H).

    The bank is drawn from ``bank_seed`` on first use; frame ``k``'s window from
    ``(*frame_seed, k)``.
    """

    def __init__(self, size: tuple[int, int], sigma: float, bank_seed: tuple[int, ...],
                 frame_seed: tuple[int, ...]) -> None:
        self.size, self.sigma = size, sigma
        self._bank_seed, self._frame_seed = bank_seed, frame_seed
        self._bank: np.ndarray | None = None

    def frame(self, k: int) -> np.ndarray:
        """The (H, W, 3) float32 noise of frame ``k`` (a read-only view into the bank)."""
        width, height = self.size
        if self._bank is None:
            rng = np.random.default_rng(self._bank_seed)
            bank = rng.standard_normal((FIELDS, height + SHIFT, width + SHIFT, 3), dtype=np.float32)
            self._bank = bank * np.float32(self.sigma)
        rng = np.random.default_rng((*self._frame_seed, k))
        field, dy, dx = rng.integers((0, 0, 0), (FIELDS, SHIFT, SHIFT))
        return self._bank[field, dy:dy + height, dx:dx + width]
