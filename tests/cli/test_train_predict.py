"""`forecaster train`, `predict` and `models` end to end on the offline ECB data, with a tiny model."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app

runner = CliRunner()
TINY = ["--design", "windowed", "--start", "2019-01-01", "--lookback", "16", "--horizon", "3", "--d-model", "8", "--n-layer", "1",
        "--d-state", "4", "--epochs", "2", "--batch-size", "64"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    result = runner.invoke(app, ["-q", "--seed", "1", "train", "EURUSD", "--name", "tiny", "--models-dir", str(models),
                                 "--json", *TINY])
    assert result.exit_code == 0, result.output
    return models, json.loads(result.stdout)


def test_train_reports_the_model_beside_the_random_walk(trained):
    models, summary = trained
    assert summary["name"] == "tiny" and (models / "tiny" / "model.json").is_file()
    # the restored best model is never worse than the untrained one, which is the random walk
    assert 0 < summary["val_mse"] <= summary["val_mse_random_walk"] + 1e-12
    assert summary["epochs_run"] == 2 and summary["windows"]["val"] > 0
    assert set(summary["test_coverage"]) == {"0.8", "0.95"}
    assert summary["gate"]["kept"] in ("model", "no-change") and "random walk" in summary["test_verdict"]["text"]


def test_models_lists_the_saved_model(trained):
    models, summary = trained
    result = runner.invoke(app, ["models", "--models-dir", str(models), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["tiny"]
    assert rows[0]["pair"] == "EURUSD" and rows[0]["horizon"] == 3
    assert rows[0]["val_mse"] == pytest.approx(summary["val_mse"])


def test_predict_json_csv_and_plot(trained, tmp_path):
    models, _ = trained
    csv, png = tmp_path / "f.csv", tmp_path / "f.png"
    result = runner.invoke(app, ["predict", "EURUSD", "--model", "tiny", "--models-dir", str(models), "--json",
                                 "--csv", str(csv), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    steps = out["steps"]
    assert len(steps) == 3
    assert pd.Timestamp(steps[0]["date"]) > pd.Timestamp(out["origin"])
    for step in steps:
        lo80, hi80 = step["interval_80"]
        lo95, hi95 = step["interval_95"]
        assert lo95 <= lo80 <= step["price"] <= hi80 <= hi95
    frame = pd.read_csv(csv)
    assert list(frame["price"].round(10)) == [round(s["price"], 10) for s in steps]
    assert {"lower_80", "upper_80", "lower_95", "upper_95"} <= set(frame.columns)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the default model is probabilistic: its distribution, volatility and value at risk come with it
    dist = out["distribution"]
    assert 0 < dist["volatility_annual"] < 1 and dist["var_95_1d"]["long"]["pips"] > 0
    q = [dist["quantiles"][lv][0] for lv in ("0.05", "0.5", "0.95")]
    assert q[0] < q[1] < q[2] and {"q5", "q95"} <= set(frame.columns)


def test_predict_same_numbers_twice(trained):
    models, _ = trained
    args = ["predict", "--model", "tiny", "--models-dir", str(models), "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0 and json.loads(first.stdout) == json.loads(second.stdout)


def test_predict_errors_are_clear(trained):
    models, _ = trained
    missing = runner.invoke(app, ["predict", "--model", "nope", "--models-dir", str(models)])
    assert missing.exit_code == 1 and "no saved model" in missing.output and "Traceback" not in missing.output
    other_pair = runner.invoke(app, ["predict", "GBPUSD", "--model", "tiny", "--models-dir", str(models)])
    assert other_pair.exit_code == 1 and "trained on EURUSD" in other_pair.output


def test_train_with_quantile_heads_and_bad_quantiles(tmp_path):
    args = ["-q", "train", "EURUSD", "--name", "qh", "--models-dir", str(tmp_path), *TINY, "--epochs", "1"]
    result = runner.invoke(app, [*args, "--quantiles", "0.025,0.1,0.5,0.9,0.975"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "qh" / "model.json").read_text())
    assert meta["model_config"]["quantiles"] == [0.025, 0.1, 0.5, 0.9, 0.975]
    assert {c["method"] for c in meta["calibration"].values()} == {"cqr"}
    bad = runner.invoke(app, [*args, "--quantiles", "0.5,1.5"])
    assert bad.exit_code == 1 and "--quantiles '0.5,1.5' is invalid" in bad.output


def test_predict_starts_from_the_newest_bar_even_if_training_ended_earlier(tmp_path):
    args = ["-q", "train", "EURUSD", "--name", "old", "--models-dir", str(tmp_path), *TINY, "--epochs", "1",
            "--end", "2022-06-30"]
    assert runner.invoke(app, args).exit_code == 0
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    assert meta["fingerprint"]["last"] < "2022-07-01"
    result = runner.invoke(app, ["predict", "--model", "old", "--models-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["origin"] > "2023-01-01"


def test_predict_finds_the_model_train_saved_whatever_the_pair_spelling(tmp_path):
    trained = runner.invoke(app, ["-q", "train", "EUR-USD", "--models-dir", str(tmp_path), *TINY, "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "eurusd-1d" / "model.json").exists()
    for spelling in ("EUR-USD", "eur/usd", "EURUSD"):
        result = runner.invoke(app, ["predict", spelling, "--models-dir", str(tmp_path), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["pair"] == "EURUSD"
