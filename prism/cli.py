"""Command line: ``python -m prism <stage> ...``, one entry point per workflow rule.

Every stage runs without Snakemake too. With ``--track RECORD`` (the study record written by
``python -m prism study-start``) the stage journals what it logs; the study's collector
(``study-collect``, started by ``study-start``) replays it into the stage's MLflow run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from contextlib import nullcontext
from pathlib import Path

import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig, from_mapping
from prism.credentials import redacted_uri
from prism.io import file_sha256, load_measurements
from prism.solvers import find, registry
from prism.study import stage_code

JSON_SETTINGS = ("physics", "pattern", "noise", "settings")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the rule's threads)")
    parser.add_argument("--track", type=Path, help="study record: log to MLflow under it")
    parser.add_argument("--wildcards", type=json.loads, default={}, help="JSON identity")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prism", description=__doc__.split("\n")[0])
    stages = parser.add_subparsers(dest="stage", required=True)

    def stage(name: str, help_text: str, *options: str) -> argparse.ArgumentParser:
        sub = stages.add_parser(name, help=help_text)
        for option in options:
            json_setting = option.lstrip("-") in JSON_SETTINGS
            sub.add_argument(option, required=True, type=json.loads if json_setting else str)
        _add_common(sub)
        return sub

    stage("prepare", "image -> prepared object", "--source", "--out", "--physics")
    simulate = stage("simulate", "prepared object -> measurements", "--prepared", "--out")
    for option in ("--pattern", "--noise"):
        simulate.add_argument(option, required=True, type=json.loads)
    simulate.add_argument("--n-samples", type=int, required=True)
    simulate.add_argument("--seed", type=int, required=True)
    solve = stage("reconstruct", "one step of a solver", "--measurements", "--out", "--settings")
    solve.add_argument("--algorithm", required=True, help="<solver>[-<variant>] (see `methods`)")
    solve.add_argument("--step", help="the solver's step (default: its only one)")
    solve.add_argument("--checkpoint", type=Path, help="the previous step's file")
    solve.add_argument("--device", default="cpu", help="torch device of an accelerated solver")
    stages.add_parser("methods", help="list the registered solvers")
    restore = stages.add_parser("restore", help="dvc pull a checked-out study; is it current?")
    restore.add_argument("--remote", help="DVC remote (default: the configured default)")
    stage(
        "evaluate",
        "metrics JSON and PNG",
        "--measurements",
        "--reconstruction",
        "--out-json",
        "--out-png",
    )
    summarize = stage(
        "summarize",
        "results tables and figures",
        "--out-dir",
        "--out-metrics",
        "--out-curves",
    )
    summarize.add_argument("--metrics", nargs="+", required=True)
    summarize.add_argument("--baseline", default="best", help="best, or an algorithm")
    study = stage("study-start", "create the MLflow study run", "--record", "--experiment")
    study.add_argument("--config", type=json.loads, default={})
    study.add_argument("--owner", type=int, help="the study's process (default: the parent)")
    collect = stage("study-collect", "replay the jobs' journals into MLflow", "--record")
    collect.add_argument("--owner", type=int, required=True, help="stop when it is gone")
    finish = stage("study-finish", "close the MLflow study run", "--record")
    finish.add_argument("--status", required=True, choices=("FINISHED", "FAILED"))
    finish.add_argument("--results", type=Path, help="log the tables and figures found here")
    return parser


def _settings(args: argparse.Namespace) -> dict:
    """The stage's typed settings from its JSON options (unknown keys are errors)."""
    builders = {
        "physics": lambda m: from_mapping(PhysicsConfig, m, "physics"),
        "pattern": lambda m: from_mapping(PatternConfig, m, "pattern"),
        "noise": lambda m: from_mapping(NoiseConfig, m, "noise"),
    }
    settings = {
        name: build(getattr(args, name)) for name, build in builders.items() if hasattr(args, name)
    }
    if hasattr(args, "algorithm"):
        solver = find(args.algorithm)
        settings[solver.name] = solver.build_settings(args.settings, args.algorithm)
    return settings


