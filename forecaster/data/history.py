"""What a model may see at a bar: the look-ahead guard.

A History holds rows [start, cutoff] of one series (or of several pairs on common dates) and
nothing later: asking it for any row after the cutoff raises LookAheadError instead of quietly
returning less, so a model cannot read the future through what it is given. The backtest hands
every model a History ending at its training cutoff (fit) or at each forecast origin (forecast).
"""

from __future__ import annotations

from typing import Mapping, Optional, Union

import numpy as np
import pandas as pd

from forecaster.data.series import PriceSeries
from forecaster.errors import ForecasterError


class LookAheadError(ForecasterError):
    """A model asked for data after its forecast origin (or after its training cutoff)."""


class History:
    """Rows [start, cutoff] of a series: everything a model may use at bar `cutoff`.

    `series` is one PriceSeries, or a mapping pair -> PriceSeries on common dates (the first pair is
    the one forecast; the others are what a cross-pair model may read, through `log_close(pair=...)`)."""

    def __init__(self, series: Union[PriceSeries, Mapping[str, PriceSeries]], cutoff: int, start: int = 0):
        panel = dict(series) if isinstance(series, Mapping) else {series.pair: series}
        if not panel:
            raise ForecasterError("a history needs at least one series")
        main = next(iter(panel.values()))
        for pair, other in panel.items():
            if not other.frame.index.equals(main.frame.index):
                raise ForecasterError(f"{pair}'s dates differ from {main.pair}'s: a history of several pairs needs "
                                      "common dates (align them first, e.g. on the dates all pairs share)")
        if not 0 <= start <= cutoff < len(main.frame):
            raise ForecasterError(f"history rows {start}..{cutoff} lie outside the {len(main.frame)} rows of the data")
        self.pair, self.interval, self.source = main.pair, main.interval, main.source
        self.start, self.cutoff = start, cutoff
        self._frames = {pair: s.frame.iloc[start : cutoff + 1] for pair, s in panel.items()}  # never anything later
        self._log_closes = {pair: np.log(f["close"].to_numpy(dtype=np.float64)) for pair, f in self._frames.items()}
        self._frame, self._log_close = self._frames[self.pair], self._log_closes[self.pair]

    @property
    def pairs(self) -> list[str]:
        """The pairs visible here, the forecast pair first."""
        return list(self._frames)

    def __len__(self) -> int:
        return len(self._log_close)

    @property
    def date(self) -> pd.Timestamp:
        """The date of the last visible bar (the origin)."""
        return self._frame.index[-1]

    def _span(self, last: Optional[int]) -> int:
        n = len(self._log_close)
        if last is None:
            return n
        if last > n:
            raise LookAheadError(
                f"look-ahead: {last} rows asked for, but only {n} rows up to {self.date.date()} (row {self.cutoff}) "
                f"may be used here"
            )
        return last

    def _pair(self, pair: Optional[str]) -> str:
        if pair is None:
            return self.pair
        if pair not in self._frames:
            raise ForecasterError(f"{pair} is not in this history: it holds {', '.join(self._frames)}")
        return pair

    def log_close(self, last: Optional[int] = None, pair: Optional[str] = None) -> np.ndarray:
        """The first `last` visible log closes (all by default) of the forecast pair, or of `pair`."""
        return self._log_closes[self._pair(pair)][: self._span(last)]

    def tail(self, rows: int, pair: Optional[str] = None) -> np.ndarray:
        """The newest `rows` log closes, ending at the cutoff."""
        p = self._log_closes[self._pair(pair)]
        if rows > len(p):
            raise ForecasterError(f"{rows} rows asked for, but the history holds {len(p)}")
        return p[len(p) - rows :]

    def series(self, last: Optional[int] = None, pair: Optional[str] = None) -> PriceSeries:
        """The visible rows as a PriceSeries (for models that prepare their own features)."""
        pair = self._pair(pair)
        return PriceSeries(frame=self._frames[pair].iloc[: self._span(last)], pair=pair, source=self.source,
                           interval=self.interval)


def on_common_dates(panel: Mapping[str, PriceSeries]) -> dict[str, PriceSeries]:
    """Each pair's series on the dates every pair has (what a History of several pairs needs)."""
    dates = None
    for s in panel.values():
        dates = s.frame.index if dates is None else dates.intersection(s.frame.index)
    if dates is None or len(dates) == 0:
        raise ForecasterError(f"{', '.join(panel) or 'no pairs'}: no date common to every pair")
    return {pair: PriceSeries(frame=s.frame.loc[dates], pair=s.pair, source=s.source, interval=s.interval)
            for pair, s in panel.items()}
