"""A synthetic resolution target: fine periodic detail that no scikit-image built-in holds.

Built-in object ``target`` of the studies (:func:`prism.images.read_image`). Its four
quadrants test what a reconstruction resolves: a Siemens star (every spatial frequency up to
the pixel, in every direction), vertical bars and horizontal bars in groups of periods 16, 8,
4 and 2 pixels (of the full image; a prepared object is resized to its ``obj_size``), and a
checkerboard over a brightness ramp. Generated, never downloaded, and the same on every
machine.
"""

from __future__ import annotations

import numpy as np

PERIODS = (16, 8, 4, 2)  # bar periods in pixels of the 256-pixel image, coarse to fine


def resolution_target(size: int = 256) -> np.ndarray:
    """The target as a ``[size, size]`` float64 image in ``[0, 1]`` (size a multiple of 32)."""
    if size % 32:
        raise ValueError(f"`size` must be a multiple of 32, got {size!r}")
    half = size // 2
    image = np.zeros((size, size))
    image[:half, :half] = _siemens_star(half)
    bars = _bars(half, size // 256 or 1)
    image[:half, half:] = bars
    image[half:, :half] = bars.T
    rows, cols = np.mgrid[0:half, 0:half]
    checker = ((rows // (half // 16) + cols // (half // 16)) % 2).astype(float)
    image[half:, half:] = 0.3 + 0.5 * cols / (half - 1) + 0.2 * checker
    return image


def _siemens_star(width: int, spokes: int = 18) -> np.ndarray:
    """Black and white spokes inside a disc filling a ``width`` square."""
    y, x = np.mgrid[0:width, 0:width] - (width - 1) / 2
    inside = np.hypot(x, y) < 0.48 * width
    return ((np.sin(spokes * np.arctan2(y, x)) > 0) & inside).astype(float)


def _bars(width: int, scale: int) -> np.ndarray:
    """Vertical bars, one group of rows per period of :data:`PERIODS` (scaled), black margins."""
    bars = np.zeros((width, width))
    rows = width // len(PERIODS)
    columns = np.arange(width)
    margin = rows // 12
    for group, period in enumerate(PERIODS):
        stripes = (columns // (period * scale // 2)) % 2
        bars[group * rows + margin : (group + 1) * rows - margin, :] = stripes[None, :]
    return bars
