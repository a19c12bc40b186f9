"""Tracked stages journal what they log; the collector replays it into MLflow, once."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from prism.journal import Journal, journal_dir, journaled_run, read_events
from prism.tracking import finish_study, start_study
from prism.tracking.collector import Collector, workdir_tag
from prism.tracking.lifecycle import _close, owner_tag

KEY = {"object": "moon", "pattern": "p", "n_samples": 3, "noise": "z", "seed": 0}
RECONSTRUCTION = KEY | {"algorithm": "tv"}


def test_a_journal_names_its_run_holds_what_was_logged_and_how_it_ended(tmp_path):
    record = tmp_path / "study.json"
    with journaled_run(record, wildcards=RECONSTRUCTION, stage="r", params={"a": {"b": 1}}) as j:
        j.scoped("epoch").add_scalar("loss", 0.5, 3)
        j.add_image("image", np.ones((1, 4, 4)), 3)
        j.log_metrics({"ssim": 0.9})
    with pytest.raises(RuntimeError), journaled_run(record, wildcards=KEY, stage="r", params={}):
        raise RuntimeError("the stage failed")
    first, second = sorted(journal_dir(record).glob("*.jsonl"))
    events = [event for _, event in read_events(first, 0)[0]]
    assert [event["e"] for event in events] == ["open", "metric", "image", "metric", "close"]
    assert events[0]["key"] == "object=moon/pattern=p/n_samples=3/noise=z/seed=0/algorithm=tv"
    assert events[0]["kind"] == "reconstruction" and events[0]["params"]["a.b"] == "1"
    assert events[0]["params"]["study.algorithm"] == "tv" and "git.commit" in events[0]["tags"]
    assert (events[1]["k"], events[1]["v"], events[1]["s"]) == ("epoch/loss", 0.5, 3)
    assert np.load(events[2]["file"]).shape == (4, 4)
    assert events[-1]["status"] == "FINISHED"
    ended = [event for _, event in read_events(second, 0)[0]]
    assert ended[0]["kind"] == "data" and ended[-1]["status"] == "FAILED"


def test_a_line_still_being_written_is_left_for_the_next_read(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"e": "metric"}) + "\n" + '{"e": "met')
    events, offset = read_events(path, 0)
    assert len(events) == 1 and offset == len(json.dumps({"e": "metric"})) + 1
    assert read_events(path, offset)[0] == []


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A study record whose parent run lives in a fresh SQLite store (no collector process)."""
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("unit")
    parent = client.create_run(experiment).info.run_id
    record = tmp_path / ".prism/study.json"
    record.parent.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    record.write_text(
        json.dumps({"uri": uri, "experiment_id": experiment, "parent_run_id": parent})
    )
    return client, record, parent


def test_the_collector_replays_every_event_once_under_the_study(study):
    client, record, parent = study
    with journaled_run(record, wildcards=RECONSTRUCTION, stage="r", params={"w": 0.3}) as journal:
        for step in range(3):
            journal.add_scalar("loss", 1.0 / (step + 1), step)
        assert Collector(record).drain() == 4  # the open and three metrics, mid-stage
        (run,) = client.search_runs(
            [client.get_run(parent).info.experiment_id], "tags.`prism.kind` = 'reconstruction'"
        )
        assert run.info.status == "RUNNING" and run.data.params["w"] == "0.3"
        journal.log_metrics({"ssim": 0.8})
    assert Collector(record).drain() == 2 and Collector(record).drain() == 0
    run = client.get_run(run.info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.parentRunId"] == parent
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 0.5, 1 / 3]
    assert run.data.metrics["ssim"] == 0.8


def test_a_stage_that_never_ended_is_marked_killed_at_the_end(study):
    client, record, _ = study
    context = journaled_run(record, wildcards=KEY, stage="simulate", params={})
    context.__enter__()  # a SIGKILL leaves the journal without its end
    Collector(record).drain()
    Collector(record).drain(final=True)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("unit").experiment_id], "tags.`prism.kind` = 'data'"
    )
    assert run.info.status == "FAILED" and run.data.tags["prism.killed"] == "true"


def test_an_event_the_store_refuses_is_retried_then_skipped(study, capsys, monkeypatch):
    monkeypatch.setattr("prism.tracking.collector.GIVE_UP_S", 0.0)
    client, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_artifact(record.parent / "missing.png")  # refused: no such file
        journal.log_metrics({"after": 1.0})
    collector = Collector(record)
    for _ in range(4):
        collector.drain()
        assert "will retry" in capsys.readouterr().err
    collector.drain()
    assert "skipped after 5 attempts" in capsys.readouterr().err
    assert collector.drain() == 0
    (run,) = client.search_runs(
        [client.get_experiment_by_name("unit").experiment_id], "tags.`prism.kind` = 'data'"
    )
    assert run.info.status == "FINISHED" and run.data.metrics["after"] == 1.0


