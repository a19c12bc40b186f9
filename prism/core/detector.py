"""Sub-aperture measurements on a small detector grid: the fast form of the telescope.

The field behind an aperture of diameter ``d`` is band-limited: its spectrum lives in a
``w x w`` window (``w = ceil(d) + 1``) around the aperture centre, so its intensity has
spectral support of width ``2w - 1`` and is sampled without loss on a detector of
``m = 2w`` pixels per side (``m >= 2d``), spaced ``N / m`` object pixels apart, the way a
camera behind one aperture records it. This module computes exactly that:

1. the object's spectrum in every aperture window, by a matrix Fourier transform over the
   object square (``E_rows x E_cols^T``; no ``N x N`` array), shared by all apertures of a
   step;
2. the window times the aperture disc (sub-pixel centre, truncated at the grid edge);
3. a centred orthonormal ``m x m`` inverse FFT of the zero-padded window.

Scale: the transform is orthonormal on both grids, so a detector image holds the same
energy as the full-grid one, ``sum I_det = sum I_full``; at the detector pixels
``I_full(j * N / m) = (m / N)^2 * I_det(j)``. Global linear phases of the field are dropped
(they do not change intensities).

``Detector(..., full_grid=True)`` is the reference discretisation: one window covering the
whole ``N x N`` spectrum, computed with the FFT, and ``m = N``; it reproduces
:meth:`prism.core.optics.Telescope.intensity` and serves the tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from prism.core.grid import crop_object, pad_to_grid
from prism.core.optics import Telescope, amplitude, fft2c, ifft2c, power


@dataclass(frozen=True)
class Windows:
    """Aperture windows of a set of measurement points, built once and reused every step.

    Attributes
    ----------
    rows, cols : torch.Tensor
        Int64 ``[P, w]`` spectrum indices of each window (clamped into the grid; the mask is 0
        where a window leaves it).
    masks : torch.Tensor
        Float32 ``[P, w, w]`` aperture discs on the windows.
    row_matrix : torch.Tensor
        Complex64 ``[R, obj]``: the transform rows of every distinct window row.
    row_index : torch.Tensor
        Int64 ``[P, w]``: where each window's rows sit in ``row_matrix``.
    col_matrix : torch.Tensor
        Complex64 ``[P, obj, w]``: each window's transform columns, transposed.
    points_per_sample : int
        Points averaged into one measurement (``s``; the ``P`` points are ``n`` samples of
        ``s`` consecutive points).
    """

    rows: torch.Tensor
    cols: torch.Tensor
    masks: torch.Tensor
    row_matrix: torch.Tensor
    row_index: torch.Tensor
    col_matrix: torch.Tensor
    points_per_sample: int

    @property
    def n_samples(self) -> int:
        """Number of measurements ``n = P / s``."""
        return len(self.rows) // self.points_per_sample

    def to(self, device: torch.device | str) -> Windows:
        """The same windows with every tensor on ``device``."""
        moved = {
            field.name: getattr(self, field.name).to(device)
            for field in dataclasses.fields(self)
            if field.name != "points_per_sample"
        }
        return Windows(**moved, points_per_sample=self.points_per_sample)


def concat_windows(parts: list[Windows]) -> Windows:
    """Join window sets of the same ``points_per_sample`` into one (one transform per step)."""
    offsets = torch.cumsum(torch.tensor([0] + [len(p.row_matrix) for p in parts[:-1]]), 0)
    return Windows(
        rows=torch.cat([p.rows for p in parts]),
        cols=torch.cat([p.cols for p in parts]),
        masks=torch.cat([p.masks for p in parts]),
        row_matrix=torch.cat([p.row_matrix for p in parts]),
        row_index=torch.cat([p.row_index + int(o) for p, o in zip(parts, offsets, strict=True)]),
        col_matrix=torch.cat([p.col_matrix for p in parts]),
        points_per_sample=parts[0].points_per_sample,
    )


class Detector:
    """Sub-aperture intensities on an ``m x m`` detector per aperture, from the object square.

    Parameters
    ----------
    telescope : Telescope
        Grid size and aperture diameter.
    obj_size : int
        Width of the object square (the only pixels that can be non-zero).
    full_grid : bool
        False: windows of ``w = ceil(d) + 1`` pixels and a detector of ``m = 2w`` (the fast
        default). True: the reference, one ``N x N`` window and ``m = N``.
    """

    def __init__(self, telescope: Telescope, obj_size: int, *, full_grid: bool = False) -> None:
        size = telescope.image_size
        if not isinstance(obj_size, int) or not 1 <= obj_size <= size:
            raise ValueError(f"`obj_size` must be an integer in [1, {size}], got {obj_size!r}")
        self.telescope = telescope
        self.obj_size = obj_size
        self.full_grid = full_grid
        self.window = size if full_grid else math.ceil(telescope.sample_diameter) + 1
        self.size = size if full_grid else 2 * self.window
        self._transform = _transform_matrix(size, obj_size)

    def windows(self, points: torch.Tensor) -> Windows:
        """Windows, masks and transform matrices of measurement points ``[n, s, 2]``."""
        if points.ndim != 3 or points.shape[-1] != 2:
            raise ValueError(f"`points` must have shape [n, s, 2], got {tuple(points.shape)}")
        flat = points.reshape(-1, 2).to(torch.float64)
        grid = self.telescope.image_size
        if self.full_grid:
            start = torch.zeros_like(flat, dtype=torch.int64)
        else:
            start = torch.floor(flat - self.telescope.sample_diameter / 2).to(torch.int64)
            start = start + grid // 2
        index = start.unsqueeze(-1) + torch.arange(self.window)  # [P, 2, w]
        # the same float32 arithmetic as Telescope.masks, so both discretisations share discs
        freq = (index - grid // 2).to(torch.float32) - flat.to(torch.float32).unsqueeze(-1)
        disc = freq[:, 0, :, None].square() + freq[:, 1, None, :].square()
        masks = disc <= (self.telescope.sample_diameter / 2) ** 2
        return self._build(index, masks, points.shape[1])

    def region(self, mask: torch.Tensor) -> tuple[Windows, int]:
        """One window around an arbitrary k-space mask (e.g. a cumulative mask).

        Parameters
        ----------
        mask : torch.Tensor
            Bool ``[N, N]`` mask, not empty.

        Returns
        -------
        tuple
            ``(windows, size)``: a square window over the mask's bounding box (side ``B``)
            and the detector size that samples its field: ``B`` rounded up to even, at most
            ``N`` (``N`` for the full-grid detector). A field with ``B`` frequencies per
            axis is represented exactly by ``B`` samples; amplitudes (not band-limited)
            are compared on those samples.
        """
        grid = self.telescope.image_size
        if self.full_grid:
            start, side = torch.zeros(1, 2, dtype=torch.int64), grid
        else:
            occupied = [torch.nonzero(mask.any(dim=axis)).flatten() for axis in (1, 0)]
            first = torch.stack([found[0] for found in occupied])
            side = int(max(found[-1] - found[0] + 1 for found in occupied))
            start = first.view(1, 2)
        index = start.unsqueeze(-1) + torch.arange(side)
        clamped = index.clamp(0, grid - 1)
        inside = mask[clamped[0, 0, :, None], clamped[0, 1, None, :]].unsqueeze(0)
        return self._build(index, inside, 1), min(side + side % 2, grid)

    def _build(self, index: torch.Tensor, masks: torch.Tensor, points_per_sample: int) -> Windows:
        """Windows from start-based indices ``[P, 2, w]`` and masks ``[P, w, w]``."""
        grid = self.telescope.image_size
        inside = (index >= 0) & (index < grid)
        masks = masks & inside[:, 0, :, None] & inside[:, 1, None, :]
        index = index.clamp(0, grid - 1)
        rows, cols = index[:, 0], index[:, 1]
        unique_rows, row_index = torch.unique(rows, return_inverse=True)
        if self.full_grid:  # the FFT computes the spectrum; no transform matrices
            row_matrix, col_matrix = self._transform[:0], self._transform[:0, None]
        else:
            row_matrix, col_matrix = self._transform[unique_rows], self._transform[cols]
        return Windows(
            rows=rows,
            cols=cols,
            masks=masks.to(torch.float32),
            row_matrix=row_matrix,
            row_index=row_index,
            col_matrix=col_matrix.transpose(-1, -2),
            points_per_sample=points_per_sample,
        )

    def exit_spectra(self, x: torch.Tensor, windows: Windows) -> torch.Tensor:
        """The object's spectrum times each aperture, on the windows: complex ``[P, w, w]``.

        ``x`` is the object square ``[obj, obj]`` (real or complex).
        """
        x = x.reshape(self.obj_size, self.obj_size).to(torch.complex64)
        if self.full_grid:
            spectrum = fft2c(pad_to_grid(x, self.telescope.image_size))
            return spectrum * windows.masks
        rows = (windows.row_matrix.to(x.device) @ x)[windows.row_index.to(x.device)]
        return (rows @ windows.col_matrix.to(x.device)) * windows.masks.to(x.device)

    def fields(self, spectra: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """Detector fields ``[..., m, m]`` of window spectra ``[..., w, w]`` (zero-padded).

        ``size`` is the detector side ``m`` (default: this detector's; see :meth:`region`).
        """
        return ifft2c(pad_to_grid(spectra, self.size if size is None else size))

    def window_spectra(self, fields: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`fields` (spectra of detector fields, cropped to the windows)."""
        return crop_object(fft2c(fields), self.window)

    def intensity(self, x: torch.Tensor, windows: Windows) -> torch.Tensor:
        """Detector intensities ``[n, m, m]``, each the mean over its sample's points.

        Parameters
        ----------
        x : torch.Tensor
            Object square ``[obj, obj]``.
        windows : Windows
            From :meth:`windows` for points ``[n, s, 2]``.
        """
        fields = self.fields(self.exit_spectra(x, windows))
        return power(fields).unflatten(0, (-1, windows.points_per_sample)).mean(dim=1)

    def amplitude_image(self, intensity: torch.Tensor) -> torch.Tensor:
        """The amplitude a detector image implies on the ``N x N`` object grid.

        Intensities are band-limited, so placing the image's spectrum at DC of the grid's
        spectrum interpolates them exactly; the result is scaled to grid intensities
        (``(m / N)^2`` per pixel, as in the module notes) and its square root taken. For the
        full-grid detector this is ``sqrt(max(I, 0))``.

        Parameters
        ----------
        intensity : torch.Tensor
            One detector image ``[m, m]``.

        Returns
        -------
        torch.Tensor
            Real amplitude ``[N, N]``.
        """
        grid = self.telescope.image_size
        if self.size == grid:  # already on the grid
            return amplitude(intensity)
        spectrum = crop_object(fft2c(intensity.to(torch.complex64)), min(self.size, grid))
        on_grid = ifft2c(pad_to_grid(spectrum, grid)).real
        return amplitude(on_grid * (self.size / grid))


def _transform_matrix(grid: int, obj_size: int) -> torch.Tensor:
    """``E[k, i]``: 1-D centred orthonormal DFT from object pixel ``i`` to frequency row ``k``.

    The object square starts at ``(grid - obj_size) // 2``; the phase is reduced modulo the
    grid in integers before the complex exponential, so it stays exact for large grids.
    """
    frequency = torch.arange(grid, dtype=torch.int64) - grid // 2
    position = torch.arange(obj_size, dtype=torch.int64) + (grid - obj_size) // 2 - grid // 2
    phase = torch.remainder(frequency[:, None] * position[None, :], grid).to(torch.float64)
    matrix = torch.polar(torch.ones_like(phase), -2 * math.pi * phase / grid) / math.sqrt(grid)
    return matrix.to(torch.complex64)
