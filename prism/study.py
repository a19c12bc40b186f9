"""A study: the grid of reconstructions a workflow config asks for, and its checks.

A study config names objects, patterns, aperture counts, noise models, seeds and algorithms;
every combination is one reconstruction. Algorithms are registered solvers
(:mod:`prism.solvers`): a solver's name, whose settings are ``methods.<name>``, or
``<name>-<variant>``, whose settings are those updated by ``variants.<name>.<variant>``.
The commands of every job (:func:`prepare_command`, :func:`simulate_command`,
:func:`job_commands`) are defined here once; the workflow's rules and
``benchmarks/run_study.py`` both run them.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from functools import cache
from pathlib import Path

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig, from_mapping
from prism.core.simulation import physics_geometry
from prism.images import check_object
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
# The objects every table reports: a calibration study (`calibration: true`) may not use them,
# so that no default is chosen on the images it is judged on.
EVALUATION_OBJECTS = ("moon", "camera")
OBJECT_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")  # no path, no "..", no leading dot
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

    A solver's name: ``methods.<name>`` (empty when the study leaves it out). A variant
    ``<name>-<variant>``: those settings updated by ``variants.<name>.<variant>``, a section
    (a mapping, e.g. PRISM's ``training``) updated key by key.

    Raises
    ------
    ValueError
        When the algorithm is not registered or the study defines no such variant.
    """
    solver = find(algorithm)
    base = dict((config.get("methods") or {}).get(solver.name) or {})
    if algorithm == solver.name:
        return base
    name = algorithm.removeprefix(f"{solver.name}-")
    variants = (config.get("variants") or {}).get(solver.name) or {}
    if name not in variants:
        raise ValueError(
            f"variant {name!r} of {solver.name} is not defined in variants.{solver.name} "
            f"(defined: {sorted(variants)})"
        )
    merged = dict(base)
    for key, value in (variants[name] or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = base[key] | value
        merged[key] = value
    return merged


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


# The keys of a measurement set (every key of a job but its algorithm): the simulate job's.
DATA_KEYS = KEYS[:-1]


def as_json(value) -> str:
    """Compact JSON with sorted keys: how settings and identities travel on a command line."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def identity(job: dict, keys: tuple[str, ...] = KEYS) -> str:
    """A job's identity as JSON (the values as strings, as the workflow's wildcards give them)."""
    return as_json({key: str(job[key]) for key in keys})


def prepare_command(config: dict, job: dict, source: str, root: Path = Path()) -> list[str]:
    """``python -m prism`` arguments that prepare the job's object from ``source``.

    ``source`` is the object's image file, or the name of a built-in image.
    """
    command = ["prepare", "--source", source, "--out", str(root / PREPARED.format(**job))]
    command += ["--physics", as_json(resolved_settings(config, "physics"))]
    return [*command, "--wildcards", identity(job, ("object",))]


def simulate_command(config: dict, job: dict, root: Path = Path()) -> list[str]:
    """``python -m prism`` arguments that simulate the job's measurement set once."""
    prepared, measurements = root / PREPARED.format(**job), root / MEASUREMENTS.format(**job)
    command = ["simulate", "--prepared", str(prepared), "--out", str(measurements)]
    command += ["--pattern", as_json(resolved_settings(config, "pattern", job["pattern"]))]
    command += ["--noise", as_json(resolved_settings(config, "noise", job["noise"]))]
    command += ["--n-samples", str(job["n_samples"]), "--seed", str(job["seed"])]
    return [*command, "--wildcards", identity(job, DATA_KEYS)]


def step_files(job: dict, root: Path = Path()) -> list[Path]:
    """The file each step of the job's solver writes: ``<step>.pt``, the last the reconstruction."""
    folder = root / RUN_DIR.format(**job)
    steps = find(job["algorithm"]).steps
    return [folder / f"{step}.pt" for step in steps[:-1]] + [folder / "reconstruction.npz"]


def job_commands(config: dict, job: dict, root: Path = Path(), device: str = "cpu") -> list:
    """``python -m prism`` arguments of one reconstruction: each step, then its evaluation.

    ``device`` is where an accelerated solver computes (the others run on the CPU).
    """
    solver = find(job["algorithm"])
    measurements = str(root / MEASUREMENTS.format(**job))
    common = ["--algorithm", job["algorithm"], "--measurements", measurements]
    common += ["--settings", as_json(resolved_settings(config, "algorithm", job["algorithm"]))]
    if device != "cpu" and solver.accelerated:
        common += ["--device", device]
    files = step_files(job, root)
    commands = []
    for index, step in enumerate(solver.steps):
        command = ["reconstruct", *common, "--out", str(files[index])]
        if len(solver.steps) > 1:
            command[1:1] = ["--step", step]
        if index:
            command += ["--checkpoint", str(files[index - 1])]
        commands.append(command)
    folder = files[-1].parent
    evaluate = ["evaluate", "--measurements", measurements, "--reconstruction", str(files[-1])]
    evaluate += ["--out-json", str(folder / "metrics.json")]
    evaluate += ["--out-png", str(folder / "reconstruction.png")]
    return [[*command, "--wildcards", identity(job)] for command in [*commands, evaluate]]


# The modules each stage of `python -m prism` runs from (its code identity follows their
# imports); every stage also runs the command line, which is hashed but not followed.
STAGE_MODULES = {
    "prepare": ("prism.stages.data",),
    "simulate": ("prism.stages.data",),
    "reconstruct": ("prism.stages.reconstruct",),
    "evaluate": ("prism.stages.evaluate",),
    "summarize": ("prism.stages.report",),
}
COMMAND_LINE = ("prism.__main__", "prism.cli")


