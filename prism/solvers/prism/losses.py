"""The PRISM data terms: a new-aperture term and an old-knowledge term."""

from __future__ import annotations

from typing import NamedTuple

import torch

from prism.config import check_choice
from prism.metrics import amplitude_misfit, ssim
from prism.solvers.prism.settings import LOSS_TYPES

Pair = tuple[torch.Tensor, torch.Tensor]


class LossTerms(NamedTuple):
    """The loss of one step: ``total = old + new`` (``old`` is 0 before a second aperture)."""

    total: torch.Tensor
    old: torch.Tensor
    new: torch.Tensor


class LossAggregator:
    """Compares model-side amplitudes with their targets.

    Parameters
    ----------
    loss_type : str
        'l1': ``mean|p - t| / mean(t)``; 'l2': ``mean((p - t)^2) / mean(t^2)``; 'ssim':
        ``1 - SSIM(p, t)`` with both scaled by ``max(t)``. Each is scale-free, so one
        threshold serves every aperture.
    """

    def __init__(self, loss_type: str = "l1") -> None:
        check_choice("loss_type", loss_type, LOSS_TYPES)
        self.loss_type = loss_type

    def distance(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scale-free distance between a prediction and its target, both ``[..., H, W]``."""
        if self.loss_type == "l1":
            return amplitude_misfit(prediction, target)
        if self.loss_type == "l2":
            return (prediction - target).square().mean() / target.square().mean().clamp_min(1e-24)
        scale = target.amax().clamp_min(1e-12)
        return 1 - ssim(prediction / scale, target / scale).mean()

    def __call__(self, new: Pair, old: Pair | None) -> LossTerms:
        """Loss terms of one step.

        Parameters
        ----------
        new : tuple of torch.Tensor
            ``(prediction, target)`` amplitudes through the new aperture.
        old : tuple of torch.Tensor or None
            ``(prediction, target)`` of the old-knowledge term; None before a second aperture.

        Returns
        -------
        LossTerms
            ``total``, ``old`` and ``new`` as 0-d tensors.
        """
        loss_new = self.distance(*new)
        loss_old = self.distance(*old) if old is not None else torch.zeros_like(loss_new)
        return LossTerms(total=loss_old + loss_new, old=loss_old, new=loss_new)
