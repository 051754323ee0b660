"""Every command through CliRunner: success paths, --json output, and user errors (exit 1, no traceback)."""

import json

import pytest
from typer.testing import CliRunner

from forecaster.cli import app

runner = CliRunner()
TINY = ["--epochs", "1", "--d-model", "8", "--n-layer", "1", "--d-state", "4", "--lookback", "16", "--horizon", "3",
        "--start", "2018-01-01"]


def run(*args):
    return runner.invoke(app, list(args))


def test_data_commands_json():
    pairs = json.loads(run("data", "pairs", "--json").stdout)
    assert "USD" in pairs["pairs"] and pairs["source"] == "ecb"
    show = json.loads(run("data", "show", "USDJPY", "--json", "--rows", "3").stdout)
    assert show["pair"] == "USDJPY" and len(show["latest"]) == 3 and show["report"]["rows_out"] == show["rows"]


def test_env_json():
    env = json.loads(run("env", "--json").stdout)
    assert env["torch"] and env["models_dir"] and env["ecb_data"]["first"] == "1999-01-04"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    result = run("--seed", "1", "train", "EURUSD", "--name", "cli", "--models-dir", str(models), "--json", *TINY)
    assert result.exit_code == 0, result.output
    return models, json.loads(result.stdout)


def test_train_reports_model_beside_random_walk(trained):
    models, summary = trained
    assert summary["name"] == "cli" and summary["val_mse"] <= summary["val_mse_random_walk"] + 1e-12
    assert (models / "cli" / "model.json").is_file()
    listed = json.loads(run("models", "--models-dir", str(models), "--json").stdout)
    assert listed[0]["name"] == "cli" and listed[0]["pair"] == "EURUSD" and listed[0]["horizon"] == 3


def test_predict_json_csv_and_plot(trained, tmp_path):
    models, _ = trained
    plot, csv = tmp_path / "f.png", tmp_path / "f.csv"
    result = run("predict", "EURUSD", "--model", "cli", "--models-dir", str(models), "--json",
                 "--plot", str(plot), "--csv", str(csv))
    assert result.exit_code == 0, result.output
    forecast = json.loads(result.stdout)
    assert len(forecast["steps"]) == 3 and forecast["pair"] == "EURUSD"
    lo, hi = forecast["steps"][0]["interval_95"]
    assert lo < forecast["steps"][0]["price"] < hi
    assert plot.read_bytes()[:4] == b"\x89PNG" and csv.read_text().startswith("date,step,price")


@pytest.mark.parametrize("args, message", [
    (("data", "show", "XXXUSD"), "not in the ECB rates"),
    (("predict", "--model", "nope", "--models-dir", "/nonexistent"), "no saved model"),
    (("train", "EURUSD", "--loss", "cubic", "--epochs", "1"), "loss='cubic'"),
    (("data", "show", "EURUSD", "--source", "csv", "--path", "/nonexistent.csv"), "does not exist"),
])
def test_user_errors_exit_1_with_a_message(args, message):
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_corrupt_model_file_is_a_clear_error(trained, tmp_path):
    models, _ = trained
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.json").write_text("{oops")
    result = run("predict", "--model", "broken", "--models-dir", str(tmp_path))
    assert result.exit_code == 1 and "corrupt" in result.output


def test_bad_option_is_a_usage_error():
    assert run("train", "EURUSD", "--epochs", "many").exit_code == 2


def test_data_fetch_through_a_yfinance_double(tmp_path, monkeypatch):
    import pandas as pd

    from forecaster.data import yahoo
    from tests.test_data import FakeDownload, fake_yf_failure, fake_yf_frame

    monkeypatch.setattr(yahoo, "_download", FakeDownload(fake_yf_frame(pd.bdate_range("2024-01-01", periods=40)),
                                                         fake_yf_failure()))
    first = run("data", "fetch", "EURUSD", "--cache-dir", str(tmp_path), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows"] == 40
    failed = json.loads(run("data", "fetch", "EURUSD", "--cache-dir", str(tmp_path), "--json").stdout)
    assert failed["rows"] == 40 and "refresh failed" in failed["description"]
    offline = run("data", "show", "GBPUSD", "--source", "yahoo", "--offline", "--cache-dir", str(tmp_path))
    assert offline.exit_code == 1 and "nothing cached" in offline.output


def test_demo_command(tmp_path):
    result = run("demo", "EURUSD", "--out", str(tmp_path), "--epochs", "1", "--test-years", "0.5", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pair"] == "EURUSD" and (tmp_path / "forecast.png").is_file()
    assert summary["validation"]["model_mse"] <= summary["validation"]["random_walk_mse"] + 1e-12
