"""PRISM's settings for a measurement set, its trainer, its chain in one process, its result."""

from __future__ import annotations

import dataclasses
import os

import torch

from prism.core.grid import pad_to_grid
from prism.core.operator import MeasurementOperator, MeasurementSet, noise_floor
from prism.solvers import Reconstruction
from prism.solvers.prism.aggregator import TelescopeAggregator
from prism.solvers.prism.decoder import DecoderEnsemble
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.settings import PrismConfig, create_scheduler, upsampling_depth
from prism.solvers.prism.trainer import PRISMTrainer


def resolve(config: PrismConfig, data: MeasurementSet) -> PrismConfig:
    """The PRISM settings a reconstruction really uses (what is logged and trained with).

    The decoder is seeded with the measurement set's seed, so a study's seeds vary the noise,
    the random patterns and the initial weights together; an upsampling decoder without a
    ``depth`` gets the one sized for the object (:func:`~.settings.upsampling_depth`); and
    ``training.floor`` is the data's :func:`noise_floor` in the units of the training loss
    (0 for noiseless data).
    """
    distance = LossAggregator(config.training.loss_type).distance
    training = dataclasses.replace(config.training, floor=noise_floor(data, distance))
    decoder = dataclasses.replace(config.decoder, seed=data.seed)
    if decoder.kind == "upsample" and decoder.depth is None:
        decoder = dataclasses.replace(decoder, depth=upsampling_depth(data.obj_size))
    return dataclasses.replace(config, decoder=decoder, training=training)


def build_trainer(
    data: MeasurementSet,
    config: PrismConfig,
    *,
    log_dir: str | os.PathLike | None = None,
    writer=None,
    progress=None,
    device: torch.device | str = "cpu",
    score=None,
) -> PRISMTrainer:
    """A fresh PRISMTrainer for a measurement set and resolved settings, nothing trained yet.

    ``writer`` gets each sample's record, ``progress`` a long fit's progress, ``score`` the
    ground-truth metrics of an estimate for those records (see
    :class:`~.trainer.PRISMTrainer`); ``device`` is where the decoder and the data live
    (e.g. 'cuda').
    """
    model = DecoderEnsemble(data.image_size, data.obj_size, config.decoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optimizer.lr)
    scheduler = None
    if config.optimizer.scheduler is not None:
        options = config.optimizer.scheduler_options
        scheduler = create_scheduler(optimizer, config.optimizer.scheduler, **options)
    aggregator = TelescopeAggregator(MeasurementOperator(data), mode=config.training.old_mode)
    return PRISMTrainer(
        model,
        optimizer,
        scheduler,
        aggregator,
        config.training,
        device,
        log_dir=log_dir,
        writer=writer,
        progress=progress,
        retry=config.retry,
        score=score,
    )


def outcome(trainer: PRISMTrainer, data: MeasurementSet) -> Reconstruction:
    """The trainer's result as every solver gives one.

    The image is the current object square padded into the ``N x N`` grid; ``stop_reason``
    is the last failed sample's reason when one is left, else the last fit's, and ``steps``
    counts the optimiser steps of every fit (training and retry).
    """
    square = trainer.reconstruction.reshape(data.obj_size, data.obj_size)
    return Reconstruction(
        image=pad_to_grid(square, data.image_size),
        history=trainer.history,
        failed_samples=len(trainer.failed),
        stop_reason=trainer.failed[-1]["reason"] if trainer.failed else trainer.stop_reason,
        steps=trainer.steps_run,
    )


def solve(
    data: MeasurementSet,
    operator: MeasurementOperator,
    settings: PrismConfig,
    *,
    score=None,
) -> Reconstruction:
    """Initialize, train and retry in one process (the workflow runs them as steps).

    ``settings`` are resolved (:func:`resolve`); ``score``, when given, scores each sample's
    record (``data.ground_truth`` does too, when the set holds one).
    """
    trainer = build_trainer(data, settings, score=score)
    trainer.run_initialization(data.intensities[0], data.centers[0], data.ground_truth)
    args = (data.centers, data.intensities, data.ground_truth, data.samples_per_line_meas)
    trainer.run_progressive_training(*args)
    trainer.retry_failed_samples(*args, LossAggregator(settings.retry.loss_type))
    return outcome(trainer, data)
