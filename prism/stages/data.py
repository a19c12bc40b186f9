"""Data stages: prepare an object from an image, simulate its measurements once."""

from __future__ import annotations

import os

import numpy as np
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.core.experiment import measure
from prism.core.operator import MeasurementSet
from prism.core.simulation import physics_geometry, prepare_object
from prism.images import read_image
from prism.io import load_arrays, save_arrays, save_measurements


def prepare(source: str | os.PathLike, out_path: str | os.PathLike, physics: PhysicsConfig) -> dict:
    """Prepare the object amplitude of an image and record the derived geometry.

    Returns
    -------
    dict
        The geometry used: ``image_size``, ``obj_size``, ``sample_diameter``, ``dx``.
    """
    geometry = physics_geometry(physics)
    x = prepare_object(
        read_image(source), obj_size=geometry.obj_size, image_size=physics.image_size
    )
    derived = {
        "image_size": physics.image_size,
        "obj_size": geometry.obj_size,
        "sample_diameter": geometry.sample_diameter,
        "dx": geometry.dx if geometry.dx is not None else float("nan"),
    }
    save_arrays({"object": x.numpy()} | {k: np.array(v) for k, v in derived.items()}, out_path)
    return derived


def simulate(
    prepared_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    pattern: PatternConfig,
    noise: NoiseConfig,
    n_samples: int,
    seed: int,
) -> MeasurementSet:
    """Simulate the measurements of one (object, pattern, n_samples, noise, seed), once.

    The grid and object sizes come from the prepared object's file, the aperture diameter
    from the pattern or, when it sets none, from that file too.
    """
    prepared = load_arrays(prepared_path)
    x = torch.from_numpy(prepared["object"])
    sample_diameter = pattern.sample_diameter or float(prepared["sample_diameter"])
    obj_size = int(prepared["obj_size"])
    data = measure(x, obj_size, sample_diameter, pattern, noise, n_samples=n_samples, seed=seed)
    save_measurements(data, out_path)
    return data
