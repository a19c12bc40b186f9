"""From an image and a physical set-up to the measured intensities.

The object is a real, non-negative amplitude: the square root of the min-max normalised grey
image, resized to ``obj_size`` and zero-padded into the ``N x N`` grid at offset
``(N - obj_size) // 2``. Noise acts on intensities and is drawn from an explicit generator.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from skimage.color import rgb2gray, rgba2rgb
from skimage.transform import resize

from prism.config import PhysicsConfig
from prism.core.detector import Detector
from prism.core.grid import crop_object, pad_to_grid
from prism.core.sampling import line_points

_MAX_FIELDS_PER_CHUNK = 2**24  # complex elements held at once (the full-grid reference's fields)


@dataclass(frozen=True)
class Geometry:
    """Grid sizes of one set-up, derived from physics or given explicitly.

    Attributes
    ----------
    obj_size : int
        Object width in object-plane pixels.
    sample_diameter : float
        Sub-aperture diameter in k-space (pupil) pixels.
    dx : float or None
        Object-plane pixel in metres (None when nothing physical was given).
    """

    obj_size: int
    sample_diameter: float
    dx: float | None = None


def derive_geometry(
    image_size: int,
    *,
    wavelength: float | None = None,
    distance: float | None = None,
    obj_diameter: float | None = None,
    dxf: float | None = None,
    obj_size: int | None = None,
    sample_diameter: float | None = None,
) -> Geometry:
    """Derive ``obj_size`` and ``sample_diameter`` from the physics; explicit values win.

    The object pixel is ``dx = wavelength * distance / (dxf * N)``, so ``obj_size =
    round(obj_diameter / dx)``; one sub-aperture spans one coherence diameter
    ``2 * wavelength * distance / (pi * obj_diameter)``, in pupil pixels of ``dxf``.

    Parameters
    ----------
    image_size : int
        Grid size ``N``.
    wavelength, distance, obj_diameter, dxf : float, optional
        Wavelength, object distance, object diameter and pupil pixel, all in metres. All four
        are needed for any derived value.
    obj_size, sample_diameter : optional
        Explicit values; each one given replaces its derived counterpart.

    Returns
    -------
    Geometry
        The sizes used, and the object pixel ``dx`` when the physics was given.
    """
    physics = {"wavelength": wavelength, "distance": distance, "obj_diameter": obj_diameter}
    physics["dxf"] = dxf
    missing = [name for name, value in physics.items() if value is None]
    dx = None
    if len(missing) < len(physics):
        if missing:
            raise ValueError(f"physical set-up incomplete: give {', '.join(missing)} too")
        for name, value in physics.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be finite and > 0 (metres), got {value!r}")
        dx = wavelength * distance / (dxf * image_size)
        coherence_diameter = 2 * wavelength * distance / (math.pi * obj_diameter)
        obj_size = obj_size if obj_size is not None else round(obj_diameter / dx)
        if sample_diameter is None:
            sample_diameter = coherence_diameter / dxf
    if obj_size is None or sample_diameter is None:
        raise ValueError(
            "give `obj_size` and `sample_diameter` explicitly, or wavelength, distance, "
            "obj_diameter and dxf to derive them"
        )
    _check_sizes(image_size, obj_size, sample_diameter)
    return Geometry(obj_size=int(obj_size), sample_diameter=float(sample_diameter), dx=dx)


def physics_geometry(physics: PhysicsConfig) -> Geometry:
    """The sizes of a study's instrument settings (:func:`derive_geometry` of its fields)."""
    return derive_geometry(**dataclasses.asdict(physics))


def _check_sizes(image_size: int, obj_size: int, sample_diameter: float) -> None:
    if not isinstance(obj_size, int) or not 1 <= obj_size <= image_size:
        raise ValueError(f"`obj_size` must be an integer in [1, {image_size}], got {obj_size!r}")
    if not 0 < sample_diameter <= image_size:
        raise ValueError(
            f"`sample_diameter` must be in (0, {image_size}] k-space pixels, "
            f"got {sample_diameter!r}"
        )


