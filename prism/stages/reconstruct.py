"""The reconstruction stage of every unstaged solver, and the reconstruction file format.

Every solver reads the one saved measurement set, so all methods see identical arrays; a
solver that is not a framing reference never sees the ground truth.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from prism.core.grid import crop_object
from prism.core.operator import MeasurementSet
from prism.io import load_arrays, save_arrays
from prism.solvers import Reconstruction, Solver


def save_reconstruction(
    path: str | os.PathLike, result: Reconstruction, *, wall_time_s: float
) -> Path:
    """Write a solver's result: the image ``[N, N]``, how it stopped, its history, its time.

    The history (per-iteration records, the same keys in each) is stored key by key as
    ``history_<key>`` arrays (the learning curves of the report).
    """
    image = result.image.detach().reshape(result.image.shape[-2:]).cpu().numpy()
    arrays = {
        "reconstruction": image,
        "wall_time_s": np.array(wall_time_s),
        "failed_samples": np.array(result.failed_samples),
        "stop_reason": np.array(result.stop_reason),
        "steps": np.array(result.steps),
    }
    history = result.history
    for key in history[0] if history else ():
        arrays[f"history_{key}"] = np.array([record[key] for record in history])
    return save_arrays(arrays, path)


def load_reconstruction(path: str | os.PathLike) -> dict:
    """Read a file written by :func:`save_reconstruction`.

    Returns ``reconstruction`` (tensor), ``wall_time_s``, ``failed_samples``,
    ``stop_reason``, ``steps`` and ``history`` (column name -> array; empty when none was
    stored).
    """
    arrays = load_arrays(path)
    prefix = "history_"
    return {
        "reconstruction": torch.from_numpy(arrays["reconstruction"]),
        "wall_time_s": float(arrays["wall_time_s"]),
        "failed_samples": int(arrays["failed_samples"]),
        "stop_reason": str(arrays["stop_reason"]),
        "steps": int(arrays["steps"]),
        "history": {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
    }


def reconstruct(
    solver: Solver, data: MeasurementSet, settings, out_reconstruction, *, writer=None
) -> Reconstruction:
    """Run one solver on a measurement set with resolved settings; write its result.

    The solver runs as :meth:`prism.solvers.Solver.run` runs it (without the ground truth
    unless it is a framing reference; scored per iteration when the truth is known).
    ``writer`` (``add_scalar``/``add_image``, e.g. the MLflow writer) receives every history
    record, its position in the history as the step, then the final image's object crop.
    """
    began = time.perf_counter()
    result = solver.run(data, settings)
    wall_time = time.perf_counter() - began
    if writer is not None:
        log_history(writer, result, data.obj_size)
    save_reconstruction(out_reconstruction, result, wall_time_s=wall_time)
    return result


def log_history(writer, result: Reconstruction, obj_size: int) -> None:
    """Every history record as scalars (step: its position), then the image's object crop."""
    for step, record in enumerate(result.history):
        for tag, value in record.items():
            writer.add_scalar(tag, value, step)
    crop = crop_object(result.image.detach().abs(), obj_size).clamp(0, 1)
    writer.add_image("reconstruction", crop[None].float(), max(len(result.history) - 1, 0))
