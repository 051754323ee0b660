"""Data pipeline: sources, cache, CSV formats, cleaning, and leak-free windows. No network."""

import hashlib
import importlib.resources
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from forecaster.data import DataConfig, clean, list_pairs, load_series, prepare, walk_forward_folds
from forecaster.data import cache, yahoo
from forecaster.errors import ForecasterError


# ---------------------------------------------------------------- a yfinance 1.x test double

def fake_yf_frame(dates, ticker="EURUSD=X", base=1.10, intraday=False):
    """A fake of the frame yfinance returns for one ticker: (Price, Ticker) columns, sorted price level."""
    n = len(dates)
    close = base + 0.001 * np.arange(n)
    index = pd.DatetimeIndex(dates, name="Datetime" if intraday else "Date")
    if intraday:
        index = index.tz_localize("Europe/London")
    columns = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"], [ticker]], names=["Price", "Ticker"])
    data = np.column_stack([close, close + 0.002, close - 0.002, close - 0.0005, np.zeros(n)])
    frame = pd.DataFrame(data, index=index, columns=columns)
    frame[("Volume", ticker)] = frame[("Volume", ticker)].astype("int64")
    return frame


def fake_yf_failure():
    """yfinance's answer to a rate limit or a bad ticker: 0 rows, 6 float columns, unnamed naive index."""
    columns = pd.MultiIndex.from_product([["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["EURUSD=X"]],
                                         names=["Price", "Ticker"])
    return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([]), dtype="float64")


class FakeDownload:
    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, ticker, interval, start, end):
        self.calls.append((ticker, interval, start, end))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def business_days(start, n):
    return pd.bdate_range(start, periods=n)


# ---------------------------------------------------------------- ECB

