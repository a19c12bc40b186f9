"""Framing references: what simpler instruments would see with the same apertures."""

from __future__ import annotations

import torch

from prism.core.optics import Telescope


def single_aperture_image(x: torch.Tensor, telescope: Telescope) -> torch.Tensor:
    """Amplitude of the object seen through one sub-aperture at DC, ``|F^-1(F(x) M_0)|``.

    Parameters
    ----------
    x : torch.Tensor
        Ground-truth object ``[N, N]``.
    telescope : Telescope
        The field operator (its ``sample_diameter`` is the aperture).

    Returns
    -------
    torch.Tensor
        Real amplitude ``[N, N]`` (noiseless).
    """
    return telescope.project(x, telescope.masks(torch.zeros(1, 2))[0]).abs()


def synthetic_aperture_image(
    x: torch.Tensor, telescope: Telescope, points: torch.Tensor
) -> torch.Tensor:
    """Coherent synthetic-aperture image ``|F^-1(F(x) C)|`` over the union ``C`` of apertures.

    What a phase-aware instrument with the same k-space coverage would see.

    Parameters
    ----------
    x : torch.Tensor
        Ground-truth object ``[N, N]``.
    telescope : Telescope
        The field operator.
    points : torch.Tensor
        Every measurement point ``[..., 2]`` (line points included).

    Returns
    -------
    torch.Tensor
        Real amplitude ``[N, N]`` (noiseless).
    """
    union = telescope.union_mask(points).to(torch.float32)
    return telescope.project(x, union).abs()
