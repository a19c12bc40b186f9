"""The study's typed settings (physics, patterns, noise) and how settings are read.

Every solver keeps its own settings beside it (PRISM's in :mod:`prism.solvers.prism.settings`);
:func:`from_mapping` builds any of them from a config section, refusing unknown keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass

PATTERNS = ("fermat", "random", "star")


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``, naming the parameter."""
    if value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}")


def check_positive(name: str, value: float, *, integer: bool = False) -> None:
    """Raise ValueError unless ``value`` is > 0 (and an int when ``integer``)."""
    kind = "an integer" if integer else "a number"
    if (integer and not isinstance(value, int)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"`{name}` must be {kind} > 0, got {value!r}")


@dataclass(frozen=True)
class PhysicsConfig:
    """The instrument: grid, object and aperture sizes, or the physics they derive from.

    Attributes
    ----------
    image_size : int
        Grid size ``N`` (object and pupil planes).
    obj_size : int or None
        Object width in pixels; None derives it from the physical set-up.
    sample_diameter : float or None
        Aperture diameter in k-space pixels; None derives it from the physical set-up.
    wavelength, distance, obj_diameter, dxf : float or None
        Physical set-up in metres (all four or none), see
        :func:`prism.core.simulation.derive_geometry`.
    """

    image_size: int = 256
    obj_size: int | None = 64
    sample_diameter: float | None = 16.0
    wavelength: float | None = None
    distance: float | None = None
    obj_diameter: float | None = None
    dxf: float | None = None

    def __post_init__(self) -> None:
        check_positive("image_size", self.image_size, integer=True)


@dataclass(frozen=True)
class PatternConfig:
    """Where the apertures go, and whether each sample is a point or a line.

    Attributes
    ----------
    kind : str
        'fermat' (deterministic spiral), 'random' (seeded) or 'star'.
    r_max : float or None
        Radius of the pattern in k-space pixels; None is half the grid.
    line_length : float
        Length of line samples in k-space pixels; 0 gives point samples.
    line_angle : float or None
        Angle of every line in radians; None draws a seeded random angle per line.
    samples_per_line_meas : int
        Points per line measurement, >= 2 for lines (ignored for points).
    sample_diameter : float or None
        Aperture diameter in k-space pixels of this pattern's apertures; None uses the
        instrument's (``physics``). Sparse and dense regimes of one study differ here.
    """

    kind: str = "fermat"
    r_max: float | None = None
    line_length: float = 0.0
    line_angle: float | None = None
    samples_per_line_meas: int = 1
    sample_diameter: float | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, PATTERNS)
        check_positive("samples_per_line_meas", self.samples_per_line_meas, integer=True)
        if self.line_length < 0:
            raise ValueError(f"`line_length` must be >= 0 k-pixels, got {self.line_length!r}")
        for name in ("r_max", "sample_diameter"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        if self.line_length > 0 and self.samples_per_line_meas < 2:
            raise ValueError(
                "`samples_per_line_meas` must be >= 2 for lines (line_length > 0), "
                f"got {self.samples_per_line_meas}"
            )

    def radius(self, image_size: int) -> float:
        """``r_max``, or half the grid when not given."""
        return self.r_max if self.r_max is not None else image_size / 2

    @property
    def points_per_sample(self) -> int:
        """Measurement points per sample: 1 for points, ``samples_per_line_meas`` for lines."""
        return self.samples_per_line_meas if self.line_length > 0 else 1


@dataclass(frozen=True)
class NoiseConfig:
    """Noise on the intensities; both None is noiseless.

    Attributes
    ----------
    photons : float or None
        Poisson photon budget per measurement, finite and > 0.
    snr_db : float or None
        Additive Gaussian noise at this SNR in dB on the mean intensity, finite and > 0 (at
        0 dB and below the noise is as strong as the signal).
    """

    photons: float | None = None
    snr_db: float | None = None

    def __post_init__(self) -> None:
        for name, unit in (("photons", "photons per measurement"), ("snr_db", "dB")):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ValueError(f"`{name}` must be a finite number > 0 ({unit}), got {value!r}")


def from_mapping(cls, mapping: dict | None, section: str):
    """Build a config dataclass from a mapping; unknown keys are errors.

    A field whose default is itself a config dataclass (a section, e.g. ``prism.training``)
    is built from its sub-mapping the same way.

    Parameters
    ----------
    cls : type
        A frozen settings dataclass.
    mapping : dict or None
        Settings (None or missing keys take the defaults).
    section : str
        Name of the config section, for error messages.
    """
    mapping = dict(mapping or {})
    names = [item.name for item in fields(cls)]
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in `{section}`; "
            f"allowed: {', '.join(names)}"
        )
    for item in fields(cls):
        if item.name in mapping and is_dataclass(item.default_factory):
            mapping[item.name] = from_mapping(
                item.default_factory, mapping[item.name], f"{section}.{item.name}"
            )
    try:
        return cls(**mapping)
    except ValueError as error:
        raise ValueError(f"in `{section}`: {error}") from error
