"""The study's results: tables, figures and the DVC-tracked headline scores.

Everything is read from the per-reconstruction metrics JSON files (which name their
measurement set and reconstruction), so the summary needs no knowledge of the file layout.
Quality tables and figures depend only on the reconstructions; wall times go to their own
table, so a rerun of the same study reproduces ``summary.csv`` byte for byte.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from prism import figures
from prism.core.grid import crop_object
from prism.io import atomic_write, load_measurements, load_reconstruction
from prism.solvers import find
from prism.stages.evaluate import KEYS, coverage, write_json

QUALITY = ("ssim", "psnr", "nrmse", "failed_samples")
CONVERGENCE = ("steps", "data_misfit")  # how far each solver went, and where it stopped
DATA = ["object", "pattern", "n_samples", "noise", "seed"]  # one measurement set
CASE = ["pattern", "n_samples", "noise"]  # what a methods-table row pools over
BEST = "best"  # the baseline that is each case's strongest classical method


def read_metrics(metrics_paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Every reconstruction's metrics JSON as one row, in a fixed order."""
    records = [json.loads(Path(path).read_text()) for path in metrics_paths]
    return pd.DataFrame.from_records(records).sort_values(list(KEYS), ignore_index=True)


def summarize(metrics_paths, out_dir: str | os.PathLike, baseline: str = BEST) -> dict[str, Path]:
    """Write the study's tables and figures into ``out_dir``.

    Parameters
    ----------
    metrics_paths : list of path-like
        The metrics JSON of every reconstruction of the study.
    out_dir : path-like
        Receives ``summary.csv`` (mean and standard deviation over seeds of SSIM, PSNR,
        NRMSE, failed samples, steps run and final data misfit, and why the runs stopped,
        counted by reason, one row per configuration), ``summary.html`` (the same,
        formatted for reading), ``timing.csv`` (wall time, likewise), ``scores.png``,
        ``gallery.png``, ``coverage.png``, ``learning_curves.png``, ``methods.csv`` (every
        method per case over objects and seeds, against the baseline; :func:`methods_table`)
        and ``versus_<baseline>.png`` (those SSIM differences as a heat map).
    baseline : str
        What every method is compared with: ``best`` (each case's strongest classical
        method) or an algorithm of the study.

    Returns
    -------
    dict
        The written paths by name.
    """
    frame = read_metrics(metrics_paths)
    out = Path(out_dir)
    summary = _over_seeds(frame, QUALITY + CONVERGENCE)
    summary["stop_reasons"] = _stop_reasons(frame)
    paths = {
        "summary": _write_table(summary, out / "summary.csv"),
        "summary_html": _write_html(summary, out / "summary.html"),
        "timing": _write_table(_over_seeds(frame, ("wall_time_s",)), out / "timing.csv"),
    }
    methods = methods_table(frame, baseline)
    paths["methods"] = _write_table(methods, out / "methods.csv")
    paths["versus"] = out / f"versus_{baseline}.png"
    figures.plot_gains(methods, paths["versus"], baseline=baseline)
    paths["scores"] = out / "scores.png"
    figures.plot_scores(frame, paths["scores"])
    paths["gallery"] = out / "gallery.png"
    figures.plot_gallery(gallery_rows(frame), paths["gallery"])
    paths["coverage"] = out / "coverage.png"
    figures.plot_coverage(coverage_maps(frame), paths["coverage"])
    paths["learning_curves"] = out / "learning_curves.png"
    figures.plot_learning_curves(learning_curves(frame), paths["learning_curves"])
    return paths


