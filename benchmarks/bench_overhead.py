"""The workflow's overhead on a finished study, and the start-up cost of one tracked job.

Overhead: the core time of every job of the study (Snakemake's ``logs/benchmarks/**/*.tsv``;
each job runs one CPU thread) minus the time the algorithms themselves report
(``wall_time_s`` of every ``results/**/metrics.json``): interpreter start-up, imports, reading
and writing files, tracking, data simulation, scoring and the summary.

Start-up (``--startup``): the wall time of a tracked job whose algorithm takes no time (the
single-aperture reference: one amplitude image) on one of the study's measurement sets,
against ``python -c "import torch"``, median of ``--repeats`` runs each. It bounds from above
the time from a job's start to its algorithm's first step (it also loads and saves). Run it
on an idle machine.

    python benchmarks/bench_overhead.py /path/to/study --startup
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def job_seconds(study: Path) -> dict[str, list[float]]:
    """Every job's wall seconds, by rule (the first folder under logs/benchmarks/)."""
    by_rule: dict[str, list[float]] = defaultdict(list)
    root = study / "logs/benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0].removesuffix(".tsv")
        with open(path, newline="") as handle:
            by_rule[rule] += [float(row["s"]) for row in csv.DictReader(handle, delimiter="\t")]
    return by_rule


def algorithm_seconds(study: Path) -> float:
    """The seconds the algorithms report, summed over every reconstruction of the study."""
    paths = study.glob("results/*/*/*/metrics.json")
    return sum(json.loads(path.read_text())["wall_time_s"] for path in paths)


def overhead(study: Path) -> None:
    """Print core time per rule, the algorithms' time and the overhead."""
    by_rule = job_seconds(study)
    if not by_rule:
        sys.exit(f"no job timings under {study / 'logs/benchmarks'}: run the study first")
    for rule, seconds in sorted(by_rule.items()):
        print(f"{rule:14} {len(seconds):4d} jobs {sum(seconds):9.1f} s")
    total = sum(sum(seconds) for seconds in by_rule.values())
    algorithms = algorithm_seconds(study)
    share = (total - algorithms) / total
    print(f"all jobs       {sum(map(len, by_rule.values())):4d} jobs {total:9.1f} s core time")
    print(f"algorithms               {algorithms:9.1f} s (reported by the reconstructions)")
    print(f"overhead                 {total - algorithms:9.1f} s = {share:.1%} of the core time")


def _median_wall(command: list[str], repeats: int, **kwargs) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, **kwargs)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def startup(study: Path, repeats: int) -> None:
    """Print the tracked job's wall time against importing torch."""
    measurements = sorted(study.glob("data/measurements/*/*.npz"))
    if not measurements:
        sys.exit(f"no measurement set under {study / 'data/measurements'}: run the study first")
    torch_s = _median_wall([sys.executable, "-c", "import torch"], repeats)
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "study.json"  # journaled only: nothing replays it here
        identity = json.dumps({"object": "x", "algorithm": "single_aperture"})
        command = [sys.executable, "-m", "prism", "reconstruct", "--algorithm", "single_aperture"]
        command += ["--measurements", str(measurements[0].resolve()), "--settings", "{}"]
        command += ["--out", str(Path(folder) / "r.npz"), "--track", str(record)]
        command += ["--wildcards", identity]
        env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}
        job_s = _median_wall(command, repeats, cwd=study, env=env)
    print(f"import torch       {torch_s:.2f} s (median of {repeats})")
    print(f"tracked job        {job_s:.2f} s = {job_s / torch_s:.2f} x import torch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, nargs="?", default=Path("."), help="study folder")
    parser.add_argument("--startup", action="store_true", help="also time a tracked job")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    overhead(args.study)
    if args.startup:
        startup(args.study, args.repeats)


if __name__ == "__main__":
    main()
