"""A study: the grid of reconstructions a workflow config asks for, and its checks.

A study config names objects, patterns, aperture counts, noise models, seeds and algorithms;
every combination is one reconstruction. Algorithms are registered solvers
(:mod:`prism.solvers`): a solver's name, whose settings are ``methods.<name>``, or PRISM's
``prism-<variant>``, whose settings are the ``prism`` section updated by
``prism_variants.<variant>``.
"""

from __future__ import annotations

import dataclasses
import itertools
from functools import cache

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig, from_mapping
from prism.core.simulation import physics_geometry
from prism.provenance import code_identity
from prism.solvers import find, registry

# The study grid: config key -> the field it gives each reconstruction (its identity).
GRID = {
    "objects": "object",
    "patterns": "pattern",
    "n_samples": "n_samples",
    "noise": "noise",
    "seeds": "seed",
    "algorithms": "algorithm",
}
KEYS = tuple(GRID.values())
# The one path scheme (format templates; the workflow's rules use them as wildcard patterns).
DATA_KEY = "{pattern}-n{n_samples}-{noise}-s{seed}"
PREPARED = "data/prepared/{object}.npz"
MEASUREMENTS = "data/measurements/{object}/" + DATA_KEY + ".npz"
RUN_DIR = "results/{object}/" + DATA_KEY + "/{algorithm}"
METRICS = RUN_DIR + "/metrics.json"


def jobs(config: dict) -> list[dict]:
    """Every reconstruction of a study: one dict per combination of the grid's values."""
    values = itertools.product(*(config[key] for key in GRID))
    return [dict(zip(KEYS, combination, strict=True)) for combination in values]


def method_settings(config: dict, algorithm: str) -> dict:
    """The settings mapping of one algorithm of a study (what its solver's dataclass takes).

    ``prism-<variant>``: the ``prism`` section, each of its sections updated by the
    variant's entry in ``prism_variants``. Any other solver: ``methods.<name>`` (empty when
    the study leaves it out).

    Raises
    ------
    ValueError
        When the algorithm is not registered or the study defines no such variant.
    """
    solver = find(algorithm)
    if not solver.staged:
        return dict((config.get("methods") or {}).get(algorithm) or {})
    name = algorithm.removeprefix(f"{solver.name}-")
    variants = config.get(f"{solver.name}_variants") or {}
    if name not in variants:
        raise ValueError(
            f"PRISM variant {name!r} is not defined in {solver.name}_variants "
            f"(defined: {sorted(variants)})"
        )
    base, override = config.get(solver.name) or {}, variants[name] or {}
    sections = sorted(set(base) | set(override))
    return {key: (base.get(key) or {}) | (override.get(key) or {}) for key in sections}


def algorithm_settings(config: dict, algorithm: str):
    """The typed settings of one algorithm of a study (not yet resolved for its data)."""
    return find(algorithm).build_settings(method_settings(config, algorithm), algorithm)


def resolved_settings(config: dict, section: str, name: str | None = None) -> dict:
    """Every setting a stage of the study uses, defaults included, as a mapping.

    ``section`` is ``physics``, ``pattern`` or ``noise`` (``name`` the pattern or noise
    model), or ``algorithm`` (``name`` the algorithm). What a config leaves out is filled in
    from the settings dataclasses, so a changed default changes the mapping; building the
    dataclass from it again gives the same settings. (Settings that follow the data, such as
    a seed, are set from the measurement set when the stage runs.)
    """
    if section == "algorithm":
        settings = algorithm_settings(config, name)
    elif section == "physics":
        settings = from_mapping(PhysicsConfig, config.get("physics"), "physics")
    elif section == "pattern":
        settings = from_mapping(PatternConfig, config["pattern_models"][name], section)
    elif section == "noise":
        settings = from_mapping(NoiseConfig, config["noise_models"][name], section)
    else:
        allowed = "physics, pattern, noise, algorithm"
        raise ValueError(f"unknown settings section {section!r}; sections: {allowed}")
    return dataclasses.asdict(settings) if settings is not None else {}


