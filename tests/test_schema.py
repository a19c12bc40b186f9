"""The workflow schema and the typed settings agree: same keys, same choices, defaults once."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.solvers.prism.settings import PrismConfig

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text()
)
PRISM = SCHEMA["$defs"]["prism_settings"]["properties"]
# The schema leaves out what the study sets itself: the decoder's seed is the study seed.
SET_BY_THE_STUDY = {("decoder", "seed"), ("training", "floor")}
SECTIONS = [
    ("physics", SCHEMA["properties"]["physics"], PhysicsConfig),
    (
        "pattern_models",
        SCHEMA["properties"]["pattern_models"]["additionalProperties"],
        PatternConfig,
    ),
    ("noise_models", SCHEMA["properties"]["noise_models"]["additionalProperties"], NoiseConfig),
] + [
    (item.name, PRISM[item.name], item.default_factory) for item in dataclasses.fields(PrismConfig)
]


@pytest.mark.parametrize(("name", "section", "cls"), SECTIONS, ids=[s[0] for s in SECTIONS])
def test_schema_keys_are_the_settings_fields(name, section, cls):
    fields = {item.name for item in dataclasses.fields(cls)}
    fields -= {key for owner, key in SET_BY_THE_STUDY if owner == name}
    assert set(section["properties"]) == fields
    assert section["additionalProperties"] is False


# What a choice cannot be built without (the cosine scheduler's first period has no default).
NEEDED_WITH = {("scheduler", "cosine_warm_restarts"): {"scheduler_options": {"T_0": 10}}}


@pytest.mark.parametrize(("name", "section", "cls"), SECTIONS, ids=[s[0] for s in SECTIONS])
def test_schema_choices_are_what_the_settings_accept(name, section, cls):
    for key, rule in section["properties"].items():
        if "enum" not in rule:
            continue
        for value in rule["enum"]:
            needs = NEEDED_WITH.get((key, value), {})
            cls(**{key: value}, **needs)  # every choice the schema allows is accepted
        with pytest.raises(ValueError, match=f"`{key}` must be one of"):
            cls(**{key: "not-a-choice"})


def test_settings_defaults_live_only_in_the_package():
    for name, section, _ in SECTIONS:
        for key, rule in section["properties"].items():
            assert "default" not in rule, f"{name}.{key} restates a default of the package"
    assert SCHEMA["properties"]["methods"]["default"] == {}
    assert SCHEMA["properties"]["variants"]["default"] == {"prism": {"all_at_once": {}}}


def test_the_default_study_restates_no_setting_default():
    study = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    defaults = dataclasses.asdict(PrismConfig())
    for section, settings in (study.get("methods", {}).get("prism") or {}).items():
        for key, value in settings.items():
            assert value != defaults[section][key], f"prism.{section}.{key} restates its default"
    physics = dataclasses.asdict(PhysicsConfig())
    assert not {k for k, v in study["physics"].items() if physics[k] == v and v is None}
    assert "methods" not in study or all(study["methods"].values())
