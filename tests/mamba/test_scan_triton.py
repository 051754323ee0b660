"""The fused Triton scan (CUDA only; every test here is skipped without CUDA or Triton).

Against the float64 oracle (outputs and the gradients of every input within 1e-5 relative in
float32), bf16/fp16 against a float32 reference, carried state, and a whole model trained with
`triton` and with `chunked`.
"""

import numpy as np
import pytest
import torch

from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster, selective_scan, selective_scan_ref
from forecaster.mamba.scan import resolve_impl, use_scan_impl
from test_scan import _inputs, _rel, _run, _seed

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def st():
    pytest.importorskip("triton")
    from forecaster.mamba import scan_triton

    return scan_triton


def _triton(**options):
    from forecaster.mamba.scan_triton import selective_scan_triton

    return lambda **kw: selective_scan_triton(**kw, **options)


def _to(tensors, dtype, device="cuda"):
    return {k: (None if v is None else v.detach().to(device=device, dtype=dtype).requires_grad_()) for k, v in tensors.items()}


def _check_against_oracle(ref, softplus, fn=None, tol=1e-5):
    fast = _to(ref, torch.float32)
    y0, h0, g0 = _run(selective_scan_ref, ref, softplus)
    y1, h1, g1 = _run(fn or (lambda **kw: selective_scan(**kw, impl="triton")), fast, softplus)
    assert y1.dtype == torch.float32 and h1.dtype == torch.float32
    errors = {"out": _rel(y1.cpu(), y0), "final state": _rel(h1.cpu(), h0)}
    errors.update({name: _rel(g1[name].cpu(), g0[name]) for name in g0})
    assert set(g1) == set(g0)
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors over {tol}: {bad}"


def test_auto_picks_triton_on_cuda(st):
    u = torch.zeros(1, 1, 1, device="cuda")
    assert resolve_impl("auto", u) == "triton"
    assert resolve_impl("auto", u.double()) == "chunked"
    assert resolve_impl("auto", u.cpu()) == "chunked"
    with use_scan_impl("chunked"):
        assert resolve_impl("auto", u) == "chunked"
    assert resolve_impl("auto", u) == "triton"


@pytest.mark.parametrize("length", [1, 7, 64, 1000, 4096, 8192])
@pytest.mark.parametrize("softplus", [False, True])
def test_triton_matches_float64_oracle(st, length, softplus):
    batch, d = (2, 21) if length <= 1000 else (1, 5)  # non-power-of-two channels; the oracle stays affordable
    ref = _inputs(batch, length, d, 16 if length <= 1000 else 5, softplus)
    _check_against_oracle(ref, softplus)


# (chunk, fwd block_d, fwd warps, fwd n_inner, bwd block_d, bwd warps, bwd n_inner, prefetch): the issue 14
# layout (n_inner 16) with one step per chunk, and the state split between registers and lanes (8, 4, 2, 1)
# with and without prefetch, one to four warps (the default Launch is what every other test here runs)
LAUNCHES = [(1, 16, 2, 16, 16, 2, 16, False), (4, 8, 1, 4, 8, 1, 8, True), (16, 16, 1, 2, 8, 2, 2, False),
            (8, 64, 4, 1, 32, 4, 4, True)]


@pytest.mark.parametrize("shape", LAUNCHES)
def test_launch_shapes_agree_with_the_oracle(st, shape):
    chunk, fbd, fw, fni, bbd, bw, bni, prefetch = shape
    launch = st.Launch(chunk=chunk, fwd_block_d=fbd, fwd_warps=fw, fwd_n_inner=fni, bwd_block_d=bbd, bwd_warps=bw,
                       bwd_n_inner=bni, prefetch=prefetch)
    ref = _inputs(3, 203, 37, 3, softplus=True)  # several channel blocks, a part-filled last chunk, n < BLOCK_N
    _check_against_oracle(ref, True, _triton(launch=launch))


