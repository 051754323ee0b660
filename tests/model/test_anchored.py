"""The anchored Mamba (forecaster.model.anchored): untrained it is its anchor exactly (EWMA; in the default
Student-t family EWMA's sd in the t of GARCH-t's df), its inputs are causal,
trained on a GARCH market its scale tracks the true conditional volatility and its CRPS beats
historical volatility, and the walk-forward runs it with its distributions collected."""

import math
from dataclasses import replace

import numpy as np
import torch
import pytest
from scipy import stats

from forecaster.backtest import History, run_backtest
from forecaster.backtest.neural import AnchoredMambaModel
from forecaster.configs import AnchoredConfig, BacktestConfig
from forecaster.data import PriceSeries
from forecaster.errors import ForecasterError
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.distributions import Mixture, Predictive, t_scale
from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol
from forecaster.model import anchored as an

FAST = AnchoredConfig(members=1, epochs=6, chunk=256, warm=50)  # a few seconds on one thread


def _garch_series(n: int, seed: int):
    path = mk.GarchMarket().simulate(n, seed=seed)
    return path, PriceSeries(frame=mk.price_frame(path.returns), pair="EURUSD", source="simulated")


def _untrained(history: History, cfg: AnchoredConfig) -> an.AnchoredFit:
    ewma, garch = EWMA(cfg.horizon), GarchT(cfg.horizon)
    ewma.fit(history)
    garch.fit(history)
    nets = [an.AnchoredNet(2 + len(cfg.spans), cfg).eval() for _ in range(cfg.members)]
    return an.AnchoredFit(nets=nets, ewma=ewma, garch=garch, base=0.5 * math.log(ewma.start_var), cfg=cfg, weight=0.5,
                          df=garch.df if cfg.family == "student_t" else math.inf)