def test_a_tracked_stage_never_imports_mlflow(tmp_path):
    record = tmp_path / ".prism/study.json"
    physics = json.dumps({"image_size": 32, "obj_size": 16, "sample_diameter": 8})
    stage = ["prepare", "--source", "moon", "--out", str(tmp_path / "moon.npz")]
    stage += ["--physics", physics, "--track", str(record), "--wildcards", '{"object": "moon"}']
    check = (
        f"import sys; from prism.cli import main; main({stage!r}); print('mlflow' in sys.modules)"
    )
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    (journal,) = journal_dir(record).glob("*.jsonl")
    assert [event["e"] for _, event in read_events(journal, 0)[0]][-1] == "close"


def test_a_finish_waits_a_bounded_time_and_keeps_what_the_store_refused(study, monkeypatch):
    monkeypatch.setattr("prism.tracking.collector.FINAL_WAIT_S", 0.0)  # GIVE_UP_S stays 60 s
    client, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_artifact(record.parent / "missing.png")  # refused: no such file
    collector = Collector(record)
    collector.drain(final=True)
    assert not collector.complete
    (run,) = client.search_runs(
        [client.get_experiment_by_name("unit").experiment_id], "tags.`prism.kind` = 'data'"
    )
    assert run.info.status == "RUNNING" and "prism.killed" not in run.data.tags  # not judged
    state = json.loads((journal_dir(record) / "collector.json").read_text())
    assert [entry["errors"] for entry in state.values()] == [1]  # kept for the next study


def _run_a_new_study(tmp_path):
    """Start and finish a study in ``tmp_path``, as a new invocation there would."""
    record = tmp_path / ".prism/studies/new/study.json"
    record.parent.mkdir(parents=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start_study(record, uri=uri, experiment="unit", config={}, owner=os.getpid())
    finish_study(record, "FINISHED")


def test_a_new_study_fails_the_runs_of_dead_studies_only(study, tmp_path):
    client, _, _ = study
    experiment = client.get_experiment_by_name("unit").experiment_id
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    runs = {}
    for name, pid in (("live", os.getpid()), ("dead", ended.pid)):
        tags = workdir_tag() | {"prism.kind": "study", "prism.owner": owner_tag(pid)}
        parent = client.create_run(experiment, tags=tags).info.run_id
        child = client.create_run(experiment, tags=workdir_tag() | {"mlflow.parentRunId": parent})
        runs[name] = (parent, child.info.run_id)
    # The live study has no record yet: an invocation that started a moment ago.
    _run_a_new_study(tmp_path)
    for run_id in runs["live"]:
        run = client.get_run(run_id)
        assert run.info.status == "RUNNING" and "prism.killed" not in run.data.tags
    for run_id in runs["dead"]:
        run = client.get_run(run_id)
        assert run.info.status == "FAILED" and run.data.tags["prism.killed"] == "true"


def test_a_record_without_an_owner_host_is_left_alone(study, tmp_path):
    old = tmp_path / ".prism/studies/old/study.json"
    journal_dir(old).mkdir(parents=True)
    old.write_text(json.dumps({"owner": os.getpid() + 10**6, "parent_run_id": "x"}))
    _run_a_new_study(tmp_path)
    assert journal_dir(old).exists()  # not closed: its owner's host is unknown


def test_a_torn_line_is_skipped_and_counted_and_the_rest_replayed(study, capsys):
    client, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_metrics({"before": 1.0})
        with open(journal.path, "a") as handle:  # what a full disk left in a study's journal
            handle.write('{"e": "metric", "k": "fit/a_rath{"e": "close", "status": "FAILED"}\n')
        journal.log_metrics({"after": 2.0})
    collector = Collector(record)
    assert collector.drain(final=True) == 4 and collector.complete  # open, 2 metrics, close
    assert "unreadable line skipped (1 so far)" in capsys.readouterr().err
    (run,) = client.search_runs(
        [client.get_experiment_by_name("unit").experiment_id], "tags.`prism.kind` = 'data'"
    )
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"before": 1.0, "after": 2.0}


def test_an_event_the_disk_takes_only_part_of_leaves_no_torn_line(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "j.jsonl")
    journal.log_metrics({"first": 1.0})
    before = journal.path.read_bytes()
    real_write = os.write
    monkeypatch.setattr("prism.journal.os.write", lambda fd, data: real_write(fd, data[:10]))
    with pytest.raises(OSError, match="no space left on device"):
        journal.log_metrics({"second": 2.0})
    assert journal.path.read_bytes() == before  # cut back: the torn part is gone
    monkeypatch.undo()
    journal.log_metrics({"third": 3.0})
    events = [event["k"] for _, event in read_events(journal.path, 0)[0]]
    assert events == ["first", "third"]


