"""Adaptive conformal inference over a walk-forward test: coverage after a volatility regime change,
the delay of multi-step outcomes (no look-ahead), and the static option."""

import numpy as np
import pytest
from scipy import stats

from forecaster.errors import ForecasterError
from forecaster.probabilistic.intervals import (
    AdaptiveConformal, OnlineConformalConfig, conformal_quantile, conformalize, conformalize_bands,
    conformity_scores,
)


def _regime_change(n=2000, horizon=2, seed=0):
    """Cumulative returns of a series whose volatility triples halfway, and a model that never
    notices: Gaussian intervals for unit volatility at every origin."""
    rng = np.random.default_rng(seed)
    sigma = np.where(np.arange(n + horizon) < n // 2, 1.0, 3.0)
    p = np.concatenate([[0.0], np.cumsum(rng.normal(0, 1, n + horizon) * sigma)])
    origins = np.arange(n)
    actual = p[origins[:, None] + np.arange(1, horizon + 1)] - p[origins][:, None]  # (N, H)
    bands = {}
    for level in (0.8, 0.95):
        half = stats.norm.ppf((1 + level) / 2) * np.sqrt(np.arange(1, horizon + 1))
        bands[level] = (np.broadcast_to(-half, (n, horizon)), np.broadcast_to(half, (n, horizon)))
    return actual, bands


@pytest.mark.parametrize("seed", [0, 1])
def test_aci_keeps_coverage_after_a_volatility_regime_change_where_static_does_not(seed):
    actual, bands = _regime_change(seed=seed)
    cal, test = slice(0, 500), slice(500, None)  # calibrate on the first quarter (calm), test the rest
    second_half = slice(500, None)  # of the test rows: origins 1000.. (all in the storm)
    for level, (lo, hi) in bands.items():
        scores = conformity_scores(lo[cal], hi[cal], actual[cal])
        origins = np.arange(len(actual))[test]
        online = conformalize(lo[test], hi[test], actual[test], level, origins=origins, calibration=scores)
        static = conformalize(lo[test], hi[test], actual[test], level, OnlineConformalConfig(method="static"),
                              origins=origins, calibration=scores)
        y = actual[test]
        for name, res, ok in (("aci", online, True), ("static", static, False)):
            cover = ((y >= res["lower"]) & (y <= res["upper"]))[second_half].mean(axis=0)  # (H,)
            if ok:
                assert np.all(np.abs(cover - level) <= 0.03), (name, level, cover)
            else:
                assert np.all(cover < level - 0.3), (name, level, cover)
        assert np.all(online["factor"][-100:] > 2.0)  # widened about 3x, as the volatility did


def test_a_step_h_outcome_is_used_only_h_bars_after_its_origin():
    actual, bands = _regime_change(n=400, horizon=3, seed=2)
    lo, hi = bands[0.8]
    lo, hi = np.broadcast_to(lo[:, :1] * [1, 1.4, 1.7], lo.shape), np.broadcast_to(hi[:, :1] * [1, 1.4, 1.7], hi.shape)
    cfg = OnlineConformalConfig(gamma=0.05, window=50, min_scores=5)
    k = 100
    for h in range(3):
        hit, miss = actual.copy(), actual.copy()
        hit[k, h], miss[k, h] = 0.0, 1e3  # the centre, or a far miss, realised h + 1 bars after origin k
        base, res = conformalize(lo, hi, hit, 0.8, cfg), conformalize(lo, hi, miss, 0.8, cfg)
        known = k + h + 1
        np.testing.assert_array_equal(res["factor"][:known], base["factor"][:known])
        np.testing.assert_array_equal(res["alpha"][:known], base["alpha"][:known])
        assert res["alpha"][known, h] < base["alpha"][known, h]  # the miss lowers alpha_t at once ...
        others = [s for s in range(3) if s != h]
        np.testing.assert_array_equal(res["factor"][:, others], base["factor"][:, others])  # ... of step h only


def test_origins_with_gaps_delay_by_bar_rows():
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, (60, 2))
    lo, hi = -np.ones((60, 2)), np.ones((60, 2))
    origins = np.arange(60) * 5  # weekly origins on daily bars: every outcome is known by the next origin
    cfg = OnlineConformalConfig(gamma=0.05, min_scores=1)
    res = conformalize(lo, hi, y, 0.8, cfg, origins=origins)
    consecutive = conformalize(lo, hi, y, 0.8, cfg)
    assert res["alpha"][1, 1] != 0.2 and consecutive["alpha"][1, 1] == pytest.approx(0.2)


def test_static_factor_is_the_split_conformal_quantile():
    rng = np.random.default_rng(4)
    cal = np.abs(rng.normal(0, 1, (99, 2)))
    y = rng.normal(0, 1, (30, 2))
    res = conformalize(-np.ones((30, 2)), np.ones((30, 2)), y, 0.9, OnlineConformalConfig(method="static"),
                       calibration=cal)
    np.testing.assert_allclose(res["factor"], np.broadcast_to(conformal_quantile(cal, 0.9), (30, 2)))
    state = AdaptiveConformal(0.9, OnlineConformalConfig(), calibration=cal[:, 0])
    assert state.factor() == pytest.approx(conformal_quantile(cal[:, :1], 0.9)[0])


def test_conformalize_bands_keeps_the_backtest_layout():
    actual, bands = _regime_change(n=300)
    out = conformalize_bands(bands, actual)
    assert set(out) == {0.8, 0.95} and out[0.95][0].shape == actual.shape
    single = conformalize(*bands[0.95], actual, 0.95)
    np.testing.assert_array_equal(out[0.95][0], single["lower"])  # each level recalibrated on its own
    assert np.all(out[0.8][0] < out[0.8][1])


@pytest.mark.parametrize("bad", [dict(method="rolling"), dict(gamma=-0.1), dict(min_scores=0), dict(window=-1)])
def test_bad_config_is_named(bad):
    with pytest.raises(ForecasterError):
        OnlineConformalConfig(**bad)


def test_static_without_calibration_and_zero_width_are_named():
    y = np.zeros((5, 1))
    with pytest.raises(ForecasterError, match="calibration"):
        conformalize(-np.ones((5, 1)), np.ones((5, 1)), y, 0.8, OnlineConformalConfig(method="static"))
    with pytest.raises(ForecasterError, match="positive width"):
        conformalize(np.zeros((5, 1)), np.zeros((5, 1)), y, 0.8)
