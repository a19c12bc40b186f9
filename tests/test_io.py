import pickle

import pytest
import torch

from prism.io import atomic_write, load_checkpoint, save_checkpoint


def test_checkpoint_round_trip(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "failed": [{"index": 2, "reason": "x"}]}
    path = save_checkpoint(state, tmp_path / "sub" / "ckpt.pt")
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["failed"] == state["failed"]
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]


def test_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "result.txt"
    path.write_text("previous")

    def crash(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(path, crash)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]


class Payload:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"payload": Payload()}, path, pickle_module=pickle)
    with pytest.raises(ValueError, match="damaged or not a PRISM checkpoint"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
