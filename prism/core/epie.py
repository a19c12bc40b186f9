"""Fourier-ptychography ePIE on the object spectrum, the classical baseline (DESIGN §4).

The pupil of sample ``c`` is its known aperture ``M_c``. For each sample, in order::

    Phi_p = O * M_p                      for every point p of the sample
    phi_p = F_m^-1(Phi_p)                on the detector grid (prism.core.detector)
    Psi_p = F_m(sqrt(I) * phi_p / max(rms, eps)),  rms = sqrt(mean_p |phi_p|^2)
    O    <- O + alpha * sum_p M_p (Psi_p - Phi_p) / max(sum_p M_p, 1)

Everything per sample happens on the apertures' windows and the ``m x m`` detector; only
the constraint step, once per sweep, touches the ``N x N`` grid. The initial spectrum is
the first measurement's amplitude on the grid (:meth:`Detector.amplitude_image`).

For a point (one p) this is the textbook update ``O + alpha conj(M)/max|M|^2 (Psi - Phi)``; for
a line the amplitude correction uses the RMS over the line's points, the same incoherent model
as the data. After every sweep over the samples the object constraints are applied in object
space: support, real, non-negative (non-negative implies real).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prism.config import EPIEConfig
from prism.core.detector import Detector
from prism.core.optics import amplitude, fft2c, ifft2c, power
from prism.core.sampling import line_points
from prism.core.simulation import support_mask
from prism.metrics import crop_object, evaluate

_EPS = 1e-12


@dataclass
class EPIEResult:
    """Outcome of :func:`run_epie`.

    Attributes
    ----------
    reconstruction : torch.Tensor
        Complex64 object estimate ``[N, N]`` (real-valued when constrained to be real).
    history : list of dict
        One record per epoch: ``epoch``, ``data_error`` (relative squared amplitude error over
        every sample, measured during the sweep) and, with a ground truth, ``ssim``, ``psnr``,
        ``nrmse`` from :func:`prism.metrics.evaluate`.
    """

    reconstruction: torch.Tensor
    history: list[dict]


def run_epie(
    intensities: torch.Tensor,
    centers: torch.Tensor,
    *,
    detector: Detector,
    samples_per_line_meas: int,
    config: EPIEConfig,
    image_gt: torch.Tensor | None = None,
    writer=None,
) -> EPIEResult:
    """Reconstruct the object from measured intensities with ePIE.

    Parameters
    ----------
    intensities : torch.Tensor
        Measured detector intensities ``[n, m, m]`` (the same arrays PRISM reads).
    centers : torch.Tensor
        Samples ``[n, 1, 2]`` (points) or ``[n, 2, 2]`` (lines).
    detector : Detector
        The measurement operator the data were simulated with; its ``obj_size`` sets the
        support constraint and the metrics' crop.
    samples_per_line_meas : int
        Points per line measurement.
    config : EPIEConfig
        Epochs, step size, constraints and sample order.
    image_gt : torch.Tensor, optional
        Ground truth ``[N, N]`` for per-epoch metrics.
    writer : object, optional
        Anything with ``add_scalar(tag, value, step)`` and ``add_image(tag, chw, step)``;
        step is the epoch; the reconstruction image is logged after the last epoch.

    Returns
    -------
    EPIEResult
        The reconstruction and the per-epoch history.
    """
    points = line_points(centers, samples_per_line_meas)
    size = detector.size
    if intensities.shape != (len(points), size, size):
        raise ValueError(
            f"`intensities` must hold one [{size}, {size}] detector image per sample "
            f"({len(points)}), got shape {tuple(intensities.shape)}"
        )
    measured = amplitude(intensities.to(torch.float32))
    samples = [_SampleWindows.build(detector, sample[None]) for sample in points]
    spectrum = fft2c(detector.amplitude_image(intensities[0]).to(torch.complex64))
    grid, obj_size = detector.telescope.image_size, detector.obj_size
    support = support_mask(obj_size, grid)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(config.epochs):
        order = _order(len(points), config.random_order, generator)
        error = _sweep(spectrum, detector, samples, measured, order, config.alpha)
        estimate = _constrain(ifft2c(spectrum), support, config)
        spectrum = fft2c(estimate)
        record = {"epoch": epoch, "data_error": error}
        if image_gt is not None:
            record |= evaluate(estimate, image_gt, obj_size=obj_size).as_dict()
        history.append(record)
        last = epoch == config.epochs - 1
        _log(writer, record, crop_object(estimate.abs(), obj_size) if last else None)
    return EPIEResult(reconstruction=estimate, history=history)


@dataclass(frozen=True)
class _SampleWindows:
    """One sample's windows and its update weights ``M_p / max(sum_p M_p, 1)``."""

    rows: torch.Tensor
    cols: torch.Tensor
    masks: torch.Tensor
    weights: torch.Tensor

    @classmethod
    def build(cls, detector: Detector, points: torch.Tensor) -> _SampleWindows:
        windows = detector.windows(points)
        rows, cols = windows.rows[:, :, None], windows.cols[:, None, :]
        grid = detector.telescope.image_size
        coverage = torch.zeros(grid, grid).index_put_((rows, cols), windows.masks, accumulate=True)
        weights = windows.masks / coverage[rows, cols].clamp_min(1)
        return cls(rows=rows, cols=cols, masks=windows.masks, weights=weights)


def _order(n: int, random_order: bool, generator: torch.Generator) -> list[int]:
    if random_order:
        return torch.randperm(n, generator=generator).tolist()
    return list(range(n))


def _sweep(spectrum, detector, samples, measured, order, alpha) -> float:
    """Update ``spectrum`` in place, sample by sample; returns the relative data error."""
    residual, total = 0.0, 0.0
    for index in order:
        sample = samples[index]
        exit_spectra = spectrum[sample.rows, sample.cols] * sample.masks
        fields = detector.fields(exit_spectra)
        rms = torch.sqrt(power(fields).mean(dim=0))
        residual += (rms - measured[index]).square().sum().item()
        total += measured[index].square().sum().item()
        corrected = detector.window_spectra(fields * (measured[index] / rms.clamp_min(_EPS)))
        update = alpha * sample.weights * (corrected - exit_spectra)
        spectrum.index_put_((sample.rows, sample.cols), update, accumulate=True)
    return residual / max(total, _EPS)


def _constrain(x: torch.Tensor, support: torch.Tensor, config: EPIEConfig) -> torch.Tensor:
    if config.support:
        x = x * support
    if config.nonnegative:
        return x.real.clamp_min(0).to(x.dtype)
    if config.real:
        return x.real.to(x.dtype)
    return x


def _log(writer, record: dict, image: torch.Tensor | None) -> None:
    if writer is None:
        return
    for tag, value in record.items():
        if tag != "epoch":
            writer.add_scalar(tag, value, record["epoch"])
    if image is not None:
        writer.add_image("reconstruction", image.clamp(0, 1)[None], record["epoch"])
