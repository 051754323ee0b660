#!/usr/bin/env bash
# issue 22's final check on a lent H200, after mamba-ssm's kernel is built (../shared/gpu/build_mamba_ssm.py):
# the CUDA tests of tests/mamba and tests/model/test_trainer_cuda.py, then benchmarks/scan.py against
# mamba-ssm (scan fwd and fwd+bwd at the three shapes in float32 and bfloat16 with peak memory, and the
# encoder stacks), impl="triton" with the launch table in forecaster/mamba/scan_triton.py.
#   bash benchmarks/gpu_final.sh OUTDIR     (writes pytest.log, bench.json, bench.md; about 3-4 minutes)
# MAMBA_SSM_HELPER: the folder holding build_mamba_ssm.py (default: shared/gpu, else ../shared/gpu).
# Wheels for packages the GPU image lacks may lie in .whl/ (installed to /tmp/site, as gpu_check.sh does).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gpu_final.sh OUTDIR}; mkdir -p "$OUT"
HELPER=${MAMBA_SSM_HELPER:-$( [ -d shared/gpu ] && echo shared/gpu || echo ../shared/gpu )}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 FORECASTER_OFFLINE=1 MPLBACKEND=Agg
start=$(date +%s)
xdist=""; python3 -c "import xdist" 2>/dev/null && xdist="-n 6"
echo "=== CUDA tests (TEST_TIMEOUT ${TEST_TIMEOUT:-200} s; SKIP_TESTS=1 skips them), while the benchmark's Triton kernels compile"
tests=""
if [ -z "${SKIP_TESTS:-}" ]; then
  timeout ${TEST_TIMEOUT:-200} python3 -m pytest -q -p no:cacheprovider $xdist tests/mamba tests/model/test_trainer_cuda.py \
    > "$OUT/pytest.log" 2>&1 &
  tests=$!
fi
warm=""
for i in 0 1 2 3 4 5 6 7 8; do python3 benchmarks/scan.py --device cuda --warm $i/9 > "/tmp/gpu_final_warm_$i.log" 2>&1 & warm="$warm $!"; done
wait $warm
echo "benchmark kernels compiled after $(( $(date +%s) - start )) s"
if [ -n "$tests" ]; then
  wait $tests; rc=$?
  echo "pytest rc=$rc (124: stopped at TEST_TIMEOUT) after $(( $(date +%s) - start )) s" | tee -a "$OUT/pytest.log"
  tail -4 "$OUT/pytest.log"
fi
echo "=== scan and encoder benchmark against mamba-ssm ($(( $(date +%s) - start )) s)"
python3 benchmarks/scan.py --device cuda --mamba-ssm "$HELPER" --impls triton mamba-ssm --json "$OUT/bench.json" 2>&1 \
  | tee "$OUT/bench.md"
echo "=== done after $(( $(date +%s) - start )) s"
