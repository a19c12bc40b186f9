"""PRISMTrainer: fit a decoder to measured intensities, all at once or one aperture at a time."""

from __future__ import annotations

import math
import os
import time

import torch
from torch import nn

from prism.solvers.prism.aggregator import TelescopeAggregator
from prism.solvers.prism.checkpoint import restore_trainer, resume_trainer, trainer_state
from prism.solvers.prism.fitting import Fitter, SampleFit, member_mean
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.observers import (
    Checkpointer,
    FitProgress,
    RecordWriter,
    draw,
    sample_scorer,
)
from prism.solvers.prism.settings import RetryConfig, TrainingConfig


class PRISMTrainer:
    """Fits a decoder to measured sub-aperture intensities.

    With ``schedule='all_at_once'`` (the default) one fit covers every measurement; with
    ``'progressive'`` (the original PRISM) the samples are fitted one after another, each with
    an old-knowledge term that keeps what the earlier ones taught.

    Parameters
    ----------
    model : torch.nn.Module
        Generator called with no input, exposing ``obj_size``, that returns the object square
        ``[1, 1, obj, obj]`` (a :class:`~.decoder.DeepDecoder`) or ``K`` of them (a
        :class:`~.decoder.DecoderEnsemble`: each fitted, the reconstruction their mean).
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    scheduler : LR scheduler or None
        Stepped once per epoch (``steps_per_epoch`` steps); see :func:`create_scheduler`.
    telescope_agg : TelescopeAggregator
        Holds the measured samples and gives the model-side predictions.
    config : TrainingConfig
        Training settings (:class:`~.settings.TrainingConfig` holds every default).
    device : torch.device or str
        Where the model and the data live.
    log_dir : path-like, optional
        When given, a checkpoint is written there (atomically) after every fitted sample.
    writer : object, optional
        Anything with TensorBoard's ``add_scalar(tag, value, step)`` and
        ``add_image(tag, image_chw, step)``; step is the sample index.
    use_amp : bool
        Run the decoder under ``torch.autocast`` in bfloat16 (the optics stay float32).
    progress : object, optional
        Anything with ``add_scalar``: every ``progress_interval_s`` seconds of a fit it gets
        the loss, learning rate, elapsed and estimated remaining seconds
        (:class:`~prism.solvers.prism.observers.FitProgress`); step counts every fit's steps.
    progress_interval_s : float
        Seconds between progress reports.
    retry : RetryConfig, optional
        The retry's step budget (``budget_fraction``; its loss is the ``criterion`` passed
        to :meth:`retry_failed_samples`). Default: :class:`~.settings.RetryConfig`'s.
    score : callable, optional
        Ground-truth metrics of an ``[N, N]`` estimate, as every solver is given; scores each
        sample's record when a call passes no ``image_gt``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler,
        telescope_agg: TelescopeAggregator,
        config: TrainingConfig,
        device: torch.device | str,
        log_dir: str | os.PathLike | None = None,
        writer=None,
        use_amp: bool = False,
        progress=None,
        progress_interval_s: float = 10.0,
        retry: RetryConfig | None = None,
        score=None,
    ) -> None:
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"`config` must be a TrainingConfig, got {type(config).__name__}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.telescope_agg = telescope_agg
        self.config = config
        self.retry, self.score = retry if retry is not None else RetryConfig(), score
        self.criterion = LossAggregator(config.loss_type)
        self.use_amp = use_amp
        self.fitter = Fitter(model, optimizer, scheduler, config, self._estimate)
        self.checkpoints = Checkpointer(log_dir)
        self.log_dir = self.checkpoints.log_dir
        self.records = RecordWriter(writer)
        self.progress = FitProgress(progress, optimizer, progress_interval_s)
        self.next_sample = 0
        self.failed, self.history = [], []  # failed samples' records; every sample's record
        self.stop_reason, self.steps_run = "", 0  # of the last fit; steps of every fit
        with torch.no_grad():
            self.reconstruction = member_mean(self._estimate().detach())

    def run_initialization(self, measurement, center, image_gt, figure=None):
        """Fit the decoder to the initial target for ``init_steps`` steps (a warm start).

        Parameters
        ----------
        measurement : torch.Tensor
            Detector intensity ``[m, m]`` of the first sample (its amplitude, interpolated
            onto the object grid, is the target when ``init_target == 'measurement'``).
        center : torch.Tensor
            Its centre ``[1, 2]`` or ``[2, 2]`` (kept for the record; unused by the fit).
        image_gt : torch.Tensor or None
            Ground truth ``[N, N]`` (unused by the fit; the signature is the stages').
        figure : optional
            Live-plot handle passed to :func:`prism.plotting.update_figure`.

        Returns
        -------
        tuple
            ``(reconstruction [1, 1, obj, obj], figure)``.
        """
        kind, obj_size = self.config.init_target, self.model.obj_size
        target = self.telescope_agg.initial_target(measurement, obj_size, kind).to(self.device)
        self.fitter.fit_target(target, self.config.init_steps, self.criterion.distance)
        self.reconstruction = member_mean(self._estimate().detach())
        return self.reconstruction, self._draw(figure)

    def run_progressive_training(
        self,
        sample_centers,
        intensities,
        image_gt,
        samples_per_line_meas,
        figure=None,
        pattern_metadata=None,
        pattern_spec=None,
    ) -> dict:
        """Fit the measurements with the configured schedule, from where a checkpoint stopped.

        'all_at_once': one fit of every sample, with the progressive run's whole budget
        (``n * step_budget`` steps), recorded as the last sample. 'progressive': every
        sample in order from ``next_sample`` (0, or where a checkpoint stopped).

        Parameters
        ----------
        sample_centers : torch.Tensor
            ``[n, 1, 2]`` points or ``[n, 2, 2]`` lines, ``[y, x]`` k-space pixels from DC.
        intensities : torch.Tensor
            The measured detector intensities ``[n, m, m]``, one per sample (simulated once,
            shared with every solver).
        image_gt : torch.Tensor or None
            Ground-truth object ``[N, N]`` for per-sample metrics, or None.
        samples_per_line_meas : int
            Points per line measurement (as used to simulate ``intensities``).
        figure : optional
            Live-plot handle, redrawn after every fitted sample.
        pattern_metadata, pattern_spec : optional
            Descriptions of the pattern, returned in the result for the record.

        Returns
        -------
        dict
            ``history`` (per-sample losses, steps, time, metrics), ``failed`` (index, reason,
            losses), ``reconstruction`` ``[1, 1, obj, obj]``, ``metrics`` (final, or None),
            ``wall_time_s``, ``pattern_metadata``, ``pattern_spec``.
        """
        n = self._load_samples(sample_centers, intensities, samples_per_line_meas)
        score = sample_scorer(image_gt, self.score, self.telescope_agg.operator, self.device)
        start = time.perf_counter()
        if self.config.schedule == "all_at_once":
            figure = self._train_all_at_once(n, intensities, score, figure)
        else:
            figure = self._train_progressive(n, intensities, score, figure)
        elapsed = time.perf_counter() - start
        return {
            "history": self.history,
            "failed": self.failed,
            "reconstruction": self.reconstruction,
            "metrics": score(self.reconstruction) if score is not None else None,
            "wall_time_s": elapsed,
            "pattern_metadata": pattern_metadata,
            "pattern_spec": pattern_spec,
        }

    def retry_failed_samples(
        self, sample_centers, intensities, image_gt, samples_per_line_meas, criterion
    ) -> int:
        """Refit every failed sample with ``criterion``, a lower learning rate and less budget.

        Each refit fits ``criterion`` (a :class:`~.losses.LossAggregator`, e.g. of
        ``RetryConfig.loss_type``) at ``retry_lr_factor`` times the learning rate for at most
        the trainer's ``retry.budget_fraction`` of the fit's step budget, from where training
        left the decoder. A sample counts as recovered when its refit ends on the stopping rule or
        at the noise floor, judged by the trainer's own loss, instead of on its budget. The
        first four arguments are those of :meth:`run_progressive_training`.

        Returns
        -------
        int
            How many failed samples were recovered.
        """
        self._load_samples(sample_centers, intensities, samples_per_line_meas)
        recovered = 0
        with self.fitter.scaled_learning_rate(self.config.retry_lr_factor):
            for record in list(self.failed):
                self.telescope_agg.set_reference(self.reconstruction)
                if self._fit(record["index"], criterion, self.retry.budget_fraction).converged:
                    self.failed.remove(record)
                    recovered += 1
        self.checkpoints.save(self.state_dict())
        return recovered

    def state_dict(self) -> dict:
        """Everything needed to resume exactly where the run stopped (plain data only)."""
        return trainer_state(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; refuses one made with other training settings."""
        restore_trainer(self, state)

    def resume(self, path: str | os.PathLike) -> dict:
        """Load a checkpoint written by this trainer (``weights_only``); returns its state."""
        return resume_trainer(self, path)

    def _train_progressive(self, n: int, intensities, score, figure):
        """One sample after another, each fitted with the old-knowledge term."""
        for index in range(self.next_sample, n):
            self.telescope_agg.set_reference(self.reconstruction)
            self.telescope_agg.add(index, intensities[index].to(self.device))
            figure = self._fit_and_record(index, score, figure)
        return figure

    def _train_all_at_once(self, n: int, intensities, score, figure):
        """Every sample at once, in one fit recorded as the last sample."""
        if self.next_sample == n:  # resumed after the fit
            return figure
        for index in range(self.telescope_agg.n_measured, n):
            self.telescope_agg.add(index, intensities[index].to(self.device))
        return self._fit_and_record(n - 1, score, figure)

    def _fit_and_record(self, index: int, score, figure):
        if self.config.reset_optimizer:
            self.optimizer.state.clear()
        began = time.perf_counter()
        fit = self._fit(index, self.criterion)
        self._record(index, fit, time.perf_counter() - began, score)
        return self._draw(figure)

    def _fit(self, index: int, criterion: LossAggregator, share: float = 1.0) -> SampleFit:
        """Fit sample ``index`` (progressive) or every sample added (all at once).

        ``share`` scales the step budget (a retry's ``budget_fraction``).
        """
        budget = max(1, math.ceil(self.config.step_budget * share))
        if self.config.schedule == "all_at_once":
            budget *= self.telescope_agg.n_measured
            predict = lambda x_hat: (self.telescope_agg.predict_all(x_hat), None)  # noqa: E731
        else:
            predict = lambda x_hat: self.telescope_agg.predict(x_hat, index)  # noqa: E731
        self.progress.start(sum(record["steps"] for record in self.history))
        fit = self.fitter.fit(predict, criterion, self.criterion, budget, self.progress)
        self.progress.finish(fit.steps)
        self.stop_reason, self.steps_run = fit.reason, self.steps_run + fit.steps
        if fit.estimate is not None:
            self.reconstruction = member_mean(fit.estimate)
        return fit

    def _estimate(self) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            return self.model().float()

    def _load_samples(self, sample_centers, intensities, samples_per_line_meas) -> int:
        """Check the data against the aggregator's; add the samples a checkpoint covered."""
        n = self.telescope_agg.check_data(sample_centers, intensities, samples_per_line_meas)
        for index in range(self.telescope_agg.n_measured, self.next_sample):
            self.telescope_agg.add(index, intensities[index].to(self.device))
        return n

    def _record(self, index: int, fit: SampleFit, seconds: float, score) -> None:
        record = fit.record(index, seconds, self.optimizer.param_groups[0]["lr"])
        if score is not None:
            record |= score(self.reconstruction)
        if not fit.converged:
            self.failed.append(fit.failure(index))
        self.history.append(record)
        self.next_sample = index + 1
        self.checkpoints.save(self.state_dict())  # the fit is safe before anything is logged
        self.records.log(record, self.reconstruction)

    def _draw(self, figure):
        coverage = lambda: self.telescope_agg.cum_mask  # noqa: E731
        return draw(figure, self.reconstruction, coverage, self.history)
