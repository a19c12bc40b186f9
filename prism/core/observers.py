"""What watches a PRISM fit: per-sample checkpoints, a TensorBoard-style writer, a live figure.

The trainer hands each finished sample's record to these; none of them changes the fit.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from prism.io import save_checkpoint

CHECKPOINT_NAME = "checkpoint.pt"


class Checkpointer:
    """Writes the trainer's state to ``<log_dir>/checkpoint.pt`` (atomically); off without one."""

    def __init__(self, log_dir: str | os.PathLike | None) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None

    def save(self, state: dict) -> None:
        """Write ``state``, replacing the previous checkpoint."""
        if self.log_dir is not None:
            save_checkpoint(state, self.log_dir / CHECKPOINT_NAME)


class RecordWriter:
    """Logs each sample's record (step: the sample index) and the reconstruction to a writer.

    ``writer`` is anything with TensorBoard's ``add_scalar(tag, value, step)`` and
    ``add_image(tag, image_chw, step)``, or None.
    """

    def __init__(self, writer) -> None:
        self.writer = writer

    def log(self, record: dict, reconstruction: torch.Tensor) -> None:
        """Every value of ``record`` but its index, then the object square in ``[0, 1]``."""
        if self.writer is None:
            return
        step = record["index"]
        for tag, value in record.items():
            if tag != "index":
                self.writer.add_scalar(tag, value, step)
        crop = reconstruction.reshape(reconstruction.shape[-2:])
        self.writer.add_image("reconstruction", crop.clamp(0, 1)[None].cpu(), step)


def draw(figure, reconstruction: torch.Tensor, cum_mask: torch.Tensor, history: list[dict]):
    """Redraw a live figure (see :mod:`prism.plotting`, imported only when one is given)."""
    if figure is None:
        return None
    from prism.plotting import update_figure

    return update_figure(figure, reconstruction, cum_mask, history)
