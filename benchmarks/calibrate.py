r"""Choose a solver's default settings on the calibration objects, never on the evaluation ones.

Runs one algorithm of a study config with every combination of a settings grid on the
calibration objects (scikit-image astronaut, coins, brick, grass, hubble_deep_field; with
``--objects`` also the generated resolution target ``target``, for fine detail), with
that study's physics, one of its aperture patterns and noise models, its aperture counts and
seed 0. Moon and camera, the studies' evaluation objects, are refused: a default tuned on them
would flatter every table it appears in. The grid updates the algorithm's settings as the
study gives them (for PRISM, ``prism`` updated by the variant; a grid value for one of its
sections updates that section). Each measurement set is simulated once with the workflow's
own stage functions and every reconstruction is scored by the one metrics module. Prints SSIM
per case and its mean per setting; ``--out`` keeps a CSV. With several ``--seeds`` every
reconstruction is repeated per solver seed (PRISM's decoder weights, a random sample order),
and the mean of the seeds' images is scored too: what an ensemble over seeds gains.

    python benchmarks/calibrate.py mpie --grid '{"friction": [0.5, 0.7, 0.9]}'
    python benchmarks/calibrate.py tv --grid '{"weight": [0.1, 0.3, 1.0]}' --noise snr40
    python benchmarks/calibrate.py prism-all_at_once --config config/config.yaml \
        --grid '{"training": [{"tolerance": 0.001}, {"tolerance": 0.0001}]}'
    python benchmarks/calibrate.py prism-all_at_once --config config/config.yaml --seeds 0 1 2

Without ``--config`` the study is ``config/ablation.yaml`` and its first pattern
``sparse_points``: N = 256, object 64 px, 16-pixel apertures at 16 and 64 Fermat points out
to 128 k-px.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import tempfile
from pathlib import Path

import torch
import yaml
from common import write_csv

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig, from_mapping
from prism.io import load_reconstruction
from prism.metrics import evaluate
from prism.solvers import find
from prism.stages.data import prepare, simulate
from prism.stages.reconstruct import reconstruct
from prism.study import method_settings

CALIBRATION = ("astronaut", "coins", "brick", "grass", "hubble_deep_field")
FINE_DETAIL = ("target",)  # generated (prism.targets); pass it with --objects
EVALUATION = ("moon", "camera")
ENSEMBLE = "mean"  # the seed column of an ensemble's row: the mean of the seeds' images


def measurement_sets(study: dict, args: argparse.Namespace, folder: Path) -> dict:
    """Every (object, n) measurement set of the calibration, simulated once, by ``(object, n)``."""
    physics = from_mapping(PhysicsConfig, study.get("physics"), "physics")
    pattern = from_mapping(PatternConfig, study["pattern_models"][args.pattern], args.pattern)
    noise = from_mapping(NoiseConfig, study["noise_models"][args.noise], args.noise)
    sets = {}
    for name in args.objects:
        prepared = folder / f"{name}.npz"
        prepare(name, prepared, physics)
        for n in args.n_samples:
            out = folder / f"{name}-{n}.npz"
            sets[name, n] = simulate(
                prepared, out, pattern=pattern, noise=noise, n_samples=n, seed=0
            )
    return sets


def reconstruct_file(solver, data, settings, path: Path) -> torch.Tensor:
    """Reconstruct as the workflow does and read the file back, as its evaluate stage does."""
    reconstruct(solver, data, settings, path)
    return load_reconstruction(path)["reconstruction"]


def settings_grid(grid: dict) -> list[dict]:
    """Every combination of the grid's values, as settings mappings."""
    names = list(grid)
    values = itertools.product(*(grid[name] for name in names))
    return [dict(zip(names, combination, strict=True)) for combination in values]


def updated(base: dict, change: dict) -> dict:
    """``base`` updated by ``change``; a mapping updates a mapping section key by key."""
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = base[key] | value
        else:
            merged[key] = value
    return merged


def load_study(args: argparse.Namespace) -> dict:
    """The study config of ``args``, whose unset set options take the study's first entries.

    Refuses the evaluation objects and a pattern or noise model the study does not define.
    """
    held_out = sorted(set(args.objects) & set(EVALUATION))
    if held_out:
        allowed = ", ".join(CALIBRATION + FINE_DETAIL)
        raise SystemExit(f"{held_out} are evaluation objects; calibrate on {allowed}")
    study = yaml.safe_load(args.config.read_text())
    args.pattern = args.pattern or study["patterns"][0]
    args.noise = args.noise or study["noise"][0]
    args.n_samples = args.n_samples or study["n_samples"]
    for option, section in (("pattern", "pattern_models"), ("noise", "noise_models")):
        if getattr(args, option) not in study[section]:
            raise SystemExit(
                f"--{option} {getattr(args, option)!r} is not in {args.config}'s {section}; "
                f"defined: {', '.join(sorted(study[section]))}"
            )
    return study


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "algorithm", help="an algorithm of the study, e.g. tv, mpie, prism-all_at_once"
    )
    parser.add_argument("--grid", type=json.loads, default={}, help='{"setting": [values]}')
    parser.add_argument("--config", type=Path, default=Path("config/ablation.yaml"))
    parser.add_argument("--pattern", help="a pattern_models entry (default: the study's first)")
    parser.add_argument("--noise", help="a noise_models entry (default: the study's first)")
    parser.add_argument(
        "--objects", nargs="+", default=list(CALIBRATION), help="also: " + ", ".join(FINE_DETAIL)
    )
    parser.add_argument("--n-samples", type=int, nargs="+", help="default: the study's")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="the solver's seeds (the data keep seed 0); with several, also their ensemble",
    )
    parser.add_argument("--out", type=Path, help="CSV of every reconstruction's scores")
    return parser.parse_args()


def fit_members(solver, settings, data, seeds, path: Path) -> dict:
    """SSIM of a reconstruction per solver seed and, with several, of their mean image."""
    images, scores = [], {}
    for seed in seeds:
        resolved = solver.resolved(settings, dataclasses.replace(data, seed=seed))
        images.append(reconstruct_file(solver, data, resolved, path))
        scores[seed] = evaluate(images[-1], data.ground_truth, obj_size=data.obj_size).ssim
    if len(seeds) > 1:
        mean = torch.stack(images).mean(dim=0)
        scores[ENSEMBLE] = evaluate(mean, data.ground_truth, obj_size=data.obj_size).ssim
    return scores


def main() -> None:
    args = parse_args()
    study = load_study(args)
    torch.set_num_threads(1)
    solver = find(args.algorithm)
    base = method_settings(study, args.algorithm)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sets = measurement_sets(study, args, Path(folder))
        for mapping in settings_grid(args.grid):
            settings = solver.build_settings(updated(base, mapping), "grid")
            first = len(rows)
            for (name, n), data in sets.items():
                scores = fit_members(solver, settings, data, args.seeds, Path(folder) / "r.npz")
                for seed, ssim in scores.items():
                    rows.append({**mapping, "object": name, "n_samples": n, "seed": seed})
                    rows[-1]["ssim"] = ssim
                    print(f"{json.dumps(mapping)} {name:18} n={n:3d} seed {seed} SSIM {ssim:.3f}")
            for seed in dict.fromkeys(row["seed"] for row in rows[first:]):
                mine = [row["ssim"] for row in rows[first:] if row["seed"] == seed]
                print(f"{json.dumps(mapping)} seed {seed} mean SSIM {sum(mine) / len(mine):.4f}")
    if args.out:
        write_csv(rows, args.out)


if __name__ == "__main__":
    main()
