#!/usr/bin/env bash
# issue 22 (fourth try) on a lent H200, one call: where the smallest scan's fwd+bwd time goes, for main's
# scan_triton.py (OLD) against this tree's (with the partials summed by its Triton kernel, and by torch),
# beside mamba-ssm's selective_scan_fn; the GPU time of launch-shape candidates at that shape by CUDA-graph
# replay; then the CUDA tests of the changed host path.
#   OLD=/path/to/main/scan_triton.py bash benchmarks/gpu_issue22_host.sh OUTDIR
# Environment: MAMBA_SSM_HELPER (default .devdata/gpu), MAMBA_SSM_TGZ (the built extension, as
# gpu_issue22.sh writes it), TEST_TIMEOUT (s, default 150).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gpu_issue22_host.sh OUTDIR}; mkdir -p "$OUT"
HELPER=${MAMBA_SSM_HELPER:-.devdata/gpu}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 FORECASTER_OFFLINE=1
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton_cache_issue22}
export MAMBA_SSM_BUILD=/tmp/mamba_ssm_build MAMBA_SSM_SRC=/tmp/mamba_ssm_src
start=$(date +%s)
say() { echo "[$(( $(date +%s) - start )) s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
mkdir -p "$MAMBA_SSM_BUILD" "$MAMBA_SSM_SRC" && tar xzf "$MAMBA_SSM_TGZ" -C "$MAMBA_SSM_BUILD" \
  && tar xzf "$HELPER"/mamba_ssm-*.tar.gz -C "$MAMBA_SSM_SRC" && say "mamba-ssm unpacked"
sed 's/^REDUCE_KERNEL = True/REDUCE_KERNEL = False/' forecaster/mamba/scan_triton.py > /tmp/scan_triton_torchsum.py
pids=""
for i in 0 1 2 3 4 5 6 7; do
  timeout 300 python3 benchmarks/scan_host.py --candidates --warm $i/8 > /tmp/warm_$i.log 2>&1 & pids="$pids $!"
done
wait $pids; say "candidates compiled"; grep -h -i "error" /tmp/warm_*.log | head -5
timeout 120 python3 benchmarks/scan_host.py --modules old="$OLD" new=forecaster/mamba/scan_triton.py \
  torchsum=/tmp/scan_triton_torchsum.py --mamba-ssm "$HELPER" --rounds 7 --json "$OUT/versions.json" 2>&1 | tee "$OUT/versions.log"
say "versions timed"
timeout 120 python3 benchmarks/scan_host.py --candidates --json "$OUT/candidates.json" 2>&1 | tee "$OUT/candidates.log"
say "candidates timed"
timeout ${TEST_TIMEOUT:-150} python3 -m pytest -q -p no:cacheprovider -rA -n 4 tests/mamba/test_scan_triton.py \
  -k "repeated or graph or optional or strided or half or reproducible or pieces or without_grad or table_entries" \
  > "$OUT/pytest.log" 2>&1; echo "pytest rc=$?" >> "$OUT/pytest.log"; tail -3 "$OUT/pytest.log"
say "done"
