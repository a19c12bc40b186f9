"""A measurement set simulated from an image and the study's settings: one function for all.

The chain pattern -> detector -> intensities -> :class:`MeasurementSet` is written once here;
the data stage, the benchmarks and the tests call it.
"""

from __future__ import annotations

import numpy as np
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.core.detector import Detector
from prism.core.operator import MeasurementSet
from prism.core.optics import Telescope
from prism.core.sampling import make_pattern
from prism.core.simulation import physics_geometry, prepare_object, simulate_measurements


def simulate(
    image: np.ndarray,
    physics: PhysicsConfig,
    pattern: PatternConfig,
    noise: NoiseConfig,
    *,
    n_samples: int,
    seed: int = 0,
) -> MeasurementSet:
    """Simulate the measurements of an image: prepare its object, then :func:`measure` it.

    Parameters
    ----------
    image : numpy.ndarray
        Any image (grey, RGB or RGBA, any size); it becomes the object amplitude in
        ``[0, 1]`` on the object square (:func:`~prism.core.simulation.prepare_object`).
    physics : PhysicsConfig
        The grid and the object and aperture sizes (or the physics they derive from).
    pattern : PatternConfig
        Where the apertures go (and whether they are lines).
    noise : NoiseConfig
        The noise model (none, Poisson photons or Gaussian SNR).
    n_samples : int
        Number of measurements.
    seed : int
        Seed of the noise and of a random pattern; the set records it.

    Returns
    -------
    MeasurementSet
        The measured intensities, their geometry and the ground truth.
    """
    geometry = physics_geometry(physics)
    x = prepare_object(image, obj_size=geometry.obj_size, image_size=physics.image_size)
    sample_diameter = pattern.sample_diameter or geometry.sample_diameter
    return measure(
        x, geometry.obj_size, sample_diameter, pattern, noise, n_samples=n_samples, seed=seed
    )


def measure(
    x: torch.Tensor,
    obj_size: int,
    sample_diameter: float,
    pattern: PatternConfig,
    noise: NoiseConfig,
    *,
    n_samples: int,
    seed: int = 0,
) -> MeasurementSet:
    """Measure a prepared object ``x`` (``[N, N]``, its object square centred) once.

    ``sample_diameter`` is the aperture in k-space pixels; the other arguments are
    :func:`simulate`'s. The ground truth ``x`` travels with the set.
    """
    size = x.shape[-1]
    centers = make_pattern(
        pattern.kind,
        n_samples,
        r_max=pattern.radius(size),
        line_length=pattern.line_length,
        angle=pattern.line_angle,
        seed=seed,
    )
    detector = Detector(Telescope(size, sample_diameter=sample_diameter), obj_size)
    options = {
        "samples_per_line_meas": pattern.points_per_sample,
        "photons": noise.photons,
        "snr_db": noise.snr_db,
        "seed": seed,
    }
    intensities = simulate_measurements(x, centers, detector=detector, **options)
    return MeasurementSet.from_detector(detector, centers, intensities, **options, ground_truth=x)
