import math

import pytest
import torch

import prism.core.optics as optics
from prism.core.optics import Telescope, fft2c, ifft2c, power
from prism.core.sampling import line_points

DTYPE = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _complex(shape, seed: int = 0) -> torch.Tensor:
    g = _gen(seed)
    re = torch.randn(shape, generator=g, dtype=DTYPE)
    im = torch.randn(shape, generator=g, dtype=DTYPE)
    return torch.complex(re, im)


def _inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.sum(a * b.conj())


def _disc(n: int, diameter: float, center=(0.0, 0.0)) -> torch.Tensor:
    """A disc built by hand, pixel by pixel from DC at index n // 2."""
    mask = torch.zeros(n, n, dtype=DTYPE)
    r2 = (diameter / 2) ** 2
    for i in range(n):
        for j in range(n):
            if (i - n // 2 - center[0]) ** 2 + (j - n // 2 - center[1]) ** 2 <= r2:
                mask[i, j] = 1.0
    return mask


def _object_inside(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """A random non-negative real object on a ``size`` square at the grid centre."""
    x = torch.zeros(n, n, dtype=DTYPE)
    start = (n - size) // 2
    patch = torch.rand(size, size, generator=_gen(seed), dtype=DTYPE)
    x[start : start + size, start : start + size] = patch
    return x


# --- the FFT pair -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [32, 33])
def test_fft_round_trip_is_identity(n):
    x = _complex((3, n, n), seed=1)
    torch.testing.assert_close(ifft2c(fft2c(x)), x, atol=1e-12, rtol=0)
    torch.testing.assert_close(fft2c(ifft2c(x)), x, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [32, 33])
def test_fft_preserves_norm_and_inner_product(n):
    x = _complex((n, n), seed=2)
    y = _complex((n, n), seed=3)
    assert math.isclose(fft2c(x).norm().item(), x.norm().item(), rel_tol=1e-12)
    assert math.isclose(ifft2c(x).norm().item(), x.norm().item(), rel_tol=1e-12)
    torch.testing.assert_close(_inner(fft2c(x), fft2c(y)), _inner(x, y), atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [32, 33, 64, 65])
def test_fft_of_constant_has_dc_at_center_index(n):
    spectrum = fft2c(torch.ones(n, n, dtype=DTYPE))
    expected = torch.zeros(n, n, dtype=torch.complex128)
    expected[n // 2, n // 2] = n  # orthonormal: sum / sqrt(N^2)
    torch.testing.assert_close(spectrum, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [32, 33])
def test_fft_of_centred_delta_is_flat_with_zero_phase(n):
    # The centre pixel N // 2 is the origin of object space too: no phase ramp.
    x = torch.zeros(n, n, dtype=DTYPE)
    x[n // 2, n // 2] = 1.0
    expected = torch.full((n, n), 1.0 / n, dtype=torch.complex128)
    torch.testing.assert_close(fft2c(x), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [32, 33])
@pytest.mark.parametrize("shift", [(3, -5), (-2, 7)])
def test_fft_shift_theorem_phase_ramp(n, shift):
    dy, dx = shift
    x = _object_inside(n, n // 2, seed=4)
    k = torch.arange(n, dtype=DTYPE) - n // 2
    ramp = torch.exp(-2j * math.pi * (k[:, None] * dy + k[None, :] * dx) / n)
    shifted = torch.roll(x, shifts=shift, dims=(-2, -1))
    torch.testing.assert_close(fft2c(shifted), fft2c(x) * ramp, atol=1e-10, rtol=0)
    torch.testing.assert_close(fft2c(shifted).abs(), fft2c(x).abs(), atol=1e-10, rtol=0)


# --- apertures ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [32, 33])
@pytest.mark.parametrize("diameter", [1.0, 5.0, 8.0, 11.3])
@pytest.mark.parametrize("center", [(0.0, 0.0), (3.0, -4.0), (1.5, 2.25)])
def test_mask_matches_direct_count(n, diameter, center):
    tel = Telescope(n, sample_diameter=diameter)
    mask = tel.masks(torch.tensor([center]))
    assert mask.shape == (1, n, n)
    assert mask.dtype == torch.float32
    expected = _disc(n, diameter, center)
    assert torch.equal(mask[0].to(DTYPE), expected)
    assert int(mask.sum()) == int(expected.sum())


def test_mask_at_dc_is_centred_and_symmetric():
    n = 32
    mask = Telescope(n, sample_diameter=9.0).masks(torch.zeros(1, 2))[0]
    assert mask[n // 2, n // 2] == 1
    # Symmetric about the DC pixel (index N // 2): flip about it and compare.
    inner = mask[1:, 1:]
    assert torch.equal(inner, inner.flip(0))
    assert torch.equal(inner, inner.flip(1))
    assert torch.equal(inner, inner.T)


@pytest.mark.parametrize("n", [32, 33])
def test_mask_near_edge_is_truncated_not_wrapped(n):
    diameter = 10.0
    tel = Telescope(n, sample_diameter=diameter)
    edge = (n - 1) - n // 2  # the last k index on each axis
    center = (0.0, float(edge - 1))
    mask = tel.masks(torch.tensor([center]))[0]
    expected = _disc(n, diameter, center)
    assert torch.equal(mask.to(DTYPE), expected)
    full = math.pi * (diameter / 2) ** 2
    assert mask.sum() < 0.8 * full  # a good part of the disc fell off the grid
    # Nothing on the opposite (left) half of the grid: the disc is not wrapped.
    assert mask[:, : n // 2].sum() == 0
    # Corner case: both axes.
    mask = tel.masks(torch.tensor([[float(-(n // 2)), float(-(n // 2))]]))[0]
    assert mask[n // 2 :, :].sum() == 0
    assert mask[:, n // 2 :].sum() == 0
    assert mask[0, 0] == 1


@pytest.mark.parametrize("diameter", [0.0, -1.0, 33.0, 1e6, float("nan")])
def test_telescope_rejects_bad_sample_diameter(diameter):
    with pytest.raises(ValueError, match="sample_diameter"):
        Telescope(32, sample_diameter=diameter)


def test_telescope_accepts_sample_diameter_equal_to_image_size():
    Telescope(32, sample_diameter=32.0)


@pytest.mark.parametrize("size", [1, 0, -4, 32.0])
def test_telescope_rejects_bad_image_size(size):
    with pytest.raises(ValueError, match="image_size"):
        Telescope(size, sample_diameter=1.0)


@pytest.mark.parametrize("shape", [(2,), (3, 3), (1, 1, 2), (4, 1)])
def test_masks_reject_bad_points_shape(shape):
    tel = Telescope(32, sample_diameter=4.0)
    with pytest.raises(ValueError, match="points"):
        tel.masks(torch.zeros(shape))


@pytest.mark.parametrize("shape", [(4, 2), (4, 1, 3), (1, 4, 1, 2)])
def test_intensity_rejects_bad_points_shape(shape):
    tel = Telescope(32, sample_diameter=4.0)
    x = torch.rand(32, 32, generator=_gen(), dtype=DTYPE)
    with pytest.raises(ValueError, match="points"):
        tel.intensity(x, torch.zeros(shape))


def test_union_mask_is_logical_or_of_masks():
    n = 48
    tel = Telescope(n, sample_diameter=7.0)
    points = torch.tensor([[0.0, 0.0], [5.0, 3.0], [-10.0, 12.5], [22.0, -23.0], [5.5, 3.0]])
    masks = tel.masks(points) > 0
    expected = masks[0] | masks[1] | masks[2] | masks[3] | masks[4]
    union = tel.union_mask(points)
    assert union.dtype == torch.bool
    assert union.shape == (n, n)
    assert torch.equal(union, expected)
    # Any leading shape of points ([n, s, 2] patterns) gives the same union.
    assert torch.equal(tel.union_mask(points.view(5, 1, 2)), expected)
    # The union of one disc is that disc.
    assert torch.equal(tel.union_mask(points[1:2]), masks[1])


# --- the linear operator ------------------------------------------------------------------


@pytest.mark.parametrize("n", [32, 33])
@pytest.mark.parametrize(
    ("diameter", "points"),
    [
        (6.0, [[0.0, 0.0]]),
        (9.5, [[0.0, 0.0], [4.0, -7.0], [-12.0, 3.5]]),
        (14.0, [[15.0, 15.0], [-16.0, 2.0]]),  # truncated at the edge
        (32.0, [[0.0, 0.0], [1.0, 1.0]]),
    ],
)
def test_forward_adjoint_are_adjoint(n, diameter, points):
    tel = Telescope(n, sample_diameter=diameter)
    points = torch.tensor(points)
    m = points.shape[0]
    x = _complex((2, n, n), seed=5)
    y = _complex((2, m, n, n), seed=6)
    ax = tel.forward(x, points)
    assert ax.shape == (2, m, n, n)
    ahy = tel.adjoint(y, points)
    assert ahy.shape == (2, n, n)
    lhs, rhs = _inner(ax, y), _inner(x, ahy)
    assert abs(lhs - rhs).item() < 1e-10 * max(1.0, abs(lhs).item())


def test_forward_is_a_projection_per_aperture():
    # A_c = F^-1 M_c F with a 0/1 mask: idempotent and self-adjoint.
    n = 32
    tel = Telescope(n, sample_diameter=8.0)
    points = torch.tensor([[2.0, -3.0]])
    x = _complex((n, n), seed=7)
    ax = tel.forward(x, points)[0]
    torch.testing.assert_close(tel.forward(ax, points)[0], ax, atol=1e-12, rtol=0)
    torch.testing.assert_close(tel.adjoint(ax[None], points), ax, atol=1e-12, rtol=0)


def test_full_aperture_on_band_limited_object_measures_its_intensity():
    n = 32
    tel = Telescope(n, sample_diameter=float(n))
    disc = _disc(n, float(n))
    spectrum = _complex((n, n), seed=8) * disc
    x = ifft2c(spectrum)
    intensity = tel.intensity(x, torch.zeros(1, 1, 2))
    assert intensity.shape == (1, n, n)
    torch.testing.assert_close(intensity[0], x.abs().square(), atol=1e-12, rtol=0)
    torch.testing.assert_close(tel.forward(x, torch.zeros(1, 2))[0], x, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [32, 33])
def test_dc_aperture_gives_low_pass_image(n):
    diameter = 7.0
    tel = Telescope(n, sample_diameter=diameter)
    x = _object_inside(n, n // 2, seed=9)
    expected = ifft2c(fft2c(x) * _disc(n, diameter)).abs().square()
    intensity = tel.intensity(x, torch.zeros(1, 1, 2))[0]
    assert intensity.dtype == DTYPE
    torch.testing.assert_close(intensity, expected, atol=1e-12, rtol=0)
    # The low-pass image keeps the energy inside the disc only (Parseval).
    energy = (fft2c(x).abs().square() * _disc(n, diameter)).sum()
    torch.testing.assert_close(intensity.sum(), energy, atol=1e-10, rtol=1e-12)
    # ...and differs from the object itself.
    assert (intensity - x.square()).abs().max() > 1e-3


def test_off_dc_aperture_matches_hand_computation():
    n = 33
    diameter, center = 6.0, (4.0, -9.0)
    tel = Telescope(n, sample_diameter=diameter)
    x = _object_inside(n, 15, seed=10)
    expected = ifft2c(fft2c(x) * _disc(n, diameter, center)).abs().square()
    intensity = tel.intensity(x, torch.tensor([[center]]))[0]
    torch.testing.assert_close(intensity, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [32, 33])
@pytest.mark.parametrize("shift", [(3, -4), (-5, 2)])
def test_intensity_translates_with_object(n, shift):
    tel = Telescope(n, sample_diameter=6.0)
    points = torch.tensor([[[0.0, 0.0]], [[3.0, 5.0]], [[-7.0, 2.5]]])
    x = _object_inside(n, n // 2, seed=11)
    moved = torch.roll(x, shifts=shift, dims=(-2, -1))
    lhs = tel.intensity(moved, points)
    rhs = torch.roll(tel.intensity(x, points), shifts=shift, dims=(-2, -1))
    torch.testing.assert_close(lhs, rhs, atol=1e-12, rtol=0)


def test_intensity_non_negative_and_real():
    n = 32
    tel = Telescope(n, sample_diameter=5.0)
    x = _complex((n, n), seed=12)
    intensity = tel.intensity(x, torch.tensor([[[0.0, 0.0]], [[6.0, -2.0]]]))
    assert not intensity.is_complex()
    assert torch.all(intensity >= 0)


def test_line_measurement_is_mean_of_point_measurements():
    n = 40
    tel = Telescope(n, sample_diameter=5.0)
    x = _object_inside(n, 20, seed=13)
    lines = torch.tensor([[[-3.0, -4.0], [5.0, 6.0]], [[0.0, 0.0], [0.0, 9.0]]])
    s = 7
    points = line_points(lines, s)
    assert points.shape == (2, s, 2)
    measured = tel.intensity(x, points)
    assert measured.shape == (2, n, n)
    for i in range(2):
        singles = [tel.intensity(x, points[i, j].view(1, 1, 2))[0] for j in range(s)]
        expected = torch.stack(singles).mean(dim=0)
        torch.testing.assert_close(measured[i], expected, atol=1e-12, rtol=0)
    # A line of zero length is its point.
    still = line_points(torch.tensor([[[2.0, 3.0], [2.0, 3.0]]]), 4)
    single = tel.intensity(x, torch.tensor([[[2.0, 3.0]]]))
    torch.testing.assert_close(tel.intensity(x, still), single, atol=1e-12, rtol=0)


def test_batched_intensity_equals_per_sample_and_chunking_is_invisible(monkeypatch):
    n = 32
    tel = Telescope(n, sample_diameter=6.0)
    x = torch.rand(3, n, n, generator=_gen(14), dtype=DTYPE)
    points = line_points(
        torch.tensor(
            [
                [[0.0, 0.0], [0.0, 4.0]],
                [[3.0, 3.0], [5.0, -1.0]],
                [[-8.0, 2.0], [-8.0, 6.0]],
                [[10.0, 10.0], [12.0, 7.0]],
                [[-4.0, -9.0], [1.0, -9.0]],
            ]
        ),
        3,
    )
    full = tel.intensity(x, points)
    assert full.shape == (3, 5, n, n)
    for b in range(3):
        torch.testing.assert_close(full[b], tel.intensity(x[b], points), atol=1e-12, rtol=0)
    for i in range(5):
        torch.testing.assert_close(full[:, i], tel.intensity(x, points[i : i + 1])[:, 0])
    s = points.shape[1]
    for limit in [1, 2 * s * n * n, 3 * s * n * n + 1]:  # 1, 2 and 3 samples per chunk
        monkeypatch.setattr(optics, "_MAX_FIELDS_PER_CHUNK", limit)
        torch.testing.assert_close(tel.intensity(x, points), full, atol=1e-12, rtol=0)


def test_power_is_squared_magnitude():
    u = _complex((5, 6), seed=15)
    torch.testing.assert_close(power(u), u.abs().square(), atol=1e-12, rtol=0)