def methods_table(frame: pd.DataFrame, baseline: str = BEST) -> pd.DataFrame:
    """Every method per case (pattern, apertures, noise), over objects and seeds.

    Each method is measured against the baseline on the same measurement sets (paired
    differences): ``best``, the case's strongest classical method
    (:func:`strongest_classical`), or a named algorithm. Columns: ``case``, the case keys,
    ``algorithm``, ``n_runs``, mean and standard deviation of SSIM and PSNR, of
    ``versus_<baseline>`` (SSIM minus the baseline's; NaN where it has no reconstruction),
    ``best_classical`` (the strongest classical method's name) and the failed samples, and
    the mean wall time in seconds.
    """
    best = strongest_classical(frame)
    if baseline == BEST:
        best_per_row = best.reindex(pd.MultiIndex.from_frame(frame[CASE])).to_numpy()
        is_baseline = frame["algorithm"].to_numpy() == best_per_row
    else:
        is_baseline = frame["algorithm"] == baseline
    gain = f"versus_{baseline}"
    frame = frame.assign(**{gain: _paired_gain(frame, is_baseline)})
    scores = ["ssim", "psnr", gain, "failed_samples"]
    grouped = frame.groupby([*CASE, "algorithm"], sort=True)
    table = grouped[scores].agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "n_runs", grouped["ssim"].size())
    table["wall_time_s_mean"] = grouped["wall_time_s"].mean()
    table = table.reset_index()
    best_names = best.reindex(pd.MultiIndex.from_frame(table[CASE])).to_numpy()
    table.insert(table.columns.get_loc("failed_samples_mean"), "best_classical", best_names)
    names = [f"{p}, n={n}, {z}" for p, n, z in table[CASE].itertuples(index=False)]
    table.insert(0, "case", names)
    return table


def strongest_classical(frame: pd.DataFrame) -> pd.Series:
    """Per case, the classical method (``Solver.classical``) with the highest mean SSIM.

    Returns
    -------
    pandas.Series
        Algorithm names indexed by the case keys (pattern, n_samples, noise); cases without a
        classical method are absent.
    """
    classical = frame[frame["algorithm"].map(lambda name: find(name).classical)]
    means = classical.groupby([*CASE, "algorithm"], sort=True)["ssim"].mean()
    if means.empty:
        return pd.Series(dtype=object, index=pd.MultiIndex.from_tuples([], names=CASE))
    return means.groupby(level=CASE).idxmax().map(lambda key: key[-1])


def _paired_gain(frame: pd.DataFrame, is_reference) -> np.ndarray:
    """Each row's SSIM minus the reference row's on the same measurement set (NaN: none)."""
    reference = frame[is_reference].set_index(DATA)["ssim"]
    matched = reference.reindex(pd.MultiIndex.from_frame(frame[DATA])).to_numpy()
    return frame["ssim"].to_numpy() - matched


def _over_seeds(frame: pd.DataFrame, scores: tuple[str, ...]) -> pd.DataFrame:
    group = [key for key in KEYS if key != "seed"]
    table = frame.groupby(group, sort=True)[list(scores)].agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "n_seeds", frame.groupby(group, sort=True)["seed"].nunique())
    return table.reset_index()


def _stop_reasons(frame: pd.DataFrame) -> np.ndarray:
    """Per configuration, why its runs stopped, counted (e.g. ``"budget x1; rule x1"``).

    Empty for a method that does not iterate.
    """
    group = [key for key in KEYS if key != "seed"]

    def counted(reasons: pd.Series) -> str:
        counts = sorted(Counter(reason for reason in reasons if reason).items())
        return "; ".join(f"{reason} x{count}" for reason, count in counts)

    return frame.groupby(group, sort=True)["stop_reason"].agg(counted).to_numpy()


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))


def _write_html(summary: pd.DataFrame, path: Path) -> Path:
    """The study table for reading: ``mean ± std`` per score, methods by display name."""
    shown = summary[["object", "pattern", "n_samples", "noise"]].copy()
    shown["method"] = summary["algorithm"].map(figures.label)
    shown["seeds"] = summary["n_seeds"]
    for score, title, digits in _SHOWN:
        mean, std = summary[f"{score}_mean"], summary[f"{score}_std"].fillna(0.0)
        shown[title] = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(mean, std, strict=True)]
    shown["stopped"] = summary["stop_reasons"]
    html = shown.to_html(index=False, border=0, classes="prism-summary")
    head = f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>{_CSS}</head>"
    page = f"{head}<body>{html}</body></html>\n"
    return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