@pytest.mark.parametrize("band", [0, 1, 2])
def test_launch_table_entries_agree_with_the_oracle(st, band):
    """Each band's float32 launch of the tuned LAUNCH_TABLE, at a shape with several channel blocks."""
    launch = st.LAUNCH_TABLE[band][1]
    ref = _inputs(2, 203, 37, 16, softplus=True)
    _check_against_oracle(ref, True, _triton(launch=launch))


def test_launch_table_picks_the_band_of_the_length(st, monkeypatch):
    short, long_, half = st.Launch(chunk=4), st.Launch(chunk=16), st.Launch(chunk=4, widen_16bit=False)
    monkeypatch.setattr(st, "LAUNCH_TABLE", ((128, short, half), (None, long_, long_)))
    assert st.launch_for(256, 96) is short and st.launch_for(256, 128) is short
    assert st.launch_for(256, 96, torch.bfloat16) is half
    assert st.launch_for(256, 129) is long_ and st.launch_for(8, 10**6, torch.float16) is long_
    monkeypatch.setattr(st, "LAUNCH_OVERRIDE", st.Launch(chunk=2))
    assert st.launch_for(256, 96).chunk == 2


def test_gradients_are_bitwise_reproducible(st):
    """No atomics: the same inputs give the same gradients bit for bit (training is reproducible)."""
    t = _to(_inputs(3, 300, 70, 16, softplus=True), torch.float32)
    first = _run(lambda **kw: selective_scan(**kw, impl="triton"), t, True)
    second = _run(lambda **kw: selective_scan(**kw, impl="triton"), t, True)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert all(torch.equal(first[2][k], second[2][k]) for k in first[2])


def test_repeated_calls_launch_the_cached_kernels_alike(st, monkeypatch):
    """After the first call, the same arguments launch the kernels Triton compiled through the plan's _Calls
    (the launcher handed addresses, without JITFunction.run): outputs and gradients equal bit for bit those
    of the plain launch, and a misaligned B (a new key) is launched right too."""
    st._PLANS.clear()
    t = _to(_inputs(2, 150, 24, 8, softplus=True), torch.float32)
    scan = lambda **kw: selective_scan(**kw, impl="triton")  # noqa: E731
    first = _run(scan, t, True)

    def calls():
        return [p.fwd for p in st._PLANS.values()] + [c[0] for p in st._PLANS.values() for c in p.bwd.values()]

    assert len(calls()) == 2 and all(len(c.compiled) == 1 for c in calls())  # the forward and the backward
    second = _run(scan, t, True)
    assert len(calls()) == 2 and all(len(c.compiled) == 1 for c in calls())
    monkeypatch.setattr(st, "FAST_LAUNCH", False)
    plain = _run(scan, t, True)
    for other in (second, plain):
        assert torch.equal(first[0], other[0]) and torch.equal(first[1], other[1])
        assert all(torch.equal(first[2][k], other[2][k]) for k in first[2])
    monkeypatch.setattr(st, "FAST_LAUNCH", True)
    shifted = dict(t, B=torch.randn(2, 150, 9, device="cuda")[..., 1:].requires_grad_())  # 4 bytes in
    assert shifted["B"].data_ptr() % 16
    ref = _run(lambda **kw: selective_scan(**kw, impl="chunked"), shifted, True)
    for _ in range(2):
        y, h, g = _run(scan, shifted, True)
        assert _rel(y, ref[0]) < 1e-5 and all(_rel(g[k], ref[2][k]) < 1e-5 for k in g)


