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
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
