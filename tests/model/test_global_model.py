"""A global model across pairs (issue 12, item 3): one model trained on the pooled windows of several
pairs, each pair scaled by its own scalers fitted on its own training rows, saved as one folder with
a member per pair; predict and backtest use the pair's own member."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import TINY_MODEL, ar1_returns, price_series
from forecaster import api
from forecaster.model import checkpoint
from forecaster.model import estimator
from forecaster.backtest import BacktestConfig, LookAheadError, run_backtest
from forecaster.backtest.baselines import RandomWalk
from forecaster.backtest.neural import MambaModel
from forecaster.cli import app
from forecaster.configs import PAIR_SETS
from forecaster.data import DataConfig, build_features, expand_pairs, prepare, split_bounds
from forecaster.errors import ForecasterError
from forecaster.model.trainer import TrainConfig

DATA = DataConfig(lookback=12, horizon=2, split=(0.6, 0.2, 0.2))
# gate=1 keeps the trained location, so forecasts are not all "no change" and scalers show in them
TRAIN = TrainConfig(epochs=1, device="cpu", gate=1.0)


def _pairs(b_tail_factor: float = 1.0) -> dict:
    """Two synthetic pairs of different volatility and dates; b_tail_factor scales USDJPY's last 25% of returns."""
    a = price_series(ar1_returns(360, sigma=0.004, seed=1), pair="EURUSD", start="2015-01-01")
    rb = ar1_returns(300, phi=0.3, sigma=0.012, seed=2)
    rb[-75:] *= b_tail_factor
    b = price_series(rb, pair="USDJPY", first_close=140.0, start="2015-09-01")
    return {"EURUSD": a, "USDJPY": b}


