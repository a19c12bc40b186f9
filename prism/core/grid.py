"""The object square inside the ``N x N`` grid: padding, cropping and supports.

The object occupies an ``obj_size`` square at offset ``(N - obj_size) // 2`` on both axes;
every module that moves between the square and the grid uses these functions.
"""

from __future__ import annotations

import torch


def crop_object(x: torch.Tensor, obj_size: int) -> torch.Tensor:
    """Crop the object from the N x N grid it was zero-padded into.

    Parameters
    ----------
    x : torch.Tensor, shape [..., N, N], any dtype
        Tensor whose last two dims are the grid.
    obj_size : int
        Object side in pixels, in [1, N]. The crop starts at (N - obj_size) // 2 on both axes.

    Returns
    -------
    torch.Tensor, shape [..., obj_size, obj_size], dtype of `x`
        A view of the centred crop.
    """
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"`x` must have shape [..., N, N], got {tuple(x.shape)}")
    n = x.shape[-1]
    if isinstance(obj_size, bool) or not isinstance(obj_size, int) or not 1 <= obj_size <= n:
        raise ValueError(f"`obj_size` must be an int in [1, {n}], got {obj_size!r}")
    start = (n - obj_size) // 2
    return x[..., start : start + obj_size, start : start + obj_size]


def pad_to_grid(obj: torch.Tensor, image_size: int) -> torch.Tensor:
    """Zero-pad ``[..., s, s]`` into ``[..., N, N]`` at offset ``(N - s) // 2``."""
    size = obj.shape[-1]
    if obj.shape[-2] != size or size > image_size:
        raise ValueError(
            f"`obj` must be square and at most {image_size} px, got shape {tuple(obj.shape)}"
        )
    before = (image_size - size) // 2
    after = image_size - size - before
    return torch.nn.functional.pad(obj, (before, after, before, after))


def support_mask(obj_size: int, image_size: int) -> torch.Tensor:
    """Bool ``[N, N]`` mask of the object support (the padded square)."""
    return pad_to_grid(torch.ones(obj_size, obj_size), image_size) > 0


def support_disc(obj_size: int, image_size: int) -> torch.Tensor:
    """Bool ``[N, N]`` disc of diameter ``obj_size`` inscribed in the object support."""
    offsets = torch.arange(obj_size, dtype=torch.float32) - (obj_size - 1) / 2
    disc = offsets[:, None].square() + offsets[None, :].square() <= (obj_size / 2) ** 2
    return pad_to_grid(disc, image_size)
