"""The methods table and gain heat maps of study results gathered from several machines.

``run_study.py`` runs parts of a grid on different machines; each writes
``results/<object>/<key>/<algorithm>/metrics.json``. This gathers every such file under the
given folders (a job found twice keeps its first copy) and writes, with the workflow's own
functions, ``methods.csv`` (:func:`prism.stages.report.methods_table`) and
``versus_<baseline>.png`` into ``--out``, then prints the table's main columns.
Reconstructions are not needed.

    python benchmarks/study_table.py /tmp/gpu_run /tmp/local_run --out docs/ablation \\
        --algorithms epie prism-all_at_once
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from prism import figures
from prism.stages.report import methods_table, read_metrics


def gather(roots: list[Path]) -> list[Path]:
    """Every ``results/**/metrics.json`` under ``roots``, one per job (first root wins)."""
    found: dict[Path, Path] = {}
    for root in roots:
        for path in sorted((root / "results").glob("*/*/*/metrics.json")):
            found.setdefault(path.relative_to(root), path)
    return list(found.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roots", type=Path, nargs="+", help="folders holding results/")
    parser.add_argument("--out", type=Path, required=True, help="where the table goes")
    parser.add_argument("--algorithms", nargs="+", help="keep only these (default: all)")
    parser.add_argument("--baseline", default="best", help="best (default), or an algorithm")
    args = parser.parse_args()
    frame = read_metrics(gather(args.roots))
    if args.algorithms:
        frame = frame[frame["algorithm"].isin(args.algorithms)]
    table = methods_table(frame, args.baseline)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "methods.csv", index=False, float_format="%.6g")
    figures.plot_gains(table, args.out / f"versus_{args.baseline}.png", baseline=args.baseline)
    shown = ["case", "algorithm", "n_runs", "ssim_mean", "ssim_std"]
    shown += [f"versus_{args.baseline}_mean", "best_classical"]
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table[shown + ["wall_time_s_mean"]].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
