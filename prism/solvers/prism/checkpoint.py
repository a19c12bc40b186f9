"""What a PRISMTrainer checkpoint holds, and restoring it onto a freshly built trainer."""

from __future__ import annotations

import os

import torch

from prism.io import load_checkpoint


def trainer_state(trainer) -> dict:
    """Everything needed to resume ``trainer`` exactly where it stopped (plain data only).

    The model, optimiser and scheduler states, the training settings and old-knowledge mode
    (checked on restore), the next sample, the reconstruction's object square, the failed
    samples, the history, how the last fit stopped, and the RNG state.
    """
    obj_size = trainer.model.obj_size
    scheduler = trainer.scheduler
    return {
        "config": trainer.config.as_dict(),
        "old_mode": trainer.telescope_agg.mode,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "next_sample": trainer.next_sample,
        "reconstruction_crop": trainer.reconstruction.reshape(obj_size, obj_size).cpu(),
        "failed": trainer.failed,
        "history": trainer.history,
        "stop_reason": trainer.stop_reason,
        "steps_run": trainer.steps_run,
        "rng_state": torch.get_rng_state(),
    }


def restore_trainer(trainer, state: dict) -> None:
    """Restore a :func:`trainer_state` onto ``trainer``.

    Raises
    ------
    ValueError
        When the state was made with other training settings, another old-knowledge mode
        or another model architecture (each named).
    """
    mine = trainer.config.as_dict()
    differing = {k: v for k, v in state["config"].items() if mine.get(k) != v}
    if differing or state["config"].keys() != mine.keys():
        raise ValueError(
            f"checkpoint belongs to another training config (differs in {differing}); "
            f"this run uses {mine}"
        )
    if state["old_mode"] != trainer.telescope_agg.mode:
        raise ValueError(
            f"checkpoint was trained with old_mode {state['old_mode']!r}, "
            f"this run's aggregator uses {trainer.telescope_agg.mode!r}"
        )
    try:
        trainer.model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint holds another model architecture: {error}") from error
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.next_sample = state["next_sample"]
    trainer.reconstruction = state["reconstruction_crop"].to(trainer.device)[None, None]
    trainer.failed = list(state["failed"])
    trainer.history = list(state["history"])
    trainer.stop_reason, trainer.steps_run = state["stop_reason"], state["steps_run"]
    torch.set_rng_state(state["rng_state"])


def resume_trainer(trainer, path: str | os.PathLike) -> dict:
    """Restore the checkpoint file at ``path`` (read with ``weights_only=True``) onto ``trainer``.

    Returns the loaded state, with any extra entries its writer stored.
    """
    state = load_checkpoint(path)
    restore_trainer(trainer, state)
    return state
