#!/usr/bin/env bash
# Distributed training over torchrun: bash tools/dist_train.sh CONFIG GPUS [train.py options]
#   GPUS   processes per node (GPUs on a CUDA machine, CPU processes over gloo otherwise)
# Multi-node: run on every node with NNODES, NODE_RANK, MASTER_ADDR (node 0's address) and PORT.
# Python: $PYTHON if set, else the repository's .venv, else `python`.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/launch_torchrun.sh" "$2" train.py "$1" --launcher pytorch "${@:3}"
