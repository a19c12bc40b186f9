"""The measured data of a PRISM fit and the model-side predictions that match them."""

from __future__ import annotations

import torch

from prism.config import check_choice
from prism.core.grid import crop_object, support_disc
from prism.core.operator import MeasurementOperator
from prism.core.optics import amplitude
from prism.core.sampling import line_points
from prism.solvers.prism.settings import INIT_TARGETS, OLD_MODES

Pair = tuple[torch.Tensor, torch.Tensor]


class TelescopeAggregator:
    """The samples measured so far, and model-side predictions of their measurements.

    Every prediction goes through the :class:`~prism.core.operator.MeasurementOperator` of the
    data, the operator they were simulated with; it computes the object's spectrum once per
    step for all the apertures a prediction needs.

    Parameters
    ----------
    operator : MeasurementOperator
        The measurement operator of the data being fitted.
    mode : str
        Old-knowledge term: 'union' compares the model's field through the union of the other
        samples' apertures with the reference reconstruction's field through the same union
        (coherent fields, compared as amplitudes); 'replay' compares the model's intensities
        with the stored measurements of every other sample.
    """

    def __init__(self, operator: MeasurementOperator, *, mode: str = "replay") -> None:
        check_choice("mode", mode, OLD_MODES)
        self.operator = operator
        self.mode = mode
        self._samples: list[int] = []
        self._intensities: list[torch.Tensor] = []
        self._reference: torch.Tensor | None = None
        self._cache: dict = {}

    @property
    def n_measured(self) -> int:
        """Number of samples added so far."""
        return len(self._samples)

    @property
    def cum_mask(self) -> torch.Tensor:
        """Bool ``[N, N]`` union of every measured aperture (for plots; not used per step)."""
        return self.operator.coverage(self._samples)

    def add(self, sample: int, intensity: torch.Tensor) -> None:
        """Add one measured sample.

        Parameters
        ----------
        sample : int
            Its index among the operator's samples.
        intensity : torch.Tensor
            Its measured detector intensity ``[m, m]``.
        """
        size = self.operator.detector_size
        if intensity.shape != (size, size):
            raise ValueError(
                f"`intensity` must be a ({size}, {size}) detector image, "
                f"got shape {tuple(intensity.shape)}"
            )
        if not 0 <= sample < self.operator.n_samples:
            raise ValueError(
                f"`sample` must be in [0, {self.operator.n_samples}) (the operator's samples), "
                f"got {sample!r}"
            )
        self._samples.append(sample)
        self._intensities.append(intensity.to(torch.float32))
        self._cache.clear()

    def check_data(self, sample_centers, intensities, samples_per_line_meas: int) -> int:
        """How many samples the data hold, once checked against the operator's.

        The samples must be the operator's, or its first ones (a fit of a leading subset),
        with one detector image each.

        Raises
        ------
        ValueError
            When the centres or the line sampling give other points, or the intensities
            another shape (the expected one is named).
        """
        points = line_points(sample_centers, samples_per_line_meas)
        operator = self.operator
        if not torch.equal(points.to(operator.points), operator.points[: len(points)]):
            raise ValueError(
                "`sample_centers` and `samples_per_line_meas` must give the aggregator's "
                f"measurement operator's samples ({operator.n_samples} of "
                f"{operator.points.shape[1]} points each) or its first ones"
            )
        size = operator.detector_size
        if intensities.shape != (len(points), size, size):
            raise ValueError(
                f"`intensities` must hold one [{size}, {size}] detector intensity per sample "
                f"({len(points)}), got shape {tuple(intensities.shape)}"
            )
        return len(points)

    def initial_target(self, measurement: torch.Tensor, obj_size: int, kind: str) -> torch.Tensor:
        """The initialization's target, an object square ``[obj, obj]``.

        'measurement': the amplitude of ``measurement`` (one detector image), interpolated
        onto the object grid (:meth:`MeasurementOperator.amplitude_image`); 'support': a disc
        inscribed in the object square with the measurement's energy.
        """
        check_choice("init_target", kind, INIT_TARGETS)
        measurement = measurement.to(torch.float32)
        if kind == "measurement":
            return crop_object(self.operator.amplitude_image(measurement), obj_size)
        disc = support_disc(obj_size, obj_size).to(torch.float32)
        energy = measurement.clamp_min(0).sum()
        return disc * torch.sqrt(energy / disc.sum())

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
            Position of the sample being fitted among those added.

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
        sample = self._samples[index]
        if self.mode == "replay" and others:
            target = self._replay_target(index, others)
            samples = [sample] + [self._samples[i] for i in others]
            predicted = amplitude(self.operator.intensity(x_hat, samples))
            return (predicted[0], measured), (predicted[1:], target.to(x_hat.device))
        predicted = amplitude(self.operator.intensity(x_hat, [sample])[0])
        if not others:
            return (predicted, measured), None
        band, target = self._union_plan(index, others, x_hat.device)
        return (predicted, measured), (self.operator.band_amplitude(x_hat, band), target)

    def predict_all(self, x_hat: torch.Tensor) -> Pair:
        """``(prediction, target)`` amplitudes ``[n, m, m]`` of every measured sample."""
        key = ("all", self.n_measured)
        if key not in self._cache:
            self._cache = {key: amplitude(torch.stack(self._intensities))}
        predicted = amplitude(self.operator.intensity(x_hat, self._samples))
        return predicted, self._cache[key].to(x_hat.device)

    def _replay_target(self, index: int, others: list[int]) -> torch.Tensor:
        """The other samples' measured amplitudes, stacked once per fitted sample."""
        key = (index, self.n_measured)
        if key not in self._cache:
            self._cache = {key: amplitude(torch.stack([self._intensities[i] for i in others]))}
        return self._cache[key]

    def _union_plan(self, index: int, others: list[int], device):
        """The band of the other samples' union and the reference's amplitude through it."""
        key = (index, self.n_measured)
        if key not in self._cache:
            if self._reference is None:
                raise RuntimeError("'union' mode needs set_reference() before predict()")
            band = self.operator.band([self._samples[i] for i in others], device)
            target = self.operator.band_amplitude(self._reference.to(device), band)
            self._cache = {key: (band, target)}
        return self._cache[key]
