import pytest
import torch

from prism.core.detector import Detector, concat_windows
from prism.core.grid import pad_to_grid
from prism.core.optics import Telescope, fft2c
from prism.core.sampling import line_points, make_pattern

N, OBJ, DIAMETER = 64, 24, 10.0
# points inside, one sub-pixel, one truncated at the grid edge, one at the corner
POINTS = torch.tensor([[[0.0, 0.0]], [[5.3, -7.7]], [[30.4, 3.0]], [[-31.2, -30.6]]])


@pytest.fixture
def square() -> torch.Tensor:
    return torch.rand(OBJ, OBJ, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def telescope() -> Telescope:
    return Telescope(N, sample_diameter=DIAMETER)


def _fast_and_full(telescope):
    return Detector(telescope, OBJ), Detector(telescope, OBJ, full_grid=True)


def test_detector_size_covers_twice_the_aperture(telescope):
    fast, full = _fast_and_full(telescope)
    assert (fast.window, fast.size) == (11, 22)
    assert fast.size >= 2 * DIAMETER
    assert (full.window, full.size) == (N, N)


@pytest.mark.parametrize(
    "points", [POINTS, line_points(make_pattern("fermat", 5, r_max=20, line_length=12), 4)]
)
def test_full_grid_detector_is_the_telescope(telescope, square, points):
    full = Detector(telescope, OBJ, full_grid=True)
    expected = telescope.intensity(pad_to_grid(square, N), points)
    assert torch.allclose(full.intensity(square, full.windows(points)), expected, atol=1e-6)


def test_matrix_transform_equals_the_fft_on_every_window(telescope, square):
    fast = Detector(telescope, OBJ)
    windows = fast.windows(POINTS)
    spectrum = fft2c(pad_to_grid(square, N).to(torch.complex64))
    expected = spectrum[windows.rows[:, :, None], windows.cols[:, None, :]] * windows.masks
    assert torch.allclose(fast.exit_spectra(square, windows), expected, atol=1e-5)


def test_masks_are_the_telescope_discs_on_their_windows(telescope):
    windows = Detector(telescope, OBJ).windows(POINTS)
    discs = telescope.masks(POINTS.reshape(-1, 2))
    on_windows = discs.new_zeros(discs.shape)
    for p in range(len(POINTS)):
        rows, cols = windows.rows[p][:, None], windows.cols[p][None, :]
        on_windows[p].index_put_((rows, cols), windows.masks[p], accumulate=True)
    assert torch.equal(on_windows, discs)  # the whole disc, truncated at the edge, nothing else


def test_fast_intensity_samples_the_full_grid_one_exactly(telescope, square):
    """At N = 4 m the detector pixels are every 4th grid pixel: I_full = (m / N)^2 I_det."""
    grid = 88
    telescope = Telescope(grid, sample_diameter=DIAMETER)
    fast, full = _fast_and_full(telescope)
    step, m = grid // fast.size, fast.size
    det = fast.intensity(square, fast.windows(POINTS))
    ref = full.intensity(square, full.windows(POINTS))
    first = grid // 2 - step * (m // 2)
    sampled = ref[:, first::step, first::step][:, :m, :m]
    assert step == 4
    assert torch.allclose(sampled, (m / grid) ** 2 * det, atol=1e-6)


def test_energy_and_l2_distance_keep_their_documented_scale(telescope, square):
    """sum I_det = sum I_full; sum (I_a - I_b)^2 over the grid = (m / N)^2 x the detector's."""
    fast, full = _fast_and_full(telescope)
    other = square.roll(3, dims=0) * 0.7
    det = [fast.intensity(x, fast.windows(POINTS)) for x in (square, other)]
    ref = [full.intensity(x, full.windows(POINTS)) for x in (square, other)]
    dims = (-2, -1)
    assert torch.allclose(det[0].sum(dims), ref[0].sum(dims), rtol=1e-5)
    l2_det = (det[0] - det[1]).square().sum(dims)
    l2_ref = (ref[0] - ref[1]).square().sum(dims)
    assert torch.allclose(l2_ref, (fast.size / N) ** 2 * l2_det, rtol=1e-4)


def test_lines_are_the_mean_of_their_points(telescope, square):
    fast = Detector(telescope, OBJ)
    points = line_points(make_pattern("fermat", 3, r_max=15, line_length=10), 5)
    lines = fast.intensity(square, fast.windows(points))
    each = fast.intensity(square, fast.windows(points.reshape(-1, 1, 2)))
    assert torch.allclose(lines, each.reshape(3, 5, *each.shape[-2:]).mean(1), atol=1e-7)


def test_fields_and_window_spectra_are_adjoint(telescope):
    fast = Detector(telescope, OBJ)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, fast.window, fast.window, dtype=torch.complex64, generator=generator)
    b = torch.randn(3, fast.size, fast.size, dtype=torch.complex64, generator=generator)
    left = torch.vdot(fast.fields(a).flatten(), b.flatten())
    right = torch.vdot(a.flatten(), fast.window_spectra(b).flatten())
    assert torch.allclose(left, right, atol=1e-4)


