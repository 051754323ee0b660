"""Selective-scan and full-model speed and memory, side by side with peers (not a test).

    python benchmarks/scan.py                     # CPU, B=8, d_inner=256, N=16, L in {256, 1024, 4096}
    python benchmarks/scan.py --lengths 1024 --repeats 5 --no-model
    python benchmarks/scan.py --device cuda [--mamba-ssm ../shared/gpu [--build-mamba-ssm]] [--impls triton mamba-ssm]
    python benchmarks/scan.py --device cuda --tune --json tune.json      # search the Triton launch shapes
    python benchmarks/scan.py --device cuda --launch-table tune.json     # measure with the table it found
    python benchmarks/scan.py --device cuda --mamba-ssm ../shared/gpu --rounds 7   # the ratios, repeated

`--tune` times forward and backward launch shapes separately (TUNE_CHUNKS, TUNE_FWD, TUNE_BWD) at each
scan shape in float32 and bfloat16, times the best combinations whole (bf16 also on widened float32
copies), and writes every timing and the per-band table that scan_triton.LAUNCH_TABLE holds.

On CUDA (`_cuda_main`) the scan is measured at the three shapes of issue 14, (batch, d_inner, L) =
(64, 256, 96), (64, 256, 512), (8, 2048, 4096) with N = 16, in float32 and bfloat16, forward
(no_grad) and forward+backward (autograd.grad of the outputs against a fixed random cotangent):
    triton     forecaster's fused kernels (impl="triton", what "auto" picks on CUDA)
    chunked    forecaster's chunked PyTorch path (impl="chunked"; float32 state whatever the inputs)
    mamba-ssm  mamba-ssm 2.3.2's fused CUDA selective_scan_fn, channel-first inputs (its layout),
               when --mamba-ssm names the folder of its build helper (../shared/gpu/build_mamba_ssm.py)
    pscan      mambapy 1.2.0's parallel scan, when mambapy imports
then whole encoders, fwd+bwd in float32: our MambaEncoder (triton and chunked) against the same
MambaEncoder with each MambaMixer swapped for mamba-ssm's `Mamba` block (its fused scan; same
residual, RMSNorm and sizes), at B=32 L=96 d_model=64 x2, B=64 L=512 128x4, B=8 L=2048 768x4.
Times are medians of CUDA-event timings (each includes the Python launch overhead, as a user sees
it), after warm-up; peak memory is torch.cuda.max_memory_allocated over one fwd+bwd, less what
the inputs and weights hold. All CUDA measurements run in one process, one after another.

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


CUDA_SHAPES = [(64, 256, 96), (64, 256, 512), (8, 2048, 4096)]  # (batch, d_inner, L)
CUDA_MODELS = [(32, 96, 64, 2), (64, 512, 128, 4), (8, 2048, 768, 4)]  # (batch, L, d_model, n_layer)


def _median_ms(fn, budget_s: float = 0.6, min_reps: int = 5, max_reps: int = 100) -> float:
    """Median of CUDA-event timings of fn() after two warm-up calls."""
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    once = time.perf_counter() - start
    reps = int(max(min_reps, min(max_reps, budget_s / max(once, 1e-6))))
    times = []
    for _ in range(reps):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end))
    return float(torch.tensor(times).median())


def _paired_rounds(shape, dtype, peer_fn, rounds: int) -> dict:
    """fwd+bwd of triton and mamba-ssm at one shape, timed `rounds` times each, alternating which goes
    first: per-round ratios (ours / theirs), so that a drift of the machine shows as spread, not as bias."""
    ours, theirs = _scan_steps("triton", shape, dtype)[1], _scan_steps("mamba-ssm", shape, dtype, peer_fn)[1]
    ratios, ours_ms, theirs_ms = [], [], []
    for k in range(rounds):
        if k % 2:
            b, a = _median_ms(theirs), _median_ms(ours)
        else:
            a, b = _median_ms(ours), _median_ms(theirs)
        ours_ms.append(a)
        theirs_ms.append(b)
        ratios.append(a / b)
    return {"ratios": ratios, "ours_ms": ours_ms, "theirs_ms": theirs_ms}


def _peak_mib(fn) -> float:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def _cuda_scan_case(impl: str, shape, dtype, peer_fn=None, once: bool = False) -> dict:
    """Forward and fwd+bwd of one scan implementation at one (batch, d_inner, L), N=16, delta_softplus."""
    forward, train_step = _scan_steps(impl, shape, dtype, peer_fn)
    if once:  # compile only (--warm)
        forward(), train_step()
        return {}
    slow = impl in ("chunked", "pscan")
    result = {"forward_ms": _median_ms(forward, budget_s=0.3 if slow else 0.6, min_reps=3 if slow else 5),
              "train_ms": _median_ms(train_step, budget_s=0.5 if slow else 1.0, min_reps=3 if slow else 5),
              "peak_mib": _peak_mib(train_step)}
    return result


def _scan_steps(impl: str, shape, dtype, peer_fn=None):
    """(forward under no_grad, fwd+bwd) closures of one scan implementation on fixed random inputs."""
    import torch.nn.functional as F

    from forecaster.mamba import selective_scan

    batch, d, length = shape
    n = 16
    g = torch.Generator(device="cuda").manual_seed(0)
    rnd = lambda *s_: torch.randn(*s_, device="cuda", generator=g)  # noqa: E731
    u, delta, B, C = rnd(batch, length, d), rnd(batch, length, d) - 1, rnd(batch, length, n), rnd(batch, length, n)
    A, D = -torch.rand(d, n, device="cuda", generator=g) - 0.5, rnd(d)
    low = lambda t: t.to(dtype).requires_grad_()  # noqa: E731
    if impl == "mamba-ssm":  # its own layout: u, delta (b, d, l); B, C (b, n, l)
        args = [low(u.transpose(1, 2).contiguous()), low(delta.transpose(1, 2).contiguous()), A.requires_grad_(),
                low(B.transpose(1, 2).contiguous()), low(C.transpose(1, 2).contiguous()), D.requires_grad_()]
        fn = lambda u, dt, A, B, C, D: peer_fn(u, dt, A, B, C, D, delta_softplus=True)  # noqa: E731
    elif impl == "pscan":
        from mambapy.pscan import pscan

        args = [low(u), low(delta), A.requires_grad_(), low(B), low(C), D.requires_grad_()]

        def fn(u, dt, A, B, C, D):
            dt = F.softplus(dt)
            dA = torch.exp(dt[..., None] * A)  # (b, l, d, n)
            hs = pscan(dA, (dt * u)[..., None] * B[:, :, None, :])  # (b, l, d, n)
            return (hs @ C[..., None]).squeeze(-1) + u * D
    else:
        args = [low(u), low(delta), A.requires_grad_(), low(B), low(C), D.requires_grad_()]
        fn = lambda u, dt, A, B, C, D: selective_scan(u, dt, A, B, C, D, delta_softplus=True, impl=impl)  # noqa: E731
    del u, delta, B, C
    cotangent = torch.randn_like(fn(*args).detach())

    def forward():
        with torch.no_grad():
            fn(*args)

    def train_step():
        torch.autograd.grad(fn(*args), args, cotangent)

    return forward, train_step


def _host_and_gpu_ms(step, steps: int = 20) -> dict:
    """Where one call's time goes: host_ms, the Python/launch time per call measured while the GPU is held
    busy (torch.cuda._sleep), so that nothing waits on the device; gpu_ms, the device time of its kernels
    (torch.profiler); kernels, launches per call; wall_ms, the CUDA-event median as the tables report it."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda._sleep(400_000_000)  # ~0.2 s of the GPU at ~2 GHz, longer than the host needs for the calls
    start = time.perf_counter()
    for _ in range(steps):
        step()
    host = (time.perf_counter() - start) / steps
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    gpu_us = sum(e.time_range.elapsed_us() for e in kernels)
    return {"wall_ms": _median_ms(step), "host_ms": host * 1e3, "gpu_ms": gpu_us / 1e3 / steps,
            "kernels": len(kernels) / steps}


