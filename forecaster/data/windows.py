"""Features, targets, chronological splits, scalers and windows: everything leak-free.

Notation: row t is a bar; p_t = log(close_t). A window with origin t sees feature rows
t-L+1..t (lookback L) and is scored on targets y_h = p_{t+h} - p_t for h = 1..H: the
cumulative log return from the last observed close. A window belongs to the split that holds
all of its target rows t+1..t+H, so its inputs may reach back into an earlier split but no
target ever lies in a later one.

Scaling, fitted on training rows only (`fit_scaler`):
  - features: a StandardScaler over the feature rows before the validation split;
  - targets: a per-step scale s_h = RMS of y_h over the training windows, NOT centred, so a
    scaled target of 0 still means "no change" (the random-walk forecast).

Feature names (r_t = p_t - p_{t-1}; with OHLC, u = log(high/low), c = log(close/open)):
    log_return      r_t
    abs_return      |r_t|          the size of the move: volatility clusters (Engle 1982)
    squared_return  r_t^2
    range, body     u, c           where the source has OHLC (yahoo, csv)
    parkinson       u^2 / (4 log 2)                         the bar's variance from its range (Parkinson 1980)
    garman_klass    u^2 / 2 - (2 log 2 - 1) c^2             from open, high, low, close (Garman & Klass 1980)
    day_of_week     sin and cos of the weekday
Where the bars' high/low look misaligned with their close (forecaster.data.alignment: the close is
taken before the bar's range ends, as in Yahoo's daily FX bars), the four range features are the
previous completed bar's by default, named with the suffix _prev (DataConfig.misaligned_range).
Each covariate pair adds its log return, aligned on the dates both series have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from forecaster.configs import OHLC_FEATURES, SPLITS, DataConfig
from forecaster.data import alignment
from forecaster.data.series import PriceSeries
from forecaster.errors import ForecasterError

log = logging.getLogger(__name__)
LAGGED_SUFFIX = "_prev"  # name of a range feature taken from the previous bar (misaligned bars)
_noted: set = set()  # misalignment notes already given in this process

@dataclass
class WindowSet:
    """The windows of one split."""

    x: np.ndarray  # (N, L, C_in) float32, scaled features
    y: np.ndarray  # (N, H, 1) float32, scaled cumulative log returns (0 = no change)
    origin: pd.DatetimeIndex  # (N,) time of the last observed bar
    last_close: np.ndarray  # (N,) close at the origin
    rows: np.ndarray  # (N,) row index of the origin in the feature table

    def __len__(self) -> int:
        return len(self.x)

    def dataset(self):
        import torch
        from torch.utils.data import TensorDataset

        return TensorDataset(torch.from_numpy(self.x), torch.from_numpy(self.y))


@dataclass
class Prepared:
    config: DataConfig
    dates: pd.DatetimeIndex  # (T,) dates of the feature rows
    close: np.ndarray  # (T,) closes
    raw_features: np.ndarray  # (T, C_in) before scaling
    feature_names: list
    bounds: tuple  # row where validation starts, row where test starts, number of rows
    feature_scaler: object  # sklearn StandardScaler fitted on training rows
    target_scale: np.ndarray  # (H,) RMS of each step's training targets
    features: np.ndarray = field(repr=False, default=None)  # (T, C_in) float32 scaled

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    def fitted(self) -> dict:
        """The scalers as plain lists, to be saved with a model (JSON, never pickle)."""
        return {"feature_mean": self.feature_scaler.mean_.tolist(), "feature_scale": self.feature_scaler.scale_.tolist(),
                "target_scale": self.target_scale.tolist(), "feature_names": list(self.feature_names)}

    def split_rows(self, split: str) -> tuple[int, int]:
        """First and one-past-last row whose targets belong to the split."""
        val_start, test_start, n = self.bounds
        return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n)}[split]

    def windows(self, split: str, stride: Optional[int] = None) -> WindowSet:
        if split not in SPLITS:
            raise ForecasterError(f"split {split!r} unknown: accepted {', '.join(SPLITS)}")
        lo, hi = self.split_rows(split)
        stride = stride or (self.config.stride if split == "train" else 1)
        L, H = self.config.lookback, self.config.horizon
        # origins t: targets t+1..t+H inside [lo, hi), lookback t-L+1 >= 0
        first, last = max(lo - 1, L - 1), hi - 1 - H
        origins = np.arange(first, last + 1, stride) if last >= first else np.zeros(0, dtype=int)
        return self.windows_at(origins)

    def windows_at(self, origins: np.ndarray) -> WindowSet:
        """Windows for chosen origin rows (targets beyond the data are NaN)."""
        L, H = self.config.lookback, self.config.horizon
        origins = np.asarray(origins, dtype=int)
        if len(origins) and (origins.min() < L - 1 or origins.max() >= len(self.dates)):
            raise ForecasterError(f"window origins must lie in rows {L - 1}..{len(self.dates) - 1}")
        view = np.lib.stride_tricks.sliding_window_view(self.features, L, axis=0)  # (T-L+1, C, L)
        x = view[origins - L + 1].transpose(0, 2, 1).astype(np.float32)  # (N, L, C)
        y = (cumulative_returns(np.log(self.close), origins, H) / self.target_scale)[..., None].astype(np.float32)
        return WindowSet(x=x, y=y, origin=self.dates[origins], last_close=self.close[origins], rows=origins)

    def latest_window(self) -> WindowSet:
        """The newest L bars, for forecasting past the end of the data (targets unknown: NaN)."""
        return self.windows_at(np.array([len(self.dates) - 1]))

    def to_returns(self, y_scaled) -> np.ndarray:
        """Scaled targets (N, H, ...) -> cumulative log returns."""
        y = np.asarray(y_scaled, dtype=np.float64)
        return y * self.target_scale.reshape((1, -1) + (1,) * (y.ndim - 2))

    def to_prices(self, y_scaled, last_close) -> np.ndarray:
        """Scaled targets (N, H, ...) and closes at the origins (N,) -> prices (N, H, ...)."""
        returns = self.to_returns(y_scaled)
        last = np.asarray(last_close, dtype=np.float64).reshape((-1,) + (1,) * (returns.ndim - 1))
        return last * np.exp(returns)


def build_features(series: PriceSeries, config: DataConfig, covariate_series: Sequence[PriceSeries] = ()) -> tuple[pd.DataFrame, pd.Series]:
    """Feature table (one row per bar, every value known at that bar) and the aligned closes."""
    frame = series.frame
    for cov in covariate_series:
        frame = frame.join(cov.frame[["close"]].rename(columns={"close": f"close_{cov.pair}"}), how="inner")
    log_close = np.log(frame["close"])
    table = pd.DataFrame(index=frame.index)
    r = log_close.diff()
    for name in config.features:
        if name in ("log_return", "abs_return", "squared_return"):
            table[name] = {"log_return": r, "abs_return": r.abs(), "squared_return": r**2}[name]
        elif name in OHLC_FEATURES:
            if not {"open", "high", "low"} <= set(frame.columns) or frame[["open", "high", "low"]].isna().any().any():
                raise ForecasterError(f"feature {name!r} needs open/high/low prices; source {series.source} has close "
                                      f"only: use it with a yahoo or OHLC csv series, or drop --feature {name}")
            lag = range_lag(series, config)
            u, c = np.log(frame["high"] / frame["low"]), np.log(frame["close"] / frame["open"])
            value = {"range": u, "body": c, "parkinson": u**2 / (4 * np.log(2)),
                     "garman_klass": 0.5 * u**2 - (2 * np.log(2) - 1) * c**2}[name]
            table[name + LAGGED_SUFFIX if lag else name] = value.shift(lag)  # lag 1: the previous completed bar's
        elif name == "day_of_week":
            angle = 2 * np.pi * frame.index.day_of_week.to_numpy() / 5.0
            table["dow_sin"], table["dow_cos"] = np.sin(angle), np.cos(angle)
    for cov in covariate_series:
        table[f"log_return_{cov.pair}"] = np.log(frame[f"close_{cov.pair}"]).diff()
    keep = table.notna().all(axis=1)
    return table[keep], frame["close"][keep]


def range_lag(series: PriceSeries, config: DataConfig) -> int:
    """Bars by which range features lag: 1 when the series' bars look misaligned (forecaster.data.alignment)
    and config.misaligned_range is 'lag', else 0; 'refuse' makes misaligned bars an error. Says so once."""
    checked = alignment.of(series.frame)
    if checked is None or not checked.misaligned:
        return 0
    policy = config.misaligned_range
    if policy == "refuse":
        raise ForecasterError(f"{series.pair}: {checked.line()}: range features would see part of the next bar; "
                              "drop them, or pass --misaligned-range lag (the previous bar's range) or as_is")
    what = "use the previous completed bar's range (--misaligned-range as_is keeps the bar's own)" if policy == "lag" \
        else "use the bar's own range as asked (--misaligned-range as_is): expect look-ahead"
    key = (series.pair, series.source, policy, len(checked.flagged))
    if key not in _noted:
        _noted.add(key)
        log.warning(f"{series.pair}: {checked.line()}; range features {what}")
    return 1 if policy == "lag" else 0


def cumulative_returns(log_close: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """log closes (T,) and origin rows (N,) -> (N, H) targets y_h = p_{t+h} - p_t (NaN past the data)."""
    origins = np.asarray(origins, dtype=int)
    steps = origins[:, None] + np.arange(1, horizon + 1)  # (N, H)
    future = np.where(steps < len(log_close), log_close[np.minimum(steps, len(log_close) - 1)], np.nan)
    return future - log_close[origins][:, None]


def trailing_mean_square(x: np.ndarray, ends: np.ndarray, window: int, partial: bool = False) -> np.ndarray:
    """(N,) the mean of x_{k-window}^2 .. x_{k-1}^2 for each k in ends: the last `window` values before
    position k (a rolling volatility when x are returns). Where fewer than `window` exist: NaN, or
    with partial=True the mean over the min(window, k) there are."""
    c = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)])  # (T+1,)
    ends = np.asarray(ends, dtype=int)
    if partial:
        n = np.minimum(window, ends)
        return (c[ends] - c[ends - n]) / n
    out = np.full(len(ends), np.nan)
    ok = ends >= window
    out[ok] = (c[ends[ok]] - c[ends[ok] - window]) / window
    return out


def change_windows(values: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every stride-1 window of a (rows, C) table: x (N, L, C) = rows t-L+1..t and y (N, H, C) =
    rows t+1..t+H minus row t (the change from the last observed value: 0 = no change)."""
    n = len(values) - lookback - horizon + 1
    if n < 1:
        raise ForecasterError(f"no window fits: {len(values)} rows < lookback {lookback} + horizon {horizon}")
    view = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)[:n]  # (N, C, L + H)
    block = view.transpose(0, 2, 1)  # (N, L + H, C)
    return block[:, :lookback], block[:, lookback:] - block[:, lookback - 1 : lookback]


