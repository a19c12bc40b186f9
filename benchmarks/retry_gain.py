"""What PRISM's retry stage bought in a finished study: SSIM before and after it, per case.

For every PRISM reconstruction of a study folder (``results/<object>/<set>/prism-<variant>/``)
the object square the training stage left (``train.pt``) and the final one after the retry
(``metrics.json``) are scored against the same ground truth with the one metrics module.
The retry's cost is its share of the algorithm time (final ``wall_time_s`` minus the
training checkpoint's) and the retry job's wall time (``logs/benchmarks/prism_retry/``,
process start-up included). A retry that found no failed sample changes nothing and costs
only its job.

    python benchmarks/retry_gain.py /path/to/study [--out retry.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

from common import write_csv

from prism.core.grid import pad_to_grid
from prism.io import load_checkpoint, load_measurements
from prism.metrics import evaluate


def job_seconds(study: Path, run: Path) -> float:
    """Wall seconds of the retry job of one PRISM run (Snakemake's benchmark file)."""
    obj, key, algorithm = run.parts[-3:]
    path = study / f"logs/benchmarks/prism_retry/{obj}/{key}-{algorithm}.tsv"
    with open(path, newline="") as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def retry_row(study: Path, run: Path) -> dict:
    """SSIM after training and after the retry, and the retry's cost, for one run."""
    final = json.loads((run / "metrics.json").read_text())
    data = load_measurements(study / final["measurements"])
    state = load_checkpoint(run / "train.pt")
    trained = pad_to_grid(state["reconstruction_crop"], data.image_size)
    before = evaluate(trained, data.ground_truth, obj_size=data.obj_size).ssim
    return {
        "case": "/".join(run.parts[-3:]),
        "failed_after_training": len(state["failed"]),
        "ssim_trained": before,
        "ssim_final": final["ssim"],
        "gain": final["ssim"] - before,
        "retry_algorithm_s": final["wall_time_s"] - state["wall_time_s"],
        "retry_job_s": job_seconds(study, run),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="a finished study folder")
    parser.add_argument("--out", type=Path, help="CSV of every run's row")
    args = parser.parse_args()
    runs = sorted(path.parent for path in args.study.glob("results/*/*/prism-*/train.pt"))
    runs = [run for run in runs if (run / "metrics.json").exists()]
    if not runs:
        raise SystemExit(f"no finished PRISM runs under {args.study / 'results'}")
    rows = [retry_row(args.study, run) for run in runs]
    print(f"{'case':58} failed  trained    final     gain  retry s  job s")
    for row in rows:
        print(
            f"{row['case']:58} {row['failed_after_training']:6d} {row['ssim_trained']:8.4f}"
            f" {row['ssim_final']:8.4f} {row['gain']:+8.4f} {row['retry_algorithm_s']:8.1f}"
            f" {row['retry_job_s']:6.1f}"
        )
    retried = [row for row in rows if row["failed_after_training"]]
    total = sum(row["retry_job_s"] for row in rows)
    print(f"{len(retried)} of {len(rows)} runs retried; retry jobs {total:.1f} s in all")
    if retried:
        gains = [row["gain"] for row in retried]
        print(f"gain where retried: mean {statistics.mean(gains):+.4f}, max {max(gains):+.4f}")
    if args.out:
        write_csv(rows, args.out)


if __name__ == "__main__":
    main()
