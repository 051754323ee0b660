"""`forecaster train --design anchored` (the default design), then `predict` and `models` on the saved anchored model,
end to end on the offline ECB data with one small member."""

import json

import pytest
from typer.testing import CliRunner

from forecaster.cli import app

runner = CliRunner()
TINY = ["--start", "2022-06-01", "--horizon", "3", "--epochs", "1", "--members", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(models folder, the saved metrics, what train printed)."""
    models = tmp_path_factory.mktemp("models")
    result = runner.invoke(app, ["--seed", "1", "train", "EURUSD", "--design", "anchored", "--name", "anc",
                                 "--models-dir", str(models), *TINY])
    assert result.exit_code == 0, result.output
    meta = json.loads((models / "anc" / "model.json").read_text(encoding="utf-8"))
    return models, meta["metrics"], " ".join(result.output.split())


def test_train_reports_the_crps_beside_ewma_and_garch_t_with_the_verdict_and_w(trained):
    models, summary, printed = trained
    assert summary["design"] == "anchored"
    for split in ("validation", "test"):
        assert set(summary[split]["crps"]) == {"ewma", "garch_t", "model", "shipped"}
        assert "GARCH-t" in summary[split]["verdict_garch_t"]["text"]
        assert summary[split]["verdict_garch_t"]["text"] in printed
    assert 0 <= summary["weight"] <= 1 and f"shipped: {summary['shipped']}" in printed
    assert len(summary["members"]) == 1 and summary["members"][0]["epochs_run"] == 1
    for words in ("validation CRPS (bp", "test CRPS (bp", "EWMA", "GARCH-t", "combination weight w ="):
        assert words in printed


def test_distribution_normal_trains_the_normal_family(tmp_path):
    result = runner.invoke(app, ["train", "EURUSD", "--name", "anc_n", "--models-dir", str(tmp_path), "--distribution",
                                 "normal", *TINY])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "anc_n" / "model.json").read_text(encoding="utf-8"))
    assert meta["anchored"]["config"]["family"] == "normal" and meta["anchored"]["df"] is None
    assert meta["metrics"]["shipped"] in " ".join(result.output.split())


def test_predict_json_holds_intervals_and_the_anchor_and_weight(trained):
    models, summary, _ = trained
    result = runner.invoke(app, ["predict", "EURUSD", "--model", "anc", "--models-dir", str(models), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["design"]["anchor"].startswith("EWMA 0.94 in a Student-t of ") and out["design"]["weight"] == summary["weight"]
    assert out["design"]["correction"] == (summary["weight"] > 0)
    assert len(out["steps"]) == 3
    for step in out["steps"]:
        lo80, hi80 = step["interval_80"]
        lo95, hi95 = step["interval_95"]
        assert lo95 < lo80 < step["price"] < hi80 < hi95
    assert set(out["test_coverage"]) == {"0.8", "0.95"}
    again = runner.invoke(app, ["predict", "EURUSD", "--model", "anc", "--models-dir", str(models), "--json"])
    assert json.loads(again.stdout)["steps"] == out["steps"]
    table = runner.invoke(app, ["predict", "EURUSD", "--model", "anc", "--models-dir", str(models)])
    assert table.exit_code == 0 and "anchor EWMA 0.94" in " ".join(table.output.split())


def test_models_lists_the_anchored_model(trained):
    models, summary, _ = trained
    rows = json.loads(runner.invoke(app, ["models", "--models-dir", str(models), "--json"]).stdout)
    assert rows[0]["design"] == "anchored" and rows[0]["val_crps"] == summary["validation"]["crps"]
    table = runner.invoke(app, ["models", "--models-dir", str(models)])
    assert table.exit_code == 0 and "anc" in table.output


def test_backtest_model_runs_the_saved_anchored_model_and_refuses_a_seen_test_period(trained, tmp_path):
    models, _, _ = trained
    base = ["backtest", "EURUSD", "--model", "anc", "--models-dir", str(models), "--no-plots", "--json"]
    result = runner.invoke(app, base + ["--test-start", "auto", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"mamba:anc", "mamba_raw:anc"} <= set(out["probabilistic"]["models"])
    seen = runner.invoke(app, base + ["--test-start", "2023-06-01", "--out", str(tmp_path / "s")])
    assert seen.exit_code != 0 and "look-ahead" in seen.output and "--test-start auto" in " ".join(seen.output.split())


def test_backtest_with_cross_pairs_trains_the_cross_pair_model_on_the_common_dates(tmp_path):
    result = runner.invoke(app, ["backtest", "USDJPY", "--cross-pairs", "EURUSD,GBPUSD,USDJPY", "--members", "1",
                                 "--start", "2021-01-01", "--test-years", "0.5", "--no-plots", "--json",
                                 "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["data"]["model_settings"]["mamba"]["model"]["cross_pairs"] is True
    assert "cross-pair context: EURUSD, GBPUSD" in result.output  # the forecast pair itself is not its own context
    assert out["probabilistic"]["models"]["mamba"]["overall"]["crps"] > 0


def test_a_saved_cross_pair_model_predicts_and_backtests_with_its_own_pairs(tmp_path):
    models = tmp_path / "models"
    trained = runner.invoke(app, ["train", "USDJPY", "--cross-pairs", "EURUSD,GBPUSD", "--name", "cx",
                                  "--models-dir", str(models), *TINY])
    assert trained.exit_code == 0, trained.output
    assert "also reads the volatility of EURUSD, GBPUSD" in " ".join(trained.output.split())
    meta = json.loads((models / "cx" / "model.json").read_text(encoding="utf-8"))
    assert list(meta["anchored"]["context"]) == ["EURUSD", "GBPUSD"] and meta["anchored"]["config"]["cross_pairs"]
    out = json.loads(runner.invoke(app, ["predict", "USDJPY", "--model", "cx", "--models-dir", str(models), "--json"]).stdout)
    assert out["design"]["cross_pairs"] == ["EURUSD", "GBPUSD"] and len(out["steps"]) == 3
    result = runner.invoke(app, ["backtest", "USDJPY", "--model", "cx", "--models-dir", str(models), "--test-start", "auto",
                                 "--no-plots", "--json", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "cross-pair context: EURUSD, GBPUSD" in result.output
    assert "mamba:cx" in json.loads(result.stdout)["probabilistic"]["models"]
