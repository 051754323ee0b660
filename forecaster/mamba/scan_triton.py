"""The selective scan as two fused Triton kernels (CUDA only; imported lazily by scan.py).

Same arguments, results and gradients as `scan.selective_scan_ref` (the oracle, beside it in scan.py);
the glossary and the adjoint equations are in scan.py's docstring. Letters: b batch, l time,
d channels, n state size; T = CHUNK time steps, Db = BLOCK_D channels, Nb = BLOCK_N (n padded to 2^k),
split as Nb = NbO x NbI (n = o * NbI + i): the (T, NbO, Db, NbI) tiles keep T and NbO in each thread's
registers and spread Db and NbI over lanes (`Launch` says why; the launch shape is chosen per band).

Forward (`_scan_fwd_kernel`), one program per (batch row, block of Db channels):
    h (NbO, Db, NbI) float32 lives in registers for the whole sequence. Time is walked in chunks of T:
    the chunk's u, delta, z (T, Db) and B, C (T, Nb) are read once from HBM, then
        dt   = softplus(delta + delta_bias)                         (T, Db)
        dA   = exp(dt * A),   dBu = dt * u * B                      (T, NbO, Db, NbI)  registers only
        h_t  = dA_t * h_{t-1} + dBu_t     (the recurrence unrolled over the chunk's rows, which sit
                                           in each thread's registers)
        y_t  = C_t . h_t + D * u_t,   out_t = y_t * silu(z_t)
    and the state entering each chunk is written to `states` (b, n_chunks, d, n) float32 when a
    backward pass will need it: n / T floats per input element, not the (b, l, d, n) tensor.

Backward (`_scan_bwd_kernel`), the same grid, chunks walked last to first:
    the chunk's states are recomputed from its saved entering state by the recurrence itself,
        V_t = dA_t h_{t-1},   h_t = V_t + dBu_t
    unrolled over the chunk's rows (they sit in each thread's registers, so a row is a register pick),
    so that V, which dA's gradient needs, is never taken as the difference h_t - dBu_t (that cancels
    where dA_t is tiny). The gate's gradient gives gy = dLoss/dy, and the adjoint (lam = dLoss/dh_t)
        lam_t = C_t gy_t + dA_{t+1} lam_{t+1}
    runs back over the same rows, unrolled (Triton's reverse associative_scan moved them through warp
    shuffles), the decays dA_{t+1} being the next rows of the chunk's own dA, with
        carry = dA_{t0+T} lam_{t0+T}    (dLoss/dh_L after the last chunk)
    added at the chunk's last row; the carry for the previous chunk is dA_{t0} lam_{t0}.
    Then, all in registers, with w_t = lam_t * V_t:
        dA   += sum_t w_t * dt_t                  (per program; summed over b by _partials_sum_kernel)
        ddt   = sum_n w_t * A + u_t * sum_n lam_t B_t
        du    = dt_t * sum_n lam_t B_t + gy_t * D
        dB_t  = sum_d lam_t * dt_t u_t,   dC_t = sum_d gy_t h_t     (per block of channels,
                                            written as (b, d_blocks, l, n) partials, summed after)
        ddelta = ddt * sigmoid(delta + delta_bias) under softplus; dD, d delta_bias summed per program
        dh_0  = the final carry
    With Launch.prefetch the next chunk's inputs are read while this one is computed.
    No (b, l, d, n) tensor exists in HBM in either direction; partial sums are reduced by a small kernel in a
    fixed order, so results are deterministic (no atomics).

Inputs may be float32, bfloat16 or float16 (any strides); arithmetic and the state are float32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_
from typing import Optional

import torch
import triton
import triton.language as tl
from triton import knobs
from triton.runtime.jit import JITFunction

try:  # what Triton's own launch path asks torch for the current stream
    from torch._C import _cuda_getCurrentRawStream as _raw_stream
except ImportError:  # pragma: no cover
    def _raw_stream(device: int) -> int:
        return torch.cuda.current_stream(device).cuda_stream
from torch import Tensor


@dataclass(frozen=True)
class Launch:
    """One launch shape of the two kernels.

    The (T, NbO, Db, NbI) tiles split the state n = o * NbI + i: Triton spreads a tile's lanes over its
    last axes first (NbI, then Db), so n_inner sets how many lanes share one channel's state, and
    NbO = BLOCK_N / NbI components stay in each thread's registers (sums over the state then cost
    log2(NbI) shuffle rounds; n_inner = BLOCK_N is the issue 14 layout, state across 16 lanes).
    """

    chunk: int = 8  # time steps per chunk (a power of two), both kernels
    fwd_block_d: int = 32  # channels per forward program
    fwd_warps: int = 4
    fwd_n_inner: int = 4  # state components across lanes (clamped to BLOCK_N)
    bwd_block_d: int = 16
    bwd_warps: int = 2
    bwd_n_inner: int = 8
    prefetch: bool = False  # backward reads the next chunk's inputs while computing this one
    # 16-bit inputs widened to float32 copies before the kernels (autograd narrows the gradients
    # back; the copies are saved for the backward: more memory); False: the kernels read them as they are
    widen_16bit: bool = True


# Launch shapes by band of sequence length: (largest L of the band, or None for the rest, the Launch for
# float32 inputs, the Launch for 16-bit inputs). The middle and long bands are what `benchmarks/scan.py
# --device cuda --tune` chose on the H200 on 2026-12-01 (issue 22, third try; BENCHMARKS.md), one band per
# benchmark shape, the edges at the geometric means of its lengths (96, 512, 4096; batch 64, 64, 8; d_inner
# 256, 256, 2048). There the backward runs more, smaller programs than the one-band default had (8 channels
# per program on one warp); the middle band takes chunks of 4 (168 instead of 247 backward registers) and a
# 16-channel forward; at the longest, 16-bit inputs run on widened float32 copies (5.10 against 5.71 ms
# fwd+bwd there; more memory). The short band is what the GPU time alone chose (CUDA-graph replay of fwd+bwd,
# `benchmarks/scan_host.py --candidates`, issue 22, fourth try): chunks of 8 and the 8-channel one-warp
# backward, 0.126 against 0.210 ms for the third try's chunk 4 and 16-channel two-warp backward in float32
# (host time had hidden the difference from the tune); in bf16 with the next chunk read ahead (0.127 against 0.147).
_FWD16 = dict(fwd_block_d=16, fwd_warps=2, fwd_n_inner=4)
_SMALL_BWD = dict(bwd_block_d=8, bwd_warps=1, bwd_n_inner=8)
LAUNCH_TABLE: tuple[tuple[Optional[int], Launch, Launch], ...] = (
    (221, Launch(chunk=8, **_FWD16, **_SMALL_BWD, widen_16bit=False),
     Launch(chunk=8, **_FWD16, **_SMALL_BWD, prefetch=True, widen_16bit=False)),
    (1448, Launch(chunk=4, **_FWD16, **_SMALL_BWD, widen_16bit=False),
     Launch(chunk=4, **_FWD16, **_SMALL_BWD, widen_16bit=False)),
    (None, Launch(chunk=8, **_SMALL_BWD, widen_16bit=False), Launch(chunk=8, **_SMALL_BWD, widen_16bit=True)),
)
LAUNCH_OVERRIDE: Optional[Launch] = None  # when set, used at every shape (tests, the benchmark's --tune)


def launch_for(dim: int, length: int, dtype: torch.dtype = torch.float32) -> Launch:
    """The launch shape for d channels and L steps of `dtype` inputs: LAUNCH_OVERRIDE, else the first
    band of LAUNCH_TABLE whose largest L is at least `length`."""
    if LAUNCH_OVERRIDE is not None:
        return LAUNCH_OVERRIDE
    for max_length, full, half in LAUNCH_TABLE:
        if max_length is None or length <= max_length:
            return full if dtype == torch.float32 else half
    return Launch()


# host-side arithmetic in plain Python: triton.cdiv and triton.next_power_of_2 are jit functions, and
# calling them from Python cost several microseconds each (seven per fwd+bwd, on the small shapes' critical path)
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _pow2(x: int) -> int:
    """The smallest power of two >= x (x >= 1)."""
    return 1 << (x - 1).bit_length()


def _state_split(n: int, n_inner: int) -> dict:
    """BLOCK_N = n padded to a power of two, split into N_OUTER x N_INNER."""
    block_n = _pow2(n)
    inner = min(block_n, _pow2(max(1, n_inner)))
    return dict(N_OUTER=block_n // inner, N_INNER=inner)


# Launches through the compiled kernel (see _Call). On the lent H200's host, Triton's per-launch Python
# work (binding ~45 arguments, specialising each, the cache key) cost about 50 us a launch, measured here
# with the launcher stubbed; two launches per fwd+bwd sit on the small shapes' critical path.
FAST_LAUNCH = True
# the backward's partials (dB, dC per channel block; dA, dD, d delta_bias per batch row) summed by one small
# Triton kernel in a fixed order; False: by two torch sums (also a fixed order)
REDUCE_KERNEL = True


class _At:
    """A pointer argument `offset` elements into a tensor (one buffer holding several outputs, no view op)."""

    __slots__ = ("base", "offset")

    def __init__(self, base: Tensor, offset: int):
        self.base, self.offset = base, offset

    def data_ptr(self) -> int:
        return self.base.data_ptr() + self.offset * self.base.element_size()

    def tensor(self) -> Tensor:  # for the plain launch (and Triton's interpreter)
        return self.base.view(-1)[self.offset:]


class _Call:
    """One kernel launched over one fixed set of int arguments, constexprs and grid (a _Plan holds them):
    only the pointers change from call to call.

    The first launch for a given device and set of 16-byte-aligned pointers (the pointer dtypes are the
    plan's) goes through `kernel[grid]`, which compiles or finds the kernel; later launches hand the
    pointers' addresses as ints to the launcher that Triton built for it, without JITFunction.run's
    binding and specialisation of ~45 arguments and without the launcher asking the driver about
    each tensor (cuPointerGetAttribute). The plain launch is used when FAST_LAUNCH is off, when Triton has
    launch hooks (a profiler), and under Triton's interpreter."""

    __slots__ = ("kernel", "grid", "ints", "consts", "const_values", "num_warps", "compiled")

    def __init__(self, kernel, grid: tuple, ints: tuple, consts: dict, num_warps: int):
        self.kernel, self.grid, self.ints, self.consts, self.num_warps = kernel, grid, ints, consts, num_warps
        self.const_values = tuple(consts.values())
        self.compiled: dict = {}  # (device, alignment) -> (launch function, its leading arguments)

    def __call__(self, pointers: tuple) -> None:
        if (not FAST_LAUNCH or not isinstance(self.kernel, JITFunction) or knobs.runtime.launch_enter_hook.calls
                or knobs.runtime.launch_exit_hook.calls):  # (under TRITON_INTERPRET kernels are not JITFunctions)
            self._plain(pointers)
            return
        addresses = [p.data_ptr() for p in pointers]
        aligned = 0 if not (reduce(or_, addresses) & 15) else tuple([a & 15 == 0 for a in addresses])
        device = _current_device()
        hit = self.compiled.get((device, aligned))
        if hit is None:
            self._first(pointers, (device, aligned))
            return
        run, lead = hit
        run(self.grid[0], self.grid[1], 1, _raw_stream(device), *lead, *addresses, *self.ints, *self.const_values)

    def _plain(self, pointers: tuple):
        tensors = [p.tensor() if type(p) is _At else p for p in pointers]
        return self.kernel[self.grid](*tensors, *self.ints, **self.consts, num_warps=self.num_warps)

    def _first(self, pointers: tuple, key: tuple) -> None:
        compiled = self._plain(pointers)
        if compiled is None:
            return
        run = compiled.run
        launcher = getattr(run, "launch", None)
        lead = (compiled.function, compiled.packed_metadata, None, None, None)
        if (launcher is not None and getattr(run, "global_scratch_size", 1) == 0
                and getattr(run, "profile_scratch_size", 1) == 0):
            # CudaLauncher.__call__ without its Python frame: no scratch buffers to allocate
            run, lead = launcher, (compiled.function, run.launch_cooperative_grid, run.launch_pdl, None, None,
                                   compiled.packed_metadata, None, None, None)
        if len(self.compiled) >= 64:
            self.compiled.clear()
        self.compiled[key] = (run, lead)


# the current CUDA device (where Triton launches), without torch.cuda.current_device's lazy-init check:
# by the first fast launch a CUDA tensor exists, so CUDA is initialised
_current_device = getattr(torch._C, "_cuda_getDevice", None) or torch.cuda.current_device


@triton.jit
def _softplus(x):
    """log(1 + exp(x)) as torch computes it (x itself above 20), with an accurate log1p."""
    e = tl.exp(x)
    w = 1.0 + e
    log1p = tl.where(w == 1.0, e, tl.log(w) * (e / (w - 1.0)))
    return tl.where(x > 20.0, x, log1p)


@triton.jit
def _sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _row(x, rows, j):
    """Row j of a tile whose axis 0 sits in each thread's registers: a sum over axis 0 where all other
    rows are -0.0 (the identity of +), which the compiler folds to picking registers."""
    return tl.sum(tl.where(rows == j, x, -0.0), axis=0)


@triton.jit
def _forward_recurrence(dA, dBu, h, offs_t, CHUNK: tl.constexpr):
    """V_t = dA_t h_{t-1} and h_t = V_t + dBu_t over the chunk's rows from h (the state entering it),
    unrolled in registers. Returns V, the states h_t (T, NbO, Db, NbI) and the last state."""
    rows = offs_t[:, None, None, None]
    V = tl.zeros_like(dA)
    hs = tl.zeros_like(dA)
    for j in tl.static_range(CHUNK):
        v = _row(dA, rows, j) * h
        h = v + _row(dBu, rows, j)
        V = tl.where(rows == j, v[None, :, :, :], V)
        hs = tl.where(rows == j, h[None, :, :, :], hs)
    return V, hs, h


@triton.jit
def _reverse_recurrence(dA, x, offs_t, CHUNK: tl.constexpr):
    """lam_t = x_t + dA_{t+1} lam_{t+1} over the chunk's rows, lam = x on the last row (x there holds
    the carry from the next chunk), unrolled in registers: Triton's reverse associative_scan moved
    the rows through warp shuffles instead (about 460 SHFL per chunk in the backward on sm_90a)."""
    rows = offs_t[:, None, None, None]
    lam = x
    acc = _row(x, rows, CHUNK - 1)
    for j in tl.static_range(CHUNK - 2, -1, -1):
        acc = _row(x, rows, j) + _row(dA, rows, j + 1) * acc
        lam = tl.where(rows == j, acc[None, :, :, :], lam)
    return lam


@triton.jit
def _add2(a, b, c, d):
    return a + c, b + d


@triton.jit
def _nsum(x):
    """(T, NbO, Db, NbI) -> (T, Db): the sum over the state, first over the in-thread axis NbO
    (no shuffles), then across the NbI lanes."""
    return tl.sum(tl.sum(x, axis=1), axis=2)


@triton.jit
def _state_offsets(offs_d, DIM, N, N_OUTER: tl.constexpr, N_INNER: tl.constexpr):
    """Offsets of a (Db, n) block in a (d, n) matrix, as a (NbO, Db, NbI) tile (n = o * NbI + i), and its mask."""
    n3 = tl.arange(0, N_OUTER)[:, None, None] * N_INNER + tl.arange(0, N_INNER)[None, None, :]  # (NbO, 1, NbI)
    d3 = offs_d[None, :, None]  # (1, Db, 1)
    return d3 * N + n3, (d3 < DIM) & (n3 < N)


@triton.jit
def _load_tn(ptr, t, s_l, s_n, ok_t, N, N_OUTER: tl.constexpr, N_INNER: tl.constexpr):
    """Rows t of a (l, n) matrix (B or C) as a (T, NbO, 1, NbI) float32 tile, 0 where masked.

    Loaded as a 3-d tile and then expanded, so that the load's layout does not become that of the
    4-d tiles (which would put time across lanes and make every scan a cross-lane one)."""
    n3 = tl.arange(0, N_OUTER)[None, :, None] * N_INNER + tl.arange(0, N_INNER)[None, None, :]
    t3 = t[:, None, None]
    tile = tl.load(ptr + t3 * s_l + n3 * s_n, mask=ok_t[:, None, None] & (n3 < N), other=0.0).to(tl.float32)
    return tile[:, :, None, :]


@triton.jit
def _load_chunk(u_ptr, delta_ptr, B_ptr, bias, A, t, offs_d, mask_d, L, N,
                su_l, su_d, sdl_l, sdl_d, sB_l, sB_n,
                HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, N_OUTER: tl.constexpr, N_INNER: tl.constexpr):
    """One chunk's u, step sizes and B, and the decays and inputs of the recurrence.

    Steps past the end get dt = 0: dA = 1 and dBu = 0 there, so they carry the state unchanged."""
    mask_t = t < L
    m_td = mask_t[:, None] & mask_d[None, :]
    u = tl.load(u_ptr + t[:, None] * su_l + offs_d[None, :] * su_d, mask=m_td, other=0.0).to(tl.float32)  # (T, Db)
    raw = tl.load(delta_ptr + t[:, None] * sdl_l + offs_d[None, :] * sdl_d, mask=m_td, other=0.0).to(tl.float32)
    if HAS_BIAS:
        raw = raw + bias[None, :]
    dt = raw
    if SOFTPLUS:
        dt = _softplus(raw)
    dt = tl.where(m_td, dt, 0.0)
    Bt = _load_tn(B_ptr, t, sB_l, sB_n, mask_t, N, N_OUTER, N_INNER)  # (T, NbO, 1, NbI)
    dA = tl.exp(dt[:, None, :, None] * A[None, :, :, :])  # (T, NbO, Db, NbI)
    dBu = (dt * u)[:, None, :, None] * Bt  # (T, NbO, Db, NbI)
    return u, raw, dt, Bt, dA, dBu, m_td


# n_chunks (and n_dblocks) only bound loops and offsets: not specialised, so that one compiled kernel
# serves lengths whose chunk counts differ in divisibility (fewer compiles for the tests, the tune and the
# benchmark)
@triton.jit(do_not_specialize=["n_chunks"])
def _scan_fwd_kernel(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr,
    out_ptr, hT_ptr, states_ptr,
    L, DIM, N, n_chunks,
    su_b, su_l, su_d, sdl_b, sdl_l, sdl_d, sz_b, sz_l, sz_d, so_b, so_l, so_d,
    sB_b, sB_l, sB_n, sC_b, sC_l, sC_n,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_H0: tl.constexpr,
    SOFTPLUS: tl.constexpr, SAVE_STATES: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_D: tl.constexpr, N_OUTER: tl.constexpr, N_INNER: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    offs_t = tl.arange(0, CHUNK)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < DIM
    dn, m_dn = _state_offsets(offs_d, DIM, N, N_OUTER, N_INNER)  # (NbO, Db, NbI)

    u_ptr += pid_b * su_b
    delta_ptr += pid_b * sdl_b
    z_ptr += pid_b * sz_b
    out_ptr += pid_b * so_b
    B_ptr += pid_b * sB_b
    C_ptr += pid_b * sC_b

    A = tl.load(A_ptr + dn, mask=m_dn, other=0.0).to(tl.float32)  # (NbO, Db, NbI); 0 where padded: dA = 1
    bias = tl.zeros((BLOCK_D,), tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    Dskip = tl.zeros((BLOCK_D,), tl.float32)
    if HAS_D:
        Dskip = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    h = tl.zeros((N_OUTER, BLOCK_D, N_INNER), tl.float32)
    if HAS_H0:
        h = tl.load(h0_ptr + pid_b * DIM * N + dn, mask=m_dn, other=0.0).to(tl.float32)

    for k in range(0, n_chunks):
        if SAVE_STATES:
            tl.store(states_ptr + (pid_b * n_chunks + k) * DIM * N + dn, h, mask=m_dn)
        t = k * CHUNK + offs_t
        u, raw, dt, Bt, dA, dBu, m_td = _load_chunk(
            u_ptr, delta_ptr, B_ptr, bias, A, t, offs_d, mask_d, L, N,
            su_l, su_d, sdl_l, sdl_d, sB_l, sB_n, HAS_BIAS, SOFTPLUS, N_OUTER, N_INNER)
        Ct = _load_tn(C_ptr, t, sC_l, sC_n, t < L, N, N_OUTER, N_INNER)  # (T, NbO, 1, NbI)
        _V, hs, h = _forward_recurrence(dA, dBu, h, offs_t, CHUNK)  # hs (T, NbO, Db, NbI), h: the last state
        y = _nsum(hs * Ct)  # (T, Db)
        if HAS_D:
            y += u * Dskip[None, :]
        if HAS_Z:
            z = tl.load(z_ptr + t[:, None] * sz_l + offs_d[None, :] * sz_d, mask=m_td, other=0.0).to(tl.float32)
            y = y * z * _sigmoid(z)
        tl.store(out_ptr + t[:, None] * so_l + offs_d[None, :] * so_d, y, mask=m_td)

    tl.store(hT_ptr + pid_b * DIM * N + dn, h, mask=m_dn)


@triton.jit
def _bwd_inputs(k, u_ptr, delta_ptr, B_ptr, C_ptr, z_ptr, gout_ptr, states_ptr, bias, offs_t, offs_d,
                mask_d, m_dn, dn, pid_b, L, DIM, N, n_chunks,
                su_l, su_d, sdl_l, sdl_d, sz_l, sz_d, sg_l, sg_d, sB_l, sB_n, sC_l, sC_n,
                HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, CHUNK: tl.constexpr,
                N_OUTER: tl.constexpr, N_INNER: tl.constexpr):
    """Everything the backward reads for chunk k (all masked off for k < 0), as float32:
    rows t of u, delta (+ bias), B, C, the output's gradient and z, and the state entering the chunk."""
    t = k * CHUNK + offs_t
    ok = (t < L) & (t >= 0)
    m_td = ok[:, None] & mask_d[None, :]
    u = tl.load(u_ptr + t[:, None] * su_l + offs_d[None, :] * su_d, mask=m_td, other=0.0).to(tl.float32)  # (T, Db)
    raw = tl.load(delta_ptr + t[:, None] * sdl_l + offs_d[None, :] * sdl_d, mask=m_td, other=0.0).to(tl.float32)
    Bt = _load_tn(B_ptr, t, sB_l, sB_n, ok, N, N_OUTER, N_INNER)  # (T, NbO, 1, NbI)
    Ct = _load_tn(C_ptr, t, sC_l, sC_n, ok, N, N_OUTER, N_INNER)
    gout = tl.load(gout_ptr + t[:, None] * sg_l + offs_d[None, :] * sg_d, mask=m_td, other=0.0).to(tl.float32)
    z = u
    if HAS_Z:
        z = tl.load(z_ptr + t[:, None] * sz_l + offs_d[None, :] * sz_d, mask=m_td, other=0.0).to(tl.float32)
    h_in = tl.load(states_ptr + (pid_b * n_chunks + k) * DIM * N + dn, mask=m_dn & (k >= 0), other=0.0)  # (NbO, Db, NbI)
    if HAS_BIAS:
        raw = raw + bias[None, :]
    return u, raw, Bt, Ct, gout, z, h_in


@triton.jit
def _store_tn(ptr, t, value, L, N, N_OUTER: tl.constexpr, N_INNER: tl.constexpr):
    """A (T, NbO, NbI) tile into rows t of a contiguous (l, n) matrix."""
    n3 = tl.arange(0, N_OUTER)[None, :, None] * N_INNER + tl.arange(0, N_INNER)[None, None, :]
    t3 = t[:, None, None]
    tl.store(ptr + t3 * N + n3, value, mask=(t3 < L) & (n3 < N))


@triton.jit(do_not_specialize=["n_chunks", "n_dblocks"])
def _scan_bwd_kernel(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, states_ptr, gout_ptr, ghT_ptr,
    du_ptr, ddelta_ptr, dz_ptr, dBC_ptr, small_ptr, dh0_ptr,
    L, DIM, N, n_chunks, n_dblocks, s_part, s_bc,
    su_b, su_l, su_d, sdl_b, sdl_l, sdl_d, sz_b, sz_l, sz_d, sg_b, sg_l, sg_d,
    sB_b, sB_l, sB_n, sC_b, sC_l, sC_n,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_GHT: tl.constexpr,
    HAS_H0: tl.constexpr, SOFTPLUS: tl.constexpr, PREFETCH: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_D: tl.constexpr, N_OUTER: tl.constexpr, N_INNER: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1)
    offs_t = tl.arange(0, CHUNK)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < DIM
    dn, m_dn = _state_offsets(offs_d, DIM, N, N_OUTER, N_INNER)  # (NbO, Db, NbI)

    u_ptr += pid_b * su_b
    delta_ptr += pid_b * sdl_b
    z_ptr += pid_b * sz_b
    gout_ptr += pid_b * sg_b
    B_ptr += pid_b * sB_b
    C_ptr += pid_b * sC_b
    # du, ddelta, dz are contiguous (b, l, d); dB, dC partials are (2, b, n_dblocks, l, n), dC s_bc after dB
    du_ptr += pid_b * L * DIM
    ddelta_ptr += pid_b * L * DIM
    dz_ptr += pid_b * L * DIM
    part = (pid_b * n_dblocks + pid_d) * L * N
    dB_ptr = dBC_ptr + part
    dC_ptr = dBC_ptr + s_bc + part

    A = tl.load(A_ptr + dn, mask=m_dn, other=0.0).to(tl.float32)  # (NbO, Db, NbI)
    A4 = A[None, :, :, :]
    bias = tl.zeros((BLOCK_D,), tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    Dskip = tl.zeros((BLOCK_D,), tl.float32)
    if HAS_D:
        Dskip = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    # dA_{t+1} lam_{t+1} after the chunk; dLoss/dh_L at the end
    carry = tl.zeros((N_OUTER, BLOCK_D, N_INNER), tl.float32)
    if HAS_GHT:
        carry = tl.load(ghT_ptr + pid_b * DIM * N + dn, mask=m_dn, other=0.0).to(tl.float32)
    g_A = tl.zeros((N_OUTER, BLOCK_D, N_INNER), tl.float32)
    g_D = tl.zeros((CHUNK, BLOCK_D), tl.float32)  # summed over time after the loop
    g_bias = tl.zeros((CHUNK, BLOCK_D), tl.float32)
    first = (offs_t == 0)[:, None, None, None]
    last = (offs_t == CHUNK - 1)[:, None, None, None]

    if PREFETCH:  # the next chunk's inputs are read while this one is computed
        (n_u, n_raw, n_Bt, n_Ct, n_gout, n_z, n_h_in) = _bwd_inputs(
            n_chunks - 1, u_ptr, delta_ptr, B_ptr, C_ptr, z_ptr, gout_ptr, states_ptr, bias, offs_t, offs_d,
            mask_d, m_dn, dn, pid_b, L, DIM, N, n_chunks,
            su_l, su_d, sdl_l, sdl_d, sz_l, sz_d, sg_l, sg_d, sB_l, sB_n, sC_l, sC_n, HAS_Z, HAS_BIAS, CHUNK,
            N_OUTER, N_INNER)
    for i in range(0, n_chunks):
        k = n_chunks - 1 - i
        if PREFETCH:
            u, raw, Bt, Ct, gout, z, h_in = n_u, n_raw, n_Bt, n_Ct, n_gout, n_z, n_h_in
            (n_u, n_raw, n_Bt, n_Ct, n_gout, n_z, n_h_in) = _bwd_inputs(
                k - 1, u_ptr, delta_ptr, B_ptr, C_ptr, z_ptr, gout_ptr, states_ptr, bias, offs_t, offs_d,
                mask_d, m_dn, dn, pid_b, L, DIM, N, n_chunks,
                su_l, su_d, sdl_l, sdl_d, sz_l, sz_d, sg_l, sg_d, sB_l, sB_n, sC_l, sC_n, HAS_Z, HAS_BIAS, CHUNK,
                N_OUTER, N_INNER)
        else:
            u, raw, Bt, Ct, gout, z, h_in = _bwd_inputs(
                k, u_ptr, delta_ptr, B_ptr, C_ptr, z_ptr, gout_ptr, states_ptr, bias, offs_t, offs_d,
                mask_d, m_dn, dn, pid_b, L, DIM, N, n_chunks,
                su_l, su_d, sdl_l, sdl_d, sz_l, sz_d, sg_l, sg_d, sB_l, sB_n, sC_l, sC_n, HAS_Z, HAS_BIAS, CHUNK,
                N_OUTER, N_INNER)
        t = k * CHUNK + offs_t
        mask_t = t < L
        m_td = mask_t[:, None] & mask_d[None, :]
        dt = raw
        if SOFTPLUS:
            dt = _softplus(raw)
        dt = tl.where(m_td, dt, 0.0)  # steps past the end (and masked channels) get dt = 0: dA = 1, dBu = 0
        dA = tl.exp(dt[:, None, :, None] * A4)  # (T, NbO, Db, NbI)
        dBu = (dt * u)[:, None, :, None] * Bt  # (T, NbO, Db, NbI)
        # states inside the chunk, recomputed from the one saved at its start: V_t = dA_t h_{t-1} is
        # what dA's gradient needs (taking it as h_t - dBu_t would cancel badly where dA_t is tiny)
        V, hs, _h = _forward_recurrence(dA, dBu, h_in, offs_t, CHUNK)

        # out = (y + D u) * silu(z)  ->  gy = dLoss/dy
        gy = gout
        if HAS_Z:
            sig = _sigmoid(z)
            pre = _nsum(hs * Ct)  # (T, Db)
            if HAS_D:
                pre += u * Dskip[None, :]
            g_z = gy * pre * sig * (1.0 + z * (1.0 - sig))
            tl.store(dz_ptr + t[:, None] * DIM + offs_d[None, :], g_z, mask=m_td)
            gy = gy * z * sig
        if HAS_D:
            g_D += gy * u
        gy4 = gy[:, None, :, None]
        # dC_t: this block's channels only (hs is spent)
        gC4 = gy4 * hs

        # adjoint lam_t = C_t gy_t + dA_{t+1} lam_{t+1} over the chunk's rows, the carry from the next
        # chunk (already times its first decay) entering at the last row
        x = gy4 * Ct + tl.where(last, carry[None, :, :, :], 0.0)
        lam = _reverse_recurrence(dA, x, offs_t, CHUNK)
        # carry for the previous chunk dA_{t0} lam_{t0}, and this chunk's part of dA's gradient
        w = lam * V
        lam_0, g_A_chunk = tl.reduce((tl.where(first, dA * lam, 0.0), w * dt[:, None, :, None]), 0, _add2)
        carry = lam_0
        g_A += g_A_chunk
        lam_B, wA = tl.reduce((lam * Bt, w * A4), 1, _add2)  # over the state: (T, Db, NbI) each
        lam_B, wA = tl.reduce((lam_B, wA), 2, _add2)  # (T, Db) each
        g_dt = wA + lam_B * u
        g_u = lam_B * dt
        if HAS_D:
            g_u += gy * Dskip[None, :]
        tl.store(du_ptr + t[:, None] * DIM + offs_d[None, :], g_u, mask=m_td)
        g_Bt, g_Ct = tl.reduce((lam * (dt * u)[:, None, :, None], gC4), 2, _add2)  # over the block's channels
        _store_tn(dB_ptr, t, g_Bt, L, N, N_OUTER, N_INNER)
        _store_tn(dC_ptr, t, g_Ct, L, N, N_OUTER, N_INNER)
        if SOFTPLUS:
            g_dt = g_dt * _sigmoid(raw)
        g_dt = tl.where(m_td, g_dt, 0.0)
        g_bias += g_dt
        tl.store(ddelta_ptr + t[:, None] * DIM + offs_d[None, :], g_dt, mask=m_td)

    if HAS_H0:
        tl.store(dh0_ptr + pid_b * DIM * N + dn, carry, mask=m_dn)
    # the per-row partials of dA (d * n), dD (d) and d delta_bias (d) share one (b, s_part) buffer, summed
    # over b at once
    small_ptr += pid_b * s_part
    tl.store(small_ptr + dn, g_A, mask=m_dn)
    if HAS_D:
        tl.store(small_ptr + DIM * N + offs_d, tl.sum(g_D, axis=0), mask=mask_d)
    if HAS_BIAS:
        tl.store(small_ptr + DIM * N + DIM + offs_d, tl.sum(g_bias, axis=0), mask=mask_d)


@triton.jit
def _sum_rows(src, stride, count, j, mask, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    """sum over k < count of src[k * stride + j] (float32, (BLOCK,)): ROWS rows loaded at a time and summed
    in a fixed tree, so the order of the additions is the same on every call."""
    rows = tl.arange(0, ROWS).to(tl.int64)[:, None]
    acc = tl.zeros((BLOCK,), tl.float32)
    for k0 in range(0, count, ROWS):
        ok = ((k0 + rows) < count) & mask[None, :]
        acc += tl.sum(tl.load(src + (k0 + rows) * stride + j[None, :], mask=ok, other=0.0), axis=0)
    return acc


@triton.jit(do_not_specialize=["n_dblocks", "batch"])
def _partials_sum_kernel(part_ptr, bc_ptr, small_ptr, n_bc, s_row, n_dblocks, batch, s_part, small_off, n_bc_programs,
                         ROWS: tl.constexpr, BLOCK: tl.constexpr):
    """The backward's partials summed in a fixed order (no atomics, so the same inputs give the same bits).
    Programs below n_bc_programs: dB, dC over the channel blocks, (2, b, d_blocks, l, n) -> (2, b, l, n), in
    the output's dtype; the others: dA, dD, d delta_bias over the batch rows, (b, s_part) -> (s_part,) float32."""
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    if pid < n_bc_programs:
        j = pid * BLOCK + offs  # into (2 * b, l * n)
        mask = j < n_bc
        row = j // s_row
        acc = _sum_rows(part_ptr, s_row, n_dblocks, row * (n_dblocks - 1) * s_row + j, mask, ROWS, BLOCK)
        tl.store(bc_ptr + j, acc.to(bc_ptr.dtype.element_ty), mask=mask)
    else:
        j = (pid - n_bc_programs) * BLOCK + offs
        mask = j < s_part
        acc = _sum_rows(part_ptr + small_off, s_part, batch, j, mask, ROWS, BLOCK)
        tl.store(small_ptr + j, acc, mask=mask)


_SUM_BLOCK, _SUM_ROWS = 256, 16  # outputs per program of _partials_sum_kernel, and partial rows loaded at once


def _strides3(t: Optional[Tensor]) -> tuple[int, int, int]:
    return tuple(t.stride()) if t is not None else (0, 0, 0)


def _f32(t: Optional[Tensor]) -> Optional[Tensor]:
    if t is None or (t.dtype == torch.float32 and t.is_contiguous()):
        return t
    return t.float().contiguous()


def _as(t: Tensor, dtype: torch.dtype) -> Tensor:
    """t in dtype; t itself when it already is (a no-op .to still costs a dispatch on the small shapes)."""
    return t if t.dtype == dtype else t.to(dtype)


class _Plan:
    """What a call needs besides the tensors' addresses, for one key of shapes, strides, dtypes, flags and
    launch shape (`_plan`): the forward's _Call, the buffer sizes, and the backward's _Calls by the output
    gradient's strides and dtype. Built once per key, so that a repeated call (every training step) does
    no per-argument Python work before its launches beyond reading the addresses."""

    __slots__ = ("batch", "length", "dim", "n", "n_chunks", "launch", "flags", "fwd", "fwd_floats", "final_shape",
                 "final_floats", "grad_shape", "bwd", "_key_parts")

    def __init__(self, u, delta, B, C, z, D, delta_bias, h0, softplus: bool, save_states: bool, launch: Launch):
        batch, length, dim = u.shape
        n = B.shape[2]
        self.batch, self.length, self.dim, self.n, self.launch = batch, length, dim, n, launch
        self.n_chunks = n_chunks = _cdiv(length, launch.chunk)
        self.flags = dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                          SOFTPLUS=bool(softplus))
        # the forward's one float32 buffer: the state entering each chunk (b, n_chunks, d, n) when saved,
        # then the final state (b, d, n)
        self.final_shape, self.final_floats, self.grad_shape = (batch, dim, n), batch * dim * n, (batch, length, dim)
        self.fwd_floats = (batch * n_chunks * dim * n if save_states else 0) + self.final_floats
        so = (length * dim, dim, 1)  # out is contiguous (b, l, d)
        self.fwd = _Call(
            _scan_fwd_kernel, (batch, _cdiv(dim, launch.fwd_block_d)),
            (length, dim, n, n_chunks, *u.stride(), *delta.stride(), *_strides3(z), *so, *B.stride(), *C.stride()),
            dict(**self.flags, HAS_H0=h0 is not None, SAVE_STATES=save_states, CHUNK=launch.chunk,
                 BLOCK_D=launch.fwd_block_d, **_state_split(n, launch.fwd_n_inner)),
            launch.fwd_warps)
        self.bwd: dict = {}
        self._key_parts = (u.stride(), delta.stride(), _strides3(z), B.stride(), C.stride())

    def backward_call(self, g_out: Tensor, has_ght: bool, has_h0: bool) -> tuple[_Call, _Call, int, int, int]:
        """The backward's _Calls for this output gradient (the kernel, and the sum of its partials), with the
        partials' sizes: (call, reduce, n_dblocks, floats of the dB, dC partials, floats per batch row of the
        dA, dD, d delta_bias partials)."""
        key = (g_out.stride(), g_out.dtype, has_ght, has_h0)
        hit = self.bwd.get(key)
        if hit is not None:
            return hit
        launch, batch, length, dim, n = self.launch, self.batch, self.length, self.dim, self.n
        n_dblocks = _cdiv(dim, launch.bwd_block_d)
        s_bc = batch * n_dblocks * length * n  # dB partials (b, d_blocks, l, n), then dC's
        s_part = dim * n + 2 * dim  # per batch row: dA (d * n), dD (d), d delta_bias (d)
        u_s, delta_s, z_s, B_s, C_s = self._key_parts
        call = _Call(
            _scan_bwd_kernel, (batch, n_dblocks),
            (length, dim, n, self.n_chunks, n_dblocks, s_part, s_bc,
             *u_s, *delta_s, *z_s, *g_out.stride(), *B_s, *C_s),
            dict(**self.flags, HAS_GHT=has_ght, HAS_H0=has_h0, PREFETCH=launch.prefetch, CHUNK=launch.chunk,
                 BLOCK_D=launch.bwd_block_d, **_state_split(n, launch.bwd_n_inner)),
            launch.bwd_warps)
        n_bc = 2 * batch * length * n
        n_bc_programs = _cdiv(n_bc, _SUM_BLOCK)
        reduce = _Call(_partials_sum_kernel, (n_bc_programs + _cdiv(s_part, _SUM_BLOCK), 1),
                       (n_bc, length * n, n_dblocks, batch, s_part, 2 * s_bc, n_bc_programs),
                       dict(ROWS=_SUM_ROWS, BLOCK=_SUM_BLOCK), 4)
        if len(self.bwd) >= 16:
            self.bwd.clear()
        hit = self.bwd[key] = (call, reduce, n_dblocks, 2 * s_bc, s_part)
        return hit


_PLANS: dict = {}
_PLANS_MAX = 1024  # plans kept (a new shape, stride pattern or dtype adds one); cleared past that


def _plan(u, delta, A, B, C, D, z, delta_bias, h0, softplus: bool, save_states: bool, launch: Launch) -> _Plan:
    key = (u.shape, u.stride(), delta.stride(), B.stride(), C.stride(), A.shape, u.dtype, delta.dtype, B.dtype,
           C.dtype, u.device, None if z is None else (z.stride(), z.dtype), D is None, delta_bias is None,
           h0 is None, softplus, save_states, launch)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = _Plan(u, delta, B, C, z, D, delta_bias, h0, softplus, save_states, launch)
    return plan


def _forward(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, save_states, launch: Launch,
             want_final: bool = True):
    """Launches the forward kernel. Returns out (b, l, d) in u's dtype, the final state (b, d, n) float32
    (None unless want_final: it then sits, unread, at the end of the states buffer), the states buffer
    (b * n_chunks * d * n floats, then the final state's when not want_final; None without save_states)
    and the plan."""
    plan = _plan(u, delta, A, B, C, D, z, delta_bias, initial_state, bool(delta_softplus), save_states, launch)
    # (allocations from u, with shapes as int tuples: torch.Size arguments and device= cost microseconds)
    out = torch.empty_like(u, memory_format=torch.contiguous_format)  # (b, l, d)
    states = hT = None
    if not save_states:
        hT = hT_at = states_at = u.new_empty(plan.final_shape, dtype=torch.float32)  # (b, d, n)
    elif want_final:  # apart, so that a final state kept by the caller does not hold the states' memory
        hT = hT_at = u.new_empty(plan.final_shape, dtype=torch.float32)
        states = states_at = u.new_empty(plan.fwd_floats - plan.final_floats, dtype=torch.float32)
    else:  # one allocation
        states = states_at = u.new_empty(plan.fwd_floats, dtype=torch.float32)
        hT_at = _At(states, plan.fwd_floats - plan.final_floats)
    dummy = out
    plan.fwd((u, delta, A, B, C, D if D is not None else dummy, z if z is not None else dummy,
              delta_bias if delta_bias is not None else dummy, initial_state if initial_state is not None else dummy,
              out, hT_at, states_at))
    return out, hT, states, plan


class _TritonScan(torch.autograd.Function):
    """Forward kernel keeps the chunk-entry states; backward kernel recomputes and runs the adjoint.

    Returns out, and the final state too when with_final (else its gradient is not asked for)."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus, launch, with_final):
        out, hT, states, plan = _forward(u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus,
                                         True, launch, with_final)  # (b, l, d), (b, d, n) or None, flat
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, states)
        ctx.plan, ctx.has_h0 = plan, initial_state is not None
        ctx.set_materialize_grads(False)
        return (out, hT) if with_final else out

    @staticmethod
    def backward(ctx, g_out, g_final=None):
        if torch.is_grad_enabled():  # create_graph: these gradients are not differentiable
            raise RuntimeError("impl='triton' does not support double backward (create_graph=True); "
                               "use impl='chunked'")
        u, delta, A, B, C, D, z, delta_bias, states = ctx.saved_tensors
        plan = ctx.plan
        if g_out is None:
            g_out = torch.zeros_like(u)
        if g_final is not None:
            g_final = _f32(g_final)
        call, reduce, n_dblocks, bc_floats, s_part = plan.backward_call(g_out, g_final is not None, ctx.has_h0)
        batch, length, dim, n = plan.batch, plan.length, plan.dim, plan.n
        shape, m = plan.grad_shape, batch * length * dim
        # du, d delta (and dz) in one buffer where their dtypes agree: one allocation before the launch
        same = delta.dtype == u.dtype and (z is None or z.dtype == u.dtype)
        if same:
            g_all = u.new_empty((2 if z is None else 3, *shape))  # (2 or 3, b, l, d)
            g_u, g_delta, g_z = g_all, _At(g_all, m), (None if z is None else _At(g_all, 2 * m))
        else:
            g_u, g_delta = u.new_empty(shape), delta.new_empty(shape)
            g_z = None if z is None else z.new_empty(shape)
        # one float32 buffer: dB, dC partials (2, b, d_blocks, l, n), then dA, dD, d delta_bias (b, s_part)
        part = u.new_empty(bc_floats + batch * s_part, dtype=torch.float32)
        g_h0 = u.new_empty(plan.final_shape, dtype=torch.float32) if ctx.has_h0 else None
        dummy = part
        call((u, delta, A, B, C, D if D is not None else dummy, z if z is not None else dummy,
              delta_bias if delta_bias is not None else dummy, states, g_out,
              g_final if g_final is not None else dummy,
              g_u, g_delta, g_z if g_z is not None else dummy, part, _At(part, bc_floats),
              g_h0 if g_h0 is not None else dummy))
        # after the launch (while the kernel runs): the partials summed, views
        if REDUCE_KERNEL:
            bc_dtype = B.dtype if B.dtype == C.dtype else torch.float32
            g_BC = u.new_empty((2, batch, length, n), dtype=bc_dtype)  # dB, dC (b, l, n) each
            g_small = u.new_empty(s_part, dtype=torch.float32)
            reduce((part, g_BC, g_small))
            g_B, g_C = g_BC.unbind(0)
            g_A, g_D, g_bias = g_small.split_with_sizes([dim * n, dim, dim])  # (Tensor.split is Python)
        else:
            ln = length * n
            bc = part.as_strided((2, batch, n_dblocks, length, n), (batch * n_dblocks * ln, n_dblocks * ln, ln, n, 1))
            g_B, g_C = (bc[:, :, 0] if n_dblocks == 1 else bc.sum(2)).unbind(0)  # (b, l, n) each
            small = part.as_strided((batch, s_part), (s_part, 1), bc_floats)
            g_A, g_D, g_bias = (small[0] if batch == 1 else small.sum(0)).split_with_sizes([dim * n, dim, dim])
        if same:
            g_u, g_delta, *rest = g_all.unbind(0)
            g_z = rest[0] if rest else None
        g_A = _as(g_A.view(dim, n), A.dtype)  # (d, n)
        g_D = None if D is None else _as(g_D, D.dtype)
        g_bias = None if delta_bias is None else _as(g_bias, delta_bias.dtype)
        return (g_u, g_delta, g_A, _as(g_B, B.dtype), _as(g_C, C.dtype), g_D, g_z, g_bias, g_h0,
                None, None, None)


# Function.apply less its Python wrapper (about 9 of its 22 us on this project's VM), used when no functorch
# transform (vmap, grad) is active; the wrapper only binds defaults and unwraps functorch's dead wrappers
_raw_apply = torch._C._FunctionBase.__dict__["apply"].__get__(None, _TritonScan)


def _apply(*args):
    if torch._C._are_functorch_transforms_active():
        return _TritonScan.apply(*args)
    return _raw_apply(*args)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def selective_scan_triton(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
    D: Optional[Tensor] = None, z: Optional[Tensor] = None, delta_bias: Optional[Tensor] = None,
    delta_softplus: bool = False, initial_state: Optional[Tensor] = None, return_final_state: bool = False,
    chunk: Optional[int] = None, block_d: Optional[int] = None, launch: Optional[Launch] = None,
):
    """The fused GPU path: same arguments and results as `selective_scan_ref`.

    u, delta, z, B, C in float32, bfloat16 or float16, any strides; out in u's dtype, the final
    state (b, d, n) in float32. launch overrides the launch shape of `launch_for`, and chunk (a power
    of two) and block_d (the forward's channels per program) override its fields.
    """
    if not (u.is_cuda or _interpreting()):
        raise ValueError(f"impl='triton' needs CUDA tensors; got u on {u.device} (use impl='chunked' there)")
    if u.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"impl='triton' takes float32, bfloat16 or float16 inputs; got {u.dtype} "
                         "(use impl='chunked' or 'reference' for float64)")
    batch, length, dim = u.shape
    if batch == 0 or dim == 0:  # nothing to launch
        from forecaster.mamba.scan import selective_scan_chunked

        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state,
                                      return_final_state)
    launch = launch or launch_for(dim, length, u.dtype)
    if chunk is not None:
        launch = replace(launch, chunk=int(chunk))
    if block_d is not None:
        launch = replace(launch, fwd_block_d=int(block_d))
    if launch.chunk < 1 or launch.chunk & (launch.chunk - 1):
        raise ValueError(f"chunk={launch.chunk} is invalid: accepted a power of two")
    out_dtype = u.dtype
    if launch.widen_16bit and out_dtype != torch.float32:
        u, delta, B, C = u.float(), delta.float(), B.float(), C.float()
        z = None if z is None else z.float()
    # the small operands as the kernels read them: float32, contiguous (still in the autograd graph)
    A, D, delta_bias, h0 = _f32(A), _f32(D), _f32(delta_bias), _f32(initial_state)
    tensors = (u, delta, A, B, C, D, z, delta_bias, h0)
    hT = None
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        out = _apply(u, delta, A, B, C, D, z, delta_bias, h0, bool(delta_softplus), launch, bool(return_final_state))
        if return_final_state:
            out, hT = out
    else:
        out, hT, _, _ = _forward(u, delta, A, B, C, D, z, delta_bias, h0, delta_softplus, False, launch)
    out = _as(out, out_dtype)
    return (out, hT) if return_final_state else out
