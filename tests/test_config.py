import pytest

from prism.config import PatternConfig, from_mapping
from prism.solvers.prism.settings import DecoderConfig, PrismConfig, TrainingConfig
from prism.study import algorithm_settings, check_study, method_settings


def test_defaults_and_budget():
    config = TrainingConfig(steps_per_epoch=7, max_epochs=3)
    assert config.step_budget == 21
    assert config.as_dict()["loss_type"] == "l1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("loss_type", "huber", "`loss_type` must be one of 'l1', 'l2', 'ssim', got 'huber'"),
        ("old_mode", "all", "`old_mode` must be one of 'union', 'replay', got 'all'"),
        ("init_target", "noise", "`init_target` must be one of"),
        ("tolerance", 0.0, "`tolerance` must be a number > 0, got 0.0"),
        ("patience", 0, "`patience` must be an integer > 0, got 0"),
        ("floor", -0.1, "`floor` must be a number >= 0, got -0.1"),
        ("steps_per_epoch", 2.5, "`steps_per_epoch` must be an integer > 0, got 2.5"),
        ("max_epochs", -1, "`max_epochs` must be an integer > 0, got -1"),
        ("retry_lr_factor", 2.0, r"`retry_lr_factor` must be in \(0, 1\], got 2.0"),
        ("schedule", "greedy", "`schedule` must be one of 'progressive', 'all_at_once'"),
        ("noise_stop", 0.0, "`noise_stop` must be a number > 0, got 0.0"),
    ],
)
def test_validation_names_the_setting(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{field: value})


def test_the_trainer_takes_only_a_training_config(problem):
    import torch

    from prism.solvers.prism.aggregator import TelescopeAggregator
    from prism.solvers.prism.decoder import DeepDecoder
    from prism.solvers.prism.trainer import PRISMTrainer

    model = DeepDecoder(problem.image_size, problem.obj_size, DecoderConfig())
    optimizer = torch.optim.Adam(model.parameters())
    aggregator = TelescopeAggregator(problem.operator)
    with pytest.raises(TypeError, match="`config` must be a TrainingConfig, got dict"):
        PRISMTrainer(model, optimizer, None, aggregator, {"tolerance": 0.2}, "cpu")


def test_decoder_config_validation():
    with pytest.raises(ValueError, match="`depth` must be an integer > 0, got 0"):
        DecoderConfig(depth=0)


def test_pattern_config_points_lines_and_radius():
    points = PatternConfig()
    assert points.points_per_sample == 1 and points.radius(128) == 64
    lines = PatternConfig(kind="random", r_max=30, line_length=12, samples_per_line_meas=5)
    assert lines.points_per_sample == 5 and lines.radius(128) == 30


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": "spiral"}, "`kind` must be one of 'fermat', 'random', 'star', got 'spiral'"),
        ({"line_length": -1}, "`line_length` must be >= 0 k-pixels, got -1"),
        ({"r_max": 0}, "`r_max` must be"),
        ({"sample_diameter": 0}, "`sample_diameter` must be a number > 0, got 0"),
        ({"line_length": 4}, "`samples_per_line_meas` must be >= 2 for lines"),
    ],
)
def test_pattern_config_validation(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PatternConfig(**settings)


def test_study_patterns_must_be_defined():
    study = {"patterns": ["fermat", "lines"], "pattern_models": {"fermat": {}}}
    with pytest.raises(ValueError, match=r"pattern 'lines' is not defined in pattern_models"):
        check_study(study)
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'radius' in `pattern_models.fermat`"):
        check_study({"pattern_models": {"fermat": {"radius": 3}}})


def test_a_variant_updates_each_section_of_the_prism_settings():
    study = {
        "methods": {
            "prism": {
                "decoder": {"channels": 32},
                "training": {"tolerance": 0.05, "steps_per_epoch": 7},
            }
        },
        "variants": {"prism": {"wide": {"decoder": {"channels": 128}, "optimizer": {"lr": 0.1}}}},
    }
    mapping = method_settings(study, "prism-wide")
    assert mapping == {
        "decoder": {"channels": 128},
        "optimizer": {"lr": 0.1},
        "training": {"tolerance": 0.05, "steps_per_epoch": 7},
    }
    config = from_mapping(PrismConfig, mapping, "prism")
    assert config.decoder.channels == 128 and config.training.steps_per_epoch == 7
    with pytest.raises(ValueError, match=r"variant 'narrow' of prism is not defined .*\['wide'\]"):
        method_settings(study, "prism-narrow")


def test_a_variant_of_any_solver_updates_its_settings():
    study = {"methods": {"tv": {"weight": 0.01}}, "variants": {"tv": {"fast": {"ladder": 5}}}}
    assert method_settings(study, "tv-fast") == {"weight": 0.01, "ladder": 5}
    assert method_settings(study, "tv") == {"weight": 0.01}
    settings = algorithm_settings(study, "tv-fast")
    assert (settings.ladder, settings.weight) == (5, 0.01)
