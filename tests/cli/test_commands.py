"""Commands through CliRunner: data, env, demo, and user errors (exit 1, no traceback). Training and
prediction end to end are in test_predict_cli.py."""

import json

import pytest
from typer.testing import CliRunner

from forecaster.cli import app

runner = CliRunner()


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


@pytest.mark.parametrize("args, message", [
    (("data", "show", "XXXUSD"), "not in the ECB rates"),
    (("predict", "--model", "nope", "--models-dir", "/nonexistent"), "no saved model"),
    (("train", "EURUSD", "--design", "windowed", "--loss", "cubic", "--epochs", "1"), "loss='cubic'"),
    (("train", "EURUSD", "--loss", "cubic"), "--loss configures the windowed design, not the anchored one"),
    (("backtest", "EURUSD", "--lookback", "20", "--members", "2"), "--lookback configures the windowed design"),
    (("train", "EURUSD", "--design", "windowed", "--members", "2"), "--members configures the anchored design"),
    (("backtest", "EURUSD", "--design", "windowed", "--cross-pairs", "majors"), "--cross-pairs configures the anchored"),
    (("backtest", "EURUSD", "--cross-pairs", "EURUSD"), "names no pair other than EURUSD"),
    (("train", "EURUSD", "--distribution", "none"), "the anchored design forecasts a distribution, normal or student_t"),
    (("backtest", "EURUSD", "--distribution", "cauchy"), "the anchored design forecasts a distribution, normal or"),
    (("data", "show", "EURUSD", "--source", "csv", "--path", "/nonexistent.csv"), "does not exist"),
])
def test_user_errors_exit_1_with_a_message(args, message):
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.json").write_text("{oops")
    result = run("predict", "--model", "broken", "--models-dir", str(tmp_path))
    assert result.exit_code == 1 and "corrupt" in result.output


def test_bad_option_is_a_usage_error():
    assert run("train", "EURUSD", "--epochs", "many").exit_code == 2


def test_data_fetch_through_a_yfinance_double(tmp_path, monkeypatch):
    import pandas as pd

    from forecaster.data import yahoo
    from tests.data.test_data_sources import FakeDownload, fake_yf_failure, fake_yf_frame

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
    v = summary["validation"]  # the default design: the anchored model, scored by CRPS beside GARCH-t
    assert v["design"] == "anchored" and "GARCH-t" in v["verdict"] and set(v["crps"]) >= {"shipped", "garch_t", "ewma"}
    assert "GARCH(1,1)-t" in v["shipped"] or "anchored Mamba" in v["shipped"]
