#!/usr/bin/env bash
# Shared by dist_train.sh / dist_test.sh: run a tools/ script in NPROC processes per node with
# torchrun. bash tools/launch_torchrun.sh NPROC SCRIPT [script arguments]
# Environment: NNODES, NODE_RANK, MASTER_ADDR (node 0's address), PORT; PYTHON (default: the
# repository's .venv, else `python`).
set -euo pipefail
NPROC=$1
SCRIPT=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/$SCRIPT" "${@:3}"