def _run_stage(args: argparse.Namespace, settings: dict, measurements, writer) -> None:
    from prism.stages import data, evaluate

    if args.stage == "prepare":
        derived = data.prepare(args.source, args.out, settings["physics"])
        if writer is not None:
            writer.log_metrics({f"derived.{k}": v for k, v in derived.items()})
    elif args.stage == "simulate":
        data.simulate(
            args.prepared,
            args.out,
            pattern=settings["pattern"],
            noise=settings["noise"],
            n_samples=args.n_samples,
            seed=args.seed,
        )
    elif args.stage == "summarize":
        from prism.stages import report

        report.summarize(args.metrics, args.out_dir, args.baseline)
        report.write_tracked_scores(args.metrics, args.out_metrics, args.out_curves)
    elif args.stage == "reconstruct":
        _reconstruct(args, settings, measurements, writer)
    elif args.stage == "evaluate":
        record = evaluate.score(
            args.measurements, args.reconstruction, args.out_json, args.out_png, key=args.wildcards
        )
        if writer is not None:
            writer.log_metrics({k: v for k, v in record.items() if k in evaluate.SCORES})
            writer.set_tags({"prism.stop_reason": record["stop_reason"]})
            writer.log_artifact(args.out_png)
            writer.add_image("coverage", evaluate.coverage(measurements)[None].float(), 0)


def _reconstruct(args: argparse.Namespace, settings: dict, measurements, writer) -> None:
    """Run one step of the algorithm's solver; log the file it wrote as an artifact."""
    from prism.solvers import StepContext
    from prism.stages.reconstruct import run_step

    solver = find(args.algorithm)
    context = StepContext(
        out=Path(args.out),
        checkpoint=args.checkpoint,
        device=args.device,
        scoped=lambda prefix, closing_tag=None: _scoped(writer, prefix, closing_tag),
    )
    run_step(solver, args.step, measurements, settings[solver.name], context)
    if writer is not None:
        last = args.step == solver.steps[-1]
        writer.log_artifact(args.out, None if last else "checkpoints")


def _checked_step(solver, step: str | None, device: str) -> str:
    """The step to run (a solver's only one when not given); exits naming what is allowed."""
    from prism.stages.reconstruct import check_step

    if step is None and len(solver.steps) > 1:
        sys.exit(f"error: {solver.name} runs in steps; give --step, one of {solver.steps}")
    step = step or solver.steps[0]
    try:
        check_step(solver, step, device)
    except ValueError as error:
        sys.exit(f"error: {error}")
    return step


class ProgressPrinter:
    """A writer that prints one line per step to stderr and forwards to another writer.

    A step's line is printed when its image or its ``closing_tag`` arrives, or when the next
    step begins.

    Parameters
    ----------
    label : str
        What a step is ('sample', 'epoch', 'fit'); starts every line.
    inner : writer or None
        Where ``add_scalar``/``add_image`` go as well (the MLflow writer when tracking).
    closing_tag : str or None
        The scalar a step reports last (its line is printed at once).
    """

    def __init__(self, label: str, inner=None, closing_tag: str | None = None) -> None:
        self.label, self.inner, self.closing_tag = label, inner, closing_tag
        self.step, self.latest = None, {}

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        """Forward, and print the previous step's line when a new step begins."""
        if step != self.step:
            self.flush()
            self.step = step
        self.latest[tag] = value
        if self.inner is not None:
            self.inner.add_scalar(tag, value, step)
        if tag == self.closing_tag:
            self.flush()

    def add_image(self, tag: str, image, step: int) -> None:
        """Forward an image; it closes its step (writers log a step's image last)."""
        if self.inner is not None:
            self.inner.add_image(tag, image, step)
        self.flush()

    def flush(self) -> None:
        """Print the current step's values, if any."""
        if self.latest:
            values = " ".join(f"{tag}={value:.4g}" for tag, value in self.latest.items())
            print(f"{self.label} {self.step}: {values}", file=sys.stderr, flush=True)
        self.latest = {}