@pytest.mark.parametrize("skip", [False, True], ids=["mamba", "with_skip"])
def test_the_untrained_normal_model_is_the_ewma_anchor_exactly(skip):
    _, series = _garch_series(1500, seed=3)
    fit = _untrained(History(series, 1000), AnchoredConfig(members=2, chunk=256, warm=50, family="normal", skip=skip))
    histories = [History(series, t) for t in range(1001, 1200)]
    model, combined = fit.distributions(histories)
    ewma = fit.ewma.distribution(histories)
    assert model.df == math.inf and ewma.df == math.inf  # the same family: normal
    np.testing.assert_allclose(model.scale, ewma.scale, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(model.loc, 0.0)
    p = np.log(series.frame["close"].to_numpy())
    actual = p[np.arange(1001, 1200)[:, None] + np.arange(1, 6)] - p[np.arange(1001, 1200)][:, None]
    np.testing.assert_allclose(model.crps(actual), ewma.crps(actual), rtol=1e-12)
    assert isinstance(combined, Mixture) and combined.weights[0, 0, 0] == 0.5


def test_the_untrained_student_t_model_is_ewmas_sd_in_garch_ts_t_and_its_loss_is_that_t_s_crps():
    _, series = _garch_series(1500, seed=3)
    fit = _untrained(History(series, 1000), AnchoredConfig(members=1, chunk=256, warm=50))  # the default family
    assert fit.cfg.family == "student_t" and fit.anchor == f"EWMA 0.94 in a Student-t of {fit.garch.df:.1f} df"
    histories = [History(series, t) for t in range(1001, 1100)]
    model, _ = fit.distributions(histories)
    ewma = fit.ewma.distribution(histories)
    assert model.df == fit.garch.df and 2 < model.df < 30
    sd = model.scale * np.sqrt(model.df / (model.df - 2))  # the t's standard deviation
    np.testing.assert_allclose(sd, ewma.scale, rtol=1e-12, atol=0)  # EWMA's (normal) scale is its sd
    g, y = torch.zeros(1, 3, 2), torch.tensor([[[0.5, -1.0], [2.0, 0.1], [math.nan, 3.0]]])
    t = stats.t(model.df, scale=t_scale(1.0, model.df))
    draws = t.rvs(size=400_000, random_state=np.random.default_rng(0))
    by_sampling = np.mean(np.abs(draws[:, None] - np.array([0.5, -1.0, 2.0, 0.1, 3.0])), 0) \
        - 0.5 * np.mean(np.abs(draws[:200_000] - draws[200_000:]))
    assert float(an.anchored_crps(g, y, df=model.df)) == pytest.approx(by_sampling.mean(), rel=5e-3)
    assert float(an.anchored_crps(g, y, df=model.df)) != pytest.approx(float(an.anchored_crps(g, y)), rel=1e-4)


def test_an_unknown_family_is_refused_with_the_choices():
    with pytest.raises(ForecasterError, match="family='t' is invalid: accepted normal or student_t"):
        AnchoredConfig(family="t")


def test_a_student_t_fit_saves_and_reloads_its_df_a_skip_path_and_the_abs_z_input():
    path, series = _garch_series(2600, seed=2)
    fit = an.fit_anchored(History(series, 2000), replace(FAST, epochs=1, skip=True, abs_z=True))
    assert fit.nets[0].skip is not None and bool(fit.nets[0].skip.weight.abs().sum() > 0)  # trained off zero
    x = an.features(path.returns[:100], fit.ewma, fit.base, fit.cfg)
    assert fit.nets[0].inp.in_features == x.shape[1] == an.n_inputs(replace(fit.cfg, abs_z=False), False) + 1
    np.testing.assert_array_equal(x[:, 1], np.abs(x[:, 0]))  # |z| beside z
    assert fit.df == fit.garch.df and fit.meta["df"] == fit.df
    back = an.AnchoredFit.from_saved(fit.state_dict(), fit.meta)
    hs = [History(series, t) for t in (2100, 2200)]
    np.testing.assert_array_equal(back.distributions(hs)[0].scale, fit.distributions(hs)[0].scale)
    assert back.distributions(hs)[0].df == fit.df
    normal = an.AnchoredFit.from_saved(fit.state_dict(), {**fit.meta, "df": None})
    assert normal.df == math.inf


def test_inputs_and_forecasts_are_causal():
    path, series = _garch_series(1500, seed=4)
    r = path.returns.copy()
    fit = _untrained(History(series, 1000), AnchoredConfig(members=1))
    with_shock = r.copy()
    with_shock[1200] += 0.08  # a planted shock after origin row 1200 (it is r_1200, seen first at row 1201)
    a = an.features(r, fit.ewma, fit.base, fit.cfg)
    b = an.features(with_shock, fit.ewma, fit.base, fit.cfg)
    np.testing.assert_array_equal(a[:1200], b[:1200])
    assert np.all(np.abs(b[1200:1300] - a[1200:1300]).max(1) > 0)
    for net in fit.nets:  # a trained-looking head: the network's own output, not the zero head
        net.head.weight.data.normal_(0, 0.5)
    idx = np.arange(900, 1200)
    np.testing.assert_array_equal(an.corrections(fit.nets, a, idx, fit.cfg), an.corrections(fit.nets, b, idx, fit.cfg))
    assert not np.array_equal(an.corrections(fit.nets, a, idx + 50, fit.cfg), an.corrections(fit.nets, b, idx + 50, fit.cfg))


def test_each_origin_is_read_in_its_own_chunk_whatever_the_batch():
    _, series = _garch_series(1500, seed=5)
    fit = _untrained(History(series, 1000), AnchoredConfig(members=2, chunk=256, warm=50))
    for net in fit.nets:
        net.head.weight.data.normal_(0, 0.5)
    x = an.features(np.diff(np.log(series.frame["close"].to_numpy())), fit.ewma, fit.base, fit.cfg)
    idx = np.arange(10, 1400, 7)
    batch = an.corrections(fit.nets, x, idx, fit.cfg)  # (N, H)
    starts = an.tile_starts(idx, fit.cfg)
    assert np.all((idx - starts >= fit.cfg.warm) | (starts == 0)) and np.all(idx - starts < fit.cfg.chunk)
    for k in (0, 5, 100, len(idx) - 1):
        alone = an.corrections(fit.nets, x, idx[k : k + 1], fit.cfg)[0]
        with torch.no_grad():
            direct = np.mean([net(torch.from_numpy(x[None, starts[k] : idx[k] + 1]))[0, -1].double().numpy()
                              for net in fit.nets], axis=0)
        np.testing.assert_allclose(alone, batch[k], rtol=0, atol=1e-6)
        np.testing.assert_allclose(direct, batch[k], rtol=0, atol=1e-6)


def test_trained_on_a_garch_market_it_tracks_the_true_volatility_and_beats_hist_vol():
    path, series = _garch_series(2600, seed=1)
    fit = an.fit_anchored(History(series, 2000), FAST)
    rows = np.arange(2001, 2595)
    histories = [History(series, int(t)) for t in rows]
    model, combined = fit.distributions(histories)
    actual = path.targets(rows, FAST.horizon)
    hist_vol = HistoricalVol(FAST.horizon).distribution(histories)
    assert model.crps(actual).mean() < hist_vol.crps(actual).mean()
    assert combined.crps(actual).mean() < hist_vol.crps(actual).mean()
    rho = stats.spearmanr(model.scale[:, 0], path.true_sd()[rows]).statistic  # row t's step 1 is r_t
    assert rho > 0.5
    assert 0.0 <= fit.weight <= 1.0 and set(fit.log["validation"]) >= {"ewma", "garch_t", "model", "combined"}
    assert fit.log["members"][0]["best_val_crps"] <= fit.log["members"][0]["anchor_val_crps"]


def test_the_walk_forward_runs_it_with_both_distributions_collected():
    _, series = _garch_series(1800, seed=2)
    net = AnchoredMambaModel(AnchoredConfig(**{**FAST.to_dict(), "horizon": 2, "epochs": 2}))
    ewma = EWMA(2)
    result = run_backtest(series, [net, net.raw(), ewma], BacktestConfig(horizon=2, test_years=1.0, folds=2))
    assert isinstance(result.distributions["mamba"], Mixture)
    assert isinstance(result.distributions["mamba_raw"], Predictive)
    assert result.distributions["mamba"].shape == result.actual.shape
    assert len(net.fit_log) == 2 and all(0 <= f["weight"] <= 1 for f in net.fit_log)  # one fit per fold, shared
    assert all(f["partner"] in ("gjr_t", "figarch_t") and f["partner_note"] is None for f in net.fit_log)
    assert {"mamba", "mamba_raw", "ewma"} <= set(result.prob_stats["models"])
    assert np.all(np.isfinite(result.distributions["mamba"].crps(result.actual)))


def test_the_scale_gate_keeps_a_weight_only_with_a_significant_gain():
    _, series = _garch_series(2600, seed=2)  # a draw whose validation gives the network weight 1
    history = History(series, 2000)
    fit = an.fit_anchored(history, FAST)
    r = np.diff(history.log_close())
    rows = fit.log["rows"]
    idx = np.arange(rows["train"] + rows["early_stopping"], rows["train"] + rows["early_stopping"] + rows["combination"])
    y = an.targets(r, FAST.horizon)[idx]

    def scores(gate):
        return an._validation_scores(replace(fit, cfg=replace(fit.cfg, gate=gate)), history, idx, y)

    free = scores(None)
    assert "gate" not in free and free["weight"] == fit.weight > 0  # this draw's validation wants the network
    strict, loose = scores(1e-12), scores(0.999)  # nothing is that significant; almost anything is
    assert strict["weight"] == 0.0 and strict["combined"] == strict["by_weight"][0]
    assert strict["gate"]["kept"] is False and strict["gate"]["weight_chosen"] == free["weight"]
    assert loose["weight"] == free["weight"] and loose["gate"]["kept"] is True
    assert 0 <= strict["gate"]["p_better"] <= 1


def _factor_panel(n: int, seed: int) -> dict:
    """pair -> PriceSeries of the factor market's pairs on common dates."""
    path = mk.FactorMarket().simulate(n, seed=seed)
    return {f"P{i}USD": PriceSeries(frame=mk.price_frame(path.returns[:, i]), pair=f"P{i}USD", source="simulated")
            for i in range(path.returns.shape[1])}


def test_the_cross_pair_model_reads_the_other_pairs_causally_and_says_when_they_are_missing():
    panel = _factor_panel(1500, seed=6)
    cfg = replace(FAST, epochs=2, cross_pairs=True)
    fit = an.fit_anchored(History(panel, 1100), cfg)
    assert list(fit.context) == ["P1USD", "P2USD", "P3USD"]
    assert fit.nets[0].inp.in_features == an.n_inputs(cfg, cross=True) == 2 * (2 + len(cfg.spans))
    single = an.fit_anchored(History(panel, 1100), replace(cfg, cross_pairs=False))  # the same history, one pair read
    assert single.context == {} and single.nets[0].inp.in_features == an.n_inputs(cfg, cross=False)
    # the context: each pair's own inputs (its EWMA fitted on its rows), |z| for z, averaged; nothing after the row
    r = {q: np.diff(np.log(s.frame["close"].to_numpy()[:1401])) for q, s in panel.items()}
    _, x = an.inputs(History(panel, 1400), 0, fit.ewma, fit.base, fit.context, cfg)
    own = [an.features(r["P0USD"], fit.ewma, fit.base, cfg)] + [an.features(r[q], e, b, cfg) for q, (e, b) in fit.context.items()]
    np.testing.assert_allclose(x[:, 6:], np.mean([np.c_[np.abs(f[:, :1]), f[:, 1:]] for f in own], 0), rtol=1e-6)
    shocked = dict(panel)
    frame = panel["P2USD"].frame.copy()
    frame.iloc[1301:, frame.columns.get_loc("close")] *= 1.05  # another pair jumps at row 1301
    shocked["P2USD"] = PriceSeries(frame=frame, pair="P2USD", source="simulated")
    for net in fit.nets:
        net.head.weight.data.normal_(0, 0.5)
    before = [History(panel, t) for t in range(1200, 1301)]
    after = [History(shocked, t) for t in range(1200, 1301)]
    np.testing.assert_array_equal(fit.distributions(before)[0].scale, fit.distributions(after)[0].scale)
    assert not np.array_equal(fit.distributions([History(panel, 1301)])[0].scale,
                              fit.distributions([History(shocked, 1301)])[0].scale)
    with pytest.raises(ForecasterError, match="lacks P1USD, P2USD, P3USD"):
        fit.distributions([History(panel["P0USD"], 1200)])
    loaded = an.AnchoredFit.from_saved(fit.state_dict(), fit.meta)  # what a saved model holds
    np.testing.assert_array_equal(loaded.distributions(before)[0].scale, fit.distributions(before)[0].scale)


def test_a_pooled_cross_pair_fit_trains_on_every_pair_read_as_its_own_model_reads_it():
    panel = _factor_panel(1500, seed=6)
    cfg = replace(FAST, epochs=1, cross_pairs=True, pool=True)
    history = History(panel, 1100)
    fit = an.fit_anchored(history, cfg)
    assert fit.log["sequences"] == 4 and list(fit.context) == ["P1USD", "P2USD", "P3USD"]
    seqs = an._other_pairs(history, fit.ewma, fit.base, fit.context, cfg)
    _, x0 = an.inputs(history, 0, fit.ewma, fit.base, fit.context, cfg)
    for (r_q, x_q, ewma_q), q in zip(seqs, fit.context):
        assert ewma_q is fit.context[q][0]
        np.testing.assert_allclose(r_q, np.diff(np.log(panel[q].frame["close"].to_numpy()[:1101])))
        np.testing.assert_array_equal(x_q[:, :6], an.features(r_q, ewma_q, fit.context[q][1], cfg))  # its own inputs
        np.testing.assert_allclose(x_q[:, 6:], x0[:, 6:], rtol=1e-6, atol=1e-6)  # the same context: every pair's average (float32)
    with pytest.raises(ForecasterError, match="needs cross_pairs=True"):
        AnchoredConfig(pool=True)


def test_the_walk_forward_hands_the_cross_pair_model_every_pair():
    panel = _factor_panel(1600, seed=7)
    main, others = panel["P0USD"], {q: s for q, s in panel.items() if q != "P0USD"}
    cross = AnchoredMambaModel(replace(FAST, horizon=2, epochs=1, cross_pairs=True), name="mamba_global")
    single = AnchoredMambaModel(replace(FAST, horizon=2, epochs=1))
    result = run_backtest(main, [cross, single], BacktestConfig(horizon=2, test_years=1.0, retrain_every=0),
                          context=others)
    assert list(cross.fitted.context) == list(others) and single.fitted.context == {}
    assert result.distributions["mamba_global"].shape == result.actual.shape
    frame = others["P1USD"].frame.iloc[1:]
    with pytest.raises(ForecasterError, match="dates differ"):
        run_backtest(main, [single], BacktestConfig(horizon=2, test_years=1.0),
                     context={"P1USD": PriceSeries(frame=frame, pair="P1USD", source="simulated")})


def test_min_epochs_never_keeps_an_untrained_member():
    _, series = _garch_series(2600, seed=2)
    history = History(series, 2000)
    free = an.fit_anchored(history, replace(FAST, epochs=3, patience=1, lr=3e-1, min_epochs=0))  # epoch 1 made worse
    default = an.fit_anchored(history, replace(FAST, epochs=3, patience=1, lr=3e-1))
    forced = an.fit_anchored(history, replace(FAST, epochs=3, patience=1, lr=3e-1, min_epochs=2))
    assert free.log["members"][0]["best_epoch"] == 0  # early stopping kept the anchor itself
    assert default.log["members"][0]["best_epoch"] >= 1  # the default never ships an untrained member
    assert forced.log["members"][0]["best_epoch"] >= 2


def test_with_raw_lines_up_the_ensemble_beside_a_combination_only():
    assert [m.name for m in AnchoredMambaModel(FAST).with_raw()] == ["mamba", "mamba_raw"]
    assert [m.name for m in AnchoredMambaModel(replace(FAST, combine=False)).with_raw()] == ["mamba"]


def test_the_shipped_partner_is_gjr_garch_t_fitted_on_the_training_rows_and_saved_with_the_model():
    path = mk.GjrGarchMarket(alpha=0.02, gamma=0.10, beta=0.90, df=6.0).simulate(2600, seed=5)
    series = PriceSeries(frame=mk.price_frame(path.returns), pair="EURUSD", source="simulated")
    fit = an.fit_anchored(History(series, 2000), replace(FAST, epochs=1))
    assert fit.other is not None and fit.partner is fit.other and fit.partner.name == "gjr_t"
    assert fit.other.params["gamma[1]"] > 0.03  # the leverage term, which the GARCH-t beside it lacks
    hs = [History(series, t) for t in (2100, 2300)]
    _, shipped = fit.distributions(hs)
    gjr, garch = fit.other.distribution(hs), fit.garch.distribution(hs)
    np.testing.assert_array_equal(shipped.components[1].scale, gjr.scale)
    assert not np.allclose(gjr.scale, garch.scale)
    back = an.AnchoredFit.from_saved(fit.state_dict(), fit.meta)
    np.testing.assert_array_equal(back.distributions(hs)[1].quantile([0.1, 0.9]), shipped.quantile([0.1, 0.9]))
    legacy = {k: v for k, v in fit.meta.items() if k != "other"} | {"gjr": {"params": fit.meta["other"]["params"],
                                                                         "fit_start": fit.meta["other"]["fit_start"]}}
    old = an.AnchoredFit.from_saved(fit.state_dict(), legacy)  # saved by the sixth session: its partner under "gjr"
    assert old.partner.name == "gjr_t" and np.array_equal(old.distributions(hs)[1].quantile([0.5]), shipped.quantile([0.5]))
    with pytest.raises(ForecasterError, match="partner='egarch' is invalid"):
        AnchoredConfig(partner="egarch")


def test_a_gjr_fit_that_fails_falls_back_to_garch_t_and_says_so(monkeypatch):
    """... as partner="garch_t" asks for it: GARCH-t is the partner, and nothing GJR is saved."""
    _, series = _garch_series(1600, seed=6)
    fit_garch = GarchT.fit

    def fit(self, history):
        if self.asymmetric:
            raise ForecasterError("GARCH(1,1) fit failed: a planted failure")
        fit_garch(self, history)

    monkeypatch.setattr(GarchT, "fit", fit)
    fitted = an.fit_anchored(History(series, 1400), replace(FAST, epochs=1))
    assert fitted.other is None and fitted.partner is fitted.garch and fitted.meta["other"] is None
    assert fitted.log["partner"] == "garch_t"
    assert "could not be fitted (GARCH(1,1) fit failed: a planted failure)" in fitted.log["partner_note"]
    plain = an.fit_anchored(History(series, 1400), replace(FAST, epochs=1, partner="garch_t")).log
    assert plain["partner"] == "garch_t" and plain["partner_note"] is None


def test_member_blocks_hold_out_each_members_own_block_and_train_on_every_other_row_once():
    """AnchoredConfig.member_blocks: member k stops early on the k-th block counted back from the early-stopping
    rows; its training targets read nothing of its block (before it) and lie outside it, the rows after the
    block train once (in their own sequence), and block 0 is the default's split exactly."""
    cfg = AnchoredConfig(members=4, member_blocks=True, chunk=64, warm=16)
    n, H, val0, half = 1000, cfg.horizon, 800, 900
    assert an.stop_blocks(val0, half, replace(cfg, member_blocks=False)) == [(800, 900)] * 4
    blocks = an.stop_blocks(val0, half, cfg)
    assert blocks == [(800, 900), (700, 800), (600, 700), (500, 600)]
    assert an.stop_blocks(val0, half, replace(cfg, chunk=650)) == [(800, 900), (700, 800), (800, 900), (700, 800)]  # a chunk before
    x = np.arange(n, dtype=np.float32)[:, None]  # the feature is the row: a chunk says which rows it holds
    yz = np.ones((n, H))
    for first, stop in blocks:
        train, (vx, vy) = an.member_data([(x, yz)], (first, stop), half, cfg)
        scored = []  # (row, step) of every training target scored in an epoch
        for epoch in range(3):
            train.set_epoch(epoch)
            rows = []
            for i in range(len(train)):
                xc, yc = train[i]
                ok = ~torch.isnan(yc)
                rows += [(int(xc[j, 0]), h) for j, h in zip(*np.nonzero(ok.numpy()))]
            assert len(rows) == len(set(rows)), "a target is scored twice in one epoch"
            scored += rows
        row, step = np.array(scored).T
        last = row + step + 1  # the last return each scored target reads
        assert np.all(last < half) and not np.any((last >= first) & (row < stop))
        assert np.any(row >= stop) == (stop < half)  # the rows after the block do train
        vrows = vx[..., 0][~np.isnan(vy[..., 0])]
        assert vrows.min() == first and vrows.max() < stop  # early stopping on the block alone


def test_by_likelihood_takes_figarch_t_only_with_very_strong_evidence_of_long_memory():
    """partner="by_likelihood": FIGARCH(1,d,1)-t on a long-memory (HARCH) draw, where its training
    log-likelihood beats GJR-t's by more than LONG_MEMORY_EVIDENCE; GJR-t on a GARCH draw; the choice is saved."""
    from forecaster.configs import LONG_MEMORY_EVIDENCE

    cfg = replace(FAST, epochs=1, partner="by_likelihood")
    harch = mk.HarchMarket().simulate(4000, seed=3)
    series = PriceSeries(frame=mk.price_frame(harch.returns), pair="EURUSD", source="simulated")
    fit = an.fit_anchored(History(series, 3500), cfg)
    assert fit.partner.name == "figarch_t" and fit.log["partner"] == "figarch_t" and fit.meta["other"]["name"] == "figarch_t"
    gjr = GarchT(cfg.horizon, asymmetric=True)
    gjr.fit(History(series, 3500))
    assert fit.other.fit_log[-1]["loglik"] > gjr.fit_log[-1]["loglik"] + LONG_MEMORY_EVIDENCE
    hs = [History(series, t) for t in (3600, 3900)]
    back = an.AnchoredFit.from_saved(fit.state_dict(), fit.meta)
    np.testing.assert_array_equal(back.distributions(hs)[1].quantile([0.1, 0.9]), fit.distributions(hs)[1].quantile([0.1, 0.9]))
    _, garch_series = _garch_series(1600, seed=6)
    assert an.fit_anchored(History(garch_series, 1400), cfg).partner.name == "gjr_t"
