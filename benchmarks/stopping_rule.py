r"""Choose PRISM's stopping rule from whole-budget fits on the calibration objects.

A fit is deterministic, so a stopping rule only chooses where on one trajectory it ends.
This script runs PRISM (all at once, the study's settings) on the calibration objects
(scikit-image astronaut, coins, brick, grass, hubble_deep_field; never moon or camera) for
its whole step budget, records the loss of every step and the SSIM every ``--every`` steps,
then replays candidate rules (:class:`prism.stopping.Plateau`: window, tolerance, patience)
on the recorded losses and prints, per rule, where it stops and the SSIM there (the last
recorded SSIM at or before the stop), against the whole budget's.

    python benchmarks/stopping_rule.py --config config/config.yaml --out trajectories.json
    python benchmarks/stopping_rule.py --load trajectories.json   # replay rules only

Split the objects over processes with ``--objects`` and join the JSON files with
``--load a.json b.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from prism.cpu import pin_instruction_set

pin_instruction_set()  # as `python -m prism` does, before torch loads

import torch  # noqa: E402
import yaml  # noqa: E402

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig, from_mapping  # noqa: E402
from prism.core.grid import crop_object  # noqa: E402
from prism.metrics import evaluate  # noqa: E402
from prism.solvers.prism import build_trainer, resolve  # noqa: E402
from prism.stages.data import prepare, simulate  # noqa: E402
from prism.stopping import Plateau  # noqa: E402
from prism.study import EVALUATION_OBJECTS, algorithm_settings  # noqa: E402

# The calibration study's objects (config/calibration.yaml).
CALIBRATION = tuple(
    yaml.safe_load((Path(__file__).resolve().parents[1] / "config/calibration.yaml").read_text())[
        "objects"
    ]
)

RULES = {  # window (steps), tolerance, patience (windows)
    "window": [100, 250, 500],
    "tolerance": [1e-3, 1e-2],
    "patience": [1, 2, 3],
}


def measurement_sets(study: dict, args: argparse.Namespace, folder: Path) -> dict:
    """Every (object, n) measurement set, simulated once with the workflow's stages."""
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


def trajectory(data, settings, every: int) -> dict:
    """The whole-budget fit of one measurement set: loss per step, SSIM every ``every``."""
    settings = replace(settings, training=replace(settings.training, patience=10**9))
    recorder = _Recorder(data, every)
    trainer = build_trainer(data, settings, progress=recorder)
    trainer.progress.interval_s = 0  # every step's loss reaches the recorder
    recorder.model = trainer.model
    trainer.run_initialization(data.intensities[0], data.centers[0], None)
    trainer.run_progressive_training(
        data.centers, data.intensities, None, data.samples_per_line_meas
    )
    return {"losses": recorder.losses, "ssim": recorder.ssims}


class _Recorder:
    """A progress writer: keeps every step's loss and scores the decoder every ``every``."""

    def __init__(self, data, every: int) -> None:
        self.truth = crop_object(data.ground_truth, data.obj_size)
        self.obj_size, self.every, self.model = data.obj_size, every, None
        self.losses, self.ssims = [], {}

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        if tag != "loss":
            return
        self.losses.append(value)
        if step % self.every == 0:
            with torch.no_grad():
                estimate = self.model().reshape(self.truth.shape)
            self.ssims[step] = evaluate(estimate, self.truth, obj_size=self.obj_size).ssim


def stop_step(losses: list[float], window: int, tolerance: float, patience: int) -> int:
    """The number of steps a fit with this rule runs on a recorded trajectory."""
    plateau = Plateau(window, tolerance, patience)
    for step, loss in enumerate(losses):
        if plateau.update(loss):
            return step
    return len(losses)


def ssim_at(ssims: dict, step: int) -> float:
    """The last SSIM recorded at or before ``step``."""
    recorded = {int(k): value for k, value in ssims.items() if int(k) <= step}
    return recorded[max(recorded)] if recorded else float("nan")


def replay(cases: dict) -> None:
    """Print every rule's stops and SSIMs over the recorded cases, best mean first."""
    rows = []
    for window, tolerance, patience in itertools.product(*RULES.values()):
        ssims, fractions = [], []
        for case in cases.values():
            stop = stop_step(case["losses"], window, tolerance, patience)
            ssims.append(ssim_at(case["ssim"], stop))
            fractions.append(stop / len(case["losses"]))
        rows.append((window, tolerance, patience, ssims, fractions))
    whole = [ssim_at(case["ssim"], len(case["losses"])) for case in cases.values()]
    print("case order:", ", ".join(cases))
    print(f"whole budget: mean SSIM {sum(whole) / len(whole):.4f}  {_fmt(whole)}")
    for window, tolerance, patience, ssims, fractions in rows:
        mean, share = sum(ssims) / len(ssims), sum(fractions) / len(fractions)
        print(
            f"window {window:4d} tol {tolerance:g} patience {patience}: mean SSIM {mean:.4f} "
            f"({mean - sum(whole) / len(whole):+.4f}), mean share of the budget {share:.2f}  "
            f"{_fmt(ssims)}"
        )


def _fmt(values) -> str:
    return " ".join(f"{value:.3f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--algorithm", default="prism-all_at_once")
    parser.add_argument("--objects", nargs="+", default=list(CALIBRATION))
    parser.add_argument("--every", type=int, default=250, help="steps between SSIMs")
    parser.add_argument("--out", type=Path, help="write the trajectories (JSON)")
    parser.add_argument("--load", type=Path, nargs="+", help="replay rules on saved ones")
    args = parser.parse_args()
    if set(args.objects) & set(EVALUATION_OBJECTS):
        parser.error(
            f"calibrate on {', '.join(CALIBRATION)}, not on {', '.join(EVALUATION_OBJECTS)}"
        )
    if args.load:
        cases = {}
        for path in args.load:
            cases |= json.loads(path.read_text())
        replay(cases)
        return
    torch.set_num_threads(1)
    study = yaml.safe_load(args.config.read_text())
    args.pattern, args.noise = study["patterns"][0], study["noise"][0]
    args.n_samples = study["n_samples"]
    settings = algorithm_settings(study, args.algorithm)
    cases = {}
    with tempfile.TemporaryDirectory() as folder:
        for (name, n), data in measurement_sets(study, args, Path(folder)).items():
            cases[f"{name}-n{n}"] = trajectory(data, resolve(settings, data), args.every)
            last = cases[f"{name}-n{n}"]
            print(f"{name} n={n}: {len(last['losses'])} steps", flush=True)
            if args.out:
                args.out.write_text(json.dumps(cases))
    replay(cases)


if __name__ == "__main__":
    main()
