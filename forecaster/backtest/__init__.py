"""Walk-forward backtests: the model beside baselines, forecast statistics, a cost-aware trading simulation.

    baselines.py    History (the look-ahead guard), the model interface, random walk, drift,
                    mean reversion, Ridge autoregression
    risk.py         risk baselines with predictive distributions: historical volatility (normal,
                    empirical), EWMA / RiskMetrics, GARCH(1,1)-t (arch)
    neural.py       the Mamba forecaster behind the same interface (saved, or trained in the folds)
    lineup.py       which models a backtest runs (shared by the CLI and the demo)
    stats.py        MAE/RMSE/MAPE, MASE, Theil's U2, Diebold-Mariano (HAC + HLN), Pesaran-Timmermann
                    (HAC for overlapping steps), SPA test and Reality Check (arch)
    scores.py       proper scores and calibration of predictive distributions (CRPS, pinball, interval
                    score, coverage by volatility tercile, Kupiec / Christoffersen, PIT, DM on CRPS)
    trading.py      signals, costs, volatility-targeted sizing, the simulation and its statistics
    walkforward.py  BacktestConfig, run_backtest (the loop over origins; distributions collected and
                    scored, intervals recalibrated online by ACI)
    report.py       metrics JSON, forecasts CSV, terminal tables (point, trading, probabilistic)
    plots.py        equity and drawdown, error by horizon step, forecast against actual, PIT
                    histograms, coverage by volatility tercile
"""

from forecaster.backtest.baselines import (
    Drift, History, LookAheadError, MeanReversion, RandomWalk, RidgeAR, default_baselines,
)
from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol, default_risk_models
from forecaster.backtest.trading import CostConfig
from forecaster.backtest.walkforward import BacktestConfig, BacktestResult, run_backtest

__all__ = [
    "Drift", "History", "LookAheadError", "MeanReversion", "RandomWalk", "RidgeAR", "default_baselines",
    "EWMA", "GarchT", "HistoricalVol", "default_risk_models",
    "CostConfig", "BacktestConfig", "BacktestResult", "run_backtest",
]
