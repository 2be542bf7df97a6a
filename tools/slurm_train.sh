#!/usr/bin/env bash
# Slurm training: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# Environment: see tools/launch_slurm.sh (GPUS, GPUS_PER_NODE, TASKS_PER_NODE, CPUS_PER_TASK,
# PORT, SRUN_ARGS, PYTHON).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/launch_slurm.sh" "$1" "$2" train.py "$3" --work-dir="$4" \
    --launcher=slurm "${@:5}"
