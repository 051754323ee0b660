"""The selective scan (S6 recurrence): a reference loop, a chunked PyTorch path, a fused Triton
path for CUDA (scan_triton.py, imported only when used), one dispatch point.

Glossary (the paper's letters; shapes use b = batch, l = time, d = channels, n = state size)
    u      (b, l, d)  input sequence
    delta  (b, l, d)  step size, before the optional bias and softplus
    A      (d, n)     state matrix (diagonal per channel, negative entries)
    B, C   (b, l, n)  input and output projections, chosen per step ("selective")
    D      (d,)       skip connection
    z      (b, l, d)  optional gate: out = y * silu(z)
    h      (b, d, n)  hidden state, kept in float32 (or float64)

    dA_t  = exp(delta_t * A)                     decay in (0, 1] since delta > 0 and A < 0
    h_t   = dA_t * h_{t-1} + delta_t * u_t * B_t
    y_t   = C_t . h_t + D * u_t

The fast path never forms exp(+cumsum(...)) over time: it only multiplies decays in (0, 1], so
it stays finite for any length.

Backward of the fast path (adjoint recurrence). With lam_t = dLoss/dh_t (all paths):
    lam_t = C_t * gy_t + dA_{t+1} * lam_{t+1}        (run backwards; lam_L = grad of final state)
    dLoss/d dA_t = lam_t * h_{t-1},   dLoss/d (delta_t u_t B_t) = lam_t,   dLoss/dh_0 = dA_1 * lam_1
from which the gradients of u, delta, A, B, C, D, z, delta_bias and the initial state follow by
the chain rule (written out in `_ChunkedScan.backward`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

DEFAULT_CHUNK = 32  # steps per chunk on CPU (sequential steps); chosen with benchmarks/scan.py on 2 cores
DEFAULT_CHUNK_PARALLEL = 256  # steps per chunk on GPU (log-depth scan inside the chunk)


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    """The state is at least float32 (float64 stays float64)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _step_sizes(delta: Tensor, delta_bias: Optional[Tensor], delta_softplus: bool) -> Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias
    return F.softplus(delta) if delta_softplus else delta


