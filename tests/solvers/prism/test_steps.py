import pytest
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.io import file_sha256, load_checkpoint
from prism.solvers import find
from prism.solvers.prism import build_trainer, resolve
from prism.solvers.prism.settings import PrismConfig, TrainingConfig
from prism.solvers.prism.steps import prism_initialize, prism_train
from prism.stages.data import prepare, simulate

PHYSICS = PhysicsConfig(image_size=32, obj_size=16, sample_diameter=8)
TRAINING = TrainingConfig(steps_per_epoch=5, max_epochs=2, init_steps=10, schedule="progressive")


def test_a_damaged_progress_checkpoint_restarts_from_the_initialization(tmp_path, capsys):
    prepare("moon", tmp_path / "moon.npz", PHYSICS)
    pattern = PatternConfig(kind="fermat", r_max=12)
    data = simulate(
        tmp_path / "moon.npz",
        tmp_path / "m.npz",
        pattern=pattern,
        noise=NoiseConfig(),
        n_samples=3,
        seed=0,
    )
    config = resolve(PrismConfig(training=TRAINING), data)
    init = tmp_path / "init.pt"
    prism_initialize(data, init, build_trainer(data, config))
    prism_train(data, init, tmp_path / "a.pt", build_trainer(data, config, log_dir=tmp_path / "a"))
    damaged = tmp_path / "b"
    damaged.mkdir()
    (damaged / "checkpoint.pt").write_bytes(b"cut off by a crash")
    (damaged / "init.sha256").write_text(file_sha256(init))
    prism_train(data, init, tmp_path / "b.pt", build_trainer(data, config, log_dir=damaged))
    assert "is damaged" in capsys.readouterr().err
    clean, again = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert torch.equal(clean["reconstruction_crop"], again["reconstruction_crop"])
    assert load_checkpoint(damaged / "checkpoint.pt")["next_sample"] == 3


def test_records_are_scored_through_score_as_with_the_ground_truth(problem):
    training = TrainingConfig(
        schedule="progressive", steps_per_epoch=5, max_epochs=1, init_steps=5, patience=99
    )
    config = resolve(PrismConfig(training=training), problem.data)
    unseen, score = find("prism").given(problem.data)
    assert unseen.ground_truth is None and score is not None
    with_truth = build_trainer(problem.data, config)
    with_score = build_trainer(unseen, config, score=score)
    for trainer, data in ((with_truth, problem.data), (with_score, unseen)):
        trainer.run_initialization(data.intensities[0], data.centers[0], data.ground_truth)
        trainer.run_progressive_training(
            data.centers[:3], data.intensities[:3], data.ground_truth, 1
        )
    first, second = with_truth.history, with_score.history
    assert [r["ssim"] for r in first] == pytest.approx([r["ssim"] for r in second], abs=1e-6)
    assert len(first) == 3 and "psnr" in second[-1]