def fit_scaler(rows: np.ndarray):
    """A z-score scaler per column (population std; constant columns get scale 1), fitted on `rows`
    (the training rows only)."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(rows)


def saved_scaler(mean, scale):
    """A scaler with saved statistics, never refitted."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    scaler.var_, scaler.n_features_in_ = scaler.scale_**2, len(scaler.scale_)
    return scaler


def split_bounds(dates: pd.DatetimeIndex, split: tuple) -> tuple[int, int, int]:
    """(row where validation starts, row where test starts, rows) for three fractions or two dates."""
    n = len(dates)
    if len(split) == 3:
        val_start = int(round(n * split[0]))
        test_start = int(round(n * (split[0] + split[1])))
    else:
        val_start, test_start = (int(dates.searchsorted(pd.Timestamp(d))) for d in split)
    return val_start, test_start, n


def prepare(series: PriceSeries, config: DataConfig, covariate_series: Sequence[PriceSeries] = (),
            bounds: Optional[tuple] = None, fitted: Optional[dict] = None) -> Prepared:
    """Features, bounds of the splits, scalers fitted on the training rows alone.

    bounds: (validation start row, test start row, rows) to override config.split (walk-forward folds).
    fitted: scalers saved with a trained model ({"feature_mean", "feature_scale", "target_scale"}),
    used as they are instead of being fitted: new data is scaled as the training data was.
    """
    table, close = build_features(series, config, covariate_series)
    if bounds is None:
        bounds = split_bounds(table.index, config.split)
    val_start, test_start, n = bounds
    L, H = config.lookback, config.horizon
    raw = table.to_numpy(dtype=np.float64)
    if fitted is None:
        train_origins = np.arange(L - 1, val_start - H, config.stride)
        if len(train_origins) < 2:
            raise ForecasterError(
                f"{series.pair}: {val_start} training rows are too few for lookback {L} and horizon {H}; "
                f"use more data, a shorter lookback or a larger training fraction"
            )
        scaler = fit_scaler(raw[:val_start])
        train_y = cumulative_returns(np.log(close.to_numpy(dtype=np.float64)), train_origins, H)
        target_scale = np.sqrt(np.mean(train_y**2, axis=0))
        target_scale = np.where(target_scale > 0, target_scale, 1.0)
    else:
        scaler = saved_scaler(fitted["feature_mean"], fitted["feature_scale"])
        target_scale = np.asarray(fitted["target_scale"], dtype=np.float64)
        names = list(fitted.get("feature_names", table.columns))
        if names != list(table.columns) or len(scaler.mean_) != raw.shape[1] or len(target_scale) != H:
            raise ForecasterError(f"the saved scalers fit features {names} and {len(target_scale)} steps; the data "
                                  f"gives {list(table.columns)} and {H} steps: retrain the model")
    return Prepared(
        config=config, dates=table.index, close=close.to_numpy(dtype=np.float64), raw_features=raw,
        feature_names=list(table.columns), bounds=(val_start, test_start, n), feature_scaler=scaler,
        target_scale=target_scale, features=scaler.transform(raw).astype(np.float32),
    )


