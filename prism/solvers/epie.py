"""ePIE: Fourier-ptychographic reconstruction of the object spectrum, the classical baseline.

The pupil of each aperture is its known disc ``M``. For each sample, in order::

    Phi_p = O * M_p                      for every point p of the sample
    phi_p = F_m^-1(Phi_p)                on the detector grid
    Psi_p = F_m(sqrt(I) * phi_p / max(rms, eps)),  rms = sqrt(mean_p |phi_p|^2)
    O    <- O + alpha * sum_p M_p (Psi_p - Phi_p) / max(sum_p M_p, 1)

Every step goes through the measurement operator (:mod:`prism.core.operator`): per sample it
touches only the apertures' windows and the ``m x m`` detector; once per sweep the object
constraints act on the ``N x N`` grid. The initial spectrum is the first measurement's
amplitude on the grid.

For a point (one p) this is the textbook update ``O + alpha conj(M)/max|M|^2 (Psi - Phi)``;
for a line the amplitude correction uses the RMS over the line's points, the same incoherent
model as the data. After every sweep the object constraints are applied in object space:
support, real, non-negative (non-negative implies real).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prism.config import check_positive
from prism.core.grid import support_mask
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import amplitude, fft2c, ifft2c, power
from prism.solvers import Reconstruction, Solver
from prism.stopping import BUDGET

_EPS = 1e-12


@dataclass(frozen=True)
class EPIEConfig:
    """Settings of :func:`solve`.

    Attributes
    ----------
    epochs : int
        Sweeps over every sample.
    alpha : float
        Step size of the spectrum update, in (0, 2).
    support : bool
        Zero the object outside its ``obj_size`` square after every sweep.
    real : bool
        Keep only the real part of the object after every sweep.
    nonnegative : bool
        Keep the real part clipped at 0 (implies ``real``).
    random_order : bool
        Visit the samples in a seeded random order each sweep instead of the pattern order.
    seed : int
        Seed of the random order (a study sets it to the data's seed).
    """

    epochs: int = 100
    alpha: float = 1.0
    support: bool = True
    real: bool = False
    nonnegative: bool = True
    random_order: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("epochs", self.epochs, integer=True)
        if not 0 < self.alpha < 2:
            raise ValueError(f"`alpha` must be in (0, 2), got {self.alpha!r}")


def solve(
    data: MeasurementSet,
    operator: MeasurementOperator,
    settings: EPIEConfig,
    *,
    score=None,
) -> Reconstruction:
    """Reconstruct the object from the measured intensities with ePIE.

    Parameters
    ----------
    data : MeasurementSet
        Measured detector intensities ``[n, m, m]`` (the same arrays every solver reads).
    operator : MeasurementOperator
        The measurement operator of ``data``.
    settings : EPIEConfig
        Epochs, step size, constraints and sample order.
    score : callable, optional
        Ground-truth metrics of an ``[N, N]`` estimate, added to each epoch's record.

    Returns
    -------
    Reconstruction
        Complex64 ``[N, N]`` estimate (real-valued when constrained to be real) and one
        record per epoch: ``data_error`` (relative squared amplitude error over every
        sample, measured during the sweep) and the metrics of ``score``. The textbook ePIE
        has no stopping rule: it always runs its ``epochs`` (``stop_reason`` "budget").
    """
    check_intensities(data, operator)
    measured = amplitude(data.intensities.to(torch.float32))
    first = operator.amplitude_image(data.intensities[0])
    spectrum = fft2c(first.to(torch.complex64))
    support = support_mask(operator.obj_size, operator.image_size)
    generator = torch.Generator().manual_seed(settings.seed)
    history = []
    for _ in range(settings.epochs):
        order = sample_order(operator.n_samples, settings.random_order, generator)
        error = sweep(spectrum, operator, measured, order, settings.alpha)
        estimate = constrain(ifft2c(spectrum), support, settings)
        spectrum = fft2c(estimate)
        record = {"data_error": error}
        if score is not None:
            record |= score(estimate)
        history.append(record)
    return Reconstruction(image=estimate, history=history, stop_reason=BUDGET, steps=len(history))


def check_intensities(data: MeasurementSet, operator: MeasurementOperator) -> None:
    """Raise ValueError unless the data hold one detector image per sample of the operator."""
    size = operator.detector_size
    if data.intensities.shape != (operator.n_samples, size, size):
        raise ValueError(
            f"`intensities` must hold one [{size}, {size}] detector image per sample "
            f"({operator.n_samples}), got shape {tuple(data.intensities.shape)}"
        )


def sample_order(n: int, random_order: bool, generator: torch.Generator) -> list[int]:
    """The samples' order for one sweep: seeded random, or the pattern's."""
    if random_order:
        return torch.randperm(n, generator=generator).tolist()
    return list(range(n))


def sweep(spectrum, operator: MeasurementOperator, measured, order, alpha) -> float:
    """Update ``spectrum`` in place, sample by sample; returns the relative data error."""
    residual, total = 0.0, 0.0
    for index in order:
        exit_spectra = operator.exit_spectra(spectrum, index)
        fields = operator.to_detector(exit_spectra)
        rms = torch.sqrt(power(fields).mean(dim=0))
        residual += (rms - measured[index]).square().sum().item()
        total += measured[index].square().sum().item()
        corrected = operator.from_detector(fields * (measured[index] / rms.clamp_min(_EPS)))
        operator.add_to_spectrum(spectrum, index, alpha * (corrected - exit_spectra))
    return residual / max(total, _EPS)


def constrain(x: torch.Tensor, support: torch.Tensor, config) -> torch.Tensor:
    """The object constraints of ``config`` (``support``, ``nonnegative``, ``real``)."""
    if config.support:
        x = x * support
    if config.nonnegative:
        return x.real.clamp_min(0).to(x.dtype)
    if config.real:
        return x.real.to(x.dtype)
    return x


SOLVERS = (
    Solver("epie", solve, EPIEConfig, label="ePIE", colour="#D55E00", marker="^", classical=True),
)
