"""Time per reconstruction and peak memory of every registered method, at N = 256 and 1024.

Each (method, size) runs through the solver interface (:func:`prism.stages.reconstruct`'s
``solver.solve`` on a ``MeasurementSet`` and its operator, default settings resolved for the
data) in its own subprocess, so the peak RSS is that reconstruction's: the set-up (object,
measurements) is excluded by restarting the peak count before the solve. Sizes:

- N = 256: moon as a 64-px object, 16-k-px apertures at 64 Fermat points out to 128 k-px
  (the ablation study's sparse points), noiseless;
- N = 1024: the quick test's set-up (``common.py``): object 73 px, 17-k-px apertures, 64
  Fermat lines 64 k-px long measured at 9 points, noiseless.

PRISM's default (``prism-<variant>`` is staged; here its one-process ``solve``) takes minutes
at N = 1024 on 2 cores; leave it out with ``--methods``. Timings are wall-clock: run on an
idle machine.

    python benchmarks/bench_solvers.py                          # every method, both sizes
    python benchmarks/bench_solvers.py --methods epie mpie tv   # the classical ones
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import (
    IMAGE_SIZE,
    LINE_LENGTH,
    OBJ_SIZE,
    POINTS_PER_LINE,
    R_MAX,
    SAMPLE_DIAMETER,
    add_options,
    moon_object,
    peak_rss_mib,
    reset_peak_rss,
    run_isolated,
    start,
)
from skimage.data import moon

from prism.config import NoiseConfig, PatternConfig
from prism.core import experiment
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.simulation import prepare_object
from prism.metrics import evaluate
from prism.solvers import find, registry

SIZES = (256, IMAGE_SIZE)


def measurement_set(size: int) -> MeasurementSet:
    """The benchmark's data at grid ``size`` (see the module notes)."""
    if size == IMAGE_SIZE:
        pattern = PatternConfig(
            kind="fermat",
            r_max=R_MAX,
            line_length=LINE_LENGTH,
            samples_per_line_meas=POINTS_PER_LINE,
        )
        return experiment.measure(
            moon_object(), OBJ_SIZE, SAMPLE_DIAMETER, pattern, NoiseConfig(), n_samples=64
        )
    x = prepare_object(moon(), obj_size=64, image_size=size)
    pattern = PatternConfig(kind="fermat", r_max=size / 2)
    return experiment.measure(x, 64, 16, pattern, NoiseConfig(), n_samples=64)


def measure(algorithm: str, size: int, threads: int) -> dict:
    """One reconstruction in this process: wall time, peak RSS over the set-up, SSIM."""
    start(threads)
    data = measurement_set(size)
    solver = find(algorithm)
    settings = solver.resolved(solver.settings() if solver.settings else None, data)
    seen = data if solver.reference else data.without_ground_truth()
    reset_peak_rss()
    began = time.perf_counter()
    result = solver.solve(seen, MeasurementOperator(data), settings)
    seconds = time.perf_counter() - began
    ssim = evaluate(result.image, data.ground_truth, obj_size=data.obj_size).ssim
    return {"s": seconds, "peak": peak_rss_mib(), "ssim": ssim}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_options(parser, cuda=False)
    names = [f"{s.name}-all_at_once" if s.staged else s.name for s in registry().values()]
    parser.add_argument("--methods", nargs="+", default=names, help=f"default: {names}")
    parser.add_argument("--sizes", nargs="+", type=int, default=SIZES, choices=SIZES)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(**json.loads(args.worker))))
        return
    sys.stdout.reconfigure(line_buffering=True)
    print(f"{'method':>20} {'N':>5} {'s':>8} {'peak MiB':>9} {'SSIM':>6}  ({args.threads} threads)")
    for size in args.sizes:
        for algorithm in args.methods:
            spec = {"algorithm": algorithm, "size": size, "threads": args.threads}
            r = run_isolated(__file__, spec)
            if "error" in r:
                print(f"{algorithm:>20} {size:>5} failed: {r['error']}")
                continue
            print(f"{algorithm:>20} {size:>5} {r['s']:>8.1f} {r['peak']:>9.0f} {r['ssim']:>6.3f}")


if __name__ == "__main__":
    main()
