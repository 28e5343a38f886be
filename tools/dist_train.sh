#!/usr/bin/env bash
# Distributed training with torchrun (mmdet style).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args, e.g. --amp --resume]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh ...
# PYTHON: the interpreter (default `python`, e.g. PYTHON=.venv/bin/python).
#
# Works with and without CUDA: nccl on GPUs, gloo on CPU-only machines (no flag needed); GPUS is
# then the number of CPU processes. The UniPerceiverV2 configs set the DDP wrapper multi-task
# training needs (model_wrapper_cfg: MultiTaskDistributedDataParallel, find_unused_parameters).
# SIGTERM makes training save a checkpoint and exit with status 75; rerun with --resume.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args]" >&2
    exit 1
fi
CONFIG=$1
GPUS=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/dist_run.sh" "$ROOT/tools/train.py" "$GPUS" "$CONFIG" "${@:3}"
