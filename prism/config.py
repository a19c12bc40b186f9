"""Typed, frozen configuration objects: the only place defaults live."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields

LOSS_TYPES = ("l1", "l2", "ssim")
OLD_MODES = ("union", "replay")
INIT_TARGETS = ("measurement", "support")
DECODER_KINDS = ("upsample", "transposed")


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``, naming the parameter."""
    if value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")


def check_positive(name: str, value: float, *, integer: bool = False) -> None:
    """Raise ValueError unless ``value`` is > 0 (and an int when ``integer``)."""
    kind = "an integer" if integer else "a number"
    if (integer and not isinstance(value, int)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"`{name}` must be {kind} > 0, got {value!r}")


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of :class:`prism.core.trainers.PRISMTrainer`.

    Attributes
    ----------
    loss_type : str
        Data term: 'l1' (normalised by the data mean), 'l2' or 'ssim'.
    old_mode : str
        Old-knowledge term: 'union' (model vs previous reconstruction through the cumulative
        mask) or 'replay' (model vs the stored measurements of every earlier aperture).
    loss_th : float
        A sample converges once loss_old and loss_new are both below this.
    n_epochs : int
        Optimiser steps per epoch (the scheduler steps once per epoch).
    max_epochs : int
        Epochs per sample; the step budget is ``max_epochs * n_epochs``.
    init_target : str
        Initial fit target: 'measurement' (amplitude of the first measurement) or 'support'
        (a disc inscribed in the object support, with the first measurement's energy).
    init_steps : int
        Step budget of the initialization.
    retry_lr_factor : float
        Learning-rate factor applied while retrying failed samples, in (0, 1].
    """

    loss_type: str = "l1"
    old_mode: str = "replay"
    loss_th: float = 0.01
    n_epochs: int = 50
    max_epochs: int = 10
    init_target: str = "measurement"
    init_steps: int = 300
    retry_lr_factor: float = 0.1

    def __post_init__(self) -> None:
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        check_choice("old_mode", self.old_mode, OLD_MODES)
        check_choice("init_target", self.init_target, INIT_TARGETS)
        check_positive("loss_th", self.loss_th)
        for name in ("n_epochs", "max_epochs", "init_steps"):
            check_positive(name, getattr(self, name), integer=True)
        if not 0 < self.retry_lr_factor <= 1:
            raise ValueError(f"`retry_lr_factor` must be in (0, 1], got {self.retry_lr_factor!r}")

    @property
    def step_budget(self) -> int:
        """Optimiser steps allowed per sample, ``max_epochs * n_epochs``."""
        return self.max_epochs * self.n_epochs

    def as_dict(self) -> dict:
        """Plain dict of every setting (what a checkpoint embeds and a tracker logs)."""
        return asdict(self)


@dataclass(frozen=True)
class DecoderConfig:
    """Settings of :class:`prism.models.decoder.ProgressiveDecoder`.

    Attributes
    ----------
    kind : str
        'upsample' (bilinear x2 + 1x1 conv + ReLU + batch norm, after Heckel & Hand) or
        'transposed' (1x1 latent, stride-2 transposed convs halving the channels, 3x3
        refinement convs).
    channels : int
        Channels of the upsampling decoder; latent channels of the transposed one.
    depth : int
        Upsampling stages of the 'upsample' kind (its latent is ``ceil(obj_size / 2**depth)``
        pixels wide). The 'transposed' kind uses as many stages as its 1x1 latent needs.
    seed : int
        Seed of the weights and of the fixed latent.
    """

    kind: str = "upsample"
    channels: int = 64
    depth: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, DECODER_KINDS)
        check_positive("channels", self.channels, integer=True)
        check_positive("depth", self.depth, integer=True)


@dataclass(frozen=True)
class EPIEConfig:
    """Settings of :func:`prism.core.epie.run_epie`.

    Attributes
    ----------
    epochs : int
        Sweeps over every sample.
    alpha : float
        Step size of the spectrum update, in (0, 2).
    support : bool
        Zero the object outside its ``obj_size`` square after every sweep.
    real : bool
        Keep only the real part of the object after every sweep.
    nonnegative : bool
        Keep the real part clipped at 0 (implies ``real``).
    random_order : bool
        Visit the samples in a seeded random order each sweep instead of the pattern order.
    seed : int
        Seed of the random order.
    """

    epochs: int = 100
    alpha: float = 1.0
    support: bool = True
    real: bool = False
    nonnegative: bool = True
    random_order: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("epochs", self.epochs, integer=True)
        if not 0 < self.alpha < 2:
            raise ValueError(f"`alpha` must be in (0, 2), got {self.alpha!r}")


def training_config(args: TrainingConfig | argparse.Namespace) -> TrainingConfig:
    """The :class:`TrainingConfig` of ``args``, a config or an argparse Namespace.

    Attributes of a Namespace that name a setting are taken; the others are ignored, and
    missing settings take their defaults from :class:`TrainingConfig`.
    """
    if isinstance(args, TrainingConfig):
        return args
    if isinstance(args, argparse.Namespace):
        names = {field.name for field in fields(TrainingConfig)}
        return TrainingConfig(**{k: v for k, v in vars(args).items() if k in names})
    raise TypeError(f"`args` must be a TrainingConfig or argparse.Namespace, got {type(args)}")
