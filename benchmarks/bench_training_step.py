"""Time per PRISM training step and peak memory, at N = 256, 512 and 1024.

Europa-like set-up scaled to the grid: at N = 1024 the object is 73 px wide and one
sub-aperture is 17 k-pixels across. At other N the object keeps its fraction of the grid,
``obj_size = round(73 * N / 1024)``, and the aperture stays ``sample_diameter = 17``
k-pixels at every N (fixed, not rescaled with N). The object is ``skimage.data.moon()``;
samples follow a Fermat spiral out to ``r_max = N / 4``, as points or as lines 64 k-pixels
long measured at 9 points each (random angles, seed 0); data are noiseless.

One step is what ``PRISMTrainer`` does per optimiser step: decoder forward,
``new_prediction``, ``old_prediction``, the L1 ``LossAggregator``, backward and an Adam
step, fitting sample k after k samples were added to the ``TelescopeAggregator``. At k = 1
there is no old term, so 'replay' and 'union' are the same step; it is run once (mode '-').
"ms/step" is the median over a few repetitions after one warm-up step, "min ms" the fastest
(fewer repetitions when a step is slow; a configuration whose warm-up step exceeds 20 s is
skipped with a note).

Each configuration runs in a fresh subprocess, so its peak RSS (``ru_maxrss``) is its own.
The peak is reset just before the first step (Linux ``/proc/self/clear_refs``), so set-up
and data simulation are not counted: "peak RSS" is the whole process (Python, torch, data)
at its largest during the steps, "+step" is that peak minus the RSS before the first step.
Timings are wall-clock on a machine that may be shared: run it on an idle one.

    python benchmarks/bench_training_step.py                  # full: N = 256, 512, 1024
    python benchmarks/bench_training_step.py --quick          # N = 256, fewer repetitions
    python benchmarks/bench_training_step.py --sizes 512 1024
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from common import peak_rss_mib, reset_peak_rss, rss_mib, run_isolated
from skimage.data import moon

from prism.config import DecoderConfig
from prism.core.aggregator import TelescopeAggregator
from prism.core.optics import Telescope
from prism.core.sampling import line_points, make_pattern
from prism.core.simulation import prepare_object, simulate_measurements
from prism.models.decoder import ProgressiveDecoder
from prism.models.losses import LossAggregator

SKIP_S = 20.0  # a warm-up step slower than this skips the configuration
TIME_BUDGET_S = 10.0  # timed repetitions stop once they would exceed this
LINE_LENGTH = 64
POINTS_PER_LINE = 9
N_PATTERN = 64
OBJ_SIZE_AT_1024 = 73
SAMPLE_DIAMETER = 17
HEADER = f"{'ms/step':>9} {'min ms':>8} {'reps':>4} {'peak RSS MiB':>12} {'+step MiB':>9}"
CONFIG = "{:>5} {:>4} {:>3} {:>6} {:>8} {:>3}"
RESULT = "{:>9.1f} {:>8.1f} {:>4} {:>12.0f} {:>9.0f}"


def measure(size: int, mode: str, points_per_line: int, k: int, reps: int) -> dict:
    """Set up one configuration, time its training step and report its memory."""
    torch.manual_seed(0)
    obj_size = round(OBJ_SIZE_AT_1024 * size / 1024)
    telescope = Telescope(size, sample_diameter=SAMPLE_DIAMETER)
    x = prepare_object(moon(), obj_size=obj_size, image_size=size)
    line_length = LINE_LENGTH if points_per_line > 1 else 0
    centers = make_pattern(
        "fermat", N_PATTERN, r_max=size / 4, line_length=line_length, angle=None, seed=0
    )[:k]
    y = simulate_measurements(
        x, centers, telescope=telescope, samples_per_line_meas=points_per_line
    )
    model = ProgressiveDecoder(size, obj_size, DecoderConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    aggregator = TelescopeAggregator(telescope, mode="replay" if mode == "-" else mode)
    criterion = LossAggregator("l1")
    with torch.no_grad():
        reference = model().detach()
    for points, intensity in zip(line_points(centers, points_per_line), y, strict=True):
        aggregator.set_reference(reference)
        aggregator.add(points, intensity)

    def step() -> float:
        began = time.perf_counter()
        x_hat = model()
        new = aggregator.new_prediction(x_hat, k - 1)
        old = aggregator.old_prediction(x_hat, k - 1)
        terms = criterion(new, old)
        if not torch.isfinite(terms.total):
            raise FloatingPointError(f"loss is {terms.total.item()}")
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        return time.perf_counter() - began

    reset_peak_rss()
    before = rss_mib()
    warm = step()
    if warm > SKIP_S:
        return {"obj_size": obj_size, "skipped": warm}
    reps = max(1, min(reps, int(TIME_BUDGET_S / warm)))
    times = [step() for _ in range(reps)]
    peak = peak_rss_mib()
    return {
        "obj_size": obj_size,
        "ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "reps": reps,
        "peak": peak,
        "growth": peak - before,
    }


def configurations(sizes: list[int]):
    for size in sizes:
        for points_per_line in (1, POINTS_PER_LINE):
            yield size, "-", points_per_line, 1
            for mode in ("replay", "union"):
                yield size, mode, points_per_line, 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="grid sizes N (default 256 512 1024)")
    parser.add_argument("--quick", action="store_true", help="N = 256 only, 3 repetitions")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(*json.loads(args.worker))))
        return
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    sizes = args.sizes or ([256] if args.quick else [256, 512, 1024])
    reps = 3 if args.quick else 5
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, up to {reps} repetitions")
    print(CONFIG.format("N", "obj", "d", "mode", "pts/line", "k"), HEADER)
    for size, mode, points_per_line, k in configurations(sizes):
        r = run_isolated(__file__, [size, mode, points_per_line, k, reps])
        config = CONFIG.format(size, r["obj_size"], SAMPLE_DIAMETER, mode, points_per_line, k)
        if "skipped" in r:
            print(config, f"skipped: warm-up step took {r['skipped']:.1f} s > {SKIP_S:.0f} s")
            continue
        print(config, RESULT.format(r["ms"], r["min_ms"], r["reps"], r["peak"], r["growth"]))


if __name__ == "__main__":
    main()
