"""PRISMTrainer: fit a decoder to measured intensities, all at once or one aperture at a time."""

from __future__ import annotations

import math
import os
import time

import torch
from torch import nn

from prism.config import check_choice
from prism.core.grid import crop_object, support_disc
from prism.core.sampling import line_points
from prism.io import load_checkpoint
from prism.metrics import evaluate
from prism.solvers.prism.aggregator import TelescopeAggregator
from prism.solvers.prism.fitting import Fitter, SampleFit
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.observers import Checkpointer, FitProgress, RecordWriter, draw
from prism.solvers.prism.settings import SCHEDULERS, RetryConfig, TrainingConfig


def create_scheduler(optimizer: torch.optim.Optimizer, scheduler_type: str, **kwargs):
    """Learning-rate scheduler by name; ``kwargs`` go to its constructor.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimiser to schedule.
    scheduler_type : str
        'plateau' (ReduceLROnPlateau, stepped with the epoch's mean loss) or
        'cosine_warm_restarts' (CosineAnnealingWarmRestarts, stepped once per epoch).
    """
    check_choice("scheduler_type", scheduler_type, SCHEDULERS)
    if scheduler_type == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, **kwargs)


class PRISMTrainer:
    """Fits a decoder to measured sub-aperture intensities.

    With ``schedule='all_at_once'`` (the default) one fit covers every measurement; with
    ``'progressive'`` (the original PRISM) the samples are fitted one after another, each with
    an old-knowledge term that keeps what the earlier ones taught.

    Parameters
    ----------
    model : torch.nn.Module
        Generator called with no input, returning the object square ``[1, 1, obj, obj]``, or
        ``K`` of them ``[K, 1, obj, obj]`` (an ensemble,
        :class:`prism.solvers.prism.decoder.DecoderEnsemble`: each is fitted to the data and the
        reconstruction is their mean); it exposes ``obj_size`` (e.g.
        :class:`prism.solvers.prism.decoder.DeepDecoder`).
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
    ) -> None:
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"`config` must be a TrainingConfig, got {type(config).__name__}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.telescope_agg = telescope_agg
        self.config = config
        self.retry = retry if retry is not None else RetryConfig()
        self.criterion = LossAggregator(config.loss_type)
        self.use_amp = use_amp
        self.fitter = Fitter(model, optimizer, scheduler, config, self._estimate)
        self.checkpoints = Checkpointer(log_dir)
        self.log_dir = self.checkpoints.log_dir
        self.records = RecordWriter(writer)
        self.progress = FitProgress(progress, optimizer, progress_interval_s)
        self.next_sample = 0
        self.failed: list[dict] = []
        self.history: list[dict] = []
        self.stop_reason, self.steps_run = "", 0  # of the last fit; steps of every fit
        with torch.no_grad():
            self.reconstruction = _member_mean(self._estimate().detach())

    # ----------------------------------------------------------------- public stages
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
        target = self._init_target(measurement).to(self.device)
        distance = self.criterion.distance
        for _ in range(self.config.init_steps):
            members = self._estimate().reshape(-1, *target.shape)
            loss = torch.stack([distance(member, target) for member in members]).sum()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"initialization loss is {loss.item()}")
            self.fitter.step(loss)
        self.reconstruction = _member_mean(self._estimate().detach())
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
        points = self._load_samples(sample_centers, intensities, samples_per_line_meas)
        score = self._scorer(image_gt)
        start = time.perf_counter()
        if self.config.schedule == "all_at_once":
            figure = self._train_all_at_once(points, intensities, score, figure)
        else:
            figure = self._train_progressive(points, intensities, score, figure)
        result = self._result(score, time.perf_counter() - start)
        return result | {"pattern_metadata": pattern_metadata, "pattern_spec": pattern_spec}

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
        saved_lrs = [group["lr"] for group in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["lr"] *= self.config.retry_lr_factor
        recovered = 0
        for record in list(self.failed):
            self.telescope_agg.set_reference(self.reconstruction)
            if self._fit(record["index"], criterion, self.retry.budget_fraction).converged:
                self.failed.remove(record)
                recovered += 1
        for group, lr in zip(self.optimizer.param_groups, saved_lrs, strict=True):
            group["lr"] = lr
        self.checkpoints.save(self.state_dict())
        return recovered

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything needed to resume exactly where the run stopped (plain data only)."""
        obj_size = self.model.obj_size
        return {
            "config": self.config.as_dict(),
            "old_mode": self.telescope_agg.mode,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "next_sample": self.next_sample,
            "reconstruction_crop": self.reconstruction.reshape(obj_size, obj_size).cpu(),
            "failed": self.failed,
            "history": self.history,
            "stop_reason": self.stop_reason,
            "steps_run": self.steps_run,
            "rng_state": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; refuses one made with other training settings."""
        mine = self.config.as_dict()
        differing = {k: v for k, v in state["config"].items() if mine.get(k) != v}
        if differing or state["config"].keys() != mine.keys():
            raise ValueError(
                f"checkpoint belongs to another training config (differs in {differing}); "
                f"this run uses {mine}"
            )
        if state["old_mode"] != self.telescope_agg.mode:
            raise ValueError(
                f"checkpoint was trained with old_mode {state['old_mode']!r}, "
                f"this run's aggregator uses {self.telescope_agg.mode!r}"
            )
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise ValueError(f"checkpoint holds another model architecture: {error}") from error
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.next_sample = state["next_sample"]
        self.reconstruction = state["reconstruction_crop"].to(self.device)[None, None]
        self.failed = list(state["failed"])
        self.history = list(state["history"])
        self.stop_reason, self.steps_run = state["stop_reason"], state["steps_run"]
        torch.set_rng_state(state["rng_state"])

    def resume(self, path: str | os.PathLike) -> dict:
        """Load a checkpoint file written by this trainer (``weights_only=True``).

        Returns the loaded state, with any extra entries its writer stored.
        """
        state = load_checkpoint(path)
        self.load_state_dict(state)
        return state

    # ----------------------------------------------------------------- schedules
    def _train_progressive(self, points, intensities, score, figure):
        """One sample after another, each fitted with the old-knowledge term."""
        for index in range(self.next_sample, len(points)):
            self.telescope_agg.set_reference(self.reconstruction)
            self.telescope_agg.add(index, intensities[index].to(self.device))
            figure = self._fit_and_record(index, score, figure)
        return figure

    def _train_all_at_once(self, points, intensities, score, figure):
        """Every sample at once, in one fit recorded as the last sample."""
        if self.next_sample == len(points):  # resumed after the fit
            return figure
        for index in range(self.telescope_agg.n_measured, len(points)):
            self.telescope_agg.add(index, intensities[index].to(self.device))
        return self._fit_and_record(len(points) - 1, score, figure)

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
            predict = self._predict_all
        else:
            predict = lambda x_hat: self.telescope_agg.predict(x_hat, index)  # noqa: E731
        self.progress.start(sum(record["steps"] for record in self.history))
        fit = self.fitter.fit(predict, criterion, self.criterion, budget, self.progress)
        self.progress.finish(fit.steps)
        self.stop_reason, self.steps_run = fit.reason, self.steps_run + fit.steps
        if fit.estimate is not None:
            self.reconstruction = _member_mean(fit.estimate)
        return fit

    def _predict_all(self, x_hat: torch.Tensor):
        return self.telescope_agg.predict_all(x_hat), None

    # ----------------------------------------------------------------- internals
    def _estimate(self) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            return self.model().float()

    def _init_target(self, measurement: torch.Tensor) -> torch.Tensor:
        """Amplitude of the first measurement, or a support disc with the same energy.

        Both are object squares ``[obj, obj]``; the measured amplitude is interpolated from
        the detector onto the object grid (:meth:`MeasurementOperator.amplitude_image`).
        """
        measurement = measurement.to(torch.float32)
        obj_size = self.model.obj_size
        if self.config.init_target == "measurement":
            image = self.telescope_agg.operator.amplitude_image(measurement)
            return crop_object(image, obj_size)
        disc = support_disc(obj_size, obj_size).to(torch.float32)
        energy = measurement.clamp_min(0).sum()
        return disc * torch.sqrt(energy / disc.sum())

    def _load_samples(self, sample_centers, intensities, samples_per_line_meas) -> torch.Tensor:
        """Check the data against the aggregator's operator; add what a checkpoint covered.

        The samples must be the operator's, or its first ones (a fit of a leading subset).
        """
        points = line_points(sample_centers, samples_per_line_meas)
        operator = self.telescope_agg.operator
        if not torch.equal(points.to(operator.points), operator.points[: len(points)]):
            raise ValueError(
                "`sample_centers` and `samples_per_line_meas` must give the aggregator's "
                f"measurement operator's samples ({operator.n_samples} of "
                f"{operator.points.shape[1]} points each) or its first ones"
            )
        size = operator.detector_size
        if intensities.shape != (len(points), size, size):
            raise ValueError(
                f"`intensities` must hold one [{size}, {size}] detector intensity per sample "
                f"({len(points)}), got shape {tuple(intensities.shape)}"
            )
        for index in range(self.telescope_agg.n_measured, self.next_sample):
            self.telescope_agg.add(index, intensities[index].to(self.device))
        return points

    def _scorer(self, image_gt):
        """Ground-truth metrics of the object square, or None without a ground truth."""
        if image_gt is None:
            return None
        obj_size = self.model.obj_size
        truth = crop_object(image_gt.to(self.device), obj_size)

        def score(reconstruction: torch.Tensor) -> dict:
            estimate = reconstruction.reshape(truth.shape)
            return evaluate(estimate, truth, obj_size=obj_size).as_dict()

        return score

    def _record(self, index: int, fit: SampleFit, seconds: float, score) -> None:
        record = {
            "index": index,
            "loss_old": fit.loss_old,
            "loss_new": fit.loss_new,
            "steps": fit.steps,
            "time_per_sample": seconds,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        if score is not None:
            record |= score(self.reconstruction)
        if not fit.converged:
            self.failed.append({"index": index, "reason": fit.reason} | _losses(fit))
        self.history.append(record)
        self.next_sample = index + 1
        self.checkpoints.save(self.state_dict())  # the fit is safe before anything is logged
        self.records.log(record, self.reconstruction)

    def _draw(self, figure):
        cum_mask = self.telescope_agg.cum_mask if figure is not None else None
        return draw(figure, self.reconstruction, cum_mask, self.history)

    def _result(self, score, wall_time: float) -> dict:
        return {
            "history": self.history,
            "failed": self.failed,
            "reconstruction": self.reconstruction,
            "metrics": score(self.reconstruction) if score is not None else None,
            "wall_time_s": wall_time,
        }


def _member_mean(estimates: torch.Tensor) -> torch.Tensor:
    """The reconstruction ``[1, 1, obj, obj]``: the mean of the members' object squares."""
    return estimates.mean(dim=0, keepdim=True)


def _losses(fit: SampleFit) -> dict:
    return {"loss_old": fit.loss_old, "loss_new": fit.loss_new}
