import math

import numpy as np
import pytest
import torch
from skimage import data, filters, metrics, transform

from prism.core.grid import crop_object
from prism.metrics import Metrics, evaluate, nrmse, psnr, ssim


def _camera() -> np.ndarray:
    img = transform.resize(data.camera().astype(np.float64), (64, 64), anti_aliasing=True)
    return (img - img.min()) / (img.max() - img.min())


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    cam = _camera()
    noisy = np.clip(cam + 0.1 * rng.standard_normal(cam.shape), 0, 1)
    blurred = filters.gaussian(cam, sigma=2.0)
    rand = rng.random((40, 52)), rng.random((40, 52))
    return [(noisy, cam), (blurred, cam), (0.5 * cam + 0.2, cam), rand]


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1
    )


@pytest.mark.parametrize("pair", range(4))
def test_ssim_matches_skimage(pair):
    a, b = _pairs()[pair]
    ours = ssim(torch.from_numpy(a), torch.from_numpy(b))
    assert ours.shape == ()
    assert ours.dtype == torch.float64
    assert abs(float(ours) - _sk_ssim(a, b)) < 1e-8  # float64: same arithmetic as skimage
    ours32 = ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert ours32.dtype == torch.float32
    assert abs(float(ours32) - _sk_ssim(a, b)) < 1e-3


@pytest.mark.parametrize("pair", range(4))
def test_psnr_nrmse_match_skimage(pair):
    a, b = _pairs()[pair]
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    expected_psnr = metrics.peak_signal_noise_ratio(b, a, data_range=1)
    expected_nrmse = metrics.normalized_root_mse(b, a, normalization="euclidean")
    assert float(psnr(ta, tb)) == pytest.approx(expected_psnr, rel=1e-9)
    assert float(nrmse(ta, tb)) == pytest.approx(expected_nrmse, rel=1e-9)


def test_identical_inputs():
    x = torch.from_numpy(_camera())
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-12)
    assert float(psnr(x, x)) == math.inf
    assert float(nrmse(x, x)) == 0.0


def test_ssim_is_differentiable():
    a, b = _pairs()[0]
    x_hat = torch.from_numpy(a).requires_grad_(True)
    loss = 1 - ssim(x_hat, torch.from_numpy(b))
    loss.backward()
    assert torch.isfinite(x_hat.grad).all()
    assert x_hat.grad.abs().sum() > 0


def test_ssim_batch_dims():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 32, 30, generator=g, dtype=torch.float64)
    x_hat = (x + 0.1 * torch.randn(3, 32, 30, generator=g, dtype=torch.float64)).clamp(0, 1)
    batched = ssim(x_hat, x)
    assert batched.shape == (3,)
    singles = torch.stack([ssim(x_hat[i], x[i]) for i in range(3)])
    torch.testing.assert_close(batched, singles)
    assert ssim(x_hat.view(3, 1, 32, 30), x.view(3, 1, 32, 30)).shape == (3, 1)
    assert psnr(x_hat, x).shape == (3,)
    assert nrmse(x_hat, x).shape == (3,)


@pytest.mark.parametrize(("n", "obj_size"), [(16, 8), (16, 7), (15, 8), (15, 7), (9, 9), (9, 1)])
def test_crop_object_inverts_padding(n, obj_size):
    obj = torch.arange(obj_size * obj_size, dtype=torch.float64).view(obj_size, obj_size) + 1
    start = (n - obj_size) // 2
    grid = torch.zeros(2, n, n, dtype=torch.float64)
    grid[:, start : start + obj_size, start : start + obj_size] = obj
    cropped = crop_object(grid, obj_size)
    assert cropped.shape == (2, obj_size, obj_size)
    assert torch.equal(cropped, obj.expand(2, -1, -1))
    assert cropped.sum() == grid.sum()


@pytest.mark.parametrize("obj_size", [0, 17, 8.0, True])
def test_crop_object_rejects_bad_obj_size(obj_size):
    with pytest.raises(ValueError, match=r"`obj_size` must be an int in \[1, 16\]"):
        crop_object(torch.zeros(16, 16), obj_size)


def test_crop_object_rejects_non_square():
    with pytest.raises(ValueError, match=r"`x` must have shape \[\.\.\., N, N\], got \(16, 15\)"):
        crop_object(torch.zeros(16, 15), 8)


def _grid(obj: np.ndarray, n: int) -> torch.Tensor:
    start = (n - obj.shape[0]) // 2
    grid = torch.zeros(n, n, dtype=torch.float64)
    grid[start : start + obj.shape[0], start : start + obj.shape[1]] = torch.from_numpy(obj)
    return grid


def test_evaluate_complex_magnitude_scores_perfect():
    x = _grid(_camera(), 96)
    phase = torch.rand(96, 96, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_hat = (x * torch.exp(2j * math.pi * phase)).to(torch.complex64).view(1, 1, 96, 96)
    result = evaluate(x_hat, x.view(1, 1, 96, 96), obj_size=64)
    assert isinstance(result, Metrics)
    assert result.ssim == pytest.approx(1.0, abs=1e-6)
    assert result.nrmse < 1e-6
    assert set(result.as_dict()) == {"ssim", "psnr", "nrmse"}


def test_evaluate_clips_and_crops():
    cam = _camera()
    x = _grid(cam, 80)
    x_hat = x.clone()
    x_hat[x_hat > 0.9] = 5.0  # out of range: clipping brings these back to 1
    x_hat[:4] = 7.0  # outside the object crop: must be ignored
    result = evaluate(x_hat, x, obj_size=64)
    clipped = torch.from_numpy(np.where(cam > 0.9, 1.0, cam))
    obj = torch.from_numpy(cam)
    assert result.ssim == pytest.approx(float(ssim(clipped, obj)), abs=1e-12)
    assert result.psnr == pytest.approx(float(psnr(clipped, obj)), rel=1e-12)
    assert result.nrmse == pytest.approx(float(nrmse(clipped, obj)), rel=1e-12)
    assert evaluate(x, x, obj_size=64).psnr == math.inf


def test_evaluate_validation():
    x = torch.zeros(32, 32)
    with pytest.raises(ValueError, match=r"same shape, got \(1, 1, 32, 32\) and \(32, 32\)"):
        evaluate(x.view(1, 1, 32, 32), x, obj_size=16)
    bad = x.clone()
    bad[3, 3] = float("nan")
    with pytest.raises(ValueError, match="`x_hat` contains NaN/Inf"):
        evaluate(bad, x, obj_size=16)
    bad[3, 3] = float("inf")
    with pytest.raises(ValueError, match="`x` contains NaN/Inf"):
        evaluate(x, bad, obj_size=16)
    with pytest.raises(ValueError, match=r"shape \[N, N\] or \[1, 1, N, N\]"):
        evaluate(torch.zeros(2, 32, 32), torch.zeros(2, 32, 32), obj_size=16)
    with pytest.raises(ValueError, match="`obj_size` must be an int"):
        evaluate(x, x, obj_size=40)


def test_metric_validation():
    a = torch.zeros(16, 16)
    with pytest.raises(ValueError, match=r"same shape, got \(16, 16\) and \(16, 15\)"):
        ssim(a, torch.zeros(16, 15))
    with pytest.raises(ValueError, match="H, W >= 11"):
        ssim(torch.zeros(10, 16), torch.zeros(10, 16))
    with pytest.raises(ValueError, match="must be real"):
        psnr(a.to(torch.complex64), a.to(torch.complex64))
