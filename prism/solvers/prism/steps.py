"""PRISM's steps: initialization -> training -> retry, checkpointed between them.

Each step is one :class:`~prism.solvers.prism.trainer.PRISMTrainer` call on a trainer built by
:func:`build_trainer`; checkpoints carry the state from one to the next, and training resumes
from its last per-sample checkpoint (kept in ``progress/`` beside its output) after an
interruption. :func:`run_step` is the solver's entry for the workflow.
"""

from __future__ import annotations

import sys
import time

from prism.core.operator import MeasurementSet
from prism.io import (
    atomic_write,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
    save_reconstruction,
)
from prism.solvers import StepContext
from prism.solvers.prism.build import build_trainer, outcome
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.observers import CHECKPOINT_NAME
from prism.solvers.prism.settings import PrismConfig
from prism.solvers.prism.trainer import PRISMTrainer

STEPS = ("init", "train", "retry")


def run_step(step: str, data: MeasurementSet, config: PrismConfig, context: StepContext) -> None:
    """Run one of :data:`STEPS` on a fresh trainer and write its file (``context.out``).

    Each sample's record (scored by ``context.score``) is logged under ``sample``, a long
    fit's progress under ``fit``; training keeps its per-sample checkpoints in ``progress/``
    beside its output.
    """
    progress, fit = context.scoped("sample"), context.scoped("fit", closing_tag="eta_s")
    trainer = build_trainer(
        data,
        config,
        log_dir=context.out.parent / "progress" if step == "train" else None,
        writer=progress,
        progress=fit,
        device=context.device,
        score=context.score,
    )
    if step == "init":
        prism_initialize(data, context.out, trainer)
    elif step == "train":
        prism_train(data, context.checkpoint, context.out, trainer)
    else:
        prism_retry(data, context.checkpoint, context.out, trainer, config)
    progress.flush()
    fit.flush()


def prism_initialize(data: MeasurementSet, out_checkpoint, trainer: PRISMTrainer) -> None:
    """Fit the decoder to its initial target and save the trainer's state."""
    began = time.perf_counter()
    trainer.run_initialization(data.intensities[0], data.centers[0], data.ground_truth)
    elapsed = time.perf_counter() - began
    save_checkpoint(trainer.state_dict() | {"init_time_s": elapsed}, out_checkpoint)


def prism_train(
    data: MeasurementSet, init_checkpoint, out_checkpoint, trainer: PRISMTrainer
) -> dict:
    """Training, resuming from the per-sample checkpoint when one exists.

    The trainer must have been built with ``log_dir``; a checkpoint left there by an
    interrupted attempt that started from the same initialization is resumed instead of
    starting again from sample 0. One left by another initialization is discarded, and so is
    a damaged one (with a warning).
    """
    init_time = load_checkpoint(init_checkpoint)["init_time_s"]
    progress = trainer.log_dir / CHECKPOINT_NAME
    origin = trainer.log_dir / "init.sha256"
    init_hash = file_sha256(init_checkpoint)
    same_start = progress.exists() and origin.exists() and origin.read_text() == init_hash
    if same_start and _resumed(trainer, progress):
        n = len(data.centers)
        print(f"resuming from sample {trainer.next_sample} of {n} ({progress})", file=sys.stderr)
    else:
        progress.unlink(missing_ok=True)
        trainer.resume(init_checkpoint)
        atomic_write(origin, lambda tmp: tmp.write_text(init_hash))
    result = trainer.run_progressive_training(
        data.centers, data.intensities, data.ground_truth, data.samples_per_line_meas
    )
    train_time = sum(record["time_per_sample"] for record in trainer.history)
    save_checkpoint(trainer.state_dict() | {"wall_time_s": init_time + train_time}, out_checkpoint)
    return result


def _resumed(trainer: PRISMTrainer, progress) -> bool:
    """Resume from a progress checkpoint; False (with a warning) when it cannot be read."""
    try:
        trainer.resume(progress)
    except ValueError as error:
        print(f"warning: {error}; starting again from the initialization", file=sys.stderr)
        return False
    return True


def prism_retry(
    data: MeasurementSet,
    train_checkpoint,
    out_reconstruction,
    trainer: PRISMTrainer,
    config: PrismConfig,
) -> int:
    """Retry the failed samples and write the final reconstruction."""
    state = trainer.resume(train_checkpoint)
    began = time.perf_counter()
    recovered = trainer.retry_failed_samples(
        data.centers,
        data.intensities,
        data.ground_truth,
        data.samples_per_line_meas,
        LossAggregator(config.retry.loss_type),
    )
    wall_time = state["wall_time_s"] + time.perf_counter() - began
    save_reconstruction(out_reconstruction, outcome(trainer, data), wall_time_s=wall_time)
    return recovered
