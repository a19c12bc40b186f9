"""The telescope as one linear field operator, and its intensity measurement.

Conventions: an ``N x N`` grid with DC at index ``N // 2`` on each axis;
positions are ``[y, x]`` in k-space pixels from DC. ``F(u) = fftshift(fft2(ifftshift(u)))``
with ``norm="ortho"``, and ``F^-1`` likewise. These two functions are the project's only FFT
pair.

The field seen through a sub-aperture centred at ``c`` is ``A_c x = F^-1(M_c F(x))`` with
``M_c`` a disc of diameter ``sample_diameter`` truncated at the grid edge. A point
measurement is ``|A_c x|^2``; a line measurement is the mean of the point measurements
over the line's points.
"""

from __future__ import annotations

import torch

_DIMS = (-2, -1)
_MAX_FIELDS_PER_CHUNK = 2**24  # complex elements held at once while measuring
_MASKS_PER_CHUNK = 64  # discs held at once while building a union mask


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2-D FFT over the last two dimensions.

    Parameters
    ----------
    x : torch.Tensor
        Real or complex tensor of shape ``[..., N, N]`` in object space.

    Returns
    -------
    torch.Tensor
        Complex spectrum ``[..., N, N]`` with DC at index ``N // 2``.
    """
    shifted = torch.fft.ifftshift(x, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.fft2(shifted, norm="ortho"), dim=_DIMS)


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal inverse 2-D FFT, the inverse of :func:`fft2c`.

    Parameters
    ----------
    k : torch.Tensor
        Complex spectrum ``[..., N, N]`` with DC at index ``N // 2``.

    Returns
    -------
    torch.Tensor
        Complex field ``[..., N, N]`` in object space.
    """
    shifted = torch.fft.ifftshift(k, dim=_DIMS)
    return torch.fft.fftshift(torch.fft.ifft2(shifted, norm="ortho"), dim=_DIMS)


def power(field: torch.Tensor) -> torch.Tensor:
    """Intensity ``|u|^2`` of a complex field, smooth everywhere (also at ``u = 0``)."""
    return field.real.square() + field.imag.square()


def amplitude(intensity: torch.Tensor) -> torch.Tensor:
    """Amplitude ``sqrt(max(I, 0))`` of an intensity, with a finite gradient.

    Parameters
    ----------
    intensity : torch.Tensor
        Real intensities of any shape (noisy data may be negative).

    Returns
    -------
    torch.Tensor
        Real amplitudes of the same shape.
    """
    return torch.sqrt(intensity.clamp_min(1e-12))


