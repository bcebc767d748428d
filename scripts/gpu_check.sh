#!/usr/bin/env bash
# GPU check: run on a machine with an NVIDIA GPU. Installs the package (with the torch that is
# already in .venv, or TORCH=... for a CUDA build), runs the GPU-marked tests, then times one
# streamed epoch of 1 M rows on CPU and on GPU. Paste its last lines into the README.
#   scripts/gpu_check.sh                 # ROWS=1000000
#   TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
if [ -n "${TORCH:-}" ]; then make setup TORCH="$TORCH"; else make setup; fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
.venv/bin/python -c "import torch,sys; ok=torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', ok); sys.exit(0 if ok else 3)" \
  || { echo "error: this torch has no CUDA; rerun with TORCH=<a CUDA build of torch>" >&2; exit 3; }
.venv/bin/python -m pytest -q -m gpu tests/test_gpu.py
.venv/bin/python scripts/bench_gpu.py --rows "$ROWS"
