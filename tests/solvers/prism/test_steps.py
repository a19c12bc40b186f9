import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.io import file_sha256, load_checkpoint
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
