"""Object images: the user's files in data/raw/ and the built-ins, read and checked.

An object of a study is an image file ``data/raw/<name>.<suffix>`` or, without one, a
built-in image of that name. Everything that reads one is here, so that the study's checks
(before any job) and the prepare stage read an image the same way and refuse the same files
with the same messages.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import PIL.Image
import skimage.data
import tifffile

from prism.core.simulation import check_not_constant, to_grey_square
from prism.io import file_sha256
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

    An image is one plane, grey or colour: a file of several planes (a TIFF stack, a FITS
    cube, an animated PNG or GIF) is refused with its plane count, as is a colour mode other
    than grey, palette, RGB and their alpha forms (CMYK, YCbCr, Lab). Grey with alpha is
    read as colour with alpha (composed on white, as RGBA is). A FITS file gives its first
    HDU holding an image (after dropping axes of length 1), flipped so that its first row is
    at the top, as FITS viewers show it; blank (NaN) pixels take the darkest finite value.

    Raises
    ------
    ValueError
        When the source is neither a readable image file nor a built-in name, holds more than
        :data:`MAX_PIXELS` pixels, several planes or an unsupported colour mode.
    """
    path = Path(source)
    if path.suffix:
        if not path.is_file():
            raise ValueError(f"image {path} does not exist")
        check_size(path)
        reader = _read_fits if path.suffix.lower() in FITS_SUFFIXES else _read_picture
        if path.suffix.lower() in (".tif", ".tiff"):
            reader = _read_tiff
        try:
            return reader(path)
        except ValueError:
            raise
        except Exception as error:  # each reader raises its own types for broken files
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
        _refuse_planes(path, int(np.prod(plane.shape[:-2])), plane.shape)
    finite = np.isfinite(plane)
    if not finite.any():
        raise ValueError(f"{path}: every pixel of its FITS image is blank (NaN)")
    return np.flipud(np.where(finite, plane, plane[finite].min()))


def _refuse_planes(path: Path, planes: int, shape: tuple) -> None:
    raise ValueError(
        f"{path} holds {planes} image planes (shape {tuple(shape)}); an object is one plane: "
        f"save the plane you want as a file of its own (e.g. with tifffile or astropy)"
    )


# PIL's modes that are grey or colour as this project reads them; 'LA' and 'PA' become RGBA.
PICTURE_MODES = ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "F", "RGB", "RGBA", "LA", "PA")


def _read_picture(path: Path) -> np.ndarray:
    """A PNG, JPEG or BMP file: one frame, in a grey or colour mode."""
    with PIL.Image.open(path) as picture:
        frames = getattr(picture, "n_frames", 1)
        if frames > 1:
            _refuse_planes(path, frames, (frames, picture.height, picture.width))
        if picture.mode not in PICTURE_MODES:
            raise ValueError(
                f"{path} is in the colour mode {picture.mode}; read are grey, palette, RGB and "
                f"their alpha forms: convert it (e.g. to RGB) first"
            )
        if picture.mode in ("LA", "PA", "P"):
            return np.asarray(picture.convert("RGBA"))
        return np.asarray(picture)


def _read_tiff(path: Path) -> np.ndarray:
    """A TIFF file: one page, grey or colour (RGB samples, with alpha or not; grey and alpha)."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        sizes = dict(zip(series.axes, series.shape, strict=True))
        samples = sizes.get("S", 1)
        rgb = series.keyframe.photometric == tifffile.PHOTOMETRIC.RGB
        one_pixel_kind = samples == 1 or samples == 2 and not rgb or samples in (3, 4) and rgb
        planes = int(np.prod([n for axis, n in sizes.items() if axis not in "YXS"]))
        planes *= 1 if one_pixel_kind else samples
        if planes > 1 or len(tif.series) > 1:
            _refuse_planes(path, max(planes, len(tif.series)), series.shape)
        kept = [axis for axis in series.axes if axis in "YXS"]  # the others are of length 1
        image = series.asarray().reshape([sizes[axis] for axis in kept])
    if "S" in kept:  # samples last (a planar file holds them first)
        image = np.moveaxis(image, kept.index("S"), -1)
    return image[..., [0, 0, 0, 1]] if samples == 2 else image  # grey and alpha: as RGBA


def check_object(name: str) -> None:
    """Read an object's image and refuse it as the prepare stage would, before any job.

    Raises
    ------
    ValueError
        Naming the object and what is wrong: no such image, several planes, an unsupported
        colour mode, fewer than 2 x 2 pixels, NaN or infinite values, or a constant image
        (all zero, say).
    """
    try:
        grey = to_grey_square(read_image(prepare_source(name)))
        check_not_constant(grey)
    except ValueError as error:
        raise ValueError(f"object {name!r}: {error}") from error
