"""The one ruler for every method: SSIM, PSNR and NRMSE on the object crop."""

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from prism.core.grid import crop_object

_WIN_SIZE = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def _gaussian_window(size: int = _WIN_SIZE, sigma: float = _SIGMA) -> torch.Tensor:
    """Return the normalised 1-D Gaussian window, shape [size], float64."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-0.5 * (coords / sigma) ** 2)
    return window / window.sum()


def _check_same_shape(x_hat: torch.Tensor, x: torch.Tensor) -> None:
    if x_hat.shape != x.shape:
        shapes = f"{tuple(x_hat.shape)} and {tuple(x.shape)}"
        raise ValueError(f"`x_hat` and `x` must have the same shape, got {shapes}")


def _check_pair(x_hat: torch.Tensor, x: torch.Tensor, *, min_size: int = 1) -> None:
    _check_same_shape(x_hat, x)
    if x.ndim < 2 or min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"inputs must be [..., H, W] with H, W >= {min_size}, got {tuple(x.shape)}"
        )
    if x_hat.is_complex() or x.is_complex():
        raise ValueError("inputs must be real; take the magnitude first (`evaluate` does)")


def ssim(x_hat: torch.Tensor, x: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity with an 11 x 11 Gaussian window (sigma 1.5), differentiable.

    Matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``: K1 = 0.01, K2 = 0.03, population covariance, mean over the
    valid region (a 5-pixel border is excluded).

    Parameters
    ----------
    x_hat, x : torch.Tensor, shape [..., H, W], real float32 or float64
        Estimate and reference, same shape; H, W >= 11. Leading dims are batch dims.
    data_range : float, keyword-only
        Dynamic range of the images.

    Returns
    -------
    torch.Tensor, shape [...], dtype of the inputs
        One SSIM per leading element (0-d for 2-D inputs).
    """
    _check_pair(x_hat, x, min_size=_WIN_SIZE)
    batch, (h, w) = x.shape[:-2], x.shape[-2:]
    window = _gaussian_window().to(x)
    kernel_y, kernel_x = window.view(1, 1, -1, 1), window.view(1, 1, 1, -1)

    def blur(img: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(img, kernel_y), kernel_x)

    a, b = x_hat.reshape(-1, 1, h, w), x.reshape(-1, 1, h, w)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    s_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return s_map.mean(dim=(-3, -2, -1)).reshape(batch)


def psnr(x_hat: torch.Tensor, x: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio 10 log10(data_range^2 / MSE) in dB; +inf when MSE == 0.

    Parameters
    ----------
    x_hat, x : torch.Tensor, shape [..., H, W], real float
        Estimate and reference, same shape. Leading dims are batch dims.
    data_range : float, keyword-only
        Dynamic range of the images.

    Returns
    -------
    torch.Tensor, shape [...], dtype of the inputs
        One PSNR per leading element (0-d for 2-D inputs).
    """
    _check_pair(x_hat, x)
    mse = ((x_hat - x) ** 2).mean(dim=(-2, -1))
    return 10 * torch.log10(data_range**2 / mse)


def nrmse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Normalised root-mean-square error ||x_hat - x||_2 / ||x||_2, a fraction.

    This is scikit-image's ``normalized_root_mse(normalization='euclidean')``.

    Parameters
    ----------
    x_hat, x : torch.Tensor, shape [..., H, W], real float
        Estimate and reference, same shape. Leading dims are batch dims.

    Returns
    -------
    torch.Tensor, shape [...], dtype of the inputs
        One NRMSE per leading element (0-d for 2-D inputs).
    """
    _check_pair(x_hat, x)
    norm = torch.linalg.vector_norm
    return norm(x_hat - x, dim=(-2, -1)) / norm(x, dim=(-2, -1))


def amplitude_misfit(predicted: torch.Tensor, measured: torch.Tensor) -> torch.Tensor:
    """The relative L1 misfit of amplitudes: ``mean|p - t| / mean|t|`` (a 0-d tensor).

    Scale-free, so one value serves every aperture and every grid: the TV fit's data term,
    PRISM's 'l1' loss and every method's reported data misfit.
    """
    return (predicted - measured).abs().mean() / measured.abs().mean().clamp_min(1e-12)


@dataclass(frozen=True)
class Metrics:
    """Scores of one reconstruction against its ground truth."""

    ssim: float
    psnr: float
    nrmse: float

    def as_dict(self) -> dict[str, float]:
        """Return ``{"ssim": ..., "psnr": ..., "nrmse": ...}``."""
        return asdict(self)


def evaluate(x_hat: torch.Tensor, x: torch.Tensor, *, obj_size: int) -> Metrics:
    """Score an estimate with the declared normalisation shared by every algorithm.

    Magnitude (``abs``, so complex estimates work), crop to the object with `crop_object`, clip
    `x_hat` to [0, 1], then SSIM, PSNR and NRMSE with data_range 1 in float64.

    Parameters
    ----------
    x_hat : torch.Tensor, shape [N, N] or [1, 1, N, N], real or complex
        Estimate on the full grid.
    x : torch.Tensor, same shape as `x_hat`, real or complex
        Ground-truth amplitude on the full grid, in [0, 1].
    obj_size : int, keyword-only
        Object side in pixels, in [1, N]; >= 11 for SSIM.

    Returns
    -------
    Metrics
        Python floats; psnr is +inf for a perfect estimate.
    """
    _check_same_shape(x_hat, x)
    if x.ndim < 2 or x.shape[:-2] not in ((), (1, 1)):
        raise ValueError(f"inputs must have shape [N, N] or [1, 1, N, N], got {tuple(x.shape)}")
    for name, t in (("x_hat", x_hat), ("x", x)):
        if not torch.isfinite(t).all():
            raise ValueError(f"`{name}` contains NaN/Inf")
    a = crop_object(x_hat.detach().abs().to(torch.float64), obj_size).clamp(0.0, 1.0)
    b = crop_object(x.detach().abs().to(torch.float64), obj_size)
    return Metrics(
        ssim=float(ssim(a, b, data_range=1.0)),
        psnr=float(psnr(a, b, data_range=1.0)),
        nrmse=float(nrmse(a, b)),
    )


def scorer(x: torch.Tensor, *, obj_size: int) -> Callable[[torch.Tensor], dict[str, float]]:
    """A function scoring an estimate against the ground truth ``x`` with :func:`evaluate`.

    What a stage hands a solver as ``score``, so the solver never holds the ground truth.
    """
    return lambda x_hat: evaluate(x_hat, x, obj_size=obj_size).as_dict()


def square_scorer(x: torch.Tensor, *, obj_size: int) -> Callable[[torch.Tensor], dict[str, float]]:
    """As :func:`scorer`, for estimates given as the object square (any shape of its pixels).

    ``x`` is the ground truth on the full grid; its object square is cut once.
    """
    truth = crop_object(x, obj_size)
    return lambda square: evaluate(square.reshape(truth.shape), truth, obj_size=obj_size).as_dict()
