"""The reconstruction stage: one step of any registered solver.

Every solver reads the one saved measurement set, so all methods see identical arrays; a
solver that is not a framing reference never sees the ground truth, in one step or several
(its history is scored through ``score``). Its result is written with
:func:`prism.io.save_reconstruction`.
"""

from __future__ import annotations

import dataclasses
import time

from prism.core.grid import crop_object
from prism.core.operator import MeasurementSet
from prism.io import save_reconstruction
from prism.solvers import Reconstruction, Solver, StepContext


def run_step(solver: Solver, step: str, data: MeasurementSet, settings, context: StepContext):
    """Run one of the solver's steps (:attr:`prism.solvers.Solver.steps`) and write its file.

    A solver of one step reconstructs (:func:`reconstruct`), printing and logging its
    history under ``history``; a solver of several runs its own ``run_step``.
    """
    check_step(solver, step, context.device)
    if solver.run_step is not None:
        seen, score = solver.given(data)
        solver.run_step(step, seen, settings, dataclasses.replace(context, score=score))
        return
    progress = context.scoped("history")
    reconstruct(solver, data, settings, context.out, writer=progress)
    progress.flush()


def check_step(solver: Solver, step: str, device: str) -> None:
    """Whether the solver has the step and can run on the device.

    Raises
    ------
    ValueError
        For a step the solver does not have, or a device other than the CPU for a solver
        that is not accelerated.
    """
    if step not in solver.steps:
        raise ValueError(
            f"{solver.name} has no step {step!r}; its steps: {', '.join(solver.steps)}"
        )
    if device != "cpu" and not solver.accelerated:
        raise ValueError(f"{solver.name} runs on the CPU only, got device {device!r}")


def reconstruct(
    solver: Solver, data: MeasurementSet, settings, out_reconstruction, *, writer=None
) -> Reconstruction:
    """Run one solver on a measurement set with resolved settings; write its result.

    The solver runs as :meth:`prism.solvers.Solver.run` runs it (without the ground truth
    unless it is a framing reference; scored per iteration when the truth is known).
    ``writer`` (``add_scalar``/``add_image``, e.g. the MLflow writer) receives every history
    record, its position in the history as the step, then the final image's object crop.
    """
    began = time.perf_counter()
    result = solver.run(data, settings)
    wall_time = time.perf_counter() - began
    if writer is not None:
        log_history(writer, result, data.obj_size)
    save_reconstruction(out_reconstruction, result, wall_time_s=wall_time)
    return result


def log_history(writer, result: Reconstruction, obj_size: int) -> None:
    """Every history record as scalars (step: its position), then the image's object crop."""
    for step, record in enumerate(result.history):
        for tag, value in record.items():
            writer.add_scalar(tag, value, step)
    crop = crop_object(result.image.detach().abs(), obj_size).clamp(0, 1)
    writer.add_image("reconstruction", crop[None].float(), max(len(result.history) - 1, 0))
