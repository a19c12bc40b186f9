import math

import numpy as np
import pytest
import torch
from skimage.color import rgb2gray, rgba2rgb
from skimage.transform import resize

from prism.core.detector import Detector
from prism.core.grid import crop_object, pad_to_grid, support_mask
from prism.core.optics import Telescope
from prism.core.sampling import line_points, make_pattern
from prism.core.simulation import (
    Geometry,
    add_noise,
    derive_geometry,
    prepare_object,
    simulate_measurements,
)

EUROPA = {"wavelength": 520e-9, "distance": 628.3e9, "obj_diameter": 3121.6e3}


def _image(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _europa_dxf(obj_size: int = 73, n: int = 1024) -> float:
    e = EUROPA
    return e["wavelength"] * e["distance"] * obj_size / (e["obj_diameter"] * n)


# --- prepare_object -----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "obj_size"), [(32, 16), (33, 16), (32, 15), (33, 17), (40, 40)])
def test_prepare_object_shape_range_and_support(n, obj_size):
    x = prepare_object(_image((50, 50)), obj_size=obj_size, image_size=n)
    assert x.shape == (n, n)
    assert x.dtype == torch.float32
    start = (n - obj_size) // 2
    inside = x[start : start + obj_size, start : start + obj_size]
    assert inside.min().item() == 0.0
    assert inside.max().item() == pytest.approx(1.0, abs=1e-7)
    assert torch.all(x >= 0) and torch.all(x <= 1)
    outside = x.clone()
    outside[start : start + obj_size, start : start + obj_size] = 0
    assert torch.count_nonzero(outside) == 0
    assert torch.equal(x != 0, (x != 0) & support_mask(obj_size, n))


@pytest.mark.parametrize("source", [(50, 50), (12, 12), (20, 20)])
def test_prepare_object_is_sqrt_of_normalised_resized_image(source):
    n, obj_size = 48, 20
    image = _image(source, seed=1) * 200.0 + 7.0
    grey = resize(image, (obj_size, obj_size), anti_aliasing=True)
    amplitude = np.sqrt((grey - grey.min()) / (grey.max() - grey.min()))
    expected = np.zeros((n, n))
    start = (n - obj_size) // 2
    expected[start : start + obj_size, start : start + obj_size] = amplitude
    x = prepare_object(image, obj_size=obj_size, image_size=n)
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6, rtol=0)


def test_prepare_object_accepts_integer_images():
    image = (_image((30, 30), seed=2) * 255).astype(np.uint8)
    x = prepare_object(image, obj_size=16, image_size=32)
    y = prepare_object(image.astype(np.float64) / 255.0, obj_size=16, image_size=32)
    torch.testing.assert_close(x, y, atol=1e-6, rtol=0)


def test_prepare_object_converts_rgb_like_skimage():
    rgb = _image((30, 30, 3), seed=3)
    x = prepare_object(rgb, obj_size=16, image_size=32)
    expected = prepare_object(rgb2gray(rgb), obj_size=16, image_size=32)
    torch.testing.assert_close(x, expected, atol=0, rtol=0)
    # Luminance, not a channel mean: differs from the plain average of the channels.
    averaged = prepare_object(rgb.mean(axis=-1), obj_size=16, image_size=32)
    assert (x - averaged).abs().max() > 1e-3


def test_prepare_object_converts_rgba_like_skimage():
    rgba = _image((30, 30, 4), seed=4)
    x = prepare_object(rgba, obj_size=16, image_size=32)
    expected = prepare_object(rgb2gray(rgba2rgb(rgba)), obj_size=16, image_size=32)
    torch.testing.assert_close(x, expected, atol=0, rtol=0)


@pytest.mark.parametrize("shape", [(40, 60), (60, 40), (41, 60)])
def test_prepare_object_centre_crops_non_square(shape):
    # A 40x60 image gives the same object as its central 40x40 (offset floor((60-40)/2)).
    image = _image(shape, seed=5)
    side = min(shape)
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    crop = image[top : top + side, left : left + side]
    x = prepare_object(image, obj_size=20, image_size=32)
    torch.testing.assert_close(x, prepare_object(crop, obj_size=20, image_size=32), atol=0, rtol=0)


