import dataclasses

import pytest
import torch

from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import fft2c, power
from prism.core.sampling import make_pattern
from prism.core.simulation import simulate_measurements


@pytest.fixture(scope="module")
def lines(problem):
    centers = make_pattern("fermat", 5, r_max=problem.image_size / 4, line_length=6, seed=1)
    y = simulate_measurements(
        problem.x, centers, detector=problem.detector, samples_per_line_meas=3
    )
    data = MeasurementSet.from_detector(problem.detector, centers, y, samples_per_line_meas=3)
    return data, MeasurementOperator(data)


def test_forward_gives_the_simulated_intensities(problem, lines):
    torch.testing.assert_close(problem.operator.forward(problem.square), problem.y)
    data, operator = lines
    torch.testing.assert_close(operator.forward(problem.square), data.intensities)


def test_a_subset_of_samples_is_those_rows_of_the_forward_model(lines, problem):
    _, operator = lines
    everything = operator.forward(problem.square)
    torch.testing.assert_close(operator.intensity(problem.square, [3, 0]), everything[[3, 0]])


def test_the_detector_steps_are_adjoint(lines):
    _, operator = lines
    w, m = operator.detector.window, operator.detector_size
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, w, w, dtype=torch.complex64, generator=generator)
    b = torch.randn(3, m, m, dtype=torch.complex64, generator=generator)
    left = torch.vdot(operator.to_detector(a).flatten(), b.flatten())
    right = torch.vdot(a.flatten(), operator.from_detector(b).flatten())
    torch.testing.assert_close(left, right, rtol=1e-4, atol=1e-4)


def test_the_spectral_steps_reproduce_a_measurement(lines, problem):
    data, operator = lines
    spectrum = fft2c(problem.x.to(torch.complex64))
    fields = operator.to_detector(operator.exit_spectra(spectrum, 2))
    torch.testing.assert_close(power(fields).mean(dim=0), data.intensities[2], atol=1e-6, rtol=1e-4)


def test_an_update_inside_the_apertures_only(lines, problem):
    _, operator = lines
    spectrum = torch.zeros(problem.image_size, problem.image_size, dtype=torch.complex64)
    w = operator.detector.window
    operator.add_to_spectrum(spectrum, 1, torch.ones(3, w, w, dtype=torch.complex64))
    touched = spectrum.abs() > 0
    assert touched.any() and not (touched & ~operator.coverage([1])).any()
    assert spectrum.abs().max() <= 1 + 1e-6  # overlapping apertures share the update


def test_coverage_and_noise_model(problem, lines):
    data, operator = lines
    assert torch.equal(operator.coverage(), problem.telescope.union_mask(operator.points))
    assert not operator.coverage([]).any()
    generator = torch.Generator().manual_seed(1)
    assert not operator.noisy and torch.equal(
        operator.add_noise(data.intensities, generator), data.intensities
    )
    noisy = MeasurementOperator(dataclasses.replace(data, snr_db=20.0))
    assert noisy.noisy and not torch.equal(
        noisy.add_noise(data.intensities, generator), data.intensities
    )


def test_band_amplitude_is_the_field_through_the_union(problem):
    operator = problem.operator
    band = operator.band([0, 1, 2])
    amplitude = operator.band_amplitude(problem.square, band)
    assert amplitude.shape == (1, band.size, band.size) and band.size % 2 == 0
    # Parseval on the band: the field's energy is the spectrum's energy inside the union
    inside = fft2c(problem.x.to(torch.complex64)) * operator.coverage([0, 1, 2])
    torch.testing.assert_close(
        amplitude.square().sum(), inside.abs().square().sum(), rtol=1e-4, atol=1e-4
    )


def test_without_ground_truth_keeps_the_measurements(problem):
    blind = problem.data.without_ground_truth()
    assert blind.ground_truth is None and torch.equal(blind.intensities, problem.data.intensities)
    assert crop_object(problem.data.ground_truth, problem.obj_size).shape == problem.square.shape
