"""Every reconstruction method behind one interface, and the registry the study reads.

A method is one module (or subpackage) of this package that defines ``SOLVERS``, a tuple of
:class:`Solver`. Each solver is a function ``solve(data, operator, settings, *,
score=None) -> Reconstruction`` with a settings dataclass (its defaults). The workflow's
rules and wildcards, the config check, the command line and the figures' styles all read
:func:`registry`, so a new method needs no edit anywhere else.

Every solver may be varied: the algorithm ``<name>-<variant>`` runs solver ``<name>`` with
the study's settings updated by the variant's (:func:`prism.study.method_settings`). A
solver runs as one step (``reconstruct``) unless it declares several (``steps`` and
``run_step``: PRISM's init, train and retry, checkpointed between them).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path

import torch

from prism.config import from_mapping
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.metrics import scorer

NAME = re.compile(r"[a-z][a-z0-9_]*")
VARIANT = re.compile(r"[A-Za-z0-9_]+")
ONE_STEP = "reconstruct"  # the step of a solver that declares no steps of its own
# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
PALETTE = ("#E69F00", "#CC79A7", "#F0E442", "#56B4E9", "#0072B2", "#009E73")
MARKERS = ("P", "X", "h", "*", "p", "<", ">")


@dataclass(frozen=True)
class Reconstruction:
    """What a solver returns.

    Attributes
    ----------
    image : torch.Tensor
        The estimate on the ``N x N`` grid (real or complex; its magnitude is scored).
    history : list of dict
        One record per iteration (epoch, sample, ...) of numbers.
    failed_samples : int
        Samples the solver could not fit (PRISM's failed samples; 0 for the others).
    stop_reason : str
        Why an iterating solver stopped: one of :data:`prism.stopping.STOP_REASONS`; empty
        for a solver that does not iterate.
    steps : int
        Iterations run (optimiser steps, sweeps), every stage and rung together.
    """

    image: torch.Tensor
    history: list[dict] = field(default_factory=list)
    failed_samples: int = 0
    stop_reason: str = ""
    steps: int = 0


@dataclass(frozen=True)
class Solver:
    """One registered method.

    Attributes
    ----------
    name : str
        Lower-case identifier: the algorithm name in configs, paths and tables.
    solve : callable
        ``solve(data, operator, settings, *, score=None) -> Reconstruction``; ``data`` is a
        :class:`prism.core.operator.MeasurementSet` (without its ground truth unless
        ``reference``), ``operator`` its :class:`~prism.core.operator.MeasurementOperator`,
        ``settings`` an instance of ``settings`` (resolved for the data), ``score`` a
        function from an ``[N, N]`` estimate to ground-truth metrics (None when there is no
        ground truth) that a solver may add to its history records.
    settings : type or None
        Frozen dataclass of the solver's settings (the only place their defaults live);
        None for a solver without settings. A ``seed`` field is set to the data's seed.
    label : str
        Display name in tables and figures.
    colour, marker : str
        Matplotlib colour and marker, the same in every figure; empty: chosen from the name.
    classical : bool
        A classical reconstruction method (no learned or deep prior): per case, the one with
        the highest mean SSIM is the baseline the study measures every method against.
    reference : bool
        A framing reference (what a simpler instrument would see): it reads the ground
        truth, and figures list it last.
    resolve : callable or None
        ``resolve(settings, data) -> settings``: the settings a reconstruction of ``data``
        really uses; None sets a ``seed`` setting to the data's seed.
    steps : tuple of str
        The steps the workflow runs one after the other, each a job of its own writing
        ``<step>.pt`` for the next (the last writes the reconstruction). One step,
        ``reconstruct``, runs :meth:`run` (the default).
    run_step : callable or None
        ``run_step(step, data, settings, context)`` for a solver of several steps: runs one
        of them (:class:`StepContext`); ``data`` holds the ground truth when it is known.
    accelerated : bool
        Its steps can run on a torch device other than the CPU (``--device cuda``).
    variant_styles : mapping
        ``variant -> (colour, marker)`` for variants drawn in fixed styles (the others get
        theirs from the name), in display order.
    """

    name: str
    solve: Callable[..., Reconstruction]
    settings: type | None = None
    label: str = ""
    colour: str = ""
    marker: str = ""
    classical: bool = False
    reference: bool = False
    resolve: Callable | None = None
    steps: tuple[str, ...] = (ONE_STEP,)
    run_step: Callable | None = None
    accelerated: bool = False
    variant_styles: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(
                f"solver name must match {NAME.pattern} (lower case, digits, _), got {self.name!r}"
            )
        if (self.run_step is None) != (self.steps == (ONE_STEP,)):
            raise ValueError(
                f"solver {self.name!r}: steps other than ({ONE_STEP!r},) need a run_step, "
                f"and a run_step needs its steps, got steps={self.steps!r}"
            )

    def build_settings(self, mapping: dict | None, section: str):
        """The settings dataclass from a config mapping (unknown keys are errors)."""
        if self.settings is None:
            if mapping:
                raise ValueError(f"`{section}` takes no settings, got {sorted(mapping)}")
            return None
        return from_mapping(self.settings, mapping, section)

    def resolved(self, settings, data):
        """The settings a reconstruction of ``data`` really uses (see ``resolve``)."""
        if self.resolve is not None:
            return self.resolve(settings, data)
        if settings is not None and "seed" in {item.name for item in fields(settings)}:
            return replace(settings, seed=data.seed)
        return settings

    def run(self, data: MeasurementSet, settings) -> Reconstruction:
        """Reconstruct ``data`` with resolved ``settings``, as every study does (:meth:`given`)."""
        seen, score = self.given(data)
        return self.solve(seen, MeasurementOperator(data), settings, score=score)

    def given(self, data: MeasurementSet) -> tuple[MeasurementSet, Callable | None]:
        """What the solver is given of ``data``, in one step or several.

        The data without the ground truth unless it is a framing reference, and ``score``:
        when the ground truth is known, a function of an estimate giving the metrics its
        history records carry (None otherwise).
        """
        seen = data if self.reference else data.without_ground_truth()
        if data.ground_truth is None:
            return seen, None
        return seen, scorer(data.ground_truth, obj_size=data.obj_size)

    def style(self, algorithm: str | None = None) -> tuple[str, str, str]:
        """``(colour, marker, display name)`` of the solver or one of its variants.

        A variant keeps its fixed style (``variant_styles``) or gets one chosen from its full
        name, and is labelled ``<label> (<variant>)``.
        """
        algorithm = algorithm or self.name
        label = self.label or self.name
        if algorithm == self.name:
            colour, marker = name_style(algorithm)
            return self.colour or colour, self.marker or marker, label
        variant = algorithm.removeprefix(f"{self.name}-")
        colour, marker = self.variant_styles.get(variant) or name_style(algorithm)
        return colour, marker, f"{label} ({variant.replace('_', ' ')})"


@dataclass(frozen=True)
class StepContext:
    """What the command line gives one step of a solver besides its data and settings.

    Attributes
    ----------
    out : Path
        The file the step writes: ``<step>.pt`` for the next step, or the reconstruction
        (:func:`prism.io.save_reconstruction`) for the last.
    checkpoint : Path or None
        The previous step's file (None for the first step).
    device : str
        Where the step computes (a torch device; 'cpu' unless the solver is accelerated).
    scoped : callable
        ``scoped(prefix, closing_tag=None)``: a writer (``add_scalar``, ``add_image``,
        ``flush``) that prints progress and logs under ``prefix`` when the run is tracked.
    score : callable or None
        Ground-truth metrics of an ``[N, N]`` estimate, as :meth:`Solver.given` gives them.
    """

    out: Path
    checkpoint: Path | None
    device: str
    scoped: Callable
    score: Callable | None = None


def name_style(algorithm: str) -> tuple[str, str]:
    """A palette colour and a marker chosen from a name (stable across runs and machines)."""
    code = zlib.crc32(algorithm.encode())
    return PALETTE[code % len(PALETTE)], MARKERS[code % len(MARKERS)]


@cache
def registry() -> dict[str, Solver]:
    """Every solver of this package's modules, by name, in module then declaration order."""
    found: dict[str, Solver] = {}
    for module in sorted(info.name for info in pkgutil.iter_modules(__path__)):
        for solver in getattr(importlib.import_module(f"{__name__}.{module}"), "SOLVERS", ()):
            if solver.name in found:
                raise ValueError(f"solver {solver.name!r} is registered twice")
            found[solver.name] = solver
    return found


def find(algorithm: str) -> Solver:
    """The solver of an algorithm name: a solver's name, or ``<name>-<variant>``.

    Raises
    ------
    ValueError
        Naming the algorithm and every name that is allowed.
    """
    solvers = registry()
    family, dash, variant = algorithm.partition("-")
    solver = solvers.get(family)
    if solver is not None and (not dash or VARIANT.fullmatch(variant)):
        return solver
    raise ValueError(
        f"unknown algorithm {algorithm!r}; registered: {', '.join(solvers)} (or "
        "<solver>-<variant>, a variant's name in letters, digits and _)"
    )


def methods() -> list[str]:
    """The registered methods' names, for :func:`reconstruct`."""
    return list(registry())


def reconstruct(data: MeasurementSet, method: str, **settings) -> Reconstruction:
    """Reconstruct a measurement set with one method and its defaults, updated by ``settings``.

    Parameters
    ----------
    data : MeasurementSet
        The measurements (e.g. from :func:`prism.simulate`); a ground truth, when it holds
        one, only scores the history.
    method : str
        A name of :func:`methods`, e.g. 'tv' or 'prism'.
    **settings
        The method's settings that differ from its defaults, as a study config gives them
        (e.g. ``reconstruct(data, "prism", training={"max_epochs": 20})``).

    Raises
    ------
    ValueError
        For an unknown method (the registered ones are named) or setting.
    """
    solvers = registry()
    if method not in solvers:
        raise ValueError(f"unknown method {method!r}; registered: {', '.join(solvers)}")
    solver = solvers[method]
    return solver.run(data, solver.resolved(solver.build_settings(settings, method), data))


def algorithm_pattern(solver: Solver | None = None) -> str:
    """Regular expression of the algorithm names (of every solver, or of one)."""
    solvers = [solver] if solver is not None else list(registry().values())
    return "|".join(f"{s.name}(?:-{VARIANT.pattern})?" for s in solvers)