_SHOWN = (("ssim", "SSIM", 3), ("psnr", "PSNR (dB)", 2), ("nrmse", "NRMSE", 3))
_SHOWN += (("failed_samples", "failed samples", 1),)
_CSS = (
    "<style>table{border-collapse:collapse;font:13px sans-serif}"
    "td,th{padding:2px 8px;text-align:right}tr:nth-child(even){background:#f2f2f2}</style>"
)


def _first_cases(frame: pd.DataFrame) -> pd.DataFrame:
    """The reconstructions of the first pattern, noise and seed: what galleries show."""
    first = {name: sorted(frame[name].unique())[0] for name in ("pattern", "noise", "seed")}
    chosen = np.logical_and.reduce([frame[name] == value for name, value in first.items()])
    return frame[chosen]


def gallery_rows(frame: pd.DataFrame) -> list:
    """Ground truth and every method, per object and number of apertures (first seed)."""
    rows = []
    cases = _first_cases(frame)
    for (obj, n), case in cases.groupby(["object", "n_samples"], sort=True):
        data = load_measurements(case["measurements"].iloc[0])
        tiles = [("ground truth", _crop(data.ground_truth, data.obj_size))]
        for algorithm in figures.ordered(case["algorithm"]):
            record = case[case["algorithm"] == algorithm].iloc[0]
            image = load_reconstruction(record["reconstruction"])["reconstruction"]
            title = f"{figures.label(algorithm)}\nSSIM {record['ssim']:.3f}"
            tiles.append((title, _crop(image, data.obj_size)))
        rows.append((f"{obj}\n{n} apertures", tiles))  # two lines: fits beside a tile
    return rows


def coverage_maps(frame: pd.DataFrame) -> list:
    """The k-space coverage of every pattern and number of apertures (first object, seed)."""
    cases = _first_cases(frame)
    cases = cases[cases["object"] == sorted(cases["object"].unique())[0]]
    maps = []
    for (pattern, n), case in cases.groupby(["pattern", "n_samples"], sort=True):
        data = load_measurements(case["measurements"].iloc[0])
        maps.append((f"{pattern}, {n} apertures", coverage(data).numpy()))
    return maps


def learning_curves(frame: pd.DataFrame) -> list:
    """Per-sample histories (an ``index`` column: PRISM's), per object and aperture count.

    The first seed's; a method whose history is not per sample (a classical solver's is per
    sweep or per weight) has no learning curve here.
    """
    cases = _first_cases(frame)
    curves = []
    for (obj, n), case in cases.groupby(["object", "n_samples"], sort=True):
        for algorithm in figures.ordered(case["algorithm"]):
            path = case[case["algorithm"] == algorithm]["reconstruction"].iloc[0]
            history = load_reconstruction(path)["history"]
            if "index" in history:
                curves.append((f"{obj}, {n} apertures", algorithm, history))
    return curves


def _crop(image, obj_size: int) -> np.ndarray:
    return crop_object(image.abs(), obj_size).clamp(0, 1).numpy()


def write_tracked_scores(metrics_paths, out_json, out_curve_csv) -> None:
    """The study's headline scores for DVC: metrics per algorithm, SSIM/PSNR curves.

    ``out_json`` holds each algorithm's SSIM, PSNR and NRMSE averaged over every
    reconstruction of the study; ``out_curve_csv`` their means per number of apertures.
    Wall times are left out so that a rerun of the same study gives identical files.
    """
    frame = read_metrics(metrics_paths)
    quality = ["ssim", "psnr", "nrmse"]
    overall = frame.groupby("algorithm", sort=True)[quality].mean()
    write_json({name: row.round(6).to_dict() for name, row in overall.iterrows()}, out_json)
    curves = frame.groupby(["algorithm", "n_samples"], sort=True)[quality].mean().reset_index()
    _write_table(curves, Path(out_curve_csv))
