"""Compile the Triton scan kernels for sm_90a without a GPU and count what the machine code does.

    python benchmarks/scan_compile.py [--dtype bfloat16] [--chunk 8 --fwd-block-d 32 ...]

Needs triton (its bundled ptxas and cuobjdump); no CUDA device. For each kernel it prints the
registers per thread, spill bytes, and counts of SASS instructions that matter for the scan:
shuffles (SHFL), barriers (BAR), exponentials (MUFU.EX2), local-memory traffic (LDL/STL, i.e. spills)
and shared-memory traffic (LDS/STS, i.e. layout conversions). The launch uses the strides of
contiguous (b, l, d) / (b, l, n) inputs, as the benchmark passes them (unit strides specialised to 1
and pointers 16-byte aligned, as Triton's launcher does).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

TARGET = GPUTarget("cuda", 90, 32)
SASS_COUNTS = {"SHFL": r"\bSHFL\.", "BAR": r"\bBAR\.", "EX2": r"MUFU\.EX2", "LDL": r"\bLDL", "STL": r"\bSTL",
               "LDS": r"\bLDS", "STS": r"\bSTS", "LDG": r"\bLDG", "STG": r"\bSTG"}


def _tool(name: str) -> str:
    return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)


def compile_kernel(fn, args: dict, constexprs: dict, num_warps: int) -> dict:
    """args: name -> a Triton type ('*fp32', 'i32') or an int (a constexpr, e.g. a unit stride)."""
    signature, consts, attrs = {}, dict(constexprs), {}
    for i, name in enumerate(fn.arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
            continue
        kind = args[name]
        if isinstance(kind, int):  # a specialised integer (Triton turns ints equal to 1 into constants)
            signature[name] = "constexpr"
            consts[name] = kind
            continue
        signature[name] = kind
        if kind.startswith("*"):
            attrs[(i,)] = [["tt.divisibility", 16]]
    src = ASTSource(fn, signature, constexprs=consts, attrs=attrs)
    kernel = triton.compile(src, target=TARGET, options={"num_warps": num_warps})
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        res = subprocess.run([_tool("cuobjdump"), "-res-usage", f.name], capture_output=True, text=True).stdout
        sass = subprocess.run([_tool("cuobjdump"), "-sass", f.name], capture_output=True, text=True).stdout
    regs = int(re.search(r"REG:(\d+)", res).group(1))
    stack = int(re.search(r"STACK:(\d+)", res).group(1))
    counts = {k: len(re.findall(p, sass)) for k, p in SASS_COUNTS.items()}
    counts["instr"] = len(re.findall(r"^\s+/\*[0-9a-f]{4}\*/", sass, flags=re.M))  # all instructions
    return {"regs": regs, "stack": stack, "shared": kernel.metadata.shared, **counts}


def _pointers(names: str, dtype: str) -> dict:
    return {n: dtype for n in names.split()}


def scan_kernels(dtype: str, launch, n_state: int = 16) -> dict:
    """Counts for the forward (with saved states) and backward kernels at one Launch."""
    import forecaster.mamba.scan_triton as st

    ty = {"float32": "*fp32", "bfloat16": "*bf16", "float16": "*fp16"}[dtype]
    ints = {n: "i32" for n in "L DIM N n_chunks n_dblocks s_part s_bc".split()}
    unit = {n: 1 for n in "su_d sdl_d sz_d so_d sg_d sB_n sC_n".split()}  # contiguous last axes
    strides = {n: "i32" for n in ("su_b su_l sdl_b sdl_l sz_b sz_l so_b so_l sg_b sg_l sB_b sB_l sC_b sC_l").split()}
    flags = dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True)
    out = {}
    fwd_args = {**_pointers("u_ptr delta_ptr B_ptr C_ptr z_ptr out_ptr", ty),
                **_pointers("A_ptr D_ptr bias_ptr h0_ptr hT_ptr states_ptr", "*fp32"), **ints, **unit, **strides}
    out["fwd"] = compile_kernel(st._scan_fwd_kernel, fwd_args, dict(
        **flags, HAS_H0=False, SAVE_STATES=True, CHUNK=launch.chunk, BLOCK_D=launch.fwd_block_d,
        **st._state_split(n_state, launch.fwd_n_inner)), launch.fwd_warps)
    bwd_args = {**_pointers("u_ptr delta_ptr B_ptr C_ptr z_ptr gout_ptr du_ptr ddelta_ptr dz_ptr", ty),
                **_pointers("A_ptr D_ptr bias_ptr states_ptr ghT_ptr dBC_ptr small_ptr dh0_ptr", "*fp32"),
                **ints, **unit, **strides}
    bwd_const = dict(**flags, HAS_GHT=False, HAS_H0=False, PREFETCH=launch.prefetch, CHUNK=launch.chunk,
                     BLOCK_D=launch.bwd_block_d, **st._state_split(n_state, launch.bwd_n_inner))
    out["bwd"] = compile_kernel(st._scan_bwd_kernel, bwd_args, bwd_const, launch.bwd_warps)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--launch", nargs="*", default=[],
                        help="Launch fields as name=value (e.g. chunk=8 bwd_n_inner=4 prefetch=1)")
    args = parser.parse_args()
    from forecaster.mamba.scan_triton import Launch

    fields = {k: int(v) for k, v in (item.split("=") for item in args.launch)}
    launch = Launch(**{k: (bool(v) if k == "prefetch" else v) for k, v in fields.items()})
    print(launch)
    for name, r in scan_kernels(args.dtype, launch).items():
        print(name, " ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
