"""Matplotlib figures of a run (outside the algorithm core)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def new_live_figure() -> plt.Figure:
    """An empty figure for :func:`update_figure` (reconstruction, coverage, losses)."""
    figure, _ = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
    return figure


def update_figure(figure, reconstruction, cum_mask, history):
    """Redraw the live figure of a progressive run.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure from :func:`new_live_figure`.
    reconstruction : torch.Tensor
        Current estimate ``[..., N, N]``.
    cum_mask : torch.Tensor
        Bool ``[N, N]`` union of the measured apertures.
    history : list of dict
        Per-sample records with ``loss_old``, ``loss_new`` (and ``ssim`` when known).

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, redrawn.
    """
    image_axis, mask_axis, loss_axis = figure.axes
    for axis in figure.axes:
        axis.clear()
    image = reconstruction.detach().reshape(reconstruction.shape[-2:]).abs().cpu()
    image_axis.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
    image_axis.set_title("reconstruction")
    mask_axis.imshow(cum_mask.to(torch.uint8).cpu().numpy(), cmap="viridis")
    mask_axis.set_title("k-space coverage")
    if history:
        samples = [record["index"] for record in history]
        loss_axis.semilogy(samples, [record["loss_new"] for record in history], label="new")
        old = [max(record["loss_old"], 1e-12) for record in history]
        loss_axis.semilogy(samples, old, label="old")
        loss_axis.set_xlabel("sample")
        loss_axis.legend()
    loss_axis.set_title("losses")
    return figure


def plot_scores(table, out_png) -> None:
    """SSIM and PSNR (mean +- std over seeds) against the number of apertures, per method.

    Parameters
    ----------
    table : pandas.DataFrame
        The study summary (columns ``algorithm``, ``n_samples``, ``ssim_mean``, ...).
    out_png : path-like
        Where the figure goes (written atomically).
    """
    from prism.io import atomic_write

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for axis, score in zip(axes, ("ssim", "psnr"), strict=True):
        for algorithm, rows in table.groupby("algorithm", sort=True):
            means = rows.groupby("n_samples")[f"{score}_mean"].mean()
            spread = rows.groupby("n_samples")[f"{score}_std"].mean().fillna(0)
            axis.errorbar(means.index, means, yerr=spread, marker="o", capsize=3, label=algorithm)
        axis.set_xlabel("number of apertures")
        axis.set_ylabel(score.upper() if score == "ssim" else "PSNR (dB)")
        axis.grid(alpha=0.3)
    axes[0].legend()
    atomic_write(out_png, lambda tmp: figure.savefig(tmp, dpi=150, format="png"))
    plt.close(figure)
