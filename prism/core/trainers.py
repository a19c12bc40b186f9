"""PRISMTrainer: fit a decoder to measured intensities, all at once or one aperture at a time."""

from __future__ import annotations

import argparse
import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prism.config import SCHEDULERS, TrainingConfig, check_choice, training_config
from prism.core.aggregator import TelescopeAggregator
from prism.core.grid import crop_object, support_disc
from prism.core.sampling import line_points
from prism.io import load_checkpoint, save_checkpoint
from prism.metrics import evaluate
from prism.models.losses import LossAggregator, LossTerms

CHECKPOINT_NAME = "checkpoint.pt"


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


@dataclass
class SampleFit:
    """Outcome of fitting one sample."""

    loss_old: float
    loss_new: float
    steps: int
    converged: bool
    reason: str = ""


class PRISMTrainer:
    """Progressive training of a decoder on measured sub-aperture intensities.

    Parameters
    ----------
    model : torch.nn.Module
        Generator called with no input, returning the object square ``[1, 1, obj, obj]``; it
        exposes ``obj_size`` (e.g. :class:`prism.models.decoder.ProgressiveDecoder`).
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    scheduler : LR scheduler or None
        Stepped once per epoch (``n_epochs`` steps); see :func:`create_scheduler`.
    telescope_agg : TelescopeAggregator
        Holds the measured samples and gives the model-side predictions.
    args : TrainingConfig or argparse.Namespace
        Training settings (:class:`prism.config.TrainingConfig` holds every default).
    device : torch.device or str
        Where the model and the data live.
    log_dir : path-like, optional
        When given, a checkpoint is written there (atomically) after every sample.
    writer : object, optional
        Anything with TensorBoard's ``add_scalar(tag, value, step)`` and
        ``add_image(tag, image_chw, step)``; step is the sample index.
    use_amp : bool
        Run the decoder under ``torch.autocast`` in bfloat16 (the optics stay float32).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler,
        telescope_agg: TelescopeAggregator,
        args: TrainingConfig | argparse.Namespace,
        device: torch.device | str,
        log_dir: str | os.PathLike | None = None,
        writer=None,
        use_amp: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.telescope_agg = telescope_agg
        self.config = training_config(args)
        self.criterion = LossAggregator(self.config.loss_type)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.writer = writer
        self.use_amp = use_amp
        self.next_sample = 0
        self.failed: list[dict] = []
        self.history: list[dict] = []
        with torch.no_grad():
            self.reconstruction = self._estimate().detach()

    # ----------------------------------------------------------------- public stages
    def run_initialization(self, measurement, center, image_gt, figure=None):
        """Fit the decoder to the initial target before the progressive stage.

        Parameters
        ----------
        measurement : torch.Tensor
            Detector intensity ``[m, m]`` of the first sample (its amplitude, interpolated
            onto the object grid, is the target when ``init_target == 'measurement'``).
        center : torch.Tensor
            Its centre ``[1, 2]`` or ``[2, 2]`` (kept for the record; unused by the fit).
        image_gt : torch.Tensor or None
            Ground truth ``[N, N]`` for metrics, or None.
        figure : optional
            Live-plot handle passed to :func:`prism.plotting.update_figure`.

        Returns
        -------
        tuple
            ``(reconstruction [1, 1, obj, obj], figure)``.
        """
        target = self._init_target(measurement).to(self.device)
        for _ in range(self.config.init_steps):
            x_hat = self._estimate()
            loss = self.criterion.distance(x_hat.reshape(target.shape), target)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"initialization loss is {loss.item()}")
            if loss.item() < self.config.loss_th:
                break
            self._step(loss)
        self.reconstruction = x_hat.detach()
        return self.reconstruction, self._draw(figure)

    def run_progressive_training(
        self,
        sample_centers,
        image,
        image_gt,
        samples_per_line_meas,
        figure=None,
        pattern_metadata=None,
        pattern_spec=None,
    ) -> dict:
        """Fit every sample in order, from ``next_sample`` (0, or where a checkpoint stopped).

        Parameters
        ----------
        sample_centers : torch.Tensor
            ``[n, 1, 2]`` points or ``[n, 2, 2]`` lines, ``[y, x]`` k-space pixels from DC.
        image : torch.Tensor
            The measured detector intensities ``[n, m, m]``, one per sample (simulated once,
            shared with every algorithm).
        image_gt : torch.Tensor or None
            Ground-truth object ``[N, N]`` for per-sample metrics, or None.
        samples_per_line_meas : int
            Points per line measurement (as used to simulate ``image``).
        figure : optional
            Live-plot handle, redrawn after every sample.
        pattern_metadata, pattern_spec : optional
            Descriptions of the pattern, returned in the result for the record.

        Returns
        -------
        dict
            ``history`` (per-sample losses, steps, time, metrics), ``failed`` (index, reason,
            losses), ``reconstruction`` ``[1, 1, obj, obj]``, ``metrics`` (final, or None),
            ``wall_time_s``, ``pattern_metadata``, ``pattern_spec``.
        """
        points = self._load_samples(sample_centers, image, samples_per_line_meas)
        start = time.perf_counter()
        for index in range(self.next_sample, len(points)):
            self.telescope_agg.set_reference(self.reconstruction)
            self.telescope_agg.add(points[index], image[index].to(self.device))
            if self.config.schedule == "all_at_once" and index < len(points) - 1:
                continue
            if self.config.reset_optimizer:
                self.optimizer.state.clear()
            began = time.perf_counter()
            fit = self._fit_sample(index, self.criterion)
            self._record(index, fit, time.perf_counter() - began, image_gt)
            figure = self._draw(figure)
        result = self._result(image_gt, time.perf_counter() - start)
        return result | {"pattern_metadata": pattern_metadata, "pattern_spec": pattern_spec}

    def retry_failed_samples(
        self, sample_centers, image, image_gt, samples_per_line_meas, criterion
    ) -> int:
        """Refit every failed sample with the given loss and a lower learning rate.

        A sample counts as recovered when, judged by the trainer's own loss, both its terms
        end below ``loss_th``. Arguments are those of :meth:`run_progressive_training`, plus
        ``criterion``, the :class:`LossAggregator` to fit with.

        Returns
        -------
        int
            How many failed samples were recovered.
        """
        self._load_samples(sample_centers, image, samples_per_line_meas)
        saved_lrs = [group["lr"] for group in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["lr"] *= self.config.retry_lr_factor
        recovered = 0
        for record in list(self.failed):
            self.telescope_agg.set_reference(self.reconstruction)
            fit = self._fit_sample(record["index"], criterion)
            if fit.converged:
                self.failed.remove(record)
                recovered += 1
        for group, lr in zip(self.optimizer.param_groups, saved_lrs, strict=True):
            group["lr"] = lr
        self._checkpoint()
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
        torch.set_rng_state(state["rng_state"])

    def resume(self, path: str | os.PathLike) -> dict:
        """Load a checkpoint file written by this trainer (``weights_only=True``).

        Returns the loaded state, with any extra entries its writer stored.
        """
        state = load_checkpoint(path)
        self.load_state_dict(state)
        return state

    # ----------------------------------------------------------------- internals
    def _estimate(self) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            return self.model().float()

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def _init_target(self, measurement: torch.Tensor) -> torch.Tensor:
        """Amplitude of the first measurement, or a support disc with the same energy.

        Both are object squares ``[obj, obj]``; the measured amplitude is interpolated from
        the detector onto the object grid (:meth:`Detector.amplitude_image`).
        """
        measurement = measurement.to(torch.float32)
        obj_size = self.model.obj_size
        if self.config.init_target == "measurement":
            detector = self.telescope_agg.detector
            return crop_object(detector.amplitude_image(measurement), obj_size)
        disc = support_disc(obj_size, obj_size).to(torch.float32)
        energy = measurement.clamp_min(0).sum()
        return disc * torch.sqrt(energy / disc.sum())

    def _load_samples(self, sample_centers, image, samples_per_line_meas) -> torch.Tensor:
        points = line_points(sample_centers, samples_per_line_meas)
        size = self.telescope_agg.detector.size
        if image.shape != (len(points), size, size):
            raise ValueError(
                f"`image` must hold one [{size}, {size}] detector intensity per sample "
                f"({len(points)}), got shape {tuple(image.shape)}"
            )
        for index in range(self.telescope_agg.n_measured, self.next_sample):
            self.telescope_agg.add(points[index], image[index].to(self.device))
        return points

    def _fit_sample(self, index: int, criterion: LossAggregator) -> SampleFit:
        """Fit sample ``index`` (progressive) or every sample added so far (all at once)."""
        snapshot = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        budget = self.config.step_budget
        if self.config.schedule == "all_at_once":
            budget *= self.telescope_agg.n_measured
        epoch_loss, judged, step = 0.0, None, 0
        for step in range(budget + 1):
            x_hat = self._estimate()
            new, old = self._predict(x_hat, index)
            terms = criterion(new, old)
            judged = terms if criterion is self.criterion else self.criterion(new, old)
            if not (torch.isfinite(terms.total) and torch.isfinite(judged.total)):
                self.model.load_state_dict(snapshot[0])
                self.optimizer.load_state_dict(snapshot[1])
                return _fit(judged, step, False, "non-finite loss")
            if max(judged.old.item(), judged.new.item()) < self.config.loss_th:
                self.reconstruction = x_hat.detach()
                return _fit(judged, step, True)
            if step == budget:
                break
            self._step(terms.total)
            epoch_loss += terms.total.item()
            if (step + 1) % self.config.n_epochs == 0:
                self._scheduler_step(epoch_loss / self.config.n_epochs)
                epoch_loss = 0.0
        self.reconstruction = x_hat.detach()
        return _fit(judged, step, False, "step budget exhausted")

    def _predict(self, x_hat: torch.Tensor, index: int):
        if self.config.schedule == "all_at_once":
            return self.telescope_agg.predict_all(x_hat), None
        return self.telescope_agg.predict(x_hat, index)

    def _scheduler_step(self, mean_loss: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(mean_loss)
        elif self.scheduler is not None:
            self.scheduler.step()

    def _record(self, index: int, fit: SampleFit, seconds: float, image_gt) -> None:
        record = {
            "index": index,
            "loss_old": fit.loss_old,
            "loss_new": fit.loss_new,
            "steps": fit.steps,
            "time_per_sample": seconds,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        if image_gt is not None:
            record |= self._metrics(image_gt)
        if not fit.converged:
            self.failed.append({"index": index, "reason": fit.reason} | _losses(fit))
        self.history.append(record)
        self.next_sample = index + 1
        self._log(record)
        self._checkpoint()

    def _metrics(self, image_gt: torch.Tensor) -> dict:
        obj_size = self.model.obj_size
        truth = crop_object(image_gt.to(self.device), obj_size)
        estimate = self.reconstruction.reshape(truth.shape)
        return evaluate(estimate, truth, obj_size=obj_size).as_dict()

    def _log(self, record: dict) -> None:
        if self.writer is None:
            return
        step = record["index"]
        for tag, value in record.items():
            if tag != "index":
                self.writer.add_scalar(tag, value, step)
        crop = self.reconstruction.reshape(self.reconstruction.shape[-2:])
        self.writer.add_image("reconstruction", crop.clamp(0, 1)[None].cpu(), step)

    def _checkpoint(self) -> None:
        if self.log_dir is not None:
            save_checkpoint(self.state_dict(), self.log_dir / CHECKPOINT_NAME)

    def _draw(self, figure):
        if figure is None:
            return None
        from prism.plotting import update_figure  # plotting lives outside the core

        cum_mask = self.telescope_agg.cum_mask
        return update_figure(figure, self.reconstruction, cum_mask, self.history)

    def _result(self, image_gt, wall_time: float) -> dict:
        metrics = self._metrics(image_gt) if image_gt is not None else None
        return {
            "history": self.history,
            "failed": self.failed,
            "reconstruction": self.reconstruction,
            "metrics": metrics,
            "wall_time_s": wall_time,
        }


def _fit(terms: LossTerms, steps: int, converged: bool, reason: str = "") -> SampleFit:
    return SampleFit(
        loss_old=terms.old.item(),
        loss_new=terms.new.item(),
        steps=steps,
        converged=converged,
        reason=reason,
    )


def _losses(fit: SampleFit) -> dict:
    return {"loss_old": fit.loss_old, "loss_new": fit.loss_new}