def test_a_captured_cuda_graph_replays_the_eager_step(st):
    """fwd+bwd of impl="triton" captured in one CUDA graph (allocations from the graph's pool, launches on the
    capture stream) and replayed on new inputs gives the eager step's outputs and gradients bit for bit."""
    t = _to(_inputs(2, 150, 24, 8, softplus=True), torch.float32)
    names = [k for k, v in t.items() if v is not None]
    scan = lambda: selective_scan(**t, delta_softplus=True, impl="triton")  # noqa: E731
    cot = torch.randn(2, 150, 24, device="cuda")

    def step():
        return torch.autograd.grad(scan(), [t[k] for k in names], cot)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):  # compiles and fills the plans before capture
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step()
    fresh = _to(_inputs(2, 150, 24, 8, softplus=True, seed=7), torch.float32)
    with torch.no_grad():
        for k in names:
            t[k].copy_(fresh[k])
    graph.replay()
    torch.cuda.synchronize()
    eager = step()
    assert all(torch.equal(a, b) for a, b in zip(captured, eager))


def test_step_sizes_up_to_ten_without_softplus(st):
    ref = _inputs(2, 300, 6, 4, softplus=False)
    with torch.no_grad():
        ref["delta"].mul_(10)  # delta in (0, 10]
    _check_against_oracle(ref, False)


def test_optional_inputs_absent(st):
    ref = _inputs(2, 100, 9, 4, softplus=True)
    for name in ("D", "z", "delta_bias", "initial_state"):
        ref[name] = None
    _check_against_oracle(ref, True)


def test_strided_inputs_as_the_mixer_passes_them(st):
    """u channel-first in memory, B and C slices of one projection, z half of another."""
    seed = _seed()
    g = torch.Generator().manual_seed(seed)
    b, length, d, n = 2, 150, 24, 8
    u = torch.randn(b, d, length, generator=g, dtype=torch.float64).transpose(1, 2)  # (b, l, d), strides (d l, 1, l)
    proj = torch.randn(b, length, 3 + 2 * n, generator=g, dtype=torch.float64)
    xz = torch.randn(b, length, 2 * d, generator=g, dtype=torch.float64)
    ref = dict(u=u, delta=torch.randn(b, length, d, generator=g, dtype=torch.float64),
               A=-torch.rand(d, n, generator=g, dtype=torch.float64) - 0.1, B=proj[..., 3:3 + n], C=proj[..., 3 + n:],
               D=torch.randn(d, generator=g, dtype=torch.float64), z=xz[..., d:],
               delta_bias=torch.randn(d, generator=g, dtype=torch.float64), initial_state=None)
    y0 = selective_scan_ref(**ref, delta_softplus=True)
    # moved whole, then viewed on the device (moving a slice would copy it into a contiguous tensor)
    u, proj, xz = u.cuda().float(), proj.cuda().float(), xz.cuda().float()
    cuda = dict(u=u, delta=ref["delta"].cuda().float(), A=ref["A"].cuda().float(), B=proj[..., 3:3 + n],
                C=proj[..., 3 + n:], D=ref["D"].cuda().float(), z=xz[..., d:], delta_bias=ref["delta_bias"].cuda().float())
    assert not (u.is_contiguous() or cuda["B"].is_contiguous() or cuda["z"].is_contiguous())
    y1 = selective_scan(**cuda, delta_softplus=True, impl="triton")
    assert _rel(y1.cpu(), y0) < 1e-5


