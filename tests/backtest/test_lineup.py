"""Which models a backtest runs: the random walk first, the Mamba model, the baselines, the risk models."""

import numpy as np
import pytest

from forecaster.backtest.lineup import lineup
from forecaster.backtest.neural import AnchoredMambaModel, MambaModel
from forecaster.configs import DataConfig
from forecaster.errors import ForecasterError

from conftest import price_series


def test_the_default_line_up_and_its_options():
    series = price_series(np.random.default_rng(0).normal(0, 0.006, 300))
    models = lineup(series)
    names = [m.name for m in models]
    assert names[0] == "random_walk" and len(set(names)) == len(names)
    assert {"mamba", "drift", "mean_reversion", "ridge_ar", "hist_vol", "hist_vol_empirical", "ewma", "garch_t", "gjr_t"} <= set(names)
    assert all(m.horizon == DataConfig.horizon for m in models)
    short = lineup(series, horizon=2, lookback=10, mamba=False, risk=False)
    assert [m.name for m in short] == ["random_walk", "drift", "mean_reversion", "ridge_ar"]
    assert all(m.horizon == 2 for m in short)
    mamba = next(m for m in lineup(series, horizon=3, lookback=20, design="windowed") if isinstance(m, MambaModel))
    assert (mamba.data_config.horizon, mamba.data_config.lookback) == (3, 20) and mamba.probabilistic
    anchored = {m.name: m for m in lineup(series, horizon=3, design="anchored")}
    assert isinstance(anchored["mamba"], AnchoredMambaModel) and anchored["mamba_raw"].probabilistic
    assert anchored["mamba"].horizon == anchored["mamba_raw"].horizon == 3
    with pytest.raises(ForecasterError, match="design"):
        lineup(series, design="wavelet")


def test_capabilities_are_attributes():
    series = price_series(np.random.default_rng(0).normal(0, 0.006, 300))
    by_name = {m.name: m for m in lineup(series)}
    assert by_name["ewma"].probabilistic and by_name["garch_t"].probabilistic
    assert not by_name["drift"].probabilistic and not by_name["random_walk"].saved
    assert by_name["mamba"].settings()["data"]["horizon"] == DataConfig.horizon
    assert by_name["drift"].settings() is None and by_name["drift"].fit_log == []


def test_a_saved_model_and_baselines_only_contradict():
    series = price_series(np.random.default_rng(0).normal(0, 0.006, 300))
    with pytest.raises(ForecasterError, match="contradict"):
        lineup(series, saved=object(), mamba=False)
