"""Run a study config's grid on a many-core or GPU machine that has no Snakemake or MLflow.

Why a runner beside the workflow: the lent GPU machines carry PyTorch, NumPy, pandas and
scikit-image but neither Snakemake nor MLflow (nor jsonschema), and there the cheap jobs
should fill the CPU cores while PRISM trains on the GPU. Why it is thin: it owns no study
logic. The grid, the path scheme and the settings of each algorithm come from
:mod:`prism.study` (as in the Snakefile), images from ``data/raw/`` as the workflow finds
them, and every job runs the command line the workflow's rule runs, defined once in
:mod:`prism.study` (``python -m prism <stage> ...`` through :func:`prism.cli.main`,
untracked). The files land
under ``--out`` where the workflow puts them, so ``python -m prism summarize`` and
``benchmarks/study_table.py`` read them alike.

Workers are processes with one CPU thread each; ``--gpu-workers`` of them run the
accelerated solvers (PRISM) on CUDA, taking the most expensive jobs first, the CPU workers
the cheapest. A job whose
``metrics.json`` exists is skipped; ``--deadline-s`` stops starting new jobs. SIGTERM or
Ctrl-C stops the runner and its workers (a job cut short leaves no ``metrics.json``, so it
runs again next time).

    python benchmarks/run_study.py config/ablation.yaml --out /tmp/ablation \\
        --set seeds=[0] --cpu-workers 12 --gpu-workers 4 --deadline-s 500
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import signal
import sys
import time
from pathlib import Path

import yaml

from prism.cpu import pin_instruction_set

pin_instruction_set()  # as `python -m prism` does, before torch loads

from prism.cli import main as prism_stage  # noqa: E402
from prism.config import PatternConfig, from_mapping  # noqa: E402
from prism.images import prepare_source  # noqa: E402
from prism.study import (  # noqa: E402
    MEASUREMENTS,
    METRICS,
    PREPARED,
    check_no_aliases,
    check_study,
    job_commands,
    jobs,
    prepare_command,
    simulate_command,
)

SCHEMA = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"
STOP_TIMEOUT_S = 30  # a worker still alive this long after SIGTERM is killed


def load_study(path: Path, overrides: list[str]) -> dict:
    """A study config with ``KEY=JSON`` overrides, the schema's checks and defaults applied."""
    config = yaml.safe_load(path.read_text())
    for item in overrides:
        key, value = item.split("=", 1)
        config[key] = json.loads(value)
    check_no_aliases(config)
    try:
        from snakemake.utils import validate
    except ImportError:
        print("snakemake is not installed: the schema is not checked here", file=sys.stderr)
        schema = yaml.safe_load(SCHEMA.read_text())
        for key, rule in schema["properties"].items():
            if "default" in rule:
                config.setdefault(key, rule["default"])
    else:
        validate(config, str(SCHEMA))
    check_study(config)
    return config


def data_commands(config: dict, job: dict, root: Path) -> list[list[str]]:
    """The prepare and simulate commands of a job's data, for the files not there yet."""
    commands = []
    if not (root / PREPARED.format(**job)).exists():
        commands.append(prepare_command(config, job, prepare_source(job["object"]), root))
    if not (root / MEASUREMENTS.format(**job)).exists():
        commands.append(simulate_command(config, job, root))
    return commands


def cost(config: dict, job: dict) -> tuple:
    """Cheapest first: seed, apertures, noise model, points per measurement."""
    pattern = from_mapping(PatternConfig, config["pattern_models"][job["pattern"]], "pattern")
    noises = list(config["noise"])
    return job["seed"], job["n_samples"], noises.index(job["noise"]), pattern.points_per_sample


def _worker(config, root, mine, others, device, deadline, done, stop) -> None:
    while time.time() < deadline and not stop.is_set():
        try:
            job = mine.get_nowait()
        except queue.Empty:
            try:
                job = others.get_nowait()
            except queue.Empty:
                return
        began = time.perf_counter()
        try:
            for command in job_commands(config, job, root, device):
                prism_stage(command)
            status = f"{time.perf_counter() - began:.0f} s"
        except (Exception, SystemExit) as error:  # one broken job must not stop the grid
            if stop.is_set():  # the runner is stopping: so does this worker, now
                return
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
    config = load_study(args.config, args.set)
    grid = sorted(jobs(config), key=lambda job: cost(config, job))
    for job in grid:
        for command in data_commands(config, job, args.out):
            prism_stage(command)
    todo = [job for job in grid if not (args.out / METRICS.format(**job)).exists()]
    print(f"{len(grid)} jobs, {len(todo)} to run", flush=True)
    context = multiprocessing.get_context("spawn")
    cheap, costly, done = context.Queue(), context.Queue(), context.Queue()
    stop = context.Event()
    split = len(todo) if not args.gpu_workers else len(todo) // 2
    for job in todo[:split]:
        cheap.put(job)
    for job in reversed(todo[split:]):
        costly.put(job)
    workers = [(cheap, costly, "cpu")] * args.cpu_workers
    workers += [(costly, cheap, "cuda")] * args.gpu_workers
    processes = [
        context.Process(target=_worker, args=(config, args.out, a, b, d, deadline, done, stop))
        for a, b, d in workers
    ]
    signal.signal(signal.SIGTERM, _stopped)
    for process in processes:
        process.start()
    try:
        _report(processes, done, len(todo))
    finally:  # SIGTERM, Ctrl-C or the end: no worker outlives the runner
        stop.set()
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()


def _report(processes, done, total: int) -> None:
    """Print each finished job; exit when every worker is gone before the grid is done."""
    for finished in range(1, total + 1):
        while True:
            try:
                print(f"[{finished}/{total}] {done.get(timeout=5)}", flush=True)
                break
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    sys.exit(f"stopped with {finished - 1} of {total} jobs done")


def _stopped(signum, frame) -> None:
    raise SystemExit(f"stopped by signal {signum}; the workers are stopped too")


if __name__ == "__main__":
    main()
