"""Generators from a fixed latent to the object amplitude on the object square."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn

from prism.solvers.prism.settings import DecoderConfig, upsampling_depth


class DeepDecoder(nn.Module):
    """A deep decoder whose output is the object amplitude on its ``obj_size`` square.

    The network generates a map of at least ``obj_size`` pixels and keeps its centred
    ``obj_size`` crop; its output activation keeps the amplitude non-negative (sigmoid:
    within ``[0, 1]``). Its cost follows the object, not the grid: the square sits in the
    ``N x N`` grid at offset ``(N - obj_size) // 2`` (:func:`prism.core.grid.pad_to_grid`),
    and the detector operator reads it there without building the grid. Nothing in it is
    progressive: the trainer decides whether it fits all measurements at once or one after
    another.

    Parameters
    ----------
    image_size : int
        Grid size ``N``.
    obj_size : int
        Object width in pixels, in ``[1, image_size]``.
    config : DecoderConfig
        Architecture and seed (this is one decoder: ``members`` is the ensemble's).
    """

    def __init__(self, image_size: int, obj_size: int, config: DecoderConfig) -> None:
        super().__init__()
        if not isinstance(obj_size, int) or not 1 <= obj_size <= image_size:
            raise ValueError(
                f"`obj_size` must be an integer in [1, {image_size}], got {obj_size!r}"
            )
        self.image_size = image_size
        self.obj_size = obj_size
        self.config = config
        generator = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            if config.kind == "upsample":
                depth = config.depth if config.depth is not None else upsampling_depth(obj_size)
                latent_size = math.ceil(obj_size / 2**depth)
                self.net = _upsampling_net(config.channels, depth, config.activation)
                latent_shape = (1, config.channels, latent_size, latent_size)
                map_size = latent_size * 2**depth
            else:
                depth = max(1, math.ceil(math.log2(obj_size)))
                self.net = _transposed_net(config.channels, depth, config.activation)
                latent_shape = (1, config.channels, 1, 1)
                map_size = 2**depth
        latent = torch.randn(latent_shape, generator=generator)
        if config.learned_latent:
            self.latent = nn.Parameter(latent)
        else:
            self.register_buffer("latent", latent)
        self.map_size = map_size

    def forward(self) -> torch.Tensor:
        """The current object estimate, float32 ``[1, 1, obj, obj]``, non-negative."""
        out = self.net(self.latent)
        start = (out.shape[-1] - self.obj_size) // 2
        return out[..., start : start + self.obj_size, start : start + self.obj_size].float()


class DecoderEnsemble(nn.Module):
    """``config.members`` deep decoders side by side, each from its own seed.

    Its output stacks the members' object squares, ``[K, 1, obj, obj]``; the trainer fits
    each to the data and takes their mean as the reconstruction. The members share nothing
    (weights, latents and batch-norm statistics are each their own) and the trainer descends
    the sum of their losses, so each member gets the gradient it would get alone: with a
    per-parameter optimiser such as Adam, the ensemble's fit is ``K`` independent fits run
    in lockstep (stopped together, when the members' mean loss meets the rule). Its
    parameters are :class:`DeepDecoder`'s; ``config.members`` says how many.
    """

    def __init__(self, image_size: int, obj_size: int, config: DecoderConfig) -> None:
        super().__init__()
        self.obj_size = obj_size
        self.config = config
        self.members = nn.ModuleList(
            DeepDecoder(image_size, obj_size, dataclasses.replace(config, seed=seed))
            for seed in (member_seed(config.seed, k) for k in range(config.members))
        )

    def forward(self) -> torch.Tensor:
        """The members' object estimates, float32 ``[K, 1, obj, obj]``, non-negative."""
        return torch.cat([member() for member in self.members])


def member_seed(seed: int, member: int) -> int:
    """The seed of ensemble member ``member``: ``seed`` itself for the first.

    The others come from :class:`numpy.random.SeedSequence` of ``(seed, member)``, so no
    member of one seed's ensemble repeats a member of another seed's (as ``seed + member``
    would) and a study's seeds stay independent.
    """
    if member == 0:
        return seed
    return int(np.random.SeedSequence([seed, member]).generate_state(1)[0])


def _output(activation: str) -> nn.Module:
    return nn.Sigmoid() if activation == "sigmoid" else nn.Softplus()


def _upsampling_net(channels: int, depth: int, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(channels, channels, kernel_size=1, bias=False),
            nn.ReLU(),
            nn.BatchNorm2d(channels),
        ]
    layers += [nn.Conv2d(channels, 1, kernel_size=1), _output(activation)]
    return nn.Sequential(*layers)


def _transposed_net(channels: int, depth: int, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = channels
    for _ in range(depth):
        out = max(width // 2, 8)
        layers += [
            nn.ConvTranspose2d(width, out, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(out),
            nn.Conv2d(out, out, kernel_size=3, padding=1),
            nn.ReLU(),
        ]
        width = out
    layers += [nn.Conv2d(width, 1, kernel_size=3, padding=1), _output(activation)]
    return nn.Sequential(*layers)
