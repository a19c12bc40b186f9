"""The one measurement operator every solver reconstructs through, and the data it explains.

A :class:`MeasurementSet` is what an instrument recorded (intensities, where the apertures
were, the noise model; the ground truth only when simulated). A
:class:`MeasurementOperator` is built once from it and holds everything a solver needs to
model those measurements: the forward intensities of an object square (points and lines),
the fields behind every aperture and their adjoint on the aperture windows (for spectral
solvers such as ePIE), the noise model, and the k-space coverage. Solvers never build
windows or detectors themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from prism.core.detector import Detector, Windows, concat_windows
from prism.core.optics import Telescope, amplitude
from prism.core.sampling import line_points
from prism.core.simulation import add_noise

NOISE_FLOOR_DRAWS = 4  # re-noised copies averaged by noise_floor


@dataclass(frozen=True)
class MeasurementSet:
    """One measured (or simulated) data set, shared by every solver.

    Attributes
    ----------
    intensities : torch.Tensor
        Float32 ``[n, m, m]`` measured detector intensities (see
        :mod:`prism.core.detector`: ``m = 2 * (ceil(sample_diameter) + 1)``).
    centers : torch.Tensor
        Float32 ``[n, 1, 2]`` points or ``[n, 2, 2]`` line end points, ``[y, x]`` k-space
        pixels from DC.
    image_size, obj_size : int
        Grid size ``N`` and object width; the object support is the ``obj_size`` square at
        offset ``(N - obj_size) // 2``.
    sample_diameter : float
        Aperture disc diameter in k-space pixels.
    samples_per_line_meas : int
        Points per line measurement (1 for points).
    photons, snr_db : float or None
        Noise model (Poisson photon budget per measurement, Gaussian SNR in dB); None is off.
    seed : int
        Seed of the noise.
    ground_truth : torch.Tensor or None
        Float32 ``[N, N]`` object amplitude, when known.
    """

    intensities: torch.Tensor
    centers: torch.Tensor
    image_size: int
    obj_size: int
    sample_diameter: float
    samples_per_line_meas: int
    photons: float | None
    snr_db: float | None
    seed: int
    ground_truth: torch.Tensor | None

    @classmethod
    def from_detector(
        cls,
        detector: Detector,
        centers: torch.Tensor,
        intensities: torch.Tensor,
        *,
        samples_per_line_meas: int = 1,
        photons: float | None = None,
        snr_db: float | None = None,
        seed: int = 0,
        ground_truth: torch.Tensor | None = None,
    ) -> MeasurementSet:
        """The measurement set of intensities recorded with ``detector`` (its geometry)."""
        return cls(
            intensities=intensities,
            centers=centers,
            image_size=detector.telescope.image_size,
            obj_size=detector.obj_size,
            sample_diameter=detector.telescope.sample_diameter,
            samples_per_line_meas=samples_per_line_meas,
            photons=photons,
            snr_db=snr_db,
            seed=seed,
            ground_truth=ground_truth,
        )

    def without_ground_truth(self) -> MeasurementSet:
        """The same measurements with the ground truth removed (what a solver may see)."""
        return dataclasses.replace(self, ground_truth=None)

    def detector(self, *, full_grid: bool = False) -> Detector:
        """The detector-grid operator these intensities were simulated with.

        ``full_grid`` gives the full-grid reference discretisation instead (tests and
        benchmarks: its detector is the whole ``N x N`` grid).
        """
        telescope = Telescope(self.image_size, sample_diameter=self.sample_diameter)
        return Detector(telescope, self.obj_size, full_grid=full_grid)


@dataclass(frozen=True)
class Band:
    """A window over a union of apertures and the detector side that samples its field.

    Attributes
    ----------
    windows : Windows
        One square window over the union's bounding box (side ``B``).
    size : int
        Detector side of the band's field: ``B`` rounded up to even, at most ``N``.
    """

    windows: Windows
    size: int


@dataclass(frozen=True)
class _SampleWindows:
    """One sample's aperture windows and its update weights ``M_p / max(sum_p M_p, 1)``."""

    rows: torch.Tensor
    cols: torch.Tensor
    masks: torch.Tensor
    weights: torch.Tensor


