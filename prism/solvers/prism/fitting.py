"""PRISM's fit loop: optimiser steps until the shared stopping rule holds or the budget ends."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from prism.solvers.prism.losses import LossAggregator, LossTerms, Pair
from prism.solvers.prism.settings import TrainingConfig
from prism.stopping import BUDGET, NOISE_FLOOR, RULE, Plateau

NON_FINITE = "non-finite loss"

Predict = Callable[[torch.Tensor], tuple[Pair, Pair | None]]


@dataclass
class SampleFit:
    """Outcome of one fit.

    Attributes
    ----------
    loss_old, loss_new : float
        The judged loss terms where the fit ended.
    steps : int
        Optimiser steps taken.
    reason : str
        Why the fit ended: :data:`prism.stopping.RULE` or ``NOISE_FLOOR`` (converged),
        ``BUDGET``, or :data:`NON_FINITE`.
    estimate : torch.Tensor or None
        The members' object squares ``[K, 1, obj, obj]`` where the fit ended; None when a
        non-finite loss restored the model and optimiser to where the fit began.
    """

    loss_old: float
    loss_new: float
    steps: int
    reason: str
    estimate: torch.Tensor | None = None

    @property
    def converged(self) -> bool:
        """The fit ended on its stopping rule or at the noise floor, not on its budget."""
        return self.reason in (RULE, NOISE_FLOOR)

    def losses(self) -> dict:
        """``loss_old`` and ``loss_new`` where the fit ended."""
        return {"loss_old": self.loss_old, "loss_new": self.loss_new}

    def record(self, index: int, seconds: float, lr: float) -> dict:
        """The history record of sample ``index``: its losses, steps, seconds and rate."""
        fit = {"steps": self.steps, "time_per_sample": seconds, "lr": lr}
        return {"index": index, **self.losses(), **fit}

    def failure(self, index: int) -> dict:
        """The failed-sample entry of sample ``index``: why it ended and its losses."""
        return {"index": index, "reason": self.reason, **self.losses()}


class Fitter:
    """Steps a decoder until its loss stops improving, reaches the noise floor, or the budget ends.

    The stopping rule is every solver's (:mod:`prism.stopping`): the loss, judged by the
    trainer's own criterion and averaged over ``window`` steps, has not improved on the best
    window by ``tolerance`` for ``patience`` windows; on noisy data, both loss terms are
    within :attr:`~prism.solvers.prism.settings.TrainingConfig.floor_stop`.

    Parameters
    ----------
    model : torch.nn.Module
        The decoder; with the optimiser, restored when a loss turns non-finite.
    optimizer : torch.optim.Optimizer
        Optimiser over the model's parameters.
    scheduler : LR scheduler or None
        Stepped every ``steps_per_epoch`` steps (ReduceLROnPlateau with the epoch's mean
        loss).
    config : TrainingConfig
        ``tolerance``, ``window``, ``patience``, ``steps_per_epoch`` and the noise floor.
    estimate : callable
        Returns the model's current object squares ``[K, 1, obj, obj]``, one per ensemble
        member (differentiable); see :func:`member_terms`.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler,
        config: TrainingConfig,
        estimate: Callable[[], torch.Tensor],
    ) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.config = config
        self.estimate = estimate

    def fit(
        self,
        predict: Predict,
        criterion: LossAggregator,
        judge: LossAggregator,
        budget: int,
        on_step: Callable[[int, int, float], None] | None = None,
    ) -> SampleFit:
        """Fit until the stopping rule holds (judged by ``judge``) or ``budget`` steps.

        Parameters
        ----------
        predict : callable
            ``predict(x) -> (new, old)`` pairs of the loss for one member's square (see
            :class:`~prism.solvers.prism.losses.LossAggregator`).
        criterion : LossAggregator
            The loss the optimiser descends.
        judge : LossAggregator
            The loss whose terms decide convergence (the trainer's own).
        budget : int
            Most optimiser steps.
        on_step : callable, optional
            Called after every optimiser step with ``(step, budget, loss)`` (progress).
        """
        snapshot = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        config = self.config
        plateau = Plateau(config.window, config.tolerance, config.patience)
        epoch_loss, judged, step = 0.0, None, 0
        for step in range(budget + 1):
            x_hat = self.estimate()
            descended, terms, judged = member_terms(x_hat, predict, criterion, judge)
            if not (torch.isfinite(terms.total) and torch.isfinite(judged.total)):
                self.model.load_state_dict(snapshot[0])
                self.optimizer.load_state_dict(snapshot[1])
                return _outcome(judged, step, None, NON_FINITE)
            floor = config.floor_stop
            if floor > 0 and max(judged.old.item(), judged.new.item()) <= floor:
                return _outcome(judged, step, x_hat.detach(), NOISE_FLOOR)
            if plateau.update(judged.total.item()):
                return _outcome(judged, step, x_hat.detach(), RULE)
            if step == budget:
                break
            self.step(descended)
            loss = terms.total.item()
            epoch_loss += loss
            if on_step is not None:
                on_step(step + 1, budget, loss)
            if (step + 1) % self.config.steps_per_epoch == 0:
                self._scheduler_step(epoch_loss / self.config.steps_per_epoch)
                epoch_loss = 0.0
        return _outcome(judged, step, x_hat.detach(), BUDGET)

    def fit_target(self, target: torch.Tensor, steps: int, distance) -> None:
        """``steps`` steps fitting every member's square to ``target`` (a warm start).

        ``distance(prediction, target)`` is the loss; the sum over the members is descended.
        """
        for _ in range(steps):
            members = self.estimate().reshape(-1, *target.shape)
            loss = torch.stack([distance(member, target) for member in members]).sum()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"initialization loss is {loss.item()}")
            self.step(loss)

    @contextlib.contextmanager
    def scaled_learning_rate(self, factor: float):
        """Within the block, every parameter group's learning rate times ``factor``."""
        saved = [group["lr"] for group in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        try:
            yield
        finally:
            for group, lr in zip(self.optimizer.param_groups, saved, strict=True):
                group["lr"] = lr

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def _scheduler_step(self, mean_loss: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(mean_loss)
        elif self.scheduler is not None:
            self.scheduler.step()


def member_terms(
    x_hat: torch.Tensor, predict: Predict, criterion: LossAggregator, judge: LossAggregator
) -> tuple[torch.Tensor, LossTerms, LossTerms]:
    """The loss to descend, and the fitted and judged terms, of estimates ``[K, 1, obj, obj]``.

    Each member is compared with the data on its own. The optimiser descends the sum of the
    members' losses, so each member's gradient is exactly the one it would get alone; the
    terms reported and judged are the members' means (in the loss's own units).
    """
    fitted, judged = [], []
    for member in x_hat:
        new, old = predict(member)
        fitted.append(criterion(new, old))
        judged.append(fitted[-1] if criterion is judge else judge(new, old))
    descended = torch.stack([terms.total for terms in fitted]).sum()
    return descended, _mean(fitted), _mean(judged)


def member_mean(estimates: torch.Tensor) -> torch.Tensor:
    """The reconstruction ``[1, 1, obj, obj]``: the mean of the members' object squares."""
    return estimates.mean(dim=0, keepdim=True)


def _mean(terms: list[LossTerms]) -> LossTerms:
    return LossTerms(*(torch.stack(values).mean() for values in zip(*terms, strict=True)))


def _outcome(terms: LossTerms, steps: int, estimate, reason: str) -> SampleFit:
    return SampleFit(
        loss_old=terms.old.item(),
        loss_new=terms.new.item(),
        steps=steps,
        reason=reason,
        estimate=estimate,
    )
