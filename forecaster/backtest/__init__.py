"""Walk-forward backtests: every model of the one contract on the same origins, then statistics,
proper scores and a cost-aware trading simulation.

    walkforward.py  run_backtest: the loop over folds and origins, written once against the contract
                    (forecaster.probabilistic.contract: BacktestModel.fit / forecast -> ModelForecast);
                    distributions collected and scored, intervals recalibrated online (ACI)
    baselines.py    random walk, drift, mean reversion, Ridge autoregression (point forecasts)
    neural.py       the Mamba models as BacktestModels: MambaModel (windowed; a saved TrainedModel, or
                    trained in the folds) and AnchoredMambaModel (design "anchored", with `mamba_raw` beside it)
    lineup.py       which models a backtest runs (the Mamba model, the baselines, the risk models)
    trading.py      signals, costs, volatility-targeted sizing, the simulation and its statistics
    report.py       metrics JSON, forecasts CSV, terminal tables (point, trading, probabilistic)
    plots.py        equity and drawdown, error by step, forecast against actual, PIT, coverage by tercile

May import: the ground (errors, configs, util), data, probabilistic, evaluation and model layers.
Nothing below it imports it; api, demo and cli sit above it.
"""

from forecaster.backtest.walkforward import BacktestResult, run_backtest
from forecaster.configs import BacktestConfig, CostConfig
from forecaster.data.history import History, LookAheadError
from forecaster.probabilistic.contract import BacktestModel, ModelForecast, PointModel

__all__ = ["BacktestConfig", "BacktestModel", "BacktestResult", "CostConfig", "History", "LookAheadError",
           "ModelForecast", "PointModel", "run_backtest"]
