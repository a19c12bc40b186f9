"""mPIE: ePIE with momentum, random order and a stop when the data error stops falling.

The momentum form of PIE (Maiden, Johnson & Li, Optica 2017) on the object spectrum with the
known aperture as the pupil. Each sweep is ePIE's (:mod:`prism.solvers.epie`: every sample,
in a seeded random order, its spectrum windows corrected towards the measured amplitudes).
After the sweep, the change it made ``D`` feeds a velocity, which pushes the spectrum on:

    v <- friction * v + D,      O <- O + feedback * v,

then the object constraints act in object space (support, real, non-negative). The sweeps stop
when the data error (the relative squared amplitude error of the sweep) has not fallen below
its best by more than 0.1 % for ``patience`` sweeps, or after ``max_epochs``: nothing reads
the ground truth.

Defaults, chosen on calibration objects only (scikit-image astronaut, coins, brick, grass,
hubble_deep_field; N = 256, object 64 px, 16-pixel apertures at 16 and 64 Fermat points out
to 128 k-px, noiseless, seed 0; ``python benchmarks/calibrate.py mpie --grid '{"friction":
[0.5, 0.7, 0.9], "feedback": [0.1, 0.3, 0.5], "patience": [20, 100]}'``), never on the
evaluation objects (moon, camera): mean SSIM over the ten cases ranged from 0.218 (friction
0.9, feedback 0.5) to 0.269 (friction 0.7, feedback 0.3, patience 100; 0.187 with 16
apertures, 0.352 with 64); the same with patience 20 gave 0.259, and patience 100 was better
for every friction and feedback. These sparse sets stay hard for PIE-type solvers whatever
the setting (the TV fit of :mod:`prism.solvers.tv` reached 0.625 on them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prism.config import check_positive
from prism.core.grid import support_mask
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import amplitude, fft2c, ifft2c
from prism.solvers import Reconstruction, Solver
from prism.solvers.epie import check_intensities, constrain, sample_order, sweep
from prism.stopping import BUDGET, RULE, Plateau

_PROGRESS = 1e-3  # a sweep counts as progress when it lowers the best data error by this


@dataclass(frozen=True)
class MPIEConfig:
    """Settings of :func:`solve`.

    Attributes
    ----------
    max_epochs : int
        Cap on the sweeps over every sample.
    patience : int
        Sweeps without progress of the data error before the fit stops.
    alpha : float
        Step size of ePIE's spectrum update, in (0, 2).
    friction : float
        Share of the velocity kept from one sweep to the next, in [0, 1).
    feedback : float
        How far the velocity pushes the spectrum after a sweep, >= 0 (0: ePIE with the stop
        and the order of this solver).
    support, real, nonnegative : bool
        Object constraints after every sweep, as in ePIE.
    random_order : bool
        Visit the samples in a seeded random order each sweep.
    seed : int
        Seed of the random order (a study sets it to the data's seed).
    """

    max_epochs: int = 1000
    patience: int = 100
    alpha: float = 1.0
    friction: float = 0.7
    feedback: float = 0.3
    support: bool = True
    real: bool = False
    nonnegative: bool = True
    random_order: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience"):
            check_positive(name, getattr(self, name), integer=True)
        if not 0 < self.alpha < 2:
            raise ValueError(f"`alpha` must be in (0, 2), got {self.alpha!r}")
        if not 0 <= self.friction < 1:
            raise ValueError(f"`friction` must be in [0, 1), got {self.friction!r}")
        if not self.feedback >= 0:
            raise ValueError(f"`feedback` must be >= 0, got {self.feedback!r}")


def solve(
    data: MeasurementSet, operator: MeasurementOperator, settings: MPIEConfig, *, score=None
) -> Reconstruction:
    """Reconstruct the object from the measured intensities with mPIE.

    Returns the complex64 ``[N, N]`` estimate and one record per sweep: ``data_error``,
    ``best_error`` (the lowest so far) and the metrics of ``score``.
    """
    check_intensities(data, operator)
    measured = amplitude(data.intensities.to(torch.float32))
    spectrum = fft2c(operator.amplitude_image(data.intensities[0]).to(torch.complex64))
    support = support_mask(operator.obj_size, operator.image_size)
    generator = torch.Generator().manual_seed(settings.seed)
    velocity = torch.zeros_like(spectrum)
    plateau = Plateau(1, _PROGRESS, settings.patience)
    history, best, reason = [], float("inf"), BUDGET
    for _ in range(settings.max_epochs):
        before = spectrum.clone()
        order = sample_order(operator.n_samples, settings.random_order, generator)
        error = sweep(spectrum, operator, measured, order, settings.alpha)
        velocity = settings.friction * velocity + (spectrum - before)
        estimate = constrain(ifft2c(spectrum + settings.feedback * velocity), support, settings)
        spectrum = fft2c(estimate)
        best = min(best, error)
        record = {"data_error": error, "best_error": best}
        if score is not None:
            record |= score(estimate)
        history.append(record)
        if plateau.update(error):
            reason = RULE
            break
    return Reconstruction(image=estimate, history=history, stop_reason=reason, steps=len(history))


SOLVERS = (
    Solver("mpie", solve, MPIEConfig, label="mPIE", colour="#D55E00", marker=">", classical=True),
)
