"""Framing references: what simpler instruments would see with the same apertures.

They read the ground truth (they are instruments, not reconstructions from the data) and
frame the table: a method should beat one aperture at DC, and the coherent synthetic
aperture shows what the measured k-space coverage allows.
"""

from __future__ import annotations

import torch

from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import Telescope
from prism.solvers import Reconstruction, Solver


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


def _single_aperture(data: MeasurementSet, operator: MeasurementOperator, settings, **_):
    return Reconstruction(image=single_aperture_image(data.ground_truth, operator.telescope))


def _synthetic_aperture(data: MeasurementSet, operator: MeasurementOperator, settings, **_):
    image = synthetic_aperture_image(data.ground_truth, operator.telescope, operator.points)
    return Reconstruction(image=image)


SOLVERS = (
    Solver(
        "synthetic_aperture",
        _synthetic_aperture,
        label="synthetic aperture",
        colour="#009E73",
        marker="D",
        reference=True,
    ),
    Solver(
        "single_aperture",
        _single_aperture,
        label="single aperture",
        colour="#000000",
        marker="v",
        reference=True,
    ),
)