def _train(series: dict, models_dir=None, name="g", save=True) -> api.TrainedModel:
    return api.train(series=series, name=name, design="windowed", data=DATA, model=TINY_MODEL, train_config=TRAIN, models_dir=models_dir,
                     save=save, progress=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    series = _pairs()
    return models, series, _train(series, models)


def test_expand_pairs_named_sets_and_lists():
    assert expand_pairs("majors") == list(PAIR_SETS["majors"])
    assert expand_pairs("eur/usd, USDJPY,EURUSD") == ["EURUSD", "USDJPY"]
    assert expand_pairs(["GBPUSD", "majors"])[:2] == ["GBPUSD", "EURUSD"]
    with pytest.raises(ForecasterError, match="named set .*majors"):
        expand_pairs("g10")


def test_pooled_training_uses_every_pairs_windows(monkeypatch):
    series = _pairs()
    seen = {}
    original = estimator.train_loop

    def spy(net, train_set, val_set, *args, **kwargs):
        seen["train"], seen["val"] = train_set.tensors[0].numpy(), val_set.tensors[0].numpy()
        return original(net, train_set, val_set, *args, **kwargs)

    monkeypatch.setattr(estimator, "train_loop", spy)
    trained = _train(series, save=False)
    for split in ("train", "val"):
        own = {pair: prepare(s, DATA).windows(split) for pair, s in series.items()}
        assert len(seen[split]) == sum(len(w) for w in own.values()) == trained.meta["metrics"]["windows"][split]
        for pair, windows in own.items():
            assert trained.meta["members"][pair]["metrics"]["windows"][split] == len(windows)
            # every window of every pair is in the pooled set, scaled with that pair's own scalers
            pooled = {w.tobytes() for w in seen[split]}
            assert all(w.tobytes() in pooled for w in windows.x)


def test_scalers_are_per_pair_and_fitted_on_own_training_rows_only():
    series = _pairs()
    trained = _train(series, save=False)
    scalers = {pair: trained.meta["members"][pair]["scalers"] for pair in series}
    for pair, s in series.items():
        assert scalers[pair] == prepare(s, DATA).fitted()  # the pair alone, on its own training rows
    assert not np.allclose(scalers["EURUSD"]["target_scale"], scalers["USDJPY"]["target_scale"], rtol=0.2)
    # USDJPY's later rows (its test split) five times as volatile: no scaler moves
    changed = _train(_pairs(b_tail_factor=5.0), save=False)
    for pair in series:
        assert changed.meta["members"][pair]["scalers"] == scalers[pair]
    assert changed.meta["members"]["USDJPY"]["fingerprint"] != trained.meta["members"]["USDJPY"]["fingerprint"]


def test_predict_each_pair_with_its_own_scalers(saved):
    models, series, _ = saved
    glob = api.load("g", models)
    for pair, other in (("EURUSD", "USDJPY"), ("USDJPY", "EURUSD")):
        forecast = glob.predict(series[pair])  # the series names its pair
        assert forecast.pair == pair
        assert np.array_equal(forecast.returns, glob.for_pair(pair).predict(series[pair]).returns)
        own, theirs = (glob.meta["members"][p]["scalers"] for p in (pair, other))
        for scalers, expect_equal in ((own, True), (theirs, False)):
            prep = prepare(series[pair], DATA, fitted=scalers)
            returns = glob.forecast(prep.latest_window().x, target_scale=scalers["target_scale"]).point[0]
            assert np.allclose(forecast.returns, returns, rtol=1e-5, atol=1e-12) == expect_equal
        assert forecast.intervals["0.95"]["lower"][0] < forecast.prices[0] < forecast.intervals["0.95"]["upper"][0]


def test_unknown_pair_and_missing_pair_are_clear_errors(saved):
    models, series, glob = saved
    with pytest.raises(ForecasterError, match="trained on EURUSD, USDJPY, not GBPUSD"):
        api.load("g", models, pair="GBPUSD")
    with pytest.raises(ForecasterError, match="global model of EURUSD, USDJPY"):
        api.load("g", models).predict()
    with pytest.raises(ForecasterError, match="trained on EURUSD, USDJPY, not GBPUSD"):
        glob.predict(price_series(ar1_returns(100), pair="GBPUSD"))
    with pytest.raises(ForecasterError, match="mapping pair -> series"):
        api.train("EURUSD,USDJPY", design="windowed", series=series["EURUSD"], data=DATA, model=TINY_MODEL, save=False)
    with pytest.raises(ForecasterError, match="ecb or yahoo"):
        api.train("EURUSD,USDJPY", design="windowed", source="csv", path="x.csv", save=False)


def test_model_card_round_trips_and_single_models_stay_as_they_are(saved, tmp_path):
    models, series, glob = saved
    loaded = api.load("g", models)
    written = json.loads(json.dumps(glob.meta, default=checkpoint._plain))
    assert {k: v for k, v in loaded.meta.items() if k not in ("format", "package_version", "weights_sha256")} == written
    assert loaded.is_global and loaded.pairs == ["EURUSD", "USDJPY"]
    for pair in series:
        member = loaded.meta["members"][pair]
        assert set(member) == {"source", "scalers", "fingerprint", "metrics"}
        assert member["fingerprint"] == series[pair].fingerprint() and member["source"]["pair"] == pair
        assert member["metrics"]["test_verdict"]["verdict"] in ("better", "worse", "indistinguishable")
        assert member["metrics"]["windows"]["test"] == len(prepare(series[pair], DATA).windows("test"))
        view = loaded.for_pair(pair)  # reads like a single-pair model's meta
        assert view.meta["pair"] == pair and view.meta["scalers"] == member["scalers"] and not view.is_global
        assert view.meta["metrics"]["test_mse"] == member["metrics"]["test_mse"]
    listed = api.list_models(models)
    assert listed[0]["pairs"] == ["EURUSD", "USDJPY"] and listed[0]["first"] == "2015-01-01T00:00:00"
    single = api.train(design="windowed", series=series["EURUSD"], name="one", data=DATA, model=TINY_MODEL, train_config=TRAIN,
                       models_dir=tmp_path, progress=False)
    one = api.load("one", tmp_path)
    assert "members" not in one.meta and one.meta["pair"] == "EURUSD" and one.pairs == ["EURUSD"]
    assert one.for_pair("eur/usd") is one and single.meta["scalers"] == one.meta["scalers"]


def test_backtest_a_member_pair_from_the_saved_global_model(saved):
    models, series, _ = saved
    b = series["USDJPY"]
    model = MambaModel.from_saved(api.load("g", models, pair="USDJPY"), b)
    assert model.trained.scalers == api.load("g", models).meta["members"]["USDJPY"]["scalers"]
    # the look-ahead guard uses USDJPY's own validation end (its dates differ from EURUSD's)
    table, _ = build_features(b, DATA)
    assert model.seen_until == table.index[split_bounds(table.index, DATA.split)[1] - 1]
    assert model.seen_until != MambaModel.from_saved(api.load("g", models, pair="EURUSD"), series["EURUSD"]).seen_until
    with pytest.raises(LookAheadError, match="saved model"):
        run_backtest(b, [model], BacktestConfig(horizon=2, test_start=str(b.frame.index[150].date())))
    res = run_backtest(b, [RandomWalk(2), model], BacktestConfig(horizon=2, test_start=str(model.first_test_start.date())))
    assert np.isfinite(res.forecast_stats["mamba:g"]["overall"]["rmse"])


def test_cli_train_pairs_predict_models_backtest(tmp_path):
    """The user's path on the bundled ECB data (a recent start keeps it small)."""
    runner = CliRunner()
    tiny = ["--design", "windowed", "--epochs", "1", "--d-model", "8", "--n-layer", "1", "--d-state", "4", "--lookback", "16", "--horizon", "3",
            "--distribution", "none", "--no-revin", "--start", "2023-06-01", "--models-dir", str(tmp_path)]
    result = runner.invoke(app, ["train", "--pairs", "EURUSD,USDJPY", "--name", "duo", *tiny])
    assert result.exit_code == 0, result.output
    assert "USDJPY (2023-06-01" in result.output and result.output.count("random walk (") >= 2
    summary = json.loads(runner.invoke(app, ["train", "--pairs", "EURUSD,USDJPY", "--name", "duo", "--json", *tiny]).stdout)
    assert set(summary["pairs"]) == {"EURUSD", "USDJPY"} and "test_verdict" in summary["pairs"]["USDJPY"]
    listed = json.loads(runner.invoke(app, ["models", "--models-dir", str(tmp_path), "--json"]).stdout)
    assert listed[0]["pairs"] == ["EURUSD", "USDJPY"]
    forecast = runner.invoke(app, ["predict", "USDJPY", "--model", "duo", "--models-dir", str(tmp_path), "--json"])
    assert forecast.exit_code == 0, forecast.output
    assert json.loads(forecast.stdout)["pair"] == "USDJPY" and json.loads(forecast.stdout)["last_close"] > 50
    for args, message in ((["predict", "GBPUSD", "--model", "duo"], "trained on EURUSD, USDJPY, not GBPUSD"),
                          (["predict", "--model", "duo"], "say which pair"),
                          (["train", "EURUSD", "--pairs", "majors"], "not both"),
                          (["backtest", "GBPUSD", "--model", "duo"], "trained on EURUSD, USDJPY, not GBPUSD")):
        bad = runner.invoke(app, [*args, "--models-dir", str(tmp_path)])
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output
    back = runner.invoke(app, ["backtest", "USDJPY", "--model", "duo", "--models-dir", str(tmp_path), "--test-start",
                               "auto", "--no-plots", "--json", "--out", str(tmp_path / "report")])
    assert back.exit_code == 0, back.output
    assert "mamba:duo" in json.dumps(json.loads(back.stdout))