def selective_scan_ref(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
    D: Optional[Tensor] = None, z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
    delta_softplus: bool = False, initial_state: Optional[Tensor] = None, return_final_state: bool = False,
):
    """The obvious loop over time: slow, differentiable by autograd. The test oracle (fed float64).

    It computes in the inputs' precision but keeps the state in at least float32: float64 inputs
    run in float64, float32 (and lower) inputs in float32; the output comes back in u's dtype.
    """
    out_dtype = u.dtype
    dtype = _state_dtype(u.dtype)
    u, delta, A, B, C = (t.to(dtype) for t in (u, delta, A, B, C))
    delta = _step_sizes(delta, None if delta_bias is None else delta_bias.to(dtype), delta_softplus)
    batch, length, d = u.shape
    h = u.new_zeros(batch, d, A.shape[1]) if initial_state is None else initial_state.to(dtype)  # (b, d, n)
    ys = []
    for t in range(length):
        dA = torch.exp(delta[:, t, :, None] * A)  # (b, d, n)
        h = dA * h + (delta[:, t] * u[:, t])[:, :, None] * B[:, t, None, :]
        ys.append((h * C[:, t, None, :]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=1) if ys else u.new_zeros(batch, 0, d)  # (b, l, d)
    if D is not None:
        y = y + u * D.to(dtype)
    if z is not None:
        y = y * F.silu(z.to(dtype))
    y = y.to(out_dtype)
    return (y, h) if return_final_state else y


def _linear_scan_(a: Tensor, b: Tensor) -> Tensor:
    """b_t <- a_t * b_{t-1} + b_t along dim 0 (b_{-1} = 0) in log2(t) doubling steps (Hillis-Steele).

    Every factor is a product of decays in (0, 1]: nothing can overflow. a is overwritten.
    One kernel per step over the whole chunk: the GPU path; on CPU the sequential loop is faster.
    """
    shift = 1
    while shift < b.shape[0]:
        b[shift:] = torch.addcmul(b[shift:], a[shift:], b[:-shift])  # right side is computed before the write
        a[shift:] = a[shift:] * a[:-shift]
        shift *= 2
    return b


def _chunk_states(h: Tensor, delta: Tensor, u: Tensor, A: Tensor, B: Tensor, parallel: bool) -> tuple[Tensor, Tensor]:
    """States after each step of one chunk, starting from h.

    h (b, d, n); delta, u (b, t, d); B (b, t, n). Returns dA and hs, both time-major (t, b, d, n).
    """
    dA = torch.exp(delta.transpose(0, 1)[..., None] * A)  # (t, b, d, n)
    hs = (delta * u).transpose(0, 1)[..., None] * B.transpose(0, 1)[:, :, None, :]  # (t, b, d, n): dBu
    if parallel:
        hs[0].addcmul_(dA[0], h)
        return dA, _linear_scan_(dA.clone(), hs)
    for t in range(hs.shape[0]):
        hs[t].addcmul_(dA[t], h)  # h_t = dA_t * h_{t-1} + dBu_t, written over dBu_t
        h = hs[t]
    return dA, hs


def _adjoint_(lam: Tensor, dA: Tensor, parallel: bool) -> Tensor:
    """lam_{t-1} += dA_t * lam_t, from the last step back to the first (in place)."""
    if parallel:  # the same scan on reversed time, each step decayed by the dA after it
        decay = torch.cat([torch.zeros_like(dA[:1]), dA.flip(0)[:-1]])
        return _linear_scan_(decay, lam.flip(0)).flip(0)
    for t in range(lam.shape[0] - 1, 0, -1):
        lam[t - 1].addcmul_(dA[t], lam[t])
    return lam


class _ChunkedScan(torch.autograd.Function):
    """Forward walks time in chunks and keeps only the states at chunk boundaries; backward
    recomputes each chunk from its boundary state and runs the adjoint recurrence itself.
    No autograd graph over time and no (b, l, d, n) tensor is kept."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, chunk, parallel):
        batch, length, d = u.shape
        n = A.shape[1]
        dt = _step_sizes(delta, delta_bias, delta_softplus)  # (b, l, d)
        h = u.new_zeros(batch, d, n) if initial_state is None else initial_state
        starts = list(range(0, length, chunk))
        bounds = u.new_empty(len(starts), batch, d, n)  # state entering each chunk
        y = u.new_empty(batch, length, d)  # C . h, before skip and gate
        for k, s in enumerate(starts):
            sl = slice(s, s + chunk)
            bounds[k] = h
            _, hs = _chunk_states(h, dt[:, sl], u[:, sl], A, B[:, sl], parallel)
            y[:, sl] = (hs * C[:, sl].transpose(0, 1)[:, :, None, :]).sum(-1).transpose(0, 1)
            h = hs[-1].clone()
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, initial_state, bounds, y)
        ctx.delta_softplus, ctx.chunk, ctx.parallel = delta_softplus, chunk, parallel
        out = y if D is None else y + u * D
        if z is not None:
            out = out * F.silu(z)
        return out, h

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_final):
        u, delta, A, B, C, D, z, delta_bias, initial_state, bounds, y = ctx.saved_tensors
        chunk = ctx.chunk
        length = u.shape[1]
        dt = _step_sizes(delta, delta_bias, ctx.delta_softplus)  # (b, l, d)

        # out = (y + D u) * silu(z)
        g_y = g_out
        g_z = None
        if z is not None:
            pre = y if D is None else y + u * D
            sig = torch.sigmoid(z)
            g_y = g_out * z * sig
            g_z = g_out * pre * sig * (1 + z * (1 - sig))  # d silu(z)/dz = sig * (1 + z (1 - sig))
        g_D = None if D is None else (g_y * u).sum(dim=(0, 1))
        g_u = torch.zeros_like(u) if D is None else g_y * D
        g_dt = torch.empty_like(dt)
        g_A = torch.zeros_like(A)
        g_B = torch.empty_like(B)
        g_C = torch.empty_like(C)

        lam_next = torch.zeros_like(bounds[0]) if g_final is None else g_final.clone()  # dA_{t+1} lam_{t+1}
        for k in reversed(range(bounds.shape[0])):
            sl = slice(k * chunk, min((k + 1) * chunk, length))
            dt_c, u_c, B_c = dt[:, sl].transpose(0, 1), u[:, sl].transpose(0, 1), B[:, sl].transpose(0, 1)
            dA, hs = _chunk_states(bounds[k], dt[:, sl], u[:, sl], A, B[:, sl], ctx.parallel)  # (t, b, d, n)
            gy_c = g_y[:, sl].transpose(0, 1)  # (t, b, d)
            lam = gy_c[..., None] * C[:, sl].transpose(0, 1)[:, :, None, :]  # (t, b, d, n): C_t gy_t
            lam[-1].add_(lam_next)
            lam = _adjoint_(lam, dA, ctx.parallel)
            lam_next = dA[0] * lam[0]
            # w = lam_t * dA_t * h_{t-1} = dLoss/d(delta_t A), elementwise
            w = dA.mul_(lam)
            w[1:].mul_(hs[:-1])
            w[0].mul_(bounds[k])
            # Explicit multiply-and-sum: on CPU it beats einsum's small batched matmuls here.
            g_C[:, sl] = hs.mul_(gy_c[..., None]).sum(2).transpose(0, 1)  # sum_d gy h  (hs is spent)
            g_A += (w * dt_c[..., None]).sum((0, 1))
            lam_B = (lam * B_c[:, :, None, :]).sum(-1)  # (t, b, d): sum_n lam B
            g_dt[:, sl] = ((w * A).sum(-1) + lam_B * u_c).transpose(0, 1)
            g_u[:, sl] += (lam_B * dt_c).transpose(0, 1)
            g_B[:, sl] = lam.mul_((dt_c * u_c)[..., None]).sum(2).transpose(0, 1)  # (lam is spent)
        g_h0 = lam_next if initial_state is not None else None

        g_delta = g_dt
        if ctx.delta_softplus:
            raw = delta if delta_bias is None else delta + delta_bias
            g_delta = g_dt * torch.sigmoid(raw)
        g_bias = None if delta_bias is None else g_delta.sum(dim=(0, 1))
        return g_u, g_delta, g_A, g_B, g_C, g_D, g_z, g_bias, g_h0, None, None, None


def selective_scan_chunked(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
    D: Optional[Tensor] = None, z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
    delta_softplus: bool = False, initial_state: Optional[Tensor] = None, return_final_state: bool = False,
    chunk: Optional[int] = None, parallel: Optional[bool] = None,
):
    """The fast path for training: same arguments and results as `selective_scan_ref`.

    parallel: scan each chunk in log depth (default on GPUs) instead of step by step (default on CPU).
    """
    if parallel is None:
        parallel = u.is_cuda
    if chunk is None:
        chunk = DEFAULT_CHUNK_PARALLEL if parallel else DEFAULT_CHUNK
    out_dtype = u.dtype
    dtype = _state_dtype(u.dtype)
    cast = lambda t: None if t is None else t.to(dtype).contiguous()  # noqa: E731
    y, h = _ChunkedScan.apply(
        cast(u), cast(delta), cast(A), cast(B), cast(C), cast(D), cast(z), cast(delta_bias),
        cast(initial_state), bool(delta_softplus), int(chunk), bool(parallel),
    )
    y = y.to(out_dtype)
    return (y, h) if return_final_state else y


def selective_scan_triton(*args, **kwargs):
    """The fused CUDA kernels (scan_triton.py); Triton is imported on first use only."""
    from forecaster.mamba.scan_triton import selective_scan_triton as fused

    return fused(*args, **kwargs)


IMPLEMENTATIONS = {"reference": selective_scan_ref, "chunked": selective_scan_chunked, "triton": selective_scan_triton}
_auto_override: Optional[str] = None  # set by use_scan_impl
_triton_importable: Optional[bool] = None


def _triton_available() -> bool:
    global _triton_importable
    if _triton_importable is None:
        try:
            import forecaster.mamba.scan_triton  # noqa: F401  (imports triton)
            _triton_importable = True
        except ImportError:
            _triton_importable = False
    return _triton_importable


def resolve_impl(impl: str, u: Tensor) -> str:
    """What impl="auto" means for u: the Triton kernels for float32/bf16/fp16 CUDA tensors when
    Triton imports, else the chunked path (the CPU path, float64 anywhere, and the fallback)."""
    if impl != "auto":
        return impl
    if _auto_override is not None:
        return _auto_override
    if u.is_cuda and u.dtype in (torch.float32, torch.bfloat16, torch.float16) and _triton_available():
        return "triton"
    return "chunked"


@contextlib.contextmanager
def use_scan_impl(impl: str) -> Iterator[None]:
    """Within the block, impl="auto" (what the model's layers ask for) means `impl`:
    e.g. `with use_scan_impl("chunked"): model(x)` to compare a model's paths."""
    global _auto_override
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl={impl!r} is invalid: accepted one of {sorted(IMPLEMENTATIONS)}")
    previous, _auto_override = _auto_override, impl
    try:
        yield
    finally:
        _auto_override = previous


def selective_scan(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
    D: Optional[Tensor] = None, z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
    delta_softplus: bool = False, initial_state: Optional[Tensor] = None, return_final_state: bool = False,
    impl: str = "auto",
):
    """The one dispatch point every caller uses.

    impl: "auto" (the fastest available, see `resolve_impl`; `use_scan_impl` can pin it),
    "triton" (fused CUDA kernels), "chunked" or "reference".
    Returns out (b, l, d) in u's dtype, and the final state (b, d, n) in float32/64 when
    return_final_state is true.
    """
    if impl != "auto" and impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl={impl!r} is invalid: accepted 'auto' or one of {sorted(IMPLEMENTATIONS)}")
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be (batch, length, channels); got {tuple(u.shape)} and {tuple(delta.shape)}")
    if A.dim() != 2 or A.shape[0] != u.shape[2]:
        raise ValueError(f"A must be (channels={u.shape[2]}, state); got {tuple(A.shape)}")
    expected_bc = (u.shape[0], u.shape[1], A.shape[1])
    if tuple(B.shape) != expected_bc or tuple(C.shape) != expected_bc:
        raise ValueError(f"B and C must be (batch, length, state) = {expected_bc}; got {tuple(B.shape)} and {tuple(C.shape)}")
    impl = resolve_impl(impl, u)
    return IMPLEMENTATIONS[impl](
        u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus,
        initial_state=initial_state, return_final_state=return_final_state,
    )
