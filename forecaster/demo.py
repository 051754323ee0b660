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

import time

import pandas as pd
from pathlib import Path
from typing import Optional

from forecaster import api
from forecaster.configs import ANCHORED, DEMO_EPOCHS, DESIGNS, WINDOWED, AnchoredConfig, BacktestConfig, DataConfig, ModelConfig, TrainConfig
from forecaster.data import load_series
from forecaster.util.files import atomic_write_text, atomic_write_json, check_writable
from forecaster.model.plots import plot_forecast


def run_demo(out="demo", pair: str = "EURUSD", epochs: int = DEMO_EPOCHS, test_years: float = BacktestConfig.test_years,
             data: Optional[DataConfig] = None, model: Optional[ModelConfig] = None, seed: int = 0, device: str = "cpu",
             start: Optional[str] = None, progress: bool = True, progress_fn=None, design: str = DESIGNS[0]) -> dict:
    """Returns the summary written to out/summary.json (paths, validation and backtest headline numbers).
    design: the model trained (anchored by default; model and device configure the windowed one)."""
    from forecaster.backtest.report import summary_lines, verdict_lines, write_report

    began = time.perf_counter()
    out = check_writable(Path(out), folder=True)  # before any work
    data = data or DataConfig()
    series = load_series(pair, source="ecb", start=start)
    # The model is trained on the data before the backtest's test period only.
    test_from = series.frame.index[-1] - pd.DateOffset(days=round(365.25 * test_years))
    trained = api.train(
        series.pair, name=f"demo-{series.pair.lower()}", series=load_series(pair, source="ecb", start=start, end=str(test_from.date())),
        data=data, models_dir=out / "models", progress=progress, design=design,
        **({"model": model, "train_config": TrainConfig(epochs=epochs, seed=seed, device=device)} if design == WINDOWED
           else {"anchored": AnchoredConfig(epochs=epochs, seed=seed)}),
    )
    result = api.backtest(series.pair, BacktestConfig(test_years=test_years), model=trained, series=series,
                          progress=progress_fn)
    report = write_report(result, out / "backtest")
    forecast = trained.predict(series)
    plot = plot_forecast(series.close.iloc[-120:], forecast, out / "forecast.png")
    atomic_write_text(out / "forecast.csv", forecast.to_frame().to_csv())
    m = trained.meta["metrics"]
    summary = {
        "pair": series.pair, "model": trained.name, "seconds": round(time.perf_counter() - began, 1),
        "data": {"description": series.description, "last_bar": series.frame.index[-1].isoformat(),
                 "stale": forecast.stale},
        "validation": _validation(m),
        "verdicts": verdict_lines(result),
        "backtest_summary": summary_lines(result),
        "forecast": {"volatility_annual": forecast.risk.get("volatility_annual"),
                     "var_95_1d": forecast.risk.get("var_95_1d")},
        "backtest": {name: {k: stats["overall"].get(k) for k in ("rmse", "theil_u2", "dm_p", "directional_accuracy")}
                     for name, stats in result.forecast_stats.items()},
        "files": {"model": str(trained.folder), "forecast_plot": str(plot), "forecast_csv": str(out / "forecast.csv"),
                  **{f"backtest_{k}": v for k, v in report.items()}},
    }
    atomic_write_json(out / "summary.json", summary)  # valid JSON: NaN (no DM p for the random walk) -> null
    return summary


def _validation(m: dict) -> dict:
    """The headline of the trained model's validation: what is shipped and its verdict (anchored: CRPS
    beside GARCH-t; windowed: the centre's MSE beside the random walk and the location gate)."""
    if m.get("design") == ANCHORED:
        v = m["validation"]
        return {"design": ANCHORED, "crps": v["crps"], "verdict": v["verdict_garch_t"]["text"], "shipped": m["shipped"]}
    return {"design": WINDOWED, "model_mse": m["val_mse"], "random_walk_mse": m["val_mse_random_walk"],
            "verdict": m["gate"]["text"], "kept": m["gate"]["kept"]}