@dataclass
class Fold:
    """One walk-forward step: train on rows train, forecast from origins in test."""

    index: int
    train: slice
    test: slice


def walk_forward_folds(n_rows: int, initial_train: int, step: int, horizon: int = 1, mode: str = "expanding",
                       window: Optional[int] = None, max_folds: Optional[int] = None) -> list[Fold]:
    """Rolling-origin folds over rows [initial_train, n_rows).

    expanding: train on rows [0, end); sliding: on the last `window` rows before end. Each fold's
    test block holds the next `step` origins whose H-step targets exist. Scalers must be fitted on
    each fold's own training rows (prepare(..., bounds=...)).
    """
    if mode not in ("expanding", "sliding"):
        raise ForecasterError(f"mode {mode!r} unknown: accepted expanding or sliding")
    if step < 1 or initial_train < 1:
        raise ForecasterError("step and initial_train must be >= 1")
    if mode == "sliding" and not window:
        window = initial_train
    last_origin = n_rows - 1 - horizon
    folds = []
    end = initial_train
    while end <= last_origin and (max_folds is None or len(folds) < max_folds):
        start = 0 if mode == "expanding" else max(0, end - window)
        folds.append(Fold(len(folds), slice(start, end), slice(end, min(end + step, last_origin + 1))))
        end += step
    if not folds:
        raise ForecasterError(f"no walk-forward fold fits: {n_rows} rows, {initial_train} for the first training window")
    return folds