def _ecb_table():
    raw = (importlib.resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return pd.read_csv(io.StringIO(z.read(z.namelist()[0]).decode()), na_values=["N/A"], index_col=0)


def test_ecb_crosses_match_hand_computed_values():
    table = _ecb_table()
    day = table.index[len(table) // 2]  # any day with a fix
    row = table.loc[day]
    stamp = pd.Timestamp(day)
    assert load_series("EURUSD").close.loc[stamp] == pytest.approx(row["USD"])
    assert load_series("USDJPY").close.loc[stamp] == pytest.approx(row["JPY"] / row["USD"])
    assert load_series("GBPUSD").close.loc[stamp] == pytest.approx(row["USD"] / row["GBP"])
    assert load_series("eur/gbp").pair == "EURGBP"


def test_ecb_ceased_currency_and_errors():
    cyp = load_series("EURCYP")
    assert cyp.frame.index[-1] <= pd.Timestamp("2008-01-01")
    assert "unavailable after" in cyp.description
    assert any(p.startswith("CYP (until") for p in list_pairs("ecb"))
    with pytest.raises(ForecasterError, match="XXX"):
        load_series("XXXUSD")
    with pytest.raises(ForecasterError, match="six letters"):
        load_series("EURO")
    with pytest.raises(ForecasterError, match="usable rows"):
        load_series("EURUSD", start="2026-10-25")
    with pytest.raises(ForecasterError, match="source"):
        load_series("EURUSD", source="bloomberg")


def test_ecb_series_is_clean_and_fingerprinted():
    s = load_series("EURUSD")
    assert s.frame.index.is_monotonic_increasing and s.frame.index.is_unique
    assert (s.frame.index.day_of_week < 5).all()
    fp = s.fingerprint()
    assert fp["rows"] == len(s.frame) and len(fp["sha256"]) == 64
    assert s.report.rows_out == len(s.frame)


# ---------------------------------------------------------------- yfinance adapter and cache

def test_normalise_real_layouts():
    daily = yahoo.normalise(fake_yf_frame(business_days("2024-01-01", 5)), "EURUSD=X")
    assert list(daily.columns) == ["open", "high", "low", "close"] and daily.index.tz is None
    intraday = yahoo.normalise(fake_yf_frame(pd.date_range("2024-06-03 08:00", periods=4, freq="h"), intraday=True), "EURUSD=X")
    assert intraday.index.tz is None and intraday.index[0] == pd.Timestamp("2024-06-03 07:00")  # London BST -> UTC
    flat = fake_yf_frame(business_days("2024-01-01", 3)).droplevel(1, axis=1)
    assert list(yahoo.normalise(flat, "EURUSD=X").columns) == ["open", "high", "low", "close"]


def test_failed_refresh_leaves_cache_byte_identical(tmp_path, monkeypatch):
    first = fake_yf_frame(business_days("2024-01-01", 40))
    monkeypatch.setattr(yahoo, "_download", FakeDownload(first, fake_yf_failure(), RuntimeError("connection reset")))
    s = load_series("EURUSD", source="yahoo", cache_dir=tmp_path)
    path = cache.cache_path(tmp_path, "yahoo", "EURUSD=X", "1d")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    again = load_series("EURUSD", source="yahoo", cache_dir=tmp_path)  # empty frame from yfinance
    assert "refresh failed" in again.description
    load_series("EURUSD", source="yahoo", cache_dir=tmp_path)  # an exception from the network
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert len(again.frame) == len(s.frame) == 40


def test_incremental_refresh_deduplicates_keeping_newest(tmp_path, monkeypatch):
    first = fake_yf_frame(business_days("2024-01-01", 40))
    # the refresh starts at the last cached bar, which is re-stated, and adds 5 new bars
    second = fake_yf_frame(business_days(first.index[-1], 6), base=2.0)
    fake = FakeDownload(first, second)
    monkeypatch.setattr(yahoo, "_download", fake)
    load_series("EURUSD", source="yahoo", cache_dir=tmp_path)
    s = load_series("EURUSD", source="yahoo", cache_dir=tmp_path)
    assert fake.calls[1][2] == first.index[-1].normalize()  # fetched from the last cached bar
    assert len(s.frame) == 45 and s.frame.index.is_unique
    assert s.frame["close"].iloc[39] == pytest.approx(2.0)  # the re-stated bar: newest wins
    assert s.frame["close"].iloc[38] == pytest.approx(first[("Close", "EURUSD=X")].iloc[38])


def test_offline_and_failures_without_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "_download", FakeDownload(fake_yf_failure()))
    with pytest.raises(ForecasterError, match="no rows"):
        load_series("EURUSD", source="yahoo", cache_dir=tmp_path)
    with pytest.raises(ForecasterError, match="offline"):
        load_series("EURUSD", source="yahoo", cache_dir=tmp_path, offline=True)
    assert not any(tmp_path.rglob("*.csv")) and not any(tmp_path.rglob("*.parquet"))


def test_intraday_reach_is_an_error(tmp_path):
    old = (pd.Timestamp.now() - pd.Timedelta(days=800)).strftime("%Y-%m-%d")
    with pytest.raises(ForecasterError, match="730 days"):
        load_series("EURUSD", source="yahoo", interval="1h", start=old, cache_dir=tmp_path)
    with pytest.raises(ForecasterError, match="interval"):
        load_series("EURUSD", source="yahoo", interval="7h", cache_dir=tmp_path)


# ---------------------------------------------------------------- CSV files

def test_csv_yfinance_three_line_header(tmp_path):
    path = tmp_path / "eurusd.csv"
    fake_yf_frame(business_days("2024-01-01", 35)).to_csv(path)
    assert path.read_text().splitlines()[1].startswith("Ticker")
    s = load_series("EURUSD", source="csv", path=str(path))
    assert len(s.frame) == 35 and s.frame["close"].iloc[0] == pytest.approx(1.10)


def test_csv_metatrader_export(tmp_path):
    path = tmp_path / "EURUSD60.csv"
    stamps = pd.date_range("2024-03-04 00:00", periods=40, freq="h")
    path.write_text("".join(f"{t:%Y.%m.%d},{t:%H:%M},1.1,1.2,1.0,{1.1 + i * 1e-4:.5f},100\n" for i, t in enumerate(stamps)))
    s = load_series("EURUSD", source="csv", path=str(path), interval="1h")
    assert len(s.frame) == 40 and s.frame.index[1] == pd.Timestamp("2024-03-04 01:00")


def test_csv_generic_and_bad_row_line_number(tmp_path):
    path = tmp_path / "prices.csv"
    days = business_days("2024-01-01", 35)
    lines = ["DATE,Open,HIGH,low,Close"] + [f"{d.date()},1.1,1.2,1.0,1.15" for d in days]
    path.write_text("\n".join(lines) + "\n")
    assert len(load_series("X", source="csv", path=str(path)).frame) == 35
    lines[7] = "2024-01-10,1.1,1.2,1.0,oops"
    path.write_text("\n".join(lines) + "\n")
    loaded = load_series("X", source="csv", path=str(path))  # a non-numeric close is dropped and counted
    assert len(loaded.frame) == 34 and loaded.report.non_finite == 1
    with pytest.raises(ForecasterError, match=r"prices.csv, line 8: .*'oops'"):
        load_series("X", source="csv", path=str(path), strict=True)
    lines[7] = "2024-01-1x,1.1,1.2,1.0,1.15"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ForecasterError, match=r"prices.csv, line 8: .*date '2024-01-1x'"):
        load_series("X", source="csv", path=str(path))
    with pytest.raises(ForecasterError, match="does not exist"):
        load_series("X", source="csv", path=str(tmp_path / "missing.csv"))


