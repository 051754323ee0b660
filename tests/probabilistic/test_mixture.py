"""The density combination (distributions.Mixture): CRPS against a numerical integral and against the
single-component closed forms, the cdf and quantiles inverse to each other, joining folds."""

import numpy as np
import pytest
from scipy import integrate, special

from forecaster.errors import ForecasterError
from forecaster.probabilistic import distributions
from forecaster.probabilistic.distributions import Mixture, Predictive, concat, mixture_crps


def _crps_by_quad(mix: Mixture, y: float) -> float:
    """integral of (F(x) - 1{x >= y})^2 dx for a (1, 1) mixture, split at the outcome."""
    cdf = lambda x: float(mix.cdf(np.array([[x]]))[0, 0])  # noqa: E731
    below = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, limit=200)[0]
    above = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, np.inf, limit=200)[0]
    return below + above


@pytest.mark.parametrize("df_a, df_b", [(np.inf, np.inf), (np.inf, 5.0), (4.0, 2.5)], ids=["normals", "normal+t5", "t4+t2.5"])
def test_mixture_crps_matches_the_numerical_integral(df_a, df_b):
    a = Predictive([[0.001]], [[0.006]], df_a)
    b = Predictive([[-0.002]], [[0.011]], df_b)
    for w in (0.0, 0.3, 1.0):
        mix = Mixture([w, 1 - w], (a, b))
        for y in (-0.03, -0.004, 0.0, 0.012):
            assert float(mix.crps([[y]])[0, 0]) == pytest.approx(_crps_by_quad(mix, y), rel=2e-5, abs=1e-10), (w, y)


