"""A bad study config is refused by the schema or by `check_study`, in-process.

What the Snakefile does before any job, without Snakemake: load the study, merge the override
the way `--configfile` does, `validate` it against the schema, then `check_study` it. The
real-Snakemake check that such a refusal stops the workflow before any job is in
tests/workflow/test_config_validation.py.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from prism.study import algorithm_settings, check_memory, check_no_aliases, check_study

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")

BAD_CONFIGS = [
    ({"colour": "blue"}, "Additional properties are not allowed ('colour' was unexpected)"),
    ({"n_samples": ["many"]}, "'many' is not of type 'integer'"),
    ({"n_samples": [-3]}, "-3 is less than the minimum of 1"),
    ({"patterns": ["spiral"]}, "pattern 'spiral' is not defined in pattern_models"),
    (
        {"pattern_models": {"fermat": {"kind": "spiral"}}},
        "'spiral' is not one of ['fermat', 'random', 'star']",
    ),
    ({"algorithms": ["Bad Name"]}, "'Bad Name' does not match"),
    ({"algorithms": ["gan"]}, "unknown algorithm 'gan'; registered: epie, synthetic_aperture"),
    ({"seeds": [0, 0]}, "[0, 0] has non-unique elements"),
    ({"objects": ["moon", "moon"]}, "['moon', 'moon'] has non-unique elements"),
    (
        {"noise_models": {"noiseless": {"snr_db": -20}}},
        "-20 is less than or equal to the minimum of 0",
    ),
    (
        {"noise_models": {"noiseless": {"snr_db": float("nan")}}},
        "in `noise_models.noiseless`: `snr_db` must be a finite number > 0 (dB), got nan",
    ),
    (
        {"noise_models": {"noiseless": {"photons": float("inf")}}},
        "`photons` must be a finite number > 0 (photons per measurement), got inf",
    ),
    (
        {
            "methods": {
                "prism": {"optimizer": {"scheduler": "plateau", "scheduler_options": {"x": 2}}}
            }
        },
        "unknown key(s) 'x' in `scheduler_options` of scheduler 'plateau'; allowed: mode",
    ),
    (
        {
            "methods": {
                "prism": {
                    "optimizer": {"scheduler": "plateau", "scheduler_options": {"patience": "abc"}}
                }
            }
        },
        "`scheduler_options.patience` of scheduler 'plateau' must be an integer, got 'abc'",
    ),
    (
        {
            "methods": {
                "prism": {"optimizer": {"scheduler": "plateau", "scheduler_options": {"factor": 2}}}
            }
        },
        "`scheduler_options` {'factor': 2} of scheduler 'plateau': Factor should be < 1.0",
    ),
    (
        {"methods": {"prism": {"optimizer": {"scheduler": "cosine_warm_restarts"}}}},
        "missing 1 required positional argument: 'T_0'",
    ),
    (
        {"pattern_models": {"fermat": {"kind": "fermat", "r_max": 100}}},
        "pattern 'fermat': `r_max` must be < 20 k-space pixels",
    ),
    ({"methods": {"hio": {}}}, "`methods` names 'hio', which is not a registered solver"),
    ({"variants": {"hio": {"a": {}}}}, "`variants` names 'hio', which is not a registered solver"),
    ({"variants": {"tv": {"fast": {"rungs": 5}}}}, "unknown key(s) 'rungs' in `variants.tv.fast`"),
    ({"variants": {"tv": {"fast": {"ladder": -1}}}}, "`ladder` must be"),
    ({"methods": {"epie": {"max_epochs": 0}}}, "`max_epochs` must be an integer > 0, got 0"),
    ({"methods": {"epie": {"speed": 1}}}, "unknown key(s) 'speed' in `methods.epie`"),
    ({"algorithms": ["prism-fancy"]}, "variant 'fancy' of prism is not defined in variants.prism"),
    (
        {"algorithms": ["tv-fast"]},
        "variant 'fast' of tv is not defined in variants.tv (defined: [])",
    ),
    (
        {"variants": {"prism": {"replay": {"training": {"schedule": "sometimes"}}}}},
        "'sometimes' is not one of ['progressive', 'all_at_once']",
    ),
    (
        {"pattern_models": {"fermat": {"kind": "fermat", "sample_diameter": 40}}},
        "pattern 'fermat': `sample_diameter` must be in (0, 32]",
    ),
    # These two fail only because the merge is deep: tiny's `physics.image_size: 32` stays.
    ({"physics": {"sample_diameter": 99}}, "`sample_diameter` must be in (0, 32]"),
    ({"physics": {"obj_size": 40}}, "`obj_size` must be an integer in [1, 32], got 40"),
    ({"noise": ["loud"]}, "noise 'loud' is not defined in noise_models"),
    (
        {"calibration": True, "objects": ["coins", "moon"]},
        "a calibration study (calibration: true) must not use the evaluation objects moon, "
        "camera, got moon in `objects`",
    ),
    ({"baseline": "hio"}, "`baseline` must be best (each case's strongest classical method)"),
    ({"objects": [".."]}, "object '..': an object is a built-in image or the stem of a file"),
    ({"objects": ["../m51"]}, "'../m51' does not match"),  # the schema: no path
    ({"objects": [".m51"]}, "object '.m51': an object is a built-in image"),
    (
        {"methods": {"prism": {"training": {"loss_type": "huber"}}}},
        "'huber' is not one of ['l1', 'l2', 'ssim']",
    ),
    (
        {"pattern_models": {"fermat": {"line_length": 8}}},
        "`samples_per_line_meas` must be >= 2 for lines (line_length > 0), got 1",
    ),
]


def study(override: dict) -> dict:
    """config/tiny.yaml with ``override`` merged in as Snakemake merges a `--configfile`.

    Snakemake merges recursively (`snakemake.utils.update_config`): a nested key of the
    override replaces only that key, its siblings in the tiny config stay.
    """
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    update_config(config, copy.deepcopy(override))
    return config


def check(config: dict) -> None:
    """What the Snakefile runs on its config before any job."""
    check_no_aliases(config)
    validate(config, SCHEMA)  # fills the schema's defaults; raises WorkflowError
    check_study(config)  # raises ValueError


def chain_text(error: BaseException) -> str:
    """The text of ``error`` and of every exception it was raised from or during."""
    texts = []
    while error is not None:
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "config").glob("*.yaml")))
def test_every_shipped_study_passes(name):
    """Each config/*.yaml, merged over config/config.yaml as `--configfile` merges it."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / name).read_text()))
    check(config)


def test_the_default_study_fits_every_aperture_at_once():
    """The first run stays short: no progressive PRISM variant in the default study."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    check(config)
    prism = [name for name in config["algorithms"] if name.startswith("prism-")]
    schedules = {algorithm_settings(config, name).training.schedule for name in prism}
    assert prism and schedules == {"all_at_once"}
    assert {"tv", "mpie", "epie"} <= set(config["algorithms"])


def test_the_tiny_study_passes():
    """The baseline every bad config below departs from is itself valid."""
    check(study({}))


@pytest.mark.parametrize(("override", "message"), BAD_CONFIGS, ids=lambda v: str(v)[:40])
def test_bad_config_is_refused(override, message):
    with pytest.raises(Exception) as excinfo:
        check(study(override))
    # The schema's refusal is a WorkflowError wrapping the jsonschema ValidationError (whose
    # message is in the WorkflowError's text and in its context); check_study's a ValueError.
    assert isinstance(excinfo.value, WorkflowError | ValueError), chain_text(excinfo.value)
    assert message in chain_text(excinfo.value)


ALIASED = """
objects: [moon]
n_samples: &counts [3, 5]
seeds: *counts
"""
BOMB = "laughs: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]\n" for k in range(1, 10)
)  # 9**10 strings once expanded, a few hundred bytes as written


def test_a_config_with_yaml_aliases_is_refused_before_the_schema():
    with pytest.raises(ValueError, match=r"config.seeds repeats a part of the config"):
        check_no_aliases(yaml.safe_load(ALIASED))
    bomb = yaml.safe_load(BOMB)
    with pytest.raises(ValueError, match="a study config may not use aliases"):
        check_no_aliases(bomb)  # found at the first repeat, without expanding anything
    nested = {"methods": {"prism": {"optimizer": {"scheduler_options": bomb}}}}
    with pytest.raises(ValueError, match=r"config.methods.prism.optimizer.scheduler_options"):
        check_no_aliases(nested)
    check_no_aliases(yaml.safe_load((REPO / "config/config.yaml").read_text()))


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.zeros((8, 8), np.uint8), "is constant"),
        (np.full((1, 1), 9, np.uint8), r"got shape \(1, 1\)"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
    ],
)
def test_a_bad_object_image_is_refused_before_any_job(tmp_path, monkeypatch, pixels, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "data/raw/m51.tif", pixels)
    with pytest.raises(ValueError, match=f"object 'm51': .*{message}"):
        check(study({"objects": ["m51"]}))


def test_a_grid_beyond_the_machine_s_memory_is_refused_with_the_rule():
    check_memory(8192, memory=24 * 2**30)  # 16 GiB of a 24 GiB machine
    message = r"image_size 16384 needs about 64.0 GiB per job \(256 bytes per grid pixel\)"
    with pytest.raises(ValueError, match=message + r".*at most 10033 fits here"):
        check_memory(16384, memory=24 * 2**30)
    with pytest.raises(ValueError, match="image_size 65536 needs"):
        check(study({"physics": {"image_size": 65536}}))
