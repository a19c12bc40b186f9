"""The measured data of a progressive run and the model-side predictions that match them."""

from __future__ import annotations

import torch

from prism.config import OLD_MODES, check_choice
from prism.core.optics import Telescope, amplitude

Pair = tuple[torch.Tensor, torch.Tensor]


class TelescopeAggregator:
    """Measured samples, their cumulative k-space mask, and model-side predictions.

    Parameters
    ----------
    telescope : Telescope
        The field operator shared with the data simulation.
    mode : str
        Old-knowledge term: 'union' compares the model through the cumulative mask of the
        other samples with the reference reconstruction through the same mask (coherent
        fields, compared as amplitudes); 'replay' compares the model's intensities with the
        stored measurements of every other sample.
    """

    def __init__(self, telescope: Telescope, *, mode: str = "replay") -> None:
        check_choice("mode", mode, OLD_MODES)
        self.telescope = telescope
        self.mode = mode
        self._points: list[torch.Tensor] = []
        self._intensities: list[torch.Tensor] = []
        self._masks: list[torch.Tensor] = []
        self._reference: torch.Tensor | None = None
        self._old_cache: dict = {}

    @property
    def n_measured(self) -> int:
        """Number of samples added so far."""
        return len(self._points)

    @property
    def cum_mask(self) -> torch.Tensor:
        """Bool ``[N, N]`` union of every measured aperture."""
        size = self.telescope.image_size
        union = torch.zeros(size, size, dtype=torch.bool)
        for mask in self._masks:
            union |= mask
        return union

    def add(self, points: torch.Tensor, intensity: torch.Tensor) -> None:
        """Add one measured sample.

        Parameters
        ----------
        points : torch.Tensor
            The sample's measurement points ``[s, 2]`` (``s == 1`` for a point).
        intensity : torch.Tensor
            Its measured intensity ``[N, N]``.
        """
        size = self.telescope.image_size
        if intensity.shape != (size, size):
            raise ValueError(
                f"`intensity` must have shape ({size}, {size}), got {tuple(intensity.shape)}"
            )
        self._points.append(points.reshape(-1, 2).to(torch.float32))
        self._intensities.append(intensity.to(torch.float32))
        self._masks.append(self.telescope.union_mask(points))
        self._old_cache.clear()

    def set_reference(self, x_ref: torch.Tensor) -> None:
        """Set the reconstruction that 'union' mode keeps (the one before the new sample)."""
        self._reference = x_ref.detach()
        self._old_cache.clear()

    def new_prediction(self, x_hat: torch.Tensor, index: int) -> Pair:
        """Model amplitude through sample ``index`` and the measured amplitude.

        Parameters
        ----------
        x_hat : torch.Tensor
            Current estimate ``[..., N, N]``.
        index : int
            Which measured sample.

        Returns
        -------
        tuple of torch.Tensor
            ``(prediction, target)``, each ``[N, N]``.
        """
        points = self._points[index].unsqueeze(0)
        predicted = self.telescope.intensity(x_hat.reshape(x_hat.shape[-2:]), points)[0]
        return amplitude(predicted), amplitude(self._intensities[index].to(x_hat.device))

    def old_prediction(self, x_hat: torch.Tensor, exclude: int) -> Pair | None:
        """The old-knowledge pair over every measured sample except ``exclude``.

        Returns None when no other sample has been measured.
        """
        others = [i for i in range(self.n_measured) if i != exclude % self.n_measured]
        if not others:
            return None
        x_hat = x_hat.reshape(x_hat.shape[-2:])
        if self.mode == "union":
            mask, target = self._union_target(others, exclude)
            return self.telescope.project(x_hat, mask).abs(), target
        points, target = self._replay_target(others, exclude)
        return amplitude(self.telescope.intensity(x_hat, points)), target.to(x_hat.device)

    def _replay_target(self, others: list[int], exclude: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Points and measured amplitudes of the other samples, stacked once per sample."""
        key = (exclude % self.n_measured, self.n_measured)
        if key not in self._old_cache:
            points = torch.stack([self._points[i] for i in others])
            measured = amplitude(torch.stack([self._intensities[i] for i in others]))
            self._old_cache = {key: (points, measured)}
        return self._old_cache[key]

    def _union_target(self, others: list[int], exclude: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Union mask of the other samples and the reference seen through it, once per sample."""
        key = (exclude % self.n_measured, self.n_measured)
        if key not in self._old_cache:
            if self._reference is None:
                raise RuntimeError("'union' mode needs set_reference() before old_prediction()")
            mask = torch.stack([self._masks[i] for i in others]).any(dim=0).to(torch.float32)
            reference = self._reference.reshape(mask.shape)
            target = self.telescope.project(reference, mask).abs()
            self._old_cache = {key: (mask, target)}
        return self._old_cache[key]
