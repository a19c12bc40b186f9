"""Time a whole PRISM training step: the default step vs the reference-shaped one.

One step is what ``PRISMTrainer`` does per optimiser step: decoder forward,
``TelescopeAggregator.predict`` (new line and old-knowledge term), the L1 ``LossAggregator``,
the finiteness check, backward and an Adam step, fitting line ``k`` after ``k`` old lines (as
in ``bench_operators.py``). Two configurations run side by side after two warm-up steps (on
CPU each cell in its own subprocess):

- fast: the project's default decoder (``DecoderConfig()``: 'upsample', 64 channels, depth 4)
  on the fast detector (``m = 36``);
- ref: the reference shape, the 'transposed' decoder with 1024 latent channels on the
  full-grid detector (``N x N`` FFTs per point, ``m = N``); run at k = 1, 4, 16 only, and
  skipped where its memory estimate exceeds ``--max-gib`` (replay k = 16: ~10 GiB).

    python benchmarks/bench_training_step.py              # ~1.5 minutes on 2 idle cores
    python benchmarks/bench_training_step.py --quick      # k = 1 and 4 only
    python benchmarks/bench_training_step.py --device cuda --max-gib 40
"""

from __future__ import annotations

import torch
from common import (
    IMAGE_SIZE,
    OBJ_SIZE,
    measured_aggregator,
    profile_step,
    start,
    step_benchmark_main,
)

from prism.solvers.prism.decoder import DeepDecoder
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.settings import DecoderConfig, OptimizerConfig, TrainingConfig

DECODERS = {False: DecoderConfig(), True: DecoderConfig(kind="transposed", channels=1024)}


def measure(full_grid: bool, mode: str, k: int, device: str, threads: int) -> dict:
    """Set up one configuration in this process and time its training step."""
    device = start(threads, device)
    aggregator = measured_aggregator(k, mode=mode, full_grid=full_grid, device=device)
    model = DeepDecoder(IMAGE_SIZE, OBJ_SIZE, DECODERS[full_grid]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=OptimizerConfig().lr)
    criterion = LossAggregator(TrainingConfig().loss_type)

    def step() -> None:
        new, old = aggregator.predict(model(), k)
        terms = criterion(new, old)
        if not torch.isfinite(terms.total):
            raise FloatingPointError(f"loss is {terms.total.item()}")
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()

    return profile_step(step, device)


def describe_decoders() -> None:
    """Print both decoders and their parameter counts."""
    for full_grid, name in ((False, "fast"), (True, "ref")):
        config = DECODERS[full_grid]
        model = DeepDecoder(IMAGE_SIZE, OBJ_SIZE, config)
        count = sum(p.numel() for p in model.parameters())
        print(f"{name} decoder: '{config.kind}', {config.channels} channels, {count:,} parameters")


if __name__ == "__main__":
    step_benchmark_main(measure, __file__, __doc__, ("fast", "ref"), describe_decoders)
