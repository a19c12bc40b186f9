"""Files: atomic writes, measurement sets, reconstructions and safe checkpoint loading."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from prism.core.operator import MeasurementSet


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Write a file atomically: ``write(tmp_path)`` then rename over ``path``.

    Parameters
    ----------
    path : path-like
        Final location; its folder is created if needed.
    write : callable
        Called with a temporary path in the same folder; must write the whole file there.

    Returns
    -------
    pathlib.Path
        ``path``. A crash inside ``write`` leaves no partial file at ``path``; the file is
        on disk (``fsync``) before the rename, and its mode follows the umask, as for any
        new file (group members read results on a shared file system).

    Raises
    ------
    OSError
        ``ENOSPC`` naming ``path`` when its file system is full.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OSError(errno.ENOSPC, f"no space left on device to write {path}") from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Save a checkpoint dict (tensors, numbers, strings, lists, dicts) atomically.

    It is serialised in memory and then written, so that a full disk is reported as such
    (torch's own file writer reports a short write as "unexpected pos").
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint without executing pickled code (``weights_only=True``).

    Raises
    ------
    ValueError
        When the file is missing, damaged or holds anything but plain data.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"checkpoint {path} does not exist") from None
    except Exception as error:  # torch raises several types for damaged or unsafe files
        raise ValueError(
            f"checkpoint {path} is damaged or not a PRISM checkpoint: {error}"
        ) from error


MEASUREMENT_FORMAT = "prism-measurements/2"


def save_measurements(data: MeasurementSet, path: str | os.PathLike) -> Path:
    """Write a measurement set as a self-describing ``.npz`` (format: docs/physics.md)."""
    size, obj = data.image_size, data.obj_size
    offset = (size - obj) // 2
    support = np.zeros((size, size), dtype=bool)
    support[offset : offset + obj, offset : offset + obj] = True
    arrays = {
        "format": np.array(MEASUREMENT_FORMAT),
        "intensities": data.intensities.numpy().astype(np.float32),
        "centers": data.centers.numpy().astype(np.float32),
        "image_size": np.array(size),
        "detector_size": np.array(data.intensities.shape[-1]),
        "obj_size": np.array(obj),
        "support": support,
        "sample_diameter": np.array(float(data.sample_diameter)),
        "samples_per_line_meas": np.array(data.samples_per_line_meas),
        "photons": np.array(np.nan if data.photons is None else float(data.photons)),
        "snr_db": np.array(np.nan if data.snr_db is None else float(data.snr_db)),
        "seed": np.array(data.seed),
    }
    if data.ground_truth is not None:
        arrays["ground_truth"] = data.ground_truth.numpy().astype(np.float32)
    return save_arrays(arrays, path)


def save_arrays(arrays: dict, path: str | os.PathLike) -> Path:
    """Write named numpy arrays as a compressed ``.npz``, atomically and reproducibly."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    return atomic_write(path, write)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` written by :func:`save_arrays` (no pickle).

    Raises
    ------
    ValueError
        Naming the file when it is not such an archive (damaged, truncated, another format).
    """
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(
            f"{path} is not a readable array file (damaged, truncated or of another format); "
            f"delete it and rerun the stage that writes it"
        ) from error


def load_measurements(path: str | os.PathLike) -> MeasurementSet:
    """Read a measurement set written by :func:`save_measurements` (no pickle)."""
    arrays = load_arrays(path)
    found = str(arrays.get("format", "none"))
    if found != MEASUREMENT_FORMAT:
        raise ValueError(f"{path} is format {found!r}, expected {MEASUREMENT_FORMAT!r}")
    ground_truth = arrays.get("ground_truth")
    data = MeasurementSet(
        intensities=torch.from_numpy(arrays["intensities"]),
        centers=torch.from_numpy(arrays["centers"]),
        image_size=int(arrays["image_size"]),
        obj_size=int(arrays["obj_size"]),
        sample_diameter=float(arrays["sample_diameter"]),
        samples_per_line_meas=int(arrays["samples_per_line_meas"]),
        photons=_optional(arrays["photons"]),
        snr_db=_optional(arrays["snr_db"]),
        seed=int(arrays["seed"]),
        ground_truth=None if ground_truth is None else torch.from_numpy(ground_truth),
    )
    size = data.detector().size
    if data.intensities.shape[1:] != (size, size):
        raise ValueError(
            f"{path} holds intensities of shape {tuple(data.intensities.shape)}; its "
            f"sample_diameter {data.sample_diameter} needs [n, {size}, {size}] detector images"
        )
    return data


def _optional(value: np.ndarray) -> float | None:
    return None if np.isnan(value) else float(value)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (the data hash runs are tagged with)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_reconstruction(path: str | os.PathLike, result, *, wall_time_s: float) -> Path:
    """Write a solver's result (a :class:`prism.solvers.Reconstruction`) and its wall time.

    The file holds the image ``[N, N]``, how the solver stopped, its history and its time.

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
