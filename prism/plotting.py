"""The live figure of a PRISM fit, outside the algorithm core (study figures: figures)."""

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
    """Redraw the live figure of a PRISM fit.

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
