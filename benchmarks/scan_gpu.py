"""Launch-shape sweep of the Triton scan kernels on CUDA (not a test), in the units of benchmarks/scan.py.

    python benchmarks/scan_gpu.py                       # the layout-2 kernels at a few launch shapes
    python benchmarks/scan_gpu.py --configs 1 2,4,64,1,64,1,2

A config is `1` (the layout-1 kernels at their defaults) or
`2,chunk,fwd_block_d,fwd_warps,bwd_block_d,bwd_warps,ng_max`. Each is timed at the three scan shapes of
benchmarks/scan.py in float32 and bfloat16 (forward and forward+backward, median ms, peak MiB).
"""

from __future__ import annotations

import argparse
import sys
import os

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan import CUDA_SHAPES, _cuda_scan_case, _guarded  # noqa: E402

DEFAULT_CONFIGS = ["1", "2,4,64,1,64,1,2", "2,4,64,1,64,1,1", "2,8,64,1,64,1,2", "2,4,128,2,64,1,2", "2,4,32,1,32,1,2"]


def _apply(config: str) -> None:
    import forecaster.mamba.scan_triton as st

    parts = [int(x) for x in config.split(",")]
    st.LAYOUT = parts[0]
    if parts[0] == 2:
        st.CHUNK2, st.FWD2_BLOCK_D, st.FWD2_WARPS, st.BWD2_BLOCK_D, st.BWD2_WARPS, st.NG_MAX = parts[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    print(f"device={torch.cuda.get_device_name(0)} torch={torch.__version__} triton={__import__('triton').__version__}")
    print("| config | (batch, d_inner, L) | dtype | forward ms | fwd+bwd ms | peak MiB |")
    print("|---|---|---|---|---|---|")
    for config in args.configs:
        _apply(config)
        for shape in CUDA_SHAPES:
            for name in args.dtypes:
                r = _guarded(f"{config} {shape} {name}", _cuda_scan_case, "triton", shape, getattr(torch, name))
                if r is not None:
                    print(f"| {config} | {shape} | {name} | {r['forward_ms']:.3f} | {r['train_ms']:.3f} | "
                          f"{r['peak_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
