"""Choose a solver's default settings on the calibration objects, never on the evaluation ones.

Runs one registered solver with every combination of a settings grid on the calibration
objects (scikit-image astronaut, coins, brick, grass, hubble_deep_field) in the sparse regime
of the ablation study: N = 256, object 64 px, 16-pixel apertures at 16 and 64 Fermat points
out to 128 k-px, seed 0. Moon and camera, the study's evaluation objects, are refused: a
default tuned on them would flatter every table it appears in. Each measurement set is
simulated once with the workflow's own stage functions and every reconstruction is scored by
the one metrics module. Prints SSIM per case and its mean per setting; ``--out`` keeps a CSV.

    python benchmarks/calibrate.py mpie --grid '{"friction": [0.5, 0.7, 0.9]}'
    python benchmarks/calibrate.py tv --grid '{"weight": [0.1, 0.3, 1.0]}' --noise snr40
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import tempfile
from pathlib import Path

import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.metrics import evaluate
from prism.solvers import find
from prism.stages.data import prepare, simulate
from prism.stages.reconstruct import load_reconstruction, reconstruct

CALIBRATION = ("astronaut", "coins", "brick", "grass", "hubble_deep_field")
EVALUATION = ("moon", "camera")
PHYSICS = PhysicsConfig(image_size=256, obj_size=64, sample_diameter=16)
PATTERN = PatternConfig(kind="fermat", r_max=128)
NOISE = {"noiseless": NoiseConfig(), "snr40": NoiseConfig(snr_db=40)}


def measurement_sets(objects, n_samples, noise: str, folder: Path) -> dict:
    """Every (object, n) measurement set, simulated once, by ``(object, n)``."""
    sets = {}
    for name in objects:
        prepared = folder / f"{name}.npz"
        prepare(name, prepared, PHYSICS)
        for n in n_samples:
            out = folder / f"{name}-{n}.npz"
            sets[name, n] = simulate(
                prepared, out, pattern=PATTERN, noise=NOISE[noise], n_samples=n, seed=0
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("solver", help="a registered unstaged solver, e.g. tv or mpie")
    parser.add_argument("--grid", type=json.loads, default={}, help='{"setting": [values]}')
    parser.add_argument("--objects", nargs="+", default=list(CALIBRATION))
    parser.add_argument("--n-samples", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--noise", choices=sorted(NOISE), default="noiseless")
    parser.add_argument("--out", type=Path, help="CSV of every reconstruction's scores")
    args = parser.parse_args()
    held_out = sorted(set(args.objects) & set(EVALUATION))
    if held_out:
        parser.error(f"{held_out} are evaluation objects; calibrate on {', '.join(CALIBRATION)}")
    torch.set_num_threads(1)
    solver = find(args.solver)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sets = measurement_sets(args.objects, args.n_samples, args.noise, Path(folder))
        for mapping in settings_grid(args.grid):
            for (name, n), data in sets.items():
                settings = solver.resolved(solver.build_settings(mapping, "grid"), data)
                out = reconstruct_file(solver, data, settings, Path(folder) / "r.npz")
                score = evaluate(out, data.ground_truth, obj_size=data.obj_size)
                rows.append({**mapping, "object": name, "n_samples": n, "ssim": score.ssim})
                print(f"{json.dumps(mapping)} {name:18} n={n:3d} SSIM {score.ssim:.3f}", flush=True)
            mean = sum(row["ssim"] for row in rows[-len(sets) :]) / len(sets)
            print(f"{json.dumps(mapping)} mean SSIM {mean:.3f}", flush=True)
    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
