"""The ECB source refreshes into the cache when the network answers and falls back, with a note,
when it does not. The network is never touched: the download is a double."""

import io
import logging
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.data import ecb, load_series
from forecaster.errors import ForecasterError


def history_zip(table: pd.DataFrame) -> bytes:
    """A table in the layout of the ECB's eurofxref-hist.zip (newest row first, N/A for no fix)."""
    table = table.drop(columns="EUR").sort_index(ascending=False)
    text = table.to_csv(na_rep="N/A", date_format="%Y-%m-%d", index_label="Date")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", text)
    return buffer.getvalue()


def newer_table(until=None) -> pd.DataFrame:
    """The bundled rates plus business days up to `until` (default: today), USD drifting up."""
    old = ecb.bundled()
    days = pd.bdate_range(old.index[-1] + pd.offsets.BDay(1), until or pd.Timestamp.now().normalize(), name="date")
    extra = pd.DataFrame([old.iloc[-1].to_numpy()] * len(days), index=days, columns=old.columns)
    extra["USD"] = old["USD"].iloc[-1] + 0.001 * (1 + pd.RangeIndex(len(days)).to_numpy())
    return pd.concat([old, extra])


class Download:
    def __init__(self, answer):
        self.answer, self.calls = answer, 0

    def __call__(self, timeout=ecb.CONNECT_TIMEOUT):
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv(ecb.OFFLINE_ENV, raising=False)
    ecb._noted.clear()
    return monkeypatch


def test_refresh_extends_the_cache_and_never_shrinks_it(tmp_path, online):
    table = newer_table()
    download = Download(history_zip(table))
    online.setattr(ecb, "_download", download)
    s = load_series("EURUSD", cache_dir=tmp_path)  # behind: refreshed on the way
    assert download.calls == 1 and s.frame.index[-1] == table.index[-1]
    assert s.close.iloc[-1] == pytest.approx(table["USD"].iloc[-1]) and "refreshed now" in s.description
    cached = ecb.cache_file(tmp_path).read_bytes()
    load_series("EURUSD", cache_dir=tmp_path)  # up to date now: no second download
    assert download.calls == 1
    # a truncated download (the last year only) merges in: nothing cached is lost
    download.answer = history_zip(table.iloc[-300:])
    result = ecb.refresh(tmp_path)
    assert result.rows_after == len(table) and result.added == 0
    assert ecb.cache_file(tmp_path).read_bytes() == cached  # unchanged content is not rewritten
    assert list(tmp_path.rglob("*.tmp*")) == []


def test_no_network_falls_back_to_the_bundled_copy_with_one_note(tmp_path, online, caplog):
    download = Download(OSError("Network is unreachable"))
    online.setattr(ecb, "_download", download)
    with caplog.at_level(logging.INFO, logger="forecaster"):
        s = load_series("EURUSD", cache_dir=tmp_path)
        load_series("USDJPY", cache_dir=tmp_path)
    end = ecb.bundled().index[-1]
    assert s.frame.index[-1] == end and download.calls == 1  # the next load does not try again within the hour
    notes = [r.getMessage() for r in caplog.records if "not refreshed" in r.getMessage()]
    assert len(notes) == 1 and f"ends on {end.date()}" in notes[0] and "data update" in notes[0]
    assert not ecb.cache_file(tmp_path).exists()


def test_offline_setting_never_touches_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv(ecb.OFFLINE_ENV, "1")
    monkeypatch.setattr(ecb, "_download", Download(AssertionError("the network was used")))
    assert load_series("EURUSD", cache_dir=tmp_path).frame.index[-1] == ecb.bundled().index[-1]
    monkeypatch.delenv(ecb.OFFLINE_ENV)
    assert load_series("EURUSD", cache_dir=tmp_path, offline=True).frame.index[-1] == ecb.bundled().index[-1]


def test_a_download_that_is_not_the_history_file_changes_nothing(tmp_path, online):
    online.setattr(ecb, "_download", Download(b"<html>maintenance</html>"))
    with pytest.raises(ForecasterError, match="not what was expected"):
        ecb.refresh(tmp_path)
    assert not ecb.cache_file(tmp_path).exists()


def test_real_download_gives_up_quickly(online):
    """The helper thread bounds the wait even when connecting hangs."""
    import time
    import urllib.request

    online.setattr(urllib.request, "urlopen", lambda *a, **k: time.sleep(5))
    began = time.perf_counter()
    with pytest.raises(TimeoutError, match="no answer"):
        ecb._download(timeout=0.2)
    assert time.perf_counter() - began < 2


def test_data_update_command(tmp_path, online):
    runner = CliRunner()
    table = newer_table()
    online.setattr(ecb, "_download", Download(history_zip(table)))
    result = runner.invoke(app, ["data", "update", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"up to {table.index[-1].date()}" in result.stdout and f"{len(table) - len(ecb.bundled())} new" in result.stdout
    result = runner.invoke(app, ["data", "update", "--cache-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0 and '"added": 0' in result.stdout
    online.setattr(ecb, "_download", Download(OSError("Network is unreachable")))
    result = runner.invoke(app, ["data", "update", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1 and "could not reach the ECB" in result.output and "Traceback" not in result.output
