"""Simulated markets and the oracle's scores: closed forms against numerical integrals, Monte Carlo
against closed forms, the recursions against slow loops, and the risk baselines placed between
historical volatility and the oracle."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from forecaster.backtest import History
from forecaster.probabilistic.risk import ConstantT, GarchT, HistoricalVol, default_risk_models
from forecaster.evaluation.scores import probabilistic_stats
from forecaster.data import PriceSeries, cumulative_returns
from forecaster.data.sources import load_series
from forecaster.errors import ForecasterError
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.oracle import ScaleMixture, fair_crps, filter_crps, gap_closed, monte_carlo_crps, oracle_scores


def _series(path: mk.SimulatedPath) -> PriceSeries:
    return PriceSeries(frame=mk.price_frame(path.returns), pair="EURUSD", source="simulated")


def _histories(series, rows):
    return [History(series, int(t)) for t in rows]


def _crps_by_quad(dist: ScaleMixture, y: float) -> float:
    """integral of (F(x) - 1{x >= y})^2 dx, split at the outcome."""
    cdf = lambda x: float(dist.cdf(np.array([x]))[0])  # noqa: E731
    below = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, limit=200)[0]
    above = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, np.inf, limit=200)[0]
    return below + above


@pytest.mark.parametrize("dist", [
    ScaleMixture([[1.0]], [[0.005]], df=5.0),
    ScaleMixture([[1.0]], [[0.007]]),
    ScaleMixture([[0.3, 0.7]], [[0.004, 0.011]]),
    ScaleMixture([[0.2, 0.5, 0.3]], [[0.002, 0.006, 0.02]]),
], ids=["t5", "normal", "mixture2", "mixture3"])
def test_one_step_crps_matches_the_numerical_integral(dist):
    for y in (-0.03, -0.004, 0.0, 0.0015, 0.012):
        exact = float(dist.crps(np.array([y]))[0])
        assert exact == pytest.approx(_crps_by_quad(dist, y), rel=1e-6, abs=1e-12), y


def test_mixture_quantile_inverts_the_cdf_and_a_single_law_is_a_predictive():
    dist = ScaleMixture([[0.3, 0.7], [0.9, 0.1]], [[0.004, 0.011], [0.003, 0.02]])
    q = dist.quantile([0.025, 0.5, 0.9])  # (2, 3)
    mixed_cdf = np.sum(dist.weights[:, None] * stats.norm.cdf(q[..., None] / dist.scales[:, None]), -1)  # (2, 3)
    np.testing.assert_allclose(mixed_cdf, np.broadcast_to([0.025, 0.5, 0.9], (2, 3)), atol=1e-9)
    single = ScaleMixture(np.ones((3, 1)), np.array([[0.004], [0.005], [0.006]]), df=6.0)
    pred = single.to_predictive()
    y = np.array([0.001, -0.01, 0.02])
    np.testing.assert_allclose(pred.crps(y[:, None])[:, 0], single.crps(y))
    with pytest.raises(ForecasterError, match="no closed form"):
        ScaleMixture([[0.5, 0.5]], [[0.01, 0.02]], df=5.0).crps(np.array([0.0]))


def test_fair_crps_is_unbiased_where_the_plain_ensemble_crps_is_not():
    rng = np.random.default_rng(0)
    n, m = 20000, 8
    y = rng.standard_normal(n)
    draws = rng.standard_normal((n, m))
    exact = ScaleMixture(np.ones((n, 1)), np.ones((n, 1))).crps(y)
    fair = fair_crps(draws, y)
    se = np.std(fair - exact) / math.sqrt(n)
    assert abs(np.mean(fair - exact)) < 4 * se
    plain = np.mean(np.abs(draws - y[:, None]), 1) - np.mean(np.abs(draws[:, :, None] - draws[:, None, :]), (1, 2)) / 2
    assert np.mean(plain - exact) > 10 * se  # biased upwards by E|X - X'| / (2M) = 0.07


@pytest.mark.parametrize("market", [mk.GarchMarket(), mk.MarkovSwitchingMarket(), mk.HarchMarket()],
                         ids=lambda m: m.name)
def test_monte_carlo_oracle_converges_to_the_closed_form_at_step_one(market):
    path = market.simulate(1500, seed=4)
    origins = np.arange(1000, 1400)
    scores = oracle_scores(market, path, origins, horizon=3, n_paths=2000, seed=1)
    exact, mc = scores.crps[:, 0].mean(), scores.mc_step1.mean()
    assert 0 < scores.mc_step1_se < 0.002 * exact
    assert abs(mc - exact) < 4 * scores.mc_step1_se, (mc, exact, scores.mc_step1_se)
    assert scores.se[0] == 0 and np.all(scores.se[1:] > 0)
    assert np.all(np.diff(scores.crps.mean(0)) > 0)  # wider targets, larger CRPS


def test_paths_are_raised_until_the_error_is_a_tenth_of_the_gap():
    market = mk.GarchMarket()
    path = market.simulate(600, seed=2)
    origins = np.arange(400, 450)
    first = oracle_scores(market, path, origins, horizon=2, n_paths=64)
    narrow_gap = first.crps + 3 * first.se  # a hist-vol CRPS only 3 standard errors above the oracle's
    again = oracle_scores(market, path, origins, horizon=2, n_paths=64, crps_histvol=narrow_gap, max_paths=4096)
    assert 64 < again.n_paths <= 4096
    assert np.all(again.precision(narrow_gap)[1:] < first.precision(narrow_gap)[1:])


@pytest.mark.parametrize("market", list(mk.MARKETS.values()), ids=list(mk.MARKETS))
def test_simulate_is_seeded_and_its_oracle_is_calibrated(market):
    a, b, c = market.simulate(3000, seed=7), market.simulate(3000, seed=7), market.simulate(3000, seed=8)
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.allclose(a.returns, c.returns)
    path = market.simulate(20000, seed=11)
    r, sd = path.returns, path.true_sd()
    # the oracle's law is the law of each return: standardised squares average 1, the PIT is uniform
    assert np.mean(r**2 / sd**2) == pytest.approx(1.0, abs=0.05)
    u = path.one_step.cdf(r)
    assert np.all(stats.kstest(np.ravel(u), "uniform").pvalue > 0.01)


@pytest.mark.parametrize("market, var", [
    (mk.IidTMarket(), mk.VOL**2), (mk.GarchMarket(), mk.VOL**2), (mk.GjrGarchMarket(), mk.VOL**2),
    (mk.MarkovSwitchingMarket(), mk.MarkovSwitchingMarket().unconditional_var),
    (mk.FactorMarket(), np.square(mk.FactorMarket().vols)),
], ids=lambda v: getattr(v, "name", ""))
def test_unconditional_variance_is_the_theory(market, var):
    path = market.simulate(30000, seed=5)
    np.testing.assert_allclose(np.mean(path.returns**2, axis=0), var, rtol=0.12)


def test_harch_unconditional_variance_over_long_runs():
    m = mk.HarchMarket()
    got = np.mean([np.mean(m.simulate(20000, seed=s).returns ** 2) for s in range(3)])
    assert got == pytest.approx(mk.VOL**2, rel=0.2)  # long memory: the variance of a run settles slowly
    assert 0.8 < sum(m.weights) < 1


def test_harch_continuation_matches_a_slow_window_loop():
    m = mk.HarchMarket()
    path = m.simulate(400, seed=3)
    origins, horizon, n_paths = np.array([0, 3, 130, 300]), 6, 5
    got = m.continue_paths(path, origins, horizon, n_paths, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    z = np.stack([mk._unit_t(rng, m.df, (len(origins), n_paths)) for _ in range(horizon)], -1)  # same draw order
    squares, pre = path.state["squares"], path.state["pre"]  # squares[pre + t] = r_t^2
    np.testing.assert_allclose(squares[pre:], path.returns**2, rtol=1e-12)
    for i, t in enumerate(origins):
        for p in range(n_paths):
            window = list(squares[: pre + t])  # every square before r_t
            for j in range(horizon):
                var = m.omega + sum(a * np.mean(window[-k:]) for a, k in zip(m.weights, m.lags))
                x = math.sqrt(var) * z[i, p, j]
                assert got[i, p, j] == pytest.approx(x, rel=1e-9)
                window.append(x * x)
    np.testing.assert_allclose(path.one_step.std() ** 2, path.state["var"], rtol=1e-12)  # the one-step law's variance


def test_targets_are_the_backtest_targets_and_the_csv_round_trips(tmp_path):
    market = mk.GjrGarchMarket()
    path = market.simulate(800, seed=1)
    frame = mk.price_frame(path.returns)
    assert len(frame) == 801 and frame["close"].iloc[0] == 1.0 and frame.index[0].isoformat()[:10] == "1990-01-01"
    origins, horizon = np.arange(500, 795), 5
    np.testing.assert_allclose(cumulative_returns(np.log(frame["close"].to_numpy()), origins, horizon),
                               path.targets(origins, horizon), atol=1e-14)
    file = mk.write_csv(tmp_path / "sim.csv", frame)
    series = load_series("EURUSD", source="csv", path=str(file))
    assert len(series.frame) == 801 and series.frame.index.equals(frame.index)
    np.testing.assert_allclose(np.diff(np.log(series.frame["close"].to_numpy())), path.returns, atol=1e-13)
    with pytest.raises(ForecasterError, match="one column at a time"):
        mk.price_frame(mk.FactorMarket().simulate(50, seed=0).returns)


def test_factor_market_oracle_knows_the_latent_factor():
    market = mk.FactorMarket()
    path = market.simulate(3000, seed=2)
    assert path.returns.shape == (3000, market.pairs) and path.one_step.shape == (3000, market.pairs)
    log_var = np.log(path.true_sd() ** 2)  # (n, P): every pair's variance moves with the one factor
    assert np.all(np.corrcoef(log_var.T)[np.triu_indices(market.pairs, 1)] > 0.4)
    scores = oracle_scores(market, path, np.arange(2500, 2900), horizon=2, n_paths=800)
    assert scores.crps.shape == (400, 2, market.pairs) and scores.se.shape == (2, market.pairs)
    assert np.all(np.abs(scores.mc_step1.mean(0) - scores.crps[:, 0].mean(0)) < 4 * scores.mc_step1_se)


def test_the_factor_filter_tracks_the_latent_factor_better_from_every_pair_than_from_one():
    market = mk.FactorMarket()
    path = market.simulate(2500, seed=3)
    origins = np.arange(500, 2500)
    truth = path.state["x"][origins]
    corr = {}
    for seen in ([0], [1], [2], [3], [0, 1, 2, 3]):
        particles = market.filter(path.returns, origins, seen, 300, np.random.default_rng(0))
        assert particles["x"].shape == (2000, 300) and particles["h"].shape == (2000, 300, market.pairs)
        corr[len(seen), seen[0]] = np.corrcoef(particles["x"].mean(1), truth)[0, 1]
    singles = [corr[1, i] for i in range(market.pairs)]
    assert corr[4, 0] > 0.6 and corr[4, 0] > max(singles) + 0.05 and min(singles) > 0.1, corr


def test_filter_crps_with_the_true_state_is_the_oracle_draw_for_draw(monkeypatch):
    """The plumbing of filter_crps (particles continued one path each, reshaped into draws): given a filter
    whose particles are all the true state, it draws what monte_carlo_crps draws, in the same order."""
    market = mk.FactorMarket()
    path = market.simulate(400, seed=1)
    origins = np.arange(300, 390)

    def exact(returns, origins, seen, n_particles, rng):
        return {k: np.repeat(path.state[k][origins][:, None], n_particles, axis=1) for k in ("x", "h")}

    monkeypatch.setattr(market, "filter", exact)
    np.testing.assert_allclose(filter_crps(market, path, origins, 3, [0], 64, seed=5),
                               monte_carlo_crps(market, path, origins, 3, 64, seed=5)[0], rtol=1e-12)


def test_gap_closed_is_the_ratio_of_mean_differences():
    hv = np.array([[3.0, 5.0], [5.0, 7.0]])
    oracle = hv - np.array([[1.0, 2.0], [3.0, 2.0]])
    model = hv - np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(gap_closed(hv, model, oracle), [0.25, 0.5])  # (1 + 0) / (1 + 3), (0 + 2) / (2 + 2)
    assert gap_closed(hv, model, oracle, axis=None) == pytest.approx(3 / 8)
    assert gap_closed(hv, oracle, oracle, axis=None) == 1.0 and gap_closed(hv, hv, oracle, axis=None) == 0.0
    with pytest.raises(ForecasterError, match="same origins"):
        gap_closed(hv, model[:1], oracle)


def test_garch_t_baseline_closes_the_gap_on_a_long_garch_series():
    market = mk.GarchMarket()
    path = market.simulate(6000, seed=0)
    series = _series(path)
    train_end, horizon = 3000, 1
    origins = np.arange(train_end, len(path) - horizon + 1)  # rows with a step-1 target
    crps = {}
    for model in (GarchT(horizon), HistoricalVol(horizon)):
        model.fit(History(series, train_end - 1))
        dist = model.distribution(_histories(series, origins))
        crps[model.name] = dist.crps(path.targets(origins, horizon))[:, 0]
    oracle = path.one_step[origins].crps(path.targets(origins, 1)[:, 0])
    closed = gap_closed(crps["hist_vol"], crps["garch_t"], oracle, axis=None)
    assert closed >= 0.9, closed
    assert np.mean(crps["hist_vol"]) > np.mean(oracle) * 1.01  # the gap is there to close


def test_no_risk_model_beats_a_constant_t_on_the_iid_market():
    market = mk.IidTMarket()
    path = market.simulate(3000, seed=6)
    series = _series(path)
    train_end, horizon = 1500, 2
    origins = np.arange(train_end, len(path) - horizon + 1)
    models = default_risk_models(horizon) + [ConstantT(horizon)]
    dists = {}
    for model in models:
        model.fit(History(series, train_end - 1))
        dists[model.name] = model.distribution(_histories(series, origins))
    stats_ = probabilistic_stats(dists, path.targets(origins, horizon), against=["constant_t"])["models"]
    for name in dists:
        if name == "constant_t":
            continue
        dm = stats_[name]["dm_crps"]["constant_t"]
        p_values = [dm["overall"]["p_better"]] + [row["p_better"] for row in dm["per_step"]]
        assert min(p_values) >= 0.05, (name, p_values)
