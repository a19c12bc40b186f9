"""The collector: one process per study that replays every job's journal into MLflow.

Jobs write journals (:mod:`prism.journal`); the collector, started with the study
(:func:`prism.tracking.start_study`), drains them about every second, so the MLflow UI follows
the study while it runs, and it is the only process of the study that writes to the tracking
store. Offsets on disk make every event replayed once, whoever drains (the collector, or the
study's finish after it), and a file lock keeps two drains from running at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from prism.credentials import URI_VARIABLE, hide_password, store_uri
from prism.io import atomic_write
from prism.journal import journal_dir, read_events

COLLECTOR_STATE = "collector.json"  # in the journal folder: replay offsets and run ids
COLLECTOR_STOP = "collector.stop"
COLLECTOR_PID = "collector.pid"
COLLECTOR_LOCK = "collector.lock"
POLL_S = 1.0
MAX_ATTEMPTS = 5  # an event MLflow keeps refusing is skipped (with a warning) after these
GIVE_UP_S = 60.0  # ... and after failing for this long (a database locked for a while waits)
FINAL_WAIT_S = 300.0  # the study's finish waits this long for a refusing store at most
BATCH = 1000  # metrics per MLflow batch (its limit)


def workdir_tag() -> dict[str, str]:
    """The tag that ties a run to the working directory of its study."""
    return {"prism.workdir": str(Path.cwd().resolve())}


class Collector:
    """Replays a study's journals into MLflow, each event once (offsets kept on disk).

    Parameters
    ----------
    record_path : path-like
        The study record (:func:`start_study`); the journals are in the folder beside it.
    """

    def __init__(self, record_path: str | os.PathLike) -> None:
        self.record = json.loads(Path(record_path).read_text())
        self.folder = journal_dir(record_path)
        self.client = MlflowClient(store_uri(self.record["uri"]))
        self.lost = False  # set once the store is found not to hold the study (study_lost)

    def drain(self, *, final: bool = False) -> int:
        """Replay every journal's new events; return how many.

        An event the store refuses (busy, locked, unreachable) is retried on the next drain;
        once a journal has failed ``MAX_ATTEMPTS`` times over at least ``GIVE_UP_S`` seconds,
        each event it fails on is skipped with a warning. With ``final`` (no stage runs any
        more) the drain repeats, for at most ``FINAL_WAIT_S`` seconds, until every event is
        replayed or skipped; then the runs of journals that never ended are marked FAILED and
        tagged ``prism.killed``. :attr:`complete` tells whether nothing was left. Only one
        drain runs at a time (a file lock), so a study's collector and its finish never
        replay an event twice.
        """
        self.complete = True
        if not self.folder.exists():
            return 0
        with _locked(self.folder / COLLECTOR_LOCK):
            state_path = self.folder / COLLECTOR_STATE
            state = json.loads(state_path.read_text()) if state_path.exists() else {}
            try:
                replayed = self._drain(state, final)
            finally:  # offsets on disk even when stopped mid-drain: no event replayed twice
                atomic_write(state_path, lambda tmp: tmp.write_text(json.dumps(state)))
        return replayed

    def _drain(self, state: dict, final: bool) -> int:
        replayed, pending = self._pass(state)
        deadline = time.monotonic() + FINAL_WAIT_S
        while final and pending and not self.lost and time.monotonic() < deadline:
            time.sleep(POLL_S)
            more, pending = self._pass(state)
            replayed += more
        self.complete = not pending
        if final and pending:
            warn(f"events left in {self.folder}: the next study replays them")
        elif final:
            for entry in state.values():
                if entry["open"]:
                    self.client.set_tag(entry["run_id"], "prism.killed", "true")
                    self.client.set_terminated(entry["run_id"], "FAILED")
                    entry["open"] = False
        return replayed

    def _pass(self, state: dict) -> tuple[int, bool]:
        """One pass over every journal: (events replayed, whether some wait for a retry)."""
        replayed, pending = 0, False
        for path in sorted(self.folder.glob("*.jsonl")):
            entry = state.setdefault(path.name, {"offset": 0, "run_id": None, "open": False})
            count, done = self._replay(path, entry)
            replayed, pending = replayed + count, pending or not done
        return replayed, pending

    def _replay(self, path: Path, entry: dict) -> tuple[int, bool]:
        """Replay a journal's new events: (how many, False when one waits for a retry)."""
        events, _ = read_events(path, entry["offset"])
        replayed = 0
        for group in _groups(events):
            if group[0][1]["e"] == "unreadable":  # a torn line: skipped, counted, read on
                entry["unreadable"] = entry.get("unreadable", 0) + 1
                line = group[0][1]["line"]
                warn(
                    f"{path.name}: unreadable line skipped ({entry['unreadable']} so far): {line!r}"
                )
                entry["offset"] = group[-1][0]
                continue
            try:
                self._apply(entry, [event for _, event in group])
            except Exception as error:  # the store is busy or refuses the event
                if self.study_lost() or not _gives_up(path, entry, error):
                    return replayed, False
            else:
                entry["errors"] = 0
                entry.pop("failing_since", None)
            entry["offset"] = group[-1][0]
            replayed += len(group)
        return replayed, True

    def study_lost(self) -> bool:
        """Whether the store no longer holds the study's run (its database deleted or replaced).

        Then no event is skipped: the journals wait, whole, for a store that holds the study
        (warned once per collector).
        """
        try:
            self.client.get_run(self.record["parent_run_id"])
        except Exception:
            if not self.lost:
                self.lost = True
                warn(
                    f"the tracking store {self.record['uri']} no longer holds this study's run "
                    f"{self.record['parent_run_id']} (was its database deleted or replaced?); "
                    f"nothing is replayed, and the journals in {self.folder} are kept"
                )
            return True
        return False

    def _apply(self, entry: dict, events: list[dict]) -> None:
        event, run_id = events[0], entry["run_id"]
        kind = event["e"]
        if kind == "metric":
            metrics = [Metric(e["k"], e["v"], e["t"], e["s"]) for e in events]
            self.client.log_batch(run_id, metrics=metrics)
        elif kind == "open":
            run_id = _find_or_create(self.client, self.record, event)
            self.client.update_run(run_id, status="RUNNING")
            params = [Param(k, v) for k, v in event["params"].items()]
            tags = [RunTag(k, v) for k, v in event["tags"].items()]
            self.client.log_batch(run_id, params=params, tags=tags)
            entry["run_id"], entry["open"] = run_id, True
        elif kind == "image":
            array = np.load(event["file"], allow_pickle=False)
            self.client.log_image(run_id, array, key=event["k"], step=event["s"])
        elif kind == "tags":
            tags = [RunTag(k, v) for k, v in event["tags"].items()]
            self.client.log_batch(run_id, tags=tags)
        elif kind == "artifact":
            self.client.log_artifact(run_id, event["path"], artifact_path=event["folder"])
        elif kind == "close":
            self.client.set_terminated(run_id, event["status"], end_time=event["t"])
            entry["open"] = False


