"""The measured data of a PRISM fit and the model-side predictions that match them."""

from __future__ import annotations

import torch

from prism.config import OLD_MODES, check_choice
from prism.core.detector import Detector, Windows, concat_windows
from prism.core.optics import amplitude

Pair = tuple[torch.Tensor, torch.Tensor]


class TelescopeAggregator:
    """Measured samples, their cumulative k-space mask, and model-side predictions.

    Every prediction goes through one :class:`~prism.core.detector.Detector`, the operator the
    data were simulated with; each sample's windows and transform matrices are built once,
    when it is added, and every step computes the object's spectrum once for all apertures.

    Parameters
    ----------
    detector : Detector
        The measurement operator shared with the data simulation.
    mode : str
        Old-knowledge term: 'union' compares the model's field through the cumulative mask of
        the other samples with the reference reconstruction's field through the same mask
        (coherent fields, compared as amplitudes); 'replay' compares the model's intensities
        with the stored measurements of every other sample.
    """

    def __init__(self, detector: Detector, *, mode: str = "replay") -> None:
        check_choice("mode", mode, OLD_MODES)
        self.detector = detector
        self.mode = mode
        self._points: list[torch.Tensor] = []
        self._intensities: list[torch.Tensor] = []
        self._windows: list[Windows] = []
        self._reference: torch.Tensor | None = None
        self._cache: dict = {}

    @property
    def n_measured(self) -> int:
        """Number of samples added so far."""
        return len(self._points)

    @property
    def cum_mask(self) -> torch.Tensor:
        """Bool ``[N, N]`` union of every measured aperture (for plots; not used per step)."""
        size = self.detector.telescope.image_size
        if not self._points:
            return torch.zeros(size, size, dtype=torch.bool)
        return self.detector.telescope.union_mask(torch.cat(self._points))

    def add(self, points: torch.Tensor, intensity: torch.Tensor) -> None:
        """Add one measured sample.

        Parameters
        ----------
        points : torch.Tensor
            The sample's measurement points ``[s, 2]`` (``s == 1`` for a point).
        intensity : torch.Tensor
            Its measured detector intensity ``[m, m]``.
        """
        size = self.detector.size
        if intensity.shape != (size, size):
            raise ValueError(
                f"`intensity` must be a ({size}, {size}) detector image, "
                f"got shape {tuple(intensity.shape)}"
            )
        points = points.reshape(-1, 2).to(torch.float32)
        self._points.append(points)
        self._intensities.append(intensity.to(torch.float32))
        self._windows.append(self.detector.windows(points.unsqueeze(0)).to(intensity.device))
        self._cache.clear()

    def set_reference(self, x_ref: torch.Tensor) -> None:
        """Set the reconstruction that 'union' mode keeps (the one before the new sample)."""
        self._reference = x_ref.detach()
        self._cache.clear()

    def predict(self, x_hat: torch.Tensor, index: int) -> tuple[Pair, Pair | None]:
        """The new-aperture pair and the old-knowledge pair of one step.

        Parameters
        ----------
        x_hat : torch.Tensor
            Current estimate of the object square ``[..., obj, obj]``.
        index : int
            The sample being fitted.

        Returns
        -------
        tuple
            ``(new, old)``: ``new`` is ``(prediction, target)`` amplitudes ``[m, m]`` through
            sample ``index``; ``old`` is the pair over every other measured sample, or None
            when there is none.
        """
        index %= self.n_measured
        others = [i for i in range(self.n_measured) if i != index]
        measured = amplitude(self._intensities[index].to(x_hat.device))
        if self.mode == "replay" and others:
            windows, target = self._replay_plan(index, others)
            predicted = amplitude(self.detector.intensity(x_hat, windows))
            return (predicted[0], measured), (predicted[1:], target.to(x_hat.device))
        predicted = amplitude(self.detector.intensity(x_hat, self._windows[index])[0])
        if not others:
            return (predicted, measured), None
        region, size, target = self._union_plan(index, others, x_hat.device)
        field = self.detector.fields(self.detector.exit_spectra(x_hat, region), size)
        return (predicted, measured), (field.abs(), target)

    def predict_all(self, x_hat: torch.Tensor) -> Pair:
        """``(prediction, target)`` amplitudes ``[n, m, m]`` of every measured sample."""
        key = ("all", self.n_measured)
        if key not in self._cache:
            windows = concat_windows(self._windows)
            self._cache = {key: (windows, amplitude(torch.stack(self._intensities)))}
        windows, target = self._cache[key]
        predicted = amplitude(self.detector.intensity(x_hat, windows))
        return predicted, target.to(x_hat.device)

    def _replay_plan(self, index: int, others: list[int]) -> tuple[Windows, torch.Tensor]:
        """Windows of the new sample then the others, and the others' measured amplitudes."""
        key = (index, self.n_measured)
        if key not in self._cache:
            windows = concat_windows([self._windows[i] for i in [index, *others]])
            target = amplitude(torch.stack([self._intensities[i] for i in others]))
            self._cache = {key: (windows, target)}
        return self._cache[key]

    def _union_plan(
        self, index: int, others: list[int], device
    ) -> tuple[Windows, int, torch.Tensor]:
        """Region of the other samples' union mask and the reference's field through it."""
        key = (index, self.n_measured)
        if key not in self._cache:
            if self._reference is None:
                raise RuntimeError("'union' mode needs set_reference() before predict()")
            union = self.detector.telescope.union_mask(torch.cat([self._points[i] for i in others]))
            region, size = self.detector.region(union)
            region = region.to(device)
            reference = self.detector.exit_spectra(self._reference.to(device), region)
            target = self.detector.fields(reference, size).abs()
            self._cache = {key: (region, size, target)}
        return self._cache[key]
