"""How forecasts are judged: below both the model and the backtest, so both judge the same way.

    stats.py     point-forecast statistics (MAE, RMSE, MAPE, MASE, Theil's U2), Diebold-Mariano,
                 Pesaran-Timmermann, SPA and White's Reality Check (arch)
    scores.py    proper scores and calibration of forecast distributions (CRPS, pinball, interval
                 score, coverage by volatility tercile, Kupiec / Christoffersen, PIT, DM on CRPS)
    verdicts.py  the sentences a person reads ("better", "worse", "indistinguishable"), each from a test

May import: the ground (errors, configs, util), data and probabilistic.
"""