@pytest.mark.parametrize("widen", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_matches_float32_reference(st, monkeypatch, dtype, widen):
    """Inputs rounded to bf16/fp16 once; the float32 oracle on those same values is the reference.
    widen: the kernels run on float32 copies (True) or read the 16-bit inputs themselves (False)."""
    _check_half(st, monkeypatch, dtype, st.Launch(widen_16bit=widen), 500)


@pytest.mark.parametrize("band", [0, 1, 2])
def test_launch_table_16bit_entries_match_float32_reference(st, monkeypatch, band):
    """Each band's 16-bit launch of LAUNCH_TABLE (bf16 inputs), as test_half_precision_matches_float32_reference."""
    _check_half(st, monkeypatch, torch.bfloat16, st.LAUNCH_TABLE[band][2], 203)


def _check_half(st, monkeypatch, dtype, launch, length):
    monkeypatch.setattr(st, "LAUNCH_OVERRIDE", launch)
    ref = _inputs(2, length, 40, 16, softplus=True, dtype=torch.float32)
    rounded = {k: (None if v is None else v.detach().to(dtype).float()) for k, v in ref.items()}
    for name in ("A", "D", "delta_bias", "initial_state"):  # the mixer keeps these in float32
        rounded[name] = ref[name].detach()
    low = {k: (None if v is None else v.detach().cuda().to(dtype if k in ("u", "delta", "B", "C", "z") else torch.float32)
               .requires_grad_()) for k, v in rounded.items()}
    full = _to(rounded, torch.float64, "cpu")
    y0, h0, g0 = _run(selective_scan_ref, full, True)
    y1, h1, g1 = _run(lambda **kw: selective_scan(**kw, impl="triton"), low, True)
    assert y1.dtype == dtype and h1.dtype == torch.float32
    tol = 2e-2 if dtype == torch.bfloat16 else 4e-3  # the output and gradients are rounded to 8 / 11 bits
    errors = {"out": _rel(y1.float().cpu(), y0), "final state": _rel(h1.cpu(), h0)}
    errors.update({name: _rel(g1[name].float().cpu(), g0[name]) for name in g0})
    assert all(g1[name].dtype == low[name].dtype for name in g1)
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors over {tol}: {bad}"


def test_pieces_with_carried_state_equal_one_pass(st):
    t = {k: (None if v is None else v.detach().float().cuda()) for k, v in _inputs(2, 300, 19, 5, softplus=True).items()}
    whole, h_whole = selective_scan(**t, delta_softplus=True, return_final_state=True, impl="triton")
    h = t["initial_state"]
    pieces = []
    for start, stop in [(0, 1), (1, 77), (77, 200), (200, 300)]:
        part = {k: (v[:, start:stop] if k in ("u", "delta", "B", "C", "z") else v) for k, v in t.items()}
        part["initial_state"] = h
        y, h = selective_scan(**part, delta_softplus=True, return_final_state=True, impl="triton")
        pieces.append(y)
    assert _rel(torch.cat(pieces, 1), whole) < 1e-6
    assert _rel(h, h_whole) < 1e-6


def test_forward_without_grad_equals_forward_with_grad(st):
    t = _to(_inputs(2, 130, 10, 4, softplus=True), torch.float32)
    y1, h1 = selective_scan(**t, delta_softplus=True, return_final_state=True, impl="triton")
    with torch.no_grad():
        y2, h2 = selective_scan(**t, delta_softplus=True, return_final_state=True, impl="triton")
    assert torch.equal(y1, y2) and torch.equal(h1, h2)


def test_long_sequence_stays_finite(st):
    t = _to(_inputs(1, 20000, 8, 16, softplus=True), torch.float32)
    y = selective_scan(**t, delta_softplus=True, impl="triton")
    y.square().mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(t["delta"].grad).all() and torch.isfinite(t["A"].grad).all()


def _train_losses(impl: str, steps: int = 8) -> list:
    torch.manual_seed(0)
    config = ForecasterConfig(mamba=MambaConfig(d_model=24, n_layer=2, d_state=8), n_inputs=3, horizon=4, quantiles=(0.1, 0.5, 0.9))
    model = MambaForecaster(config).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 48, 3, generator=g).cuda()
    y = torch.randn(32, 4, 1, generator=g).cuda()
    losses = []
    with use_scan_impl(impl):
        for _ in range(steps):
            loss = (model(x) - y[..., None]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_model_trains_the_same_with_triton_and_chunked(st):
    triton_losses = _train_losses("triton")
    chunked_losses = _train_losses("chunked")
    assert triton_losses[-1] < triton_losses[0]
    np.testing.assert_allclose(triton_losses, chunked_losses, rtol=1e-4, atol=0)
