import pytest
import torch
from skimage import data

from prism.core.detector import Detector
from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import Telescope
from prism.core.sampling import make_pattern
from prism.core.simulation import prepare_object, simulate_measurements

N, OBJ, DIAMETER, SAMPLES = 64, 32, 12, 8


class Problem:
    """A tiny noiseless problem: camera object, Fermat points, simulated detector images.

    ``x`` is the object on the ``N x N`` grid, ``square`` its ``obj_size`` square.
    """

    def __init__(self, n_samples: int = SAMPLES) -> None:
        self.image_size, self.obj_size = N, OBJ
        self.x = prepare_object(data.camera(), obj_size=OBJ, image_size=N)
        self.square = crop_object(self.x, OBJ)
        self.telescope = Telescope(N, sample_diameter=DIAMETER)
        self.detector = Detector(self.telescope, OBJ)
        self.centers = make_pattern("fermat", n_samples, r_max=N / 4)
        self.y = simulate_measurements(self.x, self.centers, detector=self.detector)
        self.data = MeasurementSet.from_detector(
            self.detector, self.centers, self.y, ground_truth=self.x
        )
        self.operator = MeasurementOperator(self.data)


@pytest.fixture(scope="session")
def problem() -> Problem:
    return Problem()


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    torch.set_num_threads(1)
    yield
