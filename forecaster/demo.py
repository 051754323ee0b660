"""The whole main job, offline, in one call: train on ECB data, backtest beside the baselines,
forecast the next bars with intervals, and write every plot and report into one folder.

    out/
        models/<name>/        the trained model (weights, config, scalers, metrics)
        backtest/             metrics.json, forecasts.csv, tables.md, equity/error/forecast plots
        forecast.png          recent history, the forecast path and its 80% / 95% intervals
        forecast.csv          the same numbers
        summary.json          what was run and where everything went
"""

from __future__ import annotations

import json
import time

import pandas as pd
from pathlib import Path
from typing import Optional

from forecaster import api
from forecaster.checkpoint import atomic_write_text
from forecaster.data import DataConfig, load_series, pip_size
from forecaster.mamba import MambaConfig
from forecaster.plots import plot_forecast
from forecaster.training import TrainConfig


def run_demo(out="demo", pair: str = "EURUSD", epochs: int = 12, test_years: float = 3.0, lookback: int = 48,
             horizon: int = 5, mamba: Optional[MambaConfig] = None, seed: int = 0, device: str = "cpu",
             start: Optional[str] = None, progress: bool = True, progress_fn=None) -> dict:
    """Returns the summary written to out/summary.json (paths, validation and backtest headline numbers)."""
    from forecaster.backtest import BacktestConfig, CostConfig, default_baselines, run_backtest
    from forecaster.backtest.neural import MambaModel
    from forecaster.backtest.report import write_report

    began = time.perf_counter()
    out = Path(out)
    series = load_series(pair, source="ecb", start=start)
    # The model is trained on the data before the backtest's test period only.
    test_from = series.frame.index[-1] - pd.DateOffset(days=round(365.25 * test_years))
    trained = api.train(
        series.pair, name=f"demo-{series.pair.lower()}", series=load_series(pair, source="ecb", start=start, end=str(test_from.date())),
        data=DataConfig(lookback=lookback, horizon=horizon), mamba=mamba or MambaConfig(**api.DEFAULT_MAMBA),
        train_config=TrainConfig(epochs=epochs, seed=seed, device=device), models_dir=out / "models", progress=progress,
    )
    models = [MambaModel.from_saved(trained.name, series, out / "models")] + default_baselines(horizon)
    models.sort(key=lambda m: m.name != "random_walk")
    config = BacktestConfig(horizon=horizon, test_years=test_years,
                            costs=CostConfig(spread_pips=0.8, pip=pip_size(series.pair)))
    result = run_backtest(series, models, config, progress=progress_fn)
    report = write_report(result, out / "backtest")
    forecast = trained.predict(series)
    plot = plot_forecast(series.close.iloc[-120:], forecast, out / "forecast.png")
    atomic_write_text(forecast.to_frame().to_csv(), out / "forecast.csv")
    m = trained.meta["metrics"]
    summary = {
        "pair": series.pair, "model": trained.name, "seconds": round(time.perf_counter() - began, 1),
        "validation": {"model_mse": m["val_mse"], "random_walk_mse": m["val_mse_random_walk"]},
        "backtest": {name: {k: stats["overall"].get(k) for k in ("rmse", "theil_u2", "dm_p", "directional_accuracy")}
                     for name, stats in result.forecast_stats.items()},
        "files": {"model": str(trained.folder), "forecast_plot": str(plot), "forecast_csv": str(out / "forecast.csv"),
                  **{f"backtest_{k}": v for k, v in report.items()}},
    }
    atomic_write_text(json.dumps(summary, indent=2, default=str), out / "summary.json")
    return summary
