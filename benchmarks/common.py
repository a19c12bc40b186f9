"""Helpers shared by the benchmark scripts: per-configuration subprocesses and peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


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


def run_isolated(script: str, spec: list) -> dict:
    """Run ``script --worker SPEC`` in a fresh interpreter; return its last stdout line as JSON."""
    spec_json = json.dumps(spec)
    done = subprocess.run(
        [sys.executable, script, "--worker", spec_json], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"configuration {spec_json} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])
