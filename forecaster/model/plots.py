"""The forecast picture: recent history, the forecast path and its shaded intervals, dated axis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecaster.util.plotting import pyplot, save_figure
from forecaster.model.forecast import Forecast


def forecast_title(forecast: Forecast) -> str:
    """The pair, the model, the data source and where the data ends (and how stale it is)."""
    what = f"{forecast.pair}: next {len(forecast.dates)} steps"
    if forecast.model:
        what += f" by model {forecast.model}"
    data = f"data {forecast.source + ', ' if forecast.source else ''}last bar {forecast.origin.date()}"
    if forecast.stale:
        data += f" (STALE: {forecast.stale['business_days']} business days before {forecast.stale['today']})"
    return f"{what}\n{data}"


def plot_forecast(history: pd.Series, forecast: Forecast, path, title: str = "") -> Path:
    """history: recent closes (DatetimeIndex); the forecast drawn from its last close onwards. The title
    names the model, the data source and the last bar (with a staleness warning when it is old)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(history.index, history.values, color="0.25", lw=1.2, label="close")
    origin = pd.DatetimeIndex([forecast.origin])
    dates = origin.append(forecast.dates)
    shades = {"0.95": 0.15, "0.8": 0.3}
    for level in sorted(forecast.intervals, key=float, reverse=True):
        band = forecast.intervals[level]
        lower = [forecast.last_close, *band["lower"]]
        upper = [forecast.last_close, *band["upper"]]
        ax.fill_between(dates, lower, upper, color="tab:blue", alpha=shades.get(level, 0.2), lw=0,
                        label=f"{round(float(level) * 100)}% interval")
    ax.plot(dates, [forecast.last_close, *forecast.prices], color="tab:blue", lw=1.8, marker="o", ms=3, label="forecast")
    ax.axvline(forecast.origin, color="0.6", lw=0.8, ls="--")
    ax.set_title(title or forecast_title(forecast), fontsize=10, color="firebrick" if forecast.stale else "black")
    ax.set_ylabel(forecast.pair)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return save_figure(fig, path)
