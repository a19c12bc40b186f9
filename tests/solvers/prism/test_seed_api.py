"""The seed's API, called as the seed documents it: every argument by position."""

import inspect

import pytest
import torch
from conftest import RecordingWriter

from prism.solvers.prism import (
    DecoderConfig,
    DeepDecoder,
    LossAggregator,
    PRISMTrainer,
    TelescopeAggregator,
    TrainingConfig,
    create_scheduler,
)

SEED_PARAMETERS = {  # the seed's names; `args` -> `config` and `image` -> `intensities` kept
    PRISMTrainer.__init__: [
        "self", "model", "optimizer", "scheduler", "telescope_agg", "config", "device",
        "log_dir", "writer", "use_amp",
    ],
    PRISMTrainer.run_initialization: ["self", "measurement", "center", "image_gt", "figure"],
    PRISMTrainer.run_progressive_training: [
        "self", "sample_centers", "intensities", "image_gt", "samples_per_line_meas", "figure",
        "pattern_metadata", "pattern_spec",
    ],
    PRISMTrainer.retry_failed_samples: [
        "self", "sample_centers", "intensities", "image_gt", "samples_per_line_meas",
        "criterion",
    ],
    create_scheduler: ["optimizer", "scheduler_type", "kwargs"],
}  # fmt: skip


@pytest.mark.parametrize("function", SEED_PARAMETERS, ids=lambda f: f.__qualname__)
def test_the_seed_parameters_come_first_in_the_seeds_order(function):
    names = list(inspect.signature(function).parameters)
    assert names[: len(SEED_PARAMETERS[function])] == SEED_PARAMETERS[function]


def test_the_seed_calls_run_positionally_and_return_what_it_documents(problem, tmp_path):
    model = DeepDecoder(problem.image_size, problem.obj_size, DecoderConfig(depth=4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = create_scheduler(optimizer, "plateau", patience=1)
    aggregator = TelescopeAggregator(problem.operator, mode="replay")
    config = TrainingConfig(steps_per_epoch=10, max_epochs=1, init_steps=5, schedule="progressive")
    writer = RecordingWriter()
    trainer = PRISMTrainer(
        model, optimizer, scheduler, aggregator, config, "cpu", tmp_path, writer, False
    )

    reconstruction, figure = trainer.run_initialization(
        problem.y[0], problem.centers[0], problem.x, None
    )
    assert reconstruction.shape == (1, 1, problem.obj_size, problem.obj_size) and figure is None

    args = (problem.centers, problem.y, problem.x, 1)
    result = trainer.run_progressive_training(*args, None, {"kind": "fermat"}, "fermat-8")
    assert set(result) == {
        "history", "failed", "reconstruction", "metrics", "wall_time_s", "pattern_metadata",
        "pattern_spec",
    }  # fmt: skip
    assert len(result["history"]) == len(problem.centers)
    assert result["pattern_metadata"] == {"kind": "fermat"} and result["pattern_spec"] == "fermat-8"
    assert 0 < result["metrics"]["ssim"] <= 1 and writer.scalars
    assert (tmp_path / "checkpoint.pt").exists()

    failed = len(result["failed"])
    assert failed > 0  # 10 steps a sample: some run out of budget
    recovered = trainer.retry_failed_samples(*args, LossAggregator("l2"))
    assert isinstance(recovered, int) and 0 <= recovered <= failed
    assert len(trainer.failed) == failed - recovered


def test_the_seed_imports_the_trainer_from_where_it_documented_it():
    from prism.core.trainers import PRISMTrainer as documented
    from prism.core.trainers import create_scheduler as documented_scheduler

    assert documented is PRISMTrainer and documented_scheduler is create_scheduler


def test_an_unknown_scheduler_is_refused_with_the_valid_types():
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="'plateau', 'cosine_warm_restarts'.*got 'step'"):
        create_scheduler(optimizer, "step")