class MeasurementOperator:
    """The instrument of a measurement set: object square -> detector intensities.

    Parameters
    ----------
    data : MeasurementSet
        Geometry (grid, object and aperture sizes), aperture positions, points per line and
        noise model; its intensities and ground truth are not read.
    full_grid : bool
        Use the full-grid reference detector (:class:`~prism.core.detector.Detector`) instead
        of the fast one the data were simulated with (tests and benchmarks).

    Notes
    -----
    A sample ``c`` is one measurement: ``I_c = mean_p |F_m^-1(W_p(F(o) M_p))|^2`` over its
    points ``p`` (one for a point, ``samples_per_line_meas`` for a line), as in
    :mod:`prism.core.detector`. :meth:`intensity` and :meth:`band_amplitude` model any
    subset of the samples (what PRISM's aggregator compares); the per-sample methods
    (:meth:`exit_spectra`, :meth:`to_detector`, :meth:`from_detector`,
    :meth:`add_to_spectrum`) work on the object's spectrum over the ``N x N`` grid and the
    apertures' windows; they are the steps of a ptychographic (PIE-type) update.
    """

    def __init__(self, data: MeasurementSet, *, full_grid: bool = False) -> None:
        self.detector = data.detector(full_grid=full_grid)
        self.telescope = self.detector.telescope
        self.points = line_points(data.centers, data.samples_per_line_meas).to(torch.float32)
        self.photons, self.snr_db = data.photons, data.snr_db
        self._windows: dict[int, Windows] = {}
        self._updates: dict[int, _SampleWindows] = {}
        self._joined: tuple[tuple, Windows] | None = None

    @property
    def n_samples(self) -> int:
        """Number of measurements ``n``."""
        return len(self.points)

    @property
    def image_size(self) -> int:
        """Grid size ``N``."""
        return self.telescope.image_size

    @property
    def obj_size(self) -> int:
        """Width of the object square."""
        return self.detector.obj_size

    @property
    def detector_size(self) -> int:
        """Detector pixels per side ``m``."""
        return self.detector.size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Intensities ``[n, m, m]`` of every sample for an object square ``[obj, obj]``.

        Differentiable in ``x`` (real or complex).
        """
        return self.intensity(x, range(self.n_samples))

    def intensity(self, x: torch.Tensor, samples: Sequence[int]) -> torch.Tensor:
        """Intensities ``[k, m, m]`` of the given samples, in that order (differentiable).

        The samples' windows are joined (and moved to ``x``'s device) once and reused while the
        same samples are asked for on that device.
        """
        key = (tuple(samples), x.device)
        if self._joined is None or self._joined[0] != key:
            joined = concat_windows([self._sample_windows(i) for i in key[0]])
            self._joined = (key, joined.to(x.device))
        return self.detector.intensity(x, self._joined[1])

    def band(self, samples: Sequence[int], device: torch.device | str = "cpu") -> Band:
        """The window over the union of the samples' apertures, on ``device``."""
        union = self.coverage(samples)
        windows, size = self.detector.region(union)
        return Band(windows.to(device), size)

    def band_amplitude(self, x: torch.Tensor, band: Band) -> torch.Tensor:
        """``|F^-1(F(x) C)|`` sampled on the band's detector, ``[1, B, B]`` (``C``: its union)."""
        spectra = self.detector.exit_spectra(x, band.windows)
        return self.detector.fields(spectra, band.size).abs()

    def add_noise(self, intensities: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Intensities with this data set's noise model applied (unchanged when noiseless)."""
        return add_noise(intensities, photons=self.photons, snr_db=self.snr_db, generator=generator)

    @property
    def noisy(self) -> bool:
        """Whether the data carry noise (a Poisson budget or a Gaussian SNR)."""
        return self.photons is not None or self.snr_db is not None

    def amplitude_image(self, intensity: torch.Tensor) -> torch.Tensor:
        """The amplitude ``[N, N]`` one detector image ``[m, m]`` implies on the object grid."""
        return self.detector.amplitude_image(intensity)

    def coverage(self, samples: Sequence[int] | None = None) -> torch.Tensor:
        """Bool ``[N, N]`` k-space coverage: the union of the apertures (of every sample)."""
        points = self.points if samples is None else self.points[list(samples)]
        return self.telescope.union_mask(points)

    def exit_spectra(self, spectrum: torch.Tensor, sample: int) -> torch.Tensor:
        """The spectrum ``[N, N]`` through each aperture of a sample, on its windows.

        Returns complex ``[s, w, w]``, one window per point of the sample.
        """
        windows = self._sample(sample)
        return spectrum[windows.rows, windows.cols] * windows.masks

    def to_detector(self, spectra: torch.Tensor) -> torch.Tensor:
        """Detector fields ``[s, m, m]`` of window spectra ``[s, w, w]``."""
        return self.detector.fields(spectra)

    def from_detector(self, fields: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`to_detector`: window spectra ``[s, w, w]`` of detector fields."""
        return self.detector.window_spectra(fields)

    def add_to_spectrum(self, spectrum: torch.Tensor, sample: int, update: torch.Tensor) -> None:
        """Add window updates ``[s, w, w]`` of a sample into ``spectrum`` in place.

        Each window's update is weighted by ``M_p / max(sum_p M_p, 1)``: inside the aperture,
        shared equally where a line's apertures overlap.
        """
        windows = self._sample(sample)
        spectrum.index_put_((windows.rows, windows.cols), windows.weights * update, accumulate=True)

    def _sample_windows(self, sample: int) -> Windows:
        if sample not in self._windows:
            self._windows[sample] = self.detector.windows(self.points[sample][None])
        return self._windows[sample]

    def _sample(self, sample: int) -> _SampleWindows:
        if sample not in self._updates:
            windows = self._sample_windows(sample)
            rows, cols = windows.rows[:, :, None], windows.cols[:, None, :]
            grid = self.image_size
            coverage = torch.zeros(grid, grid).index_put_(
                (rows, cols), windows.masks, accumulate=True
            )
            weights = windows.masks / coverage[rows, cols].clamp_min(1)
            self._updates[sample] = _SampleWindows(rows, cols, windows.masks, weights)
        return self._updates[sample]


def noise_floor(
    data: MeasurementSet, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> float:
    """The data misfit left once a fit explains the signal and only the noise remains.

    Estimated without the clean data: the measured intensities are noised again with their
    own noise model and ``distance`` taken between the re-noised and the measured amplitudes,
    over every measurement at once, averaged over ``NOISE_FLOOR_DRAWS`` draws seeded from the
    data's seed. For the L1 loss on sparse points and lines at 40 dB it read 0.89-1.04 times
    the true floor (the distance between the noisy and the noiseless amplitudes). Poisson
    noise at low counts reads low (0.55-0.8 at 1e4 photons per measurement: a pixel that
    counted nothing stays at 0 when re-noised). 0 for noiseless data.

    Parameters
    ----------
    data : MeasurementSet
        The measurements and their noise model (``photons``, ``snr_db``).
    distance : callable
        ``distance(prediction, target)`` of two amplitude stacks, a 0-d tensor (e.g.
        :func:`prism.metrics.amplitude_misfit`).

    Returns
    -------
    float
        The estimated floor, in the units of ``distance``.
    """
    operator = MeasurementOperator(data)
    if not operator.noisy:
        return 0.0
    measured = data.intensities.clamp_min(0)  # Gaussian noise leaves negative values
    # the data's own noise was drawn with the plain seed; salting it ([seed, draws]) gives
    # streams independent of that noise
    seeds = np.random.SeedSequence([data.seed, NOISE_FLOOR_DRAWS]).generate_state(NOISE_FLOOR_DRAWS)
    floors = []
    for seed in seeds.tolist():
        renoised = operator.add_noise(measured, torch.Generator().manual_seed(seed))
        floors.append(distance(amplitude(renoised), amplitude(measured)).item())
    return float(np.mean(floors))
