"""The study's figures, at paper size, in colour-blind-safe colours.

The Okabe-Ito palette, and Paul Tol's wine (mPIE) so that no two built-in methods share one.

Every method keeps one colour and one marker in every figure. Figures are written with
fixed metadata, so a rerun of the same study writes the same bytes.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from prism.io import atomic_write  # noqa: E402
from prism.solvers import find, name_style, registry  # noqa: E402

PAPER_WIDTH_IN = 7.0  # a two-column figure
_SAVE = {"dpi": 200, "format": "png", "metadata": {"Software": None}}


def style(algorithm: str) -> tuple[str, str, str]:
    """``(colour, marker, display name)`` of an algorithm, the same in every figure.

    A registered solver's own style (:meth:`prism.solvers.Solver.style`: a variant keeps
    the fixed style its solver gives it, or gets a palette colour and marker chosen from
    its name, as a solver without colours does). A name no solver claims is still drawn,
    styled from its name.
    """
    try:
        return find(algorithm).style(algorithm)
    except ValueError:
        return (*name_style(algorithm), algorithm)


def label(algorithm: str) -> str:
    """The display name of an algorithm."""
    return style(algorithm)[2]


def ordered(algorithms) -> list[str]:
    """Algorithms in display order, none dropped.

    Methods that are neither classical nor framing references first (PRISM), then the
    classical ones, each solver in registry order with its variants of fixed style first,
    then any unregistered name, then the framing references.
    """
    solvers = list(registry().values())

    def key(algorithm: str) -> tuple:
        try:
            solver = find(algorithm)
        except ValueError:
            return (2, 0, algorithm)
        group = 3 if solver.reference else 1 if solver.classical else 0
        named = [f"{solver.name}-{variant}" for variant in solver.variant_styles]
        rank = named.index(algorithm) if algorithm in named else len(named)
        return (group, solvers.index(solver), rank, algorithm)

    return sorted(set(algorithms), key=key)


def plot_scores(frame: pd.DataFrame, out_png: str | os.PathLike) -> None:
    """SSIM and PSNR against the number of apertures: patterns side by side, a row per noise.

    The SSIM rows come first (one per noise model), then the PSNR rows, so the figure reads
    as a paper's: every method's curve, point and line patterns next to each other.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per reconstruction (``object``, ``pattern``, ``noise``, ``seed``,
        ``algorithm``, ``n_samples``, ``ssim``, ``psnr``).
    out_png : path-like
        Where the figure goes. Points are means over objects and seeds; bars are the standard
        deviation over seeds, averaged over objects.
    """
    patterns = sorted(frame["pattern"].unique())
    rows = [
        (score, noise) for score in ("ssim", "psnr") for noise in sorted(frame["noise"].unique())
    ]
    figure, axes = plt.subplots(
        len(rows),
        len(patterns),
        figsize=(PAPER_WIDTH_IN, 2.3 * len(rows) + 0.6),
        layout="constrained",
        squeeze=False,
        sharex="col",
    )
    for row, (score, noise) in enumerate(rows):
        for column, pattern in enumerate(patterns):
            case = frame[(frame["pattern"] == pattern) & (frame["noise"] == noise)]
            _score_panel(axes[row, column], case, score)
            axes[row, column].set_title(f"{pattern}, {noise}", fontsize=9)
    for axis in axes[-1]:
        axis.set_xlabel("number of apertures", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    _save(figure, out_png)


def _score_panel(axis, case: pd.DataFrame, score: str) -> None:
    for algorithm in ordered(case["algorithm"]):
        rows = case[case["algorithm"] == algorithm]
        per_object = rows.groupby(["n_samples", "object"])[score].agg(["mean", "std"])
        curve = per_object.groupby("n_samples").mean().fillna(0.0)
        colour, marker, name = style(algorithm)
        axis.errorbar(
            curve.index,
            curve["mean"],
            yerr=curve["std"],
            color=colour,
            marker=marker,
            markersize=4,
            capsize=2,
            label=name,
        )
    axis.set_xticks(sorted(case["n_samples"].unique()))
    axis.set_ylabel("SSIM" if score == "ssim" else "PSNR (dB)", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)


def plot_gallery(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], out_png) -> None:
    """Ground truth and reconstructions side by side, one row per case.

    Parameters
    ----------
    rows : list
        ``(row_label, [(tile_title, image [H, W] in [0, 1]), ...])``; every row has the same
        number of tiles.
    out_png : path-like
        Where the figure goes.
    """
    n_cols = len(rows[0][1])
    tile = PAPER_WIDTH_IN / n_cols
    figure, axes = plt.subplots(
        len(rows),
        n_cols,
        figsize=(PAPER_WIDTH_IN, tile * len(rows) * 1.15),
        layout="constrained",
        squeeze=False,
    )
    for axis_row, (row_label, tiles) in zip(axes, rows, strict=True):
        for axis, (title, image) in zip(axis_row, tiles, strict=True):
            axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axis.set_title(title, fontsize=7)
            axis.set_xticks([])
            axis.set_yticks([])
        axis_row[0].set_ylabel(row_label, fontsize=7)
    _save(figure, out_png)


def plot_coverage(masks: list[tuple[str, np.ndarray]], out_png) -> None:
    """The k-space coverage (union of the measured apertures) of each pattern.

    Parameters
    ----------
    masks : list
        ``(title, bool mask [N, N])`` per pattern and number of apertures.
    out_png : path-like
        Where the figure goes.
    """
    n_cols = min(len(masks), 4)
    n_rows = -(-len(masks) // n_cols)
    tile = PAPER_WIDTH_IN / n_cols
    figure, axes = plt.subplots(
        n_rows, n_cols, figsize=(PAPER_WIDTH_IN, tile * n_rows * 1.1), squeeze=False
    )
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, (title, mask) in zip(axes.flat, masks, strict=False):
        size = mask.shape[-1]
        extent = (-size / 2, size / 2, size / 2, -size / 2)
        axis.imshow(mask, cmap="Blues", vmin=0, vmax=1.25, extent=extent, interpolation="nearest")
        axis.set_title(f"{title}\n{mask.mean():.1%} of the pupil", fontsize=7)
        axis.set_axis_on()
        axis.tick_params(labelsize=6)
    figure.supxlabel("k_x (pixels from DC)", fontsize=8)
    figure.supylabel("k_y (pixels from DC)", fontsize=8)
    figure.set_layout_engine("constrained")
    _save(figure, out_png)


def plot_learning_curves(curves: list[tuple[str, str, dict]], out_png) -> None:
    """PRISM's per-sample learning curves: SSIM and the two losses after each sample.

    Parameters
    ----------
    curves : list
        ``(panel_title, algorithm, history)``; ``history`` maps ``index``, ``ssim``,
        ``loss_new``, ``loss_old`` to per-sample arrays. Curves sharing a title share a panel;
        with no curve the figure says so.
    out_png : path-like
        Where the figure goes.
    """
    titles = list(dict.fromkeys(title for title, _, _ in curves))
    if not titles:
        figure = plt.figure(figsize=(PAPER_WIDTH_IN, 1.0))
        figure.text(0.5, 0.5, "no PRISM reconstruction in this study", ha="center", va="center")
        _save(figure, out_png)
        return
    figure, axes = plt.subplots(
        2,
        len(titles),
        figsize=(PAPER_WIDTH_IN, 4.4),
        layout="constrained",
        squeeze=False,
        sharex="col",
    )
    for title, algorithm, history in curves:
        top, bottom = axes[:, titles.index(title)]
        colour, marker, name = style(algorithm)
        samples = np.asarray(history["index"]) + 1
        top.plot(samples, history["ssim"], color=colour, marker=marker, markersize=3, label=name)
        lone = {"marker": marker, "markersize": 3} if len(samples) == 1 else {}  # all at once
        bottom.semilogy(samples, history["loss_new"], color=colour, **lone, label=f"{name}: new")
        old = np.asarray(history["loss_old"], dtype=float)  # 0: no old term (first sample, or
        old = np.where(old > 0, old, np.nan)  # an all-at-once fit)
        bottom.semilogy(samples, old, color=colour, linestyle="--", label=f"{name}: old")
        top.set_title(title, fontsize=8)
    for top, bottom in axes.T:
        top.set_ylabel("SSIM", fontsize=8)
        bottom.set_ylabel("loss at the sample's end", fontsize=8)
        bottom.set_xlabel("apertures measured", fontsize=8)
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        for axis in (top, bottom):
            axis.tick_params(which="both", labelsize=7)
            axis.grid(alpha=0.3)
    axes[1, 0].legend(fontsize=6)
    _save(figure, out_png)


def plot_gains(table: pd.DataFrame, out_png, *, baseline: str) -> None:
    """Each method's mean SSIM difference to the baseline, per case, as an annotated heat map.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`prism.stages.report.methods_table`'s rows: ``case``, ``algorithm``,
        ``best_classical`` and ``versus_<baseline>_mean`` (the paired SSIM difference to the
        baseline, averaged over objects and seeds).
    out_png : path-like
        Where the figure goes. Purple: better than the baseline; orange: worse.
    baseline : str
        ``best`` (each case's strongest classical method, named under the case) or an
        algorithm.
    """
    gain = f"versus_{baseline}"
    reference = "the strongest classical method's" if baseline == "best" else f"{label(baseline)}'s"
    shown = table[table[f"{gain}_mean"].notna()]
    if shown.empty:
        figure = plt.figure(figsize=(PAPER_WIDTH_IN, 1.0))
        figure.text(0.5, 0.5, f"no reconstruction to compare with {reference}", ha="center")
        _save(figure, out_png)
        return
    grid = shown.pivot(index="algorithm", columns="case", values=f"{gain}_mean")
    grid = grid.loc[ordered(grid.index), list(dict.fromkeys(shown["case"]))]  # the table's order
    columns = list(grid.columns)
    if baseline == "best":
        best = shown.groupby("case")["best_classical"].first()
        columns = [f"{case}\nvs {label(best[case])}" for case in columns]
    height = 0.28 * len(grid) + 2.2
    figure, axis = plt.subplots(figsize=(PAPER_WIDTH_IN, height), layout="constrained")
    limit = max(float(np.nanmax(np.abs(grid.to_numpy()))), 0.05)
    image = axis.imshow(grid.to_numpy(), cmap="PuOr", vmin=-limit, vmax=limit, aspect="auto")
    for (row, col), value in np.ndenumerate(grid.to_numpy()):
        if np.isfinite(value):
            axis.text(col, row, f"{value:+.2f}", ha="center", va="center", fontsize=6)
    axis.set_xticks(range(grid.shape[1]), columns, rotation=30, ha="right", fontsize=6)
    axis.set_yticks(range(grid.shape[0]), [label(name) for name in grid.index], fontsize=7)
    colourbar = figure.colorbar(image, ax=axis, shrink=0.8)
    colourbar.set_label(f"SSIM minus\n{reference}", fontsize=7)
    colourbar.ax.tick_params(labelsize=6)
    _save(figure, out_png)


def _save(figure, out_png) -> None:
    atomic_write(out_png, lambda tmp: figure.savefig(tmp, **_SAVE))
    plt.close(figure)
