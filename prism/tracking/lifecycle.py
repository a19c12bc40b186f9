"""The collector's life: started with a study, watched, stopped; dead studies closed.

A study's collector (:class:`prism.tracking.collector.Collector`, replaying the journals)
runs in a process of its own, under a supervisor that says once on the study's output if it
dies; the study's finish stops it. A study whose Snakemake was killed is closed by the next
study started in the same folder (:func:`close_abandoned`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

from prism.journal import journal_dir
from prism.tracking.collector import COLLECTOR_PID, COLLECTOR_STOP, POLL_S, Collector, warn

STOP_TIMEOUT_S = 120.0


def collect(record_path: str | os.PathLike, owner: int) -> None:
    """The collector's loop: drain about every second until the study finishes.

    It ends after one last drain once :func:`finish_study` asks it to (a stop file) or the
    ``owner`` process is gone (a killed Snakemake; the next study closes what is left).
    """
    collector = Collector(record_path)
    stop = journal_dir(record_path) / COLLECTOR_STOP
    while True:
        ending = stop.exists() or not _alive(owner)
        try:
            collector.drain()
        except Exception as error:  # keep collecting: the next pass may succeed
            warn(str(error))
        if ending:
            return
        time.sleep(POLL_S)


def start_collector(record_path: str | os.PathLike, owner: int) -> None:
    """Start the study's collector in the background (:func:`supervise`).

    The collector's own output goes to ``tracking.log`` beside the record; its supervisor
    keeps the study's output (Snakemake's), where it says once if the collector dies.
    """
    folder = journal_dir(record_path)
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "prism", "study-collect", "--record", str(record_path)]
    command += ["--owner", str(owner)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    (folder / COLLECTOR_PID).write_text(str(process.pid))


def supervise(record_path: str | os.PathLike, owner: int) -> int:
    """Run :func:`collect` in a child process; if it dies before the study ends, say so once.

    The notice goes to this process's error output, the study's (the collector's own goes to
    ``tracking.log``): the MLflow view stops updating then, and nothing is lost, since the
    study's finish replays every journal. SIGTERM stops both. Returns the child's exit status.
    """
    log = Path(record_path).parent / "tracking.log"
    child = os.fork()
    if child == 0:  # the collector
        code = 1
        try:
            with open(log, "a") as output:
                os.dup2(output.fileno(), 1)
                os.dup2(output.fileno(), 2)
            collect(record_path, owner)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
    status = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if status != 0 and not (journal_dir(record_path) / COLLECTOR_STOP).exists():
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        print(
            f"warning: tracking: the study's MLflow collector stopped ({how}; see {log}): the "
            f"MLflow view is not updated any more during this study; nothing is lost, the "
            f"study's end replays every journal",
            file=sys.stderr,
            flush=True,
        )
    return status


def stop_collector(record_path: str | os.PathLike) -> None:
    """Ask the collector to finish, wait for it (then SIGTERM it after STOP_TIMEOUT_S)."""
    folder = journal_dir(record_path)
    pid_file = folder / COLLECTOR_PID
    if not pid_file.exists():
        return
    (folder / COLLECTOR_STOP).touch()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def owner_tag(owner: int) -> str:
    """The tag value naming a study's owner process: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{owner}"


def owner_alive(tag: str | int) -> bool:
    """Whether the owner named by :func:`owner_tag` still runs; one on another host counts so.

    A bare pid (the records of studies started before owners were tagged with their host)
    names no host, so it counts as live elsewhere and its study is left alone.
    """
    host, _, pid = str(tag).rpartition(":")
    return host != socket.gethostname() or _alive(int(pid))


def close_abandoned(studies: str | os.PathLike, keep: str | os.PathLike) -> None:
    """Close the studies whose owner is gone.

    Every study has a folder of its own under ``studies`` (``<id>/study.json``, its journal
    and its collector's log), so two invocations in one working directory never share a
    record. A study whose owner process has ended (on this host) and whose journal is still
    there was killed: its journals are replayed and the runs of stages that never ended marked
    killed (:meth:`Collector.drain`). A study on another host counts as live.

    Parameters
    ----------
    studies : path-like
        The folder of the study folders.
    keep : path-like
        The record of the study starting now (left alone).
    """
    for record_path in sorted(Path(studies).glob("*/study.json")):
        if record_path.resolve() == Path(keep).resolve():
            continue
        record = json.loads(record_path.read_text())
        if journal_dir(record_path).exists() and not owner_alive(record["owner"]):
            _close(record_path)


def _close(record_path: Path) -> None:
    """Replay a dead study's journals; they are deleted only once every event is replayed."""
    stop_collector(record_path)
    try:
        collector = Collector(record_path)
        collector.drain(final=True)
    except Exception as error:  # that study's store may be gone: its runs stay as they are
        warn(
            f"the journals of {record_path} could not be replayed ({error}); they are kept "
            f"for the next study started in this folder to replay"
        )
        return
    if collector.complete:
        shutil.rmtree(journal_dir(record_path), ignore_errors=True)
