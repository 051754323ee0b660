"""Training on a GPU (skipped without CUDA): auto device, save on GPU -> load on CPU -> same forecast."""

import copy

import numpy as np
import pytest
import torch


from forecaster import api
from forecaster.data import DataConfig, PriceSeries
from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster
from forecaster.model.inference import forecast_windows
from forecaster.model.device import resolve_device
from forecaster.model.trainer import TrainConfig, fit

from conftest import TINY_MODEL, price_series

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _series(n=400) -> PriceSeries:
    return price_series(0.005 * np.random.default_rng(0).standard_normal(n))


def test_auto_device_is_cuda_and_gpu_forecast_matches_cpu():
    assert resolve_device("auto").type == "cuda"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 16, 2)).astype(np.float32)
    y = np.cumsum(x[:, -3:, :1], axis=1)
    torch.manual_seed(0)
    model = MambaForecaster(ForecasterConfig(mamba=MambaConfig(d_model=16, n_layer=2, d_state=8), n_inputs=2, horizon=3))
    result = fit(model, (x, y), (x, y), TrainConfig(epochs=5, batch_size=32, device="auto"), progress=False)
    assert next(model.parameters()).is_cuda
    assert result.best_val_loss < result.history[0]["val_loss"]
    on_gpu = forecast_windows(model, x)
    on_cpu = forecast_windows(copy.deepcopy(model).cpu(), x)
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-4)


def test_trained_on_gpu_loads_and_predicts_on_cpu(tmp_path):
    series = _series()
    trained = api.train(name="g", design="windowed", series=series, data=DataConfig(lookback=16, horizon=3),
                        model=TINY_MODEL,
                        train_config=TrainConfig(epochs=2, batch_size=32, device="cuda"), models_dir=tmp_path,
                        progress=False)
    assert trained.meta["device"].startswith("cuda")
    loaded = api.load("g", tmp_path)
    assert not next(loaded.net.parameters()).is_cuda
    np.testing.assert_allclose(loaded.predict(series).prices, trained.predict(series).prices, rtol=1e-6)
