"""PRISM's settings: decoder, training, optimiser and retry, each a frozen dataclass.

These are the only place PRISM's defaults live; a study's ``prism`` section (and a variant's
update of it) builds them with :func:`prism.config.from_mapping`.
"""

from __future__ import annotations

import inspect
import math
import typing
from dataclasses import asdict, dataclass, field

from prism.config import check_choice, check_positive

LOSS_TYPES = ("l1", "l2", "ssim")
OLD_MODES = ("union", "replay")
INIT_TARGETS = ("measurement", "support")
DECODER_KINDS = ("upsample", "transposed")
LATENT_PIXELS = 10  # the default decoder's latent width, about (upsampling_depth)
ACTIVATIONS = ("sigmoid", "softplus")
FIT_SCHEDULES = ("progressive", "all_at_once")
SCHEDULERS = ("plateau", "cosine_warm_restarts")


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of :class:`prism.solvers.prism.trainer.PRISMTrainer`.

    Attributes
    ----------
    loss_type : str
        Data term: 'l1' (normalised by the data mean), 'l2' or 'ssim'.
    old_mode : str
        Old-knowledge term: 'union' (model vs previous reconstruction through the cumulative
        mask) or 'replay' (model vs the stored measurements of every earlier aperture).
    tolerance : float
        The fit's stopping rule, shared with every iterating solver
        (:class:`prism.stopping.Plateau`): a fit has converged once the mean loss over a
        ``window`` of steps has not fallen below the best window's mean by this fraction
        for ``patience`` windows in a row.
    window : int
        Optimiser steps per window of the stopping rule (long enough to average out the
        step-to-step noise of Adam's loss). The rule needs ``(patience + 1) * window`` steps
        to fire: a progressive fit, which has one aperture's ``step_budget``, needs a smaller
        window than an all-at-once fit (``config/ablation.yaml`` sizes it so).
    patience : int
        Windows without that improvement before a fit stops. The defaults were chosen on
        the calibration objects (``benchmarks/stopping_rule.py``, see benchmarks/README.md):
        a decoder's loss can stall for a thousand steps and then fall again, so shorter
        windows or less patience stopped fits that the rest of the budget still improved.
    steps_per_epoch : int
        Optimiser steps per epoch (the scheduler steps once per epoch).
    max_epochs : int
        Epochs per sample; the step budget is ``max_epochs * steps_per_epoch``.
    init_target : str
        Initial fit target: 'measurement' (amplitude of the first measurement) or 'support'
        (a disc inscribed in the object support, with the first measurement's energy).
    init_steps : int
        Steps of the initialization (a warm start: it runs them all).
    retry_lr_factor : float
        Learning-rate factor applied while retrying failed samples, in (0, 1].
    schedule : str
        'all_at_once' (every sample from the start, one fit of the loss over all
        measurements with the progressive run's whole budget, ``n * step_budget`` steps;
        ``old_mode`` is then unused) or 'progressive' (the original PRISM: one sample after
        another, each fitted with the old-knowledge term). The default comes from the
        ablation study (``config/ablation.yaml``, docs/results.md): all at once beat progressive
        fitting and constrained ePIE in the sparse regime.
    reset_optimizer : bool
        Clear the optimiser's moment estimates before each new sample.
    noise_stop : float or None
        On noisy data a fit also stops once both loss terms are within this multiple of
        ``floor`` (the discrepancy principle), before it fits the noise (a fit only
        approaches the floor). None: no such stop.
    floor : float
        The data's noise floor in the loss's units: the loss between the measured
        amplitudes and a copy re-noised with the data's own noise model
        (:func:`prism.core.operator.noise_floor`). It follows the data: a study sets it from
        the measurement set (0 for noiseless data: no floor stop).
    """

    loss_type: str = "l1"
    old_mode: str = "replay"
    tolerance: float = 1e-3
    window: int = 500
    patience: int = 3
    steps_per_epoch: int = 50
    max_epochs: int = 10
    init_target: str = "measurement"
    init_steps: int = 300
    retry_lr_factor: float = 0.1
    schedule: str = "all_at_once"
    reset_optimizer: bool = False
    noise_stop: float | None = 1.2
    floor: float = 0.0

    def __post_init__(self) -> None:
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        check_choice("schedule", self.schedule, FIT_SCHEDULES)
        check_choice("old_mode", self.old_mode, OLD_MODES)
        check_choice("init_target", self.init_target, INIT_TARGETS)
        check_positive("tolerance", self.tolerance)
        if self.noise_stop is not None:
            check_positive("noise_stop", self.noise_stop)
        if not self.floor >= 0:
            raise ValueError(f"`floor` must be a number >= 0, got {self.floor!r}")
        for name in ("window", "patience", "steps_per_epoch", "max_epochs", "init_steps"):
            check_positive(name, getattr(self, name), integer=True)
        if not 0 < self.retry_lr_factor <= 1:
            raise ValueError(f"`retry_lr_factor` must be in (0, 1], got {self.retry_lr_factor!r}")

    @property
    def step_budget(self) -> int:
        """Optimiser steps allowed per sample, ``max_epochs * steps_per_epoch``."""
        return self.max_epochs * self.steps_per_epoch

    @property
    def floor_stop(self) -> float:
        """The loss at which a fit stops on noisy data (0: never)."""
        return self.noise_stop * self.floor if self.noise_stop is not None else 0.0

    def as_dict(self) -> dict:
        """Plain dict of every setting (what a checkpoint embeds and a tracker logs)."""
        return asdict(self)


@dataclass(frozen=True)
class DecoderConfig:
    """Settings of PRISM's generator (:class:`prism.solvers.prism.decoder.DecoderEnsemble`).

    Attributes
    ----------
    kind : str
        'upsample' (bilinear x2 + 1x1 conv + ReLU + batch norm, after Heckel & Hand) or
        'transposed' (1x1 latent, stride-2 transposed convs halving the channels, 3x3
        refinement convs).
    channels : int
        Channels of the upsampling decoder; latent channels of the transposed one.
    depth : int or None
        Upsampling stages of the 'upsample' kind (its latent is ``ceil(obj_size / 2**depth)``
        pixels wide); None sizes it from the object (:func:`upsampling_depth`: a latent of
        about :data:`LATENT_PIXELS` pixels). The 'transposed' kind uses as many stages as its
        1x1 latent needs.
    activation : str
        Output activation, which keeps the amplitude non-negative: 'sigmoid' (bounded to
        ``[0, 1]``, the range of a prepared object) or 'softplus' (unbounded above). The
        support is imposed by construction: the decoder generates only the object square.
    learned_latent : bool
        Train the latent with the weights instead of keeping it a fixed seeded buffer.
    seed : int
        Seed of the weights and of the latent (of the first member; see ``members``).
    members : int
        Decoders fitted side by side, each from its own seed (the first from ``seed``, the
        others from seeds derived from it, :func:`~.decoder.member_seed`); the
        reconstruction is the mean of their images. Each member fits the data on its own
        (their weights are disjoint and the sum of their losses is descended), so an
        ensemble costs one fit per member and averages out what a non-convex fit owes to
        where it started. The default, 2, was chosen on the calibration objects within the
        default study's time budget (benchmarks/README.md, ``config/calibration.yaml``).
    """

    kind: str = "upsample"
    channels: int = 64
    depth: int | None = None
    activation: str = "sigmoid"
    learned_latent: bool = False
    seed: int = 0
    members: int = 2

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, DECODER_KINDS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_positive("channels", self.channels, integer=True)
        check_positive("members", self.members, integer=True)
        if self.depth is not None:
            check_positive("depth", self.depth, integer=True)


def upsampling_depth(obj_size: int) -> int:
    """Upsampling stages of the default decoder for an object ``obj_size`` pixels wide.

    The stages that leave a latent nearest :data:`LATENT_PIXELS` pixels wide (by ratio),
    at least one: ``max(1, round(log2(obj_size / LATENT_PIXELS)))``. Each stage doubles the
    map by bilinear interpolation, which smooths: a latent of 2-6 pixels under 3-4 stages
    cannot hold fine texture, while a wide latent under one stage fits the measured
    amplitudes with less structure and does worse too.

    Chosen on the calibration objects, at three geometries (docs/calibration.md).
    """
    check_positive("obj_size", obj_size, integer=True)
    return max(1, math.floor(math.log2(obj_size / LATENT_PIXELS) + 0.5))


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam and its learning-rate scheduler for PRISM.

    Attributes
    ----------
    lr : float
        Adam learning rate.
    scheduler : str or None
        'plateau', 'cosine_warm_restarts' or None (constant learning rate).
    scheduler_options : dict
        Keyword arguments of the scheduler (e.g. ``{"patience": 2}``).
    """

    lr: float = 0.01
    scheduler: str | None = None
    scheduler_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)
        if self.scheduler is not None:
            check_choice("scheduler", self.scheduler, SCHEDULERS)
        allowed = _scheduler_options(self.scheduler)
        unknown = sorted(set(self.scheduler_options) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))} in `scheduler_options` of "
                f"scheduler {self.scheduler!r}; allowed: {', '.join(allowed) or 'none'}"
            )
        if self.scheduler is not None:
            _check_scheduler_options(self.scheduler, self.scheduler_options)


