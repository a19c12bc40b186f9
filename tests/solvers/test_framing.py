import torch

from prism.core.detector import Detector
from prism.core.sampling import line_points
from prism.core.simulation import simulate_measurements
from prism.metrics import evaluate
from prism.solvers.framing import single_aperture_image, synthetic_aperture_image


def test_single_aperture_is_the_dc_measurement_amplitude(problem):
    dc = torch.zeros(1, 1, 2)
    full = Detector(problem.telescope, problem.obj_size, full_grid=True)
    intensity = simulate_measurements(problem.x, dc, detector=full)[0]
    image = single_aperture_image(problem.x, problem.telescope)
    assert torch.allclose(image.square(), intensity, atol=1e-6)


def test_synthetic_aperture_over_everything_is_the_object(problem):
    size = problem.image_size
    grid = torch.stack(torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij"), -1)
    every_pixel = (grid - size // 2).reshape(-1, 2).float()
    image = synthetic_aperture_image(problem.x, problem.telescope, every_pixel)
    assert torch.allclose(image, problem.x, atol=1e-5)


def test_more_coverage_sees_more(problem):
    points = line_points(problem.centers, 1)
    single = evaluate(single_aperture_image(problem.x, problem.telescope), problem.x, obj_size=32)
    synthetic = synthetic_aperture_image(problem.x, problem.telescope, points)
    assert evaluate(synthetic, problem.x, obj_size=32).ssim > single.ssim + 0.2
