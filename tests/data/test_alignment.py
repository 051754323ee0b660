"""Bars whose close is taken before their high/low window ends (Yahoo's daily FX): found year by year,
said once, and range features then use the previous completed bar's range (issue 21, part 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.backtest import History
from forecaster.cli import app
from forecaster.configs import DataConfig
from forecaster.data import PriceSeries, alignment, build_features, load_series
from forecaster.data.clean import clean
from forecaster.errors import ForecasterError

STEPS = 24  # intraday steps of a planted bar
EARLY = 6  # the misaligned close: sampled at this step, while the bar's high/low run to STEPS
REAL_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "GBPUSD=X.csv"


def planted_bars(days: int = 780, close_step: int = STEPS, start: str = "2019-01-01", seed: int = 0) -> pd.DataFrame:
    """Daily OHLC from one intraday log-price path with clustered volatility (log-AR(1) daily vol).
    Bar d's open, high and low cover steps d*STEPS .. (d+1)*STEPS; its close is the price at step
    d*STEPS + close_step (STEPS: the bar's end, aligned; less: taken before the range ends)."""
    rng = np.random.default_rng(seed)
    log_vol = np.zeros(days)
    for d in range(1, days):
        log_vol[d] = 0.95 * log_vol[d - 1] + 0.1 * rng.standard_normal()
    step_vol = 0.006 * np.exp(log_vol - log_vol.mean()) / np.sqrt(STEPS)  # (days,)
    moves = rng.standard_normal((days, STEPS)) * step_vol[:, None]  # (days, STEPS)
    path = np.log(1.2) + np.concatenate([[0.0], np.cumsum(moves)])  # (days * STEPS + 1,)
    window = np.lib.stride_tricks.sliding_window_view(path, STEPS + 1)[::STEPS][:days]  # (days, STEPS + 1)
    return pd.DataFrame({"open": np.exp(window[:, 0]), "high": np.exp(window.max(axis=1)),
                         "low": np.exp(window.min(axis=1)), "close": np.exp(window[:, close_step])},
                        index=pd.bdate_range(start, periods=days, name="date"))


def series_of(frame: pd.DataFrame) -> PriceSeries:
    frame, report = clean(frame)
    return PriceSeries(frame=frame, pair="GBPUSD", source="csv", report=report)


RANGE = DataConfig(features=("log_return", "parkinson"), lookback=10, horizon=2)


def test_aligned_bars_pass_without_a_word(caplog):
    s = series_of(planted_bars())
    checked = alignment.of(s.frame)
    assert not checked.misaligned and len(checked.checked) == 3
    assert all(y["own"] > y["next"] + 0.2 for y in checked.checked)  # the range holds the bar's own move
    assert s.report.bar_alignment["misaligned"] is False
    assert not any("misaligned" in line for line in s.report.summary_lines())
    with caplog.at_level(logging.INFO, logger="forecaster"):
        table, _ = build_features(s, RANGE)
    assert list(table.columns) == ["log_return", "parkinson"] and caplog.records == []
    u = np.log(s.frame["high"] / s.frame["low"])
    assert np.allclose(table["parkinson"], (u**2 / (4 * np.log(2))).loc[table.index])  # the bar's own range


def test_misaligned_bars_are_said_once_and_lagged(caplog):
    s = series_of(planted_bars(close_step=EARLY, seed=1))
    checked = alignment.of(s.frame)
    assert checked.misaligned and len(checked.flagged) == len(checked.checked) == 3
    assert all(y["next"] - y["own"] > alignment.MARGIN for y in checked.flagged)
    line = checked.line()
    assert "misaligned in 3 of 3 years (2019..2021)" in line and "Spearman" in line
    assert any("misaligned in 3 of 3 years" in row for row in s.report.summary_lines())
    with caplog.at_level(logging.INFO, logger="forecaster"):
        table, _ = build_features(s, RANGE)
        build_features(s, RANGE)  # said once per process, not at every call
    notes = [r.getMessage() for r in caplog.records if "misaligned" in r.getMessage()]
    assert len(notes) == 1 and "previous completed bar" in notes[0]
    assert list(table.columns) == ["log_return", "parkinson_prev"]
    u = np.log(s.frame["high"] / s.frame["low"])
    park = u**2 / (4 * np.log(2))
    assert np.allclose(table["parkinson_prev"], park.shift(1).loc[table.index])  # bar t sees bar t-1's range
    # the leak the lag removes: the bar's own range ranks with the next move, the previous bar's does not more
    nxt = np.abs(np.log(s.frame["close"]).diff().shift(-1))
    rows = table.index[:-1]
    assert park.loc[rows].corr(nxt.loc[rows], method="spearman") > \
        table["parkinson_prev"].loc[rows].corr(nxt.loc[rows], method="spearman") + 0.1


def test_refuse_and_as_is():
    s = series_of(planted_bars(close_step=EARLY, seed=2))
    with pytest.raises(ForecasterError, match=r"misaligned in 3 of 3 years.*--misaligned-range lag"):
        build_features(s, DataConfig(features=("range",), misaligned_range="refuse"))
    table, _ = build_features(s, DataConfig(features=("range", "body"), misaligned_range="as_is"))
    assert list(table.columns) == ["range", "body"]
    assert list(build_features(s, DataConfig(features=("range", "body")))[0].columns) == ["range_prev", "body_prev"]
    with pytest.raises(ForecasterError, match="misaligned_range='sometimes' unknown: accepted lag, refuse, as_is"):
        DataConfig(misaligned_range="sometimes")


def test_a_file_misaligned_in_its_last_year_only_is_caught_and_slices_keep_the_verdict():
    early = planted_bars(days=780, seed=3)
    late = planted_bars(days=260, close_step=EARLY, start="2022-01-03", seed=4)
    late *= early["close"].iloc[-1] / late["open"].iloc[0]
    s = series_of(pd.concat([early, late]))
    checked = alignment.of(s.frame)
    assert [y["year"] for y in checked.flagged] == [2022] and len(checked.checked) == 4
    # a fold's History and a model's short lookback window see the whole file's verdict: the same features
    fold = History(s, cutoff=500).series()
    window = PriceSeries(frame=fold.frame.iloc[-12:], pair=s.pair, source=s.source)
    assert list(build_features(fold, RANGE)[0].columns) == ["log_return", "parkinson_prev"]
    assert list(build_features(window, RANGE)[0].columns) == ["log_return", "parkinson_prev"]


def test_data_show_says_what_was_found(tmp_path):
    runner = CliRunner()
    for name, close_step, expect in (("aligned.csv", STEPS, False), ("early.csv", EARLY, True)):
        path = tmp_path / name
        planted_bars(close_step=close_step, seed=5).rename(columns=str.capitalize).to_csv(path, index_label="Date")
        result = runner.invoke(app, ["data", "show", "GBPUSD", "--path", str(path), "--rows", "1"])
        assert result.exit_code == 0, result.output
        assert ("bars look misaligned in 3 of 3 years" in result.output) is expect, result.output
        as_json = runner.invoke(app, ["data", "show", "GBPUSD", "--path", str(path), "--rows", "0", "--json"])
        assert f'"misaligned": {str(expect).lower()}' in as_json.output


@pytest.mark.skipif(not REAL_FILE.is_file(), reason=f"shared yfinance file not present ({REAL_FILE})")
def test_the_real_yfinance_file_is_flagged_in_its_recent_years():
    s = load_series("GBPUSD", source="csv", path=str(REAL_FILE))
    by_year = {y["year"]: y for y in s.report.bar_alignment["years"]}
    assert by_year[2020]["flagged"] and by_year[2024]["flagged"]
    assert not by_year[2005]["flagged"]  # its early years are aligned
