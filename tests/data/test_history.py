"""The look-ahead guard: a History holds rows up to its cutoff, of one pair or of several on common dates."""

import numpy as np
import pytest

from forecaster.data.history import History, LookAheadError
from forecaster.errors import ForecasterError

from conftest import price_series


def _walk(n, seed, pair="EURUSD", start="2010-01-04"):
    return price_series(np.random.default_rng(seed).normal(0, 0.006, n), start=start, pair=pair)


def test_history_holds_nothing_after_its_cutoff():
    series = _walk(100, 1)
    h = History(series, cutoff=49)
    assert len(h) == 50 and h.date == series.frame.index[49] and h.pairs == ["EURUSD"]
    np.testing.assert_allclose(h.log_close(), np.log(series.frame["close"].to_numpy()[:50]))
    assert len(h.series().frame) == 50 and h.tail(5)[-1] == h.log_close()[-1]
    with pytest.raises(LookAheadError):
        h.log_close(51)
    with pytest.raises(ForecasterError, match="outside"):
        History(series, cutoff=100)


def test_a_history_of_several_pairs_reads_each_up_to_the_cutoff():
    eur, jpy = _walk(80, 1), _walk(80, 2, pair="USDJPY")
    h = History({"EURUSD": eur, "USDJPY": jpy}, cutoff=39, start=10)
    assert h.pair == "EURUSD" and h.pairs == ["EURUSD", "USDJPY"] and len(h) == 30
    np.testing.assert_allclose(h.log_close(pair="USDJPY"), np.log(jpy.frame["close"].to_numpy()[10:40]))
    assert h.series(pair="USDJPY").pair == "USDJPY" and h.tail(3, pair="USDJPY")[-1] == h.log_close(pair="USDJPY")[-1]
    with pytest.raises(LookAheadError):
        h.log_close(31, pair="USDJPY")
    with pytest.raises(ForecasterError, match="GBPUSD is not in this history"):
        h.log_close(pair="GBPUSD")


def test_pairs_on_different_dates_are_refused():
    eur, jpy = _walk(80, 1), _walk(80, 2, pair="USDJPY", start="2010-02-01")
    with pytest.raises(ForecasterError, match="dates differ"):
        History({"EURUSD": eur, "USDJPY": jpy}, cutoff=39)
