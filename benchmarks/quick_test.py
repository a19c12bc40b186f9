"""The original PRISM quick test, end to end through the package's own stages.

Set-up (``common.py``): N = 1024, ``skimage.data.moon()`` as a 73-px object, 17-px apertures,
``--n-samples`` Fermat lines 64 px long out to ``r_max = N / 4`` (seeded random angles),
measured at 9 points each, noiseless (seed 0). PRISM: the default decoder and settings
(``PrismConfig()``: every sample fitted at once), a budget of ``--steps-per-sample``
(default 1000) steps per sample (10 epochs), ``n_samples`` times that for the one fit;
``--decoder transposed --channels 1024`` trains the reference-shaped decoder instead.
ePIE: ``EPIEConfig()`` defaults (its stopping rule, at most 3,000 sweeps) on the same data.

The stages run as the workflow runs them, each on files in a temporary folder: ``prepare``
-> ``simulate`` -> PRISM's steps (init, train, retry; each through
:func:`prism.stages.reconstruct.run_step` with a fresh trainer, as ``python -m prism
reconstruct --step`` runs them), then ePIE (always on CPU: it is not accelerated);
both reconstructions are scored with ``prism.metrics.evaluate``. Progress goes to stderr, one
line per sample; the summary (wall time by phase, failed samples, SSIM/PSNR, peak memory) to
stdout.

    python benchmarks/quick_test.py                      # 64 samples; target < 15 min, < 2 GB
    python benchmarks/quick_test.py --n-samples 8        # a minute or two
    python benchmarks/quick_test.py --device cuda --n-samples 200
    python benchmarks/quick_test.py --n-samples 16 --steps-per-sample 100 \
        --decoder transposed --channels 1024        # the decoders side by side
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import (
    IMAGE_SIZE,
    LINE_LENGTH,
    OBJ_SIZE,
    POINTS_PER_LINE,
    R_MAX,
    SAMPLE_DIAMETER,
    add_options,
    banner,
    peak_rss_mib,
    start,
)

from prism.cli import ProgressPrinter
from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.io import load_checkpoint, load_reconstruction
from prism.metrics import evaluate
from prism.solvers import StepContext, find
from prism.solvers.epie import EPIEConfig
from prism.solvers.prism import resolve
from prism.solvers.prism.settings import DecoderConfig, PrismConfig, TrainingConfig
from prism.stages import data as data_stages
from prism.stages.reconstruct import reconstruct, run_step

PHYSICS = PhysicsConfig(image_size=IMAGE_SIZE, obj_size=OBJ_SIZE, sample_diameter=SAMPLE_DIAMETER)
PATTERN = PatternConfig(
    kind="fermat", r_max=R_MAX, line_length=LINE_LENGTH, samples_per_line_meas=POINTS_PER_LINE
)
MAX_EPOCHS = 10  # the step budget per sample is split into 10 epochs


def run(args: argparse.Namespace, folder: Path, device: torch.device) -> dict:
    """Run every stage in ``folder``; returns phase times, failures and scores."""
    times, clock = {}, time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        times[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    data_stages.prepare("moon", folder / "object.npz", PHYSICS)
    measurements = data_stages.simulate(
        folder / "object.npz",
        folder / "measurements.npz",
        pattern=PATTERN,
        noise=NoiseConfig(),
        n_samples=args.n_samples,
        seed=0,
    )
    lap("simulate")
    training = TrainingConfig(
        steps_per_epoch=args.steps_per_sample // MAX_EPOCHS,
        max_epochs=MAX_EPOCHS,
        tolerance=args.tolerance,
    )
    decoder = DecoderConfig(kind=args.decoder, channels=args.channels)
    config = PrismConfig(decoder=decoder, training=training)
    config = resolve(config, measurements)
    solver, files = find("prism"), {"init": "init.pt", "train": "train.pt", "retry": "prism.npz"}
    checkpoint = None
    for step in solver.steps:  # the workflow's steps, as `python -m prism reconstruct` runs them
        context = StepContext(
            out=folder / files[step],
            checkpoint=checkpoint,
            device=str(device),
            scoped=lambda prefix, closing_tag=None: ProgressPrinter(prefix, None, closing_tag),
        )
        run_step(solver, step, measurements, config, context)
        checkpoint = context.out
        lap("initialize" if step == "init" else step)
    failed = [record["index"] for record in load_checkpoint(folder / "train.pt")["failed"]]
    left = load_reconstruction(folder / "prism.npz")["failed_samples"]
    epie = find("epie")
    epie_config = epie.resolved(EPIEConfig(), measurements)
    epie_result = reconstruct(epie, measurements, epie_config, folder / "epie.npz")
    lap("epie")
    scores = {
        name: evaluate(
            load_reconstruction(folder / f"{name}.npz")["reconstruction"],
            measurements.ground_truth,
            obj_size=OBJ_SIZE,
        )
        for name in ("prism", "epie")
    }
    return {
        "times": times,
        "failed_after_training": failed,
        "recovered": len(failed) - left,
        "failed_at_the_end": left,
        "scores": scores,
        "config": config,
        "epie_sweeps": f"{epie_result.steps} sweeps, {epie_result.stop_reason}",
    }


def report(outcome: dict, device: torch.device) -> None:
    """Print the summary."""
    times = outcome["times"]
    prism_s = times["initialize"] + times["train"] + times["retry"]
    print("wall time by phase (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    print(f"PRISM (initialize + train + retry): {prism_s:.1f} s = {prism_s / 60:.1f} min")
    print(f"total: {sum(times.values()):.1f} s = {sum(times.values()) / 60:.1f} min")
    failed = outcome["failed_after_training"]
    print(f"failed samples after training: {len(failed)} {failed}")
    left = outcome["failed_at_the_end"]
    print(f"recovered by retry: {outcome['recovered']}; failed at the end: {left}")
    for name, label in (("prism", "PRISM"), ("epie", f"ePIE ({outcome['epie_sweeps']})")):
        score = outcome["scores"][name]
        print(f"{label}: SSIM {score.ssim:.4f}, PSNR {score.psnr:.2f} dB")
    memory = f"peak RSS: {peak_rss_mib():.0f} MiB"
    if device.type == "cuda":
        memory += f", peak CUDA tensors: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
    print(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_options(parser, worker=False)
    parser.add_argument("--n-samples", type=int, default=64, help="line samples (default 64)")
    parser.add_argument("--steps-per-sample", type=int, default=1000, help="budget (default 1000)")
    parser.add_argument("--decoder", default="upsample", choices=("upsample", "transposed"))
    parser.add_argument("--channels", type=int, default=DecoderConfig().channels)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TrainingConfig().tolerance,
        help=f"stopping rule's tolerance (default TrainingConfig's, {TrainingConfig().tolerance})",
    )
    args = parser.parse_args()
    device = start(args.threads, args.device)
    sys.stdout.reconfigure(line_buffering=True)
    print(banner(args.device, args.threads))
    with tempfile.TemporaryDirectory() as folder:
        outcome = run(args, Path(folder), device)
    training = outcome["config"].training
    print(
        f"{args.n_samples} samples, schedule {training.schedule}, "
        f"{training.step_budget} steps per sample "
        f"(steps_per_epoch {training.steps_per_epoch} x max_epochs {training.max_epochs}), "
        f"tolerance {training.tolerance} (patience {training.patience}), "
        f"init_steps {training.init_steps}, "
        f"decoder {dataclasses.asdict(outcome['config'].decoder)}"
    )
    report(outcome, device)


if __name__ == "__main__":
    main()
