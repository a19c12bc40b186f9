"""Time the measurement-and-loss part of a PRISM step: fast detector vs the full grid.

Everything a step does but the decoder: the object's spectrum, the new line's prediction
(9 points), the old-knowledge term, the L1 loss and the backward pass to the object square
(a leaf ``[73, 73]`` tensor). The aggregator holds ``k + 1`` lines and fits line ``k``:
'replay' compares with the ``k`` other lines' measurements, 'union' with the reference through
their union mask. The fast detector (``m = 36`` per aperture) and the full-grid reference
(one ``N x N`` FFT per point, ``m = N``) run the same rows in the same run, after two warm-up
steps (the first builds the per-sample plan); on CPU each cell runs in its own subprocess.

The full grid holds ~64 MiB per N x N field (``common.FULL_GRID_MIB_PER_FIELD``): it runs at
k = 1, 4, 16 only, and a case whose estimate exceeds ``--max-gib`` (replay k = 16: ~10 GiB)
is skipped with a note.

    python benchmarks/bench_operators.py                 # ~1 minute on 2 idle cores
    python benchmarks/bench_operators.py --quick         # k = 1 and 4 only
    python benchmarks/bench_operators.py --device cuda --max-gib 40
"""

from __future__ import annotations

import torch
from common import (
    OBJ_SIZE,
    measured_aggregator,
    profile_step,
    start,
    step_benchmark_main,
)

from prism.solvers.prism.losses import LossAggregator


def measure(full_grid: bool, mode: str, k: int, device: str, threads: int) -> dict:
    """Set up one configuration in this process and time its step."""
    device = start(threads, device)
    aggregator = measured_aggregator(k, mode=mode, full_grid=full_grid, device=device)
    criterion = LossAggregator("l1")
    generator = torch.Generator().manual_seed(0)
    x_hat = torch.rand(OBJ_SIZE, OBJ_SIZE, generator=generator).to(device).requires_grad_()

    def step() -> None:
        new, old = aggregator.predict(x_hat, k)
        x_hat.grad = None
        criterion(new, old).total.backward()

    return profile_step(step, device)


if __name__ == "__main__":
    step_benchmark_main(measure, __file__, __doc__, ("fast", "full"))
