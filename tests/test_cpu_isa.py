"""Every stage computes on the AVX2 code paths, so a study gives the same numbers on every CPU.

On a machine with AVX-512, a stage left to choose (torch, MKL and oneDNN pick the widest
instructions) ended a PRISM fit elsewhere than on an AVX2 machine (the tiny study's SSIM moved
by up to 0.04). Here the same stages run as `python -m prism` does by default and as on a
machine that only has AVX2 (the instruction sets capped), and must agree bit for bit. On an
AVX2-only machine the check holds trivially; on an AVX-512 one it fails without the pins.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch

from prism.config import NoiseConfig, PatternConfig, PhysicsConfig
from prism.cpu import CPU_ISA
from prism.stages.data import prepare, simulate

AVX2_MACHINE = dict(CPU_ISA)  # an AVX2-only machine: the libraries capped to its instructions
PRISM = {"training": {"init_steps": 40, "steps_per_epoch": 10, "max_epochs": 2, "patience": 99}}


def run_stages(measurements, folder, env):
    """The PRISM initialization (a decoder fit: convolutions, FFTs) and a TV reconstruction."""
    folder.mkdir()
    stage = [sys.executable, "-m", "prism"]
    common = ["--measurements", str(measurements)]
    init = [*stage, "reconstruct", "--step", "init", "--algorithm", "prism", *common]
    init += ["--out", str(folder / "i.pt")]
    subprocess.run([*init, "--settings", json.dumps(PRISM)], check=True, env=env)
    tv = [*stage, "reconstruct", "--algorithm", "tv", *common, "--out", str(folder / "tv.npz")]
    subprocess.run([*tv, "--settings", '{"max_steps": 200}'], check=True, env=env)
    model = torch.load(folder / "i.pt", weights_only=True)["model"]
    return model, np.load(folder / "tv.npz")["reconstruction"]


def test_stages_agree_bit_for_bit_with_an_avx2_machine(tmp_path):
    physics = PhysicsConfig(image_size=64, obj_size=32, sample_diameter=12)
    prepare("moon", tmp_path / "moon.npz", physics)
    measurements = tmp_path / "m.npz"
    pattern = PatternConfig(kind="fermat", r_max=24)
    simulate(
        tmp_path / "moon.npz",
        measurements,
        pattern=pattern,
        noise=NoiseConfig(),
        n_samples=6,
        seed=0,
    )
    plain = {k: v for k, v in os.environ.items() if k not in AVX2_MACHINE}
    model, tv = run_stages(measurements, tmp_path / "default", plain)
    model_avx2, tv_avx2 = run_stages(measurements, tmp_path / "avx2", plain | AVX2_MACHINE)
    assert np.array_equal(tv, tv_avx2)
    assert all(torch.equal(model[name], model_avx2[name]) for name in model)
