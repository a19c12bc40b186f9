#!/usr/bin/env bash
# One prepared check on a GPU machine: the step benchmarks and the quick test on CUDA.
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Assumptions:
# - Run from the repository root, on a machine with one CUDA GPU.
# - An existing Python environment, `python3`, already holds torch (CUDA build), numpy,
#   scikit-image, pandas and imageio; nothing is downloaded. The only install is the project
#   itself, `pip install -e . --no-deps --no-build-isolation` (setuptools must be there): the
#   scripts never import MLflow, Snakemake or DVC, so their absence does not matter.
# - OUT names a folder to write to (created if missing): one log per script, plus env.txt.
# - The whole check stays under ~8 minutes: every script has its own time limit (`timeout`),
#   and one that fails or runs out of time does not stop the others (its log shows how far it
#   got; the quick test prints one line per sample). Limits, in order: bench_operators 40 s,
#   bench_training_step 40 s, quick test at 64 samples 170 s, at 200 samples 230 s (measured
#   on an H100: ~20 s, ~26 s, 144 s with 4 failed samples retried, 206 s with none).
# - CPU threads: 8 for everything on the CPU side (simulation, ePIE in the quick test).
set -uo pipefail
: "${OUT:?set OUT to the folder that receives the logs}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
THREADS=8

{
    date
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    if python3 -m pip install -q -e . --no-deps --no-build-isolation; then
        echo "pip install -e . ok"
    else
        echo "pip install -e . FAILED: importing prism from the checkout (PYTHONPATH) instead"
    fi
} >"$OUT/env.txt" 2>&1
python3 -c "import prism" 2>/dev/null || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

run() {  # run LIMIT_S LOG COMMAND...: time-limited, output to $OUT/LOG, a status line after
    local limit=$1 log=$2
    shift 2
    local began=$SECONDS
    timeout -k 10 "$limit" "$@" >"$OUT/$log" 2>&1
    local status=$?
    echo "== exit $status after $((SECONDS - began)) s (limit $limit s): $*" >>"$OUT/$log"
    tail -n 1 "$OUT/$log"
}

run 40 operators.txt python3 benchmarks/bench_operators.py \
    --device cuda --threads $THREADS --max-gib 40
run 40 training_step.txt python3 benchmarks/bench_training_step.py \
    --device cuda --threads $THREADS --max-gib 40
run 170 quick_test_64.txt python3 benchmarks/quick_test.py \
    --device cuda --threads $THREADS --n-samples 64
run 230 quick_test_200.txt python3 benchmarks/quick_test.py \
    --device cuda --threads $THREADS --n-samples 200