def _gives_up(path: Path, entry: dict, error: Exception) -> bool:
    """Count a failed replay; True once the event has failed long and often enough to skip."""
    entry["errors"] = entry.get("errors", 0) + 1
    failing_s = time.time() - entry.setdefault("failing_since", time.time())
    if entry["errors"] < MAX_ATTEMPTS or failing_s < GIVE_UP_S:
        warn(f"{path.name}: {error}; will retry")
        return False
    warn(
        f"{path.name}: {error}; event skipped after {entry['errors']} attempts in {failing_s:.0f} s"
    )
    return True


def _groups(events: list[tuple[int, dict]]) -> Iterator[list[tuple[int, dict]]]:
    """Consecutive metric events in batches of at most BATCH; every other event alone."""
    batch: list[tuple[int, dict]] = []
    for item in events:
        if item[1]["e"] == "metric" and len(batch) < BATCH:
            batch.append(item)
            continue
        if batch:
            yield batch
            batch = []
        if item[1]["e"] == "metric":
            batch.append(item)
        else:
            yield [item]
    if batch:
        yield batch


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def warn(message: str) -> None:
    """Print a tracking warning (a store's error may quote its URI: never its password)."""
    message = hide_password(message, os.environ.get(URI_VARIABLE, ""))
    print(f"warning: tracking: {message}", file=sys.stderr, flush=True)


def _find_or_create(client: MlflowClient, record: dict, event: dict) -> str:
    """The run of a journal's ``open`` event under the study: found, or created at its time."""
    key, kind = event["key"], event["kind"]
    parent = record["parent_run_id"]
    query = f"tags.`prism.key` = '{key}' and tags.`mlflow.parentRunId` = '{parent}'"
    found = client.search_runs([record["experiment_id"]], filter_string=query, max_results=1)
    if found:
        return found[0].info.run_id
    tags = {"prism.key": key, "prism.kind": kind, "mlflow.parentRunId": parent} | workdir_tag()
    earlier = client.search_runs(  # the working folder is compared here: it may hold any character
        [record["experiment_id"]],
        filter_string=f"tags.`prism.key` = '{key}'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    here = [run for run in earlier if run.data.tags.get("prism.workdir") == tags["prism.workdir"]]
    if here:
        tags["prism.previous_attempt"] = here[0].info.run_id
    run = client.create_run(record["experiment_id"], event["t"], tags=tags, run_name=key)
    return run.info.run_id
