"""Bad input that used to get a wrong or crashing answer (issue 21, part 2): each is now a clear error,
or handled and reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.backtest import BacktestConfig, History, run_backtest
from forecaster.backtest.baselines import RandomWalk
from forecaster.probabilistic.risk import HistoricalVol, default_risk_models
from forecaster.cli import app
from forecaster.data import PriceSeries, expand_pairs, load_series, parse_pair
from forecaster.errors import ForecasterError

DAYS = pd.bdate_range("2020-01-01", periods=300)
runner = CliRunner()


def closes(n: int = 300, flat: int = 0, seed: int = 0) -> np.ndarray:
    """A random walk of closes around 1.1 whose first `flat` closes are unchanged."""
    c = 1.1 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.005, n)))
    c[:flat] = c[flat] if flat else c[:0]
    return c


def write_table(path, **columns) -> str:
    pd.DataFrame({"Date": DAYS[: len(next(iter(columns.values())))].strftime("%Y-%m-%d"), **columns}).to_csv(
        path, index=False)
    return str(path)


def test_a_volume_column_is_never_the_close(tmp_path):
    path = write_table(tmp_path / "f.csv", Volume=np.full(300, 1000))
    result = runner.invoke(app, ["data", "show", "EURUSD", "--path", path])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no price column among the columns Date, Volume" in result.output
    assert "Volume is a volume" in result.output and "accepted a column named close" in result.output
    with pytest.raises(ForecasterError, match="column 'Volume' is a volume, not a price"):
        load_series("EURUSD", path=path, column="Volume")
    # beside a price column, volume and open interest are left out: the one price column is the close
    both = write_table(tmp_path / "g.csv", EURUSD=closes(), Volume=np.arange(300), **{"Open Interest": np.arange(300)})
    assert load_series("EURUSD", path=both).close.iloc[-1] == pytest.approx(closes()[-1])


def test_a_column_that_jumps_like_a_count_is_not_a_price(tmp_path):
    counts = np.random.default_rng(1).integers(100, 5000, 300)
    path = write_table(tmp_path / "f.csv", Close=counts)
    with pytest.raises(ForecasterError, match=r"column 'Close' does not look like EURUSD's price: its median move .* is \d+%"):
        load_series("EURUSD", path=path)


def test_unreadable_prices_are_named_by_line_and_text(tmp_path):
    c = closes().round(5).astype(str)
    c[10] = "abc"
    s = load_series("EURUSD", path=write_table(tmp_path / "one.csv", Close=c))
    assert s.report.non_finite == 1 and "unreadable closes in the file: line 12 'abc'" in s.report.summary_lines()
    result = runner.invoke(app, ["data", "show", "EURUSD", "--path", str(tmp_path / "one.csv"), "--rows", "0"])
    assert "line 12 'abc'" in result.output
    many = closes().round(5).astype(str)
    many[20:40] = "n/a?"
    lines = load_series("EURUSD", path=write_table(tmp_path / "many.csv", Close=many)).report.summary_lines()
    shown = next(line for line in lines if line.startswith("unreadable"))
    assert shown.startswith("unreadable closes in the file: line 22 'n/a?'; line 23") and shown.endswith("and 15 more")


def test_a_test_start_past_the_data_names_it_and_the_data_end():
    series = PriceSeries(frame=pd.DataFrame({"close": closes()}, index=DAYS.rename("date")), pair="EURUSD",
                         source="test")
    with pytest.raises(ForecasterError, match=r"--test-start 2031-01-01 leaves fewer than 2 origins .* the data ends on "
                                              r"2021-02-23; give a test start on or before 2021-02-15"):
        run_backtest(series, [RandomWalk(5)], BacktestConfig(horizon=5, test_start="2031-01-01"))


def _series(n: int, flat: int) -> PriceSeries:
    frame = pd.DataFrame({"close": closes(n, flat)}, index=pd.bdate_range("2015-01-01", periods=n, name="date"))
    return PriceSeries(frame=frame, pair="EURUSD", source="test")


def test_a_flat_start_is_skipped_by_the_empirical_historical_volatility():
    series = _series(700, flat=60)
    model = HistoricalVol(5, dist="empirical")
    model.fit(History(series, 400))
    assert np.all(np.isfinite(model.samples)) and model.skipped > 0
    assert np.abs(model.samples).max() < 10  # the flat stretch's near-zero volatility blows nothing up
    models = [RandomWalk(5), HistoricalVol(5), HistoricalVol(5, dist="empirical")]
    res = run_backtest(series, models, BacktestConfig(horizon=5, test_start="2017-01-02"))
    dist = res.distributions["hist_vol_empirical"]
    assert dist.shape == (len(res.origins), 5) and np.all(np.isfinite(dist.crps(res.actual)))


class _Slow(RandomWalk):
    """Stands for the Mamba model: records whether its (long) fit ever began."""

    name = "slow"
    fits = 0

    def fit(self, history) -> None:
        _Slow.fits += 1


def test_a_flat_stretch_that_leaves_too_little_fails_before_the_long_training():
    series = _series(400, flat=250)
    with pytest.raises(ForecasterError, match=r"hist_vol_empirical: the training rows up to 2015-\d\d-\d\d hold \d+ "
                                              r"origins .* from 2015-.* to 2015-.*--no-risk-models"):
        run_backtest(series, [_Slow(5), *default_risk_models(5)], BacktestConfig(horizon=5, test_start="2015-11-02"))
    assert _Slow.fits == 0


def test_a_mistyped_set_name_is_not_a_pair():
    for bad in ("minors", "majros"):
        with pytest.raises(ForecasterError, match=r"not a currency pair: neither .* named set of pairs for --pairs \(majors\)"):
            parse_pair(bad)
        with pytest.raises(ForecasterError, match=r"\(majors\)"):
            expand_pairs(f"EURUSD,{bad}")
    assert parse_pair("USDKZT") == ("USD", "KZT")  # one known side: a source may still quote it
    result = runner.invoke(app, ["train", "--pairs", "minors", "--design", "windowed"])
    assert result.exit_code == 1 and "named set of pairs for --pairs (majors)" in result.output
