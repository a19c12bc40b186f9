"""What a tracked stage records, written to a journal file instead of to MLflow.

A job of a study never talks to MLflow: importing MLflow and opening its store costs about
two seconds per process, more than importing torch, and many processes writing one SQLite
database at once contend for its lock. Instead each tracked stage appends its run's events
(the run it belongs to, params and tags, metrics by step, images, artifacts, how it ended) as
JSON lines to a file of its own in the study's journal folder, and one collector process
(:mod:`prism.tracking`) replays every journal into MLflow while the study runs, so the MLflow
UI still follows a long fit. A tracking fault can then neither fail nor slow a job.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from prism.io import atomic_write
from prism.provenance import config_hash, git_state

KEY_FIELDS = ("object", "pattern", "n_samples", "noise", "seed", "algorithm")
JOURNAL_DIR = "journal"  # beside the study record


def journal_dir(record_path: str | os.PathLike) -> Path:
    """The folder of a study's journals (beside its record file)."""
    return Path(record_path).parent / JOURNAL_DIR


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """Nested settings as ``{"section.key": value}`` (MLflow params are flat)."""
    flat: dict[str, object] = {}
    for name, value in tree.items():
        if isinstance(value, dict) and value:
            flat |= flatten(value, f"{prefix}{name}.")
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def run_key(wildcards: dict) -> str:
    """A run's identity in the study: ``object=.../.../algorithm=...`` (the fields it has)."""
    return "/".join(f"{name}={wildcards[name]}" for name in KEY_FIELDS if name in wildcards)


class Journal:
    """A writer (``add_scalar``, ``add_image``, ``log_metrics``, ``log_artifact``) to a journal.

    Parameters
    ----------
    path : path-like
        The journal file (JSON lines, appended; one per tracked stage).
    prefix : str
        Prepended to every metric and image name (see :meth:`scoped`).
    """

    def __init__(self, path: str | os.PathLike, prefix: str = "") -> None:
        self.path = Path(path)
        self.prefix = prefix

    def scoped(self, prefix: str) -> Journal:
        """The same run, with every tag logged as ``prefix/tag`` (e.g. per-sample curves)."""
        return Journal(self.path, f"{self.prefix}{prefix}/")

    def write(self, event: dict) -> None:
        """Append one event as one whole line, or nothing.

        The line goes out in one ``os.write`` on an ``O_APPEND`` descriptor; when the disk
        takes only part of it (full disk), the journal is cut back to where it was and the
        error raised, so no later event is ever glued to a torn line.
        """
        line = (json.dumps(event | {"t": int(time.time() * 1000)}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            try:
                if os.write(fd, line) != len(line):
                    raise OSError(errno.ENOSPC, f"no space left on device: {self.path}")
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Log a metric at a step."""
        self.write({"e": "metric", "k": self.prefix + tag, "v": float(value), "s": int(step)})

    def add_image(self, tag: str, image, step: int) -> None:
        """Log a ``[C, H, W]`` image in ``[0, 1]`` at a step (kept as ``.npy`` beside)."""
        array = np.moveaxis(np.asarray(image, dtype=np.float32), 0, -1).squeeze(-1)
        files = self.path.with_suffix(".files")
        files.mkdir(exist_ok=True)
        target = files / f"{len(list(files.iterdir()))}.npy"
        atomic_write(target, lambda tmp: _save_array(tmp, array))
        self.write({"e": "image", "k": self.prefix + tag, "file": str(target), "s": int(step)})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log final metrics (step 0)."""
        for name, value in metrics.items():
            self.write({"e": "metric", "k": self.prefix + name, "v": float(value), "s": 0})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set tags on the run (a later value of a tag replaces an earlier one)."""
        self.write({"e": "tags", "tags": {name: str(value) for name, value in tags.items()}})

    def log_artifact(self, path: str | os.PathLike, folder: str | None = None) -> None:
        """Log a file as an artifact (copied by the collector, so it must stay in place)."""
        self.write({"e": "artifact", "path": str(Path(path).resolve()), "folder": folder})


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save on a name would append ".npy"
        np.save(handle, array, allow_pickle=False)


@contextmanager
def journaled_run(
    record_path: str | os.PathLike,
    *,
    wildcards: dict,
    stage: str,
    params: dict,
    data_hash: str | None = None,
    code: str | None = None,
) -> Iterator[Journal]:
    """Record one stage of a reconstruction or data item of the study in a new journal.

    The journal names its run (by ``wildcards``; every stage of one reconstruction shares
    it), its params (flattened) and tags (git state, config hash, stage, data hash, and the
    identity of the stage's code as ``prism.code.<stage>``, see :mod:`prism.provenance`),
    then what the stage logs, then how it ended: FINISHED, or FAILED when the stage raised
    (SIGTERM included, see :mod:`prism.cli`). A journal without an end is a killed stage.
    """
    folder = journal_dir(record_path)
    folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(folder / f"{time.time_ns()}-{os.getpid()}.jsonl")
    tags = git_state() | {
        "prism.config_hash": config_hash(params),
        "prism.stage": stage,
        "snakemake.wildcards": json.dumps(wildcards, sort_keys=True),
    }
    if data_hash is not None:
        tags["prism.data_hash"] = data_hash
    if code is not None:
        tags[f"prism.code.{stage}"] = code
    flat = {k: str(v) for k, v in flatten(params | {"study": wildcards}).items()}
    kind = "reconstruction" if "algorithm" in wildcards else "data"
    journal.write(
        {"e": "open", "key": run_key(wildcards), "kind": kind, "tags": tags} | {"params": flat}
    )
    try:
        yield journal
    except BaseException:
        journal.write({"e": "close", "status": "FAILED"})
        raise
    journal.write({"e": "close", "status": "FINISHED"})


def read_events(path: str | os.PathLike, offset: int) -> tuple[list[tuple[int, dict]], int]:
    """The whole event lines of a journal from byte ``offset``: ``[(end offset, event)]``.

    A last line still being written (no newline yet) is left for the next read. A whole line
    that is not an event (a torn write) becomes ``{"e": "unreadable", "line": <its start>}``,
    so that the reader can skip and count it and read on.
    """
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    events, position = [], offset
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            event = json.loads(line)
        except ValueError:
            event = {"e": "unreadable", "line": line[:80].decode(errors="replace")}
        if not isinstance(event, dict) or "e" not in event:
            event = {"e": "unreadable", "line": line[:80].decode(errors="replace")}
        position += len(line)
        events.append((position, event))
    return events, position
