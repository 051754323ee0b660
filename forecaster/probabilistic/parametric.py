"""The forecast distributions of the parametric heads, in torch: CDF, log density, quantiles, std.

A parametric forecast is a tensor `params (..., P)` whose last axis holds, per family:

    normal      P = 2   (loc, scale)        scale > 0
    student_t   P = 3   (loc, scale, df)    scale > 0, df > 1 (the heads give df > 2)

The location-scale Student-t is loc + scale * T with T a standard t of df degrees of freedom
(its standard deviation is scale * sqrt(df / (df - 2))). Torch has no t CDF, so it is written
here from the regularised incomplete beta function, I_x(a, b), evaluated by its continued
fraction (Abramowitz & Stegun 26.5.8) from a fixed depth backwards; this is differentiable in
both z and df, on any device, in float32 and float64.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from forecaster.errors import ForecasterError

FAMILIES = {"normal": 2, "student_t": 3}  # family -> parameters on the last axis
_CF_TERMS = 32  # continued-fraction depth (pairs of terms) in float64: error < 1e-13 for df <= 200 (tested vs scipy)
_CF_TERMS_FLOAT32 = 16  # in float32 (and lower): error < 1e-9, below float32's resolution


def n_params(family: str) -> int:
    if family not in FAMILIES:
        raise ForecasterError(f"distribution family {family!r} is unknown: accepted one of {sorted(FAMILIES)}")
    return FAMILIES[family]


def split(params: Tensor, family: str) -> tuple[Tensor, Tensor, Tensor | None]:
    """params (..., P) -> loc, scale, df (None for normal), each (...)."""
    P = n_params(family)
    if params.shape[-1] != P:
        raise ForecasterError(f"{family} parameters need a last axis of size {P} (loc, scale[, df]); "
                              f"got shape {tuple(params.shape)}")
    return params[..., 0], params[..., 1], (params[..., 2] if P == 3 else None)


# ----------------------------------------------------------------------------- the standard t

def _betainc_cf(a: Tensor, b: Tensor, x: Tensor, terms: int) -> Tensor:
    """The continued fraction of I_x(a, b) = x^a (1-x)^b / (a B(a, b)) / (1 + d1/(1 + d2/(1 + ...)))
    (Abramowitz & Stegun 26.5.8), returned as the denominator 1 + d1/(1 + ...). It converges fast
    for x < (a + 1) / (a + b + 2); evaluated from depth 2 * terms + 1 back to the first term."""
    f = torch.ones_like(x)
    ab = a + b
    for m in range(terms, 0, -1):
        f = 1 - (a + m) * (ab + m) * x / ((a + 2 * m) * (a + 2 * m + 1)) / f  # d_{2m+1}
        f = 1 + m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)) / f  # d_{2m}
    return 1 - ab * x / (a + 1) / f  # d_1 = -a (a + b) x / (a (a + 1))


def student_t_cdf(z: Tensor, df: Tensor) -> Tensor:
    """Standard Student-t CDF F_df(z), elementwise (broadcast), differentiable in z and df.

    With x = df / (df + z^2): F(z) = I_x(df/2, 1/2) / 2 for z <= 0 (1 - that for z > 0). Near
    the centre, where that fraction converges slowly, the symmetric form
    F(z) = 1/2 + sign(z) I_{1-x}(1/2, df/2) / 2 is used instead. One continued fraction is
    evaluated per element, with the arguments of its branch; each branch's formula sees only
    arguments where it is finite, so gradients stay finite too.
    """
    z, df = torch.broadcast_tensors(z, df)
    a = df / 2
    a64 = a.double()  # lgamma(a) - lgamma(a + 1/2) cancels digits: float64 keeps float32 inputs accurate
    log_beta = (torch.lgamma(a64) + math.lgamma(0.5) - torch.lgamma(a64 + 0.5)).to(z.dtype)  # log B(df/2, 1/2)
    tail = df / (df + z * z) < (a + 1) / (a + 2.5)  # the direct fraction converges (x < (a+1)/(a+b+2))
    # tails: I_x(df/2, 1/2), x = df / (df + z^2); zt is a safe |z| where the branch is unused
    zt = torch.where(tail, z, torch.sqrt(df) * 10)
    log_x = -torch.log1p(zt * zt / df)
    log_tail = a * log_x + 0.5 * (2 * torch.log(zt.abs()) - torch.log(df + zt * zt)) - torch.log(a) - log_beta
    # centre: I_w(1/2, df/2), w = z^2 / (df + z^2), without its factor sqrt(w) (put back with z's sign below)
    zc = torch.where(tail, torch.zeros_like(z), z)
    w = zc * zc / (df + zc * zc)
    log_centre = -a * torch.log1p(zc * zc / df) - math.log(0.5) - log_beta  # (1-w)^(df/2) / (B(1/2, df/2) / 2)
    half = torch.full_like(a, 0.5)
    terms = _CF_TERMS if z.dtype == torch.float64 else _CF_TERMS_FLOAT32
    denominator = _betainc_cf(torch.where(tail, a, half), torch.where(tail, half, a), torch.where(tail, torch.exp(log_x), w),
                              terms)
    lower_tail = 0.5 * torch.exp(log_tail) / denominator  # F(-|z|)
    centre = 0.5 + 0.5 * zc / torch.sqrt(df + zc * zc) * torch.exp(log_centre) / denominator
    return torch.where(tail, torch.where(z > 0, 1 - lower_tail, lower_tail), centre)


def student_t_log_pdf(z: Tensor, df: Tensor) -> Tensor:
    """Log density of the standard t, elementwise."""
    return (torch.lgamma((df + 1) / 2) - torch.lgamma(df / 2) - 0.5 * torch.log(math.pi * df)
            - (df + 1) / 2 * torch.log1p(z * z / df))


def _student_t_ppf(q: Tensor, df: Tensor) -> Tensor:
    """Standard t quantile in float64, without gradient (scipy's, on the CPU: no differentiable t
    quantile is needed, and a torch root-finder over the continued fraction cost seconds a call)."""
    from scipy import stats

    q, df = torch.broadcast_tensors(q.double(), df.double())
    z = stats.t.ppf(q.detach().cpu().numpy(), df.detach().cpu().numpy())
    return torch.from_numpy(z).to(q.device)


# ----------------------------------------------------------------------------- location-scale families

def cdf(params: Tensor, y: Tensor, family: str) -> Tensor:
    """P(Y <= y) under the forecast: params (..., P), y (...) -> (...). Its values at the
    outcomes are the probability integral transform (PIT)."""
    loc, scale, df = split(params, family)
    z = (y - loc) / scale
    return torch.special.ndtr(z) if df is None else student_t_cdf(z, df)


def log_pdf(params: Tensor, y: Tensor, family: str) -> Tensor:
    """log density of the forecast at y: params (..., P), y (...) -> (...)."""
    loc, scale, df = split(params, family)
    z = (y - loc) / scale
    if df is None:
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi) - torch.log(scale)
    return student_t_log_pdf(z, df) - torch.log(scale)


def quantiles_from_params(params: Tensor, levels: Sequence[float], family: str) -> Tensor:
    """params (..., P), levels (Q,) in (0, 1) -> quantiles (..., Q) in params' dtype.
    Differentiable in loc and scale (not in df)."""
    levels = tuple(float(q) for q in levels)
    if not levels or not all(0 < q < 1 for q in levels):
        raise ForecasterError(f"quantile levels {levels!r} are invalid: accepted numbers strictly between 0 and 1")
    loc, scale, df = split(params, family)
    q = torch.tensor(levels, dtype=torch.float64, device=params.device)  # (Q,)
    if df is None:
        z = torch.special.ndtri(q).expand(*loc.shape, -1)
    else:
        with torch.no_grad():
            z = _student_t_ppf(q, df.detach()[..., None])  # (..., Q)
    return loc[..., None] + scale[..., None] * z.to(params.dtype)


def stddev(params: Tensor, family: str) -> Tensor:
    """Standard deviation of the forecast: params (..., P) -> (...); for student_t it needs df > 2."""
    _, scale, df = split(params, family)
    return scale if df is None else scale * torch.sqrt(df / (df - 2))
