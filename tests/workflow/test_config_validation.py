"""A bad config or an unusable tracking server stops the workflow before any job runs."""

import pytest
import yaml

BAD_CONFIGS = [
    ({"colour": "blue"}, "Additional properties are not allowed ('colour' was unexpected)"),
    ({"n_samples": ["many"]}, "'many' is not of type 'integer'"),
    ({"n_samples": [-3]}, "-3 is less than the minimum of 1"),
    ({"patterns": ["spiral"]}, "pattern 'spiral' is not defined in pattern_models"),
    (
        {"pattern_models": {"fermat": {"kind": "spiral"}}},
        "'spiral' is not one of ['fermat', 'random', 'star']",
    ),
    ({"algorithms": ["gan"]}, "'gan' does not match"),
    ({"algorithms": ["prism-fancy"]}, "PRISM variant 'fancy' is not defined in prism_variants"),
    (
        {"prism_variants": {"replay": {"training": {"schedule": "sometimes"}}}},
        "'sometimes' is not one of ['progressive', 'all_at_once']",
    ),
    (
        {"pattern_models": {"fermat": {"kind": "fermat", "sample_diameter": 40}}},
        "pattern 'fermat': `sample_diameter` must be in (0, 32]",
    ),
    ({"physics": {"sample_diameter": 99}}, "`sample_diameter` must be in (0, 32]"),
    ({"physics": {"obj_size": 40}}, "`obj_size` must be an integer in [1, 32], got 40"),
    ({"noise": ["loud"]}, "noise 'loud' is not defined in noise_models"),
    ({"prism": {"training": {"loss_type": "huber"}}}, "'huber' is not one of ['l1', 'l2', 'ssim']"),
    (
        {"pattern_models": {"fermat": {"line_length": 8}}},
        "`samples_per_line_meas` must be >= 2 for lines (line_length > 0), got 1",
    ),
]


@pytest.mark.parametrize(("override", "message"), BAD_CONFIGS, ids=lambda v: str(v)[:40])
def test_bad_config_fails_before_any_job(tmp_path, workflow_tools, override, message):
    workdir = workflow_tools.copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml")
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert not (workdir / "logs").exists() and not (workdir / "mlflow.db").exists()


def test_unreachable_tracking_server_stops_at_startup(tmp_path, workflow_tools):
    workdir = workflow_tools.copy_workflow(tmp_path)
    done = workflow_tools.snakemake(
        workdir, "--cores", "1", MLFLOW_TRACKING_URI="http://127.0.0.1:9"
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "MLflow tracking at 'http://127.0.0.1:9' is not usable" in output
    assert "No job was started" in output
    assert not (workdir / "logs").exists() and not (workdir / "data/prepared").exists()