class Telescope:
    """Sub-aperture field operator on an ``N x N`` pupil grid.

    Parameters
    ----------
    image_size : int
        Grid size ``N`` in pixels (object and pupil planes alike).
    sample_diameter : float
        Diameter of one sub-aperture disc in k-space pixels, in ``(0, image_size]``.
    """

    def __init__(self, image_size: int, *, sample_diameter: float) -> None:
        if not isinstance(image_size, int) or image_size < 2:
            raise ValueError(f"`image_size` must be an integer >= 2, got {image_size!r}")
        if not 0 < sample_diameter <= image_size:
            raise ValueError(
                f"`sample_diameter` must be in (0, image_size={image_size}], "
                f"got {sample_diameter!r}"
            )
        self.image_size = image_size
        self.sample_diameter = float(sample_diameter)
        offsets = torch.arange(image_size, dtype=torch.float32) - image_size // 2
        self._ky = offsets.view(1, -1, 1)
        self._kx = offsets.view(1, 1, -1)

    def masks(self, points: torch.Tensor) -> torch.Tensor:
        """Disc masks centred at the given k-space points.

        Parameters
        ----------
        points : torch.Tensor
            Aperture centres ``[m, 2]`` as ``[y, x]`` k-space pixels from DC.

        Returns
        -------
        torch.Tensor
            Float32 masks ``[m, N, N]`` (1 inside a disc, 0 outside; never wrapped).
        """
        points = _as_points(points).to(self._ky.device)
        dy = self._ky - points[:, 0].view(-1, 1, 1)
        dx = self._kx - points[:, 1].view(-1, 1, 1)
        radius = self.sample_diameter / 2
        return (dy.square() + dx.square() <= radius**2).to(torch.float32)

    def union_mask(self, points: torch.Tensor) -> torch.Tensor:
        """Union of the discs at ``points`` ``[..., 2]`` as a bool ``[N, N]`` mask."""
        size = self.image_size
        union = torch.zeros(size, size, dtype=torch.bool, device=self._ky.device)
        for chunk in points.reshape(-1, 2).split(_MASKS_PER_CHUNK):
            if len(chunk):  # no points: an empty union
                union |= self.masks(chunk).amax(dim=0) > 0
        return union

    def project(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Field of ``x`` through an arbitrary k-space mask, ``F^-1(F(x) * mask)``.

        Parameters
        ----------
        x : torch.Tensor
            Object ``[..., N, N]``.
        mask : torch.Tensor
            Real ``[N, N]`` k-space mask (e.g. a cumulative mask as float).

        Returns
        -------
        torch.Tensor
            Complex field ``[..., N, N]``.
        """
        return ifft2c(fft2c(x) * mask.to(x.device))

    def forward(self, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Fields through each aperture: ``A_c x`` for every ``c`` in ``points``.

        Parameters
        ----------
        x : torch.Tensor
            Object ``[..., N, N]``, real or complex.
        points : torch.Tensor
            Aperture centres ``[m, 2]``.

        Returns
        -------
        torch.Tensor
            Complex fields ``[..., m, N, N]``.
        """
        spectrum = fft2c(x).unsqueeze(-3)
        return ifft2c(spectrum * self.masks(points).to(x.device))

    def adjoint(self, fields: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Adjoint of :meth:`forward`: ``sum_c A_c^H y_c``.

        Parameters
        ----------
        fields : torch.Tensor
            Complex fields ``[..., m, N, N]``.
        points : torch.Tensor
            Aperture centres ``[m, 2]``, the same as in :meth:`forward`.

        Returns
        -------
        torch.Tensor
            Complex object-space tensor ``[..., N, N]``.
        """
        masked = fft2c(fields) * self.masks(points).to(fields.device)
        return ifft2c(masked.sum(dim=-3))

    def intensity(self, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Intensity measurements, one per sample, each the mean over the sample's points.

        Parameters
        ----------
        x : torch.Tensor
            Object ``[..., N, N]``.
        points : torch.Tensor
            Measurement points ``[n, s, 2]``: ``s == 1`` for point measurements, ``s`` points
            evenly spaced on the segment for line measurements (see
            :func:`prism.core.sampling.line_points`).

        Returns
        -------
        torch.Tensor
            Real intensities ``[..., n, N, N]``, ``mean_p |A_p x|^2`` over each sample's points.
        """
        if points.ndim != 3 or points.shape[-1] != 2:
            raise ValueError(f"`points` must have shape [n, s, 2], got {tuple(points.shape)}")
        n, s, _ = points.shape
        spectrum = fft2c(x).unsqueeze(-3)
        per_chunk = max(1, _MAX_FIELDS_PER_CHUNK // (s * self.image_size**2))
        chunks = []
        for start in range(0, n, per_chunk):
            chunk = points[start : start + per_chunk].reshape(-1, 2)
            fields = ifft2c(spectrum * self.masks(chunk).to(x.device))
            chunks.append(power(fields).unflatten(-3, (-1, s)).mean(dim=-3))
        return torch.cat(chunks, dim=-3)


def _as_points(points: torch.Tensor) -> torch.Tensor:
    if points.ndim != 2 or points.shape[-1] != 2:
        raise ValueError(f"`points` must have shape [m, 2], got {tuple(points.shape)}")
    return points.to(torch.float32)
