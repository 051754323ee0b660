"""Predictive distributions: closed-form CRPS against numerical integrals, quantiles against scipy."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from forecaster.probabilistic.distributions import Empirical, Predictive, Quantiles, concat
from forecaster.errors import ForecasterError


def _crps_integral(cdf, y: float, lo: float, hi: float) -> float:
    """integral of (F(x) - 1{x >= y})^2 dx, split at y where the integrand jumps."""
    left = integrate.quad(lambda x: cdf(x) ** 2, lo, y, limit=200)[0]
    right = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, hi, limit=200)[0]
    return left + right


@pytest.mark.parametrize("df", [math.inf, 2.5, 4.0, 30.0])
def test_closed_form_crps_matches_the_integral(df):
    loc, scale = np.array([[0.001, -0.002]]), np.array([[0.006, 0.011]])
    y = np.array([[0.013, -0.004]])
    dist = Predictive(loc, scale, df)
    got = dist.crps(y)
    for h in range(2):
        cdf = lambda x, h=h: stats.t.cdf((x - loc[0, h]) / scale[0, h], df)
        span = 400 * scale[0, h]  # heavy tails of df = 2.5 decay slowly; (1 - F)^2 ~ x^-5 is integrable
        want = _crps_integral(cdf, y[0, h], loc[0, h] - span, loc[0, h] + span)
        assert got[0, h] == pytest.approx(want, rel=1e-5)


def test_student_t_quantiles_and_cdf_match_scipy():
    rng = np.random.default_rng(0)
    loc, scale = rng.normal(0, 0.01, (4, 3)), rng.uniform(0.002, 0.02, (4, 3))
    df = rng.uniform(2.1, 12.0, (4, 3))
    dist = Predictive(loc, scale, df)
    levels = [0.025, 0.1, 0.5, 0.9, 0.975]
    want = stats.t.ppf(np.array(levels), df[..., None], loc=loc[..., None], scale=scale[..., None])
    np.testing.assert_allclose(dist.quantile(levels), want, rtol=1e-12)
    y = rng.normal(0, 0.01, (4, 3))
    np.testing.assert_allclose(dist.cdf(y), stats.t.cdf(y, df, loc=loc, scale=scale), rtol=1e-12)
    lo, hi = dist.interval(0.8)
    np.testing.assert_allclose(dist.cdf(hi) - dist.cdf(lo), 0.8, rtol=1e-10)
    gauss = Predictive(loc, scale)
    np.testing.assert_allclose(gauss.quantile([0.95])[..., 0], stats.norm.ppf(0.95, loc, scale), rtol=1e-12)


def test_empirical_crps_is_exact_for_its_sample():
    rng = np.random.default_rng(1)
    samples = rng.standard_t(5, (2, 7))  # (H, M): a small sample, so the brute force is exact
    loc, scale = np.array([[0.0, 0.01], [0.02, -0.01], [0.0, 0.0]]), np.array([[1.0, 2.0], [0.5, 1.5], [3.0, 0.1]])
    y = rng.normal(0, 1, (3, 2))
    got = Empirical(loc, scale, samples).crps(y)
    for n in range(3):
        for h in range(2):
            x = loc[n, h] + scale[n, h] * samples[h]
            want = np.mean(np.abs(x - y[n, h])) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
            assert got[n, h] == pytest.approx(want, rel=1e-12)
    cdf = Empirical(loc, scale, samples).cdf(y)
    want = np.mean(loc[..., None] + scale[..., None] * samples[None] <= y[..., None], axis=-1)
    np.testing.assert_allclose(cdf, want)


def test_grouped_empirical_and_concat_keep_each_folds_sample():
    rng = np.random.default_rng(2)
    a = Empirical(np.zeros((3, 2)), np.ones((3, 2)), rng.normal(0, 1, (2, 50)))
    b = Empirical(np.zeros((2, 2)), np.ones((2, 2)), rng.normal(5, 1, (2, 50)))
    y = rng.normal(0, 1, (5, 2))
    joined = concat([a, b])
    np.testing.assert_allclose(joined.crps(y), np.concatenate([a.crps(y[:3]), b.crps(y[3:])]))
    np.testing.assert_allclose(joined[3:].quantile([0.5]), b.quantile([0.5]))
    p = concat([Predictive(np.zeros((2, 2)), 1.0, 4.0), Predictive(np.zeros((1, 2)), 2.0, math.inf)])
    assert p.shape == (3, 2) and np.isinf(p.df[2, 0]) and p.df[0, 0] == 4.0


def test_quantile_grid_crps_approaches_the_closed_form():
    levels = np.linspace(0.0005, 0.9995, 1999)
    loc, scale = np.array([[0.0, 0.01]]), np.array([[0.01, 0.02]])
    values = stats.norm.ppf(levels, loc[..., None], scale[..., None])  # (1, 2, Q)
    grid = Quantiles(levels, values)
    y = np.array([[0.004, -0.03]])
    np.testing.assert_allclose(grid.crps(y), Predictive(loc, scale).crps(y), rtol=5e-3)
    np.testing.assert_allclose(grid.cdf(y), stats.norm.cdf(y, loc, scale), atol=1e-3)
    np.testing.assert_allclose(grid.interval(0.9)[1], stats.norm.ppf(0.95, loc, scale), rtol=1e-3)


def test_quantile_grid_sorts_crossing_quantiles_and_bounds_its_cdf():
    grid = Quantiles([0.1, 0.5, 0.9], np.array([[[0.02, -0.01, 0.0]]]))  # crossing
    assert np.all(np.diff(grid.values, axis=-1) >= 0)
    assert grid.cdf(np.array([[-1.0]]))[0, 0] == 0.0 and grid.cdf(np.array([[1.0]]))[0, 0] == 1.0
    assert grid.cdf(np.array([[-0.005]]))[0, 0] == pytest.approx(0.3)


@pytest.mark.parametrize("bad", [dict(scale=0.0), dict(scale=-1.0), dict(df=1.0), dict(df=0.5)])
def test_bad_parameters_are_named(bad):
    args = dict(loc=np.zeros((1, 2)), scale=1.0, df=math.inf) | bad
    with pytest.raises(ForecasterError):
        Predictive(**args)


def test_bad_levels_and_outcome_shapes_are_named():
    d = Predictive(np.zeros((2, 3)), 1.0)
    with pytest.raises(ForecasterError, match="levels"):
        d.quantile([0.0, 0.5])
    with pytest.raises(ForecasterError, match="interval level"):
        d.interval(95)
    with pytest.raises(ForecasterError, match="outcomes of shape"):
        d.crps(np.zeros((3, 3)))
