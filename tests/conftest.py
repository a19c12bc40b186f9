import pytest
import torch
from skimage import data

from prism.config import NoiseConfig, PatternConfig
from prism.core.detector import Detector
from prism.core.experiment import measure
from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import Telescope
from prism.core.simulation import prepare_object

N, OBJ, DIAMETER, SAMPLES = 64, 32, 12, 8


def moon_set(
    n: int, diameter: float, *, obj_size: int = 16, r_max: float = N / 2, snr_db=None
) -> MeasurementSet:
    """Moon measured at ``n`` Fermat points with apertures of ``diameter`` k-pixels (seed 0)."""
    x = prepare_object(data.moon(), obj_size=obj_size, image_size=N)
    pattern = PatternConfig(kind="fermat", r_max=r_max)
    return measure(x, obj_size, diameter, pattern, NoiseConfig(snr_db=snr_db), n_samples=n)


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
        pattern = PatternConfig(kind="fermat", r_max=N / 4)
        self.data = measure(self.x, OBJ, DIAMETER, pattern, NoiseConfig(), n_samples=n_samples)
        self.centers, self.y = self.data.centers, self.data.intensities
        self.operator = MeasurementOperator(self.data)


class RecordingWriter:
    """A fake writer (``add_scalar``, ``add_image``) that records what it is given.

    ``scalars`` holds ``(tag, value, step)``, ``images`` ``(tag, shape, step)``, and ``calls``
    both kinds in order as ``("scalar" or "image", tag, step)``.
    """

    def __init__(self) -> None:
        self.scalars, self.images, self.calls = [], [], []

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))
        self.calls.append(("scalar", tag, step))

    def add_image(self, tag: str, image, step: int) -> None:
        self.images.append((tag, None if image is None else tuple(image.shape), step))
        self.calls.append(("image", tag, step))

    def values(self, tag: str) -> list[float]:
        """Every value logged under ``tag``, in order."""
        return [value for name, value, _ in self.scalars if name == tag]


@pytest.fixture(scope="session")
def problem() -> Problem:
    return Problem()


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    torch.set_num_threads(1)
    yield