def _scoped(writer, prefix: str, closing_tag: str | None = None) -> ProgressPrinter:
    inner = writer.scoped(prefix) if writer is not None else None
    return ProgressPrinter(prefix, inner, closing_tag)


def _study(args: argparse.Namespace) -> None:
    from prism import tracking

    if args.stage == "study-start":
        uri = tracking.tracking_uri(Path.cwd())
        try:
            run_id = tracking.start_study(
                args.record,
                uri=uri,
                experiment=args.experiment,
                config=args.config,
                owner=args.owner,
            )
        except RuntimeError as error:
            hint = "No job was started. Check MLFLOW_TRACKING_URI or mlflow.tracking_uri."
            sys.exit(f"error: {error}\n{hint}")
        experiment_id = json.loads(Path(args.record).read_text())["experiment_id"]
        print(f"MLflow study run {run_id} at {redacted_uri(uri)}", file=sys.stderr)
        print(f"its runs: {tracking.runs_url(uri, experiment_id)}", file=sys.stderr)
    elif args.stage == "study-collect":
        from prism.tracking.lifecycle import supervise

        supervise(args.record, args.owner)
    else:
        tracking.finish_study(args.record, args.status, args.results)


def _restore(remote: str | None) -> None:
    from prism.restore import RestoreError, restore

    try:
        stale = restore(remote=remote)
    except RestoreError as error:
        sys.exit(f"error: {error}")
    if stale:
        jobs = ", ".join(f"{rule} x{count}" for rule, count in stale.items())
        print(
            f"restored, but not current: Snakemake would run {jobs} (the checkout's settings, "
            "code or inputs differ from the restored results'; `snakemake -n -r` says why)",
            file=sys.stderr,
        )
    else:
        print("restored: every result is current (`snakemake` has nothing to do)", file=sys.stderr)


def _terminate(signum, frame) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _list_methods() -> None:
    for solver in registry().values():
        name = (
            solver.name if len(solver.steps) == 1 else f"{solver.name} ({', '.join(solver.steps)})"
        )
        kind = "framing reference" if solver.reference else "solver"
        settings = solver.settings.__name__ if solver.settings else "no settings"
        print(f"{name:24} {solver.style()[2]} ({kind}; {settings})")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run one stage."""
    args = _parser().parse_args(argv)
    if args.stage == "methods":
        _list_methods()
        return
    if args.stage == "restore":
        _restore(args.remote)
        return
    torch.set_num_threads(max(1, args.threads))
    signal.signal(signal.SIGTERM, _terminate)
    if args.stage.startswith("study-"):
        _study(args)
        return
    settings = _settings(args)
    path = getattr(args, "measurements", None)
    measurements = load_measurements(path) if path else None
    stage = args.stage
    if stage == "reconstruct":
        solver = find(args.algorithm)
        stage = args.step = _checked_step(solver, args.step, args.device)
        settings[solver.name] = solver.resolved(settings[solver.name], measurements)
    context = nullcontext(None)
    if args.track is not None:
        from prism.journal import journaled_run

        params = {name: dataclasses.asdict(config) for name, config in settings.items() if config}
        if measurements is not None:
            params["derived"] = _geometry(measurements)
        context = journaled_run(
            args.track,
            wildcards=args.wildcards,
            stage=stage,
            params=params,
            data_hash=file_sha256(path) if path else None,
            code=stage_code(args.stage, getattr(args, "algorithm", None)),
        )
    with context as writer:
        _run_stage(args, settings, measurements, writer)


def _geometry(data) -> dict:
    """What the measurement set says about the physics: sizes and the noise model."""
    names = ("image_size", "obj_size", "sample_diameter", "samples_per_line_meas")
    geometry = {name: getattr(data, name) for name in (*names, "photons", "snr_db")}
    return geometry | {"detector_size": data.detector().size}
