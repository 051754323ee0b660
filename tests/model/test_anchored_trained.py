"""A saved anchored model (forecaster.model.anchored_trained, api.train(design="anchored")): it saves
every member in one checkpoint, loads to the same forecast bit for bit, reports its CRPS beside EWMA
and GARCH-t with the verdicts, and predicts intervals from its distribution, naming its anchor."""

import json

import numpy as np
import pytest

from forecaster import api
from forecaster.configs import AnchoredConfig, DataConfig, ModelConfig, TrainConfig
from forecaster.data import PriceSeries
from forecaster.data.history import History
from forecaster.errors import ForecasterError
from forecaster.model import checkpoint
from forecaster.model.anchored_trained import AnchoredTrained, shipped_words
from forecaster.probabilistic import markets as mk

TINY = AnchoredConfig(members=2, epochs=2, chunk=128, warm=30, d_model=8, patience=1)  # two members: the prefixes


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    path = mk.GarchMarket().simulate(900, seed=5)
    series = PriceSeries(frame=mk.price_frame(path.returns), pair="EURUSD", source="simulated")
    trained = api.train(series=series, name="anc", models_dir=models, design="anchored", anchored=TINY,
                        data=DataConfig(horizon=3), progress=False)
    return models, series, trained


def test_it_saves_every_member_and_loads_to_the_same_forecast(saved):
    models, series, trained = saved
    assert isinstance(trained, AnchoredTrained) and trained.config.horizon == 3
    state, meta = checkpoint.load(models / "anc")
    assert meta["design"] == "anchored" and {k.split(".")[0] for k in state} == {"member0", "member1"}
    assert set(meta["anchored"]) >= {"config", "ewma", "garch", "base", "weight"}
    loaded = api.load("anc", models)
    assert isinstance(loaded, AnchoredTrained) and loaded.fit.weight == trained.fit.weight
    histories = [History(series, t) for t in range(700, 760)]
    (m1, c1), (m2, c2) = trained.fit.distributions(histories), loaded.fit.distributions(histories)
    np.testing.assert_array_equal(m1.scale, m2.scale)
    np.testing.assert_array_equal(c1.quantile([0.1, 0.9]), c2.quantile([0.1, 0.9]))
    a, b = trained.predict(series).to_dict(), loaded.predict(series).to_dict()
    a["stale"] = b["stale"] = None
    assert a == b


def test_its_metrics_put_its_crps_beside_ewma_and_garch_with_verdicts(saved):
    _, series, trained = saved
    m = trained.meta["metrics"]
    for split in ("validation", "test"):
        assert set(m[split]["crps"]) == {"ewma", "garch_t", "model", "shipped"}
        assert all(0 < v < 0.1 for v in m[split]["crps"].values())
        assert "GARCH-t" in m[split]["verdict_garch_t"]["text"] and "EWMA" in m[split]["verdict_ewma"]["text"]
        assert f"{split} origins" in m[split]["verdict_garch_t"]["text"]
    assert m["validation"]["origins"] == m["rows"]["combination"]
    assert m["test"]["origins"] == len(series.frame) - 1 - 3 - series.frame.index.get_loc(trained.meta["seen_until"]) + 1
    assert 0 <= m["weight"] <= 1 and m["shipped"] == shipped_words(m["weight"], True, trained.fit.anchor,
                                                                               trained.fit.partner.label)
    json.dumps(trained.meta)  # every number plain


def test_predict_gives_intervals_from_the_distribution_and_names_the_anchor(saved):
    _, series, trained = saved
    out = trained.predict(series).to_dict()
    assert trained.fit.df == trained.fit.garch.df  # the default family: the t of GARCH-t's fit
    assert len(out["steps"]) == 3 and out["design"]["anchor"] == f"EWMA 0.94 in a Student-t of {trained.fit.df:.1f} df"
    assert out["design"]["weight"] == trained.fit.weight and out["design"]["combination"] is True
    for step in out["steps"]:
        lo80, hi80 = step["interval_80"]
        lo95, hi95 = step["interval_95"]
        assert lo95 < lo80 < step["price"] < hi80 < hi95
    assert out["distribution"]["volatility_annual"] > 0
    before = trained.predict(series, as_of=series.frame.index[800]).to_dict()
    assert before["origin"] == series.frame.index[800].isoformat() and before["steps"] != out["steps"]


def test_the_anchored_design_refuses_what_it_does_not_do(tmp_path):
    with pytest.raises(ForecasterError, match="design"):
        api.train("EURUSD", design="wavelet", save=False)
    for design in ("anchored", None):  # None: the default, which is the anchored design
        kwargs = {} if design is None else {"design": design}
        with pytest.raises(ForecasterError, match="several pairs configures the windowed design.*--design windowed"):
            api.train("EURUSD,USDJPY", save=False, **kwargs)
        with pytest.raises(ForecasterError, match="model, train_config configure the windowed design"):
            api.train("EURUSD", model=ModelConfig(), train_config=TrainConfig(), save=False, **kwargs)
    with pytest.raises(ForecasterError, match="anchored configures the anchored design"):
        api.train("EURUSD", design="windowed", anchored=AnchoredConfig(), save=False)


def test_the_backtest_runs_it_as_saved_and_refuses_a_test_period_it_has_seen(saved):
    from forecaster.backtest import run_backtest
    from forecaster.backtest.baselines import RandomWalk
    from forecaster.backtest.lineup import lineup
    from forecaster.backtest.neural import AnchoredMambaModel
    from forecaster.configs import BacktestConfig
    from forecaster.data.history import LookAheadError

    models, series, trained = saved
    net = AnchoredMambaModel.from_saved(api.load("anc", models), series)
    assert net.saved and net.seen_until == series.frame.index[series.frame.index.get_loc(trained.meta["seen_until"])]
    assert net.first_test_start == series.frame.index[series.frame.index > net.seen_until][0]
    with pytest.raises(LookAheadError, match="saved model.*first valid --test-start"):
        run_backtest(series, [net], BacktestConfig(horizon=3, test_start=str(series.frame.index[600].date())))
    res = run_backtest(series, [RandomWalk(3), net], BacktestConfig(horizon=3, test_start=str(net.first_test_start.date())))
    assert res.info["origins"] == len(series.frame) - 3 - series.frame.index.get_loc(net.first_test_start)
    assert trained.meta["metrics"]["test"]["origins"] == res.info["origins"] + 1  # train's test starts at seen_until
    names = [m.name for m in lineup(series, saved=api.load("anc", models))]
    assert names[:3] == ["random_walk", "mamba:anc", "mamba_raw:anc"]
    with pytest.raises(ForecasterError, match="lookback"):
        lineup(series, saved=trained, lookback=20)
