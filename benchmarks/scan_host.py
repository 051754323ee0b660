"""Where the small scan's fwd+bwd time goes on a GPU, for one or more versions of scan_triton.py side by side
(issue 22; not a test).

    python3 benchmarks/scan_host.py --modules new=forecaster/mamba/scan_triton.py old=/path/to/old/scan_triton.py
    python3 benchmarks/scan_host.py --candidates          # GPU time of launch shapes at the smallest shape

For each version, at (batch, d_inner, L) = (64, 256, 96), N = 16, delta_softplus, float32 and bfloat16, on
the version's own `selective_scan_triton` (scan.py's dispatch left out, the same for all):
    wall      median CUDA-event time of torch.autograd.grad(scan(...), inputs, cotangent), as scan.py times it
    to_bwd    GPU-side time from the step's start to an event recorded just before the backward kernel's
              launch: with the GPU idle by then, the host time before that launch
    after     GPU-side time from that event to the step's end: the backward kernel, the partial sums and
              any host time after the launch that the kernel does not cover
    host_pre, host_post   the same split on the host clock (perf_counter)
    graph     the step captured once in a CUDA graph and replayed: the GPU time alone
--candidates times launch shapes (LAUNCH_CANDIDATES) by graph replay, so that host time does not hide them.
Versions are loaded from their files as separate modules; rounds alternate between them.

    TRITON_INTERPRET=1 python benchmarks/scan_host.py --cpu-stub --modules new=... old=...

--cpu-stub (no GPU; Triton installed): the host path alone, on CPU tensors with every kernel launch stubbed
(the versions' fast launch paths taken as on the GPU, the launcher a no-op): per call, the time to the
backward launch, after it, and in all (minimum and median over bursts, in us). CPU tensors make torch's
own ops cheaper than CUDA's, so this ranks Python work, not the GPU host's absolute time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (64, 256, 96)  # (batch, d_inner, L)
N = 16
# (chunk, fwd block_d, warps, n_inner, bwd block_d, warps, n_inner, prefetch)
LAUNCH_CANDIDATES = [
    (4, 16, 2, 4, 16, 2, 4, False), (4, 16, 2, 4, 16, 2, 4, True), (4, 16, 2, 4, 8, 1, 8, False),
    (4, 16, 2, 4, 8, 1, 8, True), (4, 16, 2, 4, 4, 1, 8, False), (4, 16, 2, 4, 32, 2, 4, False),
    (8, 16, 2, 4, 16, 2, 4, False), (8, 16, 2, 4, 16, 2, 4, True), (8, 16, 2, 4, 8, 1, 8, False),
    (8, 16, 2, 4, 8, 1, 8, True), (2, 16, 2, 4, 16, 2, 4, False), (2, 16, 2, 4, 8, 1, 8, False),
]


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(f"_scan_triton_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _inputs(dtype):
    batch, d, length = SHAPE
    g = torch.Generator(device="cuda").manual_seed(0)
    rnd = lambda *s: torch.randn(*s, device="cuda", generator=g)  # noqa: E731
    low = lambda t: t.to(dtype).requires_grad_()  # noqa: E731
    args = [low(rnd(batch, length, d)), low(rnd(batch, length, d) - 1),
            (-torch.rand(d, N, device="cuda", generator=g) - 0.5).requires_grad_(),
            low(rnd(batch, length, N)), low(rnd(batch, length, N)), rnd(d).requires_grad_()]
    return args, torch.randn(batch, length, d, device="cuda", dtype=dtype)


def _step(module, dtype, launch=None):
    args, cot = _inputs(dtype)
    kw = {} if launch is None else {"launch": launch}
    return lambda: torch.autograd.grad(module.selective_scan_triton(*args, delta_softplus=True, **kw), args, cot)


def _mark_backward_launch(module, marks: list):
    """Records a CUDA event and the host time just before each backward-kernel launch of `module`."""
    def mark():
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        marks.append((event, time.perf_counter()))

    if hasattr(module, "_Call"):  # this branch: launches through plans' _Calls
        call = module._Call.__call__

        def wrapped(self, pointers):
            if self.kernel is module._scan_bwd_kernel:
                mark()
            call(self, pointers)
        module._Call.__call__ = wrapped
    else:  # main before this branch: module-level _launch
        launch = module._launch

        def wrapped(kernel, *a):
            if kernel is module._scan_bwd_kernel:
                mark()
            launch(kernel, *a)
        module._launch = wrapped


def _split(step, marks: list, reps: int) -> dict:
    rows = []
    for _ in range(reps):
        marks.clear()
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        end.record()
        end.synchronize()
        event, t_mark = marks[-1]
        rows.append((begin.elapsed_time(end), begin.elapsed_time(event), event.elapsed_time(end),
                     (t_mark - t0) * 1e3, (t1 - t_mark) * 1e3))
    med = [statistics.median(c) for c in zip(*rows)]
    return dict(zip(("wall_marked", "to_bwd", "after", "host_pre", "host_post"), med))


def _wall(step, reps: int) -> float:
    times = []
    for _ in range(reps):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        step()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end))
    return statistics.median(times)


def _graph_ms(step, replays: int = 50) -> float:
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    for _ in range(3):
        graph.replay()
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end) / replays


def _versions(args) -> None:
    modules = {}
    for spec in args.modules:
        name, path = spec.split("=", 1)
        modules[name] = _load(name, path)
    marks = {name: [] for name in modules}
    for name, module in modules.items():
        _mark_backward_launch(module, marks[name])
    peer_fn = None
    if args.mamba_ssm:  # mamba-ssm's selective_scan_fn, timed alike (wall only), as benchmarks/scan.py builds it
        sys.path.insert(0, args.mamba_ssm)
        import build_mamba_ssm

        peer_fn = build_mamba_ssm.selective_scan_fn()
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import scan as bench
    results = []
    for dtype in (torch.float32, torch.bfloat16):
        steps = {name: _step(module, dtype) for name, module in modules.items()}
        if peer_fn is not None:
            steps["mamba-ssm"] = bench._scan_steps("mamba-ssm", SHAPE, dtype, peer_fn)[1]
        for step in steps.values():  # compile, warm
            for _ in range(5):
                step()
        torch.cuda.synchronize()
        acc = {name: {"wall": []} for name in steps}
        for _ in range(args.rounds):  # alternate versions, so that drifts of the host hit all alike
            for name, step in steps.items():
                acc[name]["wall"].append(_wall(step, 40))
                if name in modules:
                    for k, v in _split(step, marks[name], 40).items():
                        acc[name].setdefault(k, []).append(v)
        for name, step in steps.items():
            row = {k: statistics.median(v) for k, v in acc[name].items()}
            try:
                row["graph"] = _graph_ms(step)
            except Exception as e:  # noqa: BLE001  (a peer that cannot be captured)
                row["graph"] = None
                print(f"{name}: no graph ({type(e).__name__}: {e})", flush=True)
            row.update(version=name, dtype=str(dtype).replace("torch.", ""))
            results.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def _candidates(args) -> None:
    import forecaster.mamba.scan_triton as st

    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for c in LAUNCH_CANDIDATES:
            launch = st.Launch(chunk=c[0], fwd_block_d=c[1], fwd_warps=c[2], fwd_n_inner=c[3], bwd_block_d=c[4],
                               bwd_warps=c[5], bwd_n_inner=c[6], prefetch=c[7], widen_16bit=False)
            if args.warm:  # compile only (several processes side by side)
                i, n = (int(x) for x in args.warm.split("/"))
                if (LAUNCH_CANDIDATES.index(c) + (dtype == torch.bfloat16) * len(LAUNCH_CANDIDATES)) % n == i:
                    _step(st, dtype, launch)()
                continue
            step = _step(st, dtype, launch)
            row = dict(dtype=str(dtype).replace("torch.", ""), launch=asdict(launch), graph=_graph_ms(step),
                       wall=_wall(step, 60))
            rows.append(row)
            print(f"{row['dtype']} {c}: graph {row['graph']:.4f} ms, wall {row['wall']:.4f} ms", flush=True)
    if args.json and not args.warm:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def _cpu_stub(args) -> None:
    marks: list = []

    class Launcher:  # Triton's launcher, stubbed: records when a launch would happen
        global_scratch_size = profile_scratch_size = 0
        launch_cooperative_grid = launch_pdl = False

        def __call__(self, *a):
            marks.append(time.perf_counter())

        launch = __call__

    class Compiled:
        function, packed_metadata, run = 0, None, Launcher()

    class Kernel:  # stands for a JITFunction: returns the stub compiled kernel
        def __init__(self, real):
            self.arg_names = real.arg_names if hasattr(real, "arg_names") else list(real.fn.arg_names)

        def __getitem__(self, grid):
            return lambda *a, **k: Compiled()

    torch.set_num_threads(1)
    torch.cuda.current_device = lambda: 0  # (main's _launch asks torch)
    modules = {}
    for spec in args.modules:
        name, path = spec.split("=", 1)
        module = modules[name] = _load(name, path)
        module.JITFunction = Kernel
        for attr in ("_scan_fwd_kernel", "_scan_bwd_kernel", "_partials_sum_kernel"):
            if hasattr(module, attr):
                setattr(module, attr, Kernel(getattr(module, attr)))
        module._raw_stream = lambda device: 0
        if hasattr(module, "_current_device"):
            module._current_device = lambda: 0
    b, d, length = 2, 32, 8  # small: torch's CPU ops then cost about what they cost to dispatch
    inputs = [torch.randn(b, length, d), torch.randn(b, length, d), -torch.rand(d, N), torch.randn(b, length, N),
              torch.randn(b, length, N), torch.randn(d)]
    inputs = [t.requires_grad_() for t in inputs]
    cot = torch.randn(b, length, d)
    acc = {name: {"to_bwd": [], "after": [], "total": []} for name in modules}
    for _ in range(args.rounds * 4):
        for name, module in modules.items():
            for i in range(150):
                marks.clear()
                t0 = time.perf_counter()
                torch.autograd.grad(module.selective_scan_triton(*inputs, delta_softplus=True), inputs, cot)
                t1 = time.perf_counter()
                if i >= 20:  # marks: forward launch, backward launch (then the sum of the partials, if any)
                    acc[name]["to_bwd"].append(marks[1] - t0)
                    acc[name]["after"].append(t1 - marks[1])
                    acc[name]["total"].append(t1 - t0)
    for name, r in acc.items():
        print(name, " ".join(f"{k} {min(v) * 1e6:.1f}/{statistics.median(v) * 1e6:.1f}" for k, v in r.items()),
              "(us, min/median)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=[f"new={ROOT / 'forecaster/mamba/scan_triton.py'}"],
                        help="name=path of each scan_triton.py version")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mamba-ssm", help="folder of mamba-ssm's build helper (build_mamba_ssm.py): time it too")
    parser.add_argument("--candidates", action="store_true", help="time LAUNCH_CANDIDATES by graph replay")
    parser.add_argument("--warm", help="with --candidates: 'i/n', compile only the i-th of n shares")
    parser.add_argument("--cpu-stub", action="store_true", help="the host path on the CPU, launches stubbed")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.cpu_stub:
        _cpu_stub(args)
        return
    print(f"device={torch.cuda.get_device_name(0)} torch={torch.__version__} "
          f"triton={__import__('triton').__version__}", flush=True)
    if args.candidates:
        _candidates(args)
    else:
        _versions(args)


if __name__ == "__main__":
    main()
