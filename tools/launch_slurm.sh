#!/usr/bin/env bash
# Shared by slurm_train.sh / slurm_test.sh: srun a tools/ script as a Slurm job.
# bash tools/launch_slurm.sh PARTITION JOB_NAME SCRIPT [script arguments]
# Environment: GPUS (total tasks, default 8), GPUS_PER_NODE (default 8; 0 on CPU-only nodes),
# TASKS_PER_NODE (default GPUS_PER_NODE, set it on CPU nodes), CPUS_PER_TASK (default 5),
# PORT (rendezvous port, default 29500), SRUN_ARGS (extra srun arguments), PYTHON.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi
GRES=()
if [ "$GPUS_PER_NODE" -gt 0 ]; then GRES=(--gres="gpu:$GPUS_PER_NODE"); fi
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}

# shellcheck disable=SC2086  # SRUN_ARGS is a list of words
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    "${GRES[@]}" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$TASKS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$ROOT/tools/$SCRIPT" "${@:4}"