def _host_split(peer_fn, block_cls) -> list:
    """_host_and_gpu_ms of fwd+bwd for triton and mamba-ssm at the smallest scan shape and encoder size."""
    rows = []
    impls = ["triton"] + (["mamba-ssm"] if peer_fn else [])
    print("\nwhere fwd+bwd time goes (host: Python and launches with the GPU held busy; gpu: its kernels' time)")
    print("| case | dtype | impl | wall ms | host ms | GPU kernel ms | kernels per call |")
    print("|---|---|---|---|---|---|---|")
    cases = [("scan", CUDA_SHAPES[0], dtype) for dtype in (torch.float32, torch.bfloat16)]
    cases += [("model", CUDA_MODELS[0], torch.float32)]
    for kind, size, dtype in cases:
        for impl in impls:
            if kind == "scan":
                step = _scan_steps(impl, size, dtype, peer_fn)[1]
            elif impl == "mamba-ssm" and not block_cls:
                continue
            else:
                step = _model_steps(impl, size)[1]
            r = _guarded(f"split {impl} {size}", _host_and_gpu_ms, step)
            if r is None:
                continue
            name = str(dtype).replace("torch.", "")
            print(f"| {kind} {size} | {name} | {impl} | {r['wall_ms']:.3f} | {r['host_ms']:.3f} | {r['gpu_ms']:.3f} | "
                  f"{r['kernels']:.0f} |", flush=True)
            rows.append(dict(kind=kind, size=size, dtype=name, impl=impl, **r))
    return rows


