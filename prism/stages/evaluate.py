"""Evaluation stages: score one reconstruction, then summarize the whole study."""

from __future__ import annotations

import json
import os
from pathlib import Path

import imageio.v3 as imageio
import numpy as np
import pandas as pd
import torch

from prism.core.optics import Telescope
from prism.core.sampling import line_points
from prism.io import MeasurementSet, atomic_write, load_measurements
from prism.metrics import crop_object, evaluate
from prism.stages.reconstruct import load_reconstruction

KEYS = ("object", "pattern", "n_samples", "noise", "seed", "algorithm")
SCORES = ("ssim", "psnr", "nrmse", "failed_samples", "wall_time_s")


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
        Metrics JSON (``key`` fields plus SSIM, PSNR, NRMSE, failed samples, wall time) and
        a PNG of the reconstructed object crop.
    key : dict
        The reconstruction's identity: object, pattern, n_samples, noise, seed, algorithm.
    """
    data = load_measurements(measurements_path)
    result = load_reconstruction(reconstruction_path)
    metrics = evaluate(result["reconstruction"], data.ground_truth, obj_size=data.obj_size)
    record = {name: int(v) if name in ("n_samples", "seed") else v for name, v in key.items()}
    record |= metrics.as_dict()
    record |= {"failed_samples": result["failed_samples"], "wall_time_s": result["wall_time_s"]}
    write_json(record, out_json)
    crop = crop_object(result["reconstruction"].abs(), data.obj_size).clamp(0, 1)
    write_png(crop, out_png)
    return record


def coverage(data: MeasurementSet) -> torch.Tensor:
    """Bool ``[N, N]`` k-space coverage: the union of every measured aperture."""
    telescope = Telescope(data.image_size, sample_diameter=data.sample_diameter)
    return telescope.union_mask(line_points(data.centers, data.samples_per_line_meas))


def write_png(image: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a ``[H, W]`` image in ``[0, 1]`` as an 8-bit grey PNG, atomically."""
    pixels = np.round(image.numpy() * 255).astype(np.uint8)
    return atomic_write(path, lambda tmp: imageio.imwrite(tmp, pixels, extension=".png"))


def summarize(metrics_paths: list[str | os.PathLike], out_csv: str | os.PathLike) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every score, one row per configuration."""
    frame = read_metrics(metrics_paths)
    group = [key for key in KEYS if key != "seed"]
    table = frame.groupby(group, sort=True)[list(SCORES)].agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "n_seeds", frame.groupby(group, sort=True)["seed"].nunique())
    table = table.reset_index()
    atomic_write(out_csv, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    return table


def read_metrics(metrics_paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Every reconstruction's metrics JSON as one row."""
    return pd.DataFrame.from_records([json.loads(Path(p).read_text()) for p in metrics_paths])


def write_tracked_scores(metrics_paths, out_json, out_curve_csv) -> None:
    """The study's headline scores for DVC: metrics per algorithm, SSIM/PSNR curves.

    ``out_json`` holds each algorithm's SSIM, PSNR and NRMSE averaged over every
    reconstruction of the study; ``out_curve_csv`` their means per number of apertures.
    Wall times are left out so that a rerun of the same study gives identical files.
    """
    frame = read_metrics(metrics_paths)
    quality = ["ssim", "psnr", "nrmse"]
    overall = frame.groupby("algorithm", sort=True)[quality].mean()
    write_json({name: row.round(6).to_dict() for name, row in overall.iterrows()}, out_json)
    curves = frame.groupby(["algorithm", "n_samples"], sort=True)[quality].mean().reset_index()
    atomic_write(out_curve_csv, lambda tmp: curves.to_csv(tmp, index=False, float_format="%.6g"))
