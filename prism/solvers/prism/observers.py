"""What watches a PRISM fit: checkpoints, a writer, a live figure, the ground-truth score.

The trainer hands each finished sample's record to these (per-sample checkpoints, a
TensorBoard-style writer, the live figure; each record scored against the ground truth when
one is known); none of them changes the fit.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from prism.core.grid import pad_to_grid
from prism.io import save_checkpoint
from prism.metrics import square_scorer

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


class FitProgress:
    """Reports a long fit's progress to a writer at a steady interval of wall time.

    Every ``interval_s`` seconds, and when a fit ends, the writer receives ``loss``, ``lr``,
    ``elapsed_s`` and ``eta_s`` (the time left if the whole step budget runs) at the step
    counted over every fit of the run, so successive fits draw one loss curve.

    Parameters
    ----------
    writer : object or None
        Anything with ``add_scalar(tag, value, step)``; None reports nothing.
    optimizer : torch.optim.Optimizer
        Its first group's learning rate is reported.
    interval_s : float
        Seconds between reports.
    """

    def __init__(self, writer, optimizer, interval_s: float = 10.0) -> None:
        self.writer, self.optimizer, self.interval_s = writer, optimizer, interval_s
        self.offset, self.began, self.last = 0, 0.0, 0.0
        self.latest: tuple[int, int, float] | None = None
        self.reported = True

    def start(self, done: int) -> None:
        """A fit begins after ``done`` steps of earlier fits (e.g. before a checkpoint)."""
        self.offset = max(self.offset, done)
        self.began = self.last = time.perf_counter()
        self.latest, self.reported = None, True

    def __call__(self, step: int, budget: int, loss: float) -> None:
        """Note step ``step`` of ``budget``; report when the interval has passed."""
        self.latest, self.reported = (step, budget, loss), False
        if time.perf_counter() - self.last >= self.interval_s:
            self._report()

    def finish(self, steps: int) -> None:
        """A fit ended after ``steps`` steps: report where it ended; the next counts on."""
        if not self.reported:
            self._report()
        self.offset += steps

    def _report(self) -> None:
        self.last, self.reported = time.perf_counter(), True
        if self.writer is None or self.latest is None:
            return
        step, budget, loss = self.latest
        elapsed = self.last - self.began
        values = {
            "loss": loss,
            "lr": self.optimizer.param_groups[0]["lr"],
            "elapsed_s": elapsed,
            "eta_s": elapsed / step * (budget - step),
        }
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, self.offset + step)


def draw(figure, reconstruction: torch.Tensor, coverage, history: list[dict]):
    """Redraw a live figure (see :mod:`prism.plotting`, imported only when one is given).

    ``coverage()`` gives the measured k-space coverage; it is only asked for with a figure.
    """
    if figure is None:
        return None
    from prism.plotting import update_figure

    return update_figure(figure, reconstruction, coverage(), history)


def sample_scorer(image_gt, score, operator, device):
    """Ground-truth metrics of the object square, or None when nothing can score it.

    From ``image_gt`` (the seed API's ground truth) when a call gives one, else from ``score``
    (a function of an ``[N, N]`` estimate, what every solver is given); ``operator`` is the
    data's :class:`~prism.core.operator.MeasurementOperator` (the grid and object sizes).
    """
    size = operator.obj_size
    if image_gt is not None:
        return square_scorer(image_gt.to(device), obj_size=size)
    if score is None:
        return None
    return lambda square: score(pad_to_grid(square.reshape(size, size), operator.image_size))
