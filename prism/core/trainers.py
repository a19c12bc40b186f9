"""The address of PRISM's trainer API as the project first documented it.

``from prism.core.trainers import PRISMTrainer, create_scheduler`` is how callers reach the
trainer, so it stays valid. The trainer itself lives with the rest of PRISM in
:mod:`prism.solvers.prism`; this module only names it, and nothing in the project imports it
(the physics in :mod:`prism.core` never depends on a solver).
"""

from prism.solvers.prism.settings import create_scheduler
from prism.solvers.prism.trainer import PRISMTrainer

__all__ = ["PRISMTrainer", "create_scheduler"]
