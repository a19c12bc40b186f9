"""Aperture sampling patterns in the telescope pupil (k-space).

Positions are ``[y, x]`` in k-space pixels from DC, as float32 tensors. Point patterns have
shape ``[n, 1, 2]``; line patterns have shape ``[n, 2, 2]`` (start and end point of each line).
Angles are in radians, measured from the +x axis towards +y, so a line at ``angle`` runs along
``[sin(angle), cos(angle)]``.
"""

import math

import torch

from prism.config import PATTERNS

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def _polar(radius: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Stack polar coordinates into ``[y, x]`` points of shape [n, 2], float32."""
    points = torch.stack((radius * torch.sin(theta), radius * torch.cos(theta)), dim=-1)
    return points.to(torch.float32)


def _fermat(n: int, r_max: float) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64)
    radius = r_max * torch.sqrt(k / max(n - 1, 1))
    return _polar(radius, k * GOLDEN_ANGLE)


def _random(n: int, r_max: float, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    v = torch.rand(n, generator=generator, dtype=torch.float64)
    points = _polar(r_max * torch.sqrt(u), 2.0 * math.pi * v)
    points[0] = 0.0
    return points


def _star(n: int, r_max: float, n_arms: int) -> torch.Tensor:
    k = torch.arange(1, n, dtype=torch.float64)
    n_rings = max(math.ceil((n - 1) / n_arms), 1)
    ring = torch.ceil(k / n_arms)
    arm = (k - 1) % n_arms
    outer = _polar(r_max * ring / n_rings, 2.0 * math.pi * arm / n_arms)
    return torch.cat((torch.zeros(1, 2, dtype=torch.float32), outer))


def _check(name: str, value: float, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}")


def make_pattern(
    name: str,
    n: int,
    *,
    r_max: float,
    line_length: float = 0.0,
    angle: float | None = None,
    seed: int = 0,
    n_arms: int = 8,
) -> torch.Tensor:
    """Place ``n`` sub-aperture centres (or lines) in the pupil, centre outward.

    Parameters
    ----------
    name : {'fermat', 'random', 'star'}
        Pattern. 'fermat': golden-angle spiral, point k at radius ``r_max * sqrt(k / (n - 1))``.
        'random': area-uniform over the disc of radius ``r_max``, seeded. 'star': points on
        ``n_arms`` spokes at equal angles, on evenly spaced rings out to ``r_max``.
        The first point is always DC ``(0, 0)``.
    n : int
        Number of centres, >= 1.
    r_max : float
        Largest radius in k-space pixels, > 0. 'fermat' and 'star' (n > 1) reach it exactly.
    line_length : float, optional
        Length in k-space pixels of a line centred on each point, >= 0. 0 gives points.
    angle : float or None, optional
        Orientation of every line in radians. None draws one angle per line, uniform in
        [0, pi), from ``seed``. Ignored for points.
    seed : int, optional
        Seed of the ``torch.Generator`` used for 'random' centres and random line angles.
    n_arms : int, optional
        Number of spokes of 'star', >= 1.

    Returns
    -------
    centers : torch.Tensor
        float32, ``[n, 1, 2]`` for points or ``[n, 2, 2]`` (start, end) for lines, ``[y, x]``.
    """
    if name not in PATTERNS:
        allowed = ", ".join(repr(p) for p in PATTERNS)
        raise ValueError(f"`pattern` must be one of {allowed}, got {name!r}")
    _check("n", n, n >= 1, "an integer >= 1")
    _check("r_max", r_max, r_max > 0, "> 0 (k-space pixels)")
    _check("line_length", line_length, line_length >= 0, ">= 0 (k-space pixels; 0 gives points)")
    _check("n_arms", n_arms, n_arms >= 1, "an integer >= 1")
    generator = torch.Generator().manual_seed(seed)
    if name == "fermat":
        points = _fermat(n, r_max)
    elif name == "random":
        points = _random(n, r_max, generator)
    else:
        points = _star(n, r_max, n_arms)
    if line_length == 0:
        return points[:, None, :]
    if angle is None:
        theta = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    else:
        theta = torch.full((n,), float(angle), dtype=torch.float64)
    half = _polar(torch.full((n,), line_length / 2.0, dtype=torch.float64), theta)
    return torch.stack((points - half, points + half), dim=1)


def line_points(centers: torch.Tensor, samples_per_line_meas: int) -> torch.Tensor:
    """Expand centres to the aperture positions of one measurement each.

    Parameters
    ----------
    centers : torch.Tensor
        ``[n, 1, 2]`` points or ``[n, 2, 2]`` lines (start, end), ``[y, x]`` k-space pixels.
    samples_per_line_meas : int
        Points per line, evenly spaced and including both end points; >= 2 for lines.
        Points always give one position (any value >= 1 is accepted).

    Returns
    -------
    positions : torch.Tensor
        ``[n, 1, 2]`` (points, unchanged) or ``[n, samples_per_line_meas, 2]``, dtype of
        ``centers``.
    """
    if centers.ndim != 3 or centers.shape[1] not in (1, 2) or centers.shape[2] != 2:
        raise ValueError(
            f"`centers` must have shape [n, 1, 2] (points) or [n, 2, 2] (lines), "
            f"got {list(centers.shape)}"
        )
    if centers.shape[1] == 1:
        _check("samples_per_line_meas", samples_per_line_meas, samples_per_line_meas >= 1, ">= 1")
        return centers
    _check(
        "samples_per_line_meas",
        samples_per_line_meas,
        samples_per_line_meas >= 2,
        ">= 2 for lines (both end points are sampled)",
    )
    t = torch.linspace(0.0, 1.0, samples_per_line_meas, dtype=centers.dtype)[None, :, None]
    return (1.0 - t) * centers[:, :1] + t * centers[:, 1:]


def max_radius(centers: torch.Tensor) -> float:
    """Return the largest distance from DC of any point in ``centers`` ([n, k, 2]), in pixels."""
    return float(torch.linalg.vector_norm(centers, dim=-1).max())