class _PeerMixer(torch.nn.Module):
    """mamba-ssm's Mamba block in MambaMixer's place (forward only, no cache)."""

    block_cls = None

    def __init__(self, config):
        super().__init__()
        self.mamba = self.block_cls(d_model=config.d_model, d_state=config.d_state, d_conv=config.d_conv,
                                    expand=config.expand)

    def forward(self, hidden, conv_state=None, ssm_state=None):
        return self.mamba(hidden)


def _cuda_model_case(impl: str, size, once: bool = False) -> dict:
    forward, train_step = _model_steps(impl, size)
    if once:  # compile only (--warm)
        forward(), train_step()
        return {}
    slow = impl == "chunked"
    return {"forward_ms": _median_ms(forward, budget_s=0.3 if slow else 0.6, min_reps=3 if slow else 5),
            "train_ms": _median_ms(train_step, budget_s=0.5 if slow else 1.0, min_reps=3 if slow else 5),
            "peak_mib": _peak_mib(train_step)}


def _model_steps(impl: str, size):
    """(forward under no_grad, fwd+bwd) closures of one encoder stack (ours, or with mamba-ssm's blocks)."""
    from forecaster.mamba import MambaConfig, MambaEncoder
    from forecaster.mamba.scan import use_scan_impl

    batch, length, d_model, n_layer = size
    torch.manual_seed(0)
    config = MambaConfig(d_model=d_model, n_layer=n_layer)
    model = MambaEncoder(config, mixer_cls=_PeerMixer) if impl == "mamba-ssm" else MambaEncoder(config)
    model.cuda()
    x = torch.randn(batch, length, d_model, device="cuda")
    scan_impl = "triton" if impl == "mamba-ssm" else impl  # (the peer does not call our scan)
    params = [p for p in model.parameters() if p.requires_grad]

    def forward():
        with torch.no_grad(), use_scan_impl(scan_impl):
            model(x)

    def train_step():
        with use_scan_impl(scan_impl):
            torch.autograd.grad(model(x).square().mean(), params)

    return forward, train_step


