import dataclasses
import errno
import os
import pickle
import subprocess
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from prism.core.operator import MeasurementSet
from prism.io import (
    atomic_write,
    file_sha256,
    load_arrays,
    load_checkpoint,
    load_measurements,
    save_checkpoint,
    save_measurements,
)


def test_checkpoint_round_trip(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "failed": [{"index": 2, "reason": "x"}]}
    path = save_checkpoint(state, tmp_path / "sub" / "ckpt.pt")
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["failed"] == state["failed"]
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o007, 0o660)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "shared.txt", lambda tmp: tmp.write_text("result"))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode and os.umask(previous) == previous


def test_dvc_ignores_the_temporary_files_of_a_killed_write():
    patterns = (Path(__file__).resolve().parents[1] / ".dvcignore").read_text().splitlines()
    assert ".*.tmp" in patterns  # atomic_write's temporary names: .<name>.<random>.tmp


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


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a 64 KiB file system (a tmpfs; skipped where mounting is not allowed)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_named_with_the_path(full_disk):
    path = full_disk / "train.pt"
    with pytest.raises(OSError, match=f"no space left on device to write {path}"):
        save_checkpoint({"weights": torch.zeros(100_000)}, path)
    assert list(full_disk.iterdir()) == []  # nothing half-written left


def test_a_write_refused_for_space_names_the_file(tmp_path):
    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=f"no space left on device to write {tmp_path / 'x.npz'}"):
        atomic_write(tmp_path / "x.npz", full)


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


def _measurement_set(ground_truth=True, photons=None):
    generator = torch.Generator().manual_seed(0)
    return MeasurementSet(
        intensities=torch.rand(3, 12, 12, generator=generator),
        centers=torch.rand(3, 2, 2, generator=generator),
        image_size=16,
        obj_size=8,
        sample_diameter=4.5,
        samples_per_line_meas=5,
        photons=photons,
        snr_db=40.0,
        seed=7,
        ground_truth=torch.rand(16, 16, generator=generator) if ground_truth else None,
    )


@pytest.mark.parametrize(("ground_truth", "photons"), [(True, None), (False, 1e6)])
def test_measurement_set_round_trip(tmp_path, ground_truth, photons):
    data = _measurement_set(ground_truth, photons)
    loaded = load_measurements(save_measurements(data, tmp_path / "m.npz"))
    for field in fields(MeasurementSet):
        mine, theirs = getattr(data, field.name), getattr(loaded, field.name)
        if isinstance(mine, torch.Tensor):
            assert torch.equal(mine, theirs), field.name
        else:
            assert mine == theirs, field.name


def test_export_is_tool_neutral(tmp_path):
    path = save_measurements(_measurement_set(), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as arrays:
        assert str(arrays["format"]) == "prism-measurements/2"
        assert arrays["detector_size"] == 12 and arrays["intensities"].shape == (3, 12, 12)
        assert arrays["support"].sum() == 64 and arrays["support"][4:12, 4:12].all()
        assert np.isnan(arrays["photons"]) and arrays["snr_db"] == 40.0
    assert file_sha256(path) == file_sha256(
        save_measurements(_measurement_set(), tmp_path / "b.npz")
    )


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, intensities=np.zeros(3))
    with pytest.raises(ValueError, match="format 'none', expected 'prism-measurements/2'"):
        load_measurements(path)


def test_intensities_of_another_detector_are_refused(tmp_path):
    data = dataclasses.replace(_measurement_set(), intensities=torch.zeros(3, 16, 16))
    path = save_measurements(data, tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"shape \(3, 16, 16\); its sample_diameter 4.5 needs"):
        load_measurements(path)


@pytest.mark.parametrize("content", [b"not an npz file", None])
def test_a_damaged_array_file_is_named(tmp_path, content):
    path = tmp_path / "prepared.npz"
    np.savez(path, a=np.ones(3))
    path.write_bytes(content if content is not None else path.read_bytes()[:100])
    with pytest.raises(ValueError, match="prepared.npz is not a readable array file"):
        load_arrays(path)