def stage_modules(stage: str, algorithm: str | None = None) -> list[str]:
    """The modules a stage runs from, whose imports its code identity follows.

    ``reconstruct`` (every step of every solver) adds its algorithm's solver modules (its
    ``solve`` and, for a solver of several steps, its ``run_step``); ``summarize`` adds every
    registered solver's (it reads their names, styles and kinds).

    Raises
    ------
    ValueError
        When the stage is not one of :data:`STAGE_MODULES` or the algorithm is unknown.
    """
    if stage not in STAGE_MODULES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGE_MODULES)}")
    entries = {*STAGE_MODULES[stage], "prism.cpu"}
    solvers = [find(algorithm)] if algorithm is not None else []
    if stage == "summarize":
        solvers = list(registry().values())
    for solver in solvers:
        entries.add(solver.solve.__module__)
        if solver.run_step is not None:
            entries.add(solver.run_step.__module__)
    return sorted(entries)


@cache
def stage_code(stage: str, algorithm: str | None = None) -> str:
    """The identity of the code a stage runs (:mod:`prism.provenance`, :func:`stage_modules`)."""
    return code_identity(stage_modules(stage, algorithm), leaves=COMMAND_LINE)


def check_no_aliases(config, path: str = "config") -> None:
    """Refuse a config in which one mapping or list appears twice (a YAML alias).

    Run before the schema: an alias costs nothing to load, but every reader that walks the
    config (the schema's messages, the study record's JSON) expands it, and a few nested
    aliases (a "billion laughs" file) expand to gigabytes. A study config has no use for them.

    Raises
    ------
    ValueError
        Naming where the repeated part is.
    """
    seen: set[int] = set()

    def visit(node, where: str) -> None:
        if not isinstance(node, dict | list):
            return
        if id(node) in seen:
            raise ValueError(
                f"{where} repeats a part of the config (a YAML alias, `*name`); write it out "
                f"instead: a study config may not use aliases"
            )
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            visit(value, f"{where}.{key}")

    visit(config, path)


def check_study(config: dict) -> None:
    """Check a workflow config beyond its schema, before any job runs.

    Builds every typed config (so out-of-range values fail with their messages), derives the
    geometry (aperture and object must fit the grid), checks that every noise and pattern
    name of the study is defined in ``noise_models`` and ``pattern_models``, that every
    algorithm is a registered solver or a defined variant of one and that ``methods`` and
    ``variants`` name only registered solvers, builds the settings of every algorithm and
    variant, reads every object's image as the prepare stage would (:func:`check_object`),
    that the grid fits the machine's memory (:func:`check_memory`), that a calibration study
    uses none of :data:`EVALUATION_OBJECTS` and that the baseline is ``best`` or an algorithm
    of the study.

    Raises
    ------
    ValueError
        Naming the setting, the value received and what is allowed.
    """
    for name in config.get("objects", []):
        if not OBJECT_NAME.fullmatch(str(name)):
            raise ValueError(
                f"object {name!r}: an object is a built-in image or the stem of a file in "
                f"data/raw/ (letters, digits and _, with inner dots), so that its results stay "
                f"in results/<object>/"
            )
        check_object(name)
    physics = from_mapping(PhysicsConfig, config.get("physics"), "physics")
    check_memory(physics.image_size)
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
    if config.get("calibration"):
        used = sorted(set(config.get("objects", [])) & set(EVALUATION_OBJECTS))
        if used:
            raise ValueError(
                f"a calibration study (calibration: true) must not use the evaluation objects "
                f"{', '.join(EVALUATION_OBJECTS)}, got {', '.join(used)} in `objects`"
            )
    baseline = config.get("baseline", "best")
    if baseline != "best" and baseline not in config.get("algorithms", []):
        raise ValueError(
            f"`baseline` must be best (each case's strongest classical method) or an "
            f"algorithm of the study ({', '.join(config.get('algorithms', []))}), got {baseline!r}"
        )
    geometry = physics_geometry(physics)
    for name in config.get("patterns", []):
        _check_pattern(name, config["pattern_models"][name], physics.image_size, geometry)


# A job's arrays on the N x N grid take at most this many bytes per grid pixel (measured:
# about 180 for the classical solvers at N = 1024, 30-50 for the data stages; docs/workflow.md).
BYTES_PER_GRID_PIXEL = 256


def check_memory(image_size: int, memory: int | None = None) -> None:
    """Refuse a grid whose jobs would not fit this machine's memory, before any job runs.

    The rule: one job needs about :data:`BYTES_PER_GRID_PIXEL` bytes per pixel of the
    ``N x N`` grid, and that must not exceed the machine's physical memory (``memory``,
    bytes; default: this machine's).
    """
    memory = (
        memory if memory is not None else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    )
    needed = BYTES_PER_GRID_PIXEL * image_size**2
    if needed > memory:
        largest = int((memory / BYTES_PER_GRID_PIXEL) ** 0.5)
        raise ValueError(
            f"physics.image_size {image_size} needs about {needed / 2**30:.1f} GiB per job "
            f"({BYTES_PER_GRID_PIXEL} bytes per grid pixel), more than this machine's "
            f"{memory / 2**30:.1f} GiB; at most {largest} fits here"
        )


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
    """``methods`` and ``variants`` name only registered solvers, each with valid settings."""
    solvers = registry()
    for key in ("methods", "variants"):
        for name in config.get(key) or {}:
            if name not in solvers:
                raise ValueError(
                    f"`{key}` names {name!r}, which is not a registered solver "
                    f"(registered: {', '.join(solvers)})"
                )
    for name, solver in solvers.items():
        solver.build_settings(method_settings(config, name), f"methods.{name}")
        for variant in (config.get("variants") or {}).get(name) or {}:
            algorithm = f"{name}-{variant}"
            solver.build_settings(method_settings(config, algorithm), f"variants.{name}.{variant}")