def test_prepare_object_rejects_non_finite_image():
    image = _image((20, 20))
    image[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prepare_object(image, obj_size=10, image_size=32)
    image[3, 4] = np.inf
    with pytest.raises(ValueError, match="Inf"):
        prepare_object(image, obj_size=10, image_size=32)


def test_prepare_object_rejects_constant_image():
    with pytest.raises(ValueError, match="constant"):
        prepare_object(np.full((20, 20), 0.3), obj_size=10, image_size=32)


@pytest.mark.parametrize("shape", [(20,), (20, 20, 2), (20, 20, 5), (1, 20), (2, 3, 4, 3)])
def test_prepare_object_rejects_bad_image_shape(shape):
    with pytest.raises(ValueError, match="`image` must be grey"):
        prepare_object(_image(shape), obj_size=10, image_size=32)


@pytest.mark.parametrize("obj_size", [0, -3, 33, 100, 10.0])
def test_prepare_object_rejects_bad_obj_size(obj_size):
    with pytest.raises(ValueError, match="obj_size"):
        prepare_object(_image((20, 20)), obj_size=obj_size, image_size=32)


# --- support_mask and pad_to_grid ---------------------------------------------------------


@pytest.mark.parametrize(("n", "s"), [(32, 16), (32, 15), (33, 16), (33, 17), (8, 8), (9, 1)])
def test_support_mask_and_pad_offsets(n, s):
    start = (n - s) // 2
    mask = support_mask(s, n)
    assert mask.shape == (n, n)
    assert mask.dtype == torch.bool
    expected = torch.zeros(n, n, dtype=torch.bool)
    expected[start : start + s, start : start + s] = True
    assert torch.equal(mask, expected)
    obj = torch.rand(2, s, s, generator=_gen(1))
    padded = pad_to_grid(obj, n)
    assert padded.shape == (2, n, n)
    assert torch.equal(padded[:, start : start + s, start : start + s], obj)
    assert torch.equal(padded[:, ~expected], torch.zeros(2, n * n - s * s))


def test_prepare_object_support_matches_support_mask():
    x = prepare_object(_image((30, 30), seed=6) + 0.1, obj_size=15, image_size=32)
    mask = support_mask(15, 32)
    assert torch.all(x[~mask] == 0)
    # The minimum pixel is 0, every other pixel of this strictly varying image is positive.
    assert torch.count_nonzero(x[mask]) >= 15 * 15 - 1


# --- derive_geometry ----------------------------------------------------------------------


def test_derive_geometry_europa():
    n = 1024
    dxf = _europa_dxf(73, n)
    geom = derive_geometry(n, dxf=dxf, **EUROPA)
    w, z, lam = EUROPA["obj_diameter"], EUROPA["distance"], EUROPA["wavelength"]
    dx = lam * z / (dxf * n)
    assert isinstance(geom, Geometry)
    assert geom.dx == pytest.approx(dx, rel=1e-12)
    assert geom.obj_size == round(w / dx) == 73
    assert isinstance(geom.obj_size, int)
    expected_d = 2 * lam * z / (math.pi * w) / dxf
    assert geom.sample_diameter == pytest.approx(expected_d, rel=1e-12)
    assert geom.sample_diameter == pytest.approx(2 * n / (math.pi * 73), rel=1e-9)


def test_derive_geometry_explicit_values_win():
    n = 1024
    physics = dict(dxf=_europa_dxf(73, n), **EUROPA)
    derived = derive_geometry(n, **physics)
    both = derive_geometry(n, obj_size=100, sample_diameter=12.5, **physics)
    assert both.obj_size == 100
    assert both.sample_diameter == 12.5
    assert both.dx == derived.dx
    only_size = derive_geometry(n, obj_size=100, **physics)
    assert (only_size.obj_size, only_size.sample_diameter) == (100, derived.sample_diameter)
    only_d = derive_geometry(n, sample_diameter=12.5, **physics)
    assert (only_d.obj_size, only_d.sample_diameter) == (derived.obj_size, 12.5)


def test_derive_geometry_explicit_only():
    geom = derive_geometry(64, obj_size=20, sample_diameter=6)
    assert geom == Geometry(obj_size=20, sample_diameter=6.0, dx=None)
    assert isinstance(geom.sample_diameter, float)


@pytest.mark.parametrize(
    "missing", [("wavelength",), ("dxf",), ("distance", "obj_diameter"), ("wavelength", "dxf")]
)
def test_derive_geometry_incomplete_physics_names_missing(missing):
    physics = dict(dxf=_europa_dxf(), **EUROPA)
    for name in missing:
        del physics[name]
    with pytest.raises(ValueError, match="incomplete") as info:
        derive_geometry(1024, **physics)
    for name in missing:
        assert name in str(info.value)
    for name in set(physics):
        assert name not in str(info.value)
    # Explicit sizes do not excuse a half-given physical set-up.
    with pytest.raises(ValueError, match="incomplete"):
        derive_geometry(1024, obj_size=20, sample_diameter=5.0, **physics)


@pytest.mark.parametrize("name", ["wavelength", "distance", "obj_diameter", "dxf"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_derive_geometry_rejects_non_positive_physics(name, value):
    physics = dict(dxf=_europa_dxf(), **EUROPA)
    physics[name] = value
    with pytest.raises(ValueError, match=f"`{name}` must be finite and > 0"):
        derive_geometry(1024, **physics)


@pytest.mark.parametrize("name", ["wavelength", "distance", "obj_diameter", "dxf"])
@pytest.mark.parametrize("explicit", [{}, {"obj_size": 20, "sample_diameter": 5.0}])
def test_derive_geometry_rejects_infinite_physics(name, explicit):
    physics = dict(dxf=_europa_dxf(), **EUROPA)
    physics[name] = math.inf
    with pytest.raises(ValueError, match=f"`{name}`"):
        derive_geometry(1024, **explicit, **physics)


@pytest.mark.parametrize("explicit", [{}, {"obj_size": 20}, {"sample_diameter": 4.0}])
def test_derive_geometry_needs_physics_or_explicit_values(explicit):
    with pytest.raises(ValueError, match="explicitly"):
        derive_geometry(64, **explicit)


def test_derive_geometry_rejects_too_large_sample_diameter():
    with pytest.raises(ValueError, match="sample_diameter"):
        derive_geometry(64, obj_size=20, sample_diameter=65.0)
    # Derived: an object of half a pixel has a coherence diameter of 2N / (pi / 2) > N.
    physics = dict(EUROPA, obj_diameter=EUROPA["obj_diameter"] / 73 / 2)
    with pytest.raises(ValueError, match="sample_diameter"):
        derive_geometry(1024, dxf=_europa_dxf(), obj_size=20, **physics)


@pytest.mark.parametrize("obj_size", [0, 65])
def test_derive_geometry_rejects_bad_obj_size(obj_size):
    with pytest.raises(ValueError, match="obj_size"):
        derive_geometry(64, obj_size=obj_size, sample_diameter=4.0)


# --- add_noise ----------------------------------------------------------------------------


def test_poisson_noise_mean_and_variance():
    draws, photons = 4000, 2000.0
    clean = torch.rand(4, 4, generator=_gen(2), dtype=torch.float64) + 0.1
    batch = clean.expand(draws, 4, 4).clone()
    noisy = add_noise(batch, photons=photons, generator=_gen(3))
    assert noisy.shape == (draws, 4, 4)
    assert noisy.dtype == torch.float32
    noisy = noisy.to(torch.float64)
    var = clean * clean.sum() / photons
    mean_tol = 5 * torch.sqrt(var / draws)
    assert torch.all((noisy.mean(dim=0) - clean).abs() < mean_tol)
    counts = clean * photons / clean.sum()  # Poisson rate per pixel (excess kurtosis 1/rate)
    var_tol = 5 * var * torch.sqrt(2 / (draws - 1) + 1 / (counts * draws))
    assert torch.all((noisy.var(dim=0) - var).abs() < var_tol)
    # Photon counts are integers: the noisy data sit on the grid sum(I) / photons.
    quanta = noisy.to(torch.float64) * photons / clean.sum()
    torch.testing.assert_close(quanta, quanta.round(), atol=1e-3, rtol=0)


def test_poisson_noise_variance_scales_with_budget():
    clean = torch.full((2000, 4, 4), 0.5, dtype=torch.float64)
    few = add_noise(clean, photons=100.0, generator=_gen(4)).var(dim=0).mean()
    many = add_noise(clean, photons=10000.0, generator=_gen(4)).var(dim=0).mean()
    assert many.item() == pytest.approx(few.item() / 100, rel=0.2)


@pytest.mark.parametrize("snr_db", [0.0, 20.0, 40.0])
def test_gaussian_noise_std_and_mean(snr_db):
    n_meas, side = 3, 64
    clean = torch.rand(n_meas, side, side, generator=_gen(5), dtype=torch.float64)
    clean = clean * torch.tensor([1.0, 10.0, 0.01], dtype=torch.float64).view(-1, 1, 1)
    noisy = add_noise(clean, snr_db=snr_db, generator=_gen(6))
    residual = noisy.to(torch.float64) - clean
    count = side * side
    sigma = clean.mean(dim=(-2, -1)) / 10 ** (snr_db / 20)
    std = residual.std(dim=(-2, -1))
    assert torch.all((std - sigma).abs() < 5 * sigma / math.sqrt(2 * count))
    assert torch.all(residual.mean(dim=(-2, -1)).abs() < 5 * sigma / math.sqrt(count))


def test_no_noise_returns_input():
    clean = torch.rand(3, 8, 8, generator=_gen(7))
    out = add_noise(clean, generator=_gen(8))
    assert out.shape == clean.shape
    assert out.dtype == torch.float32
    assert torch.equal(out, clean)


@pytest.mark.parametrize(
    "noise", [{"photons": 500.0}, {"snr_db": 20.0}, {"photons": 500.0, "snr_db": 10.0}]
)
def test_noise_seeded(noise):
    clean = torch.rand(3, 8, 8, generator=_gen(9)) + 0.1
    a = add_noise(clean, generator=_gen(1), **noise)
    b = add_noise(clean, generator=_gen(1), **noise)
    c = add_noise(clean, generator=_gen(2), **noise)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, clean)


@pytest.mark.parametrize("photons", [0.0, -5.0, float("nan")])
def test_add_noise_rejects_bad_photons(photons):
    with pytest.raises(ValueError, match="photons"):
        add_noise(torch.ones(1, 4, 4), photons=photons, generator=_gen())


def test_add_noise_rejects_infinite_photons():
    with pytest.raises(ValueError, match="photons"):
        add_noise(torch.ones(1, 4, 4), photons=math.inf, generator=_gen())


@pytest.mark.parametrize("snr_db", [float("nan"), float("inf"), float("-inf")])
def test_add_noise_rejects_non_finite_snr(snr_db):
    with pytest.raises(ValueError, match="snr_db"):
        add_noise(torch.ones(1, 4, 4), snr_db=snr_db, generator=_gen())


# --- simulate_measurements ----------------------------------------------------------------


def _setup(n: int = 32):
    x = prepare_object(_image((40, 40), seed=10), obj_size=16, image_size=n)
    return x, Detector(Telescope(n, sample_diameter=6.0), 16)


@pytest.mark.parametrize("line_length", [0.0, 5.0])
def test_simulate_noiseless_is_the_detector_intensity(line_length):
    x, det = _setup()
    centers = make_pattern("fermat", 6, r_max=10.0, line_length=line_length, angle=0.3)
    y = simulate_measurements(x, centers, detector=det, samples_per_line_meas=4)
    assert y.shape == (6, 14, 14)
    assert y.dtype == torch.float32
    points = line_points(centers, 4)
    expected = det.intensity(crop_object(x, 16), det.windows(points))
    torch.testing.assert_close(y, expected, atol=0, rtol=0)
    assert torch.all(y >= 0)
    full = Detector(det.telescope, 16, full_grid=True)
    on_grid = simulate_measurements(x, centers, detector=full, samples_per_line_meas=4)
    torch.testing.assert_close(on_grid, det.telescope.intensity(x, points), atol=1e-7, rtol=0)
    # Seed is irrelevant without noise.
    assert torch.equal(
        simulate_measurements(x, centers, detector=det, seed=5, samples_per_line_meas=4), y
    )


@pytest.mark.parametrize("noise", [{"photons": 1e4}, {"snr_db": 20.0}])
def test_simulate_noisy_is_seeded(noise):
    x, det = _setup()
    centers = make_pattern("random", 5, r_max=8.0, seed=1)
    a = simulate_measurements(x, centers, detector=det, seed=3, **noise)
    b = simulate_measurements(x, centers, detector=det, seed=3, **noise)
    c = simulate_measurements(x, centers, detector=det, seed=4, **noise)
    clean = simulate_measurements(x, centers, detector=det)
    assert a.shape == (5, 14, 14)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, clean)
    # Same as noising the clean data by hand with a generator of the same seed.
    torch.testing.assert_close(a, add_noise(clean, generator=_gen(3), **noise), atol=0, rtol=0)


def test_simulate_does_not_touch_global_rng():
    x, det = _setup()
    centers = make_pattern("fermat", 4, r_max=8.0, line_length=3.0, angle=1.0)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    simulate_measurements(
        x, centers, detector=det, samples_per_line_meas=3, photons=1e3, snr_db=15.0, seed=7
    )
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("shape", [(40, 40), (3, 5)])
def test_pad_to_grid_refuses_what_does_not_fit(shape):
    with pytest.raises(ValueError, match="`obj` must be square and at most 32 px"):
        pad_to_grid(torch.ones(shape), 32)
