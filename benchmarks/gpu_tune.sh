#!/usr/bin/env bash
# issue 22 on a lent H200, one call: the CUDA scan tests while the launch-shape candidates compile,
# then the launch-shape search (benchmarks/scan.py --tune), then the scan and encoder benchmark of
# impl="triton" with the table it found, and a profile of the smallest shape. No mamba-ssm build.
#   bash benchmarks/gpu_tune.sh OUTDIR        (writes tune.json, bench.json, logs; OUTDIR defaults to $OUT)
# Its first use (2026-12-01, 252 candidates then) ran out of a 380 s call while compiling; the list in
# scan.py is now 80 candidates. Give it the whole 10 minutes of a call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-gpu_out}}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 FORECASTER_OFFLINE=1 MPLBACKEND=Agg
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton_cache_issue22}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"
xdist=""; python3 -c "import xdist" 2>/dev/null && xdist="-n 4"
start=$(date +%s)
echo "=== tests + compiling the tune candidates (parallel)"
( python3 -m pytest -q -p no:cacheprovider $xdist tests/mamba tests/model/test_trainer_cuda.py > "$OUT/pytest.log" 2>&1;
  echo "pytest rc=$? after $(( $(date +%s) - start )) s" >> "$OUT/pytest.log" ) &
tests=$!
warm=""
for i in $(seq 0 10); do python3 benchmarks/scan.py --device cuda --tune-warm $i/11 > /tmp/warm_$i.log 2>&1 & warm="$warm $!"; done
wait $warm
echo "compiled after $(( $(date +%s) - start )) s"; grep -h "failed" /tmp/warm_*.log | head -5
wait $tests; tail -5 "$OUT/pytest.log"
echo "=== tune ($(( $(date +%s) - start )) s)"
python3 benchmarks/scan.py --device cuda --tune --json "$OUT/tune.json" > "$OUT/tune.txt" 2>&1
grep -E "^(best|check|band)" "$OUT/tune.txt"
echo "=== benchmark with the tuned table ($(( $(date +%s) - start )) s)"
python3 benchmarks/scan.py --device cuda --launch-table "$OUT/tune.json" --impls triton --json "$OUT/bench.json" 2>&1 \
  | tee "$OUT/bench.txt"
echo "=== profile, smallest shape ($(( $(date +%s) - start )) s)"
python3 - <<PY > "$OUT/profile.txt" 2>&1
import torch
import benchmarks.scan as bs
bs._load_launch_table("$OUT/tune.json")
from forecaster.mamba import selective_scan
for dtype in (torch.float32, torch.bfloat16):
    args = bs._scan_inputs((64, 256, 96), dtype)
    cot = torch.randn(64, 96, 256, device="cuda", dtype=dtype)
    step = lambda: torch.autograd.grad(selective_scan(*args, delta_softplus=True, impl="triton"), args, cot)
    for _ in range(5): step()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(20): step()
        torch.cuda.synchronize()
    print(dtype, "20 fwd+bwd steps")
    print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=14, max_name_column_width=60))
PY
tail -40 "$OUT/profile.txt"
if [ -d "${MAIN_REF:-main_ref}" ]; then  # the kernels before this branch, same session, for an A/B
  echo "=== main's triton scan ($(( $(date +%s) - start )) s)"
  (cd "${MAIN_REF:-main_ref}" && PYTHONPATH=$PWD timeout 90 python3 -c "
import torch, benchmarks.scan as bs
for shape in bs.CUDA_SHAPES:
    for dtype in (torch.float32, torch.bfloat16):
        print(shape, dtype, bs._cuda_scan_case('triton', shape, dtype), flush=True)
") 2>&1 | tee "$OUT/main_ref.txt"
fi
echo "=== done after $(( $(date +%s) - start )) s"
