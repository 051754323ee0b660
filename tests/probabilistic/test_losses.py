"""Distribution math and losses: closed-form CRPS against the integral, CDF and quantiles against scipy."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from forecaster.probabilistic.parametric import cdf, log_pdf, quantiles_from_params, stddev, student_t_cdf
from forecaster.errors import ForecasterError
from forecaster.probabilistic.losses import (crps_normal, crps_student_t, crps_student_t_fixed_df, distribution_loss, nll_normal,
                                            nll_student_t)

CASES = [  # (loc, scale, df, y)
    (0.0, 1.0, 5.0, -3.0), (0.3, 0.5, 2.5, 0.2), (-1.0, 2.0, 3.0, 7.0), (1.0, 0.01, 30.0, 1.02),
    (0.0, 1.0, 100.0, 0.0), (2.0, 3.0, 1.5, -20.0), (0.0, 0.7, 8.0, 2.5),
]


def _crps_integral(cdf_fn, y: float, scale: float) -> float:
    """integral of (F(x) - 1{x >= y})^2 dx, split at y (where the indicator jumps)."""
    below = integrate.quad(lambda x: cdf_fn(x) ** 2, -np.inf, y, limit=200, epsabs=1e-12)[0]
    above = integrate.quad(lambda x: (cdf_fn(x) - 1) ** 2, y, np.inf, limit=200, epsabs=1e-12)[0]
    return below + above


@pytest.mark.parametrize("loc, scale, df, y", CASES)
def test_closed_form_crps_equals_the_integral(loc, scale, df, y):
    params = torch.tensor([loc, scale, df], dtype=torch.float64)
    target = torch.tensor(y, dtype=torch.float64)
    want_t = _crps_integral(lambda x: stats.t.cdf(x, df, loc, scale), y, scale)
    want_n = _crps_integral(lambda x: stats.norm.cdf(x, loc, scale), y, scale)
    assert float(crps_student_t(params, target)) == pytest.approx(want_t, rel=1e-7, abs=1e-10)
    assert float(crps_normal(params[:2], target)) == pytest.approx(want_n, rel=1e-7, abs=1e-10)
    # float32 agrees to float32 precision
    assert float(crps_student_t(params.float(), target.float())) == pytest.approx(want_t, rel=2e-5, abs=1e-6)


def test_crps_matches_the_scoringrules_reference_value():
    # the R package scoringRules' own test: crps_t(-3, df = 5) = 2.33875895, scale-equivariant
    assert float(crps_student_t(torch.tensor([0.0, 1.0, 5.0]), torch.tensor(-3.0))) == pytest.approx(2.33875895, rel=1e-6)
    got = crps_student_t(torch.tensor([0.1, 0.9, 5.0], dtype=torch.float64), torch.tensor(-3 * 0.9 + 0.1, dtype=torch.float64))
    assert float(got) == pytest.approx(2.33875895 * 0.9, rel=1e-7)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_fixed_df_crps_equals_the_general_one_in_value_and_gradient(dtype):
    """The anchored model's loss (df a fixed number, backward by dc/dz = 2F - 1) against crps_student_t
    differentiated through its continued fraction, at every CASES point and in a batch."""
    tol = 1e-9 if dtype == torch.float64 else 2e-5
    for loc, scale, df, y in CASES + [(0.0, 1.0, 6.0, v) for v in (-12.0, -0.3, 0.0, 0.4, 5.0)]:
        general = torch.tensor([loc, scale], dtype=dtype, requires_grad=True)
        fast = general.detach().clone().requires_grad_(True)
        want = crps_student_t(torch.cat([general, torch.tensor([df], dtype=dtype)]), torch.tensor(y, dtype=dtype))
        got = crps_student_t_fixed_df(fast[0], fast[1], df, torch.tensor(y, dtype=dtype))
        want.backward()
        got.backward()
        assert got.item() == pytest.approx(want.item(), rel=tol, abs=tol), (loc, scale, df, y)
        torch.testing.assert_close(fast.grad, general.grad, rtol=tol, atol=tol)
    with pytest.raises(ForecasterError, match="needs df > 1"):
        crps_student_t_fixed_df(torch.zeros(1), torch.ones(1), 1.0, torch.zeros(1))


def test_the_fixed_df_crps_stays_on_the_scores_device():
    """Its df tensor is made on z's device: on CUDA a CPU one failed the anchored model's training. The meta
    device (shapes only, no data) stands in for a GPU: a tensor left on the CPU raises there too."""
    z = torch.zeros(4, device="meta", requires_grad=True)
    got = crps_student_t_fixed_df(torch.zeros(4, device="meta"), torch.ones(4, device="meta"), 5.0, z, reduction="none")
    got.sum().backward()
    assert got.device.type == "meta" and z.grad.device.type == "meta" and got.shape == (4,)


def test_student_t_crps_tends_to_the_normal_one():
    y = torch.linspace(-4, 4, 17, dtype=torch.float64)
    normal = crps_normal(torch.tensor([0.2, 1.3], dtype=torch.float64).expand(17, 2), y, reduction="none")
    t = crps_student_t(torch.tensor([0.2, 1.3, 1e5], dtype=torch.float64).expand(17, 3), y, reduction="none")
    assert torch.allclose(t, normal, rtol=1e-4)
    assert not torch.allclose(crps_student_t(torch.tensor([0.2, 1.3, 3.0], dtype=torch.float64).expand(17, 3), y,
                                             reduction="none"), normal, rtol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_losses_and_their_gradients_are_finite(dtype):
    g = torch.Generator().manual_seed(0)
    n = 2000
    loc = torch.randn(n, generator=g, dtype=dtype) * 3
    scale = torch.exp(torch.randn(n, generator=g, dtype=dtype) * 3).clamp(1e-4, 1e4)  # 1e-4 .. 1e4
    df = 2 + torch.exp(torch.randn(n, generator=g, dtype=dtype) * 2).clamp(max=98)  # 2 .. 100
    y = torch.randn(n, generator=g, dtype=dtype) * 50
    y[:5] = loc[:5]  # exactly at the centre (z = 0)
    for family, params in (("normal", torch.stack([loc, scale], -1)), ("student_t", torch.stack([loc, scale, df], -1))):
        for loss in ("crps", "nll"):
            p = params.clone().requires_grad_(True)
            scores = distribution_loss(p, y, family, loss, reduction="none")
            assert scores.shape == (n,) and torch.isfinite(scores).all(), (family, loss)
            if loss == "crps":
                assert (scores >= -1e-6 * scale).all()  # CRPS >= 0
            scores.mean().backward()
            assert torch.isfinite(p.grad).all(), (family, loss)
            assert p.grad.abs().sum() > 0


def test_gradient_matches_finite_differences():
    params = torch.tensor([[0.3, 0.8, 4.0], [-1.0, 2.0, 40.0], [0.0, 1.0, 2.2]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.7, -1.1, 0.0], dtype=torch.float64)
    for fn in (crps_student_t, nll_student_t):
        assert torch.autograd.gradcheck(lambda p: fn(p, y, reduction="none"), (params,))


def test_nll_equals_scipy_log_density():
    params = torch.tensor([[0.3, 0.8, 4.0], [-1.0, 2.0, 40.0]], dtype=torch.float64)
    y = torch.tensor([1.7, -5.0], dtype=torch.float64)
    want_t = -stats.t.logpdf(y.numpy(), params[:, 2].numpy(), params[:, 0].numpy(), params[:, 1].numpy())
    want_n = -stats.norm.logpdf(y.numpy(), params[:, 0].numpy(), params[:, 1].numpy())
    assert np.allclose(nll_student_t(params, y, reduction="none").numpy(), want_t, rtol=1e-12)
    assert np.allclose(nll_normal(params[:, :2], y, reduction="none").numpy(), want_n, rtol=1e-12)
    assert float(nll_normal(params[:, :2], y)) == pytest.approx(want_n.mean(), rel=1e-12)
    assert np.allclose(log_pdf(params, y, "student_t").numpy(), -want_t, rtol=1e-12)


@pytest.mark.parametrize("df", [1.01, 2.5, 5.0, 30.0, 100.0])
def test_student_t_cdf_equals_scipy(df):
    z = torch.linspace(-80, 80, 3201, dtype=torch.float64)
    want = stats.t.cdf(z.numpy(), df)
    got = student_t_cdf(z, torch.tensor(df, dtype=torch.float64)).numpy()
    assert np.abs(got - want).max() < 1e-13
    tails = np.minimum(want, 1 - want) > 1e-300
    assert np.max(np.abs(got - want)[tails] / np.minimum(want, 1 - want)[tails]) < 1e-9  # relative, in the tails too
    got32 = student_t_cdf(z.float(), torch.tensor(df)).double().numpy()
    assert np.abs(got32 - want).max() < 1e-6


def test_pit_of_both_families_equals_scipy():
    params = torch.tensor([[0.5, 2.0, 3.0]], dtype=torch.float64).expand(5, 3)
    y = torch.tensor([-10.0, -1.0, 0.5, 2.0, 30.0], dtype=torch.float64)
    assert np.allclose(cdf(params, y, "student_t").numpy(), stats.t.cdf(y.numpy(), 3.0, 0.5, 2.0), atol=1e-13)
    assert np.allclose(cdf(params[:, :2], y, "normal").numpy(), stats.norm.cdf(y.numpy(), 0.5, 2.0), atol=1e-13)


def test_quantiles_from_params_equal_scipy():
    levels = (0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999)
    params = torch.tensor([[0.0, 1.0, 2.05], [0.3, 0.02, 4.0], [-1.0, 3.0, 100.0]], dtype=torch.float64)
    want = stats.t.ppf(np.array(levels)[None], params[:, 2:].numpy(), params[:, :1].numpy(), params[:, 1:2].numpy())
    got = quantiles_from_params(params, levels, "student_t")
    assert got.shape == (3, 7) and got.dtype == torch.float64
    assert np.allclose(got.numpy(), want, rtol=1e-9, atol=1e-12)
    got32 = quantiles_from_params(params.float(), levels, "student_t")
    assert got32.dtype == torch.float32 and np.allclose(got32.numpy(), want, rtol=1e-5)
    normal = quantiles_from_params(params[:, :2], levels, "normal")
    assert np.allclose(normal.numpy(), stats.norm.ppf(np.array(levels)[None], params[:, :1].numpy(), params[:, 1:2].numpy()))
    # differentiable in loc and scale: d q / d scale = the standard quantile
    p = params.clone().requires_grad_(True)
    quantiles_from_params(p, (0.975,), "student_t").sum().backward()
    assert np.allclose(p.grad[:, 1].numpy(), stats.t.ppf(0.975, params[:, 2].numpy()), rtol=1e-9)


def test_stddev():
    params = torch.tensor([[0.0, 2.0, 4.0]], dtype=torch.float64)
    assert float(stddev(params, "student_t")) == pytest.approx(stats.t.std(4.0, scale=2.0))
    assert float(stddev(params[:, :2], "normal")) == 2.0


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ForecasterError, match="last axis of size 3"):
        crps_student_t(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ForecasterError, match="laplace"):
        distribution_loss(torch.zeros(4, 2), torch.zeros(4), "laplace")
    with pytest.raises(ForecasterError, match="reduction"):
        crps_normal(torch.ones(4, 2), torch.zeros(4), reduction="sum")
    with pytest.raises(ForecasterError, match="strictly between 0 and 1"):
        quantiles_from_params(torch.ones(4, 2), (0.5, 1.0), "normal")
    assert math.isfinite(float(crps_normal(torch.ones(4, 2), torch.zeros(4))))
