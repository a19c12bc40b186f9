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

When it stops: the rule every iterating solver of this package shares
(:class:`prism.stopping.Plateau`), on the sweeps' data error (the relative squared amplitude
error): the mean over the last ``window`` sweeps improved on the best window by less than
``tolerance``, relative; on noisy data, as soon as the data error of the constrained estimate
(:func:`misfit`, one extra forward pass per sweep) is within ``discrepancy`` times the error
the noise alone leaves (:func:`prism.core.operator.noise_floor`); else after ``max_epochs``
sweeps. The rule's window and tolerance are the TV fit's (100 iterations, 1e-3). Sweeps are
cheap and PIE fits converge slowly; on noiseless data the cap of ``max_epochs`` sweeps ends
most fits (their ``stop_reason`` says "budget"). The measurements behind the defaults, on
the calibration objects only (``config/calibration.yaml``), are in docs/calibration.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prism.config import check_positive
from prism.core.grid import crop_object, support_mask
from prism.core.operator import MeasurementOperator, MeasurementSet, noise_floor
from prism.core.optics import amplitude, fft2c, ifft2c, power
from prism.solvers import Reconstruction, Solver
from prism.stopping import BUDGET, NOISE_FLOOR, RULE, Plateau

_EPS = 1e-12


@dataclass(frozen=True)
class EPIEConfig:
    """Settings of :func:`solve`.

    Attributes
    ----------
    max_epochs : int
        Cap on the sweeps over every sample.
    window : int
        Sweeps per window of the stopping rule.
    tolerance : float
        The fit stops when a window's mean data error improved on the best window's by less
        than this fraction.
    discrepancy : float
        Noisy data: the fit stops once its data error is at most this multiple of the noise
        floor.
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

    max_epochs: int = 3000
    window: int = 100
    tolerance: float = 1e-3
    discrepancy: float = 1.0
    alpha: float = 1.0
    support: bool = True
    real: bool = False
    nonnegative: bool = True
    random_order: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_epochs", "window"):
            check_positive(name, getattr(self, name), integer=True)
        for name in ("tolerance", "discrepancy"):
            check_positive(name, getattr(self, name))
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
        Stopping rule, step size, constraints and sample order.
    score : callable, optional
        Ground-truth metrics of an ``[N, N]`` estimate, added to each sweep's record.

    Returns
    -------
    Reconstruction
        Complex64 ``[N, N]`` estimate (real-valued when constrained to be real) and one
        record per sweep: ``data_error`` (relative squared amplitude error over every
        sample, measured during the sweep), on noisy data ``misfit`` (the same error of the
        sweep's constrained estimate, :func:`misfit`) and the metrics of ``score``.
    """
    return run_sweeps(data, operator, settings, score=score)


def run_sweeps(
    data: MeasurementSet,
    operator: MeasurementOperator,
    settings: EPIEConfig,
    *,
    score=None,
    friction: float = 0.0,
    feedback: float = 0.0,
) -> Reconstruction:
    """Run ePIE's sweeps until the stopping rule, with momentum when ``feedback`` > 0.

    After each sweep, the change ``D`` it made to the spectrum feeds a velocity
    ``v <- friction * v + D`` that pushes the spectrum on by ``feedback * v`` before the
    object constraints act (mPIE, :mod:`prism.solvers.mpie`); ``feedback`` 0 is ePIE.
    """
    check_intensities(data, operator)
    measured = amplitude(data.intensities.to(torch.float32))
    spectrum = fft2c(operator.amplitude_image(data.intensities[0]).to(torch.complex64))
    support = support_mask(operator.obj_size, operator.image_size)
    generator = torch.Generator().manual_seed(settings.seed)
    floor = settings.discrepancy * noise_floor(data, relative_squared_error)
    plateau = Plateau(settings.window, settings.tolerance)
    velocity = torch.zeros_like(spectrum) if feedback else None
    history, reason = [], BUDGET
    for _ in range(settings.max_epochs):
        before = spectrum.clone() if velocity is not None else None
        order = sample_order(operator.n_samples, settings.random_order, generator)
        error = sweep(spectrum, operator, measured, order, settings.alpha)
        if velocity is not None:
            velocity = friction * velocity + (spectrum - before)
            spectrum = spectrum + feedback * velocity
        estimate = constrain(ifft2c(spectrum), support, settings)
        spectrum = fft2c(estimate)
        record = {"data_error": error}
        if floor > 0:
            record["misfit"] = misfit(estimate, operator, measured)
        if score is not None:
            record |= score(estimate)
        history.append(record)
        if floor > 0 and record["misfit"] <= floor:
            reason = NOISE_FLOOR
            break
        if plateau.update(error):
            reason = RULE
            break
    return Reconstruction(image=estimate, history=history, stop_reason=reason, steps=len(history))


def misfit(estimate: torch.Tensor, operator: MeasurementOperator, measured) -> float:
    """The data error of ``estimate`` itself, after the object constraints.

    The sweep's own error is lower: each sample is scored right after the samples before it
    in the sweep were fitted, and before the constraints act. The noise-floor test must judge
    the image it returns (on 40 dB data at N = 1024 the sweep error reached the floor while
    the returned image's error was 1.3 times it).
    """
    square = crop_object(estimate, operator.obj_size)
    return relative_squared_error(amplitude(operator.forward(square)), measured).item()


def relative_squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The sweeps' data error between two amplitude stacks: squared error over target power."""
    return (prediction - target).square().sum() / target.square().sum().clamp_min(_EPS)


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
