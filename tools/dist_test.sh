#!/usr/bin/env bash
# Distributed testing with torchrun (mmdet style); with multi-task configs every task's test
# loader is evaluated (MultiTaskTestLoop) and metrics are reported as <task>/<metric>.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON as in tools/dist_train.sh; nccl on GPUs,
# gloo without CUDA.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args]" >&2
    exit 1
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/dist_run.sh" "$ROOT/tools/test.py" "$GPUS" "$CONFIG" "$CHECKPOINT" "${@:4}"
