"""Files: atomic writes and safe checkpoint loading."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


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
        ``path``. A crash inside ``write`` leaves no partial file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Save a checkpoint dict (tensors, numbers, strings, lists, dicts) atomically."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


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
