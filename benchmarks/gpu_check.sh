#!/usr/bin/env bash
# All GPU checks in one go, for a lent CUDA machine (see BENCHMARKS.md):
#   the test suite on a CUDA machine, the scan benchmark and the Exchange-Rate benchmark on the GPU.
# Wheels for packages the GPU image lacks (yfinance, currencyconverter and their needs) may lie in .whl/.
# Results go to $OUT (or ./gpu_out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
step() { echo "=== $1"; }
[ -n "${SKIP_TESTS:-}" ] || { step "pytest";         python3 -m pytest -q -p no:cacheprovider 2>&1 | tee "$OUT/pytest.log" | tail -25; }
[ -n "${SKIP_SCAN:-}" ] || { step "scan benchmark"; python3 benchmarks/scan.py --device cuda 2>&1 | tee "$OUT/scan_cuda.txt"; }
if [ -n "${EXCHANGE_DATA:-}" ]; then
  step "exchange benchmark"
  timeout ${EXCHANGE_TIMEOUT:-480} python3 benchmarks/exchange.py --device cuda --data "$EXCHANGE_DATA" --out "$OUT/exchange_cuda.md" --no-progress 2>&1 | tail -60
fi