def test_one_component_is_its_closed_form_and_the_weight_grid_reuses_the_parts():
    rng = np.random.default_rng(0)
    a = Predictive(np.zeros((20, 3)), rng.uniform(0.004, 0.01, (20, 3)))
    b = Predictive(np.zeros((20, 3)), rng.uniform(0.004, 0.01, (20, 3)), 6.0)
    y = rng.normal(0, 0.008, (20, 3))
    np.testing.assert_array_equal(Mixture([1.0, 0.0], (a, b)).crps(y), a.crps(y))  # exactly: DM tests see no rounding
    np.testing.assert_array_equal(Mixture([0.0, 1.0], (a, b)).crps(y), b.crps(y))
    np.testing.assert_allclose(Mixture([1.0], (b,)).crps(y), b.crps(y), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(mixture_crps(*Mixture([0.5, 0.5], (a, b)).crps_parts(y), np.array([1.0, 0.0])),
                               a.crps(y), rtol=1e-9, atol=1e-15)
    parts = Mixture([0.5, 0.5], (a, b)).crps_parts(y)
    np.testing.assert_allclose(mixture_crps(*parts, np.array([0.2, 0.8])), Mixture([0.2, 0.8], (a, b)).crps(y))


def test_quantile_inverts_the_cdf_intervals_std_and_concat():
    a = Predictive(np.zeros((4, 2)), np.full((4, 2), 0.005))
    b = Predictive(np.zeros((4, 2)), np.full((4, 2), 0.02), 5.0)
    mix = Mixture([0.7, 0.3], (a, b))
    q = mix.quantile([0.025, 0.5, 0.9])  # (4, 2, 3)
    for i, level in enumerate((0.025, 0.5, 0.9)):
        np.testing.assert_allclose(mix.cdf(q[..., i]), level, atol=1e-9)
    lo, hi = mix.interval(0.8)
    assert np.all(lo < 0) and np.all(hi > 0) and np.all(np.abs(lo + hi) < 1e-12)
    np.testing.assert_allclose(mix.std(), np.sqrt(0.7 * 0.005**2 + 0.3 * 0.02**2 * 5 / 3))
    joined = concat([mix[:2], mix[2:]])
    np.testing.assert_allclose(joined.crps(np.full((4, 2), 0.01)), mix.crps(np.full((4, 2), 0.01)))
    with pytest.raises(ForecasterError, match="sum to 1"):
        Mixture([0.5, 0.6], (a, b))


def test_quantiles_of_cells_with_one_whole_component_are_that_components_and_the_others_invert_the_cdf():
    rng = np.random.default_rng(1)
    a = Predictive(rng.normal(0, 0.001, (30, 3)), rng.uniform(0.004, 0.01, (30, 3)), 6.0)
    b = Predictive(np.zeros((30, 3)), rng.uniform(0.004, 0.02, (30, 3)))
    w = rng.choice([0.0, 0.4, 1.0], size=(30, 3))  # per cell: GARCH-t's alone, split, the model's alone
    mix = Mixture(np.stack([w, 1 - w], -1), (a, b))
    levels = [0.025, 0.1, 0.9, 0.975]
    q = mix.quantile(levels)  # (30, 3, 4)
    whole = np.where((w == 1.0)[..., None], a.quantile(levels), b.quantile(levels))
    np.testing.assert_array_equal(q[w != 0.4], whole[w != 0.4])  # exactly the component's (no bisection)
    for i, level in enumerate(levels):
        np.testing.assert_allclose(mix.cdf(q[..., i])[w == 0.4], level, atol=1e-9)


def test_newton_quantiles_match_the_bisection_reference_and_invert_the_cdf(monkeypatch):
    """Mixture.quantile's safeguarded Newton steps against its bisection (NEWTON_STEPS = 0: every cell
    bisected 60 times), on combinations like the shipped one and on hard ones: heavy tails, a normal
    component, modes ten scales apart, weights near 0 and 1, far levels."""
    rng = np.random.default_rng(7)
    n = 200
    a = Predictive(rng.normal(0, 0.002, (n, 3)), rng.uniform(0.003, 0.02, (n, 3)), rng.choice([2.1, 3.0, 6.0, np.inf], (n, 3)))
    b = Predictive(rng.normal(0, 0.02, (n, 3)) * rng.choice([0.0, 1.0, 10.0], (n, 3)), rng.uniform(0.001, 0.03, (n, 3)), 5.0)
    w = rng.choice([1e-6, 1e-3, 0.3, 0.5, 0.9, 0.999], (n, 3))
    mix = Mixture(np.stack([w, 1 - w], -1), (a, b))
    levels = [0.001, 0.025, 0.1, 0.5, 0.9, 0.975, 0.999]
    fast = mix.quantile(levels)
    monkeypatch.setattr(distributions, "NEWTON_STEPS", 0)
    slow = mix.quantile(levels)
    for q in (fast, slow):
        for i, level in enumerate(levels):
            np.testing.assert_allclose(mix.cdf(q[..., i]), level, rtol=0, atol=1e-12)
    scale = np.maximum(a.scale, b.scale)[..., None]
    density = np.stack([(mix.cdf(fast[..., i] + 1e-7 * scale[..., 0]) - mix.cdf(fast[..., i])) / (1e-7 * scale[..., 0])
                        for i in range(len(levels))], -1) * scale  # f(q) x scale: where it is tiny, q is ill-posed
    sharp = density > 1e-6
    assert sharp.mean() > 0.9
    np.testing.assert_allclose(fast[sharp] / scale.repeat(len(levels), -1)[sharp],
                               slow[sharp] / scale.repeat(len(levels), -1)[sharp], rtol=0, atol=1e-9)


def test_the_cross_term_of_two_t_components_is_exact_to_1e8_at_wide_scale_ratios():
    """E|X_a - X_b| (Gauss-Legendre, MIX_GRID nodes) against scipy's adaptive quadrature of
    F_a (1 - F_b) + F_b (1 - F_a), with scales up to 10 times apart (400 midpoints, the rule before, err by 4e-6 here)."""
    from forecaster.probabilistic.distributions import _cross_abs

    rng = np.random.default_rng(3)
    loc_a, loc_b = rng.normal(0, 0.5, (2, 12))
    scale_a, scale_b = np.exp(rng.uniform(-1.2, 1.2, (2, 12)))
    df_a, df_b = rng.choice([3.0, 3.5, 5.0, 30.0], 12), rng.choice([3.0, 4.0, np.inf], 12)
    a = Predictive(loc_a[:, None], scale_a[:, None], df_a[:, None])
    b = Predictive(loc_b[:, None], scale_b[:, None], df_b[:, None])
    got = _cross_abs(a, b)[:, 0]
    cdf = lambda z, df: special.ndtr(z) if np.isinf(df) else special.stdtr(df, z)  # noqa: E731
    for i in range(12):
        def both(x):  # F_a (1 - F_b) + F_b (1 - F_a), each 1 - F as F(-z): no cancellation in the upper tail
            za, zb = (x - loc_a[i]) / scale_a[i], (x - loc_b[i]) / scale_b[i]
            return cdf(za, df_a[i]) * cdf(-zb, df_b[i]) + cdf(zb, df_b[i]) * cdf(-za, df_a[i])

        want = sum(integrate.quad(both, lo, hi, limit=400, epsabs=1e-13, epsrel=1e-10)[0]
                   for lo, hi in ((-np.inf, -50), (-50, 50), (50, np.inf)))
        assert got[i] == pytest.approx(want, rel=1e-8), (i, got[i], want)
