"""Training losses for the forecaster's distribution heads: closed-form CRPS and negative log-likelihood.

Each loss takes `params (..., P)` (see forecaster.probabilistic.parametric: (loc, scale) for normal,
(loc, scale, df) for student_t) and outcomes `y (...)`, and returns the mean over all
elements (reduction="mean") or the per-element scores (reduction="none", e.g. for DM tests).
Lower is better for all of them. CRPS is in the units of y; it equals the mean absolute error
for a point forecast, so it can be compared across models of any kind.

CRPS(F, y) = integral of (F(x) - 1{x >= y})^2 dx. Closed forms, with z = (y - loc) / scale:

    normal (Gneiting & Raftery 2007, eq. 21; Gneiting et al. 2005):
        scale * [ z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi) ]
    student_t with df = nu > 1 (Jordan, Krueger & Lerch 2019, "Evaluating probabilistic
    forecasts with scoringRules", J. Stat. Softw. 90(12), the crps_t entry of its appendix):
        scale * [ z (2 F_nu(z) - 1) + 2 f_nu(z) (nu + z^2) / (nu - 1)
                  - 2 sqrt(nu) / (nu - 1) * B(1/2, nu - 1/2) / B(1/2, nu/2)^2 ]
    (checked against the numerical integral in tests/test_losses.py and against the R
    package's own test value crps_t(-3, df=5) = 2.33875895).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from forecaster.probabilistic.parametric import split, student_t_cdf, student_t_log_pdf
from forecaster.errors import ForecasterError

REDUCTIONS = ("mean", "none")
LOSSES = ("crps", "nll")


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """pred (B, H, C, Q), target (B, H, C), quantiles (Q,) -> mean quantile (pinball) loss, the
    training loss of a quantile head (its numpy twin: distributions.pinball)."""
    diff = target[..., None] - pred
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


def _reduce(scores: Tensor, reduction: str) -> Tensor:
    if reduction not in REDUCTIONS:
        raise ForecasterError(f"reduction={reduction!r} is invalid: accepted one of {REDUCTIONS}")
    return scores.mean() if reduction == "mean" else scores


def crps_normal(params: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """CRPS of N(loc, scale^2) at y: params (..., 2), y (...) -> mean (or (...))."""
    loc, scale, _ = split(params, "normal")
    z = (y - loc) / scale
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    scores = scale * (z * (2 * torch.special.ndtr(z) - 1) + 2 * pdf - 1 / math.sqrt(math.pi))
    return _reduce(scores, reduction)


def student_t_half_spread(df: Tensor) -> Tensor:
    """E|T - T'| / 2 of two independent standard t with df > 1: the last term of the t's CRPS,
    2 sqrt(df) / (df - 1) * B(1/2, df - 1/2) / B(1/2, df/2)^2. The beta functions go through log-gamma
    (Gamma(1/2) = sqrt(pi)) in float64, because the differences of log-gammas cancel digits for large
    df; returned in df's dtype. The one definition of this constant (the mixture CRPS uses it too)."""
    nu = df.double()
    log_ratio = (torch.lgamma(nu - 0.5) - torch.lgamma(nu) - 0.5 * math.log(math.pi)
                 - 2 * (torch.lgamma(nu / 2) - torch.lgamma(nu / 2 + 0.5)))
    return (2 * torch.sqrt(nu) / (nu - 1) * torch.exp(log_ratio)).to(df.dtype)


def crps_student_t(params: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """CRPS of loc + scale * t_df at y: params (..., 3) with df > 1, y (...) -> mean (or (...))."""
    loc, scale, df = split(params, "student_t")
    z = (y - loc) / scale
    pdf = torch.exp(student_t_log_pdf(z, df))
    scores = scale * (z * (2 * student_t_cdf(z, df) - 1) + 2 * pdf * (df + z * z) / (df - 1)
                      - student_t_half_spread(df))
    return _reduce(scores, reduction)


class _StandardTCRPS(torch.autograd.Function):
    """c(z) = CRPS of the standard t of a fixed df at z, forward without a graph through the t CDF's
    continued fraction; backward by dc/dz = 2 F(z) - 1 (the derivative of any CRPS in its outcome)."""

    @staticmethod
    def forward(ctx, z: Tensor, df: float) -> Tensor:
        nu = torch.tensor(df, dtype=z.dtype, device=z.device)  # on the scores' device (CUDA when training there)
        cdf = student_t_cdf(z, nu)
        pdf = torch.exp(student_t_log_pdf(z, nu))
        ctx.save_for_backward(cdf)
        return z * (2 * cdf - 1) + 2 * pdf * (df + z * z) / (df - 1) - student_t_half_spread(nu)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (cdf,) = ctx.saved_tensors
        return grad * (2 * cdf - 1), None


def crps_student_t_fixed_df(loc: Tensor, scale: Tensor, df: float, y: Tensor, reduction: str = "mean") -> Tensor:
    """crps_student_t for one fixed df (a number, no gradient to it): the same scores, differentiable in loc
    and scale, at about a quarter of the cost (the anchored model's loss, whose df is GARCH-t's fit)."""
    if not df > 1:
        raise ForecasterError(f"df={df!r}: the CRPS of a Student-t needs df > 1")
    return _reduce(scale * _StandardTCRPS.apply((y - loc) / scale, float(df)), reduction)


def nll_normal(params: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of N(loc, scale^2) at y: params (..., 2), y (...) -> mean (or (...))."""
    loc, scale, _ = split(params, "normal")
    z = (y - loc) / scale
    return _reduce(0.5 * z * z + torch.log(scale) + 0.5 * math.log(2 * math.pi), reduction)


def nll_student_t(params: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of loc + scale * t_df at y: params (..., 3), y (...) -> mean (or (...))."""
    loc, scale, df = split(params, "student_t")
    return _reduce(torch.log(scale) - student_t_log_pdf((y - loc) / scale, df), reduction)


_TABLE = {("crps", "normal"): crps_normal, ("crps", "student_t"): crps_student_t,
          ("nll", "normal"): nll_normal, ("nll", "student_t"): nll_student_t}


def distribution_loss(params: Tensor, y: Tensor, family: str, loss: str = "crps", reduction: str = "mean") -> Tensor:
    """The `loss` ("crps" or "nll") of a `family` ("normal" or "student_t") forecast at y."""
    if (loss, family) not in _TABLE:
        raise ForecasterError(f"loss={loss!r} for family={family!r} is invalid: accepted loss one of {LOSSES} "
                              f"and family one of ('normal', 'student_t')")
    return _TABLE[loss, family](params, y, reduction)
