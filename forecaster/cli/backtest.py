"""`forecaster backtest PAIR`: the Mamba model beside every baseline, walked forward over the test period."""

from __future__ import annotations

from typing import Optional

import typer

from forecaster.cli.app import app, emit_json, info, progress_bar, settings, stderr


@app.command("backtest")
def backtest(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A saved model (models/NAME) to backtest as it is."),
    retrain_every: int = typer.Option(0, "--retrain-every", "-k",
                                      help="Retrain the Mamba model every K origins (0: once, before the test period)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Instead of K: cut the test period into N folds, retrain at each."),
    test_years: float = typer.Option(3.0, "--test-years", help="Length of the test period (the last years of the data)."),
    test_start: Optional[str] = typer.Option(None, "--test-start", help="First test origin date (overrides --test-years)."),
    horizon: Optional[int] = typer.Option(None, "--horizon", "-H", help="Steps forecast at each origin (default 5; a saved model's own)."),
    lookback: Optional[int] = typer.Option(None, "--lookback", "-L", help="Bars the Mamba model sees (default 48; a saved model's own)."),
    mode: str = typer.Option("expanding", "--mode", help="Training window: expanding or sliding."),
    window: Optional[int] = typer.Option(None, "--window", help="Rows of the sliding training window."),
    spread_pips: float = typer.Option(0.8, "--spread-pips", help="Bid-ask spread in pips (0.0001; 0.01 for JPY)."),
    commission_bp: float = typer.Option(0.0, "--commission-bp", help="Commission per unit of position change, bp."),
    slippage_bp: float = typer.Option(0.0, "--slippage-bp", help="Slippage per unit of position change, bp."),
    threshold: float = typer.Option(0.0, "--threshold", help="Trade only when |forecast log return| exceeds this."),
    signal_step: int = typer.Option(1, "--signal-step", help="Which horizon step's forecast sets the position."),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs of the Mamba model in the folds."),
    d_model: int = typer.Option(16, "--d-model", help="Mamba width when trained in the folds."),
    n_layer: int = typer.Option(2, "--n-layer", help="Mamba blocks when trained in the folds."),
    train_stride: int = typer.Option(1, "--train-stride", help="Step between training window origins (>1: faster, fewer windows)."),
    no_mamba: bool = typer.Option(False, "--baselines-only", help="Skip the Mamba model: baselines only."),
    source: str = typer.Option("ecb", "--source", "-s", help="ecb (offline default), yahoo or csv."),
    interval: str = typer.Option("1d", "--interval", "-i", help="Bar size (1d for ecb)."),
    start: Optional[str] = typer.Option(None, "--start", help="First date of the data, YYYY-MM-DD."),
    end: Optional[str] = typer.Option(None, "--end", help="Last date of the data, YYYY-MM-DD."),
    path: Optional[str] = typer.Option(None, "--path", help="A CSV file (source csv)."),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help="Where saved models live (default models/)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Report folder (default reports/backtest-PAIR)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG plots."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on stdout."),
) -> None:
    """Walk-forward backtest of the Mamba model beside the random walk, drift, mean reversion and Ridge AR.

    Forecast statistics (MAE/RMSE/MAPE, MASE, Theil's U2, Diebold-Mariano and Pesaran-Timmermann
    p-values) and a trading simulation after spread, commission and slippage (swap not modelled).

    Example: forecaster backtest EURUSD --retrain-every 0 --test-years 3 --spread-pips 0.8 --out reports/eurusd
    """
    from pathlib import Path

    from forecaster.backtest import BacktestConfig, CostConfig, default_baselines, run_backtest
    from forecaster.backtest.neural import MambaModel
    from forecaster.backtest.report import print_tables, write_report
    from forecaster.data import DataConfig, load_series, pip_size
    from forecaster.errors import ForecasterError

    if model and (retrain_every or folds):
        raise ForecasterError("--model backtests a saved model as it is; --retrain-every/--folds train inside the "
                              "folds: give one or the other")
    if model and no_mamba:
        raise ForecasterError("--model and --baselines-only contradict each other: give one")
    series = load_series(pair, source=source, interval=interval, start=start, end=end, path=path)
    models = []
    if model:
        mamba = MambaModel.from_saved(model, series, models_dir)
        for opt, value, own in (("--horizon", horizon, mamba.data_config.horizon),
                                ("--lookback", lookback, mamba.data_config.lookback)):
            if value is not None and value != own:
                raise ForecasterError(f"{opt} {value} differs from the saved model's {own}: drop the option or retrain")
        horizon = mamba.data_config.horizon
        models.append(mamba)
    else:
        horizon = horizon or 5
        if not no_mamba:
            from forecaster.api import DEFAULT_MAMBA
            from forecaster.mamba import MambaConfig
            from forecaster.training import TrainConfig

            data = DataConfig(lookback=lookback or DataConfig.lookback, horizon=horizon, stride=train_stride)
            train_cfg = TrainConfig(epochs=epochs, seed=settings.seed, device=settings.device)
            models.append(MambaModel(data, MambaConfig(d_model=d_model, n_layer=n_layer, d_state=DEFAULT_MAMBA["d_state"]), train_cfg))
    models = models[:1] + default_baselines(horizon) if models else default_baselines(horizon)
    # the random walk first: every other row is read against it
    models.sort(key=lambda m: m.name != "random_walk")
    config = BacktestConfig(
        horizon=horizon, test_years=test_years, test_start=test_start, retrain_every=retrain_every, folds=folds,
        mode=mode, window=window, signal_step=signal_step, threshold=threshold,
        costs=CostConfig(spread_pips=spread_pips, pip=pip_size(series.pair), commission_bp=commission_bp,
                         slippage_bp=slippage_bp),
    )
    info(f"{series.pair}: {len(series.frame)} bars {series.frame.index[0].date()}..{series.frame.index[-1].date()} "
         f"({series.source}); models: {', '.join(m.name for m in models)}")
    with progress_bar("backtest") as progress:
        result = run_backtest(series, models, config, progress=progress)
    folder = Path(out or f"reports/backtest-{series.pair.lower()}")
    paths = write_report(result, folder, plots=not no_plots)
    if settings.verbosity >= 0:
        print_tables(result, stderr)
    info(f"report: {folder}/ ({', '.join(Path(p).name for p in paths.values())})")
    if as_json:
        import json

        emit_json({**json.loads(Path(paths["metrics"]).read_text(encoding="utf-8")), "files": paths})
