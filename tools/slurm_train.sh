#!/usr/bin/env bash
# Training on a Slurm cluster (mmdet style): one task per process, GPUS processes in all.
#   GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# Optional: CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun arguments, e.g. "--quotatype=auto"),
#   GPUS_PER_NODE=0 on CPU-only partitions (gloo is then chosen automatically).
#
# Preemption and time limits: srun sends SIGTERM to every task PREEMPT_SIGNAL_TIME seconds (default
# 120) before the time limit (`--signal=TERM@120`), as Slurm does on preemption. The multi-task loop
# then finishes its iteration, writes work_dir/iter_<t>.pth atomically, points work_dir/last_checkpoint
# at it and exits with status 75. Run the same command with `--resume` to continue exactly there.
# With REQUEUE=1 inside an sbatch job, status 75 requeues the job (`scontrol requeue`); put
# `--resume` in the train.py args so the requeued job continues (it starts from scratch when
# work_dir holds no checkpoint yet).
set -uo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]" >&2
    exit 1
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PREEMPT_SIGNAL_TIME=${PREEMPT_SIGNAL_TIME:-120}
PREEMPTED_EXIT_CODE=75
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GRES=""
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    GRES="--gres=gpu:$GPUS_PER_NODE"
fi

# shellcheck disable=SC2086
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    $GRES \
    --ntasks="$GPUS" \
    --ntasks-per-node="$((GPUS_PER_NODE > 0 ? GPUS_PER_NODE : GPUS))" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    --signal="TERM@$PREEMPT_SIGNAL_TIME" \
    ${SRUN_ARGS} \
    python -u "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher="slurm" "${@:5}"
status=$?
if [ "$status" -eq "$PREEMPTED_EXIT_CODE" ]; then
    echo "preempted: checkpoint in $WORK_DIR (last_checkpoint); continue with --resume" >&2
    if [ "${REQUEUE:-0}" = "1" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
        scontrol requeue "$SLURM_JOB_ID"
    fi
fi
exit "$status"
