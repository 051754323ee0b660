"""The demo end to end (tiny configuration of the windowed design): model, backtest report, forecast plot, summary."""

import json

from forecaster.data import DataConfig
from forecaster.demo import run_demo

from conftest import TINY_MODEL


def test_demo_writes_everything(tmp_path):
    summary = run_demo(tmp_path, "EURUSD", epochs=1, test_years=0.5, data=DataConfig(lookback=16, horizon=3), start="2019-01-01",
                       model=TINY_MODEL, progress=False, design="windowed")  # the default design: tests/cli/test_commands.py
    files = summary["files"]
    for key in ("forecast_plot", "backtest_equity_plot", "backtest_error_plot", "backtest_forecast_plot"):
        with open(files[key], "rb") as f:
            assert f.read(4) == b"\x89PNG", key
    metrics = json.loads(open(files["backtest_metrics"]).read())
    assert "random_walk" in json.dumps(metrics)
    assert set(summary["backtest"]) >= {"random_walk", "ridge_ar", "mamba:demo-eurusd"}
    assert summary["backtest"]["random_walk"]["theil_u2"] == 1.0
    assert summary["backtest_summary"][0].startswith("EURUSD") and any("mamba:demo-eurusd" in line
                                                                        for line in summary["backtest_summary"])
    def invalid(token):
        raise AssertionError(f"summary.json holds {token}: not valid JSON")

    written = json.loads((tmp_path / "summary.json").read_text(), parse_constant=invalid)
    assert written["pair"] == "EURUSD" and written["backtest"]["random_walk"]["dm_p"] is None
    assert written["data"]["last_bar"].startswith(str(summary["data"]["last_bar"])[:10])
    assert (tmp_path / "forecast.csv").read_text().count("\n") == 4  # header + 3 steps
