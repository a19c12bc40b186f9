"""Run a workflow config's study grid on a many-core or GPU machine without Snakemake or MLflow.

For machines that have PyTorch but not the workflow's tools (the lent GPU machine): the same
stage functions the rules call (``prepare`` -> ``simulate`` -> PRISM initialize / train /
retry, ePIE, the framing references -> ``evaluate.score``) write the same files under
``--out`` (``data/``, ``results/<object>/<key>/<algorithm>/metrics.json``), so
``python -m prism summarize`` reads them like the workflow's. Nothing is tracked in MLflow.

Jobs run in worker processes with one CPU thread each; ``--gpu-workers`` of them train PRISM
on CUDA and take the most expensive jobs first, the CPU workers the cheapest. Finished jobs
are skipped on a rerun; ``--deadline-s`` stops starting new jobs (the finished ones stay).

    python benchmarks/run_study.py config/ablation.yaml --out /tmp/ablation \\
        --set seeds=[0] --cpu-workers 12 --gpu-workers 4 --deadline-s 500
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import queue
import sys
import time
from pathlib import Path

import torch
import yaml

from prism.config import (
    EPIEConfig,
    NoiseConfig,
    PatternConfig,
    PhysicsConfig,
    PrismConfig,
    check_study,
    from_mapping,
    variant_mapping,
)
from prism.io import load_measurements
from prism.stages import data as data_stages
from prism.stages import evaluate, reconstruct

GRID = ("objects", "patterns", "n_samples", "noise", "seeds", "algorithms")
KEYS = ("object", "pattern", "n_samples", "noise", "seed", "algorithm")


def study_jobs(config: dict) -> list[dict]:
    """Every (object, pattern, n_samples, noise, seed, algorithm) of the study, cheapest first."""
    grid = itertools.product(*(config[key] for key in GRID))
    jobs = [dict(zip(KEYS, values, strict=True)) for values in grid]
    noises = list(config["noise"])
    return sorted(
        jobs,
        key=lambda job: (
            job["seed"],
            job["n_samples"],
            noises.index(job["noise"]),
            _points(config, job),
        ),
    )


def _points(config: dict, job: dict) -> int:
    return _pattern(config, job).points_per_sample


def _pattern(config: dict, job: dict) -> PatternConfig:
    return from_mapping(PatternConfig, config["pattern_models"][job["pattern"]], job["pattern"])


def _data_key(job: dict) -> str:
    return f"{job['pattern']}-n{job['n_samples']}-{job['noise']}-s{job['seed']}"


def simulate_all(config: dict, root: Path, jobs: list[dict]) -> None:
    """Prepare every object and simulate every measurement set once (skipping existing files)."""
    physics = from_mapping(PhysicsConfig, config.get("physics"), "physics")
    for job in jobs:
        prepared = root / "data" / "prepared" / f"{job['object']}.npz"
        if not prepared.exists():
            data_stages.prepare(job["object"], prepared, physics)
        out = _measurements(root, job)
        if not out.exists():
            data_stages.simulate(
                prepared,
                out,
                pattern=_pattern(config, job),
                noise=from_mapping(NoiseConfig, config["noise_models"][job["noise"]], ""),
                n_samples=job["n_samples"],
                seed=job["seed"],
            )


def _measurements(root: Path, job: dict) -> Path:
    return root / "data" / "measurements" / job["object"] / f"{_data_key(job)}.npz"


def _run_dir(root: Path, job: dict) -> Path:
    return root / "results" / job["object"] / _data_key(job) / job["algorithm"]


def run_job(config: dict, root: Path, job: dict, device: str) -> None:
    """Reconstruct and score one job as the workflow's rules do."""
    data = load_measurements(_measurements(root, job))
    folder = _run_dir(root, job)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "reconstruction.npz"
    algorithm = job["algorithm"]
    if algorithm.startswith("prism-"):
        mapping = variant_mapping(config, algorithm.removeprefix("prism-"))
        prism = reconstruct.resolve_prism(PrismConfig.from_mapping(mapping), data)
        build = {"config": prism, "device": device}
        trainer = reconstruct.build_trainer(data, **build)
        reconstruct.prism_initialize(data, folder / "init.pt", trainer)
        trainer = reconstruct.build_trainer(data, log_dir=folder / "progress", **build)
        (folder / "progress").mkdir(exist_ok=True)
        reconstruct.prism_train(data, folder / "init.pt", folder / "train.pt", trainer)
        trainer = reconstruct.build_trainer(data, **build)
        reconstruct.prism_retry(data, folder / "train.pt", out, trainer, prism)
    elif algorithm == "epie":
        epie = from_mapping(EPIEConfig, config.get("epie"), "epie")
        reconstruct.epie(data, out, reconstruct.resolve_epie(epie, data))
    else:
        reconstruct.framing(data, out, algorithm)
    key = job | {"n_samples": str(job["n_samples"]), "seed": str(job["seed"])}
    measurements = _measurements(root, job)
    metrics, image = folder / "metrics.json", folder / "reconstruction.png"
    evaluate.score(measurements, out, metrics, image, key=key)


def _worker(config, root, mine, others, device, deadline, done) -> None:
    torch.set_num_threads(1)
    while time.time() < deadline:
        try:
            job = mine.get_nowait()
        except queue.Empty:
            try:
                job = others.get_nowait()
            except queue.Empty:
                return
        began = time.perf_counter()
        try:
            run_job(config, root, job, device)
            status = f"{time.perf_counter() - began:.0f} s"
        except Exception as error:  # report and go on: one broken job must not stop the grid
            status = f"FAILED: {error!r}"
        done.put(f"{device} {job} {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="a workflow config (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="folder of data/ and results/")
    parser.add_argument("--set", action="append", default=[], help="KEY=JSON override")
    parser.add_argument("--cpu-workers", type=int, default=2)
    parser.add_argument("--gpu-workers", type=int, default=0)
    parser.add_argument("--deadline-s", type=float, default=float("inf"))
    args = parser.parse_args()
    deadline = time.time() + args.deadline_s
    config = yaml.safe_load(args.config.read_text())
    for item in args.set:
        key, value = item.split("=", 1)
        config[key] = json.loads(value)
    check_study(config)
    jobs = study_jobs(config)
    simulate_all(config, args.out, jobs)
    todo = [job for job in jobs if not (_run_dir(args.out, job) / "metrics.json").exists()]
    print(f"{len(jobs)} jobs, {len(todo)} to run", flush=True)
    context = multiprocessing.get_context("spawn")
    cheap, costly, done = context.Queue(), context.Queue(), context.Queue()
    split = len(todo) if not args.gpu_workers else len(todo) // 2
    for job in todo[:split]:
        cheap.put(job)
    for job in reversed(todo[split:]):
        costly.put(job)
    workers = [(cheap, costly, "cpu")] * args.cpu_workers
    workers += [(costly, cheap, "cuda")] * args.gpu_workers
    processes = [
        context.Process(target=_worker, args=(config, args.out, a, b, d, deadline, done))
        for a, b, d in workers
    ]
    for process in processes:
        process.start()
    for finished in range(1, len(todo) + 1):
        while True:
            try:
                print(f"[{finished}/{len(todo)}] {done.get(timeout=5)}", flush=True)
                break
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    sys.exit(f"stopped with {finished - 1} of {len(todo)} jobs done")


if __name__ == "__main__":
    main()
