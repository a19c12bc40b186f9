"""Data stages: prepare an object from an image, simulate its measurements once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import PIL.Image
import skimage.data
import skimage.io
import tifffile
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.core.experiment import measure
from prism.core.operator import MeasurementSet
from prism.core.simulation import physics_geometry, prepare_object
from prism.io import file_sha256, load_arrays, save_arrays, save_measurements
from prism.targets import resolution_target

BUILTIN_IMAGES = (
    "moon",
    "camera",
    "astronaut",
    "coins",
    "brick",
    "grass",
    "hubble_deep_field",
    "target",
)
FITS_SUFFIXES = (".fits", ".fit", ".fts")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", *FITS_SUFFIXES)
# The most pixels an image file may hold: a prepared object is resized to at most the grid, so
# a larger file only costs memory (a 10^9-pixel TIFF would be read whole before that).
MAX_PIXELS = 8192 * 8192


def image_file(name: str, folder: str | os.PathLike = "data/raw") -> Path | None:
    """The user's image for an object name: the one file ``<folder>/<name>.<suffix>``, or None.

    Only a file whose name is exactly ``<name>`` plus one suffix counts (``m51.old.png`` is
    not ``m51``). Without one the object is a scikit-image built-in of that name
    (:func:`read_image`).

    Raises
    ------
    ValueError
        When several files are named so (listing them), when the one there has a suffix
        other than :data:`IMAGE_SUFFIXES`, is not a readable image or holds more than
        :data:`MAX_PIXELS` pixels (read from its header, :func:`image_shape`), or when only
        its DVC pointer is there (not pulled).
    """
    folder = Path(folder)
    found = sorted(path for path in folder.glob("*") if path.stem == name and path.is_file())
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise ValueError(f"object {name!r} has several image files in {folder}: {names}; keep one")
    if found:
        if found[0].suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(
                f"{found[0]}: images with the suffix {found[0].suffix!r} are not read; "
                f"supported: {', '.join(IMAGE_SUFFIXES)} (convert it, e.g. to .tif)"
            )
        check_size(found[0])
        return found[0]
    pointers = sorted(path for path in folder.glob("*.dvc") if Path(path.stem).stem == name)
    if pointers:
        raise ValueError(
            f"{pointers[0]} is tracked by DVC but {folder / pointers[0].stem} is not here: "
            "run `dvc pull`"
        )
    return None


def prepare_source(name: str) -> str:
    """The prepare stage's ``--source`` for an object: its file in data/raw/, or its name.

    A name without a file there is a built-in image (:func:`image_file`).
    """
    found = image_file(name)
    return str(found) if found else name


def source_hash(name: str, folder: str | os.PathLike = "data/raw") -> str:
    """SHA-256 of what an object is prepared from: its image file's bytes, or a built-in's pixels.

    The workflow reruns an object's preparation when this changes, whatever the file's
    modification time (a replaced image copied with its old timestamp is still new).
    """
    found = image_file(name, folder)
    if found is not None:
        return file_sha256(found)
    image = read_image(name)
    header = f"{image.dtype.str} {image.shape}".encode()
    return hashlib.sha256(header + np.ascontiguousarray(image).tobytes()).hexdigest()


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, read from its header (no pixel is decoded).

    Raises
    ------
    ValueError
        When the file is not a readable image.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in FITS_SUFFIXES:
            from astropy.io import fits  # only for FITS files

            with fits.open(path) as hdus:
                shape = _fits_image(hdus, path).shape
            return shape[-2], shape[-1]
        if suffix in (".tif", ".tiff"):
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return page.imagelength, page.imagewidth
        with PIL.Image.open(path) as image:
            width, height = image.size
            return height, width
    except PIL.Image.DecompressionBombError as error:
        raise ValueError(f"{path} is too large ({error})") from error
    except Exception as error:  # each reader raises its own types for broken files
        raise ValueError(f"{path} is not a readable image ({error})") from error


def check_size(path: str | os.PathLike) -> None:
    """Refuse an image file of more than :data:`MAX_PIXELS` pixels, before reading it."""
    height, width = image_shape(path)
    if height * width > MAX_PIXELS:
        raise ValueError(
            f"{path} has {height} x {width} = {height * width} pixels; at most {MAX_PIXELS} "
            f"(8192 x 8192) are read: a prepared object is resized to the grid anyway, so "
            f"downsample the image first"
        )


def read_image(source: str | os.PathLike) -> np.ndarray:
    """Read an image file, or a built-in by name: scikit-image's, or ``target`` (no downloads).

    A FITS file gives its first HDU holding an image (one 2-D plane, after dropping axes of
    length 1), flipped so that its first row is at the top, as FITS viewers show it; blank
    (NaN) pixels take the darkest finite value.

    Raises
    ------
    ValueError
        When the source is neither a readable image file nor a built-in name, or holds more
        than :data:`MAX_PIXELS` pixels.
    """
    path = Path(source)
    if path.suffix:
        if not path.is_file():
            raise ValueError(f"image {path} does not exist")
        check_size(path)
        if path.suffix.lower() in FITS_SUFFIXES:
            return _read_fits(path)
        try:
            return skimage.io.imread(path)
        except Exception as error:  # imageio raises many types for broken files
            raise ValueError(f"{path} is not a readable image ({error})") from error
    if str(source) not in BUILTIN_IMAGES:
        raise ValueError(
            f"object {source!r} is neither an image file nor a built-in image "
            f"({', '.join(BUILTIN_IMAGES)}); drop a file in data/raw/ to use your own"
        )
    if str(source) == "target":
        return resolution_target()
    return getattr(skimage.data, str(source))()


def _fits_image(hdus, path: Path):
    """The first HDU of a FITS file that holds an image (at least two axes)."""
    for hdu in hdus:
        if hdu.header.get("NAXIS", 0) >= 2:
            return hdu
    raise ValueError(f"{path} holds no image (no HDU with two or more axes)")


def _read_fits(path: Path) -> np.ndarray:
    from astropy.io import fits  # only for FITS files

    with fits.open(path, memmap=False) as hdus:
        plane = np.squeeze(np.asarray(_fits_image(hdus, path).data, dtype=np.float64))
    if plane.ndim != 2:
        raise ValueError(f"{path}: a FITS image must be one 2-D plane, got shape {plane.shape}")
    finite = np.isfinite(plane)
    if not finite.any():
        raise ValueError(f"{path}: every pixel of its FITS image is blank (NaN)")
    return np.flipud(np.where(finite, plane, plane[finite].min()))


def prepare(source: str | os.PathLike, out_path: str | os.PathLike, physics: PhysicsConfig) -> dict:
    """Prepare the object amplitude of an image and record the derived geometry.

    Returns
    -------
    dict
        The geometry used: ``image_size``, ``obj_size``, ``sample_diameter``, ``dx``.
    """
    geometry = physics_geometry(physics)
    x = prepare_object(
        read_image(source), obj_size=geometry.obj_size, image_size=physics.image_size
    )
    derived = {
        "image_size": physics.image_size,
        "obj_size": geometry.obj_size,
        "sample_diameter": geometry.sample_diameter,
        "dx": geometry.dx if geometry.dx is not None else float("nan"),
    }
    save_arrays({"object": x.numpy()} | {k: np.array(v) for k, v in derived.items()}, out_path)
    return derived


def simulate(
    prepared_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    pattern: PatternConfig,
    noise: NoiseConfig,
    n_samples: int,
    seed: int,
) -> MeasurementSet:
    """Simulate the measurements of one (object, pattern, n_samples, noise, seed), once.

    The grid and object sizes come from the prepared object's file, the aperture diameter
    from the pattern or, when it sets none, from that file too.
    """
    prepared = load_arrays(prepared_path)
    x = torch.from_numpy(prepared["object"])
    sample_diameter = pattern.sample_diameter or float(prepared["sample_diameter"])
    obj_size = int(prepared["obj_size"])
    data = measure(x, obj_size, sample_diameter, pattern, noise, n_samples=n_samples, seed=seed)
    save_measurements(data, out_path)
    return data
