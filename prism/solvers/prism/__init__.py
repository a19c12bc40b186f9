"""PRISM: a deep decoder fitted to the measured intensities, registered as a solver.

In the workflow PRISM runs as three steps (:mod:`.steps`), each a
:class:`~.trainer.PRISMTrainer` call with a checkpoint between them (initialization ->
training -> retry of failed samples), so a long fit resumes where it stopped; :func:`solve`
runs the same chain in one process (:mod:`.build`).

The seed's API is importable from here: :class:`PRISMTrainer`, :func:`create_scheduler`,
:class:`TelescopeAggregator`, :class:`LossAggregator`, :class:`DeepDecoder` (one decoder)
and :class:`DecoderEnsemble`, with the settings :class:`PrismConfig`,
:class:`TrainingConfig` and :class:`DecoderConfig`.
"""

from __future__ import annotations

from prism.solvers import Solver
from prism.solvers.prism.aggregator import TelescopeAggregator
from prism.solvers.prism.build import build_trainer, outcome, resolve, solve
from prism.solvers.prism.decoder import DecoderEnsemble, DeepDecoder
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.settings import (
    DecoderConfig,
    PrismConfig,
    TrainingConfig,
    create_scheduler,
)
from prism.solvers.prism.steps import STEPS, run_step
from prism.solvers.prism.trainer import PRISMTrainer

__all__ = [
    "DecoderConfig",
    "DecoderEnsemble",
    "DeepDecoder",
    "LossAggregator",
    "PRISMTrainer",
    "PrismConfig",
    "TelescopeAggregator",
    "TrainingConfig",
    "build_trainer",
    "create_scheduler",
    "outcome",
    "resolve",
    "solve",
]

SOLVERS = (
    Solver(
        "prism",
        solve,
        PrismConfig,
        label="PRISM",
        resolve=resolve,
        steps=STEPS,
        run_step=run_step,
        accelerated=True,
        variant_styles={  # the default study's variants keep these in every figure
            "all_at_once": ("#CC79A7", "P"),
            "replay": ("#0072B2", "o"),
            "union": ("#56B4E9", "s"),
        },
    ),
)
