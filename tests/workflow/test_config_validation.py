"""A bad study config fails before any job runs, naming the key, the value and what is allowed."""

import pytest
import yaml

BAD_CONFIGS = [
    ({"colour": "blue"}, "Additional properties are not allowed ('colour' was unexpected)"),
    ({"n_samples": ["many"]}, "'many' is not of type 'integer'"),
    ({"n_samples": [-3]}, "-3 is less than the minimum of 1"),
    ({"patterns": ["spiral"]}, "'spiral' is not one of ['fermat', 'random', 'star']"),
    ({"algorithms": ["gan"]}, "'gan' is not one of ['prism-replay'"),
    ({"physics": {"sample_diameter": 99}}, "`sample_diameter` must be in (0, 32]"),
    ({"physics": {"obj_size": 40}}, "`obj_size` must be an integer in [1, 32], got 40"),
    ({"noise": ["loud"]}, "noise 'loud' is not defined in noise_models"),
    ({"prism": {"training": {"loss_type": "huber"}}}, "'huber' is not one of ['l1', 'l2', 'ssim']"),
    ({"physics": {"line_length": 8}}, "`physics.samples_per_line_meas` must be >= 2 for lines"),
]


@pytest.mark.parametrize(("override", "message"), BAD_CONFIGS, ids=lambda v: str(v)[:40])
def test_bad_config_fails_before_any_job(tmp_path, workflow_tools, override, message):
    workdir = workflow_tools.copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(override))
    done = workflow_tools.snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml")
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert not (workdir / "logs").exists() and not (workdir / "mlflow.db").exists()
