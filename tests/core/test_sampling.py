import math

import pytest
import torch

from prism.core.sampling import PATTERNS, line_points, make_pattern, max_radius


def _radii(centers: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(centers, dim=-1)


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("n", [1, 2, 17])
def test_points_shape_dtype_and_dc_first(name, n):
    centers = make_pattern(name, n, r_max=10.0)
    assert centers.shape == (n, 1, 2)
    assert centers.dtype == torch.float32
    assert torch.equal(centers[0, 0], torch.zeros(2))
    assert max_radius(centers) <= 10.0 + 1e-5


@pytest.mark.parametrize("name", PATTERNS)
def test_lines_shape_dtype_and_centred_on_points(name):
    points = make_pattern(name, 12, r_max=10.0, seed=3)
    lines = make_pattern(name, 12, r_max=10.0, line_length=4.0, seed=3)
    assert lines.shape == (12, 2, 2)
    assert lines.dtype == torch.float32
    torch.testing.assert_close(lines.mean(dim=1), points[:, 0], atol=1e-5, rtol=0)
    length = _radii(lines[:, 1] - lines[:, 0])
    torch.testing.assert_close(length, torch.full((12,), 4.0), atol=1e-5, rtol=0)


def test_fermat_deterministic_increasing_reaches_r_max():
    a = make_pattern("fermat", 50, r_max=7.5, seed=0)
    b = make_pattern("fermat", 50, r_max=7.5, seed=99)
    assert torch.equal(a, b)
    r = _radii(a[:, 0])
    assert torch.all(r[1:] >= r[:-1])
    assert abs(r.max().item() - 7.5) < 1e-5
    assert abs(r[-1].item() - 7.5) < 1e-5


def test_fermat_radii_follow_sqrt_law():
    r = _radii(make_pattern("fermat", 11, r_max=4.0)[:, 0])
    expected = 4.0 * torch.sqrt(torch.arange(11) / 10.0)
    torch.testing.assert_close(r, expected, atol=1e-5, rtol=0)


def test_fermat_golden_angle_between_consecutive_points():
    c = make_pattern("fermat", 10, r_max=5.0)[:, 0].double()
    theta = torch.atan2(c[1:, 0], c[1:, 1])
    step = torch.remainder(theta[1:] - theta[:-1], 2 * math.pi)
    golden = math.pi * (3 - math.sqrt(5))
    torch.testing.assert_close(step, torch.full_like(step, golden), atol=1e-5, rtol=0)


def test_random_seeded_and_within_disc():
    a = make_pattern("random", 200, r_max=6.0, seed=1)
    b = make_pattern("random", 200, r_max=6.0, seed=1)
    c = make_pattern("random", 200, r_max=6.0, seed=2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.all(_radii(a) <= 6.0 + 1e-5)
    assert torch.equal(a[0, 0], torch.zeros(2))


def test_random_does_not_touch_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_pattern("random", 20, r_max=5.0, line_length=2.0, seed=4)
    assert torch.equal(torch.rand(3), expected)


def test_random_is_area_uniform():
    r = _radii(make_pattern("random", 20000, r_max=1.0, seed=0)[1:, 0])
    inner = (r <= 1 / math.sqrt(2)).float().mean().item()
    assert abs(inner - 0.5) < 0.02


@pytest.mark.parametrize("n_arms", [1, 3, 8])
def test_star_points_on_arms(n_arms):
    c = make_pattern("star", 25, r_max=9.0, n_arms=n_arms)[1:, 0].double()
    theta = torch.atan2(c[:, 0], c[:, 1])
    arm = theta / (2 * math.pi / n_arms)
    torch.testing.assert_close(arm, torch.round(arm), atol=1e-5, rtol=0)
    assert len(torch.unique(torch.round(arm) % n_arms)) == min(n_arms, 24)


def test_star_radii_evenly_spaced_centre_outward():
    c = make_pattern("star", 1 + 4 * 3, r_max=9.0, n_arms=4)
    r = _radii(c[:, 0])
    assert torch.all(r[1:] >= r[:-1] - 1e-6)
    rings = torch.unique(torch.round(r * 1e4) / 1e4)
    torch.testing.assert_close(rings, torch.tensor([0.0, 3.0, 6.0, 9.0]), atol=1e-4, rtol=0)


@pytest.mark.parametrize("angle", [0.0, 0.7, math.pi / 2])
def test_lines_fixed_angle(angle):
    lines = make_pattern("fermat", 8, r_max=5.0, line_length=3.0, angle=angle)
    d = lines[:, 1] - lines[:, 0]
    expected = 3.0 * torch.tensor([math.sin(angle), math.cos(angle)])
    torch.testing.assert_close(d, expected.expand_as(d), atol=1e-5, rtol=0)


def test_lines_random_angles_seeded_in_half_turn():
    a = make_pattern("star", 30, r_max=5.0, line_length=2.0, seed=5)
    b = make_pattern("star", 30, r_max=5.0, line_length=2.0, seed=5)
    c = make_pattern("star", 30, r_max=5.0, line_length=2.0, seed=6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    d = (a[:, 1] - a[:, 0]).double()
    theta = torch.atan2(d[:, 0], d[:, 1])
    assert torch.all(theta >= -1e-6)
    assert torch.all(theta < math.pi + 1e-6)
    assert len(torch.unique(torch.round(theta * 1e4))) > 1


def test_line_points_includes_end_points_evenly_spaced():
    lines = torch.tensor([[[0.0, 0.0], [3.0, 6.0]], [[-1.0, 2.0], [1.0, 2.0]]])
    pts = line_points(lines, 4)
    assert pts.shape == (2, 4, 2)
    assert pts.dtype == torch.float32
    assert torch.equal(pts[:, 0], lines[:, 0])
    assert torch.equal(pts[:, -1], lines[:, 1])
    steps = pts[:, 1:] - pts[:, :-1]
    torch.testing.assert_close(steps, ((lines[:, 1] - lines[:, 0]) / 3)[:, None].expand_as(steps))


def test_line_points_of_pattern_centred_on_point():
    points = make_pattern("random", 5, r_max=5.0, seed=2)
    lines = make_pattern("random", 5, r_max=5.0, line_length=2.0, seed=2)
    pts = line_points(lines, 5)
    torch.testing.assert_close(pts[:, 2], points[:, 0], atol=1e-5, rtol=0)


def test_line_points_zero_length_line_gives_copies():
    p = torch.tensor([[[1.5, -2.0], [1.5, -2.0]]])
    pts = line_points(p, 6)
    assert pts.shape == (1, 6, 2)
    assert torch.equal(pts, p[:, :1].expand(1, 6, 2))


@pytest.mark.parametrize("s", [1, 7])
def test_line_points_passes_points_through(s):
    points = make_pattern("fermat", 9, r_max=4.0)
    assert line_points(points, s) is points


def test_bad_pattern_name():
    match = r"`pattern` must be one of 'fermat', 'random', 'star', got 'foo'"
    with pytest.raises(ValueError, match=match):
        make_pattern("foo", 3, r_max=1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, r"`n` must be an integer >= 1, got 0"),
        ({"r_max": 0.0}, r"`r_max` must be > 0.*got 0\.0"),
        ({"r_max": -2.0}, r"`r_max` must be > 0.*got -2\.0"),
        ({"r_max": float("nan")}, r"`r_max` must be > 0.*got nan"),
        ({"line_length": -1.0}, r"`line_length` must be >= 0.*got -1\.0"),
        ({"n_arms": 0}, r"`n_arms` must be an integer >= 1, got 0"),
    ],
)
def test_make_pattern_validation(kwargs, match):
    args = {"n": 4, "r_max": 3.0} | kwargs
    n = args.pop("n")
    with pytest.raises(ValueError, match=match):
        make_pattern("star", n, **args)


@pytest.mark.parametrize("shape", [(4, 2), (4, 3, 2), (4, 1, 3), (2, 2, 2, 2)])
def test_line_points_bad_shape(shape):
    with pytest.raises(ValueError, match=r"`centers` must have shape \[n, 1, 2\].*\[n, 2, 2\]"):
        line_points(torch.zeros(shape), 3)


@pytest.mark.parametrize("s", [0, 1])
def test_line_points_too_few_samples_for_lines(s):
    with pytest.raises(ValueError, match=rf"`samples_per_line_meas` must be >= 2 .*got {s}"):
        line_points(torch.zeros(3, 2, 2), s)


def test_line_points_zero_samples_for_points():
    with pytest.raises(ValueError, match=r"`samples_per_line_meas` must be >= 1, got 0"):
        line_points(torch.zeros(3, 1, 2), 0)