def _guarded(label: str, fn, *args) -> dict | None:
    try:
        return fn(*args)
    except Exception as exc:  # a peer that cannot run at this size (memory, dtype) is reported, not fatal
        print(f"  {label}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})", file=sys.stderr)
        return None
    finally:
        torch.cuda.empty_cache()


# The launch-shape search of `--tune` (issue 22): per chunk length, forward shapes and backward shapes
# are timed separately (the backward as fwd+bwd less the default forward), each at every scan shape and
# in float32 and bfloat16 (kernels on the 16-bit inputs), and the best per shape is kept.
# Per L of CUDA_SHAPES: chunks, forward (block_d, warps, n_inner) with the default first, and backward
# (block_d, warps, n_inner, prefetch). The short band tries more, smaller programs (fewer channels per
# backward program, the issue 14 layout of 16 state lanes, chunk 4: 168 instead of 247 registers in the
# backward, from benchmarks/scan_compile.py); the long band, where the default already beats mamba-ssm in
# float32, little. n_chunks is not specialised, so the bands share compiled kernels: 24 kernels a dtype.
# (A first list of 252 candidates did not finish compiling within a 380 s call on the H200.)
# At the smallest shape the whole-step times are host-bound and did not rank the backward candidates
# (issue 22, fourth try): its band was chosen by GPU time alone, `benchmarks/scan_host.py --candidates`.
TUNE_CANDIDATES = {
    96: dict(chunks=(4, 8), fwd=((32, 4, 4), (16, 2, 4), (32, 4, 16)),
             bwd=((16, 2, 8, False), (16, 2, 16, False), (8, 1, 8, False), (8, 1, 16, False), (4, 1, 16, False),
                  (16, 2, 4, False))),
    512: dict(chunks=(4, 8), fwd=((32, 4, 4), (16, 2, 4), (64, 4, 4)),
              bwd=((16, 2, 8, False), (16, 2, 16, False), (8, 1, 8, False), (8, 1, 16, False), (16, 2, 8, True),
                   (32, 4, 8, False))),
    4096: dict(chunks=(4, 8), fwd=((32, 4, 4),), bwd=((16, 2, 8, False), (16, 2, 8, True), (8, 1, 8, False))),
}


def _tune_launches(length: int):
    """(chunk, role, Launch) for every candidate at sequence length `length`."""
    from forecaster.mamba.scan_triton import Launch

    grid = TUNE_CANDIDATES[length]
    for chunk in grid["chunks"]:
        for bd, w, ni in grid["fwd"]:
            yield chunk, "fwd", Launch(chunk=chunk, fwd_block_d=bd, fwd_warps=w, fwd_n_inner=ni, widen_16bit=False)
        for bd, w, ni, pf in grid["bwd"]:
            yield chunk, "bwd", Launch(chunk=chunk, bwd_block_d=bd, bwd_warps=w, bwd_n_inner=ni, prefetch=pf,
                                       widen_16bit=False)


def _scan_inputs(shape, dtype):
    batch, d, length = shape
    g = torch.Generator(device="cuda").manual_seed(0)
    rnd = lambda *s_: torch.randn(*s_, device="cuda", generator=g)  # noqa: E731
    low = lambda t: t.to(dtype).requires_grad_()  # noqa: E731
    args = [low(rnd(batch, length, d)), low(rnd(batch, length, d) - 1), (-torch.rand(d, 16, device="cuda", generator=g)
            - 0.5).requires_grad_(), low(rnd(batch, length, 16)), low(rnd(batch, length, 16)), rnd(d).requires_grad_()]
    return args


def _tune_case(shape, dtype, launch, role: str, warm_only: bool = False) -> float:
    """ms of the forward (saving states, as under autograd) for role 'fwd'; of fwd+bwd for 'bwd'."""
    import forecaster.mamba.scan_triton as st

    u, delta, A, B, C, D = args = _scan_inputs(shape, dtype)
    if role == "fwd":
        def fn():
            with torch.no_grad():
                st._forward(u, delta, A, B, C, D, None, None, None, True, True, launch)
    else:
        cot = torch.randn(u.shape, device=u.device, dtype=dtype)

        def fn():
            torch.autograd.grad(st.selective_scan_triton(u, delta, A, B, C, D, delta_softplus=True, launch=launch),
                                args, cot)
    if warm_only:
        fn()
        torch.cuda.synchronize()
        return 0.0
    return _median_ms(fn, budget_s=0.12 if role == "fwd" else 0.25, min_reps=5)


