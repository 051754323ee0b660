"""Selective-scan and full-model speed and memory, side by side with peers (not a test).

    python benchmarks/scan.py                     # CPU, B=8, d_inner=256, N=16, L in {256, 1024, 4096}
    python benchmarks/scan.py --device cuda
    python benchmarks/scan.py --lengths 1024 --repeats 5 --no-model

Scans measured on the same inputs (forward under no_grad, forward+backward of a sum):
    ours       forecaster.mamba.selective_scan (chunked custom autograd Function)
    loop       an autograd loop over time (unbind), written here as the baseline
    pscan      mambapy 1.2.0's parallel scan (PScan) over materialised exp(delta A) and delta B u
Full model (fwd+bwd, d_model=128, 4 layers, batch 8, L=512): our MambaEncoder against minimamba 1.0.1's.
Peers come from the `bench` extra (pip install -e ".[bench]") and are skipped when missing.
Each measurement runs in a fresh subprocess so that peak memory (CPU: peak RSS growth over the
set-up; CUDA: torch.cuda.max_memory_allocated) belongs to that measurement alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _scan_fn(impl: str):
    if impl == "ours":
        from forecaster.mamba import selective_scan

        return lambda u, dt, A, B, C, D: selective_scan(u, dt, A, B, C, D, delta_softplus=True)
    if impl == "loop":
        import torch.nn.functional as F

        def loop(u, dt, A, B, C, D):
            dt = F.softplus(dt)
            h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
            ys = []
            for u_t, dt_t, B_t, C_t in zip(u.unbind(1), dt.unbind(1), B.unbind(1), C.unbind(1)):
                h = torch.exp(dt_t[..., None] * A) * h + (dt_t * u_t)[..., None] * B_t[:, None, :]
                ys.append((h * C_t[:, None, :]).sum(-1))
            return torch.stack(ys, 1) + u * D

        return loop
    if impl == "pscan":
        import torch.nn.functional as F
        from mambapy.pscan import pscan

        def parallel(u, dt, A, B, C, D):
            dt = F.softplus(dt)
            dA = torch.exp(dt[..., None] * A)  # (b, l, d, n)
            dBu = (dt * u)[..., None] * B[:, :, None, :]
            hs = pscan(dA, dBu)
            return (hs @ C[..., None]).squeeze(-1) + u * D

        return parallel
    raise ValueError(impl)


def _time(fn, repeats: int, sync) -> float:
    fn()  # warm-up
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def _child(spec: dict) -> dict:
    """One measurement in this (fresh) process."""
    torch.manual_seed(0)
    device = torch.device(spec["device"])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if spec["kind"] == "scan":
        b, length, d, n = spec["batch"], spec["length"], spec["d_inner"], spec["d_state"]
        args = [torch.randn(b, length, d), torch.randn(b, length, d) - 1, -torch.rand(d, n) - 0.5,
                torch.randn(b, length, n), torch.randn(b, length, n), torch.randn(d)]
        args = [a.to(device).requires_grad_() for a in args]
        fn = _scan_fn(spec["impl"])

        def forward():
            with torch.no_grad():
                fn(*args)

        def train_step():
            fn(*args).sum().backward()
    else:  # full model
        b, length, d_model, n_layer = spec["batch"], spec["length"], spec["d_model"], spec["n_layer"]
        if spec["impl"] == "ours":
            from forecaster.mamba import MambaConfig, MambaEncoder

            model = MambaEncoder(MambaConfig(d_model=d_model, n_layer=n_layer))
        else:
            import minimamba

            model = minimamba.MambaEncoder(minimamba.BaseMambaConfig(d_model=d_model, n_layer=n_layer))
        model.to(device)
        x = torch.randn(b, length, d_model, device=device)

        def forward():
            with torch.no_grad():
                model(x)

        def train_step():
            model(x).square().mean().backward()

    result = {"forward_s": _time(forward, spec["repeats"], sync)}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        result["train_s"] = _time(train_step, spec["repeats"], sync)
        result["peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        base = _rss_bytes()
        result["train_s"] = _time(train_step, spec["repeats"], sync)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result["peak_mb"] = max(0, peak - base) / 2**20
    return result


def _run(spec: dict) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"  {spec['impl']} L={spec['length']}: failed ({tail[0]})", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-model", action="store_true", help="skip the full-model comparison")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return

    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    impls = ["ours", "loop"] + (["pscan"] if _available("mambapy") else [])
    print("\nselective scan, B=8, d_inner=256, N=16 (seconds, best of repeats; peak memory in MiB)")
    print(f"{'L':>6} {'impl':>6} {'forward':>9} {'fwd+bwd':>9} {'peak MiB':>9} {'fwd+bwd vs ours':>16} {'memory vs ours':>15}")
    for length in args.lengths:
        rows = {}
        for impl in impls:
            spec = dict(kind="scan", impl=impl, device=args.device, batch=8, length=length, d_inner=256, d_state=16,
                        repeats=args.repeats if impl == "ours" or length <= 1024 else 1)
            rows[impl] = _run(spec)
        ours = rows["ours"]
        for impl, r in rows.items():
            if r is None:
                continue
            print(f"{length:>6} {impl:>6} {r['forward_s']:>9.4f} {r['train_s']:>9.4f} {r['peak_mb']:>9.1f} "
                  f"{r['train_s'] / ours['train_s']:>15.2f}x {r['peak_mb'] / max(ours['peak_mb'], 1e-9):>14.2f}x")
    if args.no_model:
        return
    print("\nfull model fwd+bwd, d_model=128, 4 layers, batch 8, L=512")
    impls = ["ours"] + (["minimamba"] if _available("minimamba") else [])
    results = {i: _run(dict(kind="model", impl=i, device=args.device, batch=8, length=512, d_model=128, n_layer=4,
                            repeats=args.repeats if i == "ours" else 1)) for i in impls}
    for impl, r in results.items():
        if r is not None:
            print(f"{impl:>10} forward {r['forward_s']:.3f}s fwd+bwd {r['train_s']:.3f}s peak {r['peak_mb']:.0f} MiB "
                  f"({r['train_s'] / results['ours']['train_s']:.1f}x ours)")


if __name__ == "__main__":
    main()
