"""Time an ePIE epoch at N = 1024 with 64 apertures: fast detector vs the full grid.

The set-up of ``common.py``: 64 Fermat samples out to ``r_max = N / 4``, as points or as
64-px lines measured at 9 points, support + non-negativity (``EPIEConfig`` defaults), no
per-epoch metrics. Each configuration runs the ePIE solver in its own subprocess (CPU only:
it has no device option): "s/epoch" is the median of the epochs after the first,
"min s" the fastest, "setup s" what the run took up to the first epoch's end beyond the
median (windows, initial spectrum), "peak MiB" the process at its largest during the run
(RSS) and "+MiB" its growth over the data set-up.

    python benchmarks/bench_epie.py                  # ~3 minutes on 2 idle cores
    python benchmarks/bench_epie.py --epochs 2 3     # epochs per run: full grid, fast
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time

from common import (
    add_options,
    banner,
    fermat,
    make_detector,
    moon_object,
    peak_rss_mib,
    ratio,
    reset_peak_rss,
    rss_mib,
    run_isolated,
    simulate,
    start,
)

from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.solvers.epie import EPIEConfig, solve

N_APERTURES = 64


class EpochClock:
    """A ``score`` for the ePIE solver that notes when each epoch ends and scores nothing."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def __call__(self, estimate) -> dict:
        self.ends.append(time.perf_counter())
        return {}


def measure(full_grid: bool, points_per_line: int, epochs: int, threads: int) -> dict:
    """Run ePIE on one configuration in this process; time its epochs."""
    start(threads)
    detector = make_detector(full_grid=full_grid)
    centers = fermat(N_APERTURES, points_per_line)
    y = simulate(moon_object(), centers, detector, points_per_line)
    reset_peak_rss()
    before = rss_mib()
    clock = EpochClock()
    began = time.perf_counter()
    data = MeasurementSet.from_detector(detector, centers, y, samples_per_line_meas=points_per_line)
    operator = MeasurementOperator(data, full_grid=full_grid)
    solve(data, operator, EPIEConfig(max_epochs=epochs), score=clock)
    epoch_s = [later - earlier for earlier, later in itertools.pairwise(clock.ends)]
    setup = clock.ends[0] - began - statistics.median(epoch_s)
    peak = peak_rss_mib()
    return {
        "s": statistics.median(epoch_s),
        "min_s": min(epoch_s),
        "setup": setup,
        "peak": peak,
        "growth": peak - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_options(parser, cuda=False)
    parser.add_argument(
        "--epochs",
        type=int,
        nargs=2,
        default=(3, 6),
        metavar=("FULL", "FAST"),
        help="epochs per run, full grid and fast (>= 2 each; default 3 6)",
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(**json.loads(args.worker))))
        return
    if min(args.epochs) < 2:
        parser.error(f"--epochs must be >= 2 (the first epoch is not timed), got {args.epochs}")
    sys.stdout.reconfigure(line_buffering=True)
    print(banner("cpu", args.threads) + f"; {N_APERTURES} apertures")
    print(f"{'pts/line':>8} {'detector':>8} {'s/epoch':>8} {'min s':>8} {'setup s':>8}", end="")
    print(f" {'peak MiB':>8} {'+MiB':>6} {'full/fast':>9}")
    for points_per_line in (1, 9):
        results = {}
        for full_grid, epochs in zip((False, True), args.epochs[::-1], strict=True):
            spec = {"points_per_line": points_per_line, "threads": args.threads}
            r = run_isolated(__file__, spec | {"full_grid": full_grid, "epochs": epochs})
            results[full_grid] = r
            name = "full" if full_grid else "fast"
            if "error" in r:
                print(f"{points_per_line:>8} {name:>8} failed: {r['error']}")
                continue
            times = f"{r['s']:>8.3f} {r['min_s']:>8.3f} {r['setup']:>8.2f} {r['peak']:>8.0f}"
            times += f" {r['growth']:>6.0f}"
            speedup = ratio(r, results[False], "s") if full_grid else ""
            print(f"{points_per_line:>8} {name:>8} {times} {speedup:>9}")


if __name__ == "__main__":
    main()