def test_journals_a_dead_study_could_not_replay_are_kept(study, monkeypatch, capsys):
    _, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_metrics({"m": 1.0})

    def store_gone(self, *, final=False):
        raise RuntimeError("No Experiment with id=1")

    monkeypatch.setattr(Collector, "drain", store_gone)
    _close(record)
    assert "they are kept" in capsys.readouterr().err
    assert list(journal_dir(record).glob("*.jsonl"))  # nothing lost
    monkeypatch.undo()
    _close(record)  # the store is back: replayed, then deleted
    assert not journal_dir(record).exists()


def test_a_dead_study_whose_store_needs_a_password_waits_for_it(study, monkeypatch, capsys):
    _, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_metrics({"m": 1.0})
    real = json.loads(record.read_text())
    record.write_text(json.dumps(real | {"uri": "http://u:***@host:5000"}))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _close(record)  # the record holds no password, the environment no URI: warned, kept
    assert "set MLFLOW_TRACKING_URI to that store's full URI" in capsys.readouterr().err
    assert list(journal_dir(record).glob("*.jsonl"))


def test_a_study_runs_in_a_folder_whose_name_holds_an_apostrophe(tmp_path, monkeypatch):
    folder = tmp_path / "o'brien" / "prism"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("unit")
    tags = workdir_tag() | {"prism.kind": "study", "prism.owner": owner_tag(ended.pid)}
    stale = client.create_run(experiment, tags=tags).info.run_id  # a killed study's run
    for attempt in ("first", "second"):
        record = folder / f".prism/studies/{attempt}/study.json"
        record.parent.mkdir(parents=True)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        start_study(record, uri=uri, experiment="unit", config={}, owner=os.getpid())
        with journaled_run(record, wildcards=RECONSTRUCTION, stage="r", params={}) as journal:
            journal.log_metrics({"ssim": 0.5})
        finish_study(record, "FINISHED")
    assert client.get_run(stale).info.status == "FAILED"
    query = "tags.`prism.kind` = 'reconstruction'"
    second, first = client.search_runs([experiment], query, order_by=["attributes.start_time DESC"])
    assert second.data.tags["prism.previous_attempt"] == first.info.run_id
    assert second.data.tags["prism.workdir"] == str(folder.resolve())


DRAIN_SIX_TIMES = """
import sys
from prism.tracking import collector
collector.GIVE_UP_S = 0.0
drains = collector.Collector(sys.argv[1])
for _ in range(6):  # more than enough attempts to skip an event the store refuses
    drains.drain()
"""


def test_a_store_that_lost_the_study_skips_nothing_and_fails_no_job(study):
    _, record, _ = study
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_metrics({"m": 1.0})
    (record.parent.parent / "mlflow.db").unlink()  # deleted mid-study
    # New processes (the collector, the study's finish) open a fresh, empty store.
    drain = [sys.executable, "-c", DRAIN_SIX_TIMES, str(record)]
    done = subprocess.run(drain, capture_output=True, text=True, timeout=120)
    assert "no longer holds this study's run" in done.stderr and "skipped" not in done.stderr
    finish = [sys.executable, "-m", "prism", "study-finish", "--record", str(record)]
    done = subprocess.run([*finish, "--status", "FINISHED"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the journals in" in done.stderr
    assert list(journal_dir(record).glob("*.jsonl"))  # nothing lost


def test_a_dead_collector_is_announced_once_and_its_study_still_ends_whole(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.chdir(tmp_path)
    record = tmp_path / ".prism/studies/s/study.json"
    record.parent.mkdir(parents=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start_study(record, uri=uri, experiment="unit", config={}, owner=os.getpid())
    supervisor = int((journal_dir(record) / "collector.pid").read_text())
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    deadline = time.monotonic() + 60
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(int(children.read_text().split()[0]), signal.SIGKILL)  # an OOM kill, say
    while Path(f"/proc/{supervisor}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with journaled_run(record, wildcards=KEY, stage="r", params={}) as journal:
        journal.log_metrics({"late": 1.0})  # logged after the collector died
    finish_study(record, "FINISHED")
    err = capfd.readouterr().err
    assert err.count("the study's MLflow collector stopped (killed by signal 9") == 1
    client = MlflowClient(uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name("unit").experiment_id], "tags.`prism.kind` = 'data'"
    )
    assert run.data.metrics["late"] == 1.0  # nothing lost
