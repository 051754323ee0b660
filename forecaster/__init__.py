"""forecaster: forex forecasting on a pure-PyTorch Mamba model, with honest backtests.

The package in layers, from the ground up; a module imports only from its own package and the
layers below it (tests/test_layers.py reads every import statement to hold this):

    errors.py, configs.py, util/   the one error type; every default once; atomic files, console,
                                   progress bars, plotting helpers
    mamba/                         the Mamba (S6) model library: knows nothing about money
    data/                          sources, cleaning, features, windows, splits, scalers, the FX
                                   calendar, the look-ahead-guarded History: knows no model
    probabilistic/                 the forecast contract (BacktestModel, ModelForecast); forecast
                                   distributions and their losses; calibration; the risk models
                                   (EWMA, GARCH-t, historical volatility); simulated markets and oracles
    evaluation/                    forecast statistics, proper scores, significance tests, verdicts
    model/                         the Mamba forecaster: estimator (build, fit, gate, calibrate), the one
                                   trainer, inference, the TrainedModel that forecasts, the Forecast
    backtest/                      the walk-forward written once against the contract, baselines,
                                   line-up, trading, report
    benchmarks/                    Exchange-Rate, the oracle benchmark
    api.py, demo.py                train, load, predict, backtest, list; the whole job in one call
    cli/                           the command line: parses, calls the api, prints
"""

__version__ = "0.1.0"