# The modules each stage of `python -m prism` runs from (its code identity follows their
# imports); every stage also runs the command line, which is hashed but not followed.
STAGE_MODULES = {
    "prepare": ("prism.stages.data",),
    "simulate": ("prism.stages.data",),
    "reconstruct": ("prism.stages.reconstruct",),
    "prism-init": ("prism.stages.prism",),
    "prism-train": ("prism.stages.prism",),
    "prism-retry": ("prism.stages.prism",),
    "evaluate": ("prism.stages.evaluate",),
    "summarize": ("prism.stages.report",),
}
COMMAND_LINE = ("prism.__main__", "prism.cli")


@cache
def stage_code(stage: str, algorithm: str | None = None) -> str:
    """The identity of the code a stage runs (:mod:`prism.provenance`).

    A reconstruction stage adds its algorithm's solver module; ``summarize`` adds every
    registered solver's (it reads their names, styles and kinds).

    Raises
    ------
    ValueError
        When the stage is not one of :data:`STAGE_MODULES` or the algorithm is unknown.
    """
    if stage not in STAGE_MODULES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGE_MODULES)}")
    entries = {*STAGE_MODULES[stage], "prism.cpu"}
    if algorithm is not None:
        entries.add(find(algorithm).solve.__module__)
    if stage == "summarize":
        entries |= {solver.solve.__module__ for solver in registry().values()}
    return code_identity(sorted(entries), leaves=COMMAND_LINE)


def check_study(config: dict) -> None:
    """Check a workflow config beyond its schema, before any job runs.

    Builds every typed config (so out-of-range values fail with their messages), derives the
    geometry (aperture and object must fit the grid), checks that every noise and pattern
    name of the study is defined in ``noise_models`` and ``pattern_models``, that every
    algorithm is a registered solver (or a defined PRISM variant) and that ``methods`` holds
    only registered solvers, and builds the settings of every algorithm.

    Raises
    ------
    ValueError
        Naming the setting, the value received and what is allowed.
    """
    physics = from_mapping(PhysicsConfig, config.get("physics"), "physics")
    for key, kind, models, builder in (
        ("noise", "noise", "noise_models", NoiseConfig),
        ("patterns", "pattern", "pattern_models", PatternConfig),
    ):
        known = sorted(config.get(models, {}))
        for name in config.get(key, []):
            if name not in known:
                raise ValueError(f"{kind} {name!r} is not defined in {models} (defined: {known})")
        for name, model in config.get(models, {}).items():
            from_mapping(builder, model, f"{models}.{name}")
    _check_methods(config)
    for algorithm in config.get("algorithms", []):
        algorithm_settings(config, algorithm)
    geometry = physics_geometry(physics)
    for name in config.get("patterns", []):
        _check_pattern(name, config["pattern_models"][name], physics.image_size, geometry)


def _check_pattern(name: str, model: dict, image_size: int, geometry) -> None:
    """The pattern's apertures fit the grid: every aperture overlaps it."""
    diameter = model.get("sample_diameter")
    if diameter is not None and diameter > image_size:
        raise ValueError(
            f"pattern {name!r}: `sample_diameter` must be in (0, {image_size}] "
            f"k-space pixels (the grid), got {diameter!r}"
        )
    pattern = from_mapping(PatternConfig, model, f"pattern_models.{name}")
    limit = (image_size + (diameter or geometry.sample_diameter)) / 2
    if pattern.radius(image_size) >= limit:
        raise ValueError(
            f"pattern {name!r}: `r_max` must be < {limit:g} k-space pixels (half the grid plus "
            f"half an aperture; farther out an aperture on an axis measures nothing), "
            f"got {pattern.r_max!r}"
        )


def _check_methods(config: dict) -> None:
    """``methods`` names only registered unstaged solvers, each with valid settings."""
    solvers = {name: s for name, s in registry().items() if not s.staged}
    for name, mapping in (config.get("methods") or {}).items():
        if name not in solvers:
            raise ValueError(
                f"`methods` has settings for {name!r}, which is not a registered solver "
                f"(registered: {', '.join(solvers)})"
            )
        solvers[name].build_settings(mapping, f"methods.{name}")
    for name, solver in registry().items():
        if solver.staged:
            solver.build_settings(config.get(name), name)