# ---------------------------------------------------------------- cleaning

def test_cleaning_report_counts_every_problem():
    days = list(business_days("2024-01-01", 10))
    index = pd.DatetimeIndex(days[:3] + [days[2], pd.Timestamp("2024-01-06")] + days[3:5] + days[9:] + [days[5]])
    frame = pd.DataFrame({
        "open": [1.1] * 9, "high": [1.2] * 9, "low": [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0],
        "close": [1.1, 1.1, 1.3, 1.15, 1.1, 1.1, np.nan, 1.1, -1.0],
    }, index=index)
    out, report = clean(frame)
    assert report.unsorted and report.duplicates == 1 and report.weekend == 1
    assert report.non_finite == 1 and report.non_positive == 1
    assert report.ohlc_repaired == 1  # the zero low
    assert out.index.is_monotonic_increasing and len(out) == report.rows_out == 5
    assert (out["low"] <= out["close"]).all() and (out["high"] >= out["close"]).all()
    assert out.loc[days[2], "close"] == 1.15  # duplicate: the last kept
    assert report.gaps and report.gaps[0]["missing_business_days"] == 5
    with pytest.raises(ForecasterError, match="strict"):
        clean(frame, strict=True)


# ---------------------------------------------------------------- windows, splits, scalers

@pytest.fixture(scope="module")
def eurusd():
    return load_series("EURUSD")


def test_scaler_is_fitted_on_training_rows_alone(eurusd):
    prep = prepare(eurusd, DataConfig(lookback=20, horizon=3, features=("log_return", "day_of_week")))
    val_start = prep.bounds[0]
    train_rows = prep.raw_features[:val_start]
    assert np.allclose(prep.feature_scaler.mean_, train_rows.mean(axis=0))
    assert np.allclose(prep.feature_scaler.scale_, train_rows.std(axis=0))
    assert not np.allclose(prep.feature_scaler.mean_, prep.raw_features.mean(axis=0))
    train = prep.windows("train")
    log_close = np.log(prep.close)
    y = log_close[train.rows[:, None] + np.arange(1, 4)] - log_close[train.rows][:, None]
    assert np.allclose(prep.target_scale, np.sqrt((y**2).mean(axis=0)))  # RMS, not centred


