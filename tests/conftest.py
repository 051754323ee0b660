"""Shared test helpers: synthetic price series and the smallest model that still trains.

No test touches the network: FORECASTER_OFFLINE keeps the ECB refresh off (tests that exercise it
replace the download with a double)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from forecaster.configs import ModelConfig
from forecaster.data import PriceSeries
from forecaster.data.clean import clean

os.environ["FORECASTER_OFFLINE"] = "1"

# a point forecast that trains in a second or two on one CPU thread (the default model is tested through the CLI)
TINY_MODEL = ModelConfig(d_model=8, n_layer=1, d_state=4, distribution="none", revin=False)


def price_series(returns, start: str = "2015-01-01", first_close: float = 1.2, pair: str = "EURUSD",
                 source: str = "synthetic") -> PriceSeries:
    """A cleaned daily series whose log returns are `returns` (business days from `start`)."""
    returns = np.asarray(returns, dtype=np.float64)
    frame = pd.DataFrame({"close": first_close * np.exp(np.cumsum(returns))},
                         index=pd.bdate_range(start, periods=len(returns), name="date"))
    frame, report = clean(frame)
    return PriceSeries(frame=frame, pair=pair, source=source, report=report)


def ar1_returns(n: int = 400, phi: float = 0.6, sigma: float = 0.005, seed: int = 0) -> np.ndarray:
    """Log returns of an AR(1): there is something to learn."""
    rng = np.random.default_rng(seed)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + sigma * rng.standard_normal()
    return r


@pytest.fixture
def make_series():
    """price_series as a fixture: make_series(returns, start=..., first_close=..., pair=...)."""
    return price_series


@pytest.fixture
def noise_series() -> PriceSeries:
    """300 business days of Gaussian log returns (no skill possible)."""
    return price_series(0.005 * np.random.default_rng(0).standard_normal(300))


@pytest.fixture
def ar1_series() -> PriceSeries:
    return price_series(ar1_returns())
