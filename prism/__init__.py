"""PRISM: reconstruct an object from sparse sub-aperture measurements, and compare methods.

The handful of names a researcher needs::

    import prism
    from skimage import data

    measured = prism.simulate(
        data.moon(),
        prism.PhysicsConfig(image_size=128, obj_size=48, sample_diameter=16),
        prism.PatternConfig(kind="fermat", r_max=48),
        prism.NoiseConfig(snr_db=40),
        n_samples=32,
    )
    print(prism.methods())  # tv, epie, mpie, prism, ...
    result = prism.reconstruct(measured, "tv")
    print(prism.evaluate(result.image, measured.ground_truth, obj_size=48))

They are loaded on first use, so ``import prism`` stays cheap (the command line pins the CPU
code paths before torch loads).
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "simulate": "prism.core.experiment",
    "reconstruct": "prism.solvers",
    "methods": "prism.solvers",
    "evaluate": "prism.metrics",
    "PhysicsConfig": "prism.config",
    "PatternConfig": "prism.config",
    "NoiseConfig": "prism.config",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'prism' has no attribute {name!r}")
