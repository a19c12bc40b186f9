"""The public API: `import prism` gives simulate, reconstruct, evaluate and methods."""

import subprocess
import sys

import pytest
from skimage import data

import prism

PHYSICS = prism.PhysicsConfig(image_size=64, obj_size=16, sample_diameter=8)
PATTERN = prism.PatternConfig(kind="fermat", r_max=32)


def test_import_prism_loads_no_torch():
    code = "import sys, prism; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_simulate_then_reconstruct_then_evaluate():
    measured = prism.simulate(data.moon(), PHYSICS, PATTERN, prism.NoiseConfig(), n_samples=64)
    assert measured.intensities.shape[0] == 64 and measured.obj_size == 16
    result = prism.reconstruct(measured, "mpie", max_epochs=200)
    single = prism.reconstruct(measured, "single_aperture")
    truth = measured.ground_truth
    score = prism.evaluate(result.image, truth, obj_size=16)
    assert score.ssim > prism.evaluate(single.image, truth, obj_size=16).ssim + 0.3
    assert result.history[-1]["ssim"] == pytest.approx(score.ssim)  # scored as it ran


def test_methods_are_the_registry_and_an_unknown_one_is_named():
    assert {"tv", "mpie", "epie", "prism", "single_aperture"} <= set(prism.methods())
    measured = prism.simulate(data.moon(), PHYSICS, PATTERN, prism.NoiseConfig(), n_samples=4)
    with pytest.raises(ValueError, match="unknown method 'bm3d'; registered: .*tv"):
        prism.reconstruct(measured, "bm3d")
    with pytest.raises(ValueError, match="unknown key"):
        prism.reconstruct(measured, "tv", wieght=0.1)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        prism.simulat  # noqa: B018
