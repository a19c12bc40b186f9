"""mPIE: ePIE with momentum.

The momentum form of PIE (Maiden, Johnson & Li, Optica 2017) on the object spectrum with the
known aperture as the pupil. Each sweep is ePIE's (:mod:`prism.solvers.epie`: every sample,
its spectrum windows corrected towards the measured amplitudes). After the sweep, the change
it made ``D`` feeds a velocity, which pushes the spectrum on:

    v <- friction * v + D,      O <- O + feedback * v,

then the object constraints act in object space (support, real, non-negative). It stops by
ePIE's rule (the same settings, the same defaults): the data error stopped improving over a
window of sweeps, reached the noise floor on noisy data, or the sweep cap ran out. Nothing
reads the ground truth.

Its defaults were chosen on the calibration objects only (``config/calibration.yaml``),
never on the evaluation objects (moon, camera); docs/calibration.md holds the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.solvers import Reconstruction, Solver
from prism.solvers.epie import EPIEConfig, run_sweeps


@dataclass(frozen=True)
class MPIEConfig(EPIEConfig):
    """Settings of :func:`solve`: ePIE's (:class:`~prism.solvers.epie.EPIEConfig`) and the momentum.

    Attributes
    ----------
    friction : float
        Share of the velocity kept from one sweep to the next, in [0, 1).
    feedback : float
        How far the velocity pushes the spectrum after a sweep, >= 0 (0: ePIE).
    """

    friction: float = 0.5
    feedback: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.friction < 1:
            raise ValueError(f"`friction` must be in [0, 1), got {self.friction!r}")
        if not self.feedback >= 0:
            raise ValueError(f"`feedback` must be >= 0, got {self.feedback!r}")


def solve(
    data: MeasurementSet, operator: MeasurementOperator, settings: MPIEConfig, *, score=None
) -> Reconstruction:
    """Reconstruct the object from the measured intensities with mPIE.

    Returns the complex64 ``[N, N]`` estimate and one record per sweep: ``data_error`` and
    the metrics of ``score``, as :func:`prism.solvers.epie.solve`.
    """
    return run_sweeps(
        data,
        operator,
        settings,
        score=score,
        friction=settings.friction,
        feedback=settings.feedback,
    )


SOLVERS = (
    Solver("mpie", solve, MPIEConfig, label="mPIE", colour="#882255", marker=">", classical=True),
)