def to_grey_square(image: np.ndarray) -> np.ndarray:
    """Convert an image to a grey, square float64 array.

    Colour (RGB or RGBA) is converted to luminance; a non-square image is centre-cropped to
    its shorter side.

    Parameters
    ----------
    image : numpy.ndarray
        ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]``, any real dtype.

    Returns
    -------
    numpy.ndarray
        Float64 ``[S, S]`` with ``S = min(H, W)``.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        image = rgb2gray(image)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(
            f"`image` must be grey [H, W] or colour [H, W, 3|4], got shape {image.shape}"
        )
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ValueError("`image` contains NaN or Inf values")
    side = min(image.shape)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def check_not_constant(image: np.ndarray) -> None:
    """Refuse an image whose values are all the same (all zero, say): nothing to reconstruct."""
    low, high = image.min(), image.max()
    if high - low <= 1e-12 * max(1.0, abs(high)):
        raise ValueError(f"`image` is constant (all values {low:g}); nothing to reconstruct")


def prepare_object(image: np.ndarray, *, obj_size: int, image_size: int) -> torch.Tensor:
    """The object amplitude of an image, padded into the ``N x N`` grid.

    Parameters
    ----------
    image : numpy.ndarray
        Any image accepted by :func:`to_grey_square`.
    obj_size : int
        Object width in pixels, in ``[1, image_size]``.
    image_size : int
        Grid size ``N``.

    Returns
    -------
    torch.Tensor
        Float32 ``[N, N]``, values in ``[0, 1]``, zero outside the object support.
    """
    _check_sizes(image_size, obj_size, image_size)
    grey = resize(to_grey_square(image), (obj_size, obj_size), anti_aliasing=True)
    check_not_constant(grey)
    low, high = grey.min(), grey.max()
    obj = torch.from_numpy(np.sqrt((grey - low) / (high - low))).to(torch.float32)
    return pad_to_grid(obj, image_size)


def add_noise(
    intensities: torch.Tensor,
    *,
    photons: float | None = None,
    snr_db: float | None = None,
    generator: torch.Generator,
) -> torch.Tensor:
    """Noisy intensities: Poisson at a photon budget, then additive Gaussian at an SNR.

    Parameters
    ----------
    intensities : torch.Tensor
        Noiseless intensities ``[n, H, W]``, one measurement per leading index.
    photons : float, optional
        Expected photon count of each measurement (its sum over pixels). The measurement is
        scaled to that budget, Poisson-sampled and scaled back, so its mean is unchanged
        and its variance is ``I * sum(I) / photons``.
    snr_db : float, optional
        Additive Gaussian noise with ``sigma = mean(I) / 10 ** (snr_db / 20)`` per
        measurement (an amplitude SNR on the mean intensity).
    generator : torch.Generator
        The only source of randomness.

    Returns
    -------
    torch.Tensor
        Float32 intensities of the same shape (may be negative with Gaussian noise).
    """
    if photons is not None and not (math.isfinite(photons) and photons > 0):
        raise ValueError(
            f"`photons` must be finite and > 0 (photons per measurement), got {photons!r}"
        )
    if snr_db is not None and not math.isfinite(snr_db):
        raise ValueError(f"`snr_db` must be a finite number of dB, got {snr_db!r}")
    noisy = intensities.to(torch.float64)
    if photons is not None:
        scale = photons / noisy.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-30)
        noisy = torch.poisson(noisy * scale, generator=generator) / scale
    if snr_db is not None:
        sigma = intensities.mean(dim=(-2, -1), keepdim=True) / 10 ** (snr_db / 20)
        noise = torch.randn(noisy.shape, generator=generator, dtype=torch.float64)
        noisy = noisy + sigma * noise
    return noisy.to(torch.float32)


def simulate_measurements(
    x: torch.Tensor,
    centers: torch.Tensor,
    *,
    detector: Detector,
    samples_per_line_meas: int = 1,
    photons: float | None = None,
    snr_db: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Simulate the measured detector intensities of every sample once.

    Parameters
    ----------
    x : torch.Tensor
        Object ``[N, N]`` (zero outside its ``obj_size`` square).
    centers : torch.Tensor
        Samples ``[n, 1, 2]`` (points) or ``[n, 2, 2]`` (lines).
    detector : Detector
        The measurement operator (detector grid ``m x m``).
    samples_per_line_meas : int
        Points per line measurement (ignored for points).
    photons, snr_db : float, optional
        Noise model, see :func:`add_noise`; both None gives noiseless data.
    seed : int
        Seed of the noise generator.

    Returns
    -------
    torch.Tensor
        Float32 intensities ``[n, m, m]``.
    """
    square = crop_object(x, detector.obj_size)
    points = line_points(centers, samples_per_line_meas)
    per_chunk = max(1, _MAX_FIELDS_PER_CHUNK // (points.shape[1] * detector.size**2))
    with torch.no_grad():
        clean = torch.cat(
            [
                detector.intensity(square, detector.windows(chunk))
                for chunk in points.split(per_chunk)
            ]
        )
    generator = torch.Generator().manual_seed(seed)
    return add_noise(clean, photons=photons, snr_db=snr_db, generator=generator)
