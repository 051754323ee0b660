"""`forecaster backtest PAIR`: the Mamba model beside every baseline, walked forward over the test period."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from forecaster.cli.app import app, emit_json, info, progress_bar, settings
from forecaster.cli.options import (ColumnOpt, CrossPairsOpt, DistributionOpt, EndOpt, GateOpt, JsonOpt, ModelsDirOpt, SeriesOpt,
                                     StartOpt, anchored_family, anchored_given)
from forecaster.configs import (
    BACKTEST_EPOCHS, CALIBRATIONS, DESIGNS, FEATURES, MISALIGNED_RANGE, WINDOWED, AnchoredConfig, BacktestConfig,
    CostConfig, DataConfig, ModelConfig, TrainConfig, refuse_other_design,
)


@app.command("backtest")
def backtest(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A saved model (models/NAME) to backtest as it is."),
    retrain_every: int = typer.Option(BacktestConfig.retrain_every, "--retrain-every", "-k",
                                      help="Retrain the Mamba model every K origins (0: once, before the test period)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Instead of K: cut the test period into N folds, retrain at each."),
    test_years: float = typer.Option(BacktestConfig.test_years, "--test-years", help="Length of the test period (the last years of the data)."),
    test_start: Optional[str] = typer.Option(None, "--test-start", help="First test origin date (overrides --test-years); "
                                             "auto: the first date a saved --model has not seen."),
    horizon: Optional[int] = typer.Option(None, "--horizon", "-H", help=f"Steps forecast at each origin (default {DataConfig.horizon}; a saved model's own)."),
    lookback: Optional[int] = typer.Option(None, "--lookback", "-L", help=f"Bars the Mamba model sees (default {DataConfig.lookback}; a saved model's own)."),
    mode: str = typer.Option(BacktestConfig.mode, "--mode", help="Training window: expanding or sliding."),
    window: Optional[int] = typer.Option(None, "--window", help="Rows of the sliding training window."),
    spread_pips: float = typer.Option(CostConfig.spread_pips, "--spread-pips", help="Bid-ask spread in pips (0.0001; 0.01 for JPY)."),
    commission_bp: float = typer.Option(CostConfig.commission_bp, "--commission-bp", help="Commission per unit of position change, bp."),
    slippage_bp: float = typer.Option(CostConfig.slippage_bp, "--slippage-bp", help="Slippage per unit of position change, bp."),
    threshold: float = typer.Option(BacktestConfig.threshold, "--threshold", help="Trade only when |forecast log return| exceeds this."),
    signal_step: int = typer.Option(BacktestConfig.signal_step, "--signal-step", help="Which horizon step's forecast sets the position."),
    design: str = typer.Option(DESIGNS[0], "--design",
                               help=f"Mamba trained in the folds: {' | '.join(DESIGNS)} (anchored, the default: EWMA x "
                                    "exp(learnt correction) over long sequences, combined with GARCH-t, and mamba_raw "
                                    "beside it; windowed: the 48-bar window model, which --lookback, --epochs and the "
                                    "options below configure)."),
    members: int = typer.Option(AnchoredConfig.members, "--members", help="Anchored design: ensemble members (seeds)."),
    cross_pairs: Optional[str] = CrossPairsOpt,
    gate: Optional[float] = GateOpt,
    combine: bool = typer.Option(AnchoredConfig.combine, "--combine/--no-combine",
                                 help="Anchored design: ship the density combination with GARCH-t (else the ensemble alone)."),
    epochs: int = typer.Option(BACKTEST_EPOCHS, "--epochs", help="Training epochs of the windowed Mamba model in the folds."),
    d_model: int = typer.Option(ModelConfig.d_model, "--d-model", help="Mamba width when trained in the folds."),
    n_layer: int = typer.Option(ModelConfig.n_layer, "--n-layer", help="Mamba blocks when trained in the folds."),
    train_stride: int = typer.Option(DataConfig.stride, "--train-stride", help="Step between training window origins (>1: faster, fewer windows)."),
    features: List[str] = typer.Option(list(DataConfig.features), "--feature", help=f"Mamba inputs: {', '.join(FEATURES)} (repeat)."),
    misaligned_range: str = typer.Option(DataConfig.misaligned_range, "--misaligned-range",
                                         help=f"Range features of bars whose high/low look misaligned with the close: "
                                              f"{' | '.join(MISALIGNED_RANGE)} (lag: the previous bar's)."),
    distribution: Optional[str] = DistributionOpt,
    revin: bool = typer.Option(ModelConfig.revin, "--revin/--no-revin", help="Normalise each input window (RevIN) and scale outputs back."),
    no_mamba: bool = typer.Option(False, "--baselines-only", help="Skip the Mamba model: baselines only."),
    no_risk: bool = typer.Option(False, "--no-risk-models", help="Leave out the risk models (historical vol, EWMA, GARCH-t, GJR-GARCH-t)."),
    calibration: str = typer.Option(BacktestConfig.calibration, "--calibration",
                                    help=f"Online recalibration of the intervals over the test: {' or '.join(CALIBRATIONS)} "
                                         "(static: as issued)."),
    vol_target: Optional[float] = typer.Option(None, "--vol-target", help="Also simulate positions sized to this "
                                               "annualised volatility, e.g. 0.10 (beside unit size)."),
    vol_cap: float = typer.Option(BacktestConfig.vol_cap, "--vol-cap", help="Most position size under --vol-target."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="ecb (default), yahoo or csv; with --model: "
                                         "the model's own source unless given (then checked to be the same series)."),
    interval: Optional[str] = typer.Option(None, "--interval", "-i", help="Bar size (default 1d, or a saved model's own)."),
    start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt,
    path: Optional[str] = typer.Option(None, "--path", help="A CSV file (source csv); with --model, a newer file of "
                                       "the series it was trained on."),
    column: Optional[str] = ColumnOpt,
    csv_series: Optional[str] = SeriesOpt,
    models_dir: Optional[Path] = ModelsDirOpt,
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Report folder (default reports/backtest-PAIR)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG plots."),
    as_json: bool = JsonOpt,
    detail: bool = typer.Option(False, "--detail", help="After the summary, print every table (forecasts, trading, "
                                "risk sizing, distributions, calibration)."),
) -> None:
    """Walk-forward backtest of the Mamba model beside the random walk, drift, mean reversion, Ridge AR
    and the risk models (historical volatility, EWMA, GARCH(1,1)-t, GJR-GARCH(1,1)-t).

    Forecast statistics (MAE/RMSE/MAPE, MASE, Theil's U2, Diebold-Mariano and Pesaran-Timmermann
    p-values), proper scores of the forecast distributions (CRPS, pinball, interval score, coverage
    by volatility tercile, VaR tests, PIT, DM on CRPS), online-calibrated intervals, and a trading
    simulation after spread, commission and slippage (swap not modelled).

    Example: forecaster backtest EURUSD --folds 3 --out reports/eurusd (the anchored model, refit at each fold);
    forecaster backtest EURUSD --design windowed --folds 3 --distribution student_t (the 48-bar window model)
    """
    from forecaster import api
    from forecaster.backtest.report import print_summary, print_tables, write_report
    from forecaster.util.console import stdout
    from forecaster.util.files import check_writable

    folder = check_writable(Path(out or f"reports/backtest-{pair.lower().replace('/', '')}"), folder=True)
    config = BacktestConfig(
        test_years=test_years, test_start=test_start, retrain_every=retrain_every, folds=folds, mode=mode,
        window=window, signal_step=signal_step, threshold=threshold,
        costs=CostConfig(spread_pips=spread_pips, commission_bp=commission_bp, slippage_bp=slippage_bp),
        calibration=calibration, vol_target=vol_target, vol_cap=vol_cap,
    )
    windowed = design == WINDOWED
    if model is None and not no_mamba:
        refuse_other_design(design, windowed={
            "--lookback": (lookback, None), "--epochs": (epochs, BACKTEST_EPOCHS), "--d-model": (d_model, ModelConfig.d_model),
            "--n-layer": (n_layer, ModelConfig.n_layer), "--train-stride": (train_stride, DataConfig.stride),
            "--feature": (tuple(features), DataConfig.features),
            "--misaligned-range": (misaligned_range, DataConfig.misaligned_range),
            "--revin/--no-revin": (revin, ModelConfig.revin)},
            anchored=anchored_given(members, combine, gate, cross_pairs))
    with progress_bar("backtest") as progress:
        result = api.backtest(
            pair, config, model=model, models_dir=models_dir, source=source, interval=interval, path=path,
            column=column, csv_series=csv_series, start=start, end=end,
            data=DataConfig(stride=train_stride, features=tuple(features), misaligned_range=misaligned_range) if windowed else None,
            net=ModelConfig(d_model=d_model, n_layer=n_layer, distribution=distribution or ModelConfig.distribution,
                            revin=revin) if windowed else None,
            train_config=TrainConfig(epochs=epochs, seed=settings.seed, device=settings.device) if windowed else None,
            mamba=not no_mamba, risk=not no_risk, horizon=horizon, lookback=lookback, progress=progress, note=info,
            design=design, anchored=None if windowed else AnchoredConfig(members=members, combine=combine, gate=gate, seed=settings.seed,
                                                              family=anchored_family(distribution)),
            cross_pairs=cross_pairs)
    paths = write_report(result, folder, plots=not no_plots)
    info(f"report: {folder}/ ({', '.join(Path(p).name for p in paths.values())})")
    if as_json:
        import json

        emit_json({**json.loads(Path(paths["metrics"]).read_text(encoding="utf-8")), "files": paths})
        return
    print_summary(result, stdout)
    if detail:
        print_tables(result, stdout)
    else:
        info("every table: --detail, or tables.md in the report folder")
