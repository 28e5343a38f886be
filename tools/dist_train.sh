#!/usr/bin/env bash
# Distributed training with torchrun (mmdet style).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args, e.g. --amp --resume]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh ...
#
# Multi-task configs train one task per iteration and each task reaches only part of the model, so
# DDP must look for unused parameters:
#   model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
# (or the top-level `find_unused_parameters = True`). Keep train_cfg.sampling='unmixed' for TBGN
# and for gathered retrieval features: every rank then trains the same task.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args]" >&2
    exit 1
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
torchrun \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
