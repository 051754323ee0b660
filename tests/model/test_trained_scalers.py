"""Prediction scales new data with the scalers saved at training time, never refitting them."""

import numpy as np

from forecaster import api
from forecaster.data import DataConfig, PriceSeries
from forecaster.model.trainer import TrainConfig

from conftest import TINY_MODEL, price_series


def _series(returns, start="2015-01-01") -> PriceSeries:
    return price_series(returns, start=start, first_close=1.3)


def test_new_data_is_scaled_with_the_saved_scalers(tmp_path):
    rng = np.random.default_rng(0)
    calm = 0.004 * rng.standard_normal(300)
    trained = api.train(name="s", design="windowed", series=_series(calm), data=DataConfig(lookback=12, horizon=2),
                        model=TINY_MODEL,
                        train_config=TrainConfig(epochs=1, batch_size=32, device="cpu"), models_dir=tmp_path,
                        progress=False)
    saved = trained.meta["scalers"]
    # later data ten times as volatile: refitted scalers would differ a lot
    longer = _series(np.concatenate([calm, 0.04 * rng.standard_normal(200)]))
    loaded = api.load("s", tmp_path)
    prep = loaded.prepare(longer)
    np.testing.assert_allclose(prep.target_scale, saved["target_scale"])
    np.testing.assert_allclose(prep.feature_scaler.mean_, saved["feature_mean"])
    np.testing.assert_allclose(prep.features[:, 0], (prep.raw_features[:, 0] - saved["feature_mean"][0])
                               / saved["feature_scale"][0], rtol=1e-5)
    forecast = loaded.predict(longer)
    assert forecast.origin == longer.frame.index[-1] and np.isfinite(forecast.prices).all()


def test_the_saved_source_is_the_one_trained_on(tmp_path):
    import pytest

    from forecaster.errors import ForecasterError

    trained = api.train(name="syn", design="windowed", series=_series(0.004 * np.random.default_rng(1).standard_normal(300)),
                        data=DataConfig(lookback=12, horizon=2), model=TINY_MODEL,
                        train_config=TrainConfig(epochs=1, device="cpu"), models_dir=tmp_path, progress=False)
    assert trained.meta["source"]["source"] == "synthetic"  # not the default "ecb" it was never trained on
    with pytest.raises(ForecasterError, match="source 'synthetic' is unknown"):
        api.load("syn", tmp_path).predict()  # no silent switch to other data: pass the series
