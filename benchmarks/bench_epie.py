"""Time per ePIE epoch and peak memory at N = 256 and 1024 with 64 apertures.

Europa-like set-up scaled to the grid as in ``bench_training_step.py``: ``obj_size =
round(73 * N / 1024)``, ``sample_diameter = 17`` k-pixels, 64 Fermat points (or 64-px lines
measured at 9 points) out to ``r_max = N / 4``, ``skimage.data.moon()``, noiseless, support +
non-negativity. Each configuration runs in a fresh subprocess; "peak RSS" is the whole process
at its largest during the epochs, "+run MiB" the growth over the RSS before the first epoch.

    python benchmarks/bench_epie.py                  # N = 256 and 1024
    python benchmarks/bench_epie.py --sizes 512
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import peak_rss_mib, reset_peak_rss, rss_mib, run_isolated
from skimage.data import moon

from prism.config import EPIEConfig
from prism.core.epie import run_epie
from prism.core.optics import Telescope
from prism.core.sampling import make_pattern
from prism.core.simulation import prepare_object, simulate_measurements

N_APERTURES = 64
SAMPLE_DIAMETER = 17
EPOCHS = 3


def measure(size: int, points_per_line: int) -> dict:
    """Time a few ePIE epochs of one configuration and report its memory."""
    obj_size = round(73 * size / 1024)
    telescope = Telescope(size, sample_diameter=SAMPLE_DIAMETER)
    x = prepare_object(moon(), obj_size=obj_size, image_size=size)
    line_length = 64 if points_per_line > 1 else 0
    centers = make_pattern("fermat", N_APERTURES, r_max=size / 4, line_length=line_length)
    y = simulate_measurements(
        x, centers, telescope=telescope, samples_per_line_meas=points_per_line
    )
    reset_peak_rss()
    before = rss_mib()
    began = time.perf_counter()
    run_epie(
        y,
        centers,
        telescope=telescope,
        samples_per_line_meas=points_per_line,
        obj_size=obj_size,
        config=EPIEConfig(epochs=EPOCHS),
        image_gt=x,
    )
    seconds = (time.perf_counter() - began) / EPOCHS
    peak = peak_rss_mib()
    return {"obj_size": obj_size, "s": seconds, "peak": peak, "growth": peak - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="grid sizes N")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(*json.loads(args.worker))))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {N_APERTURES} apertures")
    print(
        f"{'N':>5} {'obj':>4} {'pts/line':>8} {'s/epoch':>8} {'peak RSS MiB':>12} {'+run MiB':>8}"
    )
    for size in args.sizes:
        for points_per_line in (1, 9):
            r = run_isolated(__file__, [size, points_per_line])
            print(
                f"{size:>5} {r['obj_size']:>4} {points_per_line:>8} {r['s']:>8.3f} "
                f"{r['peak']:>12.0f} {r['growth']:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