def _tune_jobs():
    for shape in CUDA_SHAPES:
        for dtype in (torch.float32, torch.bfloat16):
            for chunk, role, launch in _tune_launches(shape[2]):
                yield shape, dtype, chunk, role, launch


def _tune_warm(share: str) -> None:
    """Compile (into Triton's cache) every `i`-th of `n` tune candidates, for share 'i/n'."""
    i, n = (int(x) for x in share.split("/"))
    for j, (shape, dtype, chunk, role, launch) in enumerate(_tune_jobs()):
        if j % n == i:
            _guarded("warm", _tune_case, shape, dtype, launch, role, True)


def _tune(path: str | None) -> None:
    """Time every candidate; per (shape, dtype) keep the best forward and backward of each chunk and
    the best chunk; write all timings and the per-band table (as --launch-table reads it) to path."""
    from dataclasses import asdict, replace

    from forecaster.mamba.scan_triton import Launch

    rows = []
    for shape, dtype, chunk, role, launch in _tune_jobs():
        ms = _guarded(f"tune {shape} {dtype} {launch}", _tune_case, shape, dtype, launch, role)
        rows.append(dict(shape=shape, dtype=str(dtype).replace("torch.", ""), chunk=chunk, role=role,
                         launch=asdict(launch), ms=ms))
        print(f"  {shape} {rows[-1]['dtype']} {role} {launch}: {ms}", flush=True)
    best = {}
    for shape in CUDA_SHAPES:
        for name in ("float32", "bfloat16"):
            mine = [r for r in rows if r["shape"] == shape and r["dtype"] == name and r["ms"] is not None]
            default_fwd = {r["chunk"]: r["ms"] for r in mine if r["role"] == "fwd"
                           and (r["launch"]["fwd_block_d"], r["launch"]["fwd_warps"], r["launch"]["fwd_n_inner"])
                           == (Launch.fwd_block_d, Launch.fwd_warps, Launch.fwd_n_inner)}
            options = []
            for chunk in sorted({r["chunk"] for r in mine}):
                fwd = min((r for r in mine if r["chunk"] == chunk and r["role"] == "fwd"), key=lambda r: r["ms"])
                bwd = min((r for r in mine if r["chunk"] == chunk and r["role"] == "bwd"), key=lambda r: r["ms"])
                launch = replace(Launch(**bwd["launch"]), fwd_block_d=fwd["launch"]["fwd_block_d"],
                                 fwd_warps=fwd["launch"]["fwd_warps"], fwd_n_inner=fwd["launch"]["fwd_n_inner"])
                options.append((bwd["ms"] - default_fwd.get(chunk, 0.0) + fwd["ms"], launch))
            best[(shape, name)] = min(options, key=lambda o: o[0])[1]
    # the chosen combinations timed as a whole; bf16 also as float32 kernels on widened copies
    checked = {}
    for shape in CUDA_SHAPES:
        full = best[(shape, "float32")]
        checked[(shape, "float32")] = [(_guarded("check", _tune_case, shape, torch.float32, full, "bwd"), full)]
        halves = [best[(shape, "bfloat16")], replace(full, widen_16bit=True)]
        checked[(shape, "bfloat16")] = [(_guarded("check", _tune_case, shape, torch.bfloat16, h, "bwd"), h)
                                        for h in halves]
        for key in ((shape, "float32"), (shape, "bfloat16")):
            for ms, launch in checked[key]:
                print(f"check {key}: {launch} fwd+bwd {ms} ms", flush=True)
    pick = {k: min((c for c in v if c[0] is not None), key=lambda c: c[0])[1] for k, v in checked.items()}
    # band edges at the geometric mean of neighbouring lengths
    bands = [(None if i == len(CUDA_SHAPES) - 1 else int((CUDA_SHAPES[i][2] * CUDA_SHAPES[i + 1][2]) ** 0.5),
              asdict(pick[(shape, "float32")]), asdict(pick[(shape, "bfloat16")]))
             for i, shape in enumerate(CUDA_SHAPES)]
    for band in bands:
        print("band", band)
    if path:
        with open(path, "w") as f:
            json.dump({"rows": rows, "table": bands,
                       "checked": {f"{k[0]} {k[1]}": [[ms, asdict(la)] for ms, la in v] for k, v in checked.items()}},
                      f, indent=1)