def test_no_window_target_reaches_a_later_split(eurusd):
    cfg = DataConfig(lookback=30, horizon=5, stride=2)
    prep = prepare(eurusd, cfg)
    val_start, test_start, n = prep.bounds
    for split, limit in (("train", val_start), ("val", test_start), ("test", n)):
        w = prep.windows(split)
        assert len(w) > 0
        assert (w.rows + cfg.horizon < limit).all()  # every target row inside the split
        assert np.isfinite(w.y).all()
    assert (prep.windows("val").rows + 1 >= val_start).all()
    assert (prep.windows("test").rows + 1 >= test_start).all()


def test_windows_hold_the_right_values_and_round_trip_to_prices(eurusd):
    prep = prepare(eurusd, DataConfig(lookback=10, horizon=4))
    w = prep.windows("val")
    i, t = 7, w.rows[7]
    assert np.allclose(w.x[i, :, 0], prep.features[t - 9 : t + 1, 0])
    assert w.last_close[i] == prep.close[t] and w.origin[i] == prep.dates[t]
    prices = prep.to_prices(w.y[:, :, 0], w.last_close)
    assert np.allclose(prices[i], prep.close[t + 1 : t + 5])
    assert np.allclose(prep.to_prices(np.zeros((1, 4)), [1.5]), 1.5)  # 0 = no change
    latest = prep.latest_window()
    assert latest.origin[0] == prep.dates[-1] and np.isnan(latest.y).all()


def test_date_split_and_config_errors(eurusd):
    prep = prepare(eurusd, DataConfig(lookback=10, horizon=2, split=("2020-01-01", "2023-01-01")))
    assert prep.dates[prep.bounds[0]] >= pd.Timestamp("2020-01-01") > prep.dates[prep.bounds[0] - 1]
    for bad in (dict(lookback=0), dict(features=("moon_phase",)), dict(split=(0.5, 0.6, 0.1)), dict(split=("x", "y"))):
        with pytest.raises(ForecasterError):
            DataConfig(**bad)
    with pytest.raises(ForecasterError, match="too few"):
        prepare(eurusd, DataConfig(lookback=6000, horizon=5))
    with pytest.raises(ForecasterError, match="open/high/low"):
        prepare(eurusd, DataConfig(features=("range",)))
    assert DataConfig.from_dict(DataConfig(covariates=("gbpusd",)).to_dict()) == DataConfig(covariates=("GBPUSD",))


def test_covariates_align_on_common_dates(eurusd):
    gbp = load_series("GBPUSD")
    prep = prepare(eurusd, DataConfig(lookback=10, horizon=2), covariate_series=[gbp])
    assert prep.feature_names == ["log_return", "abs_return", "log_return_GBPUSD"]
    assert prep.dates.isin(gbp.frame.index).all()


def test_walk_forward_folds():
    folds = walk_forward_folds(100, initial_train=60, step=10, horizon=5)
    assert [f.test.start for f in folds] == [60, 70, 80, 90]
    assert folds[-1].test.stop == 95  # the last origin with a 5-step target is row 94
    assert all(f.train == slice(0, f.test.start) for f in folds)
    sliding = walk_forward_folds(100, 60, 10, 5, mode="sliding", window=30, max_folds=2)
    assert [(f.train.start, f.train.stop) for f in sliding] == [(30, 60), (40, 70)]
    with pytest.raises(ForecasterError):
        walk_forward_folds(50, 60, 10)


def test_minute_bars_are_fetched_in_week_long_pieces(tmp_path, monkeypatch):
    start = (pd.Timestamp.now() - pd.Timedelta(days=20)).normalize()
    pieces = [fake_yf_frame(pd.date_range(start + pd.Timedelta(days=7 * k) + pd.Timedelta(hours=10), periods=40,
                                          freq="min"), intraday=True) for k in range(3)]
    fake = FakeDownload(*pieces)
    monkeypatch.setattr(yahoo, "_download", fake)
    frame, _ = yahoo.fetch("EUR", "USD", "1m", start=start, cache_dir=tmp_path)
    assert len(fake.calls) == 3
    assert all((b - a) <= pd.Timedelta(days=7) for _, _, a, b in fake.calls)
    assert frame.index.is_unique and len(frame) == 120
