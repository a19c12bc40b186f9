"""One instruction set on every CPU, so that a study gives the same numbers on each of them.

Results of a fit depend on the instruction set the numerical libraries choose: on one
machine, the tiny study's PRISM SSIM moved by up to 0.04 between the AVX-512 and the AVX2
code paths of torch, MKL and oneDNN. :func:`pin_instruction_set` makes them take the AVX2
paths, which every x86-64 CPU of the last decade has (Intel or AMD). It must run before torch
is imported (the libraries read the variables when they load); ``python -m prism`` and the
study runner call it first. The values are only defaults: export others (e.g.
``ATEN_CPU_CAPABILITY=avx512``) to trade reproducibility across CPUs for speed.
"""

import os

CPU_ISA = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility (FFTs, BLAS)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # the decoder's convolutions
}


def pin_instruction_set() -> None:
    """Set :data:`CPU_ISA` in the environment, where a variable is not set already."""
    for name, value in CPU_ISA.items():
        os.environ.setdefault(name, value)
