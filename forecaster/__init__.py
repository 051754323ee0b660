"""forecaster: forex forecasting on a pure-PyTorch Mamba model, with honest backtests."""

__version__ = "0.1.0"
