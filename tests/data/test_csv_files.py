"""The files people really have: FRED downloads, long and wide tables, labels checked against the pair."""

import pandas as pd
import pytest

from forecaster.data import load_series
from forecaster.data.csv_files import file_name_label, pair_label
from forecaster.errors import ForecasterError

DAYS = pd.bdate_range("2024-01-01", periods=40)


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def fred_file(tmp_path, code="DEXUSEU", name="DEXUSEU.csv"):
    """As FRED serves H.10: observation_date,CODE with holidays blank or '.'."""
    rows = [f"{d.date()},{1.08 + 0.001 * i:.4f}" for i, d in enumerate(DAYS)]
    rows[3] = f"{DAYS[3].date()},"
    rows[9] = f"{DAYS[9].date()},."
    return write(tmp_path / name, [f"observation_date,{code}", *rows])


def test_fred_download_with_holes_loads_and_counts_them(tmp_path):
    path = fred_file(tmp_path)
    s = load_series("EURUSD", source="csv", path=path)
    assert len(s.frame) == 38 and s.report.non_finite == 2
    assert s.close.iloc[0] == pytest.approx(1.08) and DAYS[3] not in s.frame.index
    assert "non finite: 2" in s.report.summary_lines()
    with pytest.raises(ForecasterError, match=r"line 5: cannot read the close ''.*2 unreadable"):
        load_series("EURUSD", source="csv", path=path, strict=True)
    # DEXUSEU is dollars per euro: EURUSD; asking for the yen is an error naming both
    with pytest.raises(ForecasterError, match=r"holds EURUSD \(its column DEXUSEU\).*USDJPY was asked"):
        load_series("USDJPY", source="csv", path=path)


def test_fred_codes_and_file_names_name_pairs():
    assert pair_label("DEXUSEU") == "EURUSD" and pair_label("DEXJPUS") == "USDJPY" and pair_label("DEXUSUK") == "GBPUSD"
    assert pair_label("EUR/USD") == "EURUSD" and pair_label("usdjpy=x") == "USDJPY"
    assert pair_label("close") is None and pair_label("DEXXXYY") is None
    assert file_name_label("USDJPY=X.csv") == "USDJPY" and file_name_label("EURUSD60.csv") == "EURUSD"
    assert file_name_label("eur_usd-daily.csv") == "EURUSD"
    assert file_name_label("exchange_rate.csv") is None and file_name_label("prices.csv") is None


def test_long_table_needs_series_and_reads_it(tmp_path):
    rows = [f"{d.date()},{cur},{v + 0.001 * i:.4f}" for i, d in enumerate(DAYS)
            for cur, v in (("USD", 1.08), ("JPY", 160.0))]
    path = write(tmp_path / "rates_long.csv", ["date,currency,rate", *rows])
    with pytest.raises(ForecasterError, match=r"long table with 2 series in column 'currency' \(JPY, USD\).*--series"):
        load_series("EURUSD", source="csv", path=path)
    s = load_series("EURJPY", source="csv", path=path, series="JPY")
    assert len(s.frame) == 40 and s.close.iloc[0] == pytest.approx(160.0)
    with pytest.raises(ForecasterError, match="no series 'chf'.*accepted JPY, USD"):
        load_series("EURCHF", source="csv", path=path, series="chf")


def test_long_table_of_pairs_is_picked_by_the_pair(tmp_path):
    rows = [f"{d.date()},{pair},{v:.4f}" for d in DAYS for pair, v in (("EURUSD", 1.08), ("USDJPY", 150.0))]
    path = write(tmp_path / "pairs.csv", ["Date,Symbol,Close", *rows])
    assert load_series("USDJPY", source="csv", path=path).close.iloc[-1] == pytest.approx(150.0)
    with pytest.raises(ForecasterError, match=r"holds USDJPY \(its series USDJPY\).*EURUSD was asked"):
        load_series("EURUSD", source="csv", path=path, series="USDJPY")


def test_wide_table_needs_column(tmp_path):
    rows = [f"{d.date()},{1.08 + 0.001 * i:.4f},{160 + i:.2f},n/a" for i, d in enumerate(DAYS)]
    path = write(tmp_path / "wide.csv", ["Date,USD,JPY,XYZ", *rows])
    with pytest.raises(ForecasterError, match=r"wide table with 2 price columns \(USD, JPY\).*--column"):
        load_series("EURUSD", source="csv", path=path)
    s = load_series("EURJPY", source="csv", path=path, column="jpy")
    assert s.close.iloc[1] == pytest.approx(161.0)
    with pytest.raises(ForecasterError, match="no column 'CHF'.*accepted USD, JPY"):
        load_series("EURCHF", source="csv", path=path, column="CHF")
    pairs = write(tmp_path / "wide_pairs.csv", ["Date,EURUSD,USDJPY", *[f"{d.date()},1.08,150" for d in DAYS]])
    assert load_series("USDJPY", source="csv", path=pairs).close.iloc[0] == pytest.approx(150.0)
    with pytest.raises(ForecasterError, match="--column and --series pick from a CSV file"):
        load_series("EURUSD", column="USD")


