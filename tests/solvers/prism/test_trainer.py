from dataclasses import replace

import pytest
import torch
from conftest import RecordingWriter

from prism.metrics import evaluate
from prism.solvers.framing import single_aperture_image
from prism.solvers.prism.aggregator import TelescopeAggregator
from prism.solvers.prism.decoder import DecoderEnsemble, DeepDecoder
from prism.solvers.prism.losses import LossAggregator
from prism.solvers.prism.observers import CHECKPOINT_NAME
from prism.solvers.prism.settings import (
    DecoderConfig,
    RetryConfig,
    TrainingConfig,
    create_scheduler,
)
from prism.solvers.prism.trainer import PRISMTrainer

FAST = TrainingConfig(
    steps_per_epoch=10,
    max_epochs=5,
    tolerance=0.01,
    window=10,
    patience=1,
    init_steps=100,
    schedule="progressive",
)
FAST_ALL_AT_ONCE = replace(FAST, schedule="all_at_once")
NEVER_STALLS = 10_000  # a patience the budget always runs out before
L1 = LossAggregator("l1")  # the retry's default loss


def make_trainer(
    problem, config=FAST, *, mode="replay", scheduler="plateau", decoder=None, **kwargs
):
    model = DeepDecoder(problem.image_size, problem.obj_size, decoder or DecoderConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = create_scheduler(optimizer, scheduler, patience=1) if scheduler else None
    agg = TelescopeAggregator(problem.operator, mode=mode)
    return PRISMTrainer(model, optimizer, sched, agg, config, "cpu", **kwargs)


def run(trainer, problem, n=None):
    n = len(problem.centers) if n is None else n
    trainer.run_initialization(problem.y[0], problem.centers[0], problem.x)
    return trainer.run_progressive_training(problem.centers[:n], problem.y[:n], problem.x, 1)


@pytest.mark.parametrize(
    ("config", "mode", "records"),
    [(FAST, "replay", 8), (FAST, "union", 8), (FAST_ALL_AT_ONCE, "replay", 1)],
    ids=["progressive-replay", "progressive-union", "all_at_once"],
)
def test_end_to_end_beats_the_single_aperture_image(problem, config, mode, records):
    result = run(make_trainer(problem, config, mode=mode), problem)
    single = evaluate(single_aperture_image(problem.x, problem.telescope), problem.x, obj_size=32)
    assert result["metrics"]["ssim"] > single.ssim + 0.3
    assert len(problem.centers) == 8 and len(result["history"]) == records
    assert result["reconstruction"].shape == (1, 1, problem.obj_size, problem.obj_size)
    for failure in result["failed"]:
        assert failure["reason"] == "budget"


def test_same_config_gives_a_bit_identical_reconstruction(problem):
    first = run(make_trainer(problem), problem)["reconstruction"]
    second = run(make_trainer(problem), problem)["reconstruction"]
    assert torch.equal(first, second)


@pytest.mark.parametrize("mode", ["replay", "union"])
def test_resume_from_checkpoint_is_bit_identical(problem, tmp_path, mode):
    whole = run(make_trainer(problem, mode=mode), problem)
    stopped = make_trainer(problem, mode=mode, log_dir=tmp_path)
    run(stopped, problem, n=3)
    resumed = make_trainer(problem, mode=mode)
    resumed.resume(tmp_path / CHECKPOINT_NAME)
    assert resumed.next_sample == 3
    result = resumed.run_progressive_training(problem.centers, problem.y, problem.x, 1)
    assert torch.equal(result["reconstruction"], whole["reconstruction"])
    assert _without_times(result["history"]) == _without_times(whole["history"])


def _without_times(history):
    return [{k: v for k, v in record.items() if k != "time_per_sample"} for record in history]


def test_checkpoint_of_another_config_is_refused(problem, tmp_path):
    run(make_trainer(problem, log_dir=tmp_path), problem, n=1)
    other = make_trainer(problem, replace(FAST, tolerance=0.5))
    with pytest.raises(ValueError, match="another training config.*tolerance"):
        other.resume(tmp_path / CHECKPOINT_NAME)


def test_damaged_checkpoint_is_refused(problem, tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="damaged"):
        make_trainer(problem).resume(path)


def test_non_finite_data_fails_the_sample_and_the_run_goes_on(problem):
    y = problem.y.clone()
    y[2, 5, 5] = float("nan")
    trainer = make_trainer(problem)
    trainer.run_initialization(problem.y[0], problem.centers[0], problem.x)
    result = trainer.run_progressive_training(problem.centers, y, problem.x, 1)
    reasons = {failure["index"]: failure["reason"] for failure in result["failed"]}
    assert reasons[2] == "non-finite loss"
    assert len(result["history"]) == len(problem.centers)
    assert torch.isfinite(result["reconstruction"]).all()


def test_writer_receives_scalars_and_images_per_sample(problem):
    writer = RecordingWriter()
    run(make_trainer(problem, writer=writer), problem, n=3)
    tags = {tag for tag, _, _ in writer.scalars}
    expected = {"loss_old", "loss_new", "ssim", "psnr", "nrmse", "time_per_sample", "lr"}
    assert expected <= tags
    assert sorted({step for _, _, step in writer.scalars}) == [0, 1, 2]
    size = problem.obj_size
    assert writer.images == [("reconstruction", (1, size, size), step) for step in range(3)]


def test_a_fit_that_ran_out_of_budget_is_refitted_by_the_retry_and_counted(problem):
    # With a 4-stage decoder the first 80 steps improve by 3 % or more a window (measured):
    # the fit runs out of budget. The refit, at 1e-4 times the learning rate, improves by
    # 0.3 % a window: it stalls after two windows (20 steps).
    config = replace(FAST_ALL_AT_ONCE, max_epochs=1, tolerance=1e-2, retry_lr_factor=1e-4)
    retry = RetryConfig(budget_fraction=1.0)
    trainer = make_trainer(
        problem, config, scheduler=None, decoder=DecoderConfig(depth=4), retry=retry
    )
    result = run(trainer, problem)
    assert [failure["reason"] for failure in result["failed"]] == ["budget"]
    assert trainer.stop_reason == "budget"
    # the seed's call: positional, the retry's loss passed as `criterion`
    recovered = trainer.retry_failed_samples(problem.centers, problem.y, problem.x, 1, L1)
    assert recovered == 1 and trainer.failed == []
    assert trainer.stop_reason == "rule"  # the refit ended on the rule, before its budget
    budget = len(problem.centers) * config.step_budget
    assert trainer.steps_run == budget + 2 * config.window - 1
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_a_retry_takes_its_fraction_of_the_step_budget(problem, fraction):
    config = replace(FAST_ALL_AT_ONCE, patience=NEVER_STALLS)  # every fit fails
    retry = RetryConfig(budget_fraction=fraction)
    trainer = make_trainer(problem, config, scheduler=None, retry=retry)
    assert len(run(trainer, problem, n=4)["failed"]) == 1
    steps = []
    trainer.fitter.step = lambda loss: steps.append(loss)  # count, do not descend
    trainer.retry_failed_samples(problem.centers[:4], problem.y[:4], problem.x, 1, L1)
    assert len(steps) == round(fraction * config.step_budget) * 4


def test_a_retry_budget_outside_zero_to_one_is_refused():
    for fraction in (0, 1.5):
        with pytest.raises(
            ValueError, match=f"`budget_fraction` must be in \\(0, 1\\], got {fraction}"
        ):
            RetryConfig(budget_fraction=fraction)


def test_live_figure_is_drawn(problem):
    from prism.plotting import new_live_figure

    trainer = make_trainer(problem)
    _, figure = trainer.run_initialization(problem.y[0], problem.centers[0], problem.x, figure=None)
    assert figure is None
    figure = new_live_figure()
    _, drawn = trainer.run_initialization(problem.y[0], problem.centers[0], problem.x, figure)
    assert drawn is figure and drawn.axes[0].images


def test_image_must_match_the_samples(problem):
    with pytest.raises(
        ValueError, match="`intensities` must hold one \\[26, 26\\] detector intensity per sample"
    ):
        make_trainer(problem).run_progressive_training(problem.centers, problem.y[:3], None, 1)


def test_create_scheduler():
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    plateau = create_scheduler(optimizer, "plateau", factor=0.5)
    assert isinstance(plateau, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert plateau.factor == 0.5
    cosine = create_scheduler(optimizer, "cosine_warm_restarts", T_0=7)
    assert cosine.T_0 == 7
    with pytest.raises(ValueError, match="'plateau', 'cosine_warm_restarts', got 'step'"):
        create_scheduler(optimizer, "step")


def test_support_initialization_and_amp_run(problem):
    config = replace(FAST, steps_per_epoch=10, max_epochs=1, init_target="support", init_steps=20)
    trainer = make_trainer(problem, config, use_amp=True)
    reconstruction, _ = trainer.run_initialization(problem.y[0], problem.centers[0], None)
    centre = problem.obj_size // 2
    assert reconstruction[0, 0, centre, centre] > 2 * reconstruction[0, 0, 0, 0]
    result = trainer.run_progressive_training(problem.centers[:2], problem.y[:2], None, 1)
    assert result["metrics"] is None and torch.isfinite(result["reconstruction"]).all()


def test_checkpoint_of_another_old_mode_is_refused(problem, tmp_path):
    run(make_trainer(problem, log_dir=tmp_path), problem, n=1)
    with pytest.raises(ValueError, match="old_mode 'replay'.*'union'"):
        make_trainer(problem, mode="union").resume(tmp_path / CHECKPOINT_NAME)


def test_checkpoint_of_another_decoder_is_refused(problem, tmp_path):
    run(make_trainer(problem, log_dir=tmp_path), problem, n=1)
    model = DeepDecoder(problem.image_size, problem.obj_size, DecoderConfig(channels=32))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    agg = TelescopeAggregator(problem.operator, mode="replay")
    other = PRISMTrainer(model, optimizer, None, agg, FAST, "cpu")
    with pytest.raises(ValueError, match="another model architecture"):
        other.resume(tmp_path / CHECKPOINT_NAME)


def test_all_at_once_fits_every_sample_in_one_go(problem):
    config = replace(FAST_ALL_AT_ONCE, steps_per_epoch=10, max_epochs=1, patience=NEVER_STALLS)
    trainer = make_trainer(problem, config)
    result = run(trainer, problem)
    n = len(problem.centers)
    assert [record["index"] for record in result["history"]] == [n - 1]
    assert result["history"][0]["steps"] == n * config.step_budget
    assert result["history"][0]["loss_old"] == 0
    predicted, target = trainer.telescope_agg.predict_all(result["reconstruction"])
    assert LossAggregator("l1").distance(predicted, target) == pytest.approx(
        result["history"][0]["loss_new"]
    )


@pytest.mark.parametrize("reset", [False, True])
def test_optimizer_moments_are_reset_per_sample_only_when_asked(problem, reset):
    config = replace(
        FAST, steps_per_epoch=5, max_epochs=1, patience=NEVER_STALLS, reset_optimizer=reset
    )
    trainer = make_trainer(problem, config, scheduler=None)
    result = run(trainer, problem, n=3)
    adam_steps = next(iter(trainer.optimizer.state.values()))["step"].item()
    last_fit = result["history"][-1]["steps"]
    earlier = config.init_steps + sum(record["steps"] for record in result["history"][:-1])
    assert adam_steps == (last_fit if reset else earlier + last_fit)


def test_samples_other_than_the_operators_are_refused(problem):
    trainer = make_trainer(problem)
    moved = problem.centers + 1
    with pytest.raises(ValueError, match="must give the aggregator's measurement operator"):
        trainer.run_progressive_training(moved, problem.y, None, 1)


def test_a_long_fit_reports_its_progress_on_one_step_axis(problem):
    progress = RecordingWriter()
    config = replace(FAST_ALL_AT_ONCE, steps_per_epoch=5, max_epochs=1, patience=NEVER_STALLS)
    trainer = make_trainer(problem, config, progress=progress, progress_interval_s=0)
    result = run(trainer, problem)
    steps = [step for tag, _, step in progress.scalars if tag == "loss"]
    budget = len(problem.centers) * config.step_budget
    assert steps == list(range(1, budget + 1))  # every step at interval 0
    tags = {tag for tag, _, _ in progress.scalars}
    assert tags == {"loss", "lr", "elapsed_s", "eta_s"}
    last_eta = [value for tag, value, _ in progress.scalars if tag == "eta_s"][-1]
    assert last_eta == 0 and result["history"][0]["steps"] == budget


def test_progress_counts_on_across_fits_and_checkpoints(problem, tmp_path):
    config = replace(FAST, steps_per_epoch=5, max_epochs=1, patience=NEVER_STALLS)
    first = RecordingWriter()
    run(make_trainer(problem, config, log_dir=tmp_path, progress=first), problem, n=2)
    steps = [step for tag, _, step in first.scalars if tag == "loss"]
    assert steps == [5, 10]  # one report where each fit ended (interval 10 s)
    later = RecordingWriter()
    resumed = make_trainer(problem, config, progress=later)
    resumed.resume(tmp_path / CHECKPOINT_NAME)
    resumed.run_progressive_training(problem.centers[:3], problem.y[:3], None, 1)
    assert [step for tag, _, step in later.scalars if tag == "loss"] == [15]


def test_an_ensemble_fits_its_members_independently_and_returns_their_mean(problem):
    """Members share nothing and the optimiser descends the sum of their losses, so each
    follows the fit it would make alone."""
    config = replace(FAST_ALL_AT_ONCE, patience=NEVER_STALLS)
    ensemble = make_ensemble_trainer(problem, config, members=2)
    result = run(ensemble, problem)
    members = ensemble._estimate().detach()
    assert torch.equal(result["reconstruction"], members.mean(dim=0, keepdim=True))
    for k, member in enumerate(ensemble.model.members):
        alone = make_trainer(problem, config, scheduler=None, decoder=member.config)
        run(alone, problem)
        assert torch.allclose(members[k : k + 1], alone.reconstruction, atol=1e-6)
    assert not torch.allclose(members[0], members[1], atol=1e-2)


def test_an_ensemble_resumes_from_its_checkpoint_bit_identically(problem, tmp_path):
    whole = run(make_ensemble_trainer(problem, FAST, members=2), problem)
    stopped = make_ensemble_trainer(problem, FAST, members=2, log_dir=tmp_path)
    run(stopped, problem, n=3)
    resumed = make_ensemble_trainer(problem, FAST, members=2)
    resumed.resume(tmp_path / CHECKPOINT_NAME)
    result = resumed.run_progressive_training(problem.centers, problem.y, problem.x, 1)
    assert torch.equal(result["reconstruction"], whole["reconstruction"])


def make_ensemble_trainer(problem, config, *, members, **kwargs):
    model = DecoderEnsemble(problem.image_size, problem.obj_size, DecoderConfig(members=members))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    agg = TelescopeAggregator(problem.operator, mode="replay")
    return PRISMTrainer(model, optimizer, None, agg, config, "cpu", **kwargs)
