#!/usr/bin/env bash
# torchrun for tools/dist_train.sh and tools/dist_test.sh (mmdet style); not called directly.
#   bash tools/dist_run.sh SCRIPT NPROC [script args]   (SCRIPT: tools/train.py or tools/test.py)
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT (multi-node), PYTHON (default `python`).
# nccl on GPUs, gloo on CPU-only machines: tools/train.py / test.py pick the backend.
set -euo pipefail

SCRIPT=$1
NPROC=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$SCRIPT" "${@:3}" --launcher pytorch