def yfinance_csv(tmp_path, ticker="USDJPY=X"):
    """A yfinance frame saved with to_csv: Price / Ticker / Date header lines."""
    head = ["Price,Close,High,Low,Open,Volume", f"Ticker,{','.join([ticker] * 5)}", "Date,,,,,"]
    rows = [f"{d.date()},{150 + i * 0.1:.3f},{151 + i * 0.1:.3f},{149 + i * 0.1:.3f},{150 + i * 0.1:.3f},0"
            for i, d in enumerate(DAYS)]
    return write(tmp_path / "prices.csv", head + rows)


def test_yfinance_ticker_row_is_checked_against_the_pair(tmp_path):
    path = yfinance_csv(tmp_path)
    with pytest.raises(ForecasterError, match=r"holds USDJPY \(its ticker row USDJPY=X\), but EURUSD was asked"):
        load_series("EURUSD", source="csv", path=path)
    s = load_series("USDJPY", source="csv", path=path)
    assert list(s.frame.columns) == ["open", "high", "low", "close"] and s.close.iloc[0] == pytest.approx(150.0)


def test_file_name_is_checked_against_the_pair(tmp_path):
    path = write(tmp_path / "GBPUSD_daily.csv", ["Date,Close", *[f"{d.date()},1.27" for d in DAYS]])
    with pytest.raises(ForecasterError, match=r"holds GBPUSD \(its file name GBPUSD_daily.csv\).*EURUSD"):
        load_series("EURUSD", source="csv", path=path)
    assert load_series("GBPUSD", source="csv", path=path).pair == "GBPUSD"
    assert load_series("X", source="csv", path=path).pair == "GBPUSD"  # no pair asked: the file's own name


def test_small_wrong_answers_of_the_data_layer(tmp_path):
    with pytest.raises(ForecasterError, match="--start 2020-01-01 is after --end 2019-01-01"):
        load_series("EURUSD", start="2020-01-01", end="2019-01-01")
    with pytest.raises(ForecasterError, match="--start 'yesterday' is not a date"):
        load_series("EURUSD", start="yesterday")
    with pytest.raises(ForecasterError, match="is a folder, not a price file"):
        load_series("EURUSD", source="csv", path=str(tmp_path))
    negative = write(tmp_path / "neg.csv", ["Date,Close", *[f"{d.date()},-1.0" for d in DAYS]])
    with pytest.raises(ForecasterError, match=r"0 usable rows \(40 zero or negative price\(s\) dropped of 40\)"):
        load_series("EURUSD", source="csv", path=negative)
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    with pytest.raises(ForecasterError, match="data.csv is not a text file"):
        load_series("EURUSD", source="csv", path=str(binary))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("Datum,Close\n" + "\n".join(f"{d.date()},1.1" for d in DAYS) + "\n# \xe9t\xe9\n").encode("cp1252"))
    with pytest.raises(ForecasterError, match=r"latin.csv.*(no date column|cannot read the date)"):
        load_series("EURUSD", source="csv", path=str(latin))


def test_a_newer_file_must_be_the_same_series(tmp_path):
    from forecaster.data.sources import check_same_series

    old = load_series("EURUSD", source="csv", path=fred_file(tmp_path))
    trained = old.fingerprint()
    longer = [f"{d.date()},{1.08 + 0.001 * i:.4f}" for i, d in enumerate(pd.bdate_range("2024-01-01", periods=60))]
    longer[3], longer[9] = f"{DAYS[3].date()},", f"{DAYS[9].date()},."
    newer = load_series("EURUSD", source="csv", path=write(tmp_path / "newer.csv", ["observation_date,DEXUSEU", *longer]))
    assert check_same_series(newer, trained) == []
    revised = load_series("EURUSD", source="csv",
                          path=write(tmp_path / "revised.csv", ["observation_date,DEXUSEU", *longer[:5], *[
                              f"{d.date()},1.2" for d in pd.bdate_range(DAYS[5], periods=55)]]))
    assert "differ from those the model was trained on" in check_same_series(revised, trained)[0]
    shorter = load_series("EURUSD", source="csv", path=write(tmp_path / "short.csv", ["observation_date,DEXUSEU",
                                                                                      *longer[20:]]))
    with pytest.raises(ForecasterError, match="does not contain the training range 2024-01-01 .. 2024-02-23"):
        check_same_series(shorter, trained)
    with pytest.raises(ForecasterError, match="it holds USDJPY, the model was trained on EURUSD"):
        check_same_series(load_series("USDJPY"), trained)
