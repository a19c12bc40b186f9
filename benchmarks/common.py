"""Helpers shared by the benchmark scripts: the set-up, subprocesses, timing, memory, tables.

The set-up is the original PRISM quick test's: a ``1024 x 1024`` grid, ``skimage.data.moon()``
as a 73-px object, sub-apertures 17 k-pixels across, Fermat-spiral lines 64 k-pixels long out to
``r_max = N / 4`` (random angles, seed 0), each measured at 9 points, noiseless.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from skimage.data import moon

from prism.core.detector import Detector
from prism.core.grid import crop_object
from prism.core.operator import MeasurementOperator, MeasurementSet
from prism.core.optics import Telescope
from prism.core.sampling import make_pattern
from prism.core.simulation import prepare_object, simulate_measurements
from prism.solvers.prism.aggregator import TelescopeAggregator

IMAGE_SIZE = 1024
OBJ_SIZE = 73
SAMPLE_DIAMETER = 17
R_MAX = IMAGE_SIZE / 4
LINE_LENGTH = 64
POINTS_PER_LINE = 9
PATTERN_LINES = 65  # the step benchmarks fit line k after the k before it, k up to 64
STEP_ROWS = [("replay", 1), ("replay", 4), ("replay", 16), ("replay", 64), ("union", 16)]
FULL_GRID_K = (1, 4, 16)  # full-grid steps run at these k only (replay k = 64: ~37 GiB)
# Memory of the full-grid detector per 1024 x 1024 field (one measurement point) in a step:
# ~56 MiB measured for the step's fields, spectra and their gradients (k = 1, 4 on CPU; ~55 on
# CUDA at k = 16) plus 8 MiB of stored windows.
FULL_GRID_MIB_PER_FIELD = 64
SETUP = (
    f"N = {IMAGE_SIZE}, obj {OBJ_SIZE} px, d = {SAMPLE_DIAMETER} px, moon, Fermat lines "
    f"{LINE_LENGTH} px x {POINTS_PER_LINE} points, r_max = N/4 = {R_MAX:g}, noiseless"
)


# ------------------------------------------------------------------ options and set-up
def add_options(parser: argparse.ArgumentParser, *, cuda: bool = True, worker: bool = True) -> None:
    """Add ``--threads``, ``--device`` (when ``cuda``) and the hidden ``--worker`` (``worker``)."""
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    if cuda:
        parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    if worker:
        parser.add_argument("--worker", help=argparse.SUPPRESS)


def start(threads: int, device: str = "cpu") -> torch.device:
    """Set the torch thread count and check the device; returns it."""
    torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    return torch.device(device)


def banner(device: str, threads: int) -> str:
    """One line naming torch, the device and the thread count."""
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return f"torch {torch.__version__}, {name}, {threads} CPU threads; {SETUP}"


def moon_object() -> torch.Tensor:
    """The object ``[N, N]``: ``skimage.data.moon()`` prepared into the grid."""
    return prepare_object(moon(), obj_size=OBJ_SIZE, image_size=IMAGE_SIZE)


def make_detector(*, full_grid: bool) -> Detector:
    """The fast detector, or the full-grid reference (``N x N`` per point)."""
    telescope = Telescope(IMAGE_SIZE, sample_diameter=SAMPLE_DIAMETER)
    return Detector(telescope, OBJ_SIZE, full_grid=full_grid)


def fermat(n: int, points_per_line: int = POINTS_PER_LINE) -> torch.Tensor:
    """``n`` Fermat-spiral samples: lines (``points_per_line > 1``) or points."""
    length = LINE_LENGTH if points_per_line > 1 else 0
    return make_pattern("fermat", n, r_max=R_MAX, line_length=length, seed=0)


def simulate(
    x: torch.Tensor, centers: torch.Tensor, detector: Detector, points_per_line: int
) -> torch.Tensor:
    """Noiseless intensities ``[n, m, m]`` of ``centers`` through ``detector``."""
    return simulate_measurements(
        x, centers, detector=detector, samples_per_line_meas=points_per_line
    )


def measured_aggregator(
    k: int, *, mode: str, full_grid: bool, device: torch.device
) -> TelescopeAggregator:
    """An aggregator holding ``k + 1`` measured lines, ready to fit line ``k`` (``k`` old).

    The lines are the first ``k + 1`` of a ``PATTERN_LINES``-line spiral, measured with the
    fast or the full-grid detector; the 'union' reference is the true object square.
    """
    detector = make_detector(full_grid=full_grid)
    x = moon_object()
    centers = fermat(PATTERN_LINES)[: k + 1]
    y = simulate(x, centers, detector, POINTS_PER_LINE)
    data = MeasurementSet.from_detector(detector, centers, y, samples_per_line_meas=POINTS_PER_LINE)
    aggregator = TelescopeAggregator(MeasurementOperator(data, full_grid=full_grid), mode=mode)
    aggregator.set_reference(crop_object(x, OBJ_SIZE).to(device))
    for sample, intensity in enumerate(y):
        aggregator.add(sample, intensity.to(device))
    return aggregator


def full_grid_gib(mode: str, k: int) -> float:
    """Estimated memory of a full-grid step fitting line ``k`` after ``k`` old lines."""
    fields = POINTS_PER_LINE * (k + 1) if mode == "replay" else POINTS_PER_LINE + 1
    return fields * FULL_GRID_MIB_PER_FIELD / 1024


# ------------------------------------------------------------------ subprocesses
def run_isolated(script: str, spec: dict) -> dict:
    """Run ``script --worker SPEC`` in a fresh interpreter; return its last stdout line.

    A configuration that fails returns ``{"error": ...}`` (its last stderr line, or the signal
    that killed it) so the other rows still run.
    """
    spec_json = json.dumps(spec)
    done = subprocess.run(
        [sys.executable, script, "--worker", spec_json], capture_output=True, text=True
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode} (killed: out of memory?)"
        return {"error": reason}
    return json.loads(done.stdout.splitlines()[-1])


# ------------------------------------------------------------------ timing
def time_steps(
    step: Callable[[], None],
    *,
    device: torch.device,
    warmup: int = 2,
    budget_s: float = 5.0,
    max_reps: int = 50,
    skip_s: float = 30.0,
) -> dict:
    """Time ``step`` after ``warmup`` calls: median and fastest of a few repetitions.

    Repetitions stop at ``max_reps`` or once they would exceed ``budget_s`` (at least one).

    Returns
    -------
    dict
        ``ms`` (median), ``min_ms``, ``reps``; or ``skipped`` (seconds of the last warm-up
        call) when a warm-up call took longer than ``skip_s``.
    """
    for _ in range(warmup):
        warm = _timed(step, device)
        if warm > skip_s:
            return {"skipped": warm}
    reps = max(1, min(max_reps, int(budget_s / warm)))
    times = [_timed(step, device) for _ in range(reps)]
    return {"ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "reps": reps}


def _timed(step: Callable[[], None], device: torch.device) -> float:
    _synchronize(device)
    began = time.perf_counter()
    step()
    _synchronize(device)
    return time.perf_counter() - began


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def profile_step(step: Callable[[], None], device: torch.device) -> dict:
    """:func:`time_steps` plus ``peak`` memory (MiB) and its ``growth`` over the set-up."""
    before = reset_peak(device)
    timing = time_steps(step, device=device)
    peak = peak_mib(device)
    return timing | {"peak": peak, "growth": peak - before}


def compare_steps(
    measure: Callable[..., dict], script: str, args: argparse.Namespace, names: tuple[str, str]
) -> None:
    """Print the step table: ``STEP_ROWS``, the fast configuration beside the full-grid one.

    Each cell is ``measure(full_grid=..., mode=..., k=..., device=..., threads=...)``, a
    :func:`profile_step` result: on CPU in a fresh ``script --worker`` subprocess (so the peak
    RSS is the cell's own), on CUDA in this process (the allocator's peak is reset per cell;
    this saves the interpreter and CUDA start-up per cell). Full-grid cells run at
    ``FULL_GRID_K`` only, and not when their estimate exceeds ``args.max_gib``.
    """
    print("ms = median ms/step, min = fastest, peak = largest memory during the steps (MiB; RSS")
    print("on CPU, tensors on CUDA), +MiB = its growth over the set-up (the first step's plan in)")
    columns = " ".join(f"{'ms':>8} {'min':>8} {'peak':>6} {'+MiB':>6} |" for _ in names)
    print(f"{'':>10} | {names[0]:^32} | {names[1]:^32} |")
    print(f"{'mode':>6} {'k':>3} | {columns} {names[1]}/{names[0]}")

    def cell(spec: dict) -> dict:
        if args.device == "cpu":
            return run_isolated(script, spec)
        try:
            return measure(**spec)
        except torch.OutOfMemoryError as error:
            return {"error": f"out of memory: {str(error).splitlines()[0]}"}
        finally:
            torch.cuda.empty_cache()

    rows = [row for row in STEP_ROWS if row[1] <= 4] if args.quick else STEP_ROWS
    for mode, k in rows:
        spec = {"mode": mode, "k": k, "device": args.device, "threads": args.threads}
        fast = cell(spec | {"full_grid": False})
        if k not in FULL_GRID_K:
            full = {"note": "not run"}
        elif full_grid_gib(mode, k) > args.max_gib:
            full = {"note": f"skipped: ~{full_grid_gib(mode, k):.0f} GiB > --max-gib"}
        else:
            full = cell(spec | {"full_grid": True})
        print(f"{mode:>6} {k:>3} | {_cell(fast)} | {_cell(full)} | {ratio(full, fast)}")


def _cell(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    if "note" in result:
        return f"{result['note']:<32}"
    if "skipped" in result:
        return f"{'skipped: warm-up ' + format(result['skipped'], '.0f') + ' s':<32}"
    ms, least, peak, growth = (result[key] for key in ("ms", "min_ms", "peak", "growth"))
    return f"{ms:>8.1f} {least:>8.1f} {peak:>6.0f} {growth:>6.0f}"


def step_benchmark_main(
    measure: Callable[..., dict],
    script: str,
    doc: str,
    names: tuple[str, str],
    describe: Callable[[], None] | None = None,
) -> None:
    """The step benchmarks' command line: one worker cell, or the whole side-by-side table.

    ``describe`` prints what the table compares, after the banner.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_options(parser)
    add_step_options(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(**json.loads(args.worker))))
        return
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    print(banner(args.device, args.threads))
    if describe is not None:
        describe()
    compare_steps(measure, script, args, names)


def add_step_options(parser: argparse.ArgumentParser) -> None:
    """Options of the step benchmarks: ``--max-gib`` and ``--quick``."""
    parser.add_argument(
        "--max-gib", type=float, default=8.0, help="skip full-grid cases estimated above this"
    )
    parser.add_argument("--quick", action="store_true", help="k = 1 and 4 only")


def ratio(slow: dict, fast: dict, key: str = "ms") -> str:
    """``slow[key] / fast[key]`` of two timing results as 'NNNx', or '-' when one is missing."""
    if key not in slow or key not in fast:
        return "-"
    return f"{slow[key] / fast[key]:.0f}x"


# ------------------------------------------------------------------ memory
def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Restart the peak RSS from the current RSS (Linux >= 4.0), so set-up is not counted."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def reset_peak(device: torch.device) -> float:
    """Restart the peak-memory count; returns the memory in use now, in MiB.

    On CPU that is the process RSS, on CUDA the memory held by tensors on the device.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    reset_peak_rss()
    return rss_mib()


def peak_mib(device: torch.device) -> float:
    """Peak memory since :func:`reset_peak`, in MiB (RSS on CPU, tensors on CUDA)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write dict rows (the same keys in each) as a CSV table with a header."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
