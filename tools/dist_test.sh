#!/usr/bin/env bash
# Distributed testing over torchrun: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Environment as for dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/launch_torchrun.sh" "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