def test_concatenated_windows_measure_like_the_parts(telescope, square):
    fast = Detector(telescope, OBJ)
    parts = [fast.windows(POINTS[:2]), fast.windows(POINTS[2:])]
    joined = fast.intensity(square, concat_windows(parts))
    assert torch.allclose(joined, fast.intensity(square, fast.windows(POINTS)), atol=1e-7)


def test_region_field_is_the_field_through_the_mask(telescope, square):
    """A region as wide as the grid is sampled on the full grid: exactly the telescope's field."""
    fast, full = _fast_and_full(telescope)
    union = telescope.union_mask(POINTS)
    expected = telescope.project(pad_to_grid(square, N), union.float()).abs()
    for detector in (fast, full):
        region, size = detector.region(union)
        field = detector.fields(detector.exit_spectra(square, region), size).abs()[0]
        assert size == N
        shift = [int(s) for s in torch.nonzero(field == field.max())[0]]
        peak = [int(s) for s in torch.nonzero(expected == expected.max())[0]]
        assert torch.allclose(
            field.roll([p - s for p, s in zip(peak, shift, strict=True)], dims=(0, 1)),
            expected,
            atol=1e-5,
        )


def test_small_region_is_sampled_at_its_width(telescope, square):
    fast = Detector(telescope, OBJ)
    union = telescope.union_mask(POINTS[:2])
    region, size = fast.region(union)
    side = region.masks.shape[-1]
    assert size == side + side % 2 < N
    assert torch.equal(region.masks[0].sum(), union.sum().float())


def test_amplitude_image_is_the_full_grid_amplitude(telescope, square):
    """Intensities are band-limited, so the detector image gives the grid's amplitude exactly."""
    fast, full = _fast_and_full(telescope)
    det = fast.intensity(square, fast.windows(POINTS[:2]))
    ref = full.intensity(square, full.windows(POINTS[:2]))
    for index in range(2):
        expected = ref[index].clamp_min(0).sqrt()
        assert torch.allclose(fast.amplitude_image(det[index]), expected, atol=2e-4)
        assert torch.allclose(full.amplitude_image(ref[index]), expected, atol=1e-6)


def test_gradients_flow_to_the_object_square(telescope, square):
    fast = Detector(telescope, OBJ)
    estimate = square.clone().requires_grad_(True)
    fast.intensity(estimate, fast.windows(POINTS)).sum().backward()
    assert estimate.grad is not None and torch.isfinite(estimate.grad).all()
    assert estimate.grad.abs().sum() > 0


def test_validation(telescope):
    with pytest.raises(ValueError, match=r"`obj_size` must be an integer in \[1, 64\], got 65"):
        Detector(telescope, 65)
    with pytest.raises(ValueError, match=r"`points` must have shape \[n, s, 2\], got \(4, 2\)"):
        Detector(telescope, OBJ).windows(POINTS.reshape(-1, 2))