@dataclass(frozen=True)
class RetryConfig:
    """How failed samples are retried (with ``retry_lr_factor`` from TrainingConfig).

    Attributes
    ----------
    loss_type : str
        Loss fitted while retrying: 'l1', 'l2' or 'ssim'.
    budget_fraction : float
        A retry's step budget as a fraction of the fit's, in (0, 1]: a retry continues from
        where training left the decoder, at a lower learning rate, so it does not repeat the
        whole budget (what it gains is measured by ``benchmarks/retry_gain.py``).
    """

    loss_type: str = "l1"
    budget_fraction: float = 0.25

    def __post_init__(self) -> None:
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        if not 0 < self.budget_fraction <= 1:
            raise ValueError(f"`budget_fraction` must be in (0, 1], got {self.budget_fraction!r}")


def create_scheduler(optimizer, scheduler_type: str, **kwargs):
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
    return _scheduler_class(scheduler_type)(optimizer, **kwargs)


def _scheduler_options(scheduler: str | None) -> list[str]:
    """The keyword arguments a scheduler takes besides the optimiser (none without one)."""
    if scheduler is None:
        return []
    names = inspect.signature(_scheduler_class(scheduler).__init__).parameters
    return [name for name in names if name not in ("self", "optimizer")]


def _check_scheduler_options(scheduler: str, options: dict) -> None:
    """Refuse a scheduler option whose value the scheduler cannot use, before any fit.

    Each value is checked against the type the scheduler's signature declares (an integer,
    a number, one of a fixed set of words); then the scheduler is built and stepped once on a
    throwaway optimiser, so that a value the scheduler itself refuses (a ``factor`` of 1, a
    missing ``T_0``) is found here too.
    """
    import torch

    signature = inspect.signature(_scheduler_class(scheduler).__init__, eval_str=True).parameters
    for name, value in options.items():
        allowed = _allowed_values(signature[name].annotation)
        if allowed is not None and not allowed[0](value):
            raise ValueError(
                f"`scheduler_options.{name}` of scheduler {scheduler!r} must be {allowed[1]}, "
                f"got {value!r}"
            )
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    try:
        trial = create_scheduler(optimizer, scheduler, **options)
        if scheduler == "plateau":
            trial.step(1.0)  # stepped with the epoch's loss
        else:
            trial.step()
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`scheduler_options` {options!r} of scheduler {scheduler!r}: {error}"
        ) from error


def _allowed_values(annotation) -> tuple | None:
    """A test and a description of the values a signature's annotation allows (None: any)."""

    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    if annotation is int:
        return (lambda v: isinstance(v, int) and not isinstance(v, bool)), "an integer"
    if annotation is float:
        return number, "a number"
    if typing.get_origin(annotation) is typing.Literal:
        words = typing.get_args(annotation)
        return (lambda v: v in words), f"one of {', '.join(map(repr, words))}"
    if float in typing.get_args(annotation):  # e.g. list[float] | float
        return (lambda v: number(v) or (isinstance(v, list) and all(map(number, v)))), (
            "a number or a list of numbers"
        )
    return None


def _scheduler_class(scheduler: str) -> type:
    from torch.optim import lr_scheduler  # only when a scheduler is configured

    if scheduler == "plateau":
        return lr_scheduler.ReduceLROnPlateau
    return lr_scheduler.CosineAnnealingWarmRestarts


@dataclass(frozen=True)
class PrismConfig:
    """Every PRISM setting: decoder, training, optimiser and retry (one per config section)."""

    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)

    def as_dict(self) -> dict:
        """Plain nested dict of every setting."""
        return asdict(self)
