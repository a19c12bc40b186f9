"""PRISM's stopping rule: the objective's stagnation or the noise floor, never a fixed loss."""

from dataclasses import replace

import torch
from conftest import RecordingWriter
from skimage import data

from prism.config import NoiseConfig, PatternConfig
from prism.core.experiment import measure
from prism.core.grid import crop_object, pad_to_grid
from prism.core.operator import MeasurementSet
from prism.core.optics import amplitude
from prism.core.simulation import prepare_object
from prism.solvers.prism import build_trainer, resolve
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.settings import PrismConfig, TrainingConfig

N, OBJ, DIAMETER, SAMPLES = 64, 32, 12, 8
OLD_THRESHOLD = 0.01  # the absolute loss at which PRISM used to stop
RULE = TrainingConfig(steps_per_epoch=50, max_epochs=50, window=50, patience=2)


def measurement_set(x: torch.Tensor, *, snr_db=None) -> MeasurementSet:
    pattern = PatternConfig(kind="fermat", r_max=N / 4)
    noise = NoiseConfig(snr_db=snr_db)
    return measure(x, OBJ, DIAMETER, pattern, noise, n_samples=SAMPLES)


def fit(measurements: MeasurementSet, training: TrainingConfig):
    """An all-at-once PRISM fit: its trainer, and the loss of every step (interval 0)."""
    settings = resolve(PrismConfig(training=training), measurements)
    losses = RecordingWriter()
    trainer = build_trainer(measurements, settings, progress=losses)
    trainer.progress.interval_s = 0
    trainer.run_initialization(measurements.intensities[0], measurements.centers[0], None)
    trainer.run_progressive_training(measurements.centers, measurements.intensities, None, 1)
    return trainer, losses.values("loss")


def misfits(trainer, measurements: MeasurementSet) -> torch.Tensor:
    """Each aperture's own normalised L1 amplitude misfit."""
    square = trainer.reconstruction.reshape(OBJ, OBJ)
    operator = trainer.telescope_agg.operator
    predicted = amplitude(operator.forward(square)).detach()
    measured = amplitude(measurements.intensities)
    distance = LossAggregator("l1").distance
    return torch.tensor([distance(p, m).item() for p, m in zip(predicted, measured, strict=True)])


def test_the_rule_fits_on_where_the_old_threshold_stopped_with_weak_apertures_far_off():
    """A bright, nearly flat object: the DC aperture carries almost all of the signal.

    The loss over every measurement is the mean amplitude error over the mean measured
    amplitude, so it falls below the old threshold as soon as the DC apertures fit, while
    the weak apertures (the detail) are still far off. The rule fits on until the loss
    stops improving.
    """
    detail = crop_object(prepare_object(data.camera(), obj_size=OBJ, image_size=N), OBJ)
    x = pad_to_grid(0.8 + 0.1 * detail, N)  # within the decoder's output range
    measurements = measurement_set(x)
    energy = measurements.intensities.sum(dim=(1, 2))
    strong = 2  # the apertures on and next to DC (the second overlaps the first)
    assert energy[:strong].sum() > 0.95 * energy.sum()  # the six others are weak
    trainer, losses = fit(measurements, RULE)
    old_stop = next(step for step, loss in enumerate(losses) if loss < OLD_THRESHOLD)
    assert trainer.stop_reason == "rule" and trainer.steps_run < SAMPLES * RULE.step_budget
    assert trainer.steps_run > 2 * old_stop
    # the same fit, cut where the old threshold stopped it (the budget counts per aperture)
    cut = replace(RULE, patience=10**6, steps_per_epoch=1, max_epochs=-(-old_stop // SAMPLES))
    early, _ = fit(measurements, cut)
    weak_then = misfits(early, measurements)[strong:]
    weak_now = misfits(trainer, measurements)[strong:]
    assert weak_now.mean() < 0.5 * weak_then.mean()


def test_a_noisy_fit_stops_at_the_noise_floor():
    x = prepare_object(data.camera(), obj_size=OBJ, image_size=N)
    noisy = measurement_set(x, snr_db=20)
    settings = resolve(PrismConfig(training=RULE), noisy)
    assert settings.training.floor > 0
    trainer, losses = fit(noisy, RULE)
    assert trainer.stop_reason == "noise floor"
    assert losses[-1] > settings.training.floor_stop  # the last step taken was above it
    assert trainer.history[-1]["loss_new"] <= settings.training.floor_stop
    assert trainer.steps_run < SAMPLES * RULE.step_budget


def test_without_noise_stop_noisy_data_stop_on_the_rule_or_the_budget():
    x = prepare_object(data.camera(), obj_size=OBJ, image_size=N)
    trainer, _ = fit(measurement_set(x, snr_db=20), replace(RULE, noise_stop=None))
    assert trainer.stop_reason in ("rule", "budget")
