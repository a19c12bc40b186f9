"""Evaluation stage: score one reconstruction with the one metrics module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import torch

from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import amplitude
from prism.io import atomic_write, load_measurements, load_reconstruction
from prism.metrics import amplitude_misfit, evaluate

KEYS = ("object", "pattern", "n_samples", "noise", "seed", "algorithm")
SCORES = ("ssim", "psnr", "nrmse", "failed_samples", "wall_time_s", "steps", "data_misfit")


def write_json(data: dict, path: str | os.PathLike) -> Path:
    """Write a JSON file atomically, keys sorted, so reruns give identical bytes."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def score(measurements_path, reconstruction_path, out_json, out_png, *, key: dict) -> dict:
    """Score a reconstruction against the ground truth with the one metrics module.

    Parameters
    ----------
    measurements_path, reconstruction_path : path-like
        The measurement set (holds the ground truth) and the reconstruction file.
    out_json, out_png : path-like
        Metrics JSON (``key`` fields, the two input paths, SSIM, PSNR, NRMSE, failed samples,
        wall time, how the solver stopped: ``stop_reason`` and ``steps``, and the final
        ``data_misfit``, :func:`data_misfit`) and a PNG of the reconstructed object crop.
    key : dict
        The reconstruction's identity: object, pattern, n_samples, noise, seed, algorithm.
    """
    data = load_measurements(measurements_path)
    result = load_reconstruction(reconstruction_path)
    metrics = evaluate(result["reconstruction"], data.ground_truth, obj_size=data.obj_size)
    record = {name: int(v) if name in ("n_samples", "seed") else v for name, v in key.items()}
    record |= {"measurements": str(measurements_path), "reconstruction": str(reconstruction_path)}
    record |= metrics.as_dict()
    record |= {name: result[name] for name in ("failed_samples", "wall_time_s", "stop_reason")}
    record |= {"steps": result["steps"], "data_misfit": data_misfit(result["reconstruction"], data)}
    write_json(record, out_json)
    crop = crop_object(result["reconstruction"].abs(), data.obj_size).clamp(0, 1)
    write_png(crop, out_png)
    return record


def data_misfit(estimate: torch.Tensor, data: MeasurementSet) -> float:
    """How far an estimate's predicted amplitudes are from the measured ones, for any method.

    The L1 distance of the TV fit and of PRISM's loss, over every measurement at once: mean
    absolute amplitude error over the mean measured amplitude (negative noise clipped),
    through the one measurement operator, of the estimate's object square (the support
    every solver reconstructs). On noisy data it cannot fall far below the noise floor; 0
    is a perfect fit of noiseless data.
    """
    square = crop_object(estimate, data.obj_size)
    with torch.no_grad():
        predicted = amplitude(MeasurementOperator(data).forward(square))
        measured = amplitude(data.intensities.to(torch.float32))
        return amplitude_misfit(predicted, measured).item()


def coverage(data: MeasurementSet) -> torch.Tensor:
    """Bool ``[N, N]`` k-space coverage: the union of every measured aperture."""
    return MeasurementOperator(data).coverage()


def write_png(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a ``[H, W]`` image in ``[0, 1]`` as an 8-bit grey PNG, atomically."""
    pixels = np.round(image.numpy() * 255).astype(np.uint8)
    return atomic_write(path, lambda tmp: imageio.imwrite(tmp, pixels, extension=".png"))