def _load_launch_table(path: str) -> None:
    import forecaster.mamba.scan_triton as st

    with open(path) as f:
        table = json.load(f)["table"]
    st.LAUNCH_TABLE = tuple((max_length, st.Launch(**full), st.Launch(**half)) for max_length, full, half in table)


def _cuda_main(args) -> None:
    import forecaster.mamba.scan_triton as st

    print(f"device={torch.cuda.get_device_name(0)} torch={torch.__version__} "
          f"triton={__import__('triton').__version__}")
    if args.tune_warm:
        _tune_warm(args.tune_warm)
        return
    if args.launch_table:
        _load_launch_table(args.launch_table)
    if args.warm:  # the benchmark's Triton kernels into Triton's cache, in n processes side by side
        i, n = (int(x) for x in args.warm.split("/"))
        jobs = [("scan", shape, dtype) for shape in CUDA_SHAPES for dtype in (torch.float32, torch.bfloat16)]
        jobs += [("model", size, None) for size in CUDA_MODELS]
        for kind, size, dtype in jobs[i::n]:
            if kind == "scan":
                _guarded("warm", _cuda_scan_case, "triton", size, dtype, None, True)
            elif not args.no_model:
                _guarded("warm", _cuda_model_case, "triton", size, True)
        return
    if args.tune:
        _tune(args.json)
        return
    for max_length, full, half in st.LAUNCH_TABLE:
        print(f"triton launch for L <= {max_length}: float32 {full}; 16-bit {half}")
    peer_fn = block_cls = None
    if args.mamba_ssm:
        sys.path.insert(0, args.mamba_ssm)
        import build_mamba_ssm

        if args.build_mamba_ssm:
            build_mamba_ssm.build()
        peer_fn = build_mamba_ssm.selective_scan_fn()
        block_cls = _PeerMixer.block_cls = build_mamba_ssm.mamba_block_cls()
    if args.rounds and peer_fn:
        print(f"\nfwd+bwd ours / mamba-ssm, {args.rounds} alternating rounds (median ms of each round)")
        print("| (batch, d_inner, L) | dtype | ratio median | ratio min - max | ours ms median | mamba-ssm ms median |")
        print("|---|---|---|---|---|---|")
        rounds = []
        for shape in CUDA_SHAPES:
            for dtype in (torch.float32, torch.bfloat16):
                r = _paired_rounds(shape, dtype, peer_fn, args.rounds)
                med = lambda xs: float(torch.tensor(xs).median())  # noqa: E731
                name = str(dtype).replace("torch.", "")
                print(f"| {shape} | {name} | {med(r['ratios']):.2f}x | {min(r['ratios']):.2f}x - {max(r['ratios']):.2f}x | "
                      f"{med(r['ours_ms']):.3f} | {med(r['theirs_ms']):.3f} |", flush=True)
                rounds.append(dict(shape=shape, dtype=name, **r))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rounds": rounds}, f, indent=1)
        return
    impls = ["triton", "chunked"] + (["mamba-ssm"] if peer_fn else []) + (["pscan"] if _available("mambapy") else [])
    if args.impls:
        impls = [i for i in impls if i in args.impls]
    results = {"scan": [], "model": []}
    print("\nselective scan, N=16, delta_softplus (median ms; peak MiB over one fwd+bwd)")
    print("| (batch, d_inner, L) | dtype | impl | forward ms | fwd+bwd ms | peak MiB | fwd+bwd vs mamba-ssm |")
    print("|---|---|---|---|---|---|---|")
    for shape in CUDA_SHAPES:
        for dtype in (torch.float32, torch.bfloat16):
            rows = {impl: _guarded(f"{impl} {shape} {dtype}", _cuda_scan_case, impl, shape, dtype, peer_fn)
                    for impl in impls}
            peer = rows.get("mamba-ssm")
            for impl, r in rows.items():
                if r is None:
                    continue
                ratio = f"{r['train_ms'] / peer['train_ms']:.2f}x" if peer else "-"
                name = str(dtype).replace("torch.", "")
                print(f"| {shape} | {name} | {impl} | {r['forward_ms']:.3f} | {r['train_ms']:.3f} | "
                      f"{r['peak_mib']:.0f} | {ratio} |", flush=True)
                results["scan"].append(dict(shape=shape, dtype=name, impl=impl, **r))
    if not args.no_model:
        print("\nwhole encoder fwd+bwd, float32 (median ms; peak MiB)")
        print("| (batch, L, d_model x layers) | impl | forward ms | fwd+bwd ms | peak MiB | fwd+bwd vs mamba-ssm stack |")
        print("|---|---|---|---|---|---|")
        for size in CUDA_MODELS:
            rows = {impl: _guarded(f"model {impl} {size}", _cuda_model_case, impl, size)
                    for impl in ["triton", "chunked"] + (["mamba-ssm"] if block_cls else [])
                    if not args.impls or impl in args.impls}
            peer = rows.get("mamba-ssm")
            for impl, r in rows.items():
                if r is None:
                    continue
                ratio = f"{r['train_ms'] / peer['train_ms']:.2f}x" if peer else "-"
                label = f"({size[0]}, {size[1]}, {size[2]} x {size[3]})"
                print(f"| {label} | {impl} | {r['forward_ms']:.2f} | {r['train_ms']:.2f} | {r['peak_mib']:.0f} | {ratio} |",
                      flush=True)
                results["model"].append(dict(size=size, impl=impl, **r))
    if args.host_split:
        results["host_split"] = _host_split(peer_fn, block_cls)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


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
    parser.add_argument("--mamba-ssm", help="CUDA: folder of mamba-ssm's build helper (build_mamba_ssm.py), as a peer")
    parser.add_argument("--build-mamba-ssm", action="store_true", help="CUDA: build mamba-ssm's kernel first (~2.5 min)")
    parser.add_argument("--tune", action="store_true", help="CUDA: time launch shapes of the Triton kernels")
    parser.add_argument("--json", help="CUDA: also write the measurements (with --tune: the timings and the launch table) "
                        "to this JSON file")
    parser.add_argument("--launch-table", help="CUDA: JSON file with the Triton launch table to use (as --tune writes it)")
    parser.add_argument("--warm", help="CUDA: 'i/n': only compile the i-th of n shares of the Triton cases (run n side by side)")
    parser.add_argument("--tune-warm", help=argparse.SUPPRESS)  # 'i/n': compile every i-th of n tune candidates
    parser.add_argument("--host-split", action="store_true",
                        help="CUDA: also split fwd+bwd at the smallest sizes into host and GPU kernel time")
    parser.add_argument("--rounds", type=int, default=0,
                        help="CUDA, with --mamba-ssm: only the scan's fwd+bwd against mamba-ssm at every shape and dtype, "
                             "this many alternating rounds (the ratio's median and range)")
    parser.add_argument("--impls", nargs="+", help="CUDA: only these implementations (e.g. triton mamba-ssm)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    if args.device.startswith("cuda"):
        _cuda_main(args)
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
