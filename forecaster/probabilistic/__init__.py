"""The probabilistic toolkit: what a forecast distribution is and how it is made honest.

    contract.py       BacktestModel (fit / forecast) and ModelForecast (point, bands, distribution):
                      the one contract every forecasting model implements
    distributions.py  forecast distributions in numpy (Predictive normal / Student-t, Empirical,
                      Quantiles, Mixture): quantiles, intervals, CRPS, PIT
    parametric.py     the same families in torch: parameter map of a head's output, cdf, log pdf, quantiles
    losses.py         the training losses of a distribution head (closed-form CRPS, NLL)
    intervals.py      interval levels, split-conformal calibration, online (ACI) recalibration
    risk.py           risk models: historical volatility, EWMA, GARCH(1,1)-t, GJR-t, FIGARCH-t (their forecasts, fitted
                      parameters and scale paths)
    markets.py        simulated markets with known conditional distributions
    oracle.py         the true distributions' scores (exact at step 1, Monte Carlo beyond), gap closed

May import: numpy, scipy, torch, arch, and the ground (errors, configs, util) and data layers.
"""
